//! Evaluating a resource body against its type's schema: unknown arguments, missing required
//! ones, type conversion, defaults, nested blocks, and the sensitive mark of schema attributes.

use std::collections::BTreeMap;

use hcl_edit::structure::{Block, Body};
use hcl_edit::Span;

use super::InstanceScope;
use crate::config::{BodyExpr, Expr, IgnoreChanges, TypeConstraint};
use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics, SourceLocation};
use crate::eval::evaluate;
use crate::provider::{AttrType, BlockSchema, Nesting, Presence};
use crate::value::Value;

/// `lifecycle.ignore_changes`: put the prior values of ignored attributes into the
/// configuration, so that changes to them plan nothing.
pub fn keep_ignored_changes(
    ignore: &IgnoreChanges,
    schema: &BlockSchema,
    prior: &Value,
    config: &mut Value,
) {
    let names: Vec<String> = match ignore {
        IgnoreChanges::None => return,
        IgnoreChanges::All => schema
            .attributes
            .iter()
            .filter(|(_, a)| a.is_settable())
            .map(|(n, _)| n.clone())
            .collect(),
        IgnoreChanges::Attributes(names) => names.clone(),
    };
    for name in names {
        if let Some(v) = prior.get(&name) {
            config.set_or_insert(&name, v.clone());
        }
    }
}

/// The type constraint that converts values to a schema type.
pub fn attr_type_constraint(t: &AttrType) -> TypeConstraint {
    match t {
        AttrType::String => TypeConstraint::String,
        AttrType::Number => TypeConstraint::Number,
        AttrType::Bool => TypeConstraint::Bool,
        AttrType::List(inner) => TypeConstraint::List(Box::new(attr_type_constraint(inner))),
        AttrType::Set(inner) => TypeConstraint::Set(Box::new(attr_type_constraint(inner))),
        AttrType::Map(inner) => TypeConstraint::Map(Box::new(attr_type_constraint(inner))),
        AttrType::Any => TypeConstraint::Any,
    }
}

/// Evaluate a body into an object holding every schema attribute (null when unset) and every
/// nested block type. Problems are added to `diags`; the returned value is best effort.
pub fn eval_body(
    scope: &InstanceScope<'_>,
    body: &BodyExpr,
    schema: &BlockSchema,
    what: &str,
    location: &SourceLocation,
    diags: &mut Diagnostics,
) -> Value {
    eval_inner(scope, &body.body, body, schema, what, location, diags)
}

fn eval_inner(
    scope: &InstanceScope<'_>,
    body: &Body,
    source: &BodyExpr,
    schema: &BlockSchema,
    what: &str,
    location: &SourceLocation,
    diags: &mut Diagnostics,
) -> Value {
    let mut out = BTreeMap::new();
    for attr in body.attributes() {
        let name = attr.key.as_str();
        let at = source.file.location_of(attr.span());
        let Some(attr_schema) = schema.attributes.get(name) else {
            diags.push(unsupported(name, schema, what, at, false));
            continue;
        };
        if attr_schema.presence == Presence::Computed {
            diags.push(Diagnostic::error(
                "Value for unconfigurable attribute",
                format!("\"{name}\" of {what} is computed by the provider and cannot be set"),
                Some(at),
            ));
            continue;
        }
        let expr = Expr {
            expr: attr.value.clone(),
            file: source.file.clone(),
        };
        let value = match evaluate(&expr, scope) {
            Ok(v) => v,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let value = match attr_type_constraint(&attr_schema.attr_type).convert(value) {
            Ok(v) => v,
            Err(e) => {
                diags.push(Diagnostic::error(
                    "Incorrect attribute value type",
                    format!(
                        "\"{name}\" of {what}: {e} (expected {})",
                        attr_schema.attr_type.describe()
                    ),
                    Some(expr.location()),
                ));
                continue;
            }
        };
        out.insert(name.to_string(), value);
    }
    for (name, attr_schema) in &schema.attributes {
        if out.contains_key(name) {
            continue;
        }
        if attr_schema.presence == Presence::Required {
            diags.push(Diagnostic::error(
                "Missing required argument",
                format!("the argument \"{name}\" is required by {what}, but it is not set"),
                Some(location.clone()),
            ));
        }
        out.insert(
            name.clone(),
            attr_schema.default.clone().unwrap_or(Value::Null),
        );
    }
    eval_blocks(scope, body, source, schema, what, location, diags, &mut out);
    for (name, attr_schema) in &schema.attributes {
        if attr_schema.sensitive {
            if let Some(v) = out.remove(name) {
                let v = if v.is_null() { v } else { v.into_sensitive() };
                out.insert(name.clone(), v);
            }
        }
    }
    Value::Map(out)
}

#[allow(clippy::too_many_arguments)]
fn eval_blocks(
    scope: &InstanceScope<'_>,
    body: &Body,
    source: &BodyExpr,
    schema: &BlockSchema,
    what: &str,
    location: &SourceLocation,
    diags: &mut Diagnostics,
    out: &mut BTreeMap<String, Value>,
) {
    let mut found: BTreeMap<String, Vec<&Block>> = BTreeMap::new();
    for block in body.blocks() {
        let name = block.ident.as_str();
        if schema.blocks.contains_key(name) {
            found.entry(name.to_string()).or_default().push(block);
        } else {
            diags.push(unsupported(
                name,
                schema,
                what,
                source.file.location_of(block.span()),
                true,
            ));
        }
    }
    for (name, nested) in &schema.blocks {
        let blocks = found.remove(name).unwrap_or_default();
        let inner_what = format!("a {name} block");
        let values: Vec<Value> = blocks
            .iter()
            .map(|b| {
                let at = source.file.location_of(b.span());
                eval_inner(
                    scope,
                    &b.body,
                    source,
                    &nested.block,
                    &inner_what,
                    &at,
                    diags,
                )
            })
            .collect();
        if nested.required && values.is_empty() {
            diags.push(Diagnostic::error(
                "Missing required block",
                format!("{what} needs at least one \"{name}\" block"),
                Some(location.clone()),
            ));
        }
        let value = match nested.nesting {
            Nesting::List => Value::List(values),
            Nesting::Single => {
                if values.len() > 1 {
                    diags.push(Diagnostic::error(
                        "Too many blocks",
                        format!("{what} takes at most one \"{name}\" block"),
                        Some(source.file.location_of(blocks[1].span())),
                    ));
                }
                values.into_iter().next().unwrap_or(Value::Null)
            }
        };
        out.insert(name.clone(), value);
    }
}

pub(crate) fn unsupported(
    name: &str,
    schema: &BlockSchema,
    what: &str,
    at: SourceLocation,
    is_block: bool,
) -> Diagnostic {
    let kind = if is_block { "block type" } else { "argument" };
    let mut d = Diagnostic::error(
        format!("Unsupported {kind}"),
        format!("{what} has no {kind} named \"{name}\""),
        Some(at),
    );
    let candidates = schema
        .attributes
        .iter()
        .filter(|(_, a)| a.is_settable())
        .map(|(n, _)| n.as_str())
        .chain(schema.blocks.keys().map(String::as_str));
    if let Some(h) = did_you_mean(name, candidates) {
        d = d.with_help(h);
    } else if !is_block && schema.blocks.contains_key(name) {
        d = d.with_help(format!("\"{name}\" is a block: write {name} {{ ... }}"));
    }
    d
}
