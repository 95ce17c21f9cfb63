//! The machine-readable plan (see [`render_plan_json`](super::render_plan_json) for the schema).

use serde_json::{json, Map, Value as Json};

use super::marked_pair;
use crate::config::ResourceMode;
use crate::plan::{Action, DriftKind, OutputChange, Plan, PlanMode, ResourceChange, ResourceDrift};
use crate::value::{PathStep, Value};

/// The version of the JSON plan document: the major part changes on incompatible changes.
pub const JSON_FORMAT_VERSION: &str = "1.0";

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
    let doc = json!({
        "format_version": JSON_FORMAT_VERSION,
        "mesh_version": plan.mesh_version,
        "mode": match plan.mode {
            PlanMode::Normal => "normal",
            PlanMode::Destroy => "destroy",
        },
        "prior_state": {
            "lineage": plan.prior_state.lineage,
            "serial": plan.prior_state.serial,
        },
        "resource_changes": changes.into_iter().map(resource_change).collect::<Vec<_>>(),
        "output_changes": outputs,
        "summary": {
            "add": summary.add,
            "change": summary.change,
            "destroy": summary.destroy,
        },
    });
    if plan.drift.is_empty() {
        return doc;
    }
    // `resource_drift` goes right before `resource_changes`, as in Terraform's document.
    let mut drift: Vec<&ResourceDrift> = plan.drift.iter().collect();
    drift.sort_by(|x, y| x.address.cmp(&y.address));
    let drift = Json::Array(drift.into_iter().map(resource_drift).collect());
    let Json::Object(fields) = doc else {
        return doc;
    };
    let mut out = Map::new();
    let mut drift = Some(drift);
    for (k, v) in fields {
        if k == "resource_changes" {
            if let Some(d) = drift.take() {
                out.insert("resource_drift".into(), d);
            }
        }
        out.insert(k, v);
    }
    Json::Object(out)
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
