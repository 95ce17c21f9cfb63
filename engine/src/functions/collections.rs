//! List functions, plus `length` and `coalesce`.
//!
//! Functions that only move elements around (`concat`, `element`, `slice`, `reverse`, `one`,
//! `chunklist`) keep unknown elements; those that must inspect elements (`flatten`, `index`,
//! `compact`, `alltrue`, `anytrue`) are unknown when any element is. `length` of a known list
//! or map is known whatever its elements. `coalesce`/`coalescelist` return a qualifying
//! argument that precedes every unknown argument.

use super::args::Kind::*;
use super::args::{def, primitive_string, Call, Def};
use super::FunctionError;
use crate::value::Value;

#[rustfmt::skip]
pub(super) const DEFS: &[Def] = &[
    def("alltrue", "alltrue(list) bool", "Whether every element of a list of bools is true (true for an empty list).", alltrue).args(&[List]),
    def("anytrue", "anytrue(list) bool", "Whether any element of a list of bools is true (false for an empty list).", anytrue).args(&[List]),
    def("chunklist", "chunklist(list, size) list(list)", "Splits a list into lists of at most size elements.", chunklist).args(&[List, Num]).shallow(),
    def("coalesce", "coalesce(value...) any", "The first argument that is neither null nor an empty string.", coalesce).args(&[Any]).rest(Any).raw(),
    def("coalescelist", "coalescelist(list...) list", "The first argument that is a non-empty list.", coalescelist).args(&[Any]).rest(Any).raw(),
    def("compact", "compact(list) list(string)", "Removes null and empty-string elements from a list of strings.", compact).args(&[List]),
    def("concat", "concat(list...) list", "Joins lists into one.", concat).rest(List).shallow(),
    def("element", "element(list, index) any", "The element at an index, wrapping around modulo the length of the list.", element).args(&[List, Num]).shallow(),
    def("flatten", "flatten(list) list", "Replaces nested lists by their elements, recursively.", flatten).args(&[List]),
    def("index", "index(list, value) number", "The index of the first element equal to the value (an error if absent).", index).args(&[List, Any]),
    def("length", "length(value) number", "The number of characters of a string, or of elements of a list or map.", length).args(&[Any]).shallow(),
    def("one", "one(list) any", "The only element of a list with one element, or null for an empty list.", one).args(&[Any]).shallow(),
    def("reverse", "reverse(list) list", "The elements of a list in reverse order.", reverse).args(&[List]).shallow(),
    def("slice", "slice(list, start, end) list", "The elements from index start up to but excluding index end.", slice).args(&[List, Num, Num]).shallow(),
];

fn length(c: &Call) -> Result<Value, FunctionError> {
    let n = match c.arg(0) {
        Value::String(s) => s.chars().count(),
        Value::List(items) => items.len(),
        Value::Map(map) => map.len(),
        _ => return Err(c.expected(0, "a string, list or map")),
    };
    Ok(Value::Number(n as f64))
}

fn concat(c: &Call) -> Result<Value, FunctionError> {
    let mut out = Vec::new();
    for i in 0..c.len() {
        out.extend(c.list(i)?.iter().cloned());
    }
    Ok(Value::List(out))
}

fn flatten(c: &Call) -> Result<Value, FunctionError> {
    fn walk(items: &[Value], out: &mut Vec<Value>) {
        for item in items {
            match item {
                Value::List(inner) => walk(inner, out),
                other => out.push(other.clone()),
            }
        }
    }
    let mut out = Vec::new();
    walk(c.list(0)?, &mut out);
    Ok(Value::List(out))
}

fn element(c: &Call) -> Result<Value, FunctionError> {
    let (items, i) = (c.list(0)?, c.int(1)?);
    if items.is_empty() {
        return Err(c.err(0, "cannot use element with an empty list"));
    }
    if i < 0 {
        return Err(c.err(1, "cannot use element with a negative index"));
    }
    Ok(items[(i as usize) % items.len()].clone())
}

fn index(c: &Call) -> Result<Value, FunctionError> {
    let needle = c.arg(1);
    let found = c
        .list(0)?
        .iter()
        .position(|v| v == needle || loosely_equal(v, needle));
    found
        .map(|i| Value::Number(i as f64))
        .ok_or_else(|| c.err(1, "the value is not in the list"))
}

/// A string and a number or bool with the same text are equal, as after Terraform's conversion.
pub(super) fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(_), Value::Number(_) | Value::Bool(_))
        | (Value::Number(_) | Value::Bool(_), Value::String(_)) => {
            primitive_string(a) == primitive_string(b)
        }
        _ => false,
    }
}

fn slice(c: &Call) -> Result<Value, FunctionError> {
    let (items, start, end) = (c.list(0)?, c.int(1)?, c.int(2)?);
    if start < 0 {
        return Err(c.err(1, "the start index must not be negative"));
    }
    if end > items.len() as i64 {
        return Err(c.err(
            2,
            format!(
                "the end index must not be greater than the length of the list ({})",
                items.len()
            ),
        ));
    }
    if start > end {
        return Err(c.err(1, "the start index must not be greater than the end index"));
    }
    Ok(Value::List(items[start as usize..end as usize].to_vec()))
}

