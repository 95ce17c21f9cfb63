//! The machine-readable plan (see [`render_plan_json`](super::render_plan_json) for the schema).

use serde_json::{json, Map, Value as Json};

use super::marked_pair;
use crate::config::ResourceMode;
use crate::plan::{
    Action, DriftKind, IgnoredDrift, OutputChange, Plan, PlanMode, ResourceChange, ResourceDrift,
};
use crate::value::{PathStep, Value};

/// The version of the JSON plan document: the major part changes on incompatible changes.
pub const JSON_FORMAT_VERSION: &str = "1.1";

/// The whole JSON plan.
pub(super) fn render(plan: &Plan) -> Json {
    let mut changes: Vec<&ResourceChange> = plan.changes.iter().collect();
    changes.sort_by(|x, y| x.address.cmp(&y.address));
    let outputs: Map<String, Json> = plan
        .outputs
        .iter()
        .map(|(name, oc)| (name.clone(), output_change(oc)))
        .collect();
    let summary = plan.summary();
    let mut doc = Map::new();
    doc.insert("format_version".into(), json!(JSON_FORMAT_VERSION));
    doc.insert("mesh_version".into(), json!(plan.mesh_version));
    let mode = match plan.mode {
        PlanMode::Normal => "normal",
        PlanMode::Destroy => "destroy",
    };
    doc.insert("mode".into(), json!(mode));
    doc.insert(
        "prior_state".into(),
        json!({
            "lineage": plan.prior_state.lineage,
            "serial": plan.prior_state.serial,
        }),
    );
    // `resource_drift` goes right before `resource_changes`, as in Terraform's document.
    if !plan.drift.is_empty() {
        let mut drift: Vec<&ResourceDrift> = plan.drift.iter().collect();
        drift.sort_by(|x, y| x.address.cmp(&y.address));
        let drift = drift.into_iter().map(resource_drift).collect();
        doc.insert("resource_drift".into(), Json::Array(drift));
    }
    if !plan.ignored_drift.is_empty() {
        let ignored = plan.ignored_drift.iter().map(ignored_drift).collect();
        doc.insert("ignored_drift".into(), Json::Array(ignored));
    }
    doc.insert(
        "resource_changes".into(),
        changes.into_iter().map(resource_change).collect(),
    );
    doc.insert("output_changes".into(), Json::Object(outputs));
    doc.insert(
        "summary".into(),
        json!({
            "add": summary.add,
            "change": summary.change,
            "destroy": summary.destroy,
        }),
    );
    Json::Object(doc)
}

/// What a drift rule ignored on one instance: where, which attributes, which rule.
fn ignored_drift(d: &IgnoredDrift) -> Json {
    let mut obj = Map::new();
    obj.insert("address".into(), json!(d.address));
    insert_address_parts(&mut obj, &d.address, &d.resource_type);
    let action = match d.kind {
        DriftKind::Changed => Action::Update,
        DriftKind::Deleted => Action::Delete,
    };
    obj.insert("actions".into(), actions(action));
    let attributes: Vec<Json> = d.attributes.iter().map(|p| path_json(p)).collect();
    obj.insert("attributes".into(), Json::Array(attributes));
    obj.insert("rule".into(), json!(d.rule));
    obj.insert("reason".into(), json!(d.reason));
    obj.insert("rule_location".into(), json!(d.rule_location));
    Json::Object(obj)
}

/// `module_address` (absent at the root), `mode`, `type`, `name` and `index` (absent when not
/// repeated) of a managed instance address.
fn insert_address_parts(obj: &mut Map<String, Json>, address: &str, resource_type: &str) {
    let Some(parsed) = crate::address::InstanceAddress::parse(address) else {
        obj.insert("mode".into(), json!("managed"));
        obj.insert("type".into(), json!(resource_type));
        return;
    };
    let module = parsed.resource.module.to_string();
    if !module.is_empty() {
        obj.insert("module_address".into(), json!(module));
    }
    obj.insert("mode".into(), json!("managed"));
    obj.insert("type".into(), json!(resource_type));
    obj.insert("name".into(), json!(parsed.resource.name));
    match parsed.key {
        crate::address::InstanceKey::None => {}
        crate::address::InstanceKey::Index(i) => {
            obj.insert("index".into(), json!(i));
        }
        crate::address::InstanceKey::Key(k) => {
            obj.insert("index".into(), json!(k));
        }
    }
}

/// One object changed or deleted outside mesh, shaped like a resource change.
fn resource_drift(d: &ResourceDrift) -> Json {
    let (before, after) = marked_pair(&d.before, &d.after);
    let (action, after) = match d.kind {
        DriftKind::Changed => (Action::Update, after),
        DriftKind::Deleted => (Action::Delete, Value::Null),
    };
    let mut obj = Map::new();
    obj.insert("address".into(), json!(d.address));
    if let Some(parsed) = crate::address::InstanceAddress::parse(&d.address) {
        let module = parsed.resource.module.to_string();
        let module = module.trim_end_matches('.');
        if !module.is_empty() {
            obj.insert("module_address".into(), json!(module));
        }
        obj.insert("mode".into(), json!("managed"));
        obj.insert("type".into(), json!(d.resource_type));
        obj.insert("name".into(), json!(parsed.resource.name));
    } else {
        obj.insert("mode".into(), json!("managed"));
        obj.insert("type".into(), json!(d.resource_type));
    }
    obj.insert("provider".into(), json!(d.provider));
    obj.insert(
        "change".into(),
        json!({
            "actions": actions(action),
            "before": redact(&before),
            "after": redact(&after),
            "after_unknown": unknown_as_bool(&after),
            "before_sensitive": sensitive_as_bool(&before),
            "after_sensitive": sensitive_as_bool(&after),
        }),
    );
    Json::Object(obj)
}

