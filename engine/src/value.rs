//! Values of the mesh language, with their two marks.
//!
//! A [`Value`] is JSON-shaped data plus two marks that travel with it through every expression
//! and function: [`Value::Unknown`] ("known after apply") and [`Value::Sensitive`] (a wrapper that
//! must never be rendered). An operation on an unknown yields an unknown; an operation on a
//! sensitive value yields a sensitive result. The helpers [`Value::unmark`] and [`Marks`] let a
//! function strip marks, compute on plain data and put the marks back on its result.

use std::collections::BTreeMap;
use std::fmt;

/// A value of the mesh language.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// The absence of a value.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number; integers are exact up to 2^53.
    Number(f64),
    /// A UTF-8 string.
    String(String),
    /// A list, tuple or set (sets are kept sorted and distinct by `toset`).
    List(Vec<Value>),
    /// A map or object, keys sorted.
    Map(BTreeMap<String, Value>),
    /// A value that will be known only after apply.
    Unknown,
    /// A value that must never be shown.
    Sensitive(Box<Value>),
}

/// The marks found on a value (at its top level, or anywhere inside it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// Some part is unknown.
    pub unknown: bool,
    /// Some part is sensitive.
    pub sensitive: bool,
}

impl Marks {
    /// Combine the marks of two values.
    pub fn union(self, other: Marks) -> Marks {
        Marks {
            unknown: self.unknown || other.unknown,
            sensitive: self.sensitive || other.sensitive,
        }
    }

    /// Put these marks on a result: unknown wins, then sensitive wraps.
    pub fn apply(self, value: Value) -> Value {
        if self.unknown {
            return if self.sensitive {
                Value::Unknown.into_sensitive()
            } else {
                Value::Unknown
            };
        }
        if self.sensitive {
            value.into_sensitive()
        } else {
            value
        }
    }
}

impl Value {
    /// A string value.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    /// Wrap in the sensitive mark (idempotent).
    pub fn into_sensitive(self) -> Value {
        match self {
            Value::Sensitive(_) => self,
            other => Value::Sensitive(Box::new(other)),
        }
    }

    /// The value without its top-level sensitive wrapper, and whether there was one.
    pub fn unmark(&self) -> (&Value, bool) {
        match self {
            Value::Sensitive(inner) => (inner.unmark().0, true),
            other => (other, false),
        }
    }

    /// Remove every sensitive wrapper, deeply.
    pub fn strip_sensitive(&self) -> Value {
        match self {
            Value::Sensitive(inner) => inner.strip_sensitive(),
            Value::List(items) => Value::List(items.iter().map(Value::strip_sensitive).collect()),
            Value::Map(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), v.strip_sensitive()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// The marks at the top level of this value (not inside collections).
    pub fn top_marks(&self) -> Marks {
        match self {
            Value::Unknown => Marks {
                unknown: true,
                sensitive: false,
            },
            Value::Sensitive(inner) => Marks {
                unknown: inner.top_marks().unknown,
                sensitive: true,
            },
            _ => Marks::default(),
        }
    }

    /// The marks anywhere in this value.
    pub fn deep_marks(&self) -> Marks {
        match self {
            Value::Unknown => Marks {
                unknown: true,
                sensitive: false,
            },
            Value::Sensitive(inner) => Marks {
                unknown: inner.deep_marks().unknown,
                sensitive: true,
            },
            Value::List(items) => items
                .iter()
                .fold(Marks::default(), |m, v| m.union(v.deep_marks())),
            Value::Map(map) => map
                .values()
                .fold(Marks::default(), |m, v| m.union(v.deep_marks())),
            _ => Marks::default(),
        }
    }

    /// True when the value, or anything in it, is unknown.
    pub fn is_unknown_deep(&self) -> bool {
        self.deep_marks().unknown
    }

    /// True when the value itself (ignoring sensitivity) is unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self.unmark().0, Value::Unknown)
    }

    /// True when the value is null (ignoring sensitivity).
    pub fn is_null(&self) -> bool {
        matches!(self.unmark().0, Value::Null)
    }

    /// The type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Unknown => "unknown",
            Value::Sensitive(inner) => inner.type_name(),
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The map inside, if this is a map.
    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The list inside, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Look up an attribute of a map value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// Convert a JSON value (no marks) into a value.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// Convert to JSON, dropping sensitive marks and turning unknowns into null.
    /// Callers that must not lose marks record them first with [`crate::value::paths_of`].
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Unknown => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Map(map) => serde_json::Value::Object(
                map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            ),
            Value::Sensitive(inner) => inner.to_json(),
        }
    }

    /// Re-apply sensitive marks at the given paths (the inverse of [`paths_of`] for sensitivity).
    pub fn mark_sensitive_at(&mut self, path: &[PathStep]) {
        if path.is_empty() {
            let inner = std::mem::replace(self, Value::Null);
            *self = inner.into_sensitive();
            return;
        }
        let target = match (self, &path[0]) {
            (Value::Map(m), PathStep::Key(k)) => m.get_mut(k),
            (Value::List(l), PathStep::Index(i)) => l.get_mut(*i),
            (Value::Sensitive(_), _) => return,
            _ => None,
        };
        if let Some(target) = target {
            target.mark_sensitive_at(&path[1..]);
        }
    }

    /// Set the value at `path`, if the path exists.
    pub fn set_at(&mut self, path: &[PathStep], value: Value) {
        let Some((first, rest)) = path.split_first() else {
            *self = value;
            return;
        };
        let target = match (self, first) {
            (Value::Map(m), PathStep::Key(k)) => m.get_mut(k),
            (Value::List(l), PathStep::Index(i)) => l.get_mut(*i),
            (Value::Sensitive(inner), _) => return inner.set_at(path, value),
            _ => None,
        };
        if let Some(target) = target {
            target.set_at(rest, value);
        }
    }

    /// The value at `path`, if present.
    pub fn get_at(&self, path: &[PathStep]) -> Option<&Value> {
        let Some((first, rest)) = path.split_first() else {
            return Some(self);
        };
        match (self, first) {
            (Value::Map(m), PathStep::Key(k)) => m.get(k)?.get_at(rest),
            (Value::List(l), PathStep::Index(i)) => l.get(*i)?.get_at(rest),
            (Value::Sensitive(inner), _) => inner.get_at(path),
            _ => None,
        }
    }
}