fn reverse(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::List(c.list(0)?.iter().rev().cloned().collect()))
}

fn one(c: &Call) -> Result<Value, FunctionError> {
    match c.arg(0) {
        Value::Null => Ok(Value::Null),
        Value::List(items) => match items.as_slice() {
            [] => Ok(Value::Null),
            [only] => Ok(only.clone()),
            more => Err(c.err(
                0,
                format!("must have zero or one elements, got {}", more.len()),
            )),
        },
        _ => Err(c.expected(0, "a list")),
    }
}

fn compact(c: &Call) -> Result<Value, FunctionError> {
    let mut out = Vec::new();
    for (j, v) in c.list(0)?.iter().enumerate() {
        if v.is_null() {
            continue;
        }
        match primitive_string(v) {
            Some(s) if s.is_empty() => {}
            Some(s) => out.push(Value::String(s)),
            None => {
                return Err(c.err(
                    0,
                    format!("element {j}: expected a string, got {}", v.type_name()),
                ))
            }
        }
    }
    Ok(Value::List(out))
}

fn chunklist(c: &Call) -> Result<Value, FunctionError> {
    let (items, size) = (c.list(0)?, c.int(1)?);
    if size < 0 {
        return Err(c.err(1, "the chunk size must not be negative"));
    }
    if size == 0 {
        return Ok(Value::List(vec![Value::List(items.to_vec())]));
    }
    Ok(Value::List(
        items
            .chunks(size as usize)
            .map(|chunk| Value::List(chunk.to_vec()))
            .collect(),
    ))
}

fn bools(c: &Call) -> Result<Vec<bool>, FunctionError> {
    c.list(0)?
        .iter()
        .enumerate()
        .map(|(j, v)| match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
            other => Err(c.err(
                0,
                format!("element {j}: expected a bool, got {}", other.type_name()),
            )),
        })
        .collect()
}

fn alltrue(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::Bool(bools(c)?.into_iter().all(|b| b)))
}

fn anytrue(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::Bool(bools(c)?.into_iter().any(|b| b)))
}

fn coalesce(c: &Call) -> Result<Value, FunctionError> {
    for arg in &c.args {
        match arg {
            Value::Unknown => return Ok(Value::Unknown),
            Value::Null => {}
            Value::String(s) if s.is_empty() => {}
            other => return Ok(other.clone()),
        }
    }
    Err(c.fail("no non-null, non-empty-string arguments"))
}

