//! Test helpers shared by the function modules, and tests of the dispatcher itself.

pub(super) mod support {
    use super::super::args::primitive_string;
    use super::super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    /// Call with a context rooted at `.` whose template renderer substitutes `${name}`.
    pub(crate) fn run(name: &str, args: Vec<Value>) -> Result<Value, FunctionError> {
        run_in(Path::new("."), name, args)
    }

    pub(crate) fn run_in(dir: &Path, name: &str, args: Vec<Value>) -> Result<Value, FunctionError> {
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

    pub(crate) fn ok(name: &str, args: Vec<Value>) -> Value {
        run(name, args).unwrap_or_else(|e| panic!("{name} failed: {e}"))
    }

    pub(crate) fn err(name: &str, args: Vec<Value>) -> FunctionError {
        match run(name, args) {
            Ok(v) => panic!("{name} unexpectedly returned {v:?}"),
            Err(e) => e,
        }
    }

    pub(crate) fn s(text: &str) -> Value {
        Value::string(text)
    }

    pub(crate) fn n(x: f64) -> Value {
        Value::Number(x)
    }

    pub(crate) fn list(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    pub(crate) fn strs(items: &[&str]) -> Value {
        Value::List(items.iter().map(|t| s(t)).collect())
    }

    pub(crate) fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    pub(crate) fn secret(v: Value) -> Value {
        v.into_sensitive()
    }
}

mod general {
    use super::super::args::parse_number;
    use super::super::*;
    use super::support::*;
    use crate::value::Value;

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
