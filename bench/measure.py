"""Running one command and measuring it: wall time and peak memory (the largest resident set of
the process and of any child it waited for, from the kernel's rusage)."""

import os
import statistics
import subprocess
import threading
import time


class CommandFailed(Exception):
    """A measured command exited with an unexpected status."""


def run(argv, cwd, env=None, ok=(0,), stdout_path=None, timeout=None):
    """Run `argv` in `cwd`; returns (wall seconds, peak RSS in MiB, exit status, CPU seconds).

    Output goes to `stdout_path` (stdout and stderr together) or nowhere. Raises CommandFailed
    when the status is not in `ok` (the tail of the output in the message), and
    subprocess.TimeoutExpired after `timeout` seconds (the process is killed)."""
    out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        status, usage = wait(proc, timeout)
        seconds = time.perf_counter() - started
    finally:
        if stdout_path:
            out.close()
    if status not in ok:
        tail = ""
        if stdout_path:
            with open(stdout_path, "rb") as f:
                tail = f.read()[-2000:].decode("utf-8", "replace")
        raise CommandFailed(f"{' '.join(argv)} (in {cwd}) exited with {status}\n{tail}")
    return seconds, usage.ru_maxrss / 1024.0, status, usage.ru_utime + usage.ru_stime


def wait(proc, timeout):
    """Wait for `proc` with os.wait4 (for its rusage), killing it after `timeout` seconds. The
    wait blocks, so the measured time has no polling error."""
    timer = None
    if timeout is not None:
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        if timer:
            timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if timer and proc.returncode == -9:
        raise subprocess.TimeoutExpired(proc.args, timeout)
    return proc.returncode, usage


def summary(samples):
    """Median, minimum and maximum of a non-empty list."""
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
    }
