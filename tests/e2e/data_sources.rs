//! Data sources: read at plan time when their configuration is known, during apply ("<=")
//! when it depends on values known only after apply.

use crate::harness::{apply_line, plan_line, Spec};

#[test]
fn a_known_data_source_is_read_at_plan_time() {
    let spec = Spec::with_main(
        r#"
data "test_echo" "static" {
  value = "static-val"
}
resource "mesh_data" "a" {
  input = data.test_echo.static.result
}
output "echo" {
  value = data.test_echo.static.result
}
"#,
    );
    let plan = spec.ok(&["plan"]);
    // Its result is already known in the plan.
    plan.stdout_has("+ input  = \"static-val\"")
        .stdout_has("+ echo = \"static-val\"")
        .stdout_has(&plan_line(1, 0, 0))
        .lacks("<= data")
        .lacks("Reading...");
    spec.apply(&[]);
    assert_eq!(spec.attr("mesh_data.a", "output"), "static-val");
    assert_eq!(spec.attr("data.test_echo.static", "result"), "static-val");
    spec.ok(&["plan"]).stdout_has("No changes.");
}

#[test]
fn a_data_source_depending_on_an_unknown_value_is_read_during_apply() {
    let spec = Spec::with_main(
        r#"
resource "mesh_data" "a" {
  input = "x"
}
data "test_echo" "late" {
  value = mesh_data.a.id
}
resource "mesh_data" "b" {
  input = data.test_echo.late.result
}
"#,
    );
    let plan = spec.ok(&["plan"]);
    plan.stdout_has("# data.test_echo.late will be read during apply")
        .stdout_has(" <= data \"test_echo\" \"late\" {")
        .stdout_has("values known only after apply")
        .stdout_has(&plan_line(2, 0, 0));
    let json = spec.ok(&["plan", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let late = doc["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "data.test_echo.late")
        .unwrap()
        .clone();
    assert_eq!(late["change"]["actions"], serde_json::json!(["read"]));

    let out = spec.apply(&[]);
    out.stdout_has(&apply_line(2, 0, 0));
    let created = out.line_index("mesh_data.a: Creation complete");
    let reading = out.line_index("data.test_echo.late: Reading...");
    let b = out.line_index("mesh_data.b: Creating...");
    assert!(created < reading && reading < b, "{}", out.dump());

    let id = spec.attr("mesh_data.a", "id");
    assert_eq!(spec.attr("data.test_echo.late", "result"), id);
    assert_eq!(spec.attr("mesh_data.b", "input"), id);
    // Once the id is known, the data source is read at plan time and nothing changes.
    spec.ok(&["plan"]).stdout_has("No changes.");
}

#[test]
fn an_unknown_data_source_is_an_error() {
    let spec = Spec::with_main(
        r#"
data "test_echoo" "x" {
  value = 1
}
"#,
    );
    let out = spec.fails(&["plan"]);
    out.stderr_has("Unknown data source")
        .stderr_has("test_echo")
        .stderr_has("main.hcl line 2");
}

#[test]
fn a_data_source_may_not_take_computed_arguments() {
    let spec = Spec::with_main(
        r#"
data "test_echo" "x" {
  value  = 1
  result = 2
}
"#,
    );
    let out = spec.fails(&["plan"]);
    out.stderr_has("result").stderr_has("main.hcl line 4");
}
