//! Evaluating expressions to [`Value`]s, with unknown and sensitive marks carried through.
//!
//! The evaluator is pure: it knows expressions, operators, templates and functions. What a name
//! such as `var.x` or `mesh_data.a` means comes from a [`Scope`], which the plan and apply walks
//! implement with their own view of the world (planned values, applied values).

mod operators;
mod template;
mod traverse;

use template::LiteralStyle;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::Span;

use crate::config::Expr;
use crate::diagnostics::{did_you_mean, Diagnostic, SourceFile, SourceLocation};
use crate::functions::{self, FunctionContext};
use crate::value::{Marks, Value};

/// Answers the names an expression refers to.
pub trait Scope {
    /// Resolve a root name (`var`, `local`, `each`, `mesh_data`, ...) followed by traversal
    /// operators. Returns the value and how many operators it consumed (`var.x` consumes one);
    /// the evaluator applies the rest.
    fn resolve(
        &self,
        name: &str,
        operators: &[&TraversalOperator],
        location: &SourceLocation,
    ) -> Result<(Value, usize), Diagnostic>;

    /// The directory relative paths in `file()` and `templatefile()` resolve against.
    fn base_dir(&self) -> &Path;

    /// Where an instance key may follow `name` (`mesh_data.x[KEY]`: 1, `data.t.x[KEY]`: 2), for
    /// names whose values are collections of instances. The evaluator then asks
    /// [`Scope::resolve_instance`] for one instance instead of the whole collection.
    fn instance_key_position(&self, name: &str) -> Option<usize> {
        let _ = name;
        None
    }

    /// One instance: `name`, the operators up to the key, and the evaluated key. `None` when
    /// the scope has no such instance (the evaluator falls back to [`Scope::resolve`], which
    /// reports the error). On success, returns the value and the operators consumed (key
    /// included).
    fn resolve_instance(
        &self,
        name: &str,
        operators: &[&TraversalOperator],
        key: &Value,
    ) -> Option<(Value, usize)> {
        let _ = (name, operators, key);
        None
    }
}

/// Evaluate a located expression in a scope.
pub fn evaluate(expr: &Expr, scope: &dyn Scope) -> Result<Value, Diagnostic> {
    Evaluator::new(scope, &expr.file).eval(&expr.expr)
}

