//! Drift rules (`drift { ignore { ... } }`): expected drift is counted instead of shown, does
//! not make `mesh drift` or `--detailed-exitcode` exit 2, and changes nothing that apply does.

use crate::harness::{apply_line, assert_points_at, plan_line, Spec};

/// A node pool whose `value` stands for an autoscaler-managed node count, and a plain object.
const POOL: &str = r#"
resource "test_resource" "pool" {
  name  = "pool"
  value = 3
}

resource "test_resource" "app" {
  name  = "app"
  value = "one"
}
"#;

const AUTOSCALER_RULE: &str = r#"
drift {
  ignore {
    resources  = ["test_resource.pool"]
    attributes = ["value"]
    reason     = "the cluster autoscaler owns node counts"
  }
}
"#;

const COUNTED: &str = "1 drifted attribute on 1 resource ignored by drift rules (the cluster \
                       autoscaler owns node counts)";

/// Apply `spec` and return it.
fn applied(main: &str, rules: &str) -> Spec {
    let spec = Spec::with_main(main);
    spec.write("drift.hcl", rules);
    spec.apply(&[]);
    spec
}

/// Change one attribute of the object behind `address`, as someone outside mesh would.
fn edit(spec: &Spec, address: &str, attr: &str, value: serde_json::Value) {
    let id = spec.attr(address, "id");
    let mut store = spec.store();
    store[&id][attr] = value;
    spec.set_store(&store);
}

#[test]
fn an_ignored_attribute_is_a_count_not_a_diff_and_not_drift() {
    let spec = applied(POOL, AUTOSCALER_RULE);
    edit(&spec, "test_resource.pool", "value", serde_json::json!(5));

    let drift = spec.run(&["drift"]);
    assert_eq!(drift.code, 0, "{}", drift.dump());
    drift
        .stdout_has(COUNTED)
        .stdout_has("No changes.")
        .lacks("has changed")
        .lacks("5");
    let refresh_only = spec.run(&["plan", "--refresh-only", "--detailed-exitcode"]);
    assert_eq!(refresh_only.code, 0, "{}", refresh_only.dump());
    refresh_only.stdout_has(COUNTED);

    // Only the report changes: the configuration still sets 3, so the plan puts it back.
    let plan = spec.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.dump());
    plan.stdout_has(COUNTED)
        .stdout_has("~ value = 5 -> 3")
        .stdout_has(&plan_line(0, 1, 0))
        .lacks("Objects have changed outside of mesh");
    assert!(plan.line_index(COUNTED) < plan.line_index("will be updated in place"));
}

#[test]
fn with_ignore_changes_the_plan_is_clean_too() {
    let main = POOL.replace(
        "  value = 3\n",
        "  value = 3\n  lifecycle {\n    ignore_changes = [value]\n  }\n",
    );
    let spec = applied(&main, AUTOSCALER_RULE);
    edit(&spec, "test_resource.pool", "value", serde_json::json!(7));

    let plan = spec.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.dump());
    plan.stdout_has(COUNTED)
        .stdout_has("No changes. Your infrastructure matches the configuration.");
    spec.apply(&[]).stdout_has(&apply_line(0, 0, 0));
    assert_eq!(
        spec.store()[&spec.attr("test_resource.pool", "id")]["value"],
        7
    );
}

#[test]
fn other_drift_is_still_reported_and_exits_2() {
    let spec = applied(POOL, AUTOSCALER_RULE);
    edit(&spec, "test_resource.pool", "value", serde_json::json!(5));
    edit(
        &spec,
        "test_resource.app",
        "value",
        serde_json::json!("two"),
    );

    let drift = spec.run(&["drift"]);
    assert_eq!(drift.code, 2, "{}", drift.dump());
    drift
        .stdout_has("# test_resource.app has changed")
        .stdout_has("~ value = \"one\" -> \"two\"")
        .stdout_has(COUNTED)
        .lacks("# test_resource.pool has changed");
    assert!(drift.line_index("test_resource.app has changed") < drift.line_index(COUNTED));
}

