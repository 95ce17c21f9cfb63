//! `plan -out FILE`, `apply FILE`, stale plans and `show FILE`.

use crate::harness::{apply_line, plan_line, Spec};

const SPEC: &str = r#"
variable "v" {
  type    = string
  default = "one"
}
resource "mesh_data" "a" {
  input = var.v
}
resource "mesh_data" "b" {
  input = mesh_data.a.id
}
resource "mesh_data" "other" {
  input = "o"
}
"#;

#[test]
fn apply_of_a_saved_plan_executes_exactly_it() {
    let spec = Spec::with_main(SPEC);
    let plan = spec.ok(&[
        "plan",
        "-out",
        "p.json",
        "-var",
        "v=two",
        "-target",
        "mesh_data.a",
    ]);
    plan.stdout_has("Saved the plan to: p.json")
        .stdout_has("mesh apply p.json")
        .stdout_has(&plan_line(1, 0, 0));
    assert!(spec.exists("p.json"));
    assert!(spec.addresses().is_empty(), "saving a plan applies nothing");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(spec.join("p.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "plan files may hold secrets: owner-only");
    }

    // No -var, no -target, no --auto-approve: the plan carries all of it.
    let out = spec.ok(&["apply", "p.json"]);
    out.stdout_has(&apply_line(1, 0, 0));
    assert_eq!(spec.addresses(), ["mesh_data.a"]);
    assert_eq!(spec.attr("mesh_data.a", "input"), "two");

    // Applying it a second time is refused: the state moved on.
    spec.fails(&["apply", "p.json"]).stderr_has("stale");
    assert_eq!(spec.addresses(), ["mesh_data.a"]);
}

#[test]
fn a_plan_made_stale_by_another_apply_is_refused() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    spec.ok(&["plan", "-out", "p.json", "-var", "v=two"]);
    // Someone else applies in between.
    spec.apply(&["-var", "v=three"]);
    let before = spec.state_bytes();

    let out = spec.fails(&["apply", "p.json"]);
    out.stderr_has("stale").stderr_has("mesh plan");
    assert_eq!(spec.state_bytes(), before, "a refused plan changes nothing");
    assert_eq!(spec.attr("mesh_data.a", "input"), "three");
    assert!(!spec.locked());
}

#[test]
fn a_plan_saved_before_the_first_apply_is_stale_after_it() {
    let spec = Spec::with_main(SPEC);
    spec.ok(&["plan", "-out", "p.json"]);
    spec.apply(&[]);
    spec.fails(&["apply", "p.json"]).stderr_has("stale");
    assert_eq!(spec.addresses().len(), 3);
}

#[test]
fn a_plan_whose_spec_was_edited_is_refused() {
    let spec = Spec::with_main(SPEC);
    spec.ok(&["plan", "-out", "p.json"]);
    spec.write("main.hcl", &SPEC.replace("\"o\"", "\"changed\""));
    let out = spec.fails(&["apply", "p.json"]);
    out.stderr_has("stale").stderr_has("spec files changed");
    assert!(spec.addresses().is_empty());
    assert!(spec.store().is_empty());
}

#[test]
fn a_plan_is_refused_when_a_new_spec_file_appears() {
    let spec = Spec::with_main(SPEC);
    spec.ok(&["plan", "-out", "p.json"]);
    spec.write("extra.hcl", "resource \"mesh_data\" \"extra\" {\n}\n");
    spec.fails(&["apply", "p.json"]).stderr_has("stale");
    assert!(spec.addresses().is_empty());
}

#[test]
fn show_renders_a_saved_plan() {
    let spec = Spec::with_main(SPEC);
    let plan = spec.ok(&["plan", "-out", "p.json"]);

    let human = spec.ok(&["show", "p.json"]);
    human
        .stdout_has("# mesh_data.a will be created")
        .stdout_has("# mesh_data.other will be created")
        .stdout_has(&plan_line(3, 0, 0));
    // The same rendering as the plan itself (minus the "saved" note).
    assert!(
        plan.stdout.starts_with(&human.stdout),
        "{}\n---\n{}",
        plan.stdout,
        human.stdout
    );

    let json = spec.ok(&["show", "--format", "json", "p.json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("show json");
    assert_eq!(doc["summary"]["add"], 3);
    let addresses: Vec<&str> = doc["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["mesh_data.a", "mesh_data.b", "mesh_data.other"]);
    assert_eq!(doc["resource_changes"][0]["change"]["actions"][0], "create");

    // The JSON of `show` is the JSON of `plan --format json`.
    let plan_json = spec.ok(&["plan", "--format", "json"]);
    let from_plan: serde_json::Value = serde_json::from_str(&plan_json.stdout).unwrap();
    assert_eq!(from_plan, doc);
}

#[test]
fn not_a_plan_file_is_an_error() {
    let spec = Spec::with_main(SPEC);
    spec.write("p.json", "{\"hello\": 1}");
    spec.fails(&["apply", "p.json"])
        .stderr_has("not a mesh plan file");
    spec.fails(&["show", "missing.json"])
        .stderr_has("missing.json");
    assert!(spec.addresses().is_empty());
    assert!(!spec.locked());
}

#[test]
fn a_saved_destroy_plan_destroys() {
    let spec = Spec::with_main(SPEC);
    spec.apply(&[]);
    spec.ok(&["plan", "-destroy", "-out", "d.json"])
        .stdout_has(&plan_line(0, 0, 3));
    assert_eq!(spec.addresses().len(), 3, "planning destroys nothing");
    spec.ok(&["show", "d.json"])
        .stdout_has("# mesh_data.a will be destroyed");
    spec.ok(&["apply", "d.json"])
        .stdout_has("Destroy complete! Resources: 3 destroyed.");
    assert!(spec.addresses().is_empty());
}

#[test]
fn planning_flags_with_a_saved_plan_are_refused() {
    let spec = Spec::with_main(SPEC);
    spec.ok(&["plan", "-out", "p.json"]);
    spec.write("extra.vars", "v = \"three\"\n");
    for (args, flag, fixed) in [
        (&["-var", "v=two"][..], "-var", "the variable values"),
        (
            &["-var-file", "extra.vars"][..],
            "-var-file",
            "the variable values",
        ),
        (
            &["-target", "mesh_data.a"][..],
            "-target",
            "which resources it changes",
        ),
        (
            &["-replace", "mesh_data.a"][..],
            "-replace",
            "which resources it replaces",
        ),
    ] {
        let mut all = vec!["apply", "p.json"];
        all.extend_from_slice(args);
        let out = spec.fails(&all);
        assert_eq!(out.code, 1, "{}", out.dump());
        out.stderr_has(&format!("{flag} cannot be used with a saved plan"))
            .stderr_has(&format!("the plan already fixes {fixed}"));
        assert!(spec.addresses().is_empty(), "nothing applied: {args:?}");
        assert!(!spec.locked());
    }
    let out = spec.fails(&["apply", "-var", "v=two", "-target=mesh_data.a", "p.json"]);
    out.stderr_has("-var and -target cannot be used with a saved plan");
    // The plan itself is still good.
    spec.ok(&["apply", "p.json"])
        .stdout_has(&apply_line(3, 0, 0));
}
