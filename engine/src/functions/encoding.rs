//! Encoding and hashing: JSON, YAML, base64, URL encoding, SHA-2 digests.
//!
//! `sha1` and `md5` are not provided (no digest crate for them among the engine's dependencies).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256, Sha512};

use super::args::Kind::*;
use super::args::{def, Call, Def};
use super::FunctionError;
use crate::value::Value;

#[rustfmt::skip]
pub(super) const DEFS: &[Def] = &[
    def("base64decode", "base64decode(string) string", "Decodes a base64 string holding UTF-8 text.", base64decode).args(&[Str]),
    def("base64encode", "base64encode(string) string", "Encodes the UTF-8 bytes of a string as base64.", base64encode).args(&[Str]),
    def("base64sha256", "base64sha256(string) string", "The SHA-256 digest of a string, base64-encoded.", base64sha256).args(&[Str]),
    def("base64sha512", "base64sha512(string) string", "The SHA-512 digest of a string, base64-encoded.", base64sha512).args(&[Str]),
    def("jsondecode", "jsondecode(string) any", "Parses a JSON string into a value.", jsondecode).args(&[Str]),
    def("jsonencode", "jsonencode(value) string", "Encodes a value as compact JSON with sorted keys.", jsonencode).args(&[Any]),
    def("sha256", "sha256(string) string", "The SHA-256 digest of a string, in lower-case hex.", sha256).args(&[Str]),
    def("sha512", "sha512(string) string", "The SHA-512 digest of a string, in lower-case hex.", sha512).args(&[Str]),
    def("urlencode", "urlencode(string) string", "Escapes a string for use in a URL query.", urlencode).args(&[Str]),
    def("yamldecode", "yamldecode(string) any", "Parses a YAML document into a value.", yamldecode).args(&[Str]),
    def("yamlencode", "yamlencode(value) string", "Encodes a value as a YAML document.", yamlencode).args(&[Any]),
];

/// Compact JSON the way Terraform writes it: sorted keys, integers without a fraction, and
/// `<`, `>`, `&`, U+2028, U+2029 escaped as Go does.
pub(super) fn json_string(value: &Value) -> String {
    let raw = value.to_json().to_string();
    let mut out = String::with_capacity(raw.len());
    for ch in raw.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            other => out.push(other),
        }
    }
    out
}

fn jsonencode(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::String(json_string(c.arg(0))))
}

fn jsondecode(c: &Call) -> Result<Value, FunctionError> {
    let json: serde_json::Value =
        serde_json::from_str(c.str(0)?).map_err(|e| c.err(0, format!("invalid JSON: {e}")))?;
    Ok(Value::from_json(&json))
}

fn yamlencode(c: &Call) -> Result<Value, FunctionError> {
    serde_yaml::to_string(&c.arg(0).to_json())
        .map(Value::String)
        .map_err(|e| c.err(0, format!("cannot encode as YAML: {e}")))
}

fn yamldecode(c: &Call) -> Result<Value, FunctionError> {
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(c.str(0)?).map_err(|e| c.err(0, format!("invalid YAML: {e}")))?;
    from_yaml(yaml).map_err(|m| c.err(0, m))
}

fn from_yaml(yaml: serde_yaml::Value) -> Result<Value, String> {
    use serde_yaml::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::List(items.into_iter().map(from_yaml).collect::<Result<_, _>>()?)
        }
        Y::Mapping(map) => {
            let mut out = std::collections::BTreeMap::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_string(),
                    _ => return Err("mapping keys must be strings, numbers or bools".to_string()),
                };
                out.insert(key, from_yaml(v)?);
            }
            Value::Map(out)
        }
        Y::Tagged(tagged) => from_yaml(tagged.value)?,
    })
}

fn base64encode(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::String(STANDARD.encode(c.str(0)?)))
}

fn base64decode(c: &Call) -> Result<Value, FunctionError> {
    let bytes = STANDARD
        .decode(c.str(0)?)
        .map_err(|e| c.err(0, format!("invalid base64 data: {e}")))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| c.err(0, "the decoded bytes are not valid UTF-8"))
}

fn sha256(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::String(hex::encode(Sha256::digest(c.str(0)?))))
}

fn sha512(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::String(hex::encode(Sha512::digest(c.str(0)?))))
}

fn base64sha256(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::String(STANDARD.encode(Sha256::digest(c.str(0)?))))
}

fn base64sha512(c: &Call) -> Result<Value, FunctionError> {
    Ok(Value::String(STANDARD.encode(Sha512::digest(c.str(0)?))))
}

