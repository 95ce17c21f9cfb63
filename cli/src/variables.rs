//! Root variable values from their sources, with the documented precedence (lowest first):
//! declared default, `MESH_VAR_<name>` environment variables, `-var-file` files in the order
//! given, `-var` flags in the order given.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hcl_edit::Span;

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
                        .with_help(format!("the value came from {}", describe_origin(&g.origin))),
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

/// Where a value came from, for messages: `FILE line N` for a value written in a file, the
/// flag or environment variable otherwise.
fn describe_origin(origin: &SourceLocation) -> String {
    if origin.snippet.is_empty() {
        origin.file.display().to_string()
    } else {
        format!("{} line {}", origin.file.display(), origin.line)
    }
}

fn read_var_file(path: &Path, dir: &Path) -> Result<BTreeMap<String, Given>, Diagnostics> {
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostics::from(Diagnostic::error(
            "Cannot read variables file",
            format!("{}: {e}", path.display()),
            None,
        ))
    })?;
    let shown = mesh_engine::diagnostics::display_path(path, dir);
    let text = mesh_engine::config::file_text(&shown, bytes)?;
    let file = SourceFile::new(shown, text);
    if path.extension().is_some_and(|e| e == "json") {
        return read_json_var_file(&file).map_err(Diagnostics::from);
    }
    let body = mesh_engine::config::parse_file(&file).map_err(Diagnostics::from)?;
    let mut out = BTreeMap::new();
    let mut diags = Diagnostics::new();
    for block in body.blocks() {
        diags.push(Diagnostic::error(
            "Unexpected block",
            format!(
                "a variables file holds only NAME = VALUE lines; \"{}\" is a block",
                block.ident.as_str()
            ),
            Some(file.location_of(block.span())),
        ));
    }
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

/// A `.json` variables file: one object of values, each located at its key.
fn read_json_var_file(file: &Arc<SourceFile>) -> Result<BTreeMap<String, Given>, Diagnostic> {
    let json: serde_json::Value = serde_json::from_str(&file.text).map_err(|e| {
        let full = e.to_string();
        let position = format!(" at line {} column {}", e.line(), e.column());
        Diagnostic::error(
            "Invalid JSON variables file",
            full.strip_suffix(&position).unwrap_or(&full).to_string(),
            Some(json_location(file, e.line(), e.column())),
        )
    })?;
    let Some(map) = json.as_object() else {
        return Err(Diagnostic::error(
            "Invalid JSON variables file",
            format!(
                "{}: expected an object of variable values, got {}",
                file.path.display(),
                json_kind(&json)
            ),
            None,
        ));
    };
    Ok(map
        .iter()
        .map(|(k, v)| {
            let origin = key_location(file, k)
                .unwrap_or_else(|| SourceLocation::synthetic(&file.path.display().to_string()));
            let value = Value::from_json(v);
            (k.clone(), Given { value, origin })
        })
        .collect())
}

/// The location of a JSON parser position (1-based line and column).
fn json_location(file: &SourceFile, line: usize, column: usize) -> SourceLocation {
    let line = line.max(1);
    SourceLocation {
        file: file.path.clone(),
        line,
        column: column.max(1),
        snippet: file.text.lines().nth(line - 1).unwrap_or("").to_string(),
    }
}

/// Where the top-level key `key` is written: its first occurrence as a JSON string followed by a
/// colon (good enough to point a user at the right line).
fn key_location(file: &SourceFile, key: &str) -> Option<SourceLocation> {
    let quoted = serde_json::to_string(key).ok()?;
    let mut from = 0;
    while let Some(found) = file.text[from..].find(&quoted) {
        let at = from + found;
        let after = file.text[at + quoted.len()..].trim_start();
        if after.starts_with(':') {
            return Some(file.location(at));
        }
        from = at + quoted.len();
    }
    None
}

fn json_kind(json: &serde_json::Value) -> &'static str {
    match json {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
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

    fn var_file(name: &str, text: &[u8]) -> Result<BTreeMap<String, Given>, Diagnostics> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(name), text).expect("write");
        read_var_file(&dir.path().join(name), dir.path())
    }

    #[test]
    fn values_in_files_are_located_at_their_line() {
        let values = var_file("a.vars", b"\nn = 1\n").expect("reads");
        assert_eq!(describe_origin(&values["n"].origin), "a.vars line 2");
        let values = var_file("a.json", b"{\n  \"a\": 1,\n  \"n\": 2\n}\n").expect("reads");
        assert_eq!(describe_origin(&values["n"].origin), "a.json line 3");
        let flag = SourceLocation::synthetic("-var \"n=1\"");
        assert_eq!(describe_origin(&flag), "-var \"n=1\"");
    }

    #[test]
    fn blocks_bad_json_and_bad_utf8_in_var_files_are_located_errors() {
        let err = var_file("a.vars", b"n = 1\nsettings {\n}\n").unwrap_err();
        assert!(err.to_string().contains("a.vars line 2"), "{err}");
        assert!(err.to_string().contains("Unexpected block"), "{err}");
        let err = var_file("a.json", b"{\n  \"n\": \n").unwrap_err();
        assert!(err.to_string().contains("a.json line 3"), "{err}");
        let err = var_file("a.json", b"[1]").unwrap_err();
        assert!(err.to_string().contains("got an array"), "{err}");
        let err = var_file("a.vars", b"n = \"\xff\"\n").unwrap_err();
        assert!(err.to_string().contains("a.vars line 1, column 6"), "{err}");
    }

    #[test]
    fn references_in_collections_are_still_refused() {
        let ty = TypeConstraint::Map(Box::new(TypeConstraint::String));
        let d = parse("{ a = b }", ty).unwrap_err();
        assert!(d.to_string().contains("Variables not allowed"), "{d}");
    }
}
