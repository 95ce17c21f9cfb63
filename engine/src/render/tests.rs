//! Snapshot tests over a hand-built plan covering every action, marks and outputs.

use std::collections::BTreeMap;

use super::*;
use crate::config::ResourceMode;
use crate::plan::MarkedValue;
use crate::plan::{Action, OutputChange, PlanMode, ResourceChange, StateRef};
use crate::value::PathStep;

/// Every secret in [`fixture`]; none may appear in any rendering.
const SECRETS: &[&str] = &[
    "hunter2-secret",
    "s3cr3t-old",
    "s3cr3t-new",
    "nested-secret",
    "old-legacy-secret",
    "new-legacy-secret",
    "deleted-secret",
    "pw-secret-1",
    "pw-secret-2",
    "list-secret",
];

fn s(v: &str) -> Value {
    Value::string(v)
}

fn n(v: f64) -> Value {
    Value::Number(v)
}

fn obj(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn list(items: &[Value]) -> Value {
    Value::List(items.to_vec())
}

fn key(k: &str) -> PathStep {
    PathStep::Key(k.into())
}

fn mv(v: &Value) -> MarkedValue {
    MarkedValue::from_value(v)
}

fn change(address: &str, action: Action, before: Value, after: Value) -> ResourceChange {
    let (module, rest) = match address.strip_prefix("module.net.") {
        Some(rest) => ("module.net.".to_string(), rest),
        None => (String::new(), address),
    };
    let (mode, rest) = match rest.strip_prefix("data.") {
        Some(r) => (ResourceMode::Data, r),
        None => (ResourceMode::Managed, rest),
    };
    let (resource_type, name) = rest.split_once('.').expect("type.name");
    ResourceChange {
        address: address.into(),
        module,
        mode,
        resource_type: resource_type.into(),
        name: name.split('[').next().unwrap_or(name).into(),
        provider: "mesh".into(),
        action,
        reason: None,
        before: mv(&before),
        after: mv(&after),
        replace_paths: Vec::new(),
        dependencies: Vec::new(),
        prior_dependencies: Vec::new(),
        create_before_destroy: false,
    }
}

fn output(before: Value, after: Value, sensitive: bool, removed: bool) -> OutputChange {
    OutputChange {
        before: mv(&before),
        after: mv(&after),
        sensitive,
        removed,
    }
}

fn plan(changes: Vec<ResourceChange>, outputs: BTreeMap<String, OutputChange>) -> Plan {
    Plan {
        format_version: crate::plan::PLAN_FORMAT_VERSION,
        mesh_version: "0.1.0".into(),
        mode: PlanMode::Normal,
        prior_state: StateRef {
            lineage: Some("lin-1".into()),
            serial: 7,
        },
        config_digest: "digest".into(),
        variables: BTreeMap::new(),
        changes,
        outputs,
        targets: Vec::new(),
        warnings: Vec::new(),
        drift: Vec::new(),
        ignored_drift: Vec::new(),
    }
}

fn fixture() -> Plan {
    let created = change(
        "mesh_data.created",
        Action::Create,
        Value::Null,
        obj(&[
            ("name", s("web")),
            ("size", n(3.0)),
            ("ratio", n(0.5)),
            ("enabled", Value::Bool(true)),
            ("id", Value::Unknown),
            ("nothing", Value::Null),
            ("tags", obj(&[("env", s("prod")), ("team name", s("core"))])),
            ("ports", list(&[n(80.0), n(443.0)])),
            ("password", s("hunter2-secret").into_sensitive()),
            ("quote", s("say \"hi\"\tnow")),
        ]),
    );
    let old_script = "#!/bin/sh\nset -e\necho hello\nexit 0\n";
    let new_script = "#!/bin/sh\nset -e\necho world\necho again\nexit 0\n";
    let mut updated = change(
        "mesh_data.updated",
        Action::Update,
        obj(&[
            ("id", s("u-1")),
            ("name", s("api")),
            ("script", s(old_script)),
            ("count", n(2.0)),
            (
                "tags",
                obj(&[("a", s("1")), ("b", s("2")), ("gone", s("x"))]),
            ),
            ("items", list(&[s("x"), s("y"), s("w")])),
            (
                "rules",
                list(&[obj(&[("port", n(80.0)), ("proto", s("tcp"))])]),
            ),
            ("token", s("s3cr3t-old").into_sensitive()),
            (
                "config",
                obj(&[
                    ("host", s("h1")),
                    ("password", s("nested-secret").into_sensitive()),
                ]),
            ),
            ("legacy", s("old-legacy-secret").into_sensitive()),
            ("keys", list(&[s("k1"), s("list-secret").into_sensitive()])),
            ("arn", s("arn:1")),
        ]),
        obj(&[
            ("id", s("u-1")),
            ("name", s("api")),
            ("script", s(new_script)),
            ("count", n(3.0)),
            ("tags", obj(&[("a", s("1")), ("b", s("3")), ("c", s("4"))])),
            ("items", list(&[s("x"), s("z"), s("w")])),
            (
                "rules",
                list(&[obj(&[("port", n(8080.0)), ("proto", s("tcp"))])]),
            ),
            ("token", s("s3cr3t-new").into_sensitive()),
            (
                "config",
                obj(&[("host", s("h2")), ("password", s("nested-secret"))]),
            ),
            ("legacy", s("new-legacy-secret")),
            ("keys", list(&[s("k1"), s("list-secret")])),
            ("arn", Value::Unknown),
        ]),
    );
    // The after side forgot the marks: the before side's sensitive paths must still hide it.
    updated.after.sensitive.clear();
    let mut replaced = change(
        "mesh_data.replaced",
        Action::DeleteThenCreate,
        obj(&[("id", s("r-1")), ("zone", s("eu")), ("size", n(1.0))]),
        obj(&[("id", Value::Unknown), ("zone", s("us")), ("size", n(1.0))]),
    );
    replaced.replace_paths = vec![vec![key("zone")]];
    replaced.reason = Some("requested with -replace".into());
    let mut cbd = change(
        "mesh_data.cbd",
        Action::CreateThenDelete,
        obj(&[("labels", obj(&[("tier", s("web"))]))]),
        obj(&[("labels", obj(&[("tier", s("app"))]))]),
    );
    cbd.replace_paths = vec![vec![key("labels"), key("tier")]];
    let mut deleted = change(
        "mesh_data.deleted",
        Action::Delete,
        obj(&[
            ("id", s("d-1")),
            ("nested", obj(&[("k", list(&[s("a"), s("b")]))])),
            ("api_key", s("deleted-secret").into_sensitive()),
            ("notes", s("line one\nline two")),
        ]),
        Value::Null,
    );
    deleted.reason = Some("mesh_data.deleted is not in configuration".into());
    let mut read = change(
        "data.mesh_lookup.gw",
        Action::Read,
        Value::Null,
        obj(&[("address", Value::Unknown), ("name", s("gw"))]),
    );
    read.reason = Some("config refers to values not yet known".into());
    let same = obj(&[("id", s("same"))]);
    let noop = change("mesh_data.same", Action::NoOp, same.clone(), same);
    let module = change(
        "module.net.mesh_data.subnet[0]",
        Action::Create,
        Value::Null,
        obj(&[("cidr", s("10.0.0.0/24"))]),
    );
    let outputs = BTreeMap::from([
        (
            "endpoint".into(),
            output(Value::Null, s("https://x"), false, false),
        ),
        ("count".into(), output(n(2.0), n(3.0), false, false)),
        ("old".into(), output(s("bye"), Value::Null, false, true)),
        (
            "db_password".into(),
            output(s("pw-secret-1"), s("pw-secret-2"), true, false),
        ),
        (
            "ids".into(),
            output(Value::Null, Value::Unknown, false, false),
        ),
        (
            "map".into(),
            output(Value::Null, obj(&[("a", n(1.0))]), false, false),
        ),
        ("unchanged".into(), output(s("u"), s("u"), false, false)),
    ]);
    plan(
        vec![created, updated, replaced, cbd, deleted, read, noop, module],
        outputs,
    )
}

fn assert_no_secrets(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "secret {secret:?} leaked:\n{text}");
    }
}

