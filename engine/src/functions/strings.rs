//! String functions: case, trimming, splitting, joining, substrings.
//!
//! Lengths and offsets count Unicode scalar values (Terraform counts grapheme clusters; the two
//! differ only for combining sequences).

use super::args::Kind::*;
use super::args::{def, Call, Def};
use super::FunctionError;
use crate::value::Value;

#[rustfmt::skip]
pub(super) const DEFS: &[Def] = &[
    def("chomp", "chomp(string) string", "Removes newline characters at the end of a string.", chomp).args(&[Str]),
    def("endswith", "endswith(string, suffix) bool", "Whether the string ends with the suffix.", endswith).args(&[Str, Str]),
    def("indent", "indent(spaces, string) string", "Adds spaces to the start of every line but the first.", indent).args(&[Num, Str]),
    def("format", "format(spec, values...) string", "Produces a string from a printf-style specification (%s %d %f %v %q %t %x %e %%, widths, flags, precision).", super::format::format).args(&[Str]).rest(Any),
    def("formatlist", "formatlist(spec, values...) list(string)", "Like format, once per element of the list arguments (which must have equal lengths).", super::format::formatlist).args(&[Str]).rest(Any),
    def("join", "join(separator, list...) string", "Concatenates the elements of one or more lists of strings with a separator.", join).args(&[Str, List]).rest(List),
    def("lower", "lower(string) string", "Converts letters to lower case.", lower).args(&[Str]),
    def("replace", "replace(string, substring, replacement) string", "Replaces every occurrence of a substring (regular expressions are not supported).", replace).args(&[Str, Str, Str]),
    def("split", "split(separator, string) list(string)", "Divides a string into a list at every occurrence of the separator.", split).args(&[Str, Str]),
    def("startswith", "startswith(string, prefix) bool", "Whether the string starts with the prefix.", startswith).args(&[Str, Str]),
    def("strcontains", "strcontains(string, substring) bool", "Whether the string contains the substring.", strcontains).args(&[Str, Str]),
    def("strrev", "strrev(string) string", "Reverses the characters of a string.", strrev).args(&[Str]),
    def("substr", "substr(string, offset, length) string", "Extracts characters by offset (negative counts from the end) and length (negative means to the end).", substr).args(&[Str, Num, Num]),
    def("title", "title(string) string", "Converts the first letter of every word to upper case.", title).args(&[Str]),
    def("trim", "trim(string, characters) string", "Removes any of the given characters from both ends of a string.", trim).args(&[Str, Str]),
    def("trimprefix", "trimprefix(string, prefix) string", "Removes a prefix from a string, if present.", trimprefix).args(&[Str, Str]),
    def("trimspace", "trimspace(string) string", "Removes whitespace from both ends of a string.", trimspace).args(&[Str]),
    def("trimsuffix", "trimsuffix(string, suffix) string", "Removes a suffix from a string, if present.", trimsuffix).args(&[Str, Str]),
    def("upper", "upper(string) string", "Converts letters to upper case.", upper).args(&[Str]),
];

fn string(s: impl Into<String>) -> Result<Value, FunctionError> {
    Ok(Value::String(s.into()))
}

fn chomp(c: &Call) -> Result<Value, FunctionError> {
    string(c.str(0)?.trim_end_matches(['\n', '\r']))
}

fn endswith(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::Bool(c.str(0)?.ends_with(c.str(1)?)))
}

fn startswith(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::Bool(c.str(0)?.starts_with(c.str(1)?)))
}

fn strcontains(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::Bool(c.str(0)?.contains(c.str(1)?)))
}

fn indent(c: &Call) -> Result<Value, FunctionError> {
    let spaces = c.int(0)?;
    if spaces < 0 {
        return Err(c.err(0, "the number of spaces must not be negative"));
    }
    let text = c.str(1)?;
    let lines = text.matches('\n').count();
    if lines == 0 {
        // Nothing to indent: the padding is never built, whatever its size.
        return string(text);
    }
    c.check_size(
        text.len()
            .saturating_add(lines.saturating_mul(spaces as usize)),
    )?;
    let pad = " ".repeat(spaces as usize);
    string(text.replace('\n', &format!("\n{pad}")))
}

fn join(c: &Call) -> Result<Value, FunctionError> {
    let sep = c.str(0)?;
    let mut parts = Vec::new();
    for i in 1..c.len() {
        for (j, v) in c.list(i)?.iter().enumerate() {
            match super::args::primitive_string(v) {
                Some(s) => parts.push(s),
                None if v.is_null() => return Err(c.err(i, format!("element {j} is null"))),
                None => {
                    return Err(c.err(
                        i,
                        format!("element {j}: expected a string, got {}", v.type_name()),
                    ))
                }
            }
        }
    }
    let bytes = parts.iter().map(String::len).sum::<usize>();
    c.check_size(bytes.saturating_add(parts.len().saturating_mul(sep.len())))?;
    string(parts.join(sep))
}

