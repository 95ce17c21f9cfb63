"""A `mesh local serve` for the benchmarks that need to change the local cloud's throttling
while it runs (its admin API on loopback)."""

import json
import os
import signal
import subprocess
import time
import urllib.request

# ARM's limits per subscription, as the local cloud applies them by default.
ARM_THROTTLE = {"read_capacity": 250.0, "reads_per_second": 25.0,
                "write_capacity": 200.0, "writes_per_second": 10.0}


class LocalCloud:
    """`mesh local serve` on the data of `directory`, stopped by `stop()` (Ctrl-C)."""

    def __init__(self, mesh, directory, log_path):
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([mesh.binary, "local", "serve", "--http"], cwd=directory,
                                     env=mesh.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        announce = os.path.join(directory, ".mesh", "local-cloud", "server.json")
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mesh local serve exited; see {log_path}")
            try:
                with open(announce, encoding="utf-8") as f:
                    self.url = json.load(f)["url"]
                break
            except (OSError, ValueError, KeyError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mesh local serve did not start; see {log_path}")
                time.sleep(0.1)

    def throttle(self, settings):
        """Set the throttling (None: off); buckets start full."""
        body = json.dumps(settings).encode()
        request = urllib.request.Request(self.url + "/_admin/throttle", data=body,
                                         method="POST",
                                         headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
