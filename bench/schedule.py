"""The scheduling benchmark: apply the seed-like topology (topology.py) with the test provider
and compare the makespan with the critical path, and the critical-path-first order with FIFO
when parallelism is the bottleneck."""

import os
import shutil
import subprocess
import time

import measure
import topology
from tools import WORK


def makespan(mesh, directory, parallelism, order):
    """Apply from empty; seconds from the first operation's start to the last one's end, read
    from mesh's progress lines as they are printed."""
    shutil.rmtree(os.path.join(directory, ".mesh"), ignore_errors=True)
    env = dict(mesh.env, MESH_SCHEDULER=order)
    argv = [mesh.binary, "apply", "-auto-approve", "-no-color", f"-parallelism={parallelism}"]
    proc = subprocess.Popen(argv, cwd=directory, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    first = last = None
    completed = 0
    for line in proc.stdout:
        now = time.perf_counter()
        if ": Creating..." in line and first is None:
            first = now
        elif ": Creation complete" in line:
            last = now
            completed += 1
    if proc.wait() != 0 or first is None or completed != len(topology.nodes()):
        raise measure.CommandFailed(f"apply of the topology failed (parallelism {parallelism})")
    return last - first


def run(mesh, repeat, parallelisms, log):
    directory = os.path.join(WORK, "schedule")
    topology.write(directory)
    cp = topology.critical_path_ms() / 1000
    work = topology.total_work_ms() / 1000
    rows = []
    for parallelism in parallelisms:
        for order in ("critical-path", "fifo"):
            samples = []
            for _ in range(repeat):
                samples.append(makespan(mesh, directory, parallelism, order))
                log(f"  parallelism {parallelism} {order}: {samples[-1]:.3f} s")
            rows.append({
                "parallelism": parallelism,
                "order": order,
                "makespan": measure.summary(samples),
                "lower_bound": max(cp, work / parallelism),
            })
    return {
        "operations": len(topology.nodes()),
        "critical_path": cp,
        "total_work": work,
        "time_scale": topology.TIME_SCALE,
        "rows": rows,
    }