fn lower(c: &Call) -> Result<Value, FunctionError> {
    string(c.str(0)?.to_lowercase())
}

fn upper(c: &Call) -> Result<Value, FunctionError> {
    string(c.str(0)?.to_uppercase())
}

fn title(c: &Call) -> Result<Value, FunctionError> {
    let mut out = String::new();
    let mut at_start = true;
    for ch in c.str(0)?.chars() {
        if at_start && ch.is_alphabetic() {
            out.extend(ch.to_uppercase());
        } else {
            out.push(ch);
        }
        at_start = !(ch.is_alphanumeric() || ch == '_');
    }
    string(out)
}

fn replace(c: &Call) -> Result<Value, FunctionError> {
    let (s, pattern, with) = (c.str(0)?, c.str(1)?, c.str(2)?);
    if pattern.len() > 1 && pattern.starts_with('/') && pattern.ends_with('/') {
        return Err(c.err(1, "regular expression patterns (/.../) are not supported"));
    }
    let hits = if pattern.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(pattern).count()
    };
    c.check_size(s.len().saturating_add(hits.saturating_mul(with.len())))?;
    string(s.replace(pattern, with))
}

fn split(c: &Call) -> Result<Value, FunctionError> {
    let (sep, s) = (c.str(0)?, c.str(1)?);
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|ch| Value::String(ch.to_string())).collect()
    } else {
        s.split(sep).map(Value::string).collect()
    };
    Ok(Value::List(parts))
}

fn strrev(c: &Call) -> Result<Value, FunctionError> {
    string(c.str(0)?.chars().rev().collect::<String>())
}

fn substr(c: &Call) -> Result<Value, FunctionError> {
    let chars: Vec<char> = c.str(0)?.chars().collect();
    let total = chars.len() as i64;
    let (mut offset, length) = (c.int(1)?, c.int(2)?);
    if offset < 0 {
        offset = (total + offset).max(0);
    }
    if offset >= total {
        return string("");
    }
    let end = if length < 0 {
        total
    } else {
        (offset + length).min(total)
    };
    string(
        chars[offset as usize..end as usize]
            .iter()
            .collect::<String>(),
    )
}

fn trim(c: &Call) -> Result<Value, FunctionError> {
    let cutset: Vec<char> = c.str(1)?.chars().collect();
    string(c.str(0)?.trim_matches(|ch| cutset.contains(&ch)))
}

fn trimprefix(c: &Call) -> Result<Value, FunctionError> {
    let s = c.str(0)?;
    string(s.strip_prefix(c.str(1)?).unwrap_or(s))
}

fn trimsuffix(c: &Call) -> Result<Value, FunctionError> {
    let s = c.str(0)?;
    string(s.strip_suffix(c.str(1)?).unwrap_or(s))
}

