//! Reading planned values the way the rules need them: known text, or unknown with (when the
//! symbolic configuration says so) the resource attribute it will come from.

use std::collections::BTreeMap;

use mesh_engine::provider::{has_placeholder, Deployment, DeploymentResource, UnknownOrigin};
use mesh_engine::value::Value;

/// A text attribute as a rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Text {
    /// Known now.
    Known(String),
    /// Known only after apply; from this attribute, when the configuration says.
    Unknown(Option<UnknownOrigin>),
    /// Not set (null or missing).
    Absent,
}

impl Text {
    /// The known text.
    pub fn known(&self) -> Option<&str> {
        match self {
            Text::Known(s) => Some(s),
            _ => None,
        }
    }

    /// True when the value will only be known after apply.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Text::Unknown(_))
    }
}

/// A text value: known, a placeholder (unknown, with its origin), or absent.
pub fn text_of(deployment: &Deployment, value: Option<&Value>) -> Text {
    let Some(value) = value.map(|v| v.unmark().0) else {
        return Text::Absent;
    };
    match value {
        Value::Null => Text::Absent,
        Value::Unknown => Text::Unknown(None),
        Value::String(s) if has_placeholder(s) => Text::Unknown(deployment.origin(value).cloned()),
        Value::String(s) => Text::Known(s.clone()),
        Value::Bool(b) => Text::Known(b.to_string()),
        Value::Number(n) => Text::Known(n.to_string()),
        _ => Text::Unknown(None),
    }
}

/// The attributes of a resource as far as they are known: the planned value, with each
/// unknown part replaced by what the symbolic configuration has there (placeholders naming
/// origins, or values the provider only normalizes).
pub fn effective(resource: &DeploymentResource) -> Value {
    overlay(&resource.planned, Some(&resource.config))
}

fn overlay(planned: &Value, config: Option<&Value>) -> Value {
    match planned {
        Value::Unknown => config.cloned().unwrap_or(Value::Unknown),
        Value::Sensitive(inner) => overlay(inner, config.map(|c| c.unmark().0)).into_sensitive(),
        Value::Map(map) => {
            let config = config.map(|c| c.unmark().0);
            Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), overlay(v, config.and_then(|c| c.get(k)))))
                    .collect(),
            )
        }
        Value::List(items) => {
            let config = config.and_then(|c| c.unmark().0.as_list());
            Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| overlay(v, config.and_then(|c| c.get(i))))
                    .collect(),
            )
        }
        other => other.clone(),
    }
}

/// Nested block values under `key`, whether the block is single or repeated.
pub fn blocks<'a>(value: &'a Value, key: &str) -> Vec<&'a Value> {
    match value.get(key).map(|v| v.unmark().0) {
        Some(Value::List(items)) => items.iter().map(|i| i.unmark().0).collect(),
        Some(m @ Value::Map(_)) => vec![m],
        _ => Vec::new(),
    }
}

/// A known string attribute (placeholders are not known).
pub fn known_string(value: &Value, key: &str) -> Option<String> {
    match value.get(key).map(|v| v.unmark().0) {
        Some(Value::String(s)) if !has_placeholder(s) => Some(s.clone()),
        _ => None,
    }
}

/// A known bool attribute.
pub fn known_bool(value: &Value, key: &str) -> Option<bool> {
    match value.get(key).map(|v| v.unmark().0) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// A map of strings from a JSON object (labels, selectors); non-strings are left out.
pub fn json_strings(json: Option<&serde_json::Value>) -> BTreeMap<String, String> {
    json.and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A string field of a JSON object.
pub fn json_str<'a>(json: &'a serde_json::Value, pointer: &str) -> Option<&'a str> {
    json.pointer(pointer).and_then(serde_json::Value::as_str)
}

/// `pki_root_ca.mesh`, or `pki_root_ca.mesh (cert_pem)` when the attribute matters.
pub fn describe_origin(origin: &UnknownOrigin) -> String {
    if origin.attribute.is_empty() {
        origin.address.clone()
    } else {
        format!("{}.{}", origin.address, origin.attribute)
    }
}