#[test]
fn human_plan() {
    let text = render_plan_human(&fixture(), ColorChoice::Never);
    assert_no_secrets(&text);
    assert!(!text.contains('\x1b'), "escape codes without color");
    insta::assert_snapshot!(text);
}

#[test]
fn human_plan_colored() {
    let text = render_plan_human(&fixture(), ColorChoice::Always);
    assert_no_secrets(&text);
    assert!(text.contains("\x1b[32m+\x1b[0m"), "green +");
    assert!(text.contains("\x1b[33m~\x1b[0m"), "yellow ~");
    assert!(text.contains("\x1b[31m-\x1b[0m"), "red -");
    assert!(text.contains("\x1b[36m<=\x1b[0m"), "cyan <=");
}

#[test]
fn json_plan() {
    let json = render_plan_json(&fixture());
    assert_no_secrets(&json.to_string());
    insta::assert_json_snapshot!(json);
}

#[test]
fn no_changes() {
    let same = obj(&[("id", s("same"))]);
    let noop = change("mesh_data.same", Action::NoOp, same.clone(), same);
    let outputs = BTreeMap::from([("u".into(), output(s("u"), s("u"), false, false))]);
    let p = plan(vec![noop], outputs);
    let text = render_plan_human(&p, ColorChoice::Never);
    assert!(text.starts_with("No changes. Your infrastructure matches the configuration."));
    insta::assert_snapshot!(text);
    let mut destroy = plan(Vec::new(), BTreeMap::new());
    destroy.mode = PlanMode::Destroy;
    let text = render_plan_human(&destroy, ColorChoice::Never);
    assert!(
        text.starts_with("No changes. No objects need to be destroyed."),
        "{text}"
    );
}

