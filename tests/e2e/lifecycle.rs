//! The basic plan → apply → plan → destroy cycle, updates in place, values known only after
//! apply, confirmation without a terminal, and drift.

use crate::harness::{apply_line, plan_line, Spec};

const TWO_RESOURCES: &str = r#"
variable "greeting" {
  type    = string
  default = "hello"
}

resource "mesh_data" "a" {
  input = var.greeting
}

resource "test_resource" "b" {
  name  = "b"
  value = mesh_data.a.id
}

output "b_id" {
  value = test_resource.b.id
}
"#;

#[test]
fn plan_apply_plan_destroy_round_trip() {
    let spec = Spec::with_main(TWO_RESOURCES);

    let plan = spec.ok(&["plan"]);
    plan.stdout_has(&plan_line(2, 0, 0))
        .stdout_has("# mesh_data.a will be created")
        .stdout_has("# test_resource.b will be created")
        .stdout_has("(known after apply)");
    assert!(spec.addresses().is_empty(), "plan must not create anything");
    assert!(spec.store().is_empty());

    let apply = spec.apply(&[]);
    apply
        .stdout_has("mesh_data.a: Creating...")
        .stdout_has("test_resource.b: Creation complete after")
        .stdout_has(&apply_line(2, 0, 0))
        .stdout_has("b_id = \"test-");
    assert_eq!(spec.addresses(), ["mesh_data.a", "test_resource.b"]);
    assert_eq!(spec.store().len(), 1, "the test_resource exists remotely");
    assert!(!spec.locked(), "apply releases the lock");

    let again = spec.ok(&["plan"]);
    assert!(
        again.lines().iter().any(|l| l.starts_with("No changes.")),
        "{}",
        again.dump()
    );

    let destroy = spec.ok(&["destroy", "-auto-approve"]);
    destroy
        .stdout_has("test_resource.b: Destroying...")
        .stdout_has("Destroy complete! Resources: 2 destroyed.");
    // Dependents go first.
    assert!(
        destroy.line_index("test_resource.b: Destroying...")
            < destroy.line_index("mesh_data.a: Destroying...")
    );
    let state = spec.state().expect("state after destroy");
    assert_eq!(state["resources"].as_array().map(Vec::len), Some(0));
    assert!(spec.store().is_empty(), "the remote object is gone");
    assert!(!spec.locked());
}

#[test]
fn update_in_place_keeps_the_id() {
    let spec = Spec::with_main(TWO_RESOURCES);
    spec.apply(&[]);
    let id = spec.attr("mesh_data.a", "id");

    let plan = spec.ok(&["plan", "-var", "greeting=bye"]);
    plan.stdout_has("# mesh_data.a will be updated in place")
        .stdout_has("~ input  = \"hello\" -> \"bye\"")
        .stdout_has(&plan_line(0, 1, 0));

    spec.apply(&["-var", "greeting=bye"])
        .stdout_has("mesh_data.a: Modifying...")
        .stdout_has(&apply_line(0, 1, 0));
    assert_eq!(spec.attr("mesh_data.a", "id"), id, "an update keeps the id");
    assert_eq!(spec.attr("mesh_data.a", "output"), "bye");
    spec.ok(&["plan", "-var", "greeting=bye"])
        .stdout_has("No changes.");
}

#[test]
fn values_known_after_apply_flow_into_dependents() {
    let spec = Spec::with_main(
        r#"
variable "name" {
  type    = string
  default = "one"
}
resource "test_resource" "x" {
  name = var.name
}
resource "mesh_data" "by_id" {
  input = test_resource.x.id
}
resource "mesh_data" "by_computed" {
  input = test_resource.x.computed
}
"#,
    );
    spec.apply(&[]);
    let id = spec.attr("test_resource.x", "id");
    assert!(id.starts_with("test-"), "{id}");
    assert_eq!(spec.attr("mesh_data.by_id", "input"), id);
    assert_eq!(spec.attr("mesh_data.by_id", "output"), id);
    assert_eq!(spec.attr("mesh_data.by_computed", "input"), "computed-one");

    // Renaming makes `computed` unknown again; the dependent follows after apply.
    let plan = spec.ok(&["plan", "-var", "name=two"]);
    plan.stdout_has("~ computed = \"computed-one\" -> (known after apply)")
        .stdout_has("~ input  = \"computed-one\" -> (known after apply)")
        .stdout_has(&plan_line(0, 2, 0));
    spec.apply(&["-var", "name=two"]);
    assert_eq!(spec.attr("mesh_data.by_computed", "input"), "computed-two");
    assert_eq!(spec.attr("test_resource.x", "id"), id);
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    let spec = Spec::with_main(TWO_RESOURCES);
    let out = spec.fails(&["apply"]);
    out.stderr_has("--auto-approve");
    assert!(spec.addresses().is_empty(), "nothing applied: {out:?}");
    assert!(spec.store().is_empty(), "nothing created remotely");
    assert!(!spec.locked(), "the lock is released");

    // Same for destroy once there is something to destroy.
    spec.apply(&[]);
    let out = spec.fails(&["destroy"]);
    out.stderr_has("--auto-approve");
    assert_eq!(spec.addresses().len(), 2, "nothing destroyed");
    assert_eq!(spec.store().len(), 1);
}

#[test]
fn an_object_deleted_outside_mesh_is_created_again() {
    let spec = Spec::with_main(TWO_RESOURCES);
    spec.apply(&[]);
    let old_id = spec.attr("test_resource.b", "id");
    spec.set_store(&serde_json::Map::new());

    let plan = spec.ok(&["plan"]);
    plan.stdout_has("# test_resource.b has been deleted")
        .stdout_has("# test_resource.b will be created")
        .stdout_has(&plan_line(1, 0, 0));
    spec.apply(&[]).stdout_has(&apply_line(1, 0, 0));
    assert_ne!(spec.attr("test_resource.b", "id"), old_id);
    assert_eq!(spec.store().len(), 1);
}

#[test]
fn drifted_attribute_is_updated_back() {
    let spec = Spec::with_main(TWO_RESOURCES);
    spec.apply(&[]);
    let id = spec.attr("test_resource.b", "id");
    let mut store = spec.store();
    store[&id]["name"] = serde_json::json!("drifted");
    spec.set_store(&store);

    spec.ok(&["plan"])
        .stdout_has("~ name     = \"drifted\" -> \"b\"")
        .stdout_has(&plan_line(0, 1, 0));
    // Without refresh, mesh trusts state and sees nothing.
    spec.ok(&["plan", "-refresh=false"])
        .stdout_has("No changes.");
    spec.apply(&[]);
    assert_eq!(spec.store()[&id]["name"], "b");
    spec.ok(&["plan"]).stdout_has("No changes.");
}

#[test]
fn progress_lines_report_long_operations() {
    let spec = Spec::with_main(
        r#"
resource "test_resource" "slow" {
  name            = "slow"
  create_delay_ms = 2500
}
"#,
    );
    let out = spec.run_env(
        &["apply", "-auto-approve"],
        &[("MESH_PROGRESS_INTERVAL", "1s")],
    );
    assert_eq!(out.code, 0, "{}", out.dump());
    out.stdout_has("test_resource.slow: Still creating... [")
        .stdout_has("test_resource.slow: Creation complete after ")
        .lacks("Creation complete after 0s");
}
