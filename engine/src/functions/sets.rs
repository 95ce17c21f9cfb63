//! Sets and ordering: `toset`, `distinct`, `contains`, `sort`, `setunion`,
//! `setintersection`, `setsubtract`.
//!
//! Sets are lists kept distinct and, when every element is a string or every element is a
//! number, sorted (strings byte-wise, numbers numerically); other sets keep first-occurrence
//! order. Primitive elements are unified as by `tolist` (numbers become strings beside strings).
//! All are unknown when any element is unknown (membership cannot be decided).

use std::cmp::Ordering;

use super::args::Kind::*;
use super::args::{def, Call, Def};
use super::collections::loosely_equal;
use super::conversion::unify;
use super::FunctionError;
use crate::value::Value;

#[rustfmt::skip]
pub(super) const DEFS: &[Def] = &[
    def("contains", "contains(list, value) bool", "Whether a list or set contains the value.", contains).args(&[List, Any]),
    def("distinct", "distinct(list) list", "Removes duplicate elements, keeping the first occurrence of each.", distinct).args(&[List]),
    def("setintersection", "setintersection(set, set...) set", "The elements common to every argument, as a set.", setintersection).args(&[List]).rest(List),
    def("setsubtract", "setsubtract(set, set) set", "The elements of the first set that are not in the second.", setsubtract).args(&[List, List]),
    def("setunion", "setunion(set, set...) set", "The elements in any of the arguments, as a set.", setunion).args(&[List]).rest(List),
    def("sort", "sort(list) list(string)", "Sorts a list of strings lexicographically (numbers are converted to strings).", sort).args(&[List]),
    def("toset", "toset(list) set", "Converts a list to a set: distinct, unified and sorted.", toset).args(&[Any]),
];

fn dedupe(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Unify, dedupe and sort a list into a set.
fn to_set(c: &Call, i: usize, items: &[Value]) -> Result<Vec<Value>, FunctionError> {
    let mut set = dedupe(unify(items.iter()).map_err(|m| c.err(i, m))?);
    if set.iter().all(|v| matches!(v, Value::String(_))) {
        set.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    } else if set.iter().all(|v| matches!(v, Value::Number(_))) {
        set.sort_by(|a, b| match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        });
    }
    Ok(set)
}

fn toset(c: &Call) -> Result<Value, FunctionError> {
    match c.arg(0) {
        Value::Null => Ok(Value::Null),
        Value::List(items) => Ok(Value::List(to_set(c, 0, items)?)),
        _ => Err(c.expected(0, "a list")),
    }
}

fn distinct(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::List(dedupe(c.list(0)?.to_vec())))
}

fn contains(c: &Call) -> Result<Value, FunctionError> {
    let needle = c.arg(1);
    let found = c
        .list(0)?
        .iter()
        .any(|v| v == needle || loosely_equal(v, needle));
    Ok(Value::Bool(found))
}

fn sort(c: &Call) -> Result<Value, FunctionError> {
    let mut out = c.strings(0)?;
    out.sort();
    Ok(Value::List(out.into_iter().map(Value::String).collect()))
}

fn all_sets(c: &Call) -> Result<Vec<Vec<Value>>, FunctionError> {
    (0..c.len()).map(|i| to_set(c, i, c.list(i)?)).collect()
}

fn setunion(c: &Call) -> Result<Value, FunctionError> {
    let all: Vec<Value> = all_sets(c)?.into_iter().flatten().collect();
    Ok(Value::List(to_set(c, 0, &all)?))
}

fn setintersection(c: &Call) -> Result<Value, FunctionError> {
    let mut sets = all_sets(c)?.into_iter();
    let mut result = sets.next().unwrap_or_default();
    for other in sets {
        result.retain(|v| other.contains(v));
    }
    Ok(Value::List(result))
}

fn setsubtract(c: &Call) -> Result<Value, FunctionError> {
    let sets = all_sets(c)?;
    let mut result = sets[0].clone();
    result.retain(|v| !sets[1].contains(v));
    Ok(Value::List(result))
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::*;
    use crate::value::Value;

    #[test]
    fn sets() {
        assert_eq!(
            ok("toset", vec![strs(&["c", "b", "b", "a"])]),
            strs(&["a", "b", "c"])
        );
        assert_eq!(
            ok("toset", vec![list(vec![n(10.0), n(2.0), n(2.0)])]),
            list(vec![n(2.0), n(10.0)])
        );
        assert_eq!(
            ok("toset", vec![list(vec![s("a"), n(1.0)])]),
            strs(&["1", "a"])
        );
        assert_eq!(ok("toset", vec![Value::Null]), Value::Null);
        assert!(err("toset", vec![map(&[])])
            .message
            .contains("expected a list, got map"));
        assert_eq!(
            ok("distinct", vec![strs(&["b", "a", "b"])]),
            strs(&["b", "a"])
        );
        assert!(err("distinct", vec![s("a")])
            .message
            .contains("expected a list"));
        assert_eq!(
            ok("setunion", vec![strs(&["b", "a"]), strs(&["c", "a"])]),
            strs(&["a", "b", "c"])
        );
        assert_eq!(
            ok(
                "setintersection",
                vec![strs(&["a", "b"]), strs(&["b", "c"]), strs(&["b"])]
            ),
            strs(&["b"])
        );
        assert_eq!(
            ok(
                "setsubtract",
                vec![strs(&["a", "b", "c"]), strs(&["a", "c"])]
            ),
            strs(&["b"])
        );
        assert!(err("setunion", vec![]).message.contains("at least 1"));
        assert!(err("setsubtract", vec![strs(&["a"]), s("b")])
            .message
            .contains("argument 2"));
        assert!(err("setintersection", vec![s("b")])
            .message
            .contains("argument 1"));
    }

    #[test]
    fn contains_and_sort() {
        assert_eq!(
            ok("contains", vec![strs(&["a", "b"]), s("b")]),
            Value::Bool(true)
        );
        assert_eq!(
            ok("contains", vec![strs(&["a", "b"]), s("c")]),
            Value::Bool(false)
        );
        assert_eq!(
            ok("contains", vec![strs(&["1"]), n(1.0)]),
            Value::Bool(true)
        );
        assert!(err("contains", vec![s("a"), s("a")])
            .message
            .contains("expected a list"));
        assert_eq!(
            ok("sort", vec![list(vec![s("e"), s("d"), n(10.0), n(3.0)])]),
            strs(&["10", "3", "d", "e"])
        );
        assert!(err("sort", vec![list(vec![Value::Null])])
            .message
            .contains("element 0"));
    }

    #[test]
    fn marks() {
        assert_eq!(
            ok("toset", vec![list(vec![s("a"), Value::Unknown])]),
            Value::Unknown
        );
        assert_eq!(
            ok("contains", vec![strs(&["a"]), Value::Unknown]),
            Value::Unknown
        );
        assert_eq!(
            ok("sort", vec![list(vec![s("b"), secret(s("a"))])]),
            secret(strs(&["a", "b"]))
        );
    }
}
