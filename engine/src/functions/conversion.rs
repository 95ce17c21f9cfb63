//! Type conversion functions: `tostring`, `tonumber`, `tobool`, `tolist`, `tomap`.
//!
//! (`toset` lives with the other set functions.) A null argument converts to null.
//! `tolist` and `tomap` unify primitive elements the way Terraform does: if any element is a
//! string, numbers and bools become strings; primitives mixed with collections are an error.
//! They keep unknown elements (shallow marks).

use super::args::Kind::*;
use super::args::{def, parse_number, primitive_string, Call, Def};
use super::FunctionError;
use crate::value::Value;

#[rustfmt::skip]
pub(super) const DEFS: &[Def] = &[
    def("tobool", "tobool(value) bool", "Converts a bool or the string \"true\" or \"false\" to a bool.", tobool).args(&[Any]),
    def("tolist", "tolist(list) list", "Converts a list, set or tuple to a list, unifying element types.", tolist).args(&[Any]).shallow(),
    def("tomap", "tomap(map) map", "Converts a map or object to a map, unifying element types.", tomap).args(&[Any]).shallow(),
    def("tonumber", "tonumber(value) number", "Converts a number or numeric string to a number.", tonumber).args(&[Any]),
    def("tostring", "tostring(value) string", "Converts a string, number or bool to a string.", tostring).args(&[Any]),
];

fn tostring(c: &Call) -> Result<Value, FunctionError> {
    match c.arg(0) {
        Value::Null => Ok(Value::Null),
        v => primitive_string(v)
            .map(Value::String)
            .ok_or_else(|| c.err(0, format!("cannot convert {} to string", v.type_name()))),
    }
}

fn tonumber(c: &Call) -> Result<Value, FunctionError> {
    match c.arg(0) {
        Value::Null => Ok(Value::Null),
        Value::Number(n) => Ok(Value::Number(*n)),
        Value::String(s) => parse_number(s)
            .map(Value::Number)
            .ok_or_else(|| c.err(0, format!("cannot convert {} to a number", c.show(0, s)))),
        v => Err(c.err(0, format!("cannot convert {} to a number", v.type_name()))),
    }
}

fn tobool(c: &Call) -> Result<Value, FunctionError> {
    match c.arg(0) {
        Value::Null => Ok(Value::Null),
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
        Value::String(s) => Err(c.err(0, format!("cannot convert {} to a bool", c.show(0, s)))),
        v => Err(c.err(0, format!("cannot convert {} to a bool", v.type_name()))),
    }
}

fn tolist(c: &Call) -> Result<Value, FunctionError> {
    match c.arg(0) {
        Value::Null => Ok(Value::Null),
        Value::List(items) => unify(items.iter())
            .map(Value::List)
            .map_err(|m| c.err(0, m)),
        v => Err(c.err(0, format!("cannot convert {} to list", v.type_name()))),
    }
}

fn tomap(c: &Call) -> Result<Value, FunctionError> {
    match c.arg(0) {
        Value::Null => Ok(Value::Null),
        Value::Map(map) => {
            let values = unify(map.values()).map_err(|m| c.err(0, m))?;
            Ok(Value::Map(map.keys().cloned().zip(values).collect()))
        }
        v => Err(c.err(0, format!("cannot convert {} to map", v.type_name()))),
    }
}

/// Give elements one type: strings win over numbers and bools; nulls and unknowns fit anything.
pub(super) fn unify<'v>(
    items: impl Iterator<Item = &'v Value> + Clone,
) -> Result<Vec<Value>, String> {
    let mut has_string = false;
    let mut has_other_primitive = false;
    let mut has_collection = false;
    for item in items.clone() {
        match item {
            Value::String(_) => has_string = true,
            Value::Number(_) | Value::Bool(_) => has_other_primitive = true,
            Value::List(_) | Value::Map(_) => has_collection = true,
            _ => {}
        }
    }
    if has_collection && (has_string || has_other_primitive) {
        return Err(
            "all elements must have the same type (primitives and collections are mixed)"
                .to_string(),
        );
    }
    Ok(items
        .map(|item| match item {
            Value::Number(_) | Value::Bool(_) if has_string => {
                Value::String(primitive_string(item).unwrap_or_default())
            }
            other => other.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::*;
    use crate::value::Value;

    #[test]
    fn scalars() {
        assert_eq!(ok("tostring", vec![n(1.5)]), s("1.5"));
        assert_eq!(ok("tostring", vec![Value::Bool(true)]), s("true"));
        assert_eq!(ok("tostring", vec![Value::Null]), Value::Null);
        assert!(err("tostring", vec![list(vec![])])
            .message
            .contains("cannot convert list to string"));
        assert_eq!(ok("tonumber", vec![s("-12.5")]), n(-12.5));
        assert_eq!(ok("tonumber", vec![Value::Null]), Value::Null);
        assert_eq!(
            err("tonumber", vec![s("no")]).message,
            "argument 1 of tonumber: cannot convert \"no\" to a number"
        );
        assert!(err("tonumber", vec![Value::Bool(true)])
            .message
            .contains("bool"));
        assert_eq!(ok("tobool", vec![s("false")]), Value::Bool(false));
        assert!(err("tobool", vec![n(1.0)])
            .message
            .contains("cannot convert number to a bool"));
        let e = err("tonumber", vec![secret(s("hunter2"))]);
        assert!(!e.message.contains("hunter2"));
    }

    #[test]
    fn collections() {
        assert_eq!(
            ok(
                "tolist",
                vec![list(vec![s("a"), n(1.0), Value::Bool(true)])]
            ),
            strs(&["a", "1", "true"])
        );
        assert_eq!(
            ok("tolist", vec![list(vec![n(1.0), n(2.0)])]),
            list(vec![n(1.0), n(2.0)])
        );
        assert!(err("tolist", vec![map(&[])])
            .message
            .contains("cannot convert map to list"));
        assert!(err("tolist", vec![list(vec![s("a"), list(vec![])])])
            .message
            .contains("same type"));
        assert_eq!(
            ok("tomap", vec![map(&[("a", n(1.0)), ("b", s("x"))])]),
            map(&[("a", s("1")), ("b", s("x"))])
        );
        assert!(err("tomap", vec![list(vec![])])
            .message
            .contains("cannot convert list to map"));
    }

    #[test]
    fn marks() {
        assert_eq!(ok("tostring", vec![Value::Unknown]), Value::Unknown);
        assert_eq!(ok("tonumber", vec![secret(s("1"))]), secret(n(1.0)));
        assert_eq!(
            ok("tolist", vec![list(vec![s("a"), Value::Unknown])]),
            list(vec![s("a"), Value::Unknown])
        );
        assert_eq!(ok("tomap", vec![Value::Unknown]), Value::Unknown);
        assert_eq!(
            ok("tomap", vec![map(&[("a", secret(s("x")))])]),
            secret(map(&[("a", s("x"))]))
        );
    }
}
