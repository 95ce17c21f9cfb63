//! Reports of drift that the spec's drift rules ignore: counted, never shown as diffs.

use super::*;
use crate::plan::{DriftKind, IgnoredDrift, ResourceDrift};

fn ignored(address: &str, kind: DriftKind, attributes: &[&[&str]], rule: usize) -> IgnoredDrift {
    IgnoredDrift {
        address: address.into(),
        resource_type: "test_thing".into(),
        kind,
        attributes: attributes
            .iter()
            .map(|p| p.iter().map(|k| key(k)).collect())
            .collect(),
        rule,
        reason: (rule == 0).then(|| "the cluster autoscaler owns node counts".to_string()),
        rule_location: format!("main.hcl:{}", 10 + rule),
    }
}

/// Two rules: the first ignored node counts on two pools, the second a scratch object's
/// deletion and one attribute of another object.
fn with_ignored(mut p: Plan) -> Plan {
    p.ignored_drift = vec![
        ignored(
            "module.net.test_thing.pool[\"a\"]",
            DriftKind::Changed,
            &[&["node_count"]],
            0,
        ),
        ignored("test_thing.edited", DriftKind::Changed, &[&["tags"]], 1),
        ignored(
            "test_thing.pool",
            DriftKind::Changed,
            &[&["node_count"], &["size"]],
            0,
        ),
        ignored("test_thing.scratch", DriftKind::Deleted, &[], 1),
    ];
    p
}

fn reported_drift() -> ResourceDrift {
    ResourceDrift {
        address: "test_thing.edited".into(),
        resource_type: "test_thing".into(),
        provider: "test".into(),
        kind: DriftKind::Changed,
        before: mv(&obj(&[("name", s("a")), ("size", n(1.0))])),
        after: mv(&obj(&[("name", s("a")), ("size", n(2.0))])),
    }
}

const AUTOSCALER: &str = "3 drifted attributes on 2 resources ignored by drift rules (the \
                          cluster autoscaler owns node counts)";
const SCRATCH: &str = "1 drifted attribute on 1 resource and 1 resource deleted outside mesh \
                       ignored by drift rules (rule at main.hcl:11)";

#[test]
fn one_sentence_per_rule_in_rule_order() {
    assert_eq!(
        ignored_drift_sentences(&with_ignored(plan(Vec::new(), BTreeMap::new()))),
        vec![AUTOSCALER.to_string(), SCRATCH.to_string()]
    );
    assert!(ignored_drift_sentences(&plan(Vec::new(), BTreeMap::new())).is_empty());
}

#[test]
fn ignored_drift_alone_is_a_count_before_no_changes() {
    let text = render_plan_human(
        &with_ignored(plan(Vec::new(), BTreeMap::new())),
        ColorChoice::Never,
    );
    insta::assert_snapshot!(text);
    assert!(!text.contains("node_count"), "{text}");
    assert!(!text.contains("changed outside of mesh"), "{text}");
}

#[test]
fn ignored_drift_follows_the_reported_drift() {
    let mut p = with_ignored(plan(Vec::new(), BTreeMap::new()));
    p.drift = vec![reported_drift()];
    let text = render_plan_human(&p, ColorChoice::Never);
    let entry = text.find("# test_thing.edited has changed").expect("entry");
    let count = text.find(AUTOSCALER).expect("count");
    let closing = text.find("No changes to apply.").expect("closing");
    assert!(entry < count && count < closing, "{text}");
    assert!(
        text.contains(&format!("{AUTOSCALER}.\n{SCRATCH}.\n\n")),
        "{text}"
    );
}

#[test]
fn ignored_drift_comes_before_the_proposed_changes() {
    let restore = change(
        "test_thing.pool",
        Action::Update,
        obj(&[("node_count", n(5.0))]),
        obj(&[("node_count", n(3.0))]),
    );
    let text = render_plan_human(
        &with_ignored(plan(vec![restore], BTreeMap::new())),
        ColorChoice::Never,
    );
    let count = text.find(AUTOSCALER).expect("count");
    let actions = text.find("mesh will perform").expect("actions");
    assert!(count < actions, "{text}");
    // The rule changes the report only: the plan still puts the configured count back.
    assert!(text.contains("~ node_count = 5 -> 3"), "{text}");
}

#[test]
fn json_lists_ignored_drift_before_resource_changes() {
    let doc = render_plan_json(&with_ignored(plan(Vec::new(), BTreeMap::new())));
    assert_eq!(doc["format_version"], "1.1");
    let keys: Vec<&String> = doc.as_object().expect("object").keys().collect();
    let at = |k: &str| keys.iter().position(|x| *x == k).expect(k);
    assert_eq!(at("ignored_drift") + 1, at("resource_changes"));
    assert!(doc.get("resource_drift").is_none());
    let items = doc["ignored_drift"].as_array().expect("array");
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[0],
        serde_json::json!({
            "address": "module.net.test_thing.pool[\"a\"]",
            "module_address": "module.net",
            "mode": "managed",
            "type": "test_thing",
            "name": "pool",
            "index": "a",
            "actions": ["update"],
            "attributes": [["node_count"]],
            "rule": 0,
            "reason": "the cluster autoscaler owns node counts",
            "rule_location": "main.hcl:10",
        })
    );
    assert_eq!(items[3]["actions"], serde_json::json!(["delete"]));
    assert_eq!(items[3]["attributes"], serde_json::json!([]));
    assert!(items[3]["reason"].is_null());

    let mut both = with_ignored(plan(Vec::new(), BTreeMap::new()));
    both.drift = vec![reported_drift()];
    let doc = render_plan_json(&both);
    let keys: Vec<&String> = doc.as_object().expect("object").keys().collect();
    let at = |k: &str| keys.iter().position(|x| *x == k).expect(k);
    assert!(at("resource_drift") + 1 == at("ignored_drift"));
    assert!(render_plan_json(&plan(Vec::new(), BTreeMap::new()))
        .get("ignored_drift")
        .is_none());
}

#[test]
fn markdown_counts_ignored_drift_in_the_verdict_and_the_drift_section() {
    let mut p = with_ignored(plan(Vec::new(), BTreeMap::new()));
    p.ignored_drift[0].reason = Some("<b>autoscaler</b> & co".into());
    let text = render_plan_markdown(&p);
    assert!(
        text.starts_with(
            "<!-- mesh-plan -->\n**mesh plan: no changes** · no drift · drift ignored on 4 \
             objects\n\n### Drift\n\n- 3 drifted attributes on 2 resources ignored by drift \
             rules (&lt;b&gt;autoscaler&lt;/b&gt; &amp; co)\n- 1 drifted attribute"
        ),
        "{text}"
    );
    assert!(!text.contains("<details>"), "{text}");

    p.drift = vec![reported_drift()];
    let text = render_plan_markdown(&p);
    let details = text.find("<details>").expect("reported drift");
    let count = text.find("- 3 drifted attributes").expect("count");
    assert!(details < count, "{text}");
    assert!(
        text.contains("· drift on 1 object · drift ignored on 4 objects"),
        "{text}"
    );
}
