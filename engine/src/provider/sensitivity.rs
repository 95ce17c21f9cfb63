//! Where values returned by providers get their sensitive marks back.
//!
//! Providers receive and return plain values; the engine re-marks what they return: attributes
//! the schema declares sensitive, paths that were sensitive in the configuration or in the
//! planned value, and — for data sources, whose results are derived from their arguments —
//! every computed result when any argument was sensitive.

use super::BlockSchema;
use crate::value::{paths_of, MarkKind, Value};

/// Mark `value` sensitive where the schema says so and wherever any of `sources` (the
/// configuration, the planned value) was sensitive.
pub fn mark_sensitive(schema: Option<&BlockSchema>, mut value: Value, sources: &[&Value]) -> Value {
    if let Some(schema) = schema {
        for path in schema.sensitive_paths(&value) {
            if value.get_at(&path).is_some_and(|v| !v.is_null()) {
                value.mark_sensitive_at(&path);
            }
        }
    }
    for source in sources {
        for path in paths_of(source, MarkKind::Sensitive) {
            if value.get_at(&path).is_some_and(|v| !v.is_null()) {
                value.mark_sensitive_at(&path);
            }
        }
    }
    value
}

/// Mark a data source's result: as [`mark_sensitive`], and when its configuration holds any
/// sensitive value, every attribute the configuration does not set is sensitive too.
pub fn mark_data_result(schema: Option<&BlockSchema>, value: Value, config: &Value) -> Value {
    let mut value = mark_sensitive(schema, value, &[config]);
    if !config.deep_marks().sensitive {
        return value;
    }
    if let Value::Map(map) = &mut value {
        for (name, v) in map.iter_mut() {
            let set_by_config = config.get(name).is_some_and(|c| !c.is_null());
            if !set_by_config && !v.is_null() {
                *v = std::mem::replace(v, Value::Null).into_sensitive();
            }
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn planned_marks_survive_apply() {
        let planned = map(&[("output", Value::string("s").into_sensitive())]);
        let applied = map(&[("output", Value::string("s")), ("id", Value::string("1"))]);
        let marked = mark_sensitive(None, applied, &[&planned]);
        assert!(matches!(marked.get("output"), Some(Value::Sensitive(_))));
        assert_eq!(marked.get("id"), Some(&Value::string("1")));
    }

    #[test]
    fn data_results_of_sensitive_arguments_are_sensitive() {
        let config = map(&[
            ("value", Value::string("pw").into_sensitive()),
            ("result", Value::Null),
        ]);
        let result = map(&[
            ("value", Value::string("pw")),
            ("result", Value::string("pw")),
        ]);
        let marked = mark_data_result(None, result, &config);
        assert!(matches!(marked.get("value"), Some(Value::Sensitive(_))));
        assert!(matches!(marked.get("result"), Some(Value::Sensitive(_))));
    }
}
