//! count and for_each on resources: count.index, each.key / each.value, splats, growing and
//! shrinking.

use crate::harness::{apply_line, plan_line, Spec};

const SPEC: &str = r#"
variable "n" {
  type    = number
  default = 3
}
variable "envs" {
  type    = map(number)
  default = { dev = 1, prod = 2 }
}
resource "mesh_data" "c" {
  count = var.n
  input = "c-${count.index}"
}
resource "test_resource" "e" {
  for_each = var.envs
  name     = "e-${each.key}"
  value    = each.value * 10
}
resource "test_resource" "s" {
  for_each = toset(["x", "y"])
  name     = "s-${each.value}"
}
output "c_inputs" {
  value = mesh_data.c[*].input
}
output "e_names" {
  value = { for k, r in test_resource.e : k => r.name }
}
output "count" {
  value = length(mesh_data.c)
}
"#;

#[test]
fn count_and_for_each_expand_to_instances() {
    let spec = Spec::with_main(SPEC);
    let plan = spec.ok(&["plan"]);
    plan.stdout_has("# mesh_data.c[2] will be created")
        .stdout_has("+ input  = \"c-2\"")
        .stdout_has("# test_resource.e[\"prod\"] will be created")
        .stdout_has("+ value    = 20")
        .stdout_has("# test_resource.s[\"y\"] will be created")
        .stdout_has(&plan_line(7, 0, 0));
    let out = spec.apply(&[]);
    out.stdout_has(&apply_line(7, 0, 0));
    assert_eq!(
        spec.addresses(),
        [
            "mesh_data.c[0]",
            "mesh_data.c[1]",
            "mesh_data.c[2]",
            "test_resource.e[\"dev\"]",
            "test_resource.e[\"prod\"]",
            "test_resource.s[\"x\"]",
            "test_resource.s[\"y\"]",
        ]
    );
    assert_eq!(spec.attr("test_resource.e[\"dev\"]", "name"), "e-dev");
    assert_eq!(
        spec.attrs("test_resource.e[\"prod\"]").unwrap()["value"],
        20
    );
    assert_eq!(spec.attr("test_resource.s[\"x\"]", "name"), "s-x");

    let outputs = spec.ok(&["output", "--json"]);
    let outputs: serde_json::Value = serde_json::from_str(&outputs.stdout).unwrap();
    assert_eq!(
        outputs["c_inputs"]["value"],
        serde_json::json!(["c-0", "c-1", "c-2"])
    );
    assert_eq!(
        outputs["e_names"]["value"],
        serde_json::json!({ "dev": "e-dev", "prod": "e-prod" })
    );
    assert_eq!(outputs["count"]["value"], 3);
}

#[test]
fn shrinking_count_and_for_each_destroys_only_the_removed_instances() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    let c0 = spec.attr("mesh_data.c[0]", "id");
    let dev = spec.attr("test_resource.e[\"dev\"]", "id");

    let args = ["-var", "n=1", "-var", "envs={ dev = 1 }"];
    let mut plan_args = vec!["plan"];
    plan_args.extend_from_slice(&args);
    spec.ok(&plan_args)
        .stdout_has("# mesh_data.c[1] will be destroyed")
        .stdout_has("# mesh_data.c[2] will be destroyed")
        .stdout_has("# test_resource.e[\"prod\"] will be destroyed")
        .stdout_has(&plan_line(0, 0, 3));
    spec.apply(&args);
    assert_eq!(spec.attr("mesh_data.c[0]", "id"), c0);
    assert_eq!(spec.attr("test_resource.e[\"dev\"]", "id"), dev);
    assert!(spec.attrs("mesh_data.c[1]").is_none());
    assert!(spec.attrs("test_resource.e[\"prod\"]").is_none());
    assert_eq!(spec.store().len(), 3, "e.dev, s.x, s.y remain");

    // Growing again creates only the new ones.
    spec.ok(&["plan", "-var", "n=2", "-var", "envs={ dev = 1 }"])
        .stdout_has("# mesh_data.c[1] will be created")
        .stdout_has(&plan_line(1, 0, 0));
}

#[test]
fn count_zero_and_empty_for_each_plan_nothing() {
    let spec = Spec::with_main(SPEC);
    spec.ok(&["plan", "-var", "n=0", "-var", "envs={}"])
        .stdout_has(&plan_line(2, 0, 0))
        .lacks("mesh_data.c[");
}

#[test]
fn splat_of_known_values_feeds_a_resource() {
    let spec = Spec::with_main(
        r#"
resource "mesh_data" "c" {
  count = 2
  input = "c-${count.index}"
}
resource "mesh_data" "agg" {
  input = join(",", mesh_data.c[*].input)
}
"#,
    );
    spec.ok(&["plan"]).stdout_has("+ input  = \"c-0,c-1\"");
    spec.apply(&[]);
    assert_eq!(spec.attr("mesh_data.agg", "output"), "c-0,c-1");
}

#[test]
fn a_map_of_values_known_after_apply_feeds_a_resource() {
    let spec = Spec::with_main(
        r#"
resource "mesh_data" "c" {
  count = 2
}
resource "mesh_data" "agg" {
  input = { first = mesh_data.c[0].id, second = mesh_data.c[1].id }
}
"#,
    );
    spec.apply(&[]);
    let agg = spec.attrs("mesh_data.agg").unwrap();
    assert_eq!(agg["input"]["first"], spec.attr("mesh_data.c[0]", "id"));
    assert_eq!(agg["input"]["second"], spec.attr("mesh_data.c[1]", "id"));
}

#[test]
fn a_splat_of_ids_known_after_apply_feeds_a_resource() {
    let spec = Spec::with_main(
        r#"
resource "mesh_data" "c" {
  count = 2
}
resource "mesh_data" "agg" {
  input = mesh_data.c[*].id
}
resource "test_resource" "wrapped" {
  name  = "wrapped"
  value = [mesh_data.c[0].id]
}
"#,
    );
    spec.ok(&["plan"])
        .stdout_has("# mesh_data.agg will be created");
    let out = spec.run(&["apply", "-auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    let ids = vec![
        spec.attr("mesh_data.c[0]", "id"),
        spec.attr("mesh_data.c[1]", "id"),
    ];
    assert_eq!(
        spec.attrs("mesh_data.agg").unwrap()["input"],
        serde_json::json!(ids)
    );
    assert_eq!(
        spec.attrs("test_resource.wrapped").unwrap()["value"],
        serde_json::json!([ids[0]])
    );
}

#[test]
fn for_each_over_a_set_of_known_after_apply_values_is_refused() {
    let spec = Spec::with_main(
        r#"
resource "mesh_data" "x" {
}
resource "mesh_data" "a" {
  for_each = toset([mesh_data.x.id])
}
"#,
    );
    let out = spec.fails(&["plan"]);
    out.stderr_has("Invalid for_each argument")
        .stderr_has("known only after apply")
        .stderr_has("main.hcl line 5");
}
