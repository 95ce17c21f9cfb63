//! Local modules: for_each over a map, outputs consumed by the root, nested modules, removing
//! one instance, and module-level errors.

use crate::harness::{apply_line, plan_line, Spec};

const ROOT: &str = r#"
variable "nets" {
  type    = map(string)
  default = { a = "10.0.0.0/16", b = "10.1.0.0/16" }
}

module "net" {
  source   = "./modules/net"
  for_each = var.nets
  cidr     = each.value
  label    = each.key
}

resource "mesh_data" "root" {
  input = { for k, m in module.net : k => m.id }
}

output "net_ids" {
  value = { for k, m in module.net : k => m.id }
}

output "a_leaf" {
  value = module.net["a"].leaf
}
"#;

const NET: &str = r#"
variable "cidr" {
  type = string
}
variable "label" {
  type = string
}
resource "mesh_data" "x" {
  input = "${var.label}:${var.cidr}"
}
module "inner" {
  source = "./inner"
  v      = mesh_data.x.output
}
output "id" {
  value = mesh_data.x.id
}
output "leaf" {
  value = module.inner.out
}
"#;

const INNER: &str = r#"
variable "v" {
  type = string
}
resource "mesh_data" "leaf" {
  input = upper(var.v)
}
output "out" {
  value = mesh_data.leaf.output
}
"#;

fn module_spec() -> Spec {
    let spec = Spec::with_main(ROOT);
    spec.write("modules/net/main.hcl", NET);
    spec.write("modules/net/inner/main.hcl", INNER);
    spec
}

#[test]
fn module_for_each_with_outputs_and_nested_modules() {
    let spec = module_spec();
    let plan = spec.ok(&["plan"]);
    plan.stdout_has("# module.net[\"a\"].mesh_data.x will be created")
        .stdout_has("# module.net[\"b\"].module.inner.mesh_data.leaf will be created")
        .stdout_has("+ input  = \"B:10.1.0.0/16\"")
        .stdout_has(&plan_line(5, 0, 0));

    let out = spec.apply(&[]);
    out.stdout_has(&apply_line(5, 0, 0))
        .stdout_has("a_leaf = \"A:10.0.0.0/16\"");
    assert_eq!(
        spec.addresses(),
        [
            "mesh_data.root",
            "module.net[\"a\"].mesh_data.x",
            "module.net[\"a\"].module.inner.mesh_data.leaf",
            "module.net[\"b\"].mesh_data.x",
            "module.net[\"b\"].module.inner.mesh_data.leaf",
        ]
    );
    // The module outputs reached the root resource and the root output with real ids.
    let a = spec.attr("module.net[\"a\"].mesh_data.x", "id");
    let b = spec.attr("module.net[\"b\"].mesh_data.x", "id");
    let root = spec.attrs("mesh_data.root").unwrap();
    assert_eq!(root["input"], serde_json::json!({ "a": a, "b": b }));
    let net_ids = spec.ok(&["output", "--json", "net_ids"]);
    let net_ids: serde_json::Value = serde_json::from_str(&net_ids.stdout).unwrap();
    assert_eq!(net_ids, serde_json::json!({ "a": a, "b": b }));
    assert_eq!(
        spec.attr("module.net[\"b\"].module.inner.mesh_data.leaf", "output"),
        "B:10.1.0.0/16"
    );
    spec.ok(&["plan"]).stdout_has("No changes.");
}

#[test]
fn removing_a_key_destroys_only_that_module_instance() {
    let spec = module_spec();
    spec.apply(&[]);
    let a = spec.attr("module.net[\"a\"].mesh_data.x", "id");
    let var = "nets={ a = \"10.0.0.0/16\" }";

    let plan = spec.ok(&["plan", "-var", var]);
    plan.stdout_has("# module.net[\"b\"].mesh_data.x will be destroyed")
        .stdout_has("# module.net[\"b\"].module.inner.mesh_data.leaf will be destroyed")
        .stdout_has("# mesh_data.root will be updated in place")
        .stdout_has(&plan_line(0, 1, 2))
        .lacks("module.net[\"a\"].mesh_data.x will");

    spec.apply(&["-var", var]).stdout_has(&apply_line(0, 1, 2));
    assert_eq!(
        spec.addresses(),
        [
            "mesh_data.root",
            "module.net[\"a\"].mesh_data.x",
            "module.net[\"a\"].module.inner.mesh_data.leaf",
        ]
    );
    assert_eq!(spec.attr("module.net[\"a\"].mesh_data.x", "id"), a);
    let root = spec.attrs("mesh_data.root").unwrap();
    assert_eq!(root["input"], serde_json::json!({ "a": a }));
}

#[test]
fn module_with_count_and_a_module_input_from_a_resource() {
    let spec = Spec::with_main(
        r#"
resource "test_resource" "seed" {
  name = "seed"
}
module "copy" {
  source = "./copy"
  count  = 2
  value  = "${test_resource.seed.id}/${count.index}"
}
output "copies" {
  value = module.copy[*].out
}
"#,
    );
    spec.write(
        "copy/main.hcl",
        r#"
variable "value" {
  type = string
}
resource "mesh_data" "c" {
  input = var.value
}
output "out" {
  value = mesh_data.c.output
}
"#,
    );
    spec.ok(&["plan"])
        .stdout_has("# module.copy[1].mesh_data.c will be created")
        .stdout_has(&plan_line(3, 0, 0));
    spec.apply(&[]);
    let seed = spec.attr("test_resource.seed", "id");
    assert_eq!(
        spec.attr("module.copy[1].mesh_data.c", "input"),
        format!("{seed}/1")
    );
    let out = spec.ok(&["output", "--json", "copies"]);
    let copies: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        copies,
        serde_json::json!([format!("{seed}/0"), format!("{seed}/1")])
    );
}

#[test]
fn destroy_removes_module_resources_leaves_first() {
    let spec = module_spec();
    spec.apply(&[]);
    let out = spec.ok(&["destroy", "-auto-approve"]);
    out.stdout_has("Destroy complete! Resources: 5 destroyed.");
    assert!(
        out.line_index("module.net[\"a\"].module.inner.mesh_data.leaf: Destroying...")
            < out.line_index("module.net[\"a\"].mesh_data.x: Destroying...")
    );
    assert!(
        out.line_index("mesh_data.root: Destroying...")
            < out.line_index("module.net[\"b\"].mesh_data.x: Destroying...")
    );
    assert!(spec.addresses().is_empty());
}

#[test]
fn module_errors_name_the_file() {
    let spec = module_spec();
    // A wrong input name in the call.
    spec.write(
        "main.hcl",
        &ROOT.replace("  label    = each.key\n", "  labl     = each.key\n"),
    );
    let out = spec.fails(&["plan"]);
    out.stderr_has("labl").stderr_has("main.hcl");
    // A missing module directory.
    spec.write("main.hcl", &ROOT.replace("./modules/net", "./modules/nope"));
    let out = spec.fails(&["plan"]);
    out.stderr_has("modules/nope");
    assert!(spec.state().is_none());
}