#[test]
fn a_rule_that_matches_nothing_leaves_the_drift_reported() {
    let rules = AUTOSCALER_RULE.replace("test_resource.pool", "test_resource.pools");
    let spec = applied(POOL, &rules);
    edit(&spec, "test_resource.pool", "value", serde_json::json!(5));

    let drift = spec.run(&["drift"]);
    assert_eq!(drift.code, 2, "{}", drift.dump());
    drift
        .stdout_has("# test_resource.pool has changed")
        .stdout_has("~ value = 3 -> 5")
        .lacks("ignored by drift rules");
    let plan = spec.run(&["plan", "--refresh-only", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.dump());
}

#[test]
fn only_the_named_part_of_a_nested_attribute_is_ignored() {
    let main = r#"
resource "test_resource" "deploy" {
  name  = "deploy"
  value = {
    replicas    = 2
    annotations = { "example.com/owner" = "team-a" }
  }
}
"#;
    let rules = r#"
drift {
  ignore {
    attributes = ["value.annotations"]
    reason     = "the controller stamps annotations"
  }
}
"#;
    let spec = applied(main, rules);
    edit(
        &spec,
        "test_resource.deploy",
        "value",
        serde_json::json!({
            "replicas": 4,
            "annotations": { "example.com/owner": "team-b", "example.com/seen": "yes" },
        }),
    );
    let drift = spec.run(&["drift"]);
    assert_eq!(drift.code, 2, "{}", drift.dump());
    drift
        .stdout_has("# test_resource.deploy has changed")
        .stdout_has("~ replicas")
        .stdout_has(
            "1 drifted attribute on 1 resource ignored by drift rules (the controller stamps \
             annotations)",
        )
        .lacks("team-b")
        .lacks("example.com/seen");
}

#[test]
fn a_deletion_is_ignored_only_by_a_rule_about_whole_objects() {
    let spec = applied(POOL, AUTOSCALER_RULE);
    let pool = spec.attr("test_resource.pool", "id");
    let mut store = spec.store();
    store.retain(|k, _| k != &pool);
    spec.set_store(&store);
    let drift = spec.run(&["drift"]);
    assert_eq!(drift.code, 2, "{}", drift.dump());
    drift.stdout_has("# test_resource.pool has been deleted");

    spec.write(
        "drift.hcl",
        "drift {\n  ignore {\n    resources = [\"test_resource.po*\"]\n  }\n}\n",
    );
    let drift = spec.run(&["drift"]);
    assert_eq!(drift.code, 0, "{}", drift.dump());
    drift
        .stdout_has("1 resource deleted outside mesh ignored by drift rules (rule at drift.hcl:2)")
        .lacks("has been deleted");
    // Apply still forgets the deleted object and creates it again.
    let plan = spec.ok(&["plan"]);
    plan.stdout_has("# test_resource.pool will be created")
        .stdout_has(&plan_line(1, 0, 0));
    spec.apply(&[]).stdout_has(&apply_line(1, 0, 0));
    assert_ne!(spec.attr("test_resource.pool", "id"), pool);
    let clean = spec.run(&["drift"]);
    assert_eq!(clean.code, 0, "{}", clean.dump());
    clean.lacks("ignored by drift rules");
}

#[test]
fn the_json_plan_lists_ignored_drift() {
    let spec = applied(POOL, AUTOSCALER_RULE);
    let before = spec.ok(&["plan", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&before.stdout).expect("json");
    assert!(doc.get("ignored_drift").is_none(), "{doc}");
    assert_eq!(doc["format_version"], "1.1");

    edit(&spec, "test_resource.pool", "value", serde_json::json!(5));
    let out = spec.run(&["drift", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert!(doc.get("resource_drift").is_none(), "{doc}");
    assert_eq!(
        doc["ignored_drift"],
        serde_json::json!([{
            "address": "test_resource.pool",
            "mode": "managed",
            "type": "test_resource",
            "name": "pool",
            "actions": ["update"],
            "attributes": [["value"]],
            "rule": 0,
            "reason": "the cluster autoscaler owns node counts",
            "rule_location": "drift.hcl:3",
        }])
    );
}

#[test]
fn the_markdown_plan_counts_ignored_drift() {
    let spec = applied(POOL, AUTOSCALER_RULE);
    edit(&spec, "test_resource.pool", "value", serde_json::json!(5));
    let out = spec.run(&["drift", "--format", "markdown"]);
    assert_eq!(out.code, 0, "{}", out.dump());
    let text = &out.stdout;
    assert!(
        text.starts_with(
            "<!-- mesh-plan -->\n**mesh plan: no changes** · no drift · drift ignored on 1 \
             object\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("### Drift\n\n- {COUNTED}\n")),
        "{text}"
    );
    assert!(!text.contains("<details>"), "{text}");
}

#[test]
fn a_saved_plan_keeps_its_ignored_drift() {
    let spec = applied(POOL, AUTOSCALER_RULE);
    edit(&spec, "test_resource.pool", "value", serde_json::json!(5));
    spec.ok(&["plan", "--refresh-only", "--out", "drift.plan"]);
    spec.ok(&["show", "drift.plan"]).stdout_has(COUNTED);
    let json = spec.ok(&["show", "--format", "json", "drift.plan"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(doc["ignored_drift"][0]["address"], "test_resource.pool");
    spec.ok(&["apply", "drift.plan"])
        .stdout_has(&apply_line(0, 0, 0));
}

#[test]
fn a_refresh_only_apply_asks_and_accepts_ignored_drift_too() {
    let spec = applied(POOL, AUTOSCALER_RULE);
    edit(&spec, "test_resource.pool", "value", serde_json::json!(5));
    // Ignored drift is still written into state only after the usual question.
    spec.fails(&["apply", "--refresh-only"])
        .stderr_has("needs confirmation");
    assert_eq!(
        spec.attrs("test_resource.pool").expect("in state")["value"],
        3
    );
    spec.ok(&["apply", "--refresh-only", "-auto-approve"])
        .stdout_has("Accepted 1 object changed outside of mesh into the state.");
    assert_eq!(
        spec.attrs("test_resource.pool").expect("in state")["value"],
        5
    );
}

#[test]
fn a_drift_block_in_a_child_module_is_an_error_naming_file_and_line() {
    let spec = Spec::with_main("module \"pools\" {\n  source = \"./modules/pools\"\n}\n");
    spec.write(
        "modules/pools/main.hcl",
        "resource \"test_resource\" \"pool\" {\n  name = \"pool\"\n}\n\ndrift {\n  ignore {\n    attributes = [\"value\"]\n  }\n}\n",
    );
    let out = spec.fails(&["plan"]);
    assert_eq!(out.code, 1, "{}", out.dump());
    out.stderr_has("Drift rules outside the root module")
        .stderr_has("module.pools.TYPE.NAME");
    assert_points_at(&out, "modules/pools/main.hcl", 5);
}

#[test]
fn bad_rules_are_reported_with_their_location() {
    let spec = Spec::with_main(POOL);
    spec.write(
        "drift.hcl",
        "drift {\n  ignore {\n    resources  = [\"test_resource.pool[x]\"]\n    attributes = [\"value..a\"]\n  }\n}\n",
    );
    let out = spec.fails(&["validate"]);
    assert_eq!(out.code, 1, "{}", out.dump());
    out.stderr_has("Invalid pattern in \"resources\"")
        .stderr_has("Invalid pattern in \"attributes\"");
    assert_points_at(&out, "drift.hcl", 3);
    assert_points_at(&out, "drift.hcl", 4);
}
