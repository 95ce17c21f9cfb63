//! Drift: changes made outside mesh, found by refresh, reported before the proposed changes,
//! accepted into state with `--refresh-only`, and signalled by exit codes.

use crate::harness::{apply_line, plan_line, Spec};

const TWO: &str = r#"
resource "test_resource" "a" {
  name   = "a"
  value  = "one"
  secret = "hunter2-original"
}

resource "test_resource" "b" {
  name = "b"
}
"#;

/// Apply [`TWO`] and return the spec with the store id of `test_resource.a`.
fn applied() -> (Spec, String) {
    let spec = Spec::with_main(TWO);
    spec.apply(&[]);
    let id = spec.attr("test_resource.a", "id");
    (spec, id)
}

fn edit(spec: &Spec, id: &str, attr: &str, value: serde_json::Value) {
    let mut store = spec.store();
    store[id][attr] = value;
    spec.set_store(&store);
}

#[test]
fn an_edited_attribute_is_reported_before_the_plan_and_exits_2() {
    let (spec, id) = applied();
    assert_eq!(spec.run(&["plan", "-detailed-exitcode"]).code, 0);
    edit(&spec, &id, "value", serde_json::json!("two"));

    let out = spec.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    out.stdout_has("Note: Objects have changed outside of mesh")
        .stdout_has("# test_resource.a has changed")
        .stdout_has("~ value = \"one\" -> \"two\"")
        .stdout_has("~ value = \"two\" -> \"one\"")
        .stdout_has("# test_resource.a will be updated in place")
        .stdout_has(&plan_line(0, 1, 0));
    assert!(out.line_index("has changed") < out.line_index("will be updated in place"));
    // Without --detailed-exitcode a plan with changes still exits 0.
    spec.ok(&["plan"]);
    // Without refresh, mesh trusts state: no drift, no changes.
    spec.ok(&["plan", "--refresh=false"])
        .stdout_has("No changes.")
        .lacks("changed outside");
}

#[test]
fn an_object_deleted_outside_is_reported_and_created_again() {
    let (spec, id) = applied();
    let mut store = spec.store();
    store.retain(|k, _| k != &id);
    spec.set_store(&store);

    let out = spec.run(&["plan", "-detailed-exitcode"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    out.stdout_has("# test_resource.a has been deleted")
        .stdout_has("- resource \"test_resource\" \"a\" {")
        .stdout_has("- name     = \"a\" -> null")
        .stdout_has("# test_resource.a will be created")
        .stdout_has(&plan_line(1, 0, 0))
        .lacks("hunter2");
    spec.apply(&[]).stdout_has(&apply_line(1, 0, 0));
    assert_eq!(spec.run(&["drift"]).code, 0);
}

#[test]
fn drift_then_refresh_only_apply_accepts_it() {
    let (spec, id) = applied();
    edit(&spec, &id, "value", serde_json::json!("two"));
    let b = spec.attr("test_resource.b", "id");
    let mut store = spec.store();
    store.retain(|k, _| k != &b);
    spec.set_store(&store);

    let drift = spec.run(&["drift"]);
    assert_eq!(drift.code, 2, "{}", drift.dump());
    drift
        .stdout_has("# test_resource.a has changed")
        .stdout_has("# test_resource.b has been deleted")
        .stdout_has("No changes to apply.")
        .stdout_has("mesh apply --refresh-only")
        .lacks("will be created")
        .lacks("Plan:");
    let plan = spec.run(&["plan", "--refresh-only", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.dump());
    plan.lacks("will be");

    spec.ok(&["apply", "--refresh-only", "-auto-approve"])
        .stdout_has(&apply_line(0, 0, 0))
        .stdout_has("Accepted 2 objects changed outside of mesh into the state.");
    assert_eq!(spec.attrs("test_resource.a").unwrap()["value"], "two");
    assert!(!spec.addresses().contains(&"test_resource.b".to_string()));
    // Nothing changed in the real objects.
    assert_eq!(spec.store()[&id]["value"], "two");
    assert_eq!(spec.store().len(), 1);

    let drift = spec.run(&["drift"]);
    assert_eq!(drift.code, 0, "{}", drift.dump());
    drift.stdout_has("No changes.");
    // The normal plan now puts the configuration back.
    spec.ok(&["plan"]).stdout_has(&plan_line(1, 1, 0));
}

#[test]
fn refresh_only_conflicts_with_no_refresh() {
    let (spec, _) = applied();
    spec.fails(&["plan", "--refresh-only", "--refresh=false"])
        .stderr_has("--refresh-only");
}

#[test]
fn json_plan_has_resource_drift() {
    let (spec, id) = applied();
    let before = spec.ok(&["plan", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&before.stdout).expect("json");
    assert!(doc.get("resource_drift").is_none(), "{doc}");

    edit(&spec, &id, "value", serde_json::json!("two"));
    let out = spec.ok(&["plan", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    let drift = doc["resource_drift"].as_array().expect("resource_drift");
    assert_eq!(drift.len(), 1, "{doc}");
    assert_eq!(drift[0]["address"], "test_resource.a");
    assert_eq!(drift[0]["type"], "test_resource");
    assert_eq!(drift[0]["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(drift[0]["change"]["before"]["value"], "one");
    assert_eq!(drift[0]["change"]["after"]["value"], "two");
    assert!(drift[0]["change"]["after"]["secret"].is_null());
    assert_eq!(drift[0]["change"]["after_sensitive"]["secret"], true);
    assert!(!out.stdout.contains("hunter2"));
}

#[test]
fn a_drifted_secret_is_shown_as_sensitive_only() {
    let (spec, id) = applied();
    edit(&spec, &id, "secret", serde_json::json!("hunter2-changed"));

    let out = spec.run(&["drift"]);
    assert_eq!(out.code, 2, "{}", out.dump());
    out.stdout_has("# test_resource.a has changed")
        .stdout_has("~ secret = (sensitive value)")
        .lacks("hunter2");
    let json = spec.run(&["drift", "--format", "json"]);
    assert_eq!(json.code, 2, "{}", json.dump());
    assert!(!json.stdout.contains("hunter2"), "{}", json.stdout);
    let plan = spec.ok(&["plan"]);
    plan.lacks("hunter2");
}

#[test]
fn the_markdown_plan_is_a_pull_request_comment_with_drift_and_no_secrets() {
    let (spec, id) = applied();
    edit(&spec, &id, "value", serde_json::json!("changed-outside"));
    spec.write(
        "extra.hcl",
        "resource \"mesh_data\" \"new\" {\n  input = \"x\"\n}\n",
    );
    let out = spec.ok(&["plan", "--format", "markdown"]);
    let text = &out.stdout;
    assert!(text.starts_with("<!-- mesh-plan -->\n"), "{text}");
    assert!(text.contains("1 to add"), "{text}");
    assert!(
        text.contains("### Drift") && text.contains("test_resource.a"),
        "{text}"
    );
    assert!(
        text.contains("<details>") && text.contains("mesh_data.new"),
        "{text}"
    );
    assert!(!text.contains("hunter2-original"), "{text}");
}