#[test]
fn outputs_only() {
    let outputs = BTreeMap::from([("o".into(), output(Value::Null, s("v"), false, false))]);
    let text = render_plan_human(&plan(Vec::new(), outputs), ColorChoice::Never);
    insta::assert_snapshot!(text);
}

#[test]
fn values() {
    let v = obj(&[
        ("name", s("web")),
        ("port number", n(8080.0)),
        ("empty", list(&[])),
        (
            "nested",
            obj(&[("list", list(&[n(1.0), n(2.5)])), ("nothing", Value::Null)]),
        ),
        ("pw", s("hunter2-secret").into_sensitive()),
        ("text", s("a\nb\n")),
        ("later", Value::Unknown),
    ]);
    let hidden = render_value(&v, false);
    assert_no_secrets(&hidden);
    insta::assert_snapshot!(hidden);
    assert!(render_value(&v, true).contains("pw            = \"hunter2-secret\""));
    assert_eq!(
        render_value(&s("x").into_sensitive(), false),
        "(sensitive value)"
    );
    assert_eq!(render_value(&s("x").into_sensitive(), true), "\"x\"");
    assert_eq!(render_value(&n(3.0), false), "3");
    assert_eq!(render_value(&Value::Map(BTreeMap::new()), false), "{}");
}

