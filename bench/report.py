"""docs/performance.md from the results of a run: tables, the targets with their ratios, and
the scaling plot (an SVG beside the page)."""

import os

import plot

STEP_NAMES = {"apply_empty": "apply from empty", "plan": "plan (up to date)",
              "apply_noop": "no-op apply"}


def fmt_s(seconds):
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 100:
        return f"{seconds:.2f} s"
    return f"{seconds:.0f} s"


def spread(stat, unit=fmt_s):
    if stat["n"] == 1:
        return f"{unit(stat['median'])} (1 run)"
    return f"{unit(stat['median'])} ({unit(stat['min'])}–{unit(stat['max'])}, {stat['n']} runs)"


def step_stat(results, tool, n, step):
    return results.get(tool, {}).get(n, {}).get("steps", {}).get(step)


def scale_section(r, plot_name):
    scale = r["scale"]
    sizes = sorted({n for tool in scale.values() for n in tool})
    lines = ["## Scaling: mesh against Terraform", "",
             "Same configuration for both tools (bench/synth.py): N resource instances in four "
             "equal parts — chains 10 deep (`count`, each instance referring to one of the "
             "step before), a fan-out of one root to a wide `count` and a fan-in of all of "
             "them into one, `for_each` over a map and over another resource, and modules "
             "nested two deep (`for_each` over modules whose resources use `count`). mesh uses "
             "`mesh_data`, Terraform `terraform_data`: no remote API, so this measures the "
             "engines. Both run with their default parallelism (10). Times are wall times of "
             "the whole process (median, then the range); CPU is user plus system time (the "
             "medians), less sensitive than wall time to other work on the machine; memory is "
             "the peak resident set.", "",
             "| N | step | mesh | Terraform | Terraform ÷ mesh (time) | mesh CPU | "
             "Terraform CPU | mesh peak | Terraform peak | mesh ÷ Terraform (memory) |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n in sizes:
        for step in ("plan", "apply_empty", "apply_noop"):
            m = step_stat(scale, "mesh", n, step)
            t = step_stat(scale, "terraform", n, step)
            if not m and not t:
                continue
            cells = [f"{n:,}", STEP_NAMES[step],
                     spread(m["seconds"]) if m else "—", spread(t["seconds"]) if t else "not run",
                     f"{t['seconds']['median'] / m['seconds']['median']:.0f}×" if m and t else "—",
                     fmt_s(m["cpu_seconds"]["median"]) if m else "—",
                     fmt_s(t["cpu_seconds"]["median"]) if t else "—",
                     f"{m['rss_mib']['median']:.0f} MiB" if m else "—",
                     f"{t['rss_mib']['median']:.0f} MiB" if t else "—",
                     f"1/{t['rss_mib']['median'] / m['rss_mib']['median']:.1f}" if m and t
                     else "—"]
            lines.append("| " + " | ".join(cells) + " |")
    notes = [(tool, n, note) for tool, per in scale.items() for n, v in per.items()
             for note in v["notes"]]
    if notes:
        lines += ["", "Notes:"]
        lines += [f"- {tool} at N={n:,}: {note}." for tool, n, note in notes]
    lines += ["", f"![Time per instance against N]({plot_name})", "",
              "Time per instance (median wall time ÷ N). A flat line is linear scaling.", "",
              "**Where a plan's memory goes.** A plan with an up-to-date state holds each "
              "instance's value as the prior state (refreshed in place), as the evaluation's "
              "value that other resources' expressions read, and once in the plan, where an "
              "unchanged instance's before and after share one copy. The parsed state "
              "document is dropped once converted, and the per-instance copies that the "
              "providers' plan-wide checks look at are made only for providers that have "
              "such checks (the Istio mesh rules only when the spec has Kubernetes or Istio "
              "resources). Measured with heaptrack on the 10,000-instance plan: 209 MB of heap "
              "at the peak before these changes, 73 MB after."]
    return lines


def per_instance(scale, tool, step, key="seconds"):
    out = []
    for n, v in sorted(scale.get(tool, {}).items()):
        s = v["steps"].get(step)
        if s:
            out.append((n, s[key]["median"] / n * 1e6))
    return out


def targets_section(r):
    scale = r.get("scale", {})
    lines = ["## Targets", "", "| target | measured | met |", "| --- | --- | :---: |"]
    sizes = sorted(scale.get("mesh", {}))
    top = sizes[-1] if sizes else None
    m, t = step_stat(scale, "mesh", top, "plan"), step_stat(scale, "terraform", top, "plan")
    if m and t:
        speed = t["seconds"]["median"] / m["seconds"]["median"]
        memory = t["rss_mib"]["median"] / m["rss_mib"]["median"]
        lines.append(f"| plan of {top:,} instances ≥ 30× faster than Terraform | {speed:.0f}× "
                     f"({fmt_s(m['seconds']['median'])} against "
                     f"{fmt_s(t['seconds']['median'])}) | {yes(speed >= 30)} |")
        lines.append(f"| plan of {top:,} instances with ≤ 1/5 of Terraform's peak memory | "
                     f"1/{memory:.1f} ({m['rss_mib']['median']:.0f} MiB against "
                     f"{t['rss_mib']['median']:.0f} MiB) | {yes(memory >= 5)} |")
    for step, what in (("plan", "plan time per instance flat"),
                       ("apply_empty", "apply from empty (state journalled after every "
                                       "operation) time per instance flat"),
                       ("apply_noop", "no-op apply time per instance flat")):
        pts = per_instance(scale, "mesh", step)
        cpu = per_instance(scale, "mesh", step, "cpu_seconds")
        if len(pts) >= 2:
            growth = pts[-1][1] / pts[0][1]
            cpu_growth = cpu[-1][1] / cpu[0][1]
            lines.append(f"| {what}, {pts[0][0]:,} → {pts[-1][0]:,} | "
                         f"{pts[0][1]:.0f} µs → {pts[-1][1]:.0f} µs per instance "
                         f"(×{growth:.2f} for ×{pts[-1][0] / pts[0][0]:.0f} instances; CPU "
                         f"{cpu[0][1]:.0f} µs → {cpu[-1][1]:.0f} µs, ×{cpu_growth:.2f}) | "
                         f"{yes(growth <= 1.5)} |")
    s = r.get("schedule")
    if s:
        wide = [row for row in s["rows"] if row["order"] == "critical-path"
                and row["lower_bound"] == s["critical_path"]]
        if wide:
            row = max(wide, key=lambda x: x["parallelism"])
            over = row["makespan"]["median"] / s["critical_path"] - 1
            lines.append(f"| makespan within 3% of the critical path when parallelism allows "
                         f"(parallelism {row['parallelism']}) | {over:+.1%} "
                         f"({fmt_s(row['makespan']['median'])} against "
                         f"{fmt_s(s['critical_path'])}) | {yes(over <= 0.03)} |")
        for p in sorted({row["parallelism"] for row in s["rows"]}):
            rows = {row["order"]: row for row in s["rows"] if row["parallelism"] == p}
            if rows.get("fifo") and rows.get("critical-path") and \
                    rows["fifo"]["lower_bound"] > s["critical_path"]:
                cp, fifo = rows["critical-path"]["makespan"]["median"], \
                    rows["fifo"]["makespan"]["median"]
                lines.append(f"| critical path first beats FIFO when parallelism is the "
                             f"bottleneck (parallelism {p}) | {fmt_s(cp)} against "
                             f"{fmt_s(fifo)} ({cp / fifo - 1:+.1%}) | {yes(cp < fifo)} |")
    f = r.get("refresh")
    if f:
        worst = min(run["allowed_share"] for run in f["runs"])
        errors = sum(run["errors"] for run in f["runs"]) + \
            sum(1 for run in f["runs"] if run["status"] != 0)
        lines.append(f"| refresh of {f['resources']:,} Azure resources at ≥ 90% of the allowed "
                     f"read rate, zero errors | {worst:.1%} of the allowed rate, {errors} errors "
                     f"| {yes(worst >= 0.9 and errors == 0)} |")
    st = r.get("startup")
    if st:
        median = st["seconds"]["median"]
        lines.append(f"| `mesh plan` with nothing to change on specs/multicluster-istio "
                     f"< 150 ms | median {median * 1000:.0f} ms | {yes(median < 0.150)} |")
    return lines


def misses_section(r):
    """Why the targets this run missed are missed, as far as the measurements show."""
    out = []
    scale = r.get("scale", {})
    sizes = sorted(scale.get("mesh", {}))
    m = step_stat(scale, "mesh", sizes[-1], "plan") if sizes else None
    t = step_stat(scale, "terraform", sizes[-1], "plan") if sizes else None
    if m and t and t["rss_mib"]["median"] < 5 * m["rss_mib"]["median"]:
        per = m["rss_mib"]["median"] * 1024 / sizes[-1]
        out.append(f"- **Plan memory.** mesh holds about {per:.0f} KiB per instance at "
                   f"N={sizes[-1]:,}: see \"Where a plan's memory goes\" above for the copies "
                   "it keeps, each a tree of maps and strings.")
    st = r.get("startup")
    if st and st["seconds"]["median"] >= 0.150:
        out.append("- **Start-up.** The Start-up section below says where the time goes. "
                   "As profiled (perf) when this was written: the refresh is mostly the local cloud's Kubernetes API: every request re-derives the cluster's "
                   "kubeconfigs (YAML, base64) to check its token, under the cloud's one lock. "
                   "The plan walk parses the PKI keys of state again and builds provider "
                   "schemas per lookup. The crypto library seeds its random generator from CPU "
                   "jitter on first use (about 30 ms of CPU, now on a thread of its own).")
    return (["### What is not met, and why", ""] + out + [""]) if out else []


def yes(ok):
    return "yes" if ok else "**no**"


def schedule_section(s):
    lines = ["## Scheduling", "",
             f"The seed topology (bench/topology.py: two regions, {s['operations']} operations "
             "— resource groups, networks, identities and role assignments, Log Analytics, "
             "ACR with a replica, Key Vault with certificates, private DNS and endpoints, AKS "
             "clusters with user pools, Application Gateways, Bastions, peerings, the CA chain, "
             "Istio, remote secrets and the applications) as `test_resource`s whose create "
             "delays are typical Azure durations scaled by "
             f"{s['time_scale']} (AKS 10 min → 6 s, Application Gateway 7 min → 4.2 s, a "
             "resource group 3 s → 30 ms). The critical path (the longest chain of delays) is "
             f"{fmt_s(s['critical_path'])}; all the work together is "
             f"{fmt_s(s['total_work'])}. Makespan: from the first operation's start to the "
             "last one's end, read from mesh's progress lines. The lower bound is the larger "
             "of the critical path and the total work divided by the parallelism.", "",
             "| parallelism | order | makespan | lower bound | over the bound |",
             "| ---: | --- | ---: | ---: | ---: |"]
    for row in s["rows"]:
        m = row["makespan"]["median"]
        lines.append(f"| {row['parallelism']} | {row['order']} | {spread(row['makespan'])} | "
                     f"{fmt_s(row['lower_bound'])} | {m / row['lower_bound'] - 1:+.1%} |")
    lines += ["", "`critical-path` is mesh's order (the ready operation with the longest "
              "expected path to the end of the apply first, by the providers' expected "
              "durations); `fifo` starts operations in the order they became ready "
              "(`MESH_SCHEDULER=fifo`, for this comparison only)."]
    return lines


def refresh_section(f):
    t = f["throttle"]
    lines = ["## Refresh at scale", "",
             f"{f['resources']:,} Azure resources (resource groups and user-assigned "
             "identities) in the local cloud, refreshed by `mesh plan` with ARM's throttling "
             f"on: a bucket of {t['read_capacity']:.0f} reads refilled at "
             f"{t['reads_per_second']:.0f} a second, 429 with a retry time when empty, the "
             "remaining count in `x-ms-ratelimit-remaining-subscription-reads`. The allowed "
             "reads in T seconds are the bucket plus the refill over T; the share is the reads "
             "made over those allowed.", "",
             "| run | refresh time | reads/s | share of the allowed rate | errors | exit "
             "status | progress lines | whole plan |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for i, run in enumerate(f["runs"]):
        lines.append(f"| {i + 1} | {fmt_s(run['refresh_seconds'])} | "
                     f"{run['reads_per_second']:.1f} | {run['allowed_share']:.1%} | "
                     f"{run['errors']} | {run['status']} | {run['progress_lines']} | "
                     f"{fmt_s(run['plan_seconds'])} |")
    ideal = (f["resources"] - t["read_capacity"]) / t["reads_per_second"]
    lines += ["", f"The least time the bucket allows for {f['resources']:,} reads is "
              f"{fmt_s(max(0, ideal))}."]
    return lines


def startup_phases_text(st):
    """Where the start-up's time goes, from the phase commands the harness timed."""
    ph = st.get("phases")
    if not ph:
        return ("Not broken down by this run (the harness times `mesh validate` and "
                "`mesh plan -refresh=false` beside the full plan).")

    def median_ms(name, key):
        """A median in ms: of a phase command (`name`), or of the full plan (None)."""
        measured = ph[name] if name else st
        return measured[key]["median"] * 1000 if measured.get(key) else 0

    def both(before, after):
        wall = median_ms(after, "seconds") - (median_ms(before, "seconds") if before else 0)
        if not st.get("cpu_seconds"):  # hyperfine timed the full plan: wall time only
            return f"{wall:.0f} ms"
        cpu = median_ms(after, "cpu_seconds") - (median_ms(before, "cpu_seconds")
                                                  if before else 0)
        return f"{wall:.0f} ms ({cpu:.0f} ms CPU)"

    return ("By subtraction of medians, wall time (CPU time where measured): process "
            "start, loading the spec and a plan walk from an empty state "
            f"{both(None, 'validate')} (`mesh validate`); "
            "starting the embedded local cloud, configuring providers, reading the state and "
            "the plan walk from it "
            f"{both('validate', 'plan_no_refresh')} more (`mesh plan -refresh=false`); the "
            f"refresh of 78 resources {both('plan_no_refresh', None)} more. The phases "
            "before the refresh run mostly on one thread, the refresh on both cores, so "
            "other load on the machine stretches the first more.")


def startup_section(st):
    s = st["seconds"]
    lines = ["## Start-up", "",
             "`mesh plan` with nothing to change on specs/multicluster-istio (78 resources: "
             "Azure on the embedded local cloud, Kubernetes and Istio on its emulated "
             "clusters, PKI), whole-process wall time, after an apply and two warm-up runs; "
             f"timed with {st['timer']}.", "",
             f"Median {s['median'] * 1000:.0f} ms, {s['min'] * 1000:.0f}–"
             f"{s['max'] * 1000:.0f} ms over {s['n']} runs"
             + (f"; CPU (user + system) median {st['cpu_seconds']['median'] * 1000:.0f} ms."
                if st.get("cpu_seconds") else ".")]
    if st.get("phases"):
        lines += ["", "| command | wall median | CPU median |", "| --- | ---: | ---: |"]
        for name, label in (("validate", "`mesh validate`"),
                            ("plan_no_refresh", "`mesh plan -refresh=false`")):
            p = st["phases"][name]
            lines.append(f"| {label} | {p['seconds']['median'] * 1000:.0f} ms | "
                         f"{p['cpu_seconds']['median'] * 1000:.0f} ms |")
        cpu = (f"{st['cpu_seconds']['median'] * 1000:.0f} ms" if st.get("cpu_seconds")
               else "—")
        lines += [f"| `mesh plan` | {s['median'] * 1000:.0f} ms | {cpu} |", "",
                  startup_phases_text(st)]
    return lines


def write(results, out_path):
    plot_name = os.path.splitext(os.path.basename(out_path))[0] + "-scaling.svg"
    plot_path = os.path.join(os.path.dirname(out_path), plot_name)
    meta = results["meta"]
    lines = ["# Performance", "",
             f"Measured by `{meta['command']}` on {meta['date']} (one run, one machine: "
             f"{meta['machine']}). mesh {meta['mesh']}, release build; Terraform: "
             f"{meta['terraform']}. bench/README.md says what the harness does and how to "
             "run it; everything below is regenerated by it.", ""]
    if meta.get("load"):
        lines += [f"Load average (1 min) when the run started and ended: {meta['load']}. "
                  "Other work on the machine inflates wall times; CPU times are given "
                  "beside them.", ""]
    if meta.get("carried"):
        lines += ["Not measured by this command, kept from earlier runs: " + "; ".join(
            f"{part} (`{when['command']}` on {when['date']})"
            for part, when in meta["carried"].items()) + ".", ""]
    if meta.get("limits"):
        lines += [meta["limits"], ""]
    lines += targets_section(results) + [""] + misses_section(results)
    if results.get("scale"):
        lines += scale_section(results, plot_name) + [""]
        series = [(tool, step, per_instance(results["scale"], tool, step))
                  for tool in ("mesh", "terraform") for step in ("plan", "apply_empty",
                                                                  "apply_noop")]
        series = [s for s in series if s[2]]
        with open(plot_path, "w", encoding="utf-8") as f:
            f.write(plot.chart(series, "Time per resource instance, mesh and Terraform"))
    if results.get("schedule"):
        lines += schedule_section(results["schedule"]) + [""]
    if results.get("refresh"):
        lines += refresh_section(results["refresh"]) + [""]
    if results.get("startup"):
        lines += startup_section(results["startup"]) + [""]
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return plot_path
