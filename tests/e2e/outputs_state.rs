//! `mesh state list|show|mv|rm`, `mesh output` and `mesh show`.

use crate::harness::{plan_line, Spec};

const SPEC: &str = r#"
resource "mesh_data" "a" {
  input = "alpha"
}
resource "test_resource" "t" {
  name  = "t"
  value = 42
}
resource "mesh_data" "c" {
  count = 2
  input = count.index
}
output "a_output" {
  value = mesh_data.a.output
}
output "number" {
  value = 42
}
output "obj" {
  value = { name = test_resource.t.name, list = [1, 2] }
}
"#;

#[test]
fn state_list_and_show() {
    let spec = Spec::with_main(SPEC);
    // No state yet: empty, not an error.
    let empty = spec.ok(&["state", "list"]);
    assert_eq!(empty.stdout.trim(), "");

    spec.apply(&[]);
    let list = spec.ok(&["state", "list"]);
    assert_eq!(
        list.lines(),
        [
            "mesh_data.a",
            "mesh_data.c[0]",
            "mesh_data.c[1]",
            "test_resource.t"
        ]
    );
    let filtered = spec.ok(&["state", "list", "mesh_data.c"]);
    assert_eq!(filtered.lines(), ["mesh_data.c[0]", "mesh_data.c[1]"]);

    let id = spec.attr("test_resource.t", "id");
    let show = spec.ok(&["state", "show", "test_resource.t"]);
    show.stdout_has("# test_resource.t:")
        .stdout_has("resource \"test_resource\" \"t\"")
        .stdout_has(&format!("id              = \"{id}\""))
        .stdout_has("value           = 42");

    spec.fails(&["state", "show", "mesh_data.zz"])
        .stderr_has("mesh_data.zz");
}

#[test]
fn state_mv_then_renamed_config_plans_no_changes() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    let id = spec.attr("mesh_data.a", "id");
    let serial = spec.state().unwrap()["serial"].as_u64().unwrap();

    spec.ok(&["state", "mv", "mesh_data.a", "mesh_data.renamed"])
        .stdout_has("Successfully moved 1 object(s).");
    assert_eq!(spec.attr("mesh_data.renamed", "id"), id);
    assert!(spec.attrs("mesh_data.a").is_none());
    assert!(spec.state().unwrap()["serial"].as_u64().unwrap() > serial);
    assert!(spec.exists(".mesh/state.json.backup"));

    spec.write(
        "main.hcl",
        &SPEC
            .replace("\"mesh_data\" \"a\"", "\"mesh_data\" \"renamed\"")
            .replace("mesh_data.a.output", "mesh_data.renamed.output"),
    );
    spec.ok(&["plan"]).stdout_has("No changes.");

    // Moving onto an existing address is refused.
    spec.fails(&["state", "mv", "mesh_data.renamed", "test_resource.t"])
        .stderr_has("already exists");
    spec.fails(&["state", "mv", "mesh_data.nope", "mesh_data.x"])
        .stderr_has("mesh_data.nope");
}

#[test]
fn state_mv_of_a_whole_counted_resource() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    spec.ok(&["state", "mv", "mesh_data.c", "mesh_data.d"])
        .stdout_has("Successfully moved 2 object(s).");
    assert!(spec.attrs("mesh_data.d[1]").is_some());
    spec.write(
        "main.hcl",
        &SPEC.replace("\"mesh_data\" \"c\"", "\"mesh_data\" \"d\""),
    );
    spec.ok(&["plan"]).stdout_has("No changes.");
}

