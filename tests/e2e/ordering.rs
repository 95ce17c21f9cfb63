//! Operation order: dependencies (implicit and depends_on) and --parallelism.

use crate::harness::{apply_line, Spec};

const THREE_SLOW: &str = r#"
resource "test_resource" "a" {
  name            = "a"
  create_delay_ms = 300
}
resource "test_resource" "b" {
  name            = "b"
  create_delay_ms = 300
}
resource "test_resource" "c" {
  name            = "c"
  create_delay_ms = 300
}
"#;

/// (index of "Creating...", index of "Creation complete") per resource name.
fn spans(out: &crate::harness::Out, names: &[&str]) -> Vec<(usize, usize)> {
    names
        .iter()
        .map(|n| {
            (
                out.line_index(&format!("test_resource.{n}: Creating...")),
                out.line_index(&format!("test_resource.{n}: Creation complete")),
            )
        })
        .collect()
}

#[test]
fn parallelism_one_runs_operations_one_at_a_time() {
    let spec = Spec::with_main(THREE_SLOW);
    let out = spec.apply(&["-parallelism=1"]);
    out.stdout_has(&apply_line(3, 0, 0));
    let mut spans = spans(&out, &["a", "b", "c"]);
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[0].1 < pair[1].0,
            "an operation started before the previous one completed\n{}",
            out.dump()
        );
    }
}

#[test]
fn independent_operations_run_concurrently_by_default() {
    let spec = Spec::with_main(THREE_SLOW);
    let out = spec.apply(&[]);
    let spans = spans(&out, &["a", "b", "c"]);
    let last_start = spans.iter().map(|s| s.0).max().unwrap();
    let first_end = spans.iter().map(|s| s.1).min().unwrap();
    assert!(
        last_start < first_end,
        "all three should start before any completes\n{}",
        out.dump()
    );
}

#[test]
fn depends_on_orders_operations_without_a_reference() {
    let spec = Spec::with_main(
        r#"
resource "test_resource" "first" {
  name            = "first"
  create_delay_ms = 300
}
resource "mesh_data" "second" {
  input      = "no reference"
  depends_on = [test_resource.first]
}
"#,
    );
    let out = spec.apply(&[]);
    assert!(
        out.line_index("test_resource.first: Creation complete")
            < out.line_index("mesh_data.second: Creating..."),
        "{}",
        out.dump()
    );
    let state = spec.state().unwrap();
    let second = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "mesh_data.second")
        .unwrap()
        .clone();
    assert_eq!(
        second["dependencies"],
        serde_json::json!(["test_resource.first"])
    );

    // And destroy goes the other way.
    let out = spec.ok(&["destroy", "-auto-approve"]);
    assert!(
        out.line_index("mesh_data.second: Destruction complete")
            < out.line_index("test_resource.first: Destroying..."),
        "{}",
        out.dump()
    );
}

#[test]
fn removing_a_dependent_and_its_dependency_together_destroys_the_dependent_first() {
    let spec = Spec::with_main(
        r#"
resource "test_resource" "base" {
  name            = "base"
  delete_delay_ms = 300
}
resource "mesh_data" "user" {
  input = test_resource.base.id
}
resource "mesh_data" "keep" {
}
"#,
    );
    spec.apply(&[]);
    // Both leave the spec at once: the order must come from state.
    spec.write("main.hcl", "resource \"mesh_data\" \"keep\" {\n}\n");
    let out = spec.apply(&[]);
    out.stdout_has(&apply_line(0, 0, 2));
    assert!(
        out.line_index("mesh_data.user: Destruction complete")
            < out.line_index("test_resource.base: Destroying..."),
        "{}",
        out.dump()
    );
    assert_eq!(spec.addresses(), ["mesh_data.keep"]);
}
