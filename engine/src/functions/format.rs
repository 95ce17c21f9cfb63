//! `format` and `formatlist`: printf-style formatting in the manner of Go's `fmt` (which
//! Terraform uses).
//!
//! Supported: `%%`, the verbs `v s q d f F e E g G t x X o b`, flags `- + # 0 space`, width,
//! `.precision` and explicit argument indexes `%[2]s`. `%v` of a list or map, and `%#v` of
//! anything, renders JSON.

use super::args::{parse_number, primitive_string, Call};
use super::FunctionError;
use crate::value::{format_number, Value};

/// A formatting failure; `arg` is the 0-based index among the values (not the spec).
struct FmtError {
    msg: String,
    arg: Option<usize>,
}

fn fmt_err(msg: impl Into<String>, arg: Option<usize>) -> FmtError {
    FmtError {
        msg: msg.into(),
        arg,
    }
}

pub(super) fn format(c: &Call) -> Result<Value, FunctionError> {
    let spec = c.str(0)?;
    let values: Vec<&Value> = c.args[1..].iter().collect();
    render(spec, &values)
        .map(Value::String)
        .map_err(|e| lift(c, e))
}

pub(super) fn formatlist(c: &Call) -> Result<Value, FunctionError> {
    let spec = c.str(0)?;
    let mut len: Option<(usize, usize)> = None;
    for (i, v) in c.args.iter().enumerate().skip(1) {
        if let Value::List(items) = v {
            match len {
                None => len = Some((i, items.len())),
                Some((first, l)) if l != items.len() => {
                    return Err(c.err(
                        i,
                        format!(
                            "has length {}, which is inconsistent with argument {} of length {l}",
                            items.len(),
                            first + 1
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
    }
    let count = len.map_or(1, |(_, l)| l);
    let mut out = Vec::with_capacity(count);
    let mut bytes = 0usize;
    for k in 0..count {
        let values: Vec<&Value> = c.args[1..]
            .iter()
            .map(|v| match v {
                Value::List(items) => &items[k],
                other => other,
            })
            .collect();
        let text = render(spec, &values).map_err(|e| lift(c, e))?;
        bytes = bytes.saturating_add(text.len());
        c.check_size(bytes)?;
        out.push(Value::String(text));
    }
    Ok(Value::List(out))
}

fn lift(c: &Call, e: FmtError) -> FunctionError {
    match e.arg {
        Some(i) => c.err(i + 1, e.msg),
        None => c.fail(e.msg),
    }
}

#[derive(Default)]
struct Flags {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
}

fn render(spec: &str, values: &[&Value]) -> Result<String, FmtError> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut used = vec![false; values.len()];
    let (mut i, mut next) = (0, 0);
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch != '%' {
            out.push(ch);
            continue;
        }
        let start = i - 1;
        if chars.get(i) == Some(&'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut flags = Flags::default();
        while let Some(f) = chars.get(i) {
            match f {
                '-' => flags.minus = true,
                '+' => flags.plus = true,
                '#' => flags.sharp = true,
                ' ' => flags.space = true,
                '0' => flags.zero = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'[') {
            let close = chars[i..].iter().position(|c| *c == ']');
            let index: Option<usize> =
                close.and_then(|k| chars[i + 1..i + k].iter().collect::<String>().parse().ok());
            match (close, index) {
                (Some(k), Some(n)) if n >= 1 => {
                    next = n - 1;
                    i += k + 1;
                }
                _ => {
                    return Err(fmt_err(
                        format!("invalid argument index at offset {start}"),
                        None,
                    ))
                }
            }
        }
        let width = digits(&chars, &mut i, start)?;
        let precision = if chars.get(i) == Some(&'.') {
            i += 1;
            Some(digits(&chars, &mut i, start)?.unwrap_or(0))
        } else {
            None
        };
        let Some(&verb) = chars.get(i) else {
            return Err(fmt_err(
                format!("format string ends with an incomplete verb at offset {start}"),
                None,
            ));
        };
        i += 1;
        let Some(value) = values.get(next) else {
            return Err(fmt_err(
                format!(
                    "not enough arguments for \"%{verb}\" at offset {start}: need {} but have only {}",
                    next + 1,
                    values.len()
                ),
                None,
            ));
        };
        used[next] = true;
        let text = one(verb, &flags, precision, value).map_err(|m| fmt_err(m, Some(next)))?;
        out.push_str(&pad(text, width, &flags, "dfFeEgGxXob".contains(verb)));
        next += 1;
    }
    let count = used.iter().filter(|u| **u).count();
    if count < values.len() {
        let first = used.iter().position(|u| !u);
        return Err(fmt_err(
            format!("too many arguments; only {count} used by format string"),
            first,
        ));
    }
    Ok(out)
}

/// The largest width or precision a verb may ask for: enough for any layout, and small enough
/// that a typo such as `%99999999d` is an error instead of gigabytes of padding.
const MAX_WIDTH: usize = 10_000;

/// A width or precision at `*i` (None when there are no digits), at most [`MAX_WIDTH`].
fn digits(chars: &[char], i: &mut usize, verb_start: usize) -> Result<Option<usize>, FmtError> {
    let start = *i;
    while chars.get(*i).is_some_and(char::is_ascii_digit) {
        *i += 1;
    }
    if start == *i {
        return Ok(None);
    }
    let text: String = chars[start..*i].iter().collect();
    match text.parse::<usize>() {
        Ok(n) if n <= MAX_WIDTH => Ok(Some(n)),
        _ => Err(fmt_err(
            format!(
                "width or precision {text} at offset {verb_start} is too large; at most {MAX_WIDTH} is allowed"
            ),
            None,
        )),
    }
}

fn pad(text: String, width: Option<usize>, flags: &Flags, numeric: bool) -> String {
    let len = text.chars().count();
    let Some(width) = width.filter(|w| *w > len) else {
        return text;
    };
    let fill = width - len;
    if flags.minus {
        format!("{text}{}", " ".repeat(fill))
    } else if flags.zero && numeric {
        let sign_len = usize::from(text.starts_with(['-', '+', ' ']));
        format!(
            "{}{}{}",
            &text[..sign_len],
            "0".repeat(fill),
            &text[sign_len..]
        )
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

fn number(verb: char, value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => Ok(*n),
        Value::String(s) => parse_number(s)
            .ok_or_else(|| format!("%{verb} requires a number, got a string that is not a number")),
        other => Err(format!(
            "%{verb} requires a number, got {}",
            other.type_name()
        )),
    }
}

fn signed(flags: &Flags, negative: bool, digits: String) -> String {
    let sign = if negative {
        "-"
    } else if flags.plus {
        "+"
    } else if flags.space {
        " "
    } else {
        ""
    };
    format!("{sign}{digits}")
}

fn one(
    verb: char,
    flags: &Flags,
    precision: Option<usize>,
    value: &Value,
) -> Result<String, String> {
    if value.is_null() && verb != 'v' {
        return Err(format!("a null value cannot be formatted with %{verb}"));
    }
    let text = match verb {
        'v' if flags.sharp => super::encoding::json_string(value),
        'v' => primitive_string(value).unwrap_or_else(|| super::encoding::json_string(value)),
        's' => {
            let s = primitive_string(value)
                .ok_or_else(|| format!("%s cannot format a {}", value.type_name()))?;
            match precision {
                Some(p) => s.chars().take(p).collect(),
                None => s,
            }
        }
        'q' => {
            let s = primitive_string(value)
                .ok_or_else(|| format!("%q cannot format a {}", value.type_name()))?;
            serde_json::Value::String(s).to_string()
        }
        't' => match value {
            Value::Bool(b) => b.to_string(),
            Value::String(s) if s == "true" || s == "false" => s.clone(),
            other => return Err(format!("%t requires a bool, got {}", other.type_name())),
        },
        'd' | 'x' | 'X' | 'o' | 'b' => {
            if verb == 'x' || verb == 'X' {
                if let Value::String(s) = value {
                    if parse_number(s).is_none() {
                        let hex = hex::encode(s.as_bytes());
                        return Ok(if verb == 'X' { hex.to_uppercase() } else { hex });
                    }
                }
            }
            let n = number(verb, value)?;
            if n.fract() != 0.0 || !n.is_finite() {
                return Err(format!(
                    "%{verb} requires a whole number, got {}",
                    format_number(n)
                ));
            }
            let abs = n.abs();
            let digits = if abs < 1.8e19 {
                let u = abs as u64;
                match verb {
                    'x' => format!("{u:x}"),
                    'X' => format!("{u:X}"),
                    'o' => format!("{u:o}"),
                    'b' => format!("{u:b}"),
                    _ => u.to_string(),
                }
            } else {
                format!("{abs:.0}")
            };
            signed(flags, n < 0.0, digits)
        }
        'f' | 'F' => {
            let n = number(verb, value)?;
            signed(
                flags,
                n.is_sign_negative() && n != 0.0,
                format!("{:.*}", precision.unwrap_or(6), n.abs()),
            )
        }
        'e' | 'E' => {
            let n = number(verb, value)?;
            let s = exponent(&format!("{:.*e}", precision.unwrap_or(6), n.abs()));
            let s = signed(flags, n < 0.0, s);
            if verb == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        'g' | 'G' => {
            let n = number(verb, value)?;
            let s = match precision {
                Some(p) => format!(
                    "{}",
                    format!("{:.*e}", p.saturating_sub(1), n.abs())
                        .parse::<f64>()
                        .unwrap_or(n.abs())
                ),
                None => format_number(n.abs()),
            };
            signed(flags, n < 0.0, s)
        }
        other => return Err(format!("unsupported format verb %{other}")),
    };
    Ok(text)
}

/// Rust writes `1.5e2`; Go writes `1.5e+02`.
fn exponent(rust: &str) -> String {
    match rust.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => rust.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::*;
    use crate::value::Value;

    fn f(spec: &str, args: Vec<Value>) -> String {
        let mut all = vec![s(spec)];
        all.extend(args);
        match ok("format", all) {
            Value::String(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn basic_verbs() {
        assert_eq!(f("Hello, %s!", vec![s("Ander")]), "Hello, Ander!");
        assert_eq!(f("There are %d lights", vec![n(4.0)]), "There are 4 lights");
        assert_eq!(f("%.2f", vec![n(1.23456)]), "1.23");
        assert_eq!(f("%f", vec![n(1.0)]), "1.000000");
        assert_eq!(
            f("%v %v %v", vec![s("a"), n(1.5), Value::Bool(true)]),
            "a 1.5 true"
        );
        assert_eq!(f("%v", vec![list(vec![n(1.0), s("x")])]), "[1,\"x\"]");
        assert_eq!(f("%#v", vec![s("a")]), "\"a\"");
        assert_eq!(f("%q", vec![s("say \"hi\"")]), "\"say \\\"hi\\\"\"");
        assert_eq!(f("100%%", vec![]), "100%");
        assert_eq!(f("%t", vec![Value::Bool(false)]), "false");
        assert_eq!(
            f("%x %X %o %b", vec![n(255.0), n(255.0), n(8.0), n(5.0)]),
            "ff FF 10 101"
        );
        assert_eq!(f("%x", vec![s("hi")]), "6869");
        assert_eq!(f("%e", vec![n(1500.0)]), "1.500000e+03");
        assert_eq!(f("%d", vec![s("42")]), "42");
        assert_eq!(f("%s", vec![n(42.0)]), "42");
    }

    #[test]
    fn width_flags_and_indexes() {
        assert_eq!(f("[%5s]", vec![s("ab")]), "[   ab]");
        assert_eq!(f("[%-5s]", vec![s("ab")]), "[ab   ]");
        assert_eq!(f("[%05d]", vec![n(-42.0)]), "[-0042]");
        assert_eq!(f("[%+d]", vec![n(7.0)]), "[+7]");
        assert_eq!(f("[%8.3f]", vec![n(1.23456)]), "[   1.235]");
        assert_eq!(f("%.3s", vec![s("abcdef")]), "abc");
        assert_eq!(f("%[2]s %[1]s", vec![s("a"), s("b")]), "b a");
    }

    #[test]
    fn errors() {
        let e = err("format", vec![s("%s %s"), s("a")]);
        assert!(
            e.message.starts_with("format: not enough arguments"),
            "{}",
            e.message
        );
        let e = err("format", vec![s("%s"), s("a"), s("b")]);
        assert_eq!(
            e.message,
            "argument 3 of format: too many arguments; only 1 used by format string"
        );
        let e = err("format", vec![s("%d"), n(1.5)]);
        assert_eq!(e.argument, Some(1));
        assert!(e.message.contains("whole number"));
        assert!(err("format", vec![s("%s"), list(vec![])])
            .message
            .contains("cannot format a list"));
        assert!(err("format", vec![s("%y"), n(1.0)])
            .message
            .contains("unsupported format verb %y"));
        assert!(err("format", vec![s("%d"), Value::Null])
            .message
            .contains("null"));
        assert!(err("format", vec![s("abc%")])
            .message
            .contains("incomplete verb"));
    }

    #[test]
    fn huge_widths_and_precisions_are_errors_not_gigabytes() {
        for spec in [
            "%999999999d",
            "%.99999999f",
            "%99999999999999999999999s",
            "%10001s",
        ] {
            let e = err("format", vec![s(spec), n(1.0)]);
            assert!(e.message.contains("too large"), "{spec}: {}", e.message);
        }
        let e = err("formatlist", vec![s("%9999999999s"), strs(&["a"])]);
        assert!(e.message.contains("too large"), "{}", e.message);
        assert_eq!(f("%10000s", vec![s("a")]).len(), 10_000);
    }

    #[test]
    fn formatlist_repeats_scalars() {
        assert_eq!(
            ok(
                "formatlist",
                vec![s("Hello, %s! (%s)"), strs(&["Valentina", "Ander"]), s("hi")]
            ),
            strs(&["Hello, Valentina! (hi)", "Hello, Ander! (hi)"])
        );
        assert_eq!(ok("formatlist", vec![s("%s"), s("x")]), strs(&["x"]));
        let e = err(
            "formatlist",
            vec![s("%s%s"), strs(&["a"]), strs(&["a", "b"])],
        );
        assert_eq!(e.argument, Some(2));
    }

    #[test]
    fn marks() {
        assert_eq!(ok("format", vec![s("%s"), Value::Unknown]), Value::Unknown);
        assert_eq!(
            ok("format", vec![s("<%s>"), secret(s("pw"))]),
            secret(s("<pw>"))
        );
        assert_eq!(
            ok("formatlist", vec![s("%s"), list(vec![Value::Unknown])]),
            Value::Unknown
        );
    }
}