fn actions(action: Action) -> Json {
    let list: &[&str] = match action {
        Action::NoOp => &["no-op"],
        Action::Create => &["create"],
        Action::Read => &["read"],
        Action::Update => &["update"],
        Action::DeleteThenCreate => &["delete", "create"],
        Action::CreateThenDelete => &["create", "delete"],
        Action::Delete => &["delete"],
    };
    json!(list)
}

fn resource_change(rc: &ResourceChange) -> Json {
    let (before, after) = marked_pair(&rc.before, &rc.after);
    let mut obj = Map::new();
    obj.insert("address".into(), json!(rc.address));
    let module = rc.module.trim_end_matches('.');
    if !module.is_empty() {
        obj.insert("module_address".into(), json!(module));
    }
    let mode = match rc.mode {
        ResourceMode::Managed => "managed",
        ResourceMode::Data => "data",
    };
    obj.insert("mode".into(), json!(mode));
    obj.insert("type".into(), json!(rc.resource_type));
    obj.insert("name".into(), json!(rc.name));
    if let Some(index) = instance_index(rc) {
        obj.insert("index".into(), index);
    }
    obj.insert("provider".into(), json!(rc.provider));
    let replace_paths: Vec<Json> = rc.replace_paths.iter().map(|p| path_json(p)).collect();
    obj.insert(
        "change".into(),
        json!({
            "actions": actions(rc.action),
            "before": redact(&before),
            "after": redact(&after),
            "after_unknown": unknown_as_bool(&after),
            "before_sensitive": sensitive_as_bool(&before),
            "after_sensitive": sensitive_as_bool(&after),
            "replace_paths": replace_paths,
        }),
    );
    if let Some(reason) = &rc.reason {
        obj.insert("action_reason".into(), json!(reason));
    }
    Json::Object(obj)
}

/// The `count` index or `for_each` key at the end of the address, if any.
fn instance_index(rc: &ResourceChange) -> Option<Json> {
    let rest = rc.address.strip_prefix(&rc.resource_address())?;
    let inner = rest.strip_prefix('[')?.strip_suffix(']')?;
    if let Ok(i) = inner.parse::<u64>() {
        return Some(json!(i));
    }
    serde_json::from_str::<String>(inner).ok().map(Json::String)
}

fn output_change(oc: &OutputChange) -> Json {
    let (mut before, mut after) = marked_pair(&oc.before, &oc.after);
    if oc.removed {
        after = Value::Null;
    }
    if oc.sensitive {
        for v in [&mut before, &mut after] {
            if !matches!(v, Value::Null) {
                *v = std::mem::replace(v, Value::Null).into_sensitive();
            }
        }
    }
    let action = if oc.removed {
        Action::Delete
    } else if before == after {
        Action::NoOp
    } else if matches!(before, Value::Null) {
        Action::Create
    } else if matches!(after, Value::Null) {
        Action::Delete
    } else {
        Action::Update
    };
    json!({
        "actions": actions(action),
        "before": redact(&before),
        "after": redact(&after),
        "after_unknown": unknown_as_bool(&after),
        "before_sensitive": sensitive_as_bool(&before),
        "after_sensitive": sensitive_as_bool(&after),
        "sensitive": oc.sensitive,
    })
}

fn path_json(path: &[PathStep]) -> Json {
    Json::Array(
        path.iter()
            .map(|step| match step {
                PathStep::Key(k) => json!(k),
                PathStep::Index(i) => json!(i),
            })
            .collect(),
    )
}

/// The value as JSON, with unknown and sensitive parts replaced by null.
fn redact(v: &Value) -> Json {
    match v {
        Value::Sensitive(_) | Value::Unknown => Json::Null,
        Value::List(items) => Json::Array(items.iter().map(redact).collect()),
        Value::Map(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), redact(v))).collect()),
        other => other.to_json(),
    }
}

/// Terraform's `after_unknown` shape: `true` where unknown; known leaves are `false` in lists and
/// left out of objects.
fn unknown_as_bool(v: &Value) -> Json {
    match v {
        Value::Unknown => Json::Bool(true),
        Value::Sensitive(inner) => unknown_as_bool(inner),
        Value::List(items) => Json::Array(items.iter().map(unknown_as_bool).collect()),
        Value::Map(map) => compact(map.iter().map(|(k, v)| (k, unknown_as_bool(v)))),
        _ => Json::Bool(false),
    }
}

/// The `*_sensitive` shape: `true` where sensitive, laid out like [`unknown_as_bool`].
fn sensitive_as_bool(v: &Value) -> Json {
    match v {
        Value::Sensitive(_) => Json::Bool(true),
        Value::List(items) => Json::Array(items.iter().map(sensitive_as_bool).collect()),
        Value::Map(map) => compact(map.iter().map(|(k, v)| (k, sensitive_as_bool(v)))),
        _ => Json::Bool(false),
    }
}

fn compact<'a>(entries: impl Iterator<Item = (&'a String, Json)>) -> Json {
    Json::Object(
        entries
            .filter(|(_, v)| *v != Json::Bool(false))
            .map(|(k, v)| (k.clone(), v))
            .collect(),
    )
}
