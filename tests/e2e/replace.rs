//! Replacement: `-replace`, force-new attributes, `triggers_replace`, `replace_triggered_by`
//! and the order of create_before_destroy.

use crate::harness::{apply_line, plan_line, Spec};

const SPEC: &str = r#"
variable "key" {
  type    = string
  default = "k1"
}
resource "test_resource" "r" {
  name        = "r"
  replace_key = var.key
}
resource "mesh_data" "other" {
  input = "o"
}
"#;

#[test]
fn replace_flag_forces_a_new_object() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    let old = spec.attr("test_resource.r", "id");
    let other = spec.attr("mesh_data.other", "id");

    let plan = spec.ok(&["plan", "-replace", "test_resource.r"]);
    plan.stdout_has("-/+ resource \"test_resource\" \"r\"")
        .stdout_has("# test_resource.r must be replaced")
        .stdout_has("replacement requested with -replace")
        .stdout_has(&plan_line(1, 0, 1));

    spec.apply(&["-replace=test_resource.r"])
        .stdout_has(&apply_line(1, 0, 1));
    let new = spec.attr("test_resource.r", "id");
    assert_ne!(new, old);
    let store = spec.store();
    assert!(
        store.contains_key(&new) && !store.contains_key(&old),
        "{store:?}"
    );
    assert_eq!(
        spec.attr("mesh_data.other", "id"),
        other,
        "others untouched"
    );
}

#[test]
fn a_force_new_attribute_forces_replacement() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    let old = spec.attr("test_resource.r", "id");
    let plan = spec.ok(&["plan", "-var", "key=k2"]);
    plan.stdout_has("-/+ resource \"test_resource\" \"r\"")
        .stdout_has("~ replace_key = \"k1\" -> \"k2\" # forces replacement")
        .stdout_has(&plan_line(1, 0, 1));
    spec.apply(&["-var", "key=k2"]);
    assert_ne!(spec.attr("test_resource.r", "id"), old);
    assert_eq!(spec.attr("test_resource.r", "replace_key"), "k2");
    assert_eq!(spec.store().len(), 1, "the old object was deleted");
}

#[test]
fn triggers_replace_replaces_mesh_data() {
    let spec = Spec::with_main(
        r#"
variable "t" {
  type    = string
  default = "t1"
}
resource "mesh_data" "d" {
  input            = "same"
  triggers_replace = var.t
}
"#,
    );
    spec.apply(&[]);
    let old = spec.attr("mesh_data.d", "id");
    spec.ok(&["plan", "-var", "t=t2"])
        .stdout_has("-/+ resource \"mesh_data\" \"d\"")
        .stdout_has("~ triggers_replace = \"t1\" -> \"t2\" # forces replacement");
    spec.apply(&["-var", "t=t2"])
        .stdout_has(&apply_line(1, 0, 1));
    assert_ne!(spec.attr("mesh_data.d", "id"), old);
    // A change of input alone is an update.
    spec.write(
        "main.hcl",
        &spec.read("main.hcl").replace("\"same\"", "\"different\""),
    );
    spec.ok(&["plan", "-var", "t=t2"])
        .stdout_has("# mesh_data.d will be updated in place");
}

const TRIGGERED: &str = r#"
variable "t" {
  type    = string
  default = "t1"
}
resource "mesh_data" "trigger" {
  input            = "x"
  triggers_replace = var.t
}
resource "mesh_data" "follower" {
  input = mesh_data.trigger.input
  lifecycle {
    replace_triggered_by = [mesh_data.trigger]
  }
}
"#;

#[test]
fn replace_triggered_by_replaces_the_follower() {
    let spec = Spec::with_main(TRIGGERED);
    spec.apply(&[]);
    let old = spec.attr("mesh_data.follower", "id");
    spec.ok(&["plan", "-var", "t=t2"])
        .stdout_has("# mesh_data.follower must be replaced")
        .stdout_has("replace_triggered_by mesh_data.trigger changed")
        .stdout_has(&plan_line(2, 0, 2));
    spec.apply(&["-var", "t=t2"]);
    assert_ne!(spec.attr("mesh_data.follower", "id"), old);
    spec.ok(&["plan", "-var", "t=t2"]).stdout_has("No changes.");
}

#[test]
fn replace_triggered_by_alone_replaces_the_follower() {
    // Same as above, but the follower's only link to the trigger is replace_triggered_by.
    let spec = Spec::with_main(&TRIGGERED.replace("mesh_data.trigger.input", "\"static\""));
    spec.apply(&[]);
    let old = spec.attr("mesh_data.follower", "id");
    spec.ok(&["plan", "-var", "t=t2"])
        .stdout_has("# mesh_data.follower must be replaced")
        .stdout_has(&plan_line(2, 0, 2));
    spec.apply(&["-var", "t=t2"]);
    assert_ne!(spec.attr("mesh_data.follower", "id"), old);
}

