//! Sensitive values never reach plan/apply output, JSON plans or `show`; `mesh output` hides
//! them unless asked by name or as JSON.

use crate::harness::{Out, Spec};

const VAR_SECRET: &str = "hunter2-from-variable";
const ATTR_SECRET: &str = "topsecret-attribute";

fn spec() -> Spec {
    Spec::with_main(&format!(
        r#"
variable "password" {{
  type      = string
  sensitive = true
  default   = "{VAR_SECRET}"
}}
resource "test_resource" "s" {{
  name   = "s"
  secret = "{ATTR_SECRET}"
  value  = var.password
}}
output "pw" {{
  value     = var.password
  sensitive = true
}}
output "plain" {{
  value = test_resource.s.name
}}
"#
    ))
}

fn assert_no_secrets(out: &Out) {
    for secret in [VAR_SECRET, ATTR_SECRET, "hunter3", "topsecret-2"] {
        out.lacks(secret);
    }
}

#[test]
fn secrets_never_appear_in_plan_apply_or_show() {
    let spec = spec();
    let plan = spec.ok(&["plan"]);
    assert_no_secrets(&plan);
    plan.stdout_has("+ secret   = (sensitive value)")
        .stdout_has("+ value    = (sensitive value)");

    let json = spec.ok(&["plan", "--format", "json"]);
    assert_no_secrets(&json);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let s = doc["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "test_resource.s")
        .unwrap();
    assert_eq!(s["change"]["after_sensitive"]["secret"], true);
    assert_eq!(s["change"]["after_sensitive"]["value"], true);
    assert_eq!(doc["output_changes"]["pw"]["sensitive"], true);

    let apply = spec.apply(&[]);
    assert_no_secrets(&apply);
    apply.stdout_has("pw = (sensitive value)");

    // Changing the secrets: the diff still hides both sides.
    spec.write(
        "main.hcl",
        &spec.read("main.hcl").replace(ATTR_SECRET, "topsecret-2"),
    );
    let plan = spec.ok(&["plan", "-var", "password=hunter3"]);
    assert_no_secrets(&plan);
    plan.stdout_has("~ secret = (sensitive value)");
    let json = spec.ok(&["plan", "--format", "json", "-var", "password=hunter3"]);
    assert_no_secrets(&json);
    let apply = spec.apply(&["-var", "password=hunter3"]);
    assert_no_secrets(&apply);

    assert_no_secrets(&spec.ok(&["show"]));
    assert_no_secrets(&spec.ok(&["show", "--format", "json"]));
    assert_no_secrets(&spec.ok(&["state", "show", "test_resource.s"]));
    assert_no_secrets(&spec.ok(&["output"]));

    // State itself holds the real values (as in Terraform).
    assert_eq!(spec.attr("test_resource.s", "secret"), "topsecret-2");
}

#[test]
fn output_hides_sensitive_values_unless_asked() {
    let spec = spec();
    spec.apply(&[]);
    let all = spec.ok(&["output"]);
    all.stdout_has("pw = (sensitive value)")
        .stdout_has("plain = \"s\"")
        .lacks(VAR_SECRET);
    // By name or as JSON, as in Terraform.
    spec.ok(&["output", "pw"]).stdout_has(VAR_SECRET);
    let json = spec.ok(&["output", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["pw"]["sensitive"], true);
    assert_eq!(doc["pw"]["value"], VAR_SECRET);
    assert_eq!(doc["plain"]["sensitive"], false);
}

#[test]
fn sensitive_values_are_hidden_in_destroy_plans() {
    let spec = spec();
    spec.apply(&[]);
    let out = spec.ok(&["destroy", "-auto-approve"]);
    assert_no_secrets(&out);
    out.stdout_has("Destroy complete!");
    let plan = spec.ok(&["plan", "-destroy"]);
    assert_no_secrets(&plan);
}

#[test]
fn mesh_data_output_of_a_sensitive_input_stays_hidden() {
    let spec = Spec::with_main(&format!(
        r#"
variable "password" {{
  type      = string
  sensitive = true
  default   = "{VAR_SECRET}"
}}
resource "mesh_data" "copy" {{
  input = var.password
}}
"#
    ));
    // The create plan hides both input and output...
    let plan = spec.ok(&["plan"]);
    assert_no_secrets(&plan);
    plan.stdout_has("+ output = (sensitive value)");
    assert_no_secrets(&spec.apply(&[]));
    // ...but after apply the output is no longer marked.
    assert_no_secrets(&spec.ok(&["state", "show", "mesh_data.copy"]));
    assert_no_secrets(&spec.ok(&["show"]));
    assert_no_secrets(&spec.ok(&["show", "--format", "json"]));
    assert_no_secrets(&spec.ok(&["plan", "-destroy"]));
    assert_no_secrets(&spec.ok(&["destroy", "-auto-approve"]));
}

#[test]
fn a_sensitive_value_reaching_a_data_source_stays_hidden() {
    let spec = Spec::with_main(&format!(
        r#"
variable "password" {{
  type      = string
  sensitive = true
  default   = "{VAR_SECRET}"
}}
data "test_echo" "e" {{
  value = var.password
}}
resource "mesh_data" "m" {{
  input = data.test_echo.e.result
}}
"#
    ));
    let plan = spec.ok(&["plan"]);
    assert_no_secrets(&plan);
    assert_no_secrets(&spec.ok(&["plan", "--format", "json"]));
    assert_no_secrets(&spec.apply(&[]));
    assert_no_secrets(&spec.ok(&["show"]));
}

#[test]
fn a_new_sensitive_output_is_planned_as_a_create() {
    let spec = spec();
    let plan = spec.ok(&["plan"]);
    plan.stdout_has("+ pw    = (sensitive value)").lacks("~ pw");
    let json = spec.ok(&["plan", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        doc["output_changes"]["pw"]["actions"],
        serde_json::json!(["create"])
    );
}
