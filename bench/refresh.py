"""Refresh at scale: thousands of Azure resources in the local cloud, refreshed by `mesh plan`
under ARM's throttling (token buckets of 250 reads refilled at 25 a second per subscription).
Measures how much of the allowed read rate the refresh used and whether anything failed."""

import os
import re
import shutil
import subprocess
import time

import measure
from localcloud import ARM_THROTTLE, LocalCloud
from tools import WORK

IDENTITIES_PER_GROUP = 19


def spec(total):
    """Resource groups with user-assigned identities: `total` resources in all."""
    groups = max(1, round(total / (1 + IDENTITIES_PER_GROUP)))
    per_group = (total - groups) // groups
    extra = total - groups - per_group * groups
    return f'''locals {{
  groups = {{ for i in range({groups}) : format("bench-rg-%03d", i) => i }}
  identities = {{
    for pair in flatten([
      for g, i in local.groups : [
        for k in range({per_group} + (i < {extra} ? 1 : 0)) : {{ group = g, name = "${{g}}-id-${{k}}" }}
      ]
    ]) : pair.name => pair.group
  }}
}}

resource "azure_resource_group" "bench" {{
  for_each = local.groups
  name     = each.key
  location = "westeurope"
}}

resource "azure_user_assigned_identity" "bench" {{
  for_each            = local.identities
  name                = each.key
  resource_group_name = azure_resource_group.bench[each.value].name
  location            = "westeurope"
}}
'''


def run(mesh, total, repeat, log):
    directory = os.path.join(WORK, "refresh")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    with open(os.path.join(directory, "main.hcl"), "w", encoding="utf-8") as f:
        f.write(spec(total))
    cloud = LocalCloud(mesh, directory, os.path.join(directory, "serve.log"))
    try:
        # Creating is not what is measured: no throttling while the resources are made.
        cloud.throttle(None)
        started = time.perf_counter()
        measure.run([mesh.binary, "apply", "-auto-approve", "-no-color", "-parallelism=32"],
                    directory, env=mesh.env, stdout_path=os.path.join(directory, "apply.log"))
        log(f"  created {total} resources in {time.perf_counter() - started:.1f} s")
        runs = [refresh_once(mesh, cloud, directory, total, i, log) for i in range(repeat)]
    finally:
        cloud.stop()
    return {"resources": total, "throttle": ARM_THROTTLE, "runs": runs}


def refresh_once(mesh, cloud, directory, total, index, log):
    """One `mesh plan` (refresh, then a plan with nothing to change) on full buckets."""
    cloud.throttle(ARM_THROTTLE)
    out = os.path.join(directory, f"plan-{index}.log")
    seconds, rss, status, _ = measure.run(
        [mesh.binary, "plan", "-no-color", "-detailed-exitcode"], directory, env=mesh.env,
        stdout_path=out, ok=(0, 1, 2))
    with open(out, encoding="utf-8", errors="replace") as f:
        text = f.read()
    found = re.search(r"Refreshed (\d+) instances in ([0-9.]+)s", text)
    refresh_seconds = float(found.group(2)) if found else seconds
    errors = len(re.findall(r"^Error", text, re.MULTILINE))
    capacity, rate = ARM_THROTTLE["read_capacity"], ARM_THROTTLE["reads_per_second"]
    allowed = capacity + rate * refresh_seconds
    result = {
        "status": status,
        "errors": errors,
        "refresh_seconds": refresh_seconds,
        "plan_seconds": seconds,
        "reads_per_second": total / refresh_seconds,
        "allowed_share": min(1.0, total / allowed),
        "progress_lines": len(re.findall(r"^Refreshing state\.\.\.", text, re.MULTILINE)),
        "rss_mib": rss,
    }
    log(f"  refresh {index + 1}: {refresh_seconds:.1f} s, {result['reads_per_second']:.1f} "
        f"reads/s, {result['allowed_share']:.1%} of the allowed rate, exit {status}, "
        f"{errors} errors")
    return result