#[test]
fn state_rm_forgets_and_plan_creates_again() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    let id = spec.attr("test_resource.t", "id");
    spec.ok(&["state", "rm", "test_resource.t"])
        .stdout_has("Removed test_resource.t")
        .stdout_has("Successfully removed 1 resource instance(s).");
    assert!(spec.attrs("test_resource.t").is_none());
    assert!(
        spec.store().contains_key(&id),
        "state rm does not destroy the object"
    );
    spec.ok(&["plan"])
        .stdout_has("# test_resource.t will be created")
        .stdout_has(&plan_line(1, 0, 0));

    spec.fails(&["state", "rm", "test_resource.t"])
        .stderr_has("test_resource.t");
    assert!(!spec.locked());
}

#[test]
fn output_by_name_json_and_raw() {
    let spec = Spec::with_main(SPEC);
    spec.ok(&["output"]).stderr_has("no outputs");
    spec.apply(&[]);

    let all = spec.ok(&["output"]);
    all.stdout_has("a_output = \"alpha\"")
        .stdout_has("number = 42");
    spec.ok(&["output", "a_output"]).stdout_has("\"alpha\"");
    assert_eq!(spec.ok(&["output", "--raw", "a_output"]).stdout, "alpha\n");
    assert_eq!(spec.ok(&["output", "--raw", "number"]).stdout, "42\n");
    spec.fails(&["output", "--raw", "obj"]).stderr_has("--json");

    let obj = spec.ok(&["output", "--json", "obj"]);
    let obj: serde_json::Value = serde_json::from_str(&obj.stdout).unwrap();
    assert_eq!(obj, serde_json::json!({ "name": "t", "list": [1, 2] }));

    let all = spec.ok(&["output", "--json"]);
    let all: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(all["number"]["value"], 42);
    assert_eq!(all["a_output"]["sensitive"], false);

    spec.fails(&["output", "a_outptu"])
        .stderr_has("a_outptu")
        .stderr_has("a_output");
}

#[test]
fn show_prints_the_state() {
    let spec = Spec::with_main(SPEC);
    spec.ok(&["show"]).stdout_has("No state.");
    spec.apply(&[]);
    let show = spec.ok(&["show"]);
    show.stdout_has("# mesh_data.a:")
        .stdout_has("# test_resource.t:")
        .stdout_has("a_output = \"alpha\"");
    let json = spec.ok(&["show", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["resources"].as_array().unwrap().len(), 4);
    assert_eq!(doc["outputs"]["number"]["value"], 42);
}

#[test]
fn a_removed_output_disappears_from_state() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    spec.write(
        "main.hcl",
        &SPEC.replace("output \"number\" {\n  value = 42\n}\n", ""),
    );
    spec.ok(&["plan"]).stdout_has("- number = 42");
    spec.apply(&[]);
    let all = spec.ok(&["output", "--json"]);
    let all: serde_json::Value = serde_json::from_str(&all.stdout).unwrap();
    assert!(all.get("number").is_none(), "{all}");
    spec.fails(&["output", "number"]);
}

#[test]
fn state_show_names_the_block_without_key_or_module() {
    let spec = Spec::with_main(
        r#"
resource "mesh_data" "n" {
  for_each = toset(["k"])
  input    = each.key
}
resource "mesh_data" "c" {
  count = 1
  input = "c"
}
data "test_echo" "e" {
  value = "echo"
}
module "m" {
  source = "./m"
}
"#,
    );
    spec.write(
        "m/main.hcl",
        "resource \"mesh_data\" \"inner\" {\n  input = \"i\"\n}\n",
    );
    spec.apply(&[]);
    for (address, header) in [
        (r#"mesh_data.n["k"]"#, r#"resource "mesh_data" "n" {"#),
        ("mesh_data.c[0]", r#"resource "mesh_data" "c" {"#),
        ("data.test_echo.e", r#"data "test_echo" "e" {"#),
        (
            "module.m.mesh_data.inner",
            r#"resource "mesh_data" "inner" {"#,
        ),
    ] {
        let out = spec.ok(&["state", "show", address]);
        assert_eq!(
            out.lines()[..2],
            [format!("# {address}:").as_str(), header],
            "{}",
            out.dump()
        );
    }
}
