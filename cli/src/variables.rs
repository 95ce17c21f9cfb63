//! Root variable values from their sources, with the documented precedence (lowest first):
//! declared default, `MESH_VAR_<name>` environment variables, `-var-file` files in the order
//! given, `-var` flags in the order given.

use std::collections::BTreeMap;
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

/// Resolve every root variable, or report every problem.
pub fn resolve(
    module: &Module,
    var_flags: &[String],
    var_files: &[PathBuf],
    dir: &Path,
) -> Result<BTreeMap<String, Value>, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut given: BTreeMap<String, Given> = BTreeMap::new();
    for (key, text) in std::env::vars() {
        let Some(name) = key.strip_prefix("MESH_VAR_") else {
            continue;
        };
        let Some(var) = module.variables.get(name) else {
            continue;
        };
        let origin = SourceLocation::synthetic(&format!("environment variable {key}"));
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
            None if var.default.is_none() => diags.push(
                Diagnostic::error("No value for required variable", format!("var.{name} has no default, and no value was given"), Some(var.location.clone()))
                    .with_help(format!("set it with -var '{name}=...', a -var-file, or the environment variable MESH_VAR_{name}")),
            ),
            None => {}
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(values)
}

/// A value given as text: strings stay text; other types are parsed as HCL expressions.
fn parse_text(
    text: &str,
    ty: &TypeConstraint,
    origin: &SourceLocation,
    dir: &Path,
) -> Result<Value, Diagnostic> {
    if matches!(ty, TypeConstraint::String) {
        return Ok(Value::String(text.to_string()));
    }
    let file = SourceFile::new(origin.file.clone(), text.to_string());
    match hcl_edit::parser::parse_expr(text) {
        Ok(expr) => evaluate(&Expr { expr, file }, &LiteralScope(dir.to_path_buf())),
        Err(_) if matches!(ty, TypeConstraint::Any) => Ok(Value::String(text.to_string())),
        Err(e) => Err(Diagnostic::error(
            "Invalid variable value",
            format!("{}: {}", origin.file.display(), e.message()),
            None,
        )),
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