#[test]
fn replace_triggered_by_a_for_each_instance() {
    let spec = Spec::with_main(
        r#"
variable "t" {
  type    = string
  default = "t1"
}
resource "mesh_data" "trigger" {
  for_each         = toset(["k"])
  input            = "x"
  triggers_replace = var.t
}
resource "mesh_data" "follower" {
  input = "static"
  lifecycle {
    replace_triggered_by = [mesh_data.trigger["k"]]
  }
}
"#,
    );
    spec.apply(&[]);
    let old = spec.attr("mesh_data.follower", "id");
    spec.ok(&["plan", "-var", "t=t2"])
        .stdout_has("# mesh_data.follower must be replaced")
        .stdout_has(&plan_line(2, 0, 2));
    spec.apply(&["-var", "t=t2"]);
    assert_ne!(spec.attr("mesh_data.follower", "id"), old);
}

#[test]
fn replace_triggered_by_a_counted_instance() {
    let spec = Spec::with_main(
        r#"
variable "t" {
  type    = string
  default = "t1"
}
resource "mesh_data" "trigger" {
  count            = 2
  input            = "x"
  triggers_replace = count.index == 1 ? var.t : "fixed"
}
resource "mesh_data" "on_first" {
  lifecycle {
    replace_triggered_by = [mesh_data.trigger[0]]
  }
}
resource "mesh_data" "on_second" {
  lifecycle {
    replace_triggered_by = [mesh_data.trigger[1]]
  }
}
"#,
    );
    spec.apply(&[]);
    spec.ok(&["plan", "-var", "t=t2"])
        .stdout_has("# mesh_data.on_second must be replaced")
        .lacks("# mesh_data.on_first must be replaced")
        .stdout_has(&plan_line(2, 0, 2));
}

const CBD: &str = r#"
variable "key" {
  type    = string
  default = "k1"
}
resource "test_resource" "r" {
  name        = "r"
  replace_key = var.key
  lifecycle {
    create_before_destroy = true
  }
}
resource "mesh_data" "user" {
  input = test_resource.r.id
}
"#;

#[test]
fn create_before_destroy_creates_the_replacement_first() {
    let spec = Spec::with_main(CBD);
    spec.apply(&[]);
    let old = spec.attr("test_resource.r", "id");
    spec.ok(&["plan", "-var", "key=k2"])
        .stdout_has("+/- resource \"test_resource\" \"r\"");
    let out = spec.apply(&["-var", "key=k2"]);
    let creating = out.line_index("test_resource.r: Creating...");
    let created = out.line_index("test_resource.r: Creation complete");
    let destroying = out.line_index("test_resource.r: Destroying...");
    assert!(creating < created && created < destroying, "{}", out.dump());
    // The dependent moves over to the new object before the old one goes.
    let updated = out.line_index("mesh_data.user: Modifications complete");
    assert!(created < updated && updated < destroying, "{}", out.dump());

    let new = spec.attr("test_resource.r", "id");
    assert_ne!(new, old);
    assert_eq!(spec.attr("mesh_data.user", "input"), new);
    assert_eq!(spec.store().len(), 1, "the old object was deleted");
}

#[test]
fn without_create_before_destroy_the_old_object_goes_first() {
    let spec = Spec::with_main(&CBD.replace(
        "create_before_destroy = true",
        "create_before_destroy = false",
    ));
    spec.apply(&[]);
    spec.ok(&["plan", "-var", "key=k2"])
        .stdout_has("-/+ resource \"test_resource\" \"r\"");
    let out = spec.apply(&["-var", "key=k2"]);
    let destroyed = out.line_index("test_resource.r: Destruction complete");
    let creating = out.line_index("test_resource.r: Creating...");
    assert!(destroyed < creating, "{}", out.dump());
    assert_eq!(
        spec.attr("mesh_data.user", "input"),
        spec.attr("test_resource.r", "id")
    );
}

#[test]
fn prevent_destroy_blocks_a_replacement() {
    let spec = Spec::with_main(&SPEC.replace(
        "  replace_key = var.key\n",
        "  replace_key = var.key\n  lifecycle {\n    prevent_destroy = true\n  }\n",
    ));
    spec.apply(&[]);
    let before = spec.state_bytes();
    let out = spec.fails(&["apply", "-auto-approve", "-var", "key=k2"]);
    out.stderr_has("test_resource.r")
        .stderr_has("prevent_destroy");
    assert_eq!(spec.state_bytes(), before);
    spec.fails(&["destroy", "-auto-approve"])
        .stderr_has("prevent_destroy");
    assert_eq!(spec.store().len(), 1);
}
