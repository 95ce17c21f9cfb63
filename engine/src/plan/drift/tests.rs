use super::*;
use crate::config::{AddressPattern, AttributePattern};
use crate::diagnostics::SourceLocation;

fn s(v: &str) -> Value {
    Value::string(v)
}

fn obj(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn key(k: &str) -> PathStep {
    PathStep::Key(k.into())
}

fn rule(resources: Option<&[&str]>, attributes: Option<&[&str]>, reason: &str) -> DriftIgnoreRule {
    DriftIgnoreRule {
        resources: resources.map(|r| {
            r.iter()
                .map(|p| AddressPattern::parse(p).expect("pattern"))
                .collect()
        }),
        attributes: attributes.map(|a| {
            a.iter()
                .map(|p| AttributePattern::parse(p).expect("path"))
                .collect()
        }),
        reason: (!reason.is_empty()).then(|| reason.to_string()),
        location: SourceLocation {
            file: "main.hcl".into(),
            line: 3,
            column: 3,
            snippet: String::new(),
        },
    }
}

fn changed(address: &str, before: Value, after: Value) -> ResourceDrift {
    ResourceDrift {
        address: address.into(),
        resource_type: "test_resource".into(),
        provider: "test".into(),
        kind: DriftKind::Changed,
        before: MarkedValue::from_value(&before),
        after: MarkedValue::from_value(&after),
    }
}

fn deleted(address: &str) -> ResourceDrift {
    ResourceDrift {
        address: address.into(),
        resource_type: "test_resource".into(),
        provider: "test".into(),
        kind: DriftKind::Deleted,
        before: MarkedValue::from_value(&obj(&[("name", s("x"))])),
        after: MarkedValue::null(),
    }
}

fn pool(count: f64, tags: Value) -> Value {
    obj(&[
        ("name", s("pool")),
        ("node_count", Value::Number(count)),
        ("tags", tags),
    ])
}

#[test]
fn a_wholly_ignored_change_leaves_the_report() {
    let rules = [rule(None, Some(&["node_count"]), "the autoscaler owns it")];
    let drift = vec![changed(
        "test_resource.pool",
        pool(3.0, Value::Null),
        pool(5.0, Value::Null),
    )];
    let (reported, ignored) = split_drift(&rules, drift);
    assert!(reported.is_empty(), "{reported:?}");
    assert_eq!(
        ignored,
        vec![IgnoredDrift {
            address: "test_resource.pool".into(),
            resource_type: "test_resource".into(),
            kind: DriftKind::Changed,
            attributes: vec![vec![key("node_count")]],
            rule: 0,
            reason: Some("the autoscaler owns it".into()),
            rule_location: "main.hcl:3".into(),
        }]
    );
}

#[test]
fn the_rest_of_a_partly_ignored_change_is_still_reported() {
    let rules = [rule(None, Some(&["node_count"]), "")];
    let before = pool(3.0, obj(&[("team", s("a"))]));
    let after = pool(5.0, obj(&[("team", s("b"))]));
    let (reported, ignored) =
        split_drift(&rules, vec![changed("test_resource.pool", before, after)]);
    assert_eq!(reported.len(), 1);
    let after = reported[0].after.to_value();
    assert_eq!(after.get("node_count"), Some(&Value::Number(3.0)));
    assert_eq!(after.get_at(&[key("tags"), key("team")]), Some(&s("b")));
    assert_eq!(
        changed_paths(&reported[0].before.to_value(), &after),
        vec![vec![key("tags"), key("team")]]
    );
    assert_eq!(ignored.len(), 1);
    assert_eq!(ignored[0].reason, None);
}

#[test]
fn a_rule_for_other_resources_ignores_nothing() {
    let rules = [rule(
        Some(&["test_resource.other"]),
        Some(&["node_count"]),
        "",
    )];
    let drift = vec![changed(
        "test_resource.pool",
        pool(3.0, Value::Null),
        pool(5.0, Value::Null),
    )];
    let (reported, ignored) = split_drift(&rules, drift.clone());
    assert_eq!(reported, drift);
    assert!(ignored.is_empty());
}

#[test]
fn nested_changes_count_once_per_named_attribute() {
    let rules = [rule(None, Some(&["tags"]), "")];
    let before = pool(3.0, obj(&[("a", s("1")), ("b", s("2"))]));
    let after = pool(3.0, obj(&[("a", s("9")), ("c", s("3"))]));
    let (reported, ignored) =
        split_drift(&rules, vec![changed("test_resource.pool", before, after)]);
    assert!(reported.is_empty());
    assert_eq!(ignored[0].attributes, vec![vec![key("tags")]]);
}

#[test]
fn a_deletion_is_ignored_only_by_a_rule_about_whole_objects() {
    let by_attribute = [rule(Some(&["test_resource.*"]), Some(&["node_count"]), "")];
    let (reported, ignored) = split_drift(&by_attribute, vec![deleted("test_resource.pool")]);
    assert_eq!(reported.len(), 1);
    assert!(ignored.is_empty());

    let whole = [rule(Some(&["test_resource.*"]), None, "scratch objects")];
    let (reported, ignored) = split_drift(&whole, vec![deleted("test_resource.pool[1]")]);
    assert!(reported.is_empty());
    assert_eq!(ignored[0].kind, DriftKind::Deleted);
    assert!(ignored[0].attributes.is_empty());
}

#[test]
fn a_rule_about_whole_objects_names_top_level_attributes() {
    let rules = [rule(Some(&["test_resource.pool"]), None, "")];
    let before = pool(3.0, obj(&[("a", s("1"))]));
    let after = pool(4.0, obj(&[("a", s("2"))]));
    let (reported, ignored) =
        split_drift(&rules, vec![changed("test_resource.pool", before, after)]);
    assert!(reported.is_empty());
    assert_eq!(
        ignored[0].attributes,
        vec![vec![key("node_count")], vec![key("tags")]]
    );
}

#[test]
fn each_change_goes_to_the_first_rule_that_covers_it() {
    let rules = [
        rule(None, Some(&["node_count"]), "autoscaler"),
        rule(Some(&["test_resource.pool"]), None, "everything else"),
    ];
    let before = pool(3.0, obj(&[("a", s("1"))]));
    let after = pool(4.0, obj(&[("a", s("2"))]));
    let (reported, ignored) =
        split_drift(&rules, vec![changed("test_resource.pool", before, after)]);
    assert!(reported.is_empty());
    assert_eq!(ignored.len(), 2);
    assert_eq!(
        (ignored[0].rule, &ignored[0].attributes),
        (0, &vec![vec![key("node_count")]])
    );
    assert_eq!(
        (ignored[1].rule, &ignored[1].attributes),
        (1, &vec![vec![key("tags")]])
    );
    let summary = summarize_ignored(&ignored);
    assert_eq!(summary.len(), 2);
    assert_eq!((summary[0].attributes, summary[0].changed), (1, 1));
}

#[test]
fn a_key_added_or_removed_outside_is_restored_in_the_report() {
    let rules = [rule(None, Some(&["tags[\"managed-by\"]"]), "")];
    let before = pool(3.0, obj(&[("team", s("a")), ("old", s("x"))]));
    let after = pool(3.0, obj(&[("team", s("a")), ("managed-by", s("ctl"))]));
    let (reported, ignored) = split_drift(
        &rules,
        vec![changed("test_resource.pool", before.clone(), after)],
    );
    assert_eq!(reported.len(), 1, "the removed key is still reported");
    assert_eq!(
        changed_paths(&before, &reported[0].after.to_value()),
        vec![vec![key("tags"), key("old")]]
    );
    assert_eq!(
        ignored[0].attributes,
        vec![vec![key("tags"), key("managed-by")]]
    );
}

#[test]
fn counts_per_rule_add_up_over_resources() {
    let rules = [rule(None, Some(&["node_count", "tags"]), "autoscaler")];
    let drift = vec![
        changed(
            "test_resource.a",
            pool(1.0, Value::Null),
            pool(2.0, obj(&[("x", s("1"))])),
        ),
        changed(
            "test_resource.b",
            pool(1.0, Value::Null),
            pool(3.0, Value::Null),
        ),
    ];
    let (_, ignored) = split_drift(&rules, drift);
    let summary = summarize_ignored(&ignored);
    assert_eq!(
        summary,
        vec![IgnoredDriftSummary {
            rule: 0,
            reason: Some("autoscaler".into()),
            rule_location: "main.hcl:3".into(),
            attributes: 3,
            changed: 2,
            deleted: 0,
        }]
    );
}

#[test]
fn changed_paths_stop_at_sensitive_values_and_reshaped_values() {
    let before = obj(&[
        ("secret", obj(&[("k", s("old"))]).into_sensitive()),
        ("list", Value::List(vec![s("a")])),
        ("same", s("x")),
        ("empty", Value::Null),
    ]);
    let after = obj(&[
        ("secret", obj(&[("k", s("new"))]).into_sensitive()),
        ("list", Value::List(vec![s("a"), s("b")])),
        ("same", s("x")),
        ("empty", obj(&[])),
    ]);
    assert_eq!(
        changed_paths(&before, &after),
        vec![vec![key("empty")], vec![key("list")], vec![key("secret")]]
    );
}

#[test]
fn deposed_objects_match_by_their_instance_address() {
    let rules = [rule(Some(&["test_resource.pool"]), None, "")];
    let (reported, ignored) = split_drift(
        &rules,
        vec![deleted("test_resource.pool (deposed object 1a2b3c4d)")],
    );
    assert!(reported.is_empty());
    assert_eq!(ignored.len(), 1);
}
