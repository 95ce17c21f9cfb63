"""Start-up: `mesh plan` with nothing to change on specs/multicluster-istio (78 resources) on
the embedded local cloud, as a whole-process wall time over repeated runs. Uses hyperfine when
it is on PATH, otherwise times the runs itself.

Beside it, where the time goes, by subtraction: `mesh validate` (process start, loading and
checking the spec) and `mesh plan -refresh=false` (that, plus starting the local cloud,
configuring providers, reading the state and the plan walk); the full plan adds the refresh."""

import json
import os
import shutil
import subprocess

import measure
from tools import REPO, WORK


def run(mesh, runs, log):
    specs = os.path.join(WORK, "startup", "specs")
    shutil.rmtree(os.path.dirname(specs), ignore_errors=True)
    shutil.copytree(os.path.join(REPO, "specs"), specs,
                    ignore=shutil.ignore_patterns(".mesh"))
    directory = os.path.join(specs, "multicluster-istio")
    seconds = measure.run([mesh.binary, "apply", "-auto-approve", "-no-color"],
                                directory, env=mesh.env,
                                stdout_path=os.path.join(WORK, "startup", "apply.log"))[0]
    log(f"  applied specs/multicluster-istio in {seconds:.1f} s")
    argv = [mesh.binary, "plan", "-no-color", "-detailed-exitcode"]
    # Nothing to change: exit 0 (2 would mean changes or drift).
    measure.run(argv, directory, env=mesh.env,
                stdout_path=os.path.join(WORK, "startup", "check.log"))
    if shutil.which("hyperfine"):
        samples, how = with_hyperfine(argv, directory, mesh.env, runs), "hyperfine"
    else:
        for _ in range(2):  # warm-up: file cache
            measure.run(argv, directory, env=mesh.env)
        runs_measured = [measure.run(argv, directory, env=mesh.env) for _ in range(runs)]
        samples = [r[0] for r in runs_measured]
        cpu = [r[3] for r in runs_measured]
        how = "a Python timer (fork, exec, wait4)"
    result = {"timer": how, "seconds": measure.summary(samples)}
    if not shutil.which("hyperfine"):
        result["cpu_seconds"] = measure.summary(cpu)
    log(f"  mesh plan (no changes): median {result['seconds']['median'] * 1000:.0f} ms "
        f"over {len(samples)} runs ({how})")
    result["phases"] = phases(mesh, directory, max(5, runs // 2))
    return result


def phases(mesh, directory, runs):
    """Median wall and CPU seconds of the commands that stop short of the full plan."""
    commands = {
        "validate": [mesh.binary, "validate", "-no-color"],
        "plan_no_refresh": [mesh.binary, "plan", "-no-color", "-refresh=false",
                            "-detailed-exitcode"],
    }
    out = {}
    for name, argv in commands.items():
        measured = [measure.run(argv, directory, env=mesh.env) for _ in range(runs)]
        out[name] = {"seconds": measure.summary([m[0] for m in measured]),
                     "cpu_seconds": measure.summary([m[3] for m in measured])}
    return out


def with_hyperfine(argv, directory, env, runs):
    export = os.path.join(WORK, "startup", "hyperfine.json")
    subprocess.run(["hyperfine", "--warmup", "2", "--runs", str(runs), "--shell=none",
                    "--export-json", export, " ".join(argv)],
                   cwd=directory, env=env, check=True, stdout=subprocess.DEVNULL)
    with open(export, encoding="utf-8") as f:
        return json.load(f)["results"][0]["times"]