/// An expression evaluator for one file's expressions.
pub struct Evaluator<'a> {
    scope: &'a dyn Scope,
    file: &'a Arc<SourceFile>,
    bindings: Vec<BTreeMap<String, Value>>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator over a scope, for expressions of `file`.
    pub fn new(scope: &'a dyn Scope, file: &'a Arc<SourceFile>) -> Evaluator<'a> {
        Evaluator {
            scope,
            file,
            bindings: Vec::new(),
        }
    }

    /// An evaluator with extra names bound (for templatefile's variables).
    pub fn with_bindings(mut self, bindings: BTreeMap<String, Value>) -> Evaluator<'a> {
        self.bindings.push(bindings);
        self
    }

    pub(crate) fn location(&self, expr: &impl Span) -> SourceLocation {
        self.file.location_of(expr.span())
    }

    pub(crate) fn error(
        &self,
        at: &impl Span,
        summary: &str,
        detail: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::error(summary, detail, Some(self.location(at)))
    }

    /// Evaluate one expression.
    pub fn eval(&mut self, expr: &Expression) -> Result<Value, Diagnostic> {
        match expr {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => Ok(Value::Number(n.value().as_f64().unwrap_or(0.0))),
            Expression::String(s) => Ok(Value::String(s.value().to_string())),
            Expression::Array(items) => {
                let values = items
                    .iter()
                    .map(|e| self.eval(e))
                    .collect::<Result<_, _>>()?;
                Ok(Value::List(values))
            }
            Expression::Object(obj) => self.object(obj),
            Expression::StringTemplate(t) => self.template(t, LiteralStyle::Quoted),
            Expression::HeredocTemplate(h) => {
                self.template(&h.template, LiteralStyle::Heredoc(h.indent().unwrap_or(0)))
            }
            Expression::Parenthesis(p) => self.eval(p.inner()),
            Expression::Variable(v) => self.traversal_root(v.as_str(), &[], expr),
            Expression::Conditional(c) => self.conditional(c),
            Expression::FuncCall(call) => self.call(call),
            Expression::Traversal(t) => self.traversal(t),
            Expression::UnaryOp(op) => self.unary(op),
            Expression::BinaryOp(op) => self.binary(op),
            Expression::ForExpr(f) => self.for_expr(f),
        }
    }

    fn object(&mut self, obj: &hcl_edit::expr::Object) -> Result<Value, Diagnostic> {
        let mut map = BTreeMap::new();
        let mut marks = Marks::default();
        for (key, value) in obj.iter() {
            let key = match key {
                ObjectKey::Ident(id) => id.as_str().to_string(),
                ObjectKey::Expression(Expression::Variable(v)) => v.as_str().to_string(),
                ObjectKey::Expression(e) => {
                    let k = self.eval(e)?;
                    marks = marks.union(k.top_marks());
                    if k.is_unknown() {
                        continue;
                    }
                    match k.unmark().0 {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => crate::value::format_number(*n),
                        Value::Bool(b) => b.to_string(),
                        other => {
                            return Err(self.error(
                                e,
                                "Invalid object key",
                                format!("object keys must be strings, got {}", other.type_name()),
                            ))
                        }
                    }
                }
            };
            map.insert(key, self.eval(value.expr())?);
        }
        Ok(marks.apply(Value::Map(map)))
    }

    fn conditional(&mut self, c: &hcl_edit::expr::Conditional) -> Result<Value, Diagnostic> {
        let cond = self.eval(&c.cond_expr)?;
        let marks = cond.top_marks();
        if marks.unknown {
            return Ok(marks.apply(Value::Unknown));
        }
        let chosen = match cond.unmark().0 {
            Value::Bool(true) => self.eval(&c.true_expr)?,
            Value::Bool(false) => self.eval(&c.false_expr)?,
            other => {
                return Err(self.error(
                    &c.cond_expr,
                    "Invalid condition",
                    format!("the condition must be a bool, got {}", other.type_name()),
                ))
            }
        };
        Ok(marks.apply(chosen))
    }

    fn call(&mut self, call: &hcl_edit::expr::FuncCall) -> Result<Value, Diagnostic> {
        let name = call.name.name.as_str();
        match name {
            "try" => return self.call_try(call),
            "can" => return self.call_can(call),
            _ => {}
        }
        let mut args = Vec::new();
        let arg_exprs: Vec<&Expression> = call.args.iter().collect();
        for (i, arg) in arg_exprs.iter().enumerate() {
            let v = self.eval(arg)?;
            if i + 1 == arg_exprs.len() && call.args.expand_final() {
                match v.unmark() {
                    (Value::List(items), sensitive) => args.extend(items.iter().map(|x| {
                        if sensitive {
                            x.clone().into_sensitive()
                        } else {
                            x.clone()
                        }
                    })),
                    (Value::Unknown, _) => return Ok(Value::Unknown),
                    (other, _) => {
                        return Err(self.error(
                            *arg,
                            "Invalid expanding argument",
                            format!(
                                "the argument before ... must be a list, got {}",
                                other.type_name()
                            ),
                        ))
                    }
                }
            } else {
                args.push(v);
            }
        }
        let base_dir = self.scope.base_dir().to_path_buf();
        let render = |text: &str, vars: &BTreeMap<String, Value>| -> Result<Value, String> {
            // A template file sees only the variables passed to it, as in Terraform.
            let template = hcl_edit::parser::parse_template(text).map_err(|e| e.to_string())?;
            let template_file = SourceFile::new("<template>", text.to_string());
            let isolated = IsolatedScope {
                base_dir: &base_dir,
            };
            let mut inner = Evaluator::new(&isolated, &template_file).with_bindings(vars.clone());
            inner
                .render_template(&template, LiteralStyle::Raw)
                .map_err(|d| d.detail)
        };
        let ctx = FunctionContext {
            base_dir: &base_dir,
            render_template: &render,
        };
        functions::call(name, args, &ctx).map_err(|e| {
            let location = match e.argument.and_then(|i| arg_exprs.get(i)) {
                Some(arg) => self.location(*arg),
                None => self.location(call),
            };
            Diagnostic::error("Error in function call", e.message, Some(location))
        })
    }

    /// `try(a, b, ...)`: the first argument that evaluates without error.
    fn call_try(&mut self, call: &hcl_edit::expr::FuncCall) -> Result<Value, Diagnostic> {
        let mut last = None;
        for arg in call.args.iter() {
            match self.eval(arg) {
                Ok(v) if v.is_unknown_deep() => return Ok(Value::Unknown),
                Ok(v) => return Ok(v),
                Err(d) => last = Some(d),
            }
        }
        Err(last.unwrap_or_else(|| {
            self.error(
                call,
                "Error in function call",
                "try needs at least one argument",
            )
        }))
    }

    /// `can(expr)`: whether it evaluates without error.
    fn call_can(&mut self, call: &hcl_edit::expr::FuncCall) -> Result<Value, Diagnostic> {
        let args: Vec<&Expression> = call.args.iter().collect();
        let [arg] = args.as_slice() else {
            return Err(self.error(
                call,
                "Error in function call",
                "can takes exactly one argument",
            ));
        };
        match self.eval(arg) {
            Ok(v) if v.is_unknown_deep() => Ok(Value::Unknown),
            Ok(_) => Ok(Value::Bool(true)),
            Err(_) => Ok(Value::Bool(false)),
        }
    }

    fn for_expr(&mut self, f: &hcl_edit::expr::ForExpr) -> Result<Value, Diagnostic> {
        let collection = self.eval(&f.intro.collection_expr)?;
        let marks = collection.top_marks();
        if marks.unknown {
            return Ok(marks.apply(Value::Unknown));
        }
        let pairs = match (iteration_pairs(&collection), collection.unmark().0) {
            (Some(pairs), _) => pairs,
            (None, Value::Null) => {
                return Err(self.error(
                    &f.intro.collection_expr,
                    "Iteration over null value",
                    "a for expression cannot iterate over null",
                ))
            }
            (None, other) => {
                return Err(self.error(
                    &f.intro.collection_expr,
                    "Iteration over non-iterable value",
                    format!(
                        "a for expression needs a list, set, map or object, got {}",
                        other.type_name()
                    ),
                ))
            }
        };
        let mut list = Vec::new();
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        let mut any_unknown_key = false;
        for (k, v) in pairs {
            let mut names = BTreeMap::new();
            if let Some(kv) = &f.intro.key_var {
                names.insert(kv.as_str().to_string(), k);
            }
            names.insert(f.intro.value_var.as_str().to_string(), v);
            self.bindings.push(names);
            let result = self.for_item(f, &mut list, &mut map, &mut any_unknown_key);
            self.bindings.pop();
            result?;
        }
        if any_unknown_key {
            return Ok(marks.apply(Value::Unknown));
        }
        let out = if f.key_expr.is_some() {
            Value::Map(map)
        } else {
            Value::List(list)
        };
        Ok(marks.apply(out))
    }

    fn for_item(
        &mut self,
        f: &hcl_edit::expr::ForExpr,
        list: &mut Vec<Value>,
        map: &mut BTreeMap<String, Value>,
        any_unknown_key: &mut bool,
    ) -> Result<(), Diagnostic> {
        if let Some(cond) = &f.cond {
            let c = self.eval(&cond.expr)?;
            if c.is_unknown() {
                *any_unknown_key = true;
                return Ok(());
            }
            match c.unmark().0 {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(()),
                other => {
                    return Err(self.error(
                        &cond.expr,
                        "Invalid for condition",
                        format!("the if clause must be a bool, got {}", other.type_name()),
                    ))
                }
            }
        }
        let value = self.eval(&f.value_expr)?;
        let Some(key_expr) = &f.key_expr else {
            list.push(value);
            return Ok(());
        };
        let key = self.eval(key_expr)?;
        if key.is_unknown() {
            *any_unknown_key = true;
            return Ok(());
        }
        let key = match key.unmark().0 {
            Value::String(s) => s.clone(),
            Value::Number(n) => crate::value::format_number(*n),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(self.error(
                    key_expr,
                    "Invalid object key",
                    format!(
                        "for expression keys must be strings, got {}",
                        other.type_name()
                    ),
                ))
            }
        };
        if f.grouping {
            match map.entry(key).or_insert_with(|| Value::List(Vec::new())) {
                Value::List(items) => items.push(value),
                _ => unreachable!("grouped values are lists"),
            }
        } else if map.insert(key.clone(), value).is_some() {
            return Err(self.error(key_expr, "Duplicate object key", format!("two elements produce the key \"{key}\"; add ... after the value expression to group them")));
        }
        Ok(())
    }

    fn traversal(&mut self, t: &hcl_edit::expr::Traversal) -> Result<Value, Diagnostic> {
        let ops: Vec<&TraversalOperator> = t.operators.iter().map(|o| o.value()).collect();
        match &t.expr {
            Expression::Variable(v) => self.traversal_root(v.as_str(), &ops, t),
            other => {
                let base = self.eval(other)?;
                self.apply_operators(base, &ops, t)
            }
        }
    }

    fn traversal_root(
        &mut self,
        name: &str,
        ops: &[&TraversalOperator],
        at: &impl Span,
    ) -> Result<Value, Diagnostic> {
        if let Some(bound) = self.bindings.iter().rev().find_map(|b| b.get(name)) {
            let base = bound.clone();
            return self.apply_operators(base, ops, at);
        }
        if let Some(found) = self.indexed_instance(name, ops)? {
            let (value, consumed) = found;
            return self.apply_operators(value, &ops[consumed..], at);
        }
        let location = self.location(at);
        let (value, consumed) = self.scope.resolve(name, ops, &location).map_err(|mut d| {
            if d.help.is_none() {
                let bound: Vec<&str> = self
                    .bindings
                    .iter()
                    .flat_map(|b| b.keys().map(String::as_str))
                    .collect();
                if let Some(h) = did_you_mean(name, bound) {
                    d.help = Some(h);
                }
            }
            d
        })?;
        self.apply_operators(value, &ops[consumed.min(ops.len())..], at)
    }

    /// `type.name[key]...` resolved to one instance, when the scope supports it. The key's
    /// marks carry over to the result.
    fn indexed_instance(
        &mut self,
        name: &str,
        ops: &[&TraversalOperator],
    ) -> Result<Option<(Value, usize)>, Diagnostic> {
        let Some(pos) = self.scope.instance_key_position(name) else {
            return Ok(None);
        };
        let key = match ops.get(pos) {
            Some(TraversalOperator::Index(e)) => self.eval(e)?,
            Some(TraversalOperator::LegacyIndex(i)) => Value::Number(*i.value() as f64),
            _ => return Ok(None),
        };
        let marks = key.top_marks();
        if marks.unknown {
            return Ok(None);
        }
        Ok(self
            .scope
            .resolve_instance(name, ops, key.unmark().0)
            .map(|(v, consumed)| (marks.apply(v), consumed)))
    }

    fn apply_operators(
        &mut self,
        value: Value,
        ops: &[&TraversalOperator],
        at: &impl Span,
    ) -> Result<Value, Diagnostic> {
        traverse::apply(self, value, ops, at)
    }
}

/// The (key, value) pairs a `for` iterates: the indexes of a list, the keys of a map; `None`
/// for anything else.
pub(super) fn iteration_pairs(collection: &Value) -> Option<Vec<(Value, Value)>> {
    match collection.unmark().0 {
        Value::List(items) => Some(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| (Value::Number(i as f64), v.clone()))
                .collect(),
        ),
        Value::Map(map) => Some(
            map.iter()
                .map(|(k, v)| (Value::string(k.clone()), v.clone()))
                .collect(),
        ),
        _ => None,
    }
}

/// The scope of a template file: no names but the variables passed to `templatefile`.
struct IsolatedScope<'a> {
    base_dir: &'a Path,
}

impl Scope for IsolatedScope<'_> {
    fn resolve(
        &self,
        name: &str,
        _: &[&TraversalOperator],
        location: &SourceLocation,
    ) -> Result<(Value, usize), Diagnostic> {
        Err(Diagnostic::error(
            "Unknown variable in template",
            format!("\"{name}\" is not among the variables passed to templatefile"),
            Some(location.clone()),
        ))
    }

    fn base_dir(&self) -> &Path {
        self.base_dir
    }
}

#[cfg(test)]
mod tests;
