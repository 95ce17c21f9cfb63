//! The built-in function library of the mesh language, with Terraform-compatible semantics.
//!
//! Every function is described once in a per-concept table (`DEFS` in each submodule): its
//! name, signature, description, parameter kinds and how it treats marks. [`call`] checks the
//! argument count, converts arguments to the expected kinds the way Terraform does (a number or
//! bool where a string is expected becomes a string, a numeric string where a number is expected
//! becomes a number), handles marks, and then runs the implementation on plain data.
//!
//! # Marks
//!
//! Sensitivity: if any argument contains a sensitive value anywhere, the whole result is wrapped
//! in [`Value::Sensitive`] (inner sensitive wrappers are stripped, so the result carries exactly
//! one mark at its top). Error messages never quote the contents of a sensitive argument.
//!
//! Unknowns, per function (see each table entry's mode):
//! - strict (the default): any unknown anywhere in any argument makes the result unknown;
//! - shallow: only a top-level unknown argument makes the result unknown; unknowns inside known
//!   collections are carried through (`length`, `keys`, `values`, `lookup`, `merge`, `concat`,
//!   `element`, `slice`, `reverse`, `one`, `chunklist`, `zipmap` values, `tolist`, `tomap`,
//!   `templatefile` variables, ...);
//! - raw: the function sees unknowns itself (`coalesce`, `coalescelist`: a known qualifying
//!   argument before any unknown one is returned as is).
//!
//! Argument type errors are reported even when another argument is unknown.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use crate::value::{Marks, Value};

mod args;
mod collections;
mod conversion;
mod encoding;
mod filesystem;
mod format;
mod maps;
mod network;
mod numeric;
mod sets;
mod strings;
#[cfg(test)]
mod tests;

use args::{arg_error, convert, Call, Def, Mode};

/// What a function may need from its surroundings.
pub struct FunctionContext<'a> {
    /// Directory that relative paths in `file`/`templatefile` are resolved against (the module's dir).
    pub base_dir: &'a Path,
    /// Renders an HCL template string with the given variables (the evaluator provides this; it
    /// parses with `hcl_edit::parser::parse_template` and evaluates). Err is a message.
    pub render_template: &'a TemplateRenderer<'a>,
}

/// The type of [`FunctionContext::render_template`]: renders template text with variables.
pub type TemplateRenderer<'a> =
    dyn Fn(&str, &BTreeMap<String, Value>) -> Result<Value, String> + 'a;

/// A function call failed; `message` says what was expected, e.g. "argument 2 of substr:
/// expected a number, got string". `argument` is the 0-based index of the argument at fault when
/// known (the evaluator points the diagnostic at it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct FunctionError {
    /// What went wrong, naming the function and, when relevant, the argument.
    pub message: String,
    /// The 0-based index of the argument at fault, when known.
    pub argument: Option<usize>,
}

/// Call a function by name. `try` and `can` are NOT here (the evaluator handles them lazily).
pub fn call(name: &str, args: Vec<Value>, ctx: &FunctionContext) -> Result<Value, FunctionError> {
    let def = find(name).ok_or_else(|| unknown_function(name))?;
    def.check_arity(args.len())?;
    let sensitive: Vec<bool> = args.iter().map(|a| a.deep_marks().sensitive).collect();
    let marks = args
        .iter()
        .fold(Marks::default(), |m, a| m.union(a.deep_marks()));
    let mut plain = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        let value = convert(arg.strip_sensitive(), def.kind_of(i), !sensitive[i])
            .map_err(|msg| arg_error(def.name, i, msg))?;
        plain.push(value);
    }
    let unknown = match def.mode {
        Mode::Strict => marks.unknown,
        Mode::Shallow => plain.iter().any(|v| matches!(v, Value::Unknown)),
        Mode::Raw => false,
    };
    if unknown {
        return Ok(marks.apply(Value::Unknown));
    }
    let call = Call {
        name: def.name,
        args: plain,
        sensitive,
        ctx,
    };
    let result = (def.imp)(&call)?;
    if has_non_finite(&result) {
        // JSON (state, plans) has no infinity or NaN: such a value would turn into null.
        return Err(call.fail(
            "the result is not a finite number (it is too large, or undefined such as log(0, 0))",
        ));
    }
    Ok(if marks.sensitive {
        result.into_sensitive()
    } else {
        result
    })
}

/// Whether a value holds an infinity or NaN anywhere.
fn has_non_finite(value: &Value) -> bool {
    match value {
        Value::Number(n) => !n.is_finite(),
        Value::List(items) => items.iter().any(has_non_finite),
        Value::Map(map) => map.values().any(has_non_finite),
        Value::Sensitive(inner) => has_non_finite(inner),
        _ => false,
    }
}

/// Every function name, sorted (for did-you-mean and docs).
pub fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| table().iter().map(|d| d.name).collect())
}

/// One-line description and signature per function, for the generated language reference:
/// (name, signature, description), sorted by name.
pub fn docs() -> Vec<(&'static str, &'static str, &'static str)> {
    table().iter().map(|d| (d.name, d.sig, d.doc)).collect()
}

fn table() -> &'static [&'static Def] {
    static TABLE: OnceLock<Vec<&'static Def>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<&'static Def> = [
            collections::DEFS,
            conversion::DEFS,
            encoding::DEFS,
            filesystem::DEFS,
            maps::DEFS,
            network::DEFS,
            numeric::DEFS,
            sets::DEFS,
            strings::DEFS,
        ]
        .iter()
        .flat_map(|defs| defs.iter())
        .collect();
        all.sort_by_key(|d| d.name);
        all
    })
}

fn find(name: &str) -> Option<&'static Def> {
    let t = table();
    t.binary_search_by_key(&name, |d| d.name).ok().map(|i| t[i])
}

fn unknown_function(name: &str) -> FunctionError {
    let lower = name.to_lowercase();
    let best = names()
        .iter()
        .map(|n| (strsim::levenshtein(&lower, n), *n))
        .min();
    let hint = match best {
        Some((d, n)) if d <= 2.max(name.chars().count() / 3) && d < name.chars().count() => {
            format!(", did you mean \"{n}\"?")
        }
        _ => String::new(),
    };
    FunctionError {
        message: format!("unknown function \"{name}\"{hint}"),
        argument: None,
    }
}