#[test]
fn new_sensitive_values_are_additions() {
    // A new sensitive attribute on an existing object, and a new sensitive output: nothing was
    // there before, so they are `+` / "create", and the null before side is not sensitive.
    let mut updated = change(
        "mesh_data.u",
        Action::Update,
        obj(&[("id", s("u-1")), ("token", Value::Null)]),
        obj(&[
            ("id", s("u-1")),
            ("token", s("hunter2-secret").into_sensitive()),
            ("key", s("s3cr3t-new").into_sensitive()),
        ]),
    );
    updated.before.sensitive.push(vec![key("old")]);
    let mut new_output = output(Value::Null, s("pw-secret-1").into_sensitive(), true, false);
    new_output.before.sensitive.push(Vec::new());
    let outputs = BTreeMap::from([
        ("pw".to_string(), new_output),
        (
            "undeclared".to_string(),
            output(Value::Null, s("pw-secret-2").into_sensitive(), false, false),
        ),
    ]);
    let p = plan(vec![updated], outputs);

    let text = render_plan_human(&p, ColorChoice::Never);
    assert_no_secrets(&text);
    for line in [
        "+ token = (sensitive value)",
        "+ key   = (sensitive value)",
        "+ pw         = (sensitive value)",
        "+ undeclared = (sensitive value)",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    assert!(!text.contains("~ token"), "{text}");
    assert!(!text.contains("~ pw"), "{text}");

    let json = render_plan_json(&p);
    assert_no_secrets(&json.to_string());
    for name in ["pw", "undeclared"] {
        let oc = &json["output_changes"][name];
        assert_eq!(oc["actions"], serde_json::json!(["create"]), "{name}: {oc}");
        assert_eq!(oc["before_sensitive"], false, "{name}: {oc}");
        assert_eq!(oc["after_sensitive"], true, "{name}: {oc}");
    }
    let change = &json["resource_changes"][0]["change"];
    assert_eq!(
        change["before_sensitive"],
        serde_json::json!({}),
        "{change}"
    );
    assert_eq!(
        change["after_sensitive"],
        serde_json::json!({ "token": true, "key": true }),
        "{change}"
    );
}

fn drift_plan(changes: Vec<ResourceChange>) -> Plan {
    use crate::plan::{DriftKind, ResourceDrift};
    let mut p = plan(changes, BTreeMap::new());
    p.drift = vec![
        ResourceDrift {
            address: "test_thing.gone".into(),
            resource_type: "test_thing".into(),
            provider: "test".into(),
            kind: DriftKind::Deleted,
            before: mv(&obj(&[("name", s("gone")), ("id", s("g-1"))])),
            after: MarkedValue::null(),
        },
        ResourceDrift {
            address: "module.net.test_thing.edited[0]".into(),
            resource_type: "test_thing".into(),
            provider: "test".into(),
            kind: DriftKind::Changed,
            before: mv(&obj(&[
                ("name", s("a")),
                ("size", n(1.0)),
                ("password", s("s3cr3t-old").into_sensitive()),
            ])),
            after: mv(&obj(&[
                ("name", s("a")),
                ("size", n(2.0)),
                ("password", s("s3cr3t-new").into_sensitive()),
            ])),
        },
    ];
    p
}

#[test]
fn drift_section_comes_before_the_changes() {
    let created = change(
        "test_thing.gone",
        Action::Create,
        Value::Null,
        obj(&[("name", s("gone")), ("id", Value::Unknown)]),
    );
    let out = render_plan_human(&drift_plan(vec![created]), ColorChoice::Never);
    let note = out
        .find("Note: Objects have changed outside of mesh")
        .expect("drift note");
    let actions = out.find("mesh will perform").expect("actions");
    assert!(note < actions, "{out}");
    assert!(out.contains("  # module.net.test_thing.edited[0] has changed\n  ~ resource \"test_thing\" \"edited\" {\n      ~ password = (sensitive value)\n      ~ size     = 1 -> 2\n"), "{out}");
    assert!(out.contains("  # test_thing.gone has been deleted\n  - resource \"test_thing\" \"gone\" {\n      - id   = \"g-1\" -> null\n"), "{out}");
    assert!(!out.contains("s3cr3t"), "{out}");
}

#[test]
fn drift_without_changes_is_not_no_changes() {
    let out = render_plan_human(&drift_plan(Vec::new()), ColorChoice::Never);
    assert!(out.contains("has changed"), "{out}");
    assert!(!out.contains("No changes. "), "{out}");
    assert!(out.contains("No changes to apply."), "{out}");
    assert!(out.contains("mesh apply --refresh-only"), "{out}");
}

#[test]
fn json_drift_is_redacted_and_before_resource_changes() {
    let doc = render_plan_json(&drift_plan(Vec::new()));
    let keys: Vec<&String> = doc.as_object().expect("object").keys().collect();
    let at = |k: &str| keys.iter().position(|x| *x == k).expect(k);
    assert!(at("resource_drift") + 1 == at("resource_changes"));
    let drift = doc["resource_drift"].as_array().expect("array");
    assert_eq!(drift[0]["address"], "module.net.test_thing.edited[0]");
    assert_eq!(drift[0]["module_address"], "module.net");
    assert_eq!(drift[0]["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(drift[0]["change"]["after"]["size"], 2.0);
    assert!(drift[0]["change"]["after"]["password"].is_null());
    assert_eq!(drift[0]["change"]["after_sensitive"]["password"], true);
    assert_eq!(drift[1]["change"]["actions"], serde_json::json!(["delete"]));
    assert!(drift[1]["change"]["after"].is_null());
    assert!(!doc.to_string().contains("s3cr3t"));
    assert!(render_plan_json(&plan(Vec::new(), BTreeMap::new()))
        .get("resource_drift")
        .is_none());
}

mod ignored_drift;
