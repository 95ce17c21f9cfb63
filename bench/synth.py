"""Equivalent synthetic configurations for mesh (`mesh_data`) and Terraform (`terraform_data`).

One configuration of exactly N resource instances, in four equal parts, each a shape that
stresses a different stage of planning:

- chains: CHAIN_DEPTH resources, each `count`-wide, instance j of step i referring to instance j
  of step i-1 (deep dependencies, known only after the previous step is applied);
- fan-out/fan-in: one root, a wide `count` that all refer to it, one sink that refers to all
  of them (one node with thousands of edges, a large list value);
- for_each over maps: a map built in `locals` with `for`, a resource over it, and a second
  resource whose `for_each` is the first resource (a map of objects);
- nested modules: a module called with `for_each` that itself calls a module with `for_each`,
  whose resources use `count`.

The mesh and Terraform texts are the same HCL except for the resource type and the file
extension, so both tools do the same work.
"""

import os
import shutil

CHAIN_DEPTH = 10
LEAVES_PER_GROUP = 5
ITEMS_PER_LEAF = 8

TOOLS = {
    "mesh": {"type": "mesh_data", "ext": ".hcl"},
    "terraform": {"type": "terraform_data", "ext": ".tf"},
}


def sizes(n):
    """How many instances each shape gets; they add up to exactly `n` (n >= 100)."""
    quarter = n // 4
    chain_width = max(1, quarter // CHAIN_DEPTH)
    for_each_keys = max(1, quarter // 2)
    per_group = 1 + LEAVES_PER_GROUP * (1 + ITEMS_PER_LEAF)
    groups = max(1, quarter // per_group)
    used = chain_width * CHAIN_DEPTH + 2 * for_each_keys + groups * per_group
    fan_width = n - used - 2
    if fan_width < 1:
        raise ValueError(f"N={n} is too small for the synthetic configuration")
    return {
        "chain_width": chain_width,
        "fan_width": fan_width,
        "for_each_keys": for_each_keys,
        "groups": groups,
    }


def root_text(ty, s):
    """The root module."""
    out = []
    out.append(f'resource "{ty}" "chain_0" {{\n  count = {s["chain_width"]}\n'
               f'  input = {{ step = 0, index = count.index }}\n}}\n')
    for i in range(1, CHAIN_DEPTH):
        out.append(
            f'resource "{ty}" "chain_{i}" {{\n  count = {s["chain_width"]}\n'
            f'  input = {{ step = {i}, previous = {ty}.chain_{i - 1}[count.index].id }}\n}}\n')
    out.append(f'resource "{ty}" "fan_root" {{\n  input = {{ role = "root" }}\n}}\n')
    out.append(
        f'resource "{ty}" "fan_out" {{\n  count = {s["fan_width"]}\n'
        f'  input = {{ root = {ty}.fan_root.id, index = count.index }}\n}}\n')
    out.append(
        f'resource "{ty}" "fan_in" {{\n'
        f'  input = {{ count = length({ty}.fan_out), ids = [for r in {ty}.fan_out : r.id] }}\n}}\n')
    out.append(
        'locals {\n'
        # Terraform's range() stops at 1,024 values: build the indexes in blocks of 1,000.
        f'  indexes = [for i in flatten([for a in range({-(-s["for_each_keys"] // 1000)}) : '
        f'[for b in range(1000) : a * 1000 + b]]) : i if i < {s["for_each_keys"]}]\n'
        '  items = { for i in local.indexes : format("item-%05d", i) => '
        '{ index = i, group = i % 10 } }\n'
        f'  groups = {{ for g in range({s["groups"]}) : format("group-%03d", g) => g }}\n'
        '}\n')
    out.append(
        f'resource "{ty}" "item" {{\n  for_each = local.items\n'
        '  input = { key = each.key, index = each.value.index, group = each.value.group }\n}\n')
    out.append(
        f'resource "{ty}" "item_child" {{\n  for_each = {ty}.item\n'
        '  input = { parent = each.value.id, key = each.key }\n}\n')
    out.append(
        'module "group" {\n  source   = "./modules/group"\n  for_each = local.groups\n'
        '  name     = each.key\n  index    = each.value\n}\n')
    out.append(
        'output "summary" {\n  value = {\n'
        f'    chain_tail = length({ty}.chain_{CHAIN_DEPTH - 1})\n'
        f'    fan_in     = {ty}.fan_in.id\n'
        '    groups     = length(module.group)\n  }\n}\n')
    return "\n".join(out)


def group_text(ty):
    """A group: one head resource and LEAVES_PER_GROUP leaf modules."""
    leaves = ", ".join(f'"leaf-{i}"' for i in range(LEAVES_PER_GROUP))
    return (
        'variable "name" {\n  type = string\n}\n\n'
        'variable "index" {\n  type = number\n}\n\n'
        f'resource "{ty}" "head" {{\n  input = {{ name = var.name, index = var.index }}\n}}\n\n'
        'module "leaf" {\n  source   = "../leaf"\n'
        f'  for_each = toset([{leaves}])\n'
        f'  group_id = {ty}.head.id\n  name     = "${{var.name}}-${{each.key}}"\n}}\n\n'
        'output "leaves" {\n  value = [for l in module.leaf : l.head_id]\n}\n')


def leaf_text(ty):
    """A leaf: one head resource and ITEMS_PER_LEAF items that refer to it."""
    return (
        'variable "group_id" {\n  type = string\n}\n\n'
        'variable "name" {\n  type = string\n}\n\n'
        f'resource "{ty}" "head" {{\n  input = {{ group = var.group_id, name = var.name }}\n}}\n\n'
        f'resource "{ty}" "item" {{\n  count = {ITEMS_PER_LEAF}\n'
        f'  input = {{ head = {ty}.head.id, index = count.index }}\n}}\n\n'
        f'output "head_id" {{\n  value = {ty}.head.id\n}}\n')


def write(tool, n, directory):
    """Write the configuration of `n` instances for `tool` ("mesh" or "terraform") into a fresh
    `directory`; returns the shape sizes."""
    spec = TOOLS[tool]
    ty, ext = spec["type"], spec["ext"]
    s = sizes(n)
    if os.path.exists(directory):
        shutil.rmtree(directory)
    os.makedirs(os.path.join(directory, "modules", "group"))
    os.makedirs(os.path.join(directory, "modules", "leaf"))
    files = {
        f"main{ext}": root_text(ty, s),
        os.path.join("modules", "group", f"main{ext}"): group_text(ty),
        os.path.join("modules", "leaf", f"main{ext}"): leaf_text(ty),
    }
    for name, text in files.items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as f:
            f.write(text)
    return s


def instance_count(s):
    """Total instances of a configuration with shape sizes `s` (a check on `sizes`)."""
    per_group = 1 + LEAVES_PER_GROUP * (1 + ITEMS_PER_LEAF)
    return (s["chain_width"] * CHAIN_DEPTH + s["fan_width"] + 2 + 2 * s["for_each_keys"]
            + s["groups"] * per_group)