/// One step of a path into a value; serialised as a string (key) or a number (index).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(untagged)]
pub enum PathStep {
    /// A map key or attribute name.
    Key(String),
    /// A list index.
    Index(usize),
}

impl fmt::Display for PathStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathStep::Key(k) => write!(f, ".{k}"),
            PathStep::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Render a path as `a.b[0].c`.
pub fn path_to_string(path: &[PathStep]) -> String {
    let s: String = path.iter().map(|p| p.to_string()).collect();
    s.trim_start_matches('.').to_string()
}

/// Which kind of mark [`paths_of`] collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// Unknown values.
    Unknown,
    /// Sensitive values.
    Sensitive,
}

/// Every path (outermost first) at which `value` carries the given mark.
pub fn paths_of(value: &Value, kind: MarkKind) -> Vec<Vec<PathStep>> {
    let mut out = Vec::new();
    collect_paths(value, kind, &mut Vec::new(), &mut out);
    out
}

fn collect_paths(
    value: &Value,
    kind: MarkKind,
    at: &mut Vec<PathStep>,
    out: &mut Vec<Vec<PathStep>>,
) {
    match (value, kind) {
        (Value::Unknown, MarkKind::Unknown) => out.push(at.clone()),
        (Value::Sensitive(_), MarkKind::Sensitive) => out.push(at.clone()),
        (Value::Sensitive(inner), MarkKind::Unknown) => collect_paths(inner, kind, at, out),
        (Value::List(items), _) => {
            for (i, item) in items.iter().enumerate() {
                at.push(PathStep::Index(i));
                collect_paths(item, kind, at, out);
                at.pop();
            }
        }
        (Value::Map(map), _) => {
            for (k, item) in map {
                at.push(PathStep::Key(k.clone()));
                collect_paths(item, kind, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn number_to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        serde_json::Value::Number(serde_json::Number::from(n as i64))
    } else {
        serde_json::Number::from_f64(n)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}

/// Format a number the way the language prints it: integers without a fraction.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl fmt::Display for Value {
    /// A compact rendering for messages; sensitive values are hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{}", format_number(*n)),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            Value::Map(map) => {
                write!(f, "{{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                write!(f, "}}")
            }
            Value::Unknown => write!(f, "(known after apply)"),
            Value::Sensitive(_) => write!(f, "(sensitive value)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_apply_unknown_before_sensitive() {
        let marks = Marks {
            unknown: true,
            sensitive: true,
        };
        assert_eq!(
            marks.apply(Value::Null),
            Value::Sensitive(Box::new(Value::Unknown))
        );
    }

    #[test]
    fn sensitive_paths_round_trip() {
        let mut v = Value::Map(BTreeMap::from([
            ("a".into(), Value::string("x").into_sensitive()),
            (
                "b".into(),
                Value::List(vec![
                    Value::Number(1.0),
                    Value::string("s").into_sensitive(),
                ]),
            ),
        ]));
        let paths = paths_of(&v, MarkKind::Sensitive);
        assert_eq!(paths.len(), 2);
        let plain = Value::from_json(&v.to_json());
        let mut restored = plain.clone();
        for p in &paths {
            restored.mark_sensitive_at(p);
        }
        assert_eq!(restored, v);
        v.set_at(&[PathStep::Key("a".into())], Value::Null);
        assert_eq!(v.get("a"), Some(&Value::Null));
    }

    #[test]
    fn display_hides_sensitive() {
        let v = Value::List(vec![
            Value::string("secret").into_sensitive(),
            Value::Number(2.5),
        ]);
        assert_eq!(v.to_string(), "[(sensitive value), 2.5]");
        assert_eq!(format_number(3.0), "3");
    }
}
