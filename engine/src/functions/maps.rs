//! Map functions: `keys`, `values`, `lookup`, `merge`, `zipmap`.
//!
//! All keep unknown values inside maps: the keys of a known map are known even when its values
//! are not, and `lookup` of a known key returns the element as is (possibly unknown).

use std::collections::BTreeMap;

use super::args::Kind::*;
use super::args::{def, primitive_string, Call, Def};
use super::FunctionError;
use crate::value::Value;

#[rustfmt::skip]
pub(super) const DEFS: &[Def] = &[
    def("keys", "keys(map) list(string)", "The keys of a map, sorted.", keys).args(&[Map]).shallow(),
    def("lookup", "lookup(map, key, default?) any", "The element of a map at a key, or the default if absent (an error without a default).", lookup).args(&[Map, Str, Any]).optional(1).raw(),
    def("merge", "merge(map...) map", "Combines maps; later arguments win on conflicting keys, null arguments are skipped.", merge).rest(Any).shallow(),
    def("values", "values(map) list", "The values of a map, in the order of its sorted keys.", values).args(&[Map]).shallow(),
    def("zipmap", "zipmap(keys, values) map", "Builds a map from a list of keys and a list of values of the same length.", zipmap).args(&[List, List]).shallow(),
];

fn keys(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::List(c.map(0)?.keys().map(Value::string).collect()))
}

fn values(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::List(c.map(0)?.values().cloned().collect()))
}

fn lookup(c: &Call) -> Result<Value, FunctionError> {
    if c.arg(0).is_unknown() || c.arg(1).is_unknown() {
        return Ok(Value::Unknown);
    }
    let (map, key) = (c.map(0)?, c.str(1)?);
    match map.get(key) {
        Some(v) => Ok(v.clone()),
        None if c.len() > 2 => Ok(c.arg(2).clone()),
        None => Err(c.err(
            1,
            format!("the map has no element with the key {}", c.show(1, key)),
        )),
    }
}

fn merge(c: &Call) -> Result<Value, FunctionError> {
    let mut out = BTreeMap::new();
    for (i, arg) in c.args.iter().enumerate() {
        match arg {
            Value::Null => {}
            Value::Map(m) => out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
            other => return Err(c.err(i, format!("expected a map, got {}", other.type_name()))),
        }
    }
    Ok(Value::Map(out))
}

fn zipmap(c: &Call) -> Result<Value, FunctionError> {
    let (keys, values) = (c.list(0)?, c.list(1)?);
    if keys.iter().any(Value::is_unknown) {
        return Ok(Value::Unknown);
    }
    if keys.len() != values.len() {
        return Err(c.fail(format!(
            "the number of keys ({}) does not match the number of values ({})",
            keys.len(),
            values.len()
        )));
    }
    let mut out = BTreeMap::new();
    for (j, (k, v)) in keys.iter().zip(values).enumerate() {
        let key = primitive_string(k).ok_or_else(|| {
            c.err(
                0,
                format!("element {j}: expected a string, got {}", k.type_name()),
            )
        })?;
        out.insert(key, v.clone());
    }
    Ok(Value::Map(out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::*;
    use crate::value::Value;

    #[test]
    fn keys_and_values() {
        let m = map(&[("b", n(2.0)), ("a", n(1.0))]);
        assert_eq!(ok("keys", vec![m.clone()]), strs(&["a", "b"]));
        assert_eq!(ok("values", vec![m]), list(vec![n(1.0), n(2.0)]));
        assert!(err("keys", vec![list(vec![])])
            .message
            .contains("expected a map, got list"));
        assert!(err("values", vec![s("x")])
            .message
            .contains("expected a map"));
    }

    #[test]
    fn lookups() {
        let m = map(&[("a", s("ay")), ("b", s("bee"))]);
        assert_eq!(ok("lookup", vec![m.clone(), s("a"), s("what?")]), s("ay"));
        assert_eq!(
            ok("lookup", vec![m.clone(), s("c"), s("what?")]),
            s("what?")
        );
        assert_eq!(ok("lookup", vec![m.clone(), s("b")]), s("bee"));
        let e = err("lookup", vec![m.clone(), s("c")]);
        assert_eq!(
            e.message,
            "argument 2 of lookup: the map has no element with the key \"c\""
        );
        assert_eq!(e.argument, Some(1));
        assert!(!err("lookup", vec![m, secret(s("zz"))])
            .message
            .contains("zz"));
    }

    #[test]
    fn merging() {
        assert_eq!(
            ok(
                "merge",
                vec![
                    map(&[("a", n(1.0)), ("b", n(2.0))]),
                    Value::Null,
                    map(&[("b", n(3.0))])
                ]
            ),
            map(&[("a", n(1.0)), ("b", n(3.0))])
        );
        assert_eq!(ok("merge", vec![]), map(&[]));
        assert_eq!(err("merge", vec![map(&[]), list(vec![])]).argument, Some(1));
    }

    #[test]
    fn zipping() {
        assert_eq!(
            ok(
                "zipmap",
                vec![strs(&["a", "b"]), list(vec![n(1.0), n(2.0)])]
            ),
            map(&[("a", n(1.0)), ("b", n(2.0))])
        );
        assert!(err("zipmap", vec![strs(&["a"]), list(vec![])])
            .message
            .contains("number of keys (1)"));
        assert!(
            err("zipmap", vec![list(vec![list(vec![])]), list(vec![n(1.0)])])
                .message
                .contains("element 0")
        );
    }

    #[test]
    fn marks() {
        let m = map(&[("a", Value::Unknown), ("b", n(1.0))]);
        assert_eq!(ok("keys", vec![m.clone()]), strs(&["a", "b"]));
        assert_eq!(
            ok("values", vec![m.clone()]),
            list(vec![Value::Unknown, n(1.0)])
        );
        assert_eq!(ok("lookup", vec![m.clone(), s("b")]), n(1.0));
        assert_eq!(ok("lookup", vec![m.clone(), s("a")]), Value::Unknown);
        assert_eq!(
            ok("lookup", vec![m.clone(), Value::Unknown]),
            Value::Unknown
        );
        assert_eq!(
            ok("lookup", vec![m.clone(), s("zz"), Value::Unknown]),
            Value::Unknown
        );
        assert_eq!(ok("keys", vec![Value::Unknown]), Value::Unknown);
        assert_eq!(
            ok("merge", vec![m.clone(), map(&[("c", secret(s("x")))])]),
            secret(map(&[("a", Value::Unknown), ("b", n(1.0)), ("c", s("x"))]))
        );
        assert_eq!(ok("merge", vec![m.clone(), Value::Unknown]), Value::Unknown);
        assert_eq!(
            ok(
                "zipmap",
                vec![list(vec![Value::Unknown]), list(vec![n(1.0)])]
            ),
            Value::Unknown
        );
        assert_eq!(
            ok("zipmap", vec![strs(&["k"]), list(vec![Value::Unknown])]),
            map(&[("k", Value::Unknown)])
        );
        assert_eq!(ok("keys", vec![secret(m)]), secret(strs(&["a", "b"])));
    }
}
