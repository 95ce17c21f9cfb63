//! Provider failures during apply: partial failure, skipped dependents, convergence on the
//! next apply; failures on update and delete.

use crate::harness::{apply_line, Spec};

const BRANCHES: &str = r#"
resource "test_resource" "bad" {
  name         = "bad"
  fail_on      = "create"
  fail_message = "boom: quota exceeded"
}
resource "mesh_data" "after_bad" {
  input = test_resource.bad.id
}
resource "test_resource" "good" {
  name = "good"
}
resource "mesh_data" "after_good" {
  input = test_resource.good.id
}
"#;

#[test]
fn partial_failure_keeps_the_independent_branch_and_converges_later() {
    let spec = Spec::with_main(BRANCHES);
    let out = spec.run(&["apply", "-auto-approve"]);
    assert_ne!(out.code, 0, "{}", out.dump());
    out.stdout_has("test_resource.bad: Creation failed")
        .stderr_has("Error: Creation failed for test_resource.bad")
        .stderr_has("boom: quota exceeded")
        .stderr_has("mesh_data.after_bad (creation): skipped because test_resource.bad failed")
        .lacks("Apply complete!")
        .lacks("mesh_data.after_bad: Creating...");
    assert_eq!(
        spec.addresses(),
        ["mesh_data.after_good", "test_resource.good"]
    );
    let good = spec.attr("test_resource.good", "id");
    assert_eq!(spec.attr("mesh_data.after_good", "input"), good);
    assert_eq!(spec.store().len(), 1, "the failed create left no object");
    assert!(!spec.locked());

    // Fix the spec: the next apply does only what is left.
    spec.write(
        "main.hcl",
        &BRANCHES.replace("  fail_on      = \"create\"\n", ""),
    );
    spec.apply(&[]).stdout_has(&apply_line(2, 0, 0));
    assert_eq!(spec.addresses().len(), 4);
    assert_eq!(spec.attr("test_resource.good", "id"), good);
    assert_eq!(
        spec.attr("mesh_data.after_bad", "input"),
        spec.attr("test_resource.bad", "id")
    );
    spec.ok(&["plan"]).stdout_has("No changes.");
}

#[test]
fn default_failure_message_names_the_operation() {
    let spec = Spec::with_main(
        r#"
resource "test_resource" "bad" {
  name    = "bad"
  fail_on = "create"
}
"#,
    );
    let out = spec.fails(&["apply", "-auto-approve"]);
    out.stderr_has("injected failure on create");
    assert!(spec.addresses().is_empty());
}

#[test]
fn a_failed_update_keeps_the_old_state() {
    let spec = Spec::with_main(
        r#"
variable "v" {
  type    = string
  default = "v1"
}
resource "test_resource" "u" {
  name         = "u"
  value        = var.v
  fail_on      = "update"
  fail_message = "update refused"
}
"#,
    );
    spec.apply(&[]);
    let id = spec.attr("test_resource.u", "id");
    let out = spec.fails(&["apply", "-auto-approve", "-var", "v=v2"]);
    out.stderr_has("Error: Modifications failed for test_resource.u")
        .stderr_has("update refused");
    assert_eq!(spec.attr("test_resource.u", "value"), "v1");
    assert_eq!(spec.store()[&id]["value"], "v1");
    spec.ok(&["plan", "-var", "v=v2"])
        .stdout_has("~ value = \"v1\" -> \"v2\"");
}

#[test]
fn a_failed_delete_keeps_the_resource_in_state() {
    let spec = Spec::with_main(
        r#"
resource "test_resource" "d" {
  name         = "d"
  fail_on      = "delete"
  fail_message = "delete refused"
}
resource "mesh_data" "other" {
  input = "o"
}
"#,
    );
    spec.apply(&[]);
    let out = spec.fails(&["destroy", "-auto-approve"]);
    out.stderr_has("delete refused")
        .stderr_has("test_resource.d")
        .lacks("Destroy complete!");
    assert_eq!(spec.addresses(), ["test_resource.d"]);
    assert_eq!(spec.store().len(), 1);
    assert!(!spec.locked());
}

#[test]
fn a_failed_refresh_read_stops_the_plan() {
    let spec = Spec::with_main(
        r#"
variable "fail" {
  type    = string
  default = null
}
resource "test_resource" "r" {
  name         = "r"
  fail_on      = var.fail
  fail_message = "read refused"
}
"#,
    );
    spec.apply(&["-var", "fail=read"]);
    let before = spec.state_bytes();
    let out = spec.fails(&["plan"]);
    out.stderr_has("read refused");
    assert_eq!(spec.state_bytes(), before);
    assert!(!spec.locked());
}

#[test]
fn invalid_fail_on_is_rejected_at_plan() {
    let spec = Spec::with_main(
        r#"
resource "test_resource" "r" {
  name    = "r"
  fail_on = "explode"
}
"#,
    );
    let out = spec.fails(&["plan"]);
    out.stderr_has("fail_on must be one of")
        .stderr_has("main.hcl line 2");
}
