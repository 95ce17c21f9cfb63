use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

/// A scope with a few variables, one unknown and one sensitive.
struct TestScope {
    vars: BTreeMap<String, Value>,
    dir: PathBuf,
}

impl Scope for TestScope {
    fn resolve(
        &self,
        name: &str,
        ops: &[&TraversalOperator],
        location: &SourceLocation,
    ) -> Result<(Value, usize), Diagnostic> {
        match (name, ops.first()) {
            ("var", Some(TraversalOperator::GetAttr(n))) => self
                .vars
                .get(n.as_str())
                .cloned()
                .map(|v| (v, 1))
                .ok_or_else(|| {
                    Diagnostic::error(
                        "Reference to undeclared input variable",
                        n.as_str(),
                        Some(location.clone()),
                    )
                }),
            _ => Err(Diagnostic::error(
                "Unknown reference",
                name,
                Some(location.clone()),
            )),
        }
    }

    fn base_dir(&self) -> &Path {
        &self.dir
    }
}

fn scope() -> TestScope {
    let vars = BTreeMap::from([
        ("name".to_string(), Value::string("one")),
        ("n".to_string(), Value::Number(3.0)),
        ("later".to_string(), Value::Unknown),
        (
            "secret".to_string(),
            Value::string("hunter2").into_sensitive(),
        ),
        (
            "m".to_string(),
            Value::Map(BTreeMap::from([
                (
                    "a".to_string(),
                    Value::Map(BTreeMap::from([("id".to_string(), Value::Number(1.0))])),
                ),
                (
                    "b".to_string(),
                    Value::Map(BTreeMap::from([("id".to_string(), Value::Number(2.0))])),
                ),
            ])),
        ),
    ]);
    TestScope {
        vars,
        dir: std::env::temp_dir(),
    }
}

fn eval(src: &str) -> Result<Value, Diagnostic> {
    let file = SourceFile::new("t.hcl", format!("x = {src}\n"));
    let body = hcl_edit::parser::parse_body(&file.text).expect("parses");
    let attr = body.attributes().next().expect("attribute");
    let expr = Expr {
        expr: attr.value.clone(),
        file: file.clone(),
    };
    evaluate(&expr, &scope())
}

fn ok(src: &str) -> Value {
    eval(src).unwrap_or_else(|d| panic!("{src}: {d}"))
}

#[test]
fn arithmetic_comparison_and_logic() {
    assert_eq!(ok("1 + 2 * 3"), Value::Number(7.0));
    assert_eq!(ok("var.n % 2 == 1 && !false"), Value::Bool(true));
    assert_eq!(ok("var.n > 2 ? \"big\" : \"small\""), Value::string("big"));
}

#[test]
fn results_that_are_not_finite_numbers_are_errors() {
    for src in [
        "1e308 * 10",
        "-1e308 - 1e308",
        "pow(10, 1000)",
        "log(0, 0)",
        "tonumber(\"1e400\")",
        "[pow(2, 2000)]",
    ] {
        let d = eval(src).expect_err(src);
        assert!(d.to_string().contains("t.hcl line 1"), "{src}: {d}");
        assert!(
            d.detail.contains("not a finite number") || d.detail.contains("too large"),
            "{src}: {d}"
        );
    }
    assert!(eval("\"inf\" + 1").is_err());
    assert_eq!(ok("1e308 + 1"), Value::Number(1e308));
}

#[test]
fn templates_heredocs_and_directives() {
    assert_eq!(ok("\"${var.name}-${var.n}\""), Value::string("one-3"));
    assert_eq!(
        ok("\"%{ for k, v in var.m }${k}=${v.id};%{ endfor }\""),
        Value::string("a=1;b=2;")
    );
    assert_eq!(
        ok("\"%{ if var.n > 1 }many%{ else }one%{ endif }\""),
        Value::string("many")
    );
    let file = SourceFile::new(
        "t.hcl",
        "x = <<-EOT\n    hello\n      ${var.name}\n    EOT\n".to_string(),
    );
    let body = hcl_edit::parser::parse_body(&file.text).expect("parses");
    let expr = Expr {
        expr: body.attributes().next().expect("attr").value.clone(),
        file: file.clone(),
    };
    assert_eq!(
        evaluate(&expr, &scope()).expect("evaluates"),
        Value::string("hello\n  one\n")
    );
}

