"""A Terraform state (format 4) holding the same objects as a mesh state of the synthetic
configuration, so that Terraform can plan a large configuration with an up-to-date state
without first spending an hour applying it. The objects, IDs and values are mesh's; only the
format changes (`mesh_data` becomes `terraform_data`, values carry their HCL types)."""

import json
import re
import uuid

MODULE = re.compile(r'module\.[A-Za-z0-9_-]+(\["[^"]*"\]|\[\d+\])?\.')
RESOURCE = re.compile(r'^(?P<type>[a-z_]+)\.(?P<name>[A-Za-z0-9_-]+)(\[(?P<key>[^\]]+)\])?$')
PROVIDER = 'provider["terraform.io/builtin/terraform"]'


def hcl_type(value):
    """The type Terraform infers for a value decoded from this configuration: objects for
    maps, tuples for lists (they all come from `for` expressions)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return ["object", {k: hcl_type(v) for k, v in value.items()}]
    if isinstance(value, list):
        return ["tuple", [hcl_type(v) for v in value]]
    raise ValueError(f"no HCL type for {value!r}")


def typed(value):
    return None if value is None else {"value": value, "type": hcl_type(value)}


def split(address):
    """(module path, type, name, instance key) of a mesh address."""
    module = ""
    rest = address
    while True:
        found = MODULE.match(rest)
        if not found:
            break
        module += found.group(0)
        rest = rest[found.end():]
    parts = RESOURCE.match(rest)
    if not parts:
        raise ValueError(f"cannot read the address {address}")
    key = parts.group("key")
    if key is not None:
        key = json.loads(key)
    return module.rstrip("."), parts.group("type"), parts.group("name"), key


def convert(mesh_state, terraform_version):
    """The Terraform state document for a mesh state document."""
    resources = {}
    for r in mesh_state["resources"]:
        module, _, name, key = split(r["address"])
        entry = resources.setdefault((module, name), {
            **({"module": module} if module else {}),
            "mode": "managed", "type": "terraform_data", "name": name, "provider": PROVIDER,
            "instances": [],
        })
        a = r["attributes"]
        instance = {
            "schema_version": 0,
            "attributes": {"id": a["id"], "input": typed(a.get("input")),
                           "output": typed(a.get("output")),
                           "triggers_replace": typed(a.get("triggers_replace"))},
            "sensitive_attributes": [],
            "dependencies": sorted(d.replace("mesh_data.", "terraform_data.")
                                   for d in r.get("dependencies", [])),
        }
        if key is not None:
            instance = {"index_key": key, **instance}
        entry["instances"].append(instance)
    outputs = {name: {"value": o["value"], "type": hcl_type(o["value"])}
               for name, o in mesh_state.get("outputs", {}).items()}
    return {
        "version": 4, "terraform_version": terraform_version, "serial": 1,
        "lineage": str(uuid.uuid4()), "outputs": outputs,
        "resources": list(resources.values()), "check_results": None,
    }


def write(mesh_state_path, terraform_state_path, terraform_version):
    with open(mesh_state_path, encoding="utf-8") as f:
        doc = convert(json.load(f), terraform_version)
    with open(terraform_state_path, "w", encoding="utf-8") as f:
        json.dump(doc, f)
