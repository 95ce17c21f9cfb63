"""The scaling benchmark: the same synthetic configuration at several sizes, for mesh and
Terraform, timing `apply` from an empty state, `plan` with an up-to-date state and a no-op
`apply`, with peak memory."""

import os
import subprocess
import time

import measure
import synth
import tfstate
from tools import WORK

STEPS = ("apply_empty", "plan", "apply_noop")


def run_tool(tool, n, repeat, apply_repeat, timeout, log, plan_only=False):
    """Measure one tool at size `n`; returns {step: {"seconds": [...], "rss_mib": [...]}} and
    notes on anything cut short."""
    directory = os.path.join(WORK, "scale", f"{tool.name}-{n}")
    synth.write(tool.name, n, directory)
    tool.init(directory)
    samples = {step: {"seconds": [], "rss_mib": [], "cpu_seconds": []} for step in STEPS}
    notes = []

    def measure_step(step, argv):
        logfile = os.path.join(directory, f"{step}.log")
        try:
            seconds, rss, _, cpu = measure.run(argv, directory, env=tool.env,
                                               stdout_path=logfile, timeout=timeout)
        except subprocess.TimeoutExpired:
            notes.append(f"{step} stopped after {timeout:.0f} s")
            log(f"  {tool.name} N={n} {step}: stopped after {timeout:.0f} s")
            return False
        samples[step]["seconds"].append(seconds)
        samples[step]["rss_mib"].append(rss)
        samples[step]["cpu_seconds"].append(cpu)
        log(f"  {tool.name} N={n} {step}: {seconds:.3f} s ({cpu:.3f} s CPU), {rss:.0f} MiB")
        return True

    steps = (("plan", "plan"), ("apply_noop", "apply"))
    if plan_only:
        # Terraform plans a state converted from mesh's of the same configuration.
        tool.clear_state(directory)
        mesh_state = os.path.join(WORK, "scale", f"mesh-{n}", ".mesh", "state.json")
        tfstate.write(mesh_state, os.path.join(directory, "terraform.tfstate"),
                      tool.short_version())
        notes.append("plan only, on a state converted from mesh's (no apply)")
        steps = steps[:1]
        apply_repeat = 0
    for _ in range(apply_repeat):
        tool.clear_state(directory)
        if not measure_step("apply_empty", tool.argv("apply")):
            return samples, notes
    for step, command in steps:
        for _ in range(repeat):
            if not measure_step(step, tool.argv(command)):
                break
            check_no_changes(tool, os.path.join(directory, f"{step}.log"), notes)
    return samples, notes


def check_no_changes(tool, logfile, notes):
    """A plan or apply with an up-to-date state must change nothing, or it measured the
    wrong thing."""
    with open(logfile, encoding="utf-8", errors="replace") as f:
        text = f.read()
    quiet = ("No changes" in text or "no changes are needed" in text
             or "0 added, 0 changed, 0 destroyed" in text)
    if not quiet:
        notes.append(f"{tool.name}: {os.path.basename(logfile)} was not a no-op")


def run(tools, sizes, repeat, tf_repeat, tf_full_max, timeout, log):
    """The whole scaling benchmark; results keyed by tool name, then size. Above
    `tf_full_max` instances Terraform only plans (see run_tool)."""
    results = {}
    for n in sizes:
        for tool in tools:
            reps = repeat if tool.name == "mesh" else tf_repeat
            apply_reps = reps if tool.name == "mesh" else 1
            started = time.perf_counter()
            plan_only = tool.name != "mesh" and n > tf_full_max
            samples, notes = run_tool(tool, n, reps, apply_reps, timeout, log, plan_only)
            results.setdefault(tool.name, {})[n] = {
                "shape": synth.sizes(n),
                "steps": {s: summarize(v) for s, v in samples.items() if v["seconds"]},
                "notes": notes,
                "wall": time.perf_counter() - started,
            }
    return results


def summarize(values):
    return {
        "seconds": measure.summary(values["seconds"]),
        "rss_mib": measure.summary(values["rss_mib"]),
        "cpu_seconds": measure.summary(values["cpu_seconds"]),
    }
