//! Argument handling shared by every function: the table entry type, kinds and conversions,
//! and the [`Call`] an implementation receives with its checked helpers.

use std::collections::BTreeMap;

use super::{FunctionContext, FunctionError};
use crate::value::{format_number, Value};

/// The kind an argument is converted to before the implementation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) enum Mode {
    Strict,
    Shallow,
    Raw,
}

pub(super) type Imp = fn(&Call<'_>) -> Result<Value, FunctionError>;

/// One entry of the function table.
pub(super) struct Def {
    pub(super) name: &'static str,
    pub(super) sig: &'static str,
    pub(super) doc: &'static str,
    pub(super) params: &'static [Kind],
    pub(super) required: usize,
    pub(super) rest: Option<Kind>,
    pub(super) mode: Mode,
    pub(super) imp: Imp,
}

/// A table entry with no parameters, strict marks.
pub(super) const fn def(name: &'static str, sig: &'static str, doc: &'static str, imp: Imp) -> Def {
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
    pub(super) const fn args(mut self, params: &'static [Kind]) -> Def {
        self.params = params;
        self.required = params.len();
        self
    }
    /// The last `n` positional parameters are optional.
    pub(super) const fn optional(mut self, n: usize) -> Def {
        self.required = self.params.len() - n;
        self
    }
    /// Any number of further arguments of this kind.
    pub(super) const fn rest(mut self, kind: Kind) -> Def {
        self.rest = Some(kind);
        self
    }
    pub(super) const fn shallow(mut self) -> Def {
        self.mode = Mode::Shallow;
        self
    }
    pub(super) const fn raw(mut self) -> Def {
        self.mode = Mode::Raw;
        self
    }

    pub(super) fn kind_of(&self, i: usize) -> Kind {
        self.params
            .get(i)
            .copied()
            .or(self.rest)
            .unwrap_or(Kind::Any)
    }

    pub(super) fn check_arity(&self, got: usize) -> Result<(), FunctionError> {
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

pub(super) fn arg_error(name: &str, i: usize, msg: impl std::fmt::Display) -> FunctionError {
    FunctionError {
        message: format!("argument {} of {name}: {msg}", i + 1),
        argument: Some(i),
    }
}

/// Convert a plain (unmarked) top-level argument to `kind`; unknowns pass.
pub(super) fn convert(value: Value, kind: Kind, show: bool) -> Result<Value, String> {
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
pub(super) fn describe_string(s: &str, show: bool) -> String {
    if show {
        format!("string {s:?}")
    } else {
        "a sensitive string".to_string()
    }
}

/// Parse a number the way the language does: decimal notation only (no `inf`, `nan`, spaces).
pub(super) fn parse_number(s: &str) -> Option<f64> {
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
pub(super) fn primitive_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(format_number(*n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The longest string a function may build (16 MiB).
pub(super) const MAX_STRING_BYTES: usize = 16 << 20;

/// One call of an implementation: plain, converted arguments and where they came from.
pub(super) struct Call<'a> {
    pub(super) name: &'static str,
    pub(super) args: Vec<Value>,
    pub(super) sensitive: Vec<bool>,
    pub(super) ctx: &'a FunctionContext<'a>,
}

impl Call<'_> {
    pub(super) fn arg(&self, i: usize) -> &Value {
        self.args.get(i).unwrap_or(&Value::Null)
    }
    pub(super) fn len(&self) -> usize {
        self.args.len()
    }
    pub(super) fn err(&self, i: usize, msg: impl std::fmt::Display) -> FunctionError {
        arg_error(self.name, i, msg)
    }
    /// Refuse a result of `bytes` bytes before building it when it exceeds
    /// [`MAX_STRING_BYTES`]: a typo must not exhaust memory.
    pub(super) fn check_size(&self, bytes: usize) -> Result<(), FunctionError> {
        if bytes <= MAX_STRING_BYTES {
            return Ok(());
        }
        Err(self.fail(format!(
            "the result would be {bytes} bytes long, more than the {} MiB a string may hold",
            MAX_STRING_BYTES >> 20
        )))
    }
    pub(super) fn fail(&self, msg: impl std::fmt::Display) -> FunctionError {
        FunctionError {
            message: format!("{}: {msg}", self.name),
            argument: None,
        }
    }
    /// `"text"` quoted, or `(sensitive value)` if argument `i` is sensitive.
    pub(super) fn show(&self, i: usize, text: &str) -> String {
        if self.sensitive.get(i).copied().unwrap_or(false) {
            "(sensitive value)".to_string()
        } else {
            format!("{text:?}")
        }
    }
    pub(super) fn expected(&self, i: usize, what: &str) -> FunctionError {
        self.err(
            i,
            format!("expected {what}, got {}", self.arg(i).type_name()),
        )
    }
    pub(super) fn str(&self, i: usize) -> Result<&str, FunctionError> {
        self.arg(i)
            .as_str()
            .ok_or_else(|| self.expected(i, "a string"))
    }
    pub(super) fn num(&self, i: usize) -> Result<f64, FunctionError> {
        match self.arg(i) {
            Value::Number(n) => Ok(*n),
            _ => Err(self.expected(i, "a number")),
        }
    }
    pub(super) fn int(&self, i: usize) -> Result<i64, FunctionError> {
        let n = self.num(i)?;
        if n.fract() != 0.0 || !n.is_finite() || n.abs() > 9.007_199_254_740_992e15 {
            return Err(self.err(
                i,
                format!("expected a whole number, got {}", format_number(n)),
            ));
        }
        Ok(n as i64)
    }
    pub(super) fn list(&self, i: usize) -> Result<&[Value], FunctionError> {
        self.arg(i)
            .as_list()
            .ok_or_else(|| self.expected(i, "a list"))
    }
    pub(super) fn map(&self, i: usize) -> Result<&BTreeMap<String, Value>, FunctionError> {
        self.arg(i)
            .as_map()
            .ok_or_else(|| self.expected(i, "a map"))
    }
    /// Argument `i` as a list of strings (numbers and bools converted).
    pub(super) fn strings(&self, i: usize) -> Result<Vec<String>, FunctionError> {
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
