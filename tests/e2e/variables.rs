//! Root variables: -var, -var-file (HCL and JSON), MESH_VAR_x, precedence, validation, type
//! conversion and missing values.

use crate::harness::{assert_points_at, Spec};

const SPEC: &str = r#"
variable "a" {
  type    = string
  default = "default"
}
variable "n" {
  type    = number
  default = 1
}
variable "tags" {
  type    = map(string)
  default = {}
}
output "a" {
  value = var.a
}
output "n_plus_one" {
  value = var.n + 1
}
output "tags" {
  value = var.tags
}
"#;

/// Apply with `args` and `env`, and return the outputs as JSON.
fn outputs(spec: &Spec, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut all = vec!["apply", "-auto-approve"];
    all.extend_from_slice(args);
    let out = spec.run_env(&all, env);
    assert_eq!(out.code, 0, "{}", out.dump());
    let json = spec.ok(&["output", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    serde_json::json!({
        "a": doc["a"]["value"],
        "n": doc["n_plus_one"]["value"],
        "tags": doc["tags"]["value"],
    })
}

fn spec() -> Spec {
    let spec = Spec::with_main(SPEC);
    // Not *.hcl: every *.hcl file in the spec directory is a spec file.
    spec.write(
        "prod.vars",
        "a    = \"from-hcl-file\"\nn    = 41\ntags = { env = \"prod\" }\n",
    );
    spec.write("over.json", r#"{"a": "from-json-file", "n": 10}"#);
    spec
}

#[test]
fn defaults_apply_without_any_source() {
    let spec = spec();
    let v = outputs(&spec, &[], &[]);
    assert_eq!(v, serde_json::json!({ "a": "default", "n": 2, "tags": {} }));
}

#[test]
fn var_file_hcl_and_json() {
    let spec = spec();
    let v = outputs(&spec, &["-var-file", "prod.vars"], &[]);
    assert_eq!(
        v,
        serde_json::json!({ "a": "from-hcl-file", "n": 42, "tags": { "env": "prod" } })
    );
    // Later files win, per variable.
    let v = outputs(
        &spec,
        &["-var-file", "prod.vars", "-var-file=over.json"],
        &[],
    );
    assert_eq!(
        v,
        serde_json::json!({ "a": "from-json-file", "n": 11, "tags": { "env": "prod" } })
    );
}

#[test]
fn precedence_default_env_file_flag() {
    let spec = spec();
    let env = [("MESH_VAR_a", "from-env"), ("MESH_VAR_n", "5")];
    // env beats the default.
    let v = outputs(&spec, &[], &env);
    assert_eq!(v["a"], "from-env");
    assert_eq!(v["n"], 6);
    // A var file beats env.
    let v = outputs(&spec, &["-var-file", "prod.vars"], &env);
    assert_eq!(v["a"], "from-hcl-file");
    assert_eq!(v["n"], 42);
    // -var beats a var file, whatever the order on the command line.
    let v = outputs(
        &spec,
        &["-var", "a=from-flag", "-var-file", "prod.vars"],
        &env,
    );
    assert_eq!(v["a"], "from-flag");
    assert_eq!(v["n"], 42);
    // Complex values on the command line.
    let v = outputs(
        &spec,
        &["-var", "tags={ team = \"core\" }", "-var=n=0"],
        &[],
    );
    assert_eq!(v["tags"], serde_json::json!({ "team": "core" }));
    assert_eq!(v["n"], 1);
}

#[test]
fn validation_failure_shows_the_error_message() {
    let spec = Spec::with_main(
        r#"
variable "region" {
  type = string
  validation {
    condition     = contains(["eu", "us"], var.region)
    error_message = "region must be eu or us"
  }
}
resource "mesh_data" "a" {
  input = var.region
}
"#,
    );
    let out = spec.fails(&["plan", "-var", "region=mars"]);
    out.stderr_has("region must be eu or us")
        .stderr_has("var.region");
    assert_points_at(&out, "main.hcl", 5);
    spec.ok(&["plan", "-var", "region=eu"]);
    assert!(spec.state().is_none());
}

#[test]
fn a_missing_required_variable_is_named() {
    let spec = Spec::with_main(
        r#"
variable "region" {
  type = string
}
resource "mesh_data" "a" {
  input = var.region
}
"#,
    );
    let out = spec.fails(&["plan"]);
    out.stderr_has("No value for required variable")
        .stderr_has("var.region")
        .stderr_has("MESH_VAR_region");
    assert_points_at(&out, "main.hcl", 2);
    let out = spec.run_env(&["plan"], &[("MESH_VAR_region", "eu")]);
    assert_eq!(out.code, 0, "{}", out.dump());
}

#[test]
fn type_conversion_errors_name_the_variable_and_source() {
    let spec = spec();
    let out = spec.fails(&["plan", "-var", "tags=[1, 2]"]);
    out.stderr_has("Invalid value for variable")
        .stderr_has("var.tags")
        .stderr_has("map(string)")
        .stderr_has("-var");
    spec.write("bad.json", r#"{"n": "not a number"}"#);
    let out = spec.fails(&["plan", "-var-file", "bad.json"]);
    out.stderr_has("var.n").stderr_has("bad.json");
    let out = spec.fails(&["plan", "-var", "n=notanumber"]);
    out.stderr_has("notanumber");
    let out = spec.run_env(&["plan"], &[("MESH_VAR_n", "xyz")]);
    assert_ne!(out.code, 0, "{}", out.dump());
    out.stderr_has("MESH_VAR_n");
    // Numbers given as text for a number variable convert.
    assert_eq!(outputs(&spec, &["-var", "n=7"], &[])["n"], 8);
}

#[test]
fn an_invalid_value_for_a_required_variable_is_not_called_missing() {
    let spec = Spec::with_main(
        r#"
variable "n" {
  type = number
}
output "n" {
  value = var.n
}
"#,
    );
    let out = spec.fails(&["plan", "-var", "n=abc"]);
    out.stderr_has("abc")
        .lacks("No value for required variable")
        .lacks("no value was given");
}

#[test]
fn undeclared_variables_are_reported() {
    let spec = spec();
    let out = spec.fails(&["plan", "-var", "nn=3"]);
    out.stderr_has("undeclared variable").stderr_has("\"nn\"");
    let out = spec.fails(&["plan", "-var", "novalue"]);
    out.stderr_has("NAME=VALUE");
    spec.fails(&["plan", "-var-file", "missing.vars"])
        .stderr_has("missing.vars");
    // In a var file, an undeclared name is not an error.
    spec.write("extra.json", r#"{"zzz": 1}"#);
    spec.ok(&["plan", "-var-file", "extra.json"]);
}

#[test]
fn an_undeclared_variable_in_a_var_file_is_a_warning() {
    let spec = spec();
    spec.write("extra.json", r#"{"zzz": 1}"#);
    spec.ok(&["plan", "-var-file", "extra.json"])
        .stderr_has("Value for undeclared variable")
        .stderr_has("zzz");
}

#[test]
fn a_syntax_error_in_a_var_file_points_at_it() {
    let spec = spec();
    spec.write("broken.vars", "a = \"x\"\nn = = 3\n");
    let out = spec.fails(&["plan", "-var-file", "broken.vars"]);
    assert_points_at(&out, "broken.vars", 2);
    spec.write("broken.json", "{\"a\": \n");
    let out = spec.fails(&["plan", "-var-file", "broken.json"]);
    out.stderr_has("broken.json");
}

#[test]
fn an_untyped_variable_takes_a_bare_word_as_a_string() {
    let spec = Spec::with_main(
        r#"
variable "v" {}
variable "list" {
  default = []
}
output "v" {
  value = var.v
}
output "list" {
  value = var.list
}
"#,
    );
    let out = spec.apply(&["-var", "v=b"]);
    out.lacks("Variables not allowed");
    let json = spec.ok(&["output", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["v"]["value"], "b");
    // Literal expressions still evaluate; anything else is the text as written.
    spec.apply(&["-var", "v=hello world", "-var", "list=[1, \"x\"]"]);
    let json = spec.ok(&["output", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["v"]["value"], "hello world");
    assert_eq!(doc["list"]["value"], serde_json::json!([1, "x"]));
    let out = spec.run_env(&["apply", "-auto-approve"], &[("MESH_VAR_v", "from.env")]);
    assert_eq!(out.code, 0, "{}", out.dump());
    spec.ok(&["output", "v"]).stdout_has("from.env");
}

#[test]
fn a_bare_word_for_a_number_or_bool_is_a_type_error() {
    let spec = Spec::with_main(
        r#"
variable "n" {
  type    = number
  default = 1
}
variable "flag" {
  type    = bool
  default = false
}
output "n" {
  value = var.n
}
"#,
    );
    let out = spec.fails(&["plan", "-var", "n=abc"]);
    out.stderr_has("a number is required, got the string \"abc\"")
        .stderr_has("var.n")
        .lacks("Variables not allowed");
    let out = spec.fails(&["plan", "-var", "flag=maybe"]);
    out.stderr_has("var.flag")
        .stderr_has("bool")
        .lacks("Variables not allowed");
    let out = spec.run_env(&["plan"], &[("MESH_VAR_n", "abc")]);
    assert_ne!(out.code, 0, "{}", out.dump());
    out.stderr_has("a number is required, got the string \"abc\"")
        .stderr_has("MESH_VAR_n")
        .lacks("Variables not allowed");
}