/// Go's `url.QueryEscape`: unreserved characters kept, space as `+`, the rest percent-encoded.
fn urlencode(c: &Call) -> Result<Value, FunctionError> {
    let mut out = String::new();
    for b in c.str(0)?.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::super::tests::support::*;
    use crate::value::Value;

    #[test]
    fn json() {
        assert_eq!(
            ok("jsonencode", vec![map(&[("hello", s("world"))])]),
            s("{\"hello\":\"world\"}")
        );
        let v = map(&[
            (
                "b",
                list(vec![n(1.0), n(2.5), Value::Null, Value::Bool(true)]),
            ),
            ("a", s("<&>")),
        ]);
        assert_eq!(
            ok("jsonencode", vec![v]),
            s(r#"{"a":"\u003c\u0026\u003e","b":[1,2.5,null,true]}"#)
        );
        assert_eq!(ok("jsonencode", vec![Value::Null]), s("null"));
        assert_eq!(
            ok("jsondecode", vec![s(r#"{"z":1,"a":[true,null,"x"]}"#)]),
            map(&[
                ("z", n(1.0)),
                ("a", list(vec![Value::Bool(true), Value::Null, s("x")]))
            ])
        );
        let e = err("jsondecode", vec![s("{nope")]);
        assert!(
            e.message
                .starts_with("argument 1 of jsondecode: invalid JSON"),
            "{}",
            e.message
        );
        assert!(err("jsonencode", vec![]).message.contains("exactly 1"));
    }

    #[test]
    fn yaml() {
        assert_eq!(
            ok(
                "yamlencode",
                vec![map(&[("a", n(1.0)), ("b", strs(&["x"]))])]
            ),
            s("a: 1\nb:\n- x\n")
        );
        assert_eq!(
            ok("yamldecode", vec![s("a: 1\nb: [x, true]\n2: null\n")]),
            map(&[
                ("a", n(1.0)),
                ("b", list(vec![s("x"), Value::Bool(true)])),
                ("2", Value::Null)
            ])
        );
        assert_eq!(ok("yamldecode", vec![s("")]), Value::Null);
        assert!(err("yamldecode", vec![s("a: [")])
            .message
            .contains("invalid YAML"));
        assert!(err("yamlencode", vec![]).message.contains("exactly 1"));
    }

    #[test]
    fn base64() {
        assert_eq!(
            ok("base64encode", vec![s("Hello World")]),
            s("SGVsbG8gV29ybGQ=")
        );
        assert_eq!(
            ok("base64decode", vec![s("SGVsbG8gV29ybGQ=")]),
            s("Hello World")
        );
        assert!(err("base64decode", vec![s("not base64!")])
            .message
            .contains("invalid base64"));
        assert!(err("base64decode", vec![s("/w==")])
            .message
            .contains("not valid UTF-8"));
        assert!(err("base64encode", vec![list(vec![])])
            .message
            .contains("expected a string"));
    }

    #[test]
    fn hashes() {
        assert_eq!(
            ok("sha256", vec![s("hello world")]),
            s("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9")
        );
        assert_eq!(
            ok("base64sha256", vec![s("hello world")]),
            s("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=")
        );
        let Value::String(h) = ok("sha512", vec![s("")]) else {
            panic!()
        };
        assert!(h.starts_with("cf83e1357eefb8bd"));
        let Value::String(h) = ok("base64sha512", vec![s("")]) else {
            panic!()
        };
        assert_eq!(h.len(), 88);
        assert!(err("sha256", vec![map(&[])])
            .message
            .contains("expected a string"));
        assert!(err("sha512", vec![]).message.contains("exactly 1"));
    }

    #[test]
    fn url() {
        assert_eq!(
            ok("urlencode", vec![s("Hello World?/ü")]),
            s("Hello+World%3F%2F%C3%BC")
        );
        assert!(err("urlencode", vec![list(vec![])])
            .message
            .contains("expected a string"));
    }

    #[test]
    fn marks() {
        assert_eq!(
            ok("jsonencode", vec![map(&[("a", Value::Unknown)])]),
            Value::Unknown
        );
        assert_eq!(
            ok("jsonencode", vec![map(&[("a", secret(s("x")))])]),
            secret(s("{\"a\":\"x\"}"))
        );
        assert_eq!(
            ok("base64encode", vec![secret(Value::Unknown)]),
            secret(Value::Unknown)
        );
    }
}
