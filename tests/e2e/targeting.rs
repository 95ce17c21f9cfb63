//! `-target`: only the targets and what they depend on (what depends on them, for destroy).

use crate::harness::{apply_line, plan_line, Spec};

const SPEC: &str = r#"
resource "mesh_data" "base" {
  input = "base"
}
resource "mesh_data" "mid" {
  input = mesh_data.base.id
}
resource "test_resource" "top" {
  name  = "top"
  value = mesh_data.mid.id
}
resource "mesh_data" "unrelated" {
  input = "u"
}
resource "test_resource" "also_unrelated" {
  name = "u2"
}
"#;

#[test]
fn plan_and_apply_only_the_target_and_its_dependencies() {
    let spec = Spec::with_main(SPEC);
    let plan = spec.ok(&["plan", "-target", "mesh_data.mid"]);
    plan.stdout_has("# mesh_data.base will be created")
        .stdout_has("# mesh_data.mid will be created")
        .stdout_has(&plan_line(2, 0, 0))
        .lacks("test_resource.top will")
        .lacks("mesh_data.unrelated will")
        .stderr_has("Resource targeting is in effect");

    spec.apply(&["-target", "mesh_data.mid"])
        .stdout_has(&apply_line(2, 0, 0));
    assert_eq!(spec.addresses(), ["mesh_data.base", "mesh_data.mid"]);
    assert!(spec.store().is_empty(), "no test_resource was created");

    // The rest is still to do.
    spec.ok(&["plan"]).stdout_has(&plan_line(3, 0, 0));
    spec.apply(&[]);
    assert_eq!(spec.addresses().len(), 5);
}

#[test]
fn several_targets_and_the_double_dash_form() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[
        "--target",
        "test_resource.also_unrelated",
        "-target=mesh_data.unrelated",
    ]);
    assert_eq!(
        spec.addresses(),
        ["mesh_data.unrelated", "test_resource.also_unrelated"]
    );
}

#[test]
fn targeted_destroy_takes_the_dependents_along() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    let out = spec.ok(&["destroy", "-auto-approve", "-target", "mesh_data.mid"]);
    out.stdout_has("Destroy complete! Resources: 2 destroyed.");
    assert!(
        out.line_index("test_resource.top: Destroying...")
            < out.line_index("mesh_data.mid: Destroying...")
    );
    assert_eq!(
        spec.addresses(),
        [
            "mesh_data.base",
            "mesh_data.unrelated",
            "test_resource.also_unrelated"
        ]
    );
    assert_eq!(spec.store().len(), 1, "only test_resource.top was deleted");
}

#[test]
fn targeted_update_leaves_other_changes_pending() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    spec.write(
        "main.hcl",
        &SPEC
            .replace("input = \"base\"", "input = \"base2\"")
            .replace("\"u\"", "\"u-changed\""),
    );
    spec.ok(&["plan", "-target", "mesh_data.unrelated"])
        .stdout_has("# mesh_data.unrelated will be updated in place")
        .stdout_has(&plan_line(0, 1, 0))
        .lacks("mesh_data.base will");
    spec.apply(&["-target", "mesh_data.unrelated"]);
    assert_eq!(spec.attr("mesh_data.unrelated", "input"), "u-changed");
    assert_eq!(spec.attr("mesh_data.base", "input"), "base");
}

#[test]
fn a_target_matching_nothing_is_an_error() {
    let spec = Spec::with_main(SPEC);
    let out = spec.fails(&["plan", "-target", "mesh_data.nope"]);
    out.stderr_has("mesh_data.nope")
        .stderr_has("matches no resource");
    assert!(spec.state().is_none());
    assert!(!spec.locked());
}
