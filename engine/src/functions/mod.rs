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

use crate::value::{format_number, Marks, Value};

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

/// What a function may need from its surroundings.
pub struct FunctionContext<'a> {
    /// Directory that relative paths in `file`/`templatefile` are resolved against (the module's dir).
    pub base_dir: &'a Path,
    /// Renders an HCL template string with the given variables (the evaluator provides this; it
    /// parses with `hcl_edit::parser::parse_template` and evaluates). Err is a message.
    pub render_template: &'a TemplateRenderer<'a>,
}

/// The type of [`FunctionContext::render_template`]: renders template text with variables.
pub type TemplateRenderer<'a> = dyn Fn(&str, &BTreeMap<String, Value>) -> Result<Value, String> + 'a;

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
    Ok(if marks.sensitive {
        result.into_sensitive()
    } else {
        result
    })
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

/// The kind an argument is converted to before the implementation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Anything, including null; no conversion.
    Any,
    /// A string; numbers and bools are converted.
    Str,
    /// A number; numeric strings are converted.
    Num,
    /// A list (or tuple or set).
    List,
    /// A map (or object).
    Map,
}

/// How a function treats unknown arguments (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Strict,
    Shallow,
    Raw,
}

type Imp = fn(&Call<'_>) -> Result<Value, FunctionError>;

/// One entry of the function table.
struct Def {
    name: &'static str,
    sig: &'static str,
    doc: &'static str,
    params: &'static [Kind],
    required: usize,
    rest: Option<Kind>,
    mode: Mode,
    imp: Imp,
}

/// A table entry with no parameters, strict marks.
const fn def(name: &'static str, sig: &'static str, doc: &'static str, imp: Imp) -> Def {
    Def {
        name,
        sig,
        doc,
        params: &[],
        required: 0,
        rest: None,
        mode: Mode::Strict,
        imp,
    }
}

impl Def {
    /// Positional parameters, all required.
    const fn args(mut self, params: &'static [Kind]) -> Def {
        self.params = params;
        self.required = params.len();
        self
    }
    /// The last `n` positional parameters are optional.
    const fn optional(mut self, n: usize) -> Def {
        self.required = self.params.len() - n;
        self
    }
    /// Any number of further arguments of this kind.
    const fn rest(mut self, kind: Kind) -> Def {
        self.rest = Some(kind);
        self
    }
    const fn shallow(mut self) -> Def {
        self.mode = Mode::Shallow;
        self
    }
    const fn raw(mut self) -> Def {
        self.mode = Mode::Raw;
        self
    }

    fn kind_of(&self, i: usize) -> Kind {
        self.params
            .get(i)
            .copied()
            .or(self.rest)
            .unwrap_or(Kind::Any)
    }

    fn check_arity(&self, got: usize) -> Result<(), FunctionError> {
        let max = if self.rest.is_some() {
            usize::MAX
        } else {
            self.params.len()
        };
        if got >= self.required && got <= max {
            return Ok(());
        }
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        let expected = if self.rest.is_some() {
            format!("at least {} {}", self.required, plural(self.required))
        } else if self.required == max {
            format!("exactly {} {}", max, plural(max))
        } else {
            format!("{} to {} arguments", self.required, max)
        };
        Err(FunctionError {
            message: format!("{} expects {expected}, got {got}", self.name),
            argument: (got > max).then_some(max),
        })
    }
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

fn arg_error(name: &str, i: usize, msg: impl std::fmt::Display) -> FunctionError {
    FunctionError {
        message: format!("argument {} of {name}: {msg}", i + 1),
        argument: Some(i),
    }
}

/// Convert a plain (unmarked) top-level argument to `kind`; unknowns pass.
fn convert(value: Value, kind: Kind, show: bool) -> Result<Value, String> {
    let got = value.type_name();
    let mismatch = |what: &str| format!("expected {what}, got {got}");
    match (kind, value) {
        (Kind::Any, v) | (_, v @ Value::Unknown) => Ok(v),
        (Kind::Str, Value::String(s)) => Ok(Value::String(s)),
        (Kind::Str, Value::Number(n)) => Ok(Value::String(format_number(n))),
        (Kind::Str, Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (Kind::Str, _) => Err(mismatch("a string")),
        (Kind::Num, Value::Number(n)) => Ok(Value::Number(n)),
        (Kind::Num, Value::String(s)) => parse_number(&s)
            .map(Value::Number)
            .ok_or_else(|| format!("expected a number, got {}", describe_string(&s, show))),
        (Kind::Num, _) => Err(mismatch("a number")),
        (Kind::List, v @ Value::List(_)) => Ok(v),
        (Kind::List, _) => Err(mismatch("a list")),
        (Kind::Map, v @ Value::Map(_)) => Ok(v),
        (Kind::Map, _) => Err(mismatch("a map")),
    }
}

/// `string "abc"`, or `a sensitive string` when it must not be shown.
fn describe_string(s: &str, show: bool) -> String {
    if show {
        format!("string {s:?}")
    } else {
        "a sensitive string".to_string()
    }
}

/// Parse a number the way the language does: decimal notation only (no `inf`, `nan`, spaces).
fn parse_number(s: &str) -> Option<f64> {
    let ok = !s.is_empty()
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

/// A primitive value as a string (strings, numbers, bools), for functions that take lists of strings.
fn primitive_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(format_number(*n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One call of an implementation: plain, converted arguments and where they came from.
struct Call<'a> {
    name: &'static str,
    args: Vec<Value>,
    sensitive: Vec<bool>,
    ctx: &'a FunctionContext<'a>,
}

impl Call<'_> {
    fn arg(&self, i: usize) -> &Value {
        self.args.get(i).unwrap_or(&Value::Null)
    }
    fn len(&self) -> usize {
        self.args.len()
    }
    fn err(&self, i: usize, msg: impl std::fmt::Display) -> FunctionError {
        arg_error(self.name, i, msg)
    }
    fn fail(&self, msg: impl std::fmt::Display) -> FunctionError {
        FunctionError {
            message: format!("{}: {msg}", self.name),
            argument: None,
        }
    }
    /// `"text"` quoted, or `(sensitive value)` if argument `i` is sensitive.
    fn show(&self, i: usize, text: &str) -> String {
        if self.sensitive.get(i).copied().unwrap_or(false) {
            "(sensitive value)".to_string()
        } else {
            format!("{text:?}")
        }
    }
    fn expected(&self, i: usize, what: &str) -> FunctionError {
        self.err(
            i,
            format!("expected {what}, got {}", self.arg(i).type_name()),
        )
    }
    fn str(&self, i: usize) -> Result<&str, FunctionError> {
        self.arg(i)
            .as_str()
            .ok_or_else(|| self.expected(i, "a string"))
    }
    fn num(&self, i: usize) -> Result<f64, FunctionError> {
        match self.arg(i) {
            Value::Number(n) => Ok(*n),
            _ => Err(self.expected(i, "a number")),
        }
    }
    fn int(&self, i: usize) -> Result<i64, FunctionError> {
        let n = self.num(i)?;
        if n.fract() != 0.0 || !n.is_finite() || n.abs() > 9.007_199_254_740_992e15 {
            return Err(self.err(
                i,
                format!("expected a whole number, got {}", format_number(n)),
            ));
        }
        Ok(n as i64)
    }
    fn list(&self, i: usize) -> Result<&[Value], FunctionError> {
        self.arg(i)
            .as_list()
            .ok_or_else(|| self.expected(i, "a list"))
    }
    fn map(&self, i: usize) -> Result<&BTreeMap<String, Value>, FunctionError> {
        self.arg(i)
            .as_map()
            .ok_or_else(|| self.expected(i, "a map"))
    }
    /// Argument `i` as a list of strings (numbers and bools converted).
    fn strings(&self, i: usize) -> Result<Vec<String>, FunctionError> {
        self.list(i)?
            .iter()
            .enumerate()
            .map(|(j, v)| {
                primitive_string(v).ok_or_else(|| {
                    self.err(
                        i,
                        format!("element {j}: expected a string, got {}", v.type_name()),
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod test_support {
    use super::*;

    /// Call with a context rooted at `.` whose template renderer substitutes `${name}`.
    pub(super) fn run(name: &str, args: Vec<Value>) -> Result<Value, FunctionError> {
        run_in(Path::new("."), name, args)
    }

    pub(super) fn run_in(dir: &Path, name: &str, args: Vec<Value>) -> Result<Value, FunctionError> {
        let render = |tpl: &str, vars: &BTreeMap<String, Value>| -> Result<Value, String> {
            let mut out = tpl.to_string();
            for (k, v) in vars {
                if matches!(v, Value::Unknown) && out.contains(&format!("${{{k}}}")) {
                    return Ok(Value::Unknown);
                }
                let text = primitive_string(v).ok_or_else(|| format!("{k} is not a string"))?;
                out = out.replace(&format!("${{{k}}}"), &text);
            }
            Ok(Value::String(out))
        };
        let ctx = FunctionContext {
            base_dir: dir,
            render_template: &render,
        };
        call(name, args, &ctx)
    }

    pub(super) fn ok(name: &str, args: Vec<Value>) -> Value {
        run(name, args).unwrap_or_else(|e| panic!("{name} failed: {e}"))
    }

    pub(super) fn err(name: &str, args: Vec<Value>) -> FunctionError {
        match run(name, args) {
            Ok(v) => panic!("{name} unexpectedly returned {v:?}"),
            Err(e) => e,
        }
    }

    pub(super) fn s(text: &str) -> Value {
        Value::string(text)
    }

    pub(super) fn n(x: f64) -> Value {
        Value::Number(x)
    }

    pub(super) fn list(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    pub(super) fn strs(items: &[&str]) -> Value {
        Value::List(items.iter().map(|t| s(t)).collect())
    }

    pub(super) fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    pub(super) fn secret(v: Value) -> Value {
        v.into_sensitive()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_documented() {
        let all = names();
        assert!(
            all.windows(2).all(|w| w[0] < w[1]),
            "duplicate or unsorted names"
        );
        for (name, sig, doc) in docs() {
            assert!(
                sig.starts_with(&format!("{name}(")),
                "signature of {name}: {sig}"
            );
            assert!(!doc.is_empty() && doc.ends_with('.'), "doc of {name}");
        }
        assert!(!all.contains(&"try") && !all.contains(&"can"));
    }

    #[test]
    fn unknown_function_suggests() {
        let e = err("uper", vec![s("a")]);
        assert_eq!(
            e.message,
            "unknown function \"uper\", did you mean \"upper\"?"
        );
        assert_eq!(e.argument, None);
        let e = err("frobnicate", vec![]);
        assert_eq!(e.message, "unknown function \"frobnicate\"");
    }

    #[test]
    fn arity_errors() {
        let e = err("substr", vec![s("a"), n(1.0)]);
        assert_eq!(e.message, "substr expects exactly 3 arguments, got 2");
        let e = err("upper", vec![s("a"), s("b")]);
        assert_eq!(e.argument, Some(1));
        let e = err("lookup", vec![map(&[])]);
        assert_eq!(e.message, "lookup expects 2 to 3 arguments, got 1");
        let e = err("min", vec![]);
        assert_eq!(e.message, "min expects at least 1 argument, got 0");
    }

    #[test]
    fn type_errors_name_the_argument() {
        let e = err("substr", vec![s("abc"), s("x"), n(1.0)]);
        assert_eq!(
            e.message,
            "argument 2 of substr: expected a number, got string \"x\""
        );
        assert_eq!(e.argument, Some(1));
        let e = err("upper", vec![list(vec![])]);
        assert_eq!(
            e.message,
            "argument 1 of upper: expected a string, got list"
        );
        // Type errors win over unknowns in other arguments.
        let e = err("substr", vec![Value::Unknown, list(vec![]), n(1.0)]);
        assert_eq!(e.argument, Some(1));
        // Sensitive strings are not quoted.
        let e = err("substr", vec![s("abc"), secret(s("hunter2")), n(1.0)]);
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }

    #[test]
    fn conversions_on_arguments() {
        assert_eq!(ok("upper", vec![n(5.0)]), s("5"));
        assert_eq!(ok("substr", vec![s("hello"), s("1"), s("3")]), s("ell"));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("-1.5e2"), Some(-150.0));
    }

    #[test]
    fn marks_propagate() {
        assert_eq!(ok("upper", vec![Value::Unknown]), Value::Unknown);
        assert_eq!(ok("upper", vec![secret(s("a"))]), secret(s("A")));
        assert_eq!(
            ok("upper", vec![secret(Value::Unknown)]),
            secret(Value::Unknown)
        );
        // Deep unknown in a strict function.
        assert_eq!(
            ok("join", vec![s(","), list(vec![s("a"), Value::Unknown])]),
            Value::Unknown
        );
        // Deep sensitive anywhere wraps the result.
        assert_eq!(
            ok("join", vec![s(","), list(vec![s("a"), secret(s("b"))])]),
            secret(s("a,b"))
        );
        // Unknown and sensitive in different arguments.
        assert_eq!(
            ok("join", vec![secret(s(",")), list(vec![Value::Unknown])]),
            secret(Value::Unknown)
        );
    }
}