#[test]
fn for_expressions_and_splats() {
    assert_eq!(
        ok("[for k, v in var.m : v.id if k != \"a\"]"),
        Value::List(vec![Value::Number(2.0)])
    );
    assert_eq!(
        ok("{for k, v in var.m : upper(k) => v.id}"),
        Value::Map(BTreeMap::from([
            ("A".into(), Value::Number(1.0)),
            ("B".into(), Value::Number(2.0))
        ]))
    );
    assert_eq!(
        ok("values(var.m)[*].id"),
        Value::List(vec![Value::Number(1.0), Value::Number(2.0)])
    );
    assert_eq!(
        ok("{for v in [\"a\", \"b\", \"a\"] : v => v...}")
            .get("a")
            .and_then(Value::as_list)
            .map(|l| l.len()),
        Some(2)
    );
}

#[test]
fn unknown_propagates() {
    assert_eq!(ok("var.later + 1"), Value::Unknown);
    assert_eq!(ok("\"x-${var.later}\""), Value::Unknown);
    assert_eq!(ok("upper(var.later)"), Value::Unknown);
    assert_eq!(ok("var.later ? 1 : 2"), Value::Unknown);
    assert_eq!(ok("[for x in var.later : x]"), Value::Unknown);
    assert_eq!(ok("var.later.attr"), Value::Unknown);
    assert_eq!(ok("length([var.later, 1])"), Value::Number(2.0));
}

#[test]
fn sensitive_propagates() {
    assert!(matches!(ok("\"pw=${var.secret}\""), Value::Sensitive(_)));
    assert!(matches!(ok("upper(var.secret)"), Value::Sensitive(_)));
    assert!(matches!(ok("var.secret == \"x\""), Value::Sensitive(_)));
    assert_eq!(ok("\"pw=${var.secret}\"").to_string(), "(sensitive value)");
}

#[test]
fn try_and_can() {
    assert_eq!(
        ok("try(var.m.zzz, \"fallback\")"),
        Value::string("fallback")
    );
    assert_eq!(ok("can(var.m.a.id)"), Value::Bool(true));
    assert_eq!(ok("can(var.m.nope)"), Value::Bool(false));
}

#[test]
fn errors_point_at_the_expression() {
    let d = eval("var.m.c").unwrap_err();
    assert!(d.detail.contains("\"c\""), "{d}");
    let loc = d.location.expect("located");
    assert_eq!((loc.line, loc.column), (1, 5));
    let d = eval("var.nme").unwrap_err();
    assert!(d.summary.contains("undeclared"), "{d}");
    let d = eval("1 + \"a\"").unwrap_err();
    assert!(d.detail.contains("numbers"), "{d}");
    let d = eval("uppr(\"a\")").unwrap_err();
    assert!(d.to_string().contains("did you mean \"upper\""), "{d}");
}

#[test]
fn strip_markers_apply_inside_directive_bodies() {
    assert_eq!(
        ok(r#""%{ for x in ["a", "b"] ~}  [${x}]  %{~ endfor }""#),
        Value::string("[a][b]")
    );
    assert_eq!(
        ok(r#""%{ for x in ["a", "b"] }${x}\n%{ endfor }""#),
        Value::string("a\nb\n")
    );
    assert_eq!(
        ok(r#""<%{ if true ~} yes %{~ else ~} no %{~ endif ~} >""#),
        Value::string("<yes>")
    );
    let file = SourceFile::new(
        "t.hcl",
        "x = <<-EOT\n    start\n    %{ for x in [\"a\", \"b\"] ~}\n      item ${x}\n    %{ endfor ~}\n    end\n  EOT\n".to_string(),
    );
    let body = hcl_edit::parser::parse_body(&file.text).expect("parses");
    let expr = Expr {
        expr: body.attributes().next().expect("attr").value.clone(),
        file: file.clone(),
    };
    assert_eq!(
        evaluate(&expr, &scope()).expect("evaluates"),
        Value::string("start\nitem a\nitem b\nend\n")
    );
}