fn trimspace(c: &Call) -> Result<Value, FunctionError> {
    string(c.str(0)?.trim())
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::*;
    use crate::value::Value;

    #[test]
    fn case() {
        assert_eq!(ok("lower", vec![s("HeLLo")]), s("hello"));
        assert_eq!(ok("upper", vec![s("héllo")]), s("HÉLLO"));
        assert_eq!(
            ok("title", vec![s("hello world-wide web_site")]),
            s("Hello World-Wide Web_site")
        );
        assert!(err("lower", vec![Value::Null]).message.contains("got null"));
        assert!(err("title", vec![map(&[])])
            .message
            .contains("expected a string"));
    }

    #[test]
    fn join_and_split() {
        assert_eq!(
            ok("join", vec![s(", "), strs(&["a", "b"]), list(vec![n(3.0)])]),
            s("a, b, 3")
        );
        assert_eq!(ok("join", vec![s("-"), list(vec![])]), s(""));
        let e = err("join", vec![s(","), list(vec![Value::Null])]);
        assert_eq!(e.message, "argument 2 of join: element 0 is null");
        assert!(err("join", vec![s(",")]).message.contains("at least 2"));
        assert_eq!(
            ok("split", vec![s(","), s("a,b,,c")]),
            strs(&["a", "b", "", "c"])
        );
        assert_eq!(ok("split", vec![s(","), s("")]), strs(&[""]));
        assert_eq!(ok("split", vec![s(""), s("ab")]), strs(&["a", "b"]));
        assert!(err("split", vec![s(","), list(vec![])])
            .message
            .contains("argument 2"));
    }

    #[test]
    fn results_too_large_are_refused_before_they_are_built() {
        let big = s(&"a".repeat(5000));
        let e = err("replace", vec![big.clone(), s(""), big.clone()]);
        assert!(e.message.contains("more than the 16 MiB"), "{}", e.message);
        let e = err("indent", vec![n(9.0e15), s("a\nb")]);
        assert!(e.message.contains("more than the 16 MiB"), "{}", e.message);
        let e = err("join", vec![s(&"x".repeat(20_000)), list(vec![big; 1000])]);
        assert!(e.message.contains("more than the 16 MiB"), "{}", e.message);
        assert_eq!(ok("indent", vec![n(2.0), s("a\nb")]), s("a\n  b"));
        assert_eq!(ok("indent", vec![n(4.0e11), s("one line")]), s("one line"));
    }

    #[test]
    fn replace_plain() {
        assert_eq!(
            ok("replace", vec![s("1 + 2 + 3"), s("+"), s("-")]),
            s("1 - 2 - 3")
        );
        let e = err("replace", vec![s("abc"), s("/a+/"), s("x")]);
        assert_eq!(e.argument, Some(1));
        assert!(err("replace", vec![s("a"), s("b")])
            .message
            .contains("exactly 3"));
    }

    #[test]
    fn trimming() {
        assert_eq!(ok("trimspace", vec![s("  hi \n")]), s("hi"));
        assert_eq!(ok("trim", vec![s("?!hello?!"), s("!?")]), s("hello"));
        assert_eq!(
            ok("trimprefix", vec![s("helloworld"), s("hello")]),
            s("world")
        );
        assert_eq!(ok("trimprefix", vec![s("hello"), s("x")]), s("hello"));
        assert_eq!(
            ok("trimsuffix", vec![s("helloworld"), s("world")]),
            s("hello")
        );
        assert_eq!(ok("chomp", vec![s("hello\r\n\n")]), s("hello"));
        assert!(err("trimspace", vec![list(vec![])])
            .message
            .contains("argument 1 of trimspace"));
        assert!(err("trim", vec![s("a")]).message.contains("exactly 2"));
        assert!(err("trimprefix", vec![s("a"), map(&[])])
            .message
            .contains("argument 2"));
        assert!(err("trimsuffix", vec![map(&[]), s("a")])
            .message
            .contains("argument 1"));
        assert!(err("chomp", vec![list(vec![])])
            .message
            .contains("expected a string"));
    }

    #[test]
    fn substrings() {
        assert_eq!(
            ok("substr", vec![s("hello world"), n(1.0), n(4.0)]),
            s("ello")
        );
        assert_eq!(ok("substr", vec![s("🤔🤷"), n(0.0), n(1.0)]), s("🤔"));
        assert_eq!(
            ok("substr", vec![s("hello world"), n(-5.0), n(-1.0)]),
            s("world")
        );
        assert_eq!(ok("substr", vec![s("hello"), n(3.0), n(100.0)]), s("lo"));
        assert_eq!(ok("substr", vec![s("hello"), n(10.0), n(1.0)]), s(""));
        let e = err("substr", vec![s("hello"), n(1.5), n(1.0)]);
        assert_eq!(
            e.message,
            "argument 2 of substr: expected a whole number, got 1.5"
        );
    }

    #[test]
    fn predicates_and_misc() {
        assert_eq!(
            ok("startswith", vec![s("hello"), s("he")]),
            Value::Bool(true)
        );
        assert_eq!(
            ok("endswith", vec![s("hello"), s("he")]),
            Value::Bool(false)
        );
        assert_eq!(
            ok("strcontains", vec![s("hello"), s("ll")]),
            Value::Bool(true)
        );
        assert_eq!(ok("strrev", vec![s("héllo")]), s("olléh"));
        assert_eq!(ok("indent", vec![n(2.0), s("a\nb")]), s("a\n  b"));
        assert!(err("indent", vec![n(-1.0), s("a")])
            .message
            .contains("negative"));
        assert!(err("startswith", vec![s("a")])
            .message
            .contains("exactly 2"));
        assert!(err("endswith", vec![list(vec![]), s("a")])
            .message
            .contains("argument 1"));
        assert!(err("strcontains", vec![s("a"), list(vec![])])
            .message
            .contains("argument 2"));
        assert!(err("strrev", vec![map(&[])])
            .message
            .contains("expected a string"));
    }

    #[test]
    fn marks() {
        assert_eq!(ok("split", vec![s(","), Value::Unknown]), Value::Unknown);
        assert_eq!(ok("trimspace", vec![secret(s(" x "))]), secret(s("x")));
        assert_eq!(
            ok("substr", vec![s("abc"), Value::Unknown, n(1.0)]),
            Value::Unknown
        );
        assert_eq!(
            ok("split", vec![secret(s(",")), s("a,b")]),
            secret(strs(&["a", "b"]))
        );
    }
}
