//! Root variable values from their sources, with the documented precedence (lowest first):
//! declared default, `MESH_VAR_<name>` environment variables, `-var-file` files in the order
//! given, `-var` flags in the order given.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mesh_engine::config::{Expr, Module, TypeConstraint};
use mesh_engine::diagnostics::{Diagnostic, Diagnostics, SourceFile, SourceLocation};
use mesh_engine::eval::{evaluate, Scope};
use mesh_engine::value::Value;

/// Where a value came from, for messages.
#[derive(Debug, Clone)]
struct Given {
    value: Value,
    origin: SourceLocation,
}

/// A scope with no names: variable values are literals (functions allowed).
struct LiteralScope(PathBuf);

impl Scope for LiteralScope {
    fn resolve(
        &self,
        name: &str,
        _: &[&hcl_edit::expr::TraversalOperator],
        location: &SourceLocation,
    ) -> Result<(Value, usize), Diagnostic> {
        Err(Diagnostic::error(
            "Variables not allowed",
            format!("variable values must be literal values; \"{name}\" refers to something"),
            Some(location.clone()),
        ))
    }

    fn base_dir(&self) -> &Path {
        &self.0
    }
}

/// The root variables' values, with the warnings found on the way (for the caller to print).
#[derive(Debug)]
pub struct Resolved {
    /// Every variable that has a value (given or default), by name.
    pub values: BTreeMap<String, Value>,
    /// Problems that do not stop the command, e.g. an undeclared name in a `-var-file`.
    pub warnings: Diagnostics,
}

/// Resolve every root variable, or report every problem (errors and warnings together).
pub fn resolve(
    module: &Module,
    var_flags: &[String],
    var_files: &[PathBuf],
    dir: &Path,
) -> Result<Resolved, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut given: BTreeMap<String, Given> = BTreeMap::new();
    // Variables some source tried to set, even when the value was invalid: those are not
    // "missing", whatever else went wrong.
    let mut attempted: BTreeSet<String> = BTreeSet::new();
    for (key, text) in std::env::vars() {
        let Some(name) = key.strip_prefix("MESH_VAR_") else {
            continue;
        };
        let Some(var) = module.variables.get(name) else {
            continue;
        };
        let origin = SourceLocation::synthetic(&format!("environment variable {key}"));
        attempted.insert(name.to_string());
        match parse_text(&text, &var.type_constraint, &origin, dir) {
            Ok(value) => {
                given.insert(name.to_string(), Given { value, origin });
            }
            Err(d) => diags.push(d),
        }
    }
    for file in var_files {
        match read_var_file(file, dir) {
            Ok(values) => {
                for (name, g) in values {
                    if !module.variables.contains_key(&name) {
                        diags.push(Diagnostic::warning(
                            "Value for undeclared variable",
                            format!(
                                "{} sets \"{name}\", but no variable of that name is declared",
                                file.display()
                            ),
                            Some(g.origin.clone()),
                        ));
                        continue;
                    }
                    given.insert(name, g);
                }
            }
            Err(d) => diags.extend(d.0),
        }
    }
    for flag in var_flags {
        let origin = SourceLocation::synthetic(&format!("-var \"{flag}\""));
        let Some((name, text)) = flag.split_once('=') else {
            diags.push(Diagnostic::error(
                "Invalid -var option",
                format!("\"{flag}\" is not NAME=VALUE"),
                None,
            ));
            continue;
        };
        let name = name.trim();
        let Some(var) = module.variables.get(name) else {
            let mut d = Diagnostic::error("Value for undeclared variable", format!("-var sets \"{name}\", but no variable of that name is declared in the root module"), None);
            if let Some(h) = mesh_engine::diagnostics::did_you_mean(
                name,
                module.variables.keys().map(String::as_str),
            ) {
                d = d.with_help(h);
            }
            diags.push(d);
            continue;
        };
        attempted.insert(name.to_string());
        match parse_text(text, &var.type_constraint, &origin, dir) {
            Ok(value) => {
                given.insert(name.to_string(), Given { value, origin });
            }
            Err(d) => diags.push(d),
        }
    }
    let mut values = BTreeMap::new();
    for (name, var) in &module.variables {
        match given.remove(name) {
            Some(g) => match var.type_constraint.convert(g.value) {
                Ok(v) => {
                    values.insert(name.clone(), v);
                }
                Err(e) => diags.push(
                    Diagnostic::error("Invalid value for variable", format!("var.{name} ({}): {e}", var.type_constraint.describe()), Some(var.location.clone()))
                        .with_help(format!("the value came from {}", g.origin.file.display())),
                ),
            },
            None if var.default.is_none() && !attempted.contains(name) => diags.push(
                Diagnostic::error("No value for required variable", format!("var.{name} has no default, and no value was given"), Some(var.location.clone()))
                    .with_help(format!("set it with -var '{name}=...', a -var-file, or the environment variable MESH_VAR_{name}")),
            ),
            None => {}
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Resolved {
        values,
        warnings: diags,
    })
}

