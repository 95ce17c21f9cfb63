//! Attribute access, indexing and splats on values.

use hcl_edit::expr::TraversalOperator;
use hcl_edit::Span;

use super::Evaluator;
use crate::diagnostics::Diagnostic;
use crate::value::{format_number, Value};

/// Apply traversal operators to a value, left to right.
pub(super) fn apply(
    ev: &mut Evaluator<'_>,
    mut value: Value,
    ops: &[&TraversalOperator],
    at: &impl Span,
) -> Result<Value, Diagnostic> {
    for (i, op) in ops.iter().enumerate() {
        match op {
            TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                let full = matches!(op, TraversalOperator::FullSplat(_));
                let rest = &ops[i + 1..];
                let span = if full {
                    rest.len()
                } else {
                    rest.iter()
                        .take_while(|o| matches!(o, TraversalOperator::GetAttr(_)))
                        .count()
                };
                let splatted = splat(ev, value, &rest[..span], at)?;
                return apply(ev, splatted, &rest[span..], at);
            }
            _ => value = step(ev, value, op, at)?,
        }
    }
    Ok(value)
}

fn splat(
    ev: &mut Evaluator<'_>,
    value: Value,
    ops: &[&TraversalOperator],
    at: &impl Span,
) -> Result<Value, Diagnostic> {
    let marks = value.top_marks();
    if marks.unknown {
        return Ok(marks.apply(Value::Unknown));
    }
    let items = match value.unmark().0.clone() {
        Value::Null => Vec::new(),
        Value::List(items) => items,
        other => vec![other],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(apply(ev, item, ops, at)?);
    }
    Ok(marks.apply(Value::List(out)))
}

fn step(
    ev: &mut Evaluator<'_>,
    value: Value,
    op: &TraversalOperator,
    at: &impl Span,
) -> Result<Value, Diagnostic> {
    let marks = value.top_marks();
    if marks.unknown {
        // Still evaluate an index expression so its errors surface.
        if let TraversalOperator::Index(e) = op {
            ev.eval(e)?;
        }
        return Ok(marks.apply(Value::Unknown));
    }
    let plain = value.unmark().0;
    let result = match op {
        TraversalOperator::GetAttr(name) => get_attr(ev, plain, name.as_str(), at)?,
        TraversalOperator::LegacyIndex(i) => {
            index(ev, plain, &Value::Number(*i.value() as f64), at)?
        }
        TraversalOperator::Index(e) => {
            let key = ev.eval(e)?;
            let key_marks = key.top_marks();
            if key_marks.unknown {
                return Ok(marks.union(key_marks).apply(Value::Unknown));
            }
            let v = index(ev, plain, key.unmark().0, e)?;
            return Ok(marks.union(key_marks).apply(v));
        }
        TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
            unreachable!("splats are handled by apply")
        }
    };
    Ok(marks.apply(result))
}

fn get_attr(
    ev: &Evaluator<'_>,
    value: &Value,
    name: &str,
    at: &impl Span,
) -> Result<Value, Diagnostic> {
    match value {
        Value::Map(map) => match map.get(name) {
            Some(v) => Ok(v.clone()),
            None => {
                let mut d = ev.error(at, "Unsupported attribute", format!("this object does not have an attribute named \"{name}\""));
                if let Some(h) = crate::diagnostics::did_you_mean(name, map.keys().map(String::as_str)) {
                    d = d.with_help(h);
                }
                Err(d)
            }
        },
        Value::Null => Err(ev.error(at, "Attempt to get attribute from null value", format!("cannot read \"{name}\" of null"))),
        Value::List(_) => Err(ev.error(
            at,
            "Unsupported attribute",
            format!("cannot read \"{name}\" of a list; use an index such as [0] or a splat such as [*].{name}"),
        )),
        other => Err(ev.error(at, "Unsupported attribute", format!("cannot read \"{name}\" of a {}", other.type_name()))),
    }
}

fn index(
    ev: &Evaluator<'_>,
    value: &Value,
    key: &Value,
    at: &impl Span,
) -> Result<Value, Diagnostic> {
    match (value, key) {
        (Value::List(items), Value::Number(n)) => {
            if n.fract() != 0.0 || *n < 0.0 || *n as usize >= items.len() {
                return Err(ev.error(
                    at,
                    "Invalid index",
                    format!(
                        "index {} is out of range for a list of {} elements",
                        format_number(*n),
                        items.len()
                    ),
                ));
            }
            Ok(items[*n as usize].clone())
        }
        (Value::List(items), Value::String(s)) => match s.parse::<usize>() {
            Ok(i) if i < items.len() => Ok(items[i].clone()),
            _ => Err(ev.error(
                at,
                "Invalid index",
                format!("a list needs a number index, got \"{s}\""),
            )),
        },
        (Value::Map(map), key) => {
            let k = match key {
                Value::String(s) => s.clone(),
                Value::Number(n) => format_number(*n),
                other => {
                    return Err(ev.error(
                        at,
                        "Invalid index",
                        format!("a map needs a string key, got {}", other.type_name()),
                    ))
                }
            };
            map.get(&k).cloned().ok_or_else(|| {
                ev.error(
                    at,
                    "Invalid index",
                    format!("the given key \"{k}\" does not identify an element in this map"),
                )
            })
        }
        (Value::Null, _) => Err(ev.error(at, "Attempt to index null value", "cannot index null")),
        (other, _) => Err(ev.error(
            at,
            "Invalid index",
            format!("a {} cannot be indexed", other.type_name()),
        )),
    }
}
