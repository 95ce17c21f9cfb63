//! Snapshots of the human and JSON plan of a small deterministic spec. Only creations, so
//! every generated id is "(known after apply)"; the mesh version is redacted.

use crate::harness::Spec;

const SPEC: &str = r#"
variable "env" {
  type    = string
  default = "prod"
}

variable "token" {
  type      = string
  sensitive = true
  default   = "not-in-snapshots"
}

resource "mesh_data" "config" {
  input = {
    env     = var.env
    regions = ["westeurope", "northeurope"]
  }
}

resource "test_resource" "cluster" {
  count       = 2
  name        = "${var.env}-cluster-${count.index}"
  value       = mesh_data.config.output.regions[count.index]
  replace_key = "v1"
  secret      = var.token
}

resource "mesh_data" "summary" {
  input = test_resource.cluster[*].id
}

data "test_echo" "greeting" {
  value = "hello ${var.env}"
}

output "greeting" {
  value = data.test_echo.greeting.result
}

output "first_cluster" {
  value = test_resource.cluster[0].id
}
"#;

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn human_plan() {
    let spec = Spec::with_main(SPEC);
    let out = spec.ok(&["plan"]);
    assert!(!out.stdout.contains("not-in-snapshots"));
    assert!(!out.stdout.contains(&spec.path().display().to_string()));
    settings().bind(|| insta::assert_snapshot!("human_plan", out.stdout));
}

#[test]
fn json_plan() {
    let spec = Spec::with_main(SPEC);
    let out = spec.ok(&["plan", "--format", "json"]);
    assert!(!out.stdout.contains("not-in-snapshots"));
    assert!(!out.stdout.contains(&spec.path().display().to_string()));
    let mut doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("plan JSON");
    assert_eq!(doc["mesh_version"], env!("CARGO_PKG_VERSION"));
    doc["mesh_version"] = serde_json::json!("[version]");
    settings().bind(|| insta::assert_json_snapshot!("json_plan", doc));
}

#[test]
fn human_destroy_plan() {
    let spec =
        Spec::with_main("resource \"mesh_data\" \"a\" {\n  input = { k = \"v\", n = 1 }\n}\n");
    spec.apply(&[]);
    let id = spec.attr("mesh_data.a", "id");
    let out = spec.ok(&["plan", "-destroy"]);
    let text = out.stdout.replace(&id, "[id]");
    settings().bind(|| insta::assert_snapshot!("human_destroy_plan", text));
}
