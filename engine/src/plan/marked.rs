//! A [`Value`] in serialisable form: plain JSON plus the paths of its marks.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::value::{paths_of, MarkKind, PathStep, Value};

/// A value as stored in plans: JSON with unknown and sensitive paths beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MarkedValue {
    /// The value; unknowns are null here. Shared: a no-change plan's `after` is its `before`,
    /// and large plans keep one copy of it.
    pub value: Arc<serde_json::Value>,
    /// Paths that are unknown until apply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<Vec<PathStep>>,
    /// Paths that are sensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive: Vec<Vec<PathStep>>,
}

impl MarkedValue {
    /// Record a value with its marks.
    pub fn from_value(value: &Value) -> MarkedValue {
        MarkedValue {
            value: Arc::new(value.to_json()),
            unknown: paths_of(value, MarkKind::Unknown),
            sensitive: paths_of(value, MarkKind::Sensitive),
        }
    }

    /// Null.
    pub fn null() -> MarkedValue {
        MarkedValue::default()
    }

    /// Rebuild the value with its marks.
    pub fn to_value(&self) -> Value {
        let mut v = Value::from_json(&self.value);
        for path in &self.unknown {
            set_unknown(&mut v, path);
        }
        for path in &self.sensitive {
            v.mark_sensitive_at(path);
        }
        v
    }

    /// True when the value is null and unmarked.
    pub fn is_null(&self) -> bool {
        self.value.is_null() && self.unknown.is_empty()
    }
}

fn set_unknown(v: &mut Value, path: &[PathStep]) {
    if path.is_empty() {
        *v = Value::Unknown;
        return;
    }
    v.set_at(path, Value::Unknown);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn round_trips_marks() {
        let v = Value::Map(BTreeMap::from([
            ("id".into(), Value::Unknown),
            ("pw".into(), Value::string("x").into_sensitive()),
            ("n".into(), Value::Number(1.0)),
        ]));
        let m = MarkedValue::from_value(&v);
        let json = serde_json::to_string(&m).expect("serializes");
        let back: MarkedValue = serde_json::from_str(&json).expect("parses");
        assert_eq!(back.to_value(), v);
        assert!(json.contains("\"sensitive\""), "{json}");
        assert_eq!(
            MarkedValue::from_value(&Value::Unknown).to_value(),
            Value::Unknown
        );
    }
}