/// A value given as text (`-var`, `MESH_VAR_`): strings stay text; other types are parsed as
/// literal HCL expressions.
///
/// For `any`, `number` and `bool`, text that is not a literal expression (`hello`, `abc`,
/// `hello world`) is the string as written: an untyped variable takes it as it is, and a number
/// or bool variable then reports the type error ("a number is required, got the string ...")
/// when the value is converted.
fn parse_text(
    text: &str,
    ty: &TypeConstraint,
    origin: &SourceLocation,
    dir: &Path,
) -> Result<Value, Diagnostic> {
    if matches!(ty, TypeConstraint::String) {
        return Ok(Value::String(text.to_string()));
    }
    let as_written = matches!(
        ty,
        TypeConstraint::Any | TypeConstraint::Number | TypeConstraint::Bool
    );
    let file = SourceFile::new(origin.file.clone(), text.to_string());
    let parsed = hcl_edit::parser::parse_expr(text);
    let evaluated = match parsed {
        Ok(expr) => evaluate(&Expr { expr, file }, &LiteralScope(dir.to_path_buf())),
        Err(e) => Err(Diagnostic::error(
            "Invalid variable value",
            format!("{}: {}", origin.file.display(), e.message()),
            None,
        )),
    };
    match evaluated {
        Err(_) if as_written => Ok(Value::String(text.to_string())),
        other => other,
    }
}

fn read_var_file(path: &Path, dir: &Path) -> Result<BTreeMap<String, Given>, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics::from(Diagnostic::error(
            "Cannot read variables file",
            format!("{}: {e}", path.display()),
            None,
        ))
    })?;
    let shown = mesh_engine::diagnostics::display_path(path, dir);
    if path.extension().is_some_and(|e| e == "json") {
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            Diagnostics::from(Diagnostic::error(
                "Invalid JSON variables file",
                format!("{}:{}:{}: {e}", shown.display(), e.line(), e.column()),
                None,
            ))
        })?;
        let Some(map) = json.as_object() else {
            return Err(Diagnostic::error(
                "Invalid JSON variables file",
                format!("{}: expected an object of variable values", shown.display()),
                None,
            )
            .into());
        };
        return Ok(map
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Given {
                        value: Value::from_json(v),
                        origin: SourceLocation::synthetic(&shown.display().to_string()),
                    },
                )
            })
            .collect());
    }
    let file = SourceFile::new(shown, text);
    let body = mesh_engine::config::parse_file(&file).map_err(Diagnostics::from)?;
    let mut out = BTreeMap::new();
    let mut diags = Diagnostics::new();
    for attr in body.attributes() {
        let expr = Expr {
            expr: attr.value.clone(),
            file: file.clone(),
        };
        match evaluate(&expr, &LiteralScope(dir.to_path_buf())) {
            Ok(value) => {
                out.insert(
                    attr.key.as_str().to_string(),
                    Given {
                        value,
                        origin: expr.location(),
                    },
                );
            }
            Err(d) => diags.push(d),
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, ty: TypeConstraint) -> Result<Value, Diagnostic> {
        parse_text(
            text,
            &ty,
            &SourceLocation::synthetic("-var"),
            Path::new("."),
        )
    }

    #[test]
    fn untyped_text_that_is_not_a_literal_is_a_string() {
        for text in ["hello", "b", "hello world", "foo.bar", "upper(1, 2)"] {
            assert_eq!(
                parse(text, TypeConstraint::Any).unwrap(),
                Value::string(text),
                "{text}"
            );
        }
        assert_eq!(
            parse("\"quoted\"", TypeConstraint::Any).unwrap(),
            Value::string("quoted")
        );
        assert_eq!(parse("3", TypeConstraint::Any).unwrap(), Value::Number(3.0));
        assert!(matches!(
            parse("[1, 2]", TypeConstraint::Any).unwrap(),
            Value::List(_)
        ));
    }

    #[test]
    fn a_bare_word_for_a_number_or_bool_is_a_type_error() {
        let value = parse("abc", TypeConstraint::Number).unwrap();
        assert_eq!(
            TypeConstraint::Number.convert(value).unwrap_err(),
            "a number is required, got the string \"abc\""
        );
        assert_eq!(
            parse("7", TypeConstraint::Number).unwrap(),
            Value::Number(7.0)
        );
        assert_eq!(
            parse("true", TypeConstraint::Bool).unwrap(),
            Value::Bool(true)
        );
        assert!(TypeConstraint::Bool
            .convert(parse("maybe", TypeConstraint::Bool).unwrap())
            .is_err());
    }

    #[test]
    fn references_in_collections_are_still_refused() {
        let ty = TypeConstraint::Map(Box::new(TypeConstraint::String));
        let d = parse("{ a = b }", ty).unwrap_err();
        assert!(d.to_string().contains("Variables not allowed"), "{d}");
    }
}