fn coalescelist(c: &Call) -> Result<Value, FunctionError> {
    for (i, arg) in c.args.iter().enumerate() {
        match arg {
            Value::Unknown => return Ok(Value::Unknown),
            Value::Null => {}
            Value::List(items) if items.is_empty() => {}
            Value::List(_) => return Ok(arg.clone()),
            _ => return Err(c.expected(i, "a list")),
        }
    }
    Err(c.fail("no non-empty list arguments"))
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::*;
    use crate::value::Value;

    #[test]
    fn lengths() {
        assert_eq!(ok("length", vec![s("héllo")]), n(5.0));
        assert_eq!(ok("length", vec![list(vec![n(1.0), n(2.0)])]), n(2.0));
        assert_eq!(ok("length", vec![map(&[("a", n(1.0))])]), n(1.0));
        assert!(err("length", vec![n(1.0)])
            .message
            .contains("expected a string, list or map, got number"));
        assert!(err("length", vec![Value::Null])
            .message
            .contains("got null"));
    }

    #[test]
    fn concat_flatten_reverse() {
        assert_eq!(
            ok("concat", vec![strs(&["a"]), strs(&["b", "c"])]),
            strs(&["a", "b", "c"])
        );
        assert_eq!(ok("concat", vec![]), list(vec![]));
        assert_eq!(err("concat", vec![strs(&["a"]), s("b")]).argument, Some(1));
        let nested = list(vec![
            strs(&["a"]),
            list(vec![strs(&["b"]), list(vec![])]),
            s("c"),
        ]);
        assert_eq!(ok("flatten", vec![nested]), strs(&["a", "b", "c"]));
        assert!(err("flatten", vec![s("a")])
            .message
            .contains("expected a list"));
        assert_eq!(ok("reverse", vec![strs(&["a", "b"])]), strs(&["b", "a"]));
        assert!(err("reverse", vec![map(&[])])
            .message
            .contains("expected a list"));
    }

    #[test]
    fn element_index_slice() {
        let l = strs(&["a", "b", "c"]);
        assert_eq!(ok("element", vec![l.clone(), n(1.0)]), s("b"));
        assert_eq!(ok("element", vec![l.clone(), n(5.0)]), s("c"));
        assert!(err("element", vec![list(vec![]), n(0.0)])
            .message
            .contains("empty list"));
        assert!(err("element", vec![l.clone(), n(-1.0)])
            .message
            .contains("negative"));
        assert_eq!(ok("index", vec![l.clone(), s("b")]), n(1.0));
        assert_eq!(ok("index", vec![strs(&["1"]), n(1.0)]), n(0.0));
        assert_eq!(err("index", vec![l.clone(), s("z")]).argument, Some(1));
        assert_eq!(
            ok("slice", vec![l.clone(), n(1.0), n(3.0)]),
            strs(&["b", "c"])
        );
        assert!(err("slice", vec![l.clone(), n(2.0), n(1.0)])
            .message
            .contains("greater than the end"));
        assert!(err("slice", vec![l, n(0.0), n(4.0)])
            .message
            .contains("length of the list (3)"));
    }

    #[test]
    fn one_compact_chunk_bools() {
        assert_eq!(ok("one", vec![list(vec![])]), Value::Null);
        assert_eq!(ok("one", vec![strs(&["x"])]), s("x"));
        assert!(err("one", vec![strs(&["x", "y"])])
            .message
            .contains("zero or one"));
        assert_eq!(
            ok(
                "compact",
                vec![list(vec![s("a"), s(""), Value::Null, n(1.0)])]
            ),
            strs(&["a", "1"])
        );
        assert!(err("compact", vec![list(vec![list(vec![])])])
            .message
            .contains("element 0"));
        assert_eq!(
            ok("chunklist", vec![strs(&["a", "b", "c"]), n(2.0)]),
            list(vec![strs(&["a", "b"]), strs(&["c"])])
        );
        assert_eq!(
            ok("chunklist", vec![strs(&["a"]), n(0.0)]),
            list(vec![strs(&["a"])])
        );
        assert!(err("chunklist", vec![strs(&["a"]), n(-1.0)])
            .message
            .contains("negative"));
        assert_eq!(
            ok("alltrue", vec![list(vec![Value::Bool(true), s("true")])]),
            Value::Bool(true)
        );
        assert_eq!(ok("alltrue", vec![list(vec![])]), Value::Bool(true));
        assert_eq!(ok("anytrue", vec![list(vec![])]), Value::Bool(false));
        assert!(err("anytrue", vec![list(vec![n(1.0)])])
            .message
            .contains("expected a bool"));
    }

    #[test]
    fn coalescing() {
        assert_eq!(
            ok("coalesce", vec![Value::Null, s(""), s("b"), s("c")]),
            s("b")
        );
        assert_eq!(ok("coalesce", vec![n(1.0), n(2.0)]), n(1.0));
        assert!(err("coalesce", vec![Value::Null, s("")])
            .message
            .contains("no non-null"));
        assert!(err("coalesce", vec![]).message.contains("at least 1"));
        assert_eq!(
            ok("coalescelist", vec![list(vec![]), strs(&["x"])]),
            strs(&["x"])
        );
        assert!(err("coalescelist", vec![list(vec![])])
            .message
            .contains("no non-empty list"));
        assert_eq!(
            err("coalescelist", vec![list(vec![]), s("x")]).argument,
            Some(1)
        );
    }

    #[test]
    fn marks() {
        // length of a known list with unknown elements is known.
        assert_eq!(
            ok("length", vec![list(vec![Value::Unknown, n(1.0)])]),
            n(2.0)
        );
        assert_eq!(ok("length", vec![Value::Unknown]), Value::Unknown);
        assert_eq!(ok("length", vec![secret(s("abc"))]), secret(n(3.0)));
        assert_eq!(
            ok("concat", vec![list(vec![Value::Unknown]), strs(&["a"])]),
            list(vec![Value::Unknown, s("a")])
        );
        assert_eq!(
            ok("concat", vec![Value::Unknown, strs(&["a"])]),
            Value::Unknown
        );
        assert_eq!(
            ok("element", vec![list(vec![s("a"), Value::Unknown]), n(1.0)]),
            Value::Unknown
        );
        assert_eq!(
            ok("element", vec![list(vec![s("a"), Value::Unknown]), n(0.0)]),
            s("a")
        );
        assert_eq!(
            ok("element", vec![strs(&["a"]), Value::Unknown]),
            Value::Unknown
        );
        assert_eq!(
            ok("flatten", vec![list(vec![strs(&["a"]), Value::Unknown])]),
            Value::Unknown
        );
        assert_eq!(
            ok("coalesce", vec![Value::Null, s("a"), Value::Unknown]),
            s("a")
        );
        assert_eq!(
            ok("coalesce", vec![Value::Null, Value::Unknown, s("a")]),
            Value::Unknown
        );
        assert_eq!(
            ok("coalesce", vec![secret(Value::Null), s("a")]),
            secret(s("a"))
        );
        assert_eq!(
            ok("reverse", vec![list(vec![secret(s("a")), s("b")])]),
            secret(strs(&["b", "a"]))
        );
    }
}
