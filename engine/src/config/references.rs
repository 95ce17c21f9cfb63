//! Finding the references an expression makes: the edges of the dependency graph.

use std::collections::BTreeSet;
use std::sync::Arc;

use hcl_edit::expr::{Expression, TraversalOperator};
use hcl_edit::template::{Directive, Element, Template};
use hcl_edit::Span;

use super::ResourceMode;
use crate::diagnostics::{SourceFile, SourceLocation};
use crate::value::PathStep;

/// What a reference points at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefTarget {
    /// `var.name`.
    Variable(String),
    /// `local.name`.
    Local(String),
    /// `type.name` or `data.type.name`.
    Resource {
        /// Managed or data.
        mode: ResourceMode,
        /// The type.
        resource_type: String,
        /// The name.
        name: String,
    },
    /// `module.name`.
    Module(String),
    /// `count.index`.
    Count,
    /// `each.key` / `each.value`.
    Each,
    /// `path.module`, `path.root`, `path.cwd`.
    Path,
    /// `self`.
    SelfRef,
    /// A bare name that is none of the above (an error unless bound by a for expression).
    Unknown(String),
}

impl RefTarget {
    /// The config-level address: `var.x`, `local.x`, `type.name`, `module.m`.
    pub fn address(&self) -> String {
        match self {
            RefTarget::Variable(n) => format!("var.{n}"),
            RefTarget::Local(n) => format!("local.{n}"),
            RefTarget::Resource {
                mode: ResourceMode::Managed,
                resource_type,
                name,
            } => format!("{resource_type}.{name}"),
            RefTarget::Resource {
                mode: ResourceMode::Data,
                resource_type,
                name,
            } => format!("data.{resource_type}.{name}"),
            RefTarget::Module(n) => format!("module.{n}"),
            RefTarget::Count => "count".into(),
            RefTarget::Each => "each".into(),
            RefTarget::Path => "path".into(),
            RefTarget::SelfRef => "self".into(),
            RefTarget::Unknown(n) => n.clone(),
        }
    }
}

/// One reference, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// What it points at.
    pub target: RefTarget,
    /// The static steps written after the target (`["k"].attr` → `[Key(k), Key(attr)]`),
    /// up to the first step that is not a literal.
    pub steps: Vec<PathStep>,
    /// Where it is written.
    pub location: SourceLocation,
}

/// Every reference in an expression (variables bound by `for` are not references).
pub fn references_in(expr: &Expression, file: &Arc<SourceFile>) -> Vec<Reference> {
    let mut walker = Walker {
        file,
        bound: Vec::new(),
        out: Vec::new(),
    };
    walker.expr(expr);
    walker.out
}

struct Walker<'a> {
    file: &'a Arc<SourceFile>,
    bound: Vec<BTreeSet<String>>,
    out: Vec<Reference>,
}

impl Walker<'_> {
    fn is_bound(&self, name: &str) -> bool {
        self.bound.iter().any(|s| s.contains(name))
    }

    fn expr(&mut self, expr: &Expression) {
        match expr {
            Expression::Null(_)
            | Expression::Bool(_)
            | Expression::Number(_)
            | Expression::String(_) => {}
            Expression::Array(items) => items.iter().for_each(|e| self.expr(e)),
            Expression::Object(obj) => {
                for (key, value) in obj.iter() {
                    if let hcl_edit::expr::ObjectKey::Expression(k) = key {
                        self.expr(k);
                    }
                    self.expr(value.expr());
                }
            }
            Expression::StringTemplate(t) => self.template(t),
            Expression::HeredocTemplate(h) => self.template(&h.template),
            Expression::Parenthesis(p) => self.expr(p.inner()),
            Expression::Variable(v) => self.root(v.as_str(), &[], expr.span()),
            Expression::Conditional(c) => {
                self.expr(&c.cond_expr);
                self.expr(&c.true_expr);
                self.expr(&c.false_expr);
            }
            Expression::FuncCall(call) => call.args.iter().for_each(|a| self.expr(a)),
            Expression::Traversal(t) => self.traversal(t),
            Expression::UnaryOp(op) => self.expr(&op.expr),
            Expression::BinaryOp(op) => {
                self.expr(&op.lhs_expr);
                self.expr(&op.rhs_expr);
            }
            Expression::ForExpr(f) => {
                self.expr(&f.intro.collection_expr);
                let mut names = BTreeSet::new();
                if let Some(k) = &f.intro.key_var {
                    names.insert(k.as_str().to_string());
                }
                names.insert(f.intro.value_var.as_str().to_string());
                self.bound.push(names);
                if let Some(k) = &f.key_expr {
                    self.expr(k);
                }
                self.expr(&f.value_expr);
                if let Some(c) = &f.cond {
                    self.expr(&c.expr);
                }
                self.bound.pop();
            }
        }
    }

    fn template(&mut self, template: &Template) {
        for element in template.iter() {
            match element {
                Element::Literal(_) => {}
                Element::Interpolation(i) => self.expr(&i.expr),
                Element::Directive(d) => match d.as_ref() {
                    Directive::If(d) => {
                        self.expr(&d.if_expr.cond_expr);
                        self.template(&d.if_expr.template);
                        if let Some(e) = &d.else_expr {
                            self.template(&e.template);
                        }
                    }
                    Directive::For(d) => {
                        self.expr(&d.for_expr.collection_expr);
                        let mut names = BTreeSet::new();
                        if let Some(k) = &d.for_expr.key_var {
                            names.insert(k.as_str().to_string());
                        }
                        names.insert(d.for_expr.value_var.as_str().to_string());
                        self.bound.push(names);
                        self.template(&d.for_expr.template);
                        self.bound.pop();
                    }
                },
            }
        }
    }

    fn traversal(&mut self, t: &hcl_edit::expr::Traversal) {
        for op in &t.operators {
            if let TraversalOperator::Index(e) = op.value() {
                self.expr(e);
            }
        }
        match &t.expr {
            Expression::Variable(v) => {
                let ops: Vec<&TraversalOperator> = t.operators.iter().map(|o| o.value()).collect();
                self.root(v.as_str(), &ops, t.span());
            }
            other => self.expr(other),
        }
    }

    fn root(
        &mut self,
        name: &str,
        ops: &[&TraversalOperator],
        span: Option<std::ops::Range<usize>>,
    ) {
        if self.is_bound(name) {
            return;
        }
        let location = self.file.location_of(span);
        let steps = static_steps(ops);
        let attr = |i: usize| match steps.get(i) {
            Some(PathStep::Key(k)) => Some(k.clone()),
            _ => None,
        };
        let (target, consumed) = match name {
            "var" => match attr(0) {
                Some(n) => (RefTarget::Variable(n), 1),
                None => (RefTarget::Unknown("var".into()), 0),
            },
            "local" => match attr(0) {
                Some(n) => (RefTarget::Local(n), 1),
                None => (RefTarget::Unknown("local".into()), 0),
            },
            "module" => match attr(0) {
                Some(n) => (RefTarget::Module(n), 1),
                None => (RefTarget::Unknown("module".into()), 0),
            },
            "data" => match (attr(0), attr(1)) {
                (Some(t), Some(n)) => (
                    RefTarget::Resource {
                        mode: ResourceMode::Data,
                        resource_type: t,
                        name: n,
                    },
                    2,
                ),
                _ => (RefTarget::Unknown("data".into()), 0),
            },
            "count" => (RefTarget::Count, 0),
            "each" => (RefTarget::Each, 0),
            "path" => (RefTarget::Path, 0),
            "self" => (RefTarget::SelfRef, 0),
            other if other.contains('_') => match attr(0) {
                Some(n) => (
                    RefTarget::Resource {
                        mode: ResourceMode::Managed,
                        resource_type: other.to_string(),
                        name: n,
                    },
                    1,
                ),
                None => (RefTarget::Unknown(other.into()), 0),
            },
            other => (RefTarget::Unknown(other.into()), 0),
        };
        self.out.push(Reference {
            target,
            steps: steps.into_iter().skip(consumed).collect(),
            location,
        });
    }
}

/// The literal steps of a traversal, up to the first computed one.
fn static_steps(ops: &[&TraversalOperator]) -> Vec<PathStep> {
    let mut steps = Vec::new();
    for op in ops {
        match op {
            TraversalOperator::GetAttr(id) => steps.push(PathStep::Key(id.as_str().to_string())),
            TraversalOperator::LegacyIndex(i) => steps.push(PathStep::Index(*i.value() as usize)),
            TraversalOperator::Index(Expression::Number(n)) => match n.value().as_u64() {
                Some(i) => steps.push(PathStep::Index(i as usize)),
                None => break,
            },
            TraversalOperator::Index(Expression::String(s)) => {
                steps.push(PathStep::Key(s.value().to_string()))
            }
            TraversalOperator::Index(Expression::StringTemplate(t)) => {
                match t.as_single_element().and_then(|e| e.as_literal()) {
                    Some(lit) => steps.push(PathStep::Key(lit.value().to_string())),
                    None if t.is_empty() => steps.push(PathStep::Key(String::new())),
                    None => break,
                }
            }
            _ => break,
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(src: &str) -> Vec<String> {
        let file = SourceFile::new("t.hcl", src.to_string());
        let expr = hcl_edit::parser::parse_expr(src).expect("parses");
        references_in(&expr, &file)
            .into_iter()
            .map(|r| format!("{}{:?}", r.target.address(), r.steps))
            .collect()
    }

    #[test]
    fn finds_every_kind_of_reference() {
        let found = refs(
            r#""${var.a}-${local.b}" == mesh_data.x["k"].output ? module.m.out : data.test_echo.e.result"#,
        );
        assert_eq!(
            found,
            vec![
                "var.a[]",
                "local.b[]",
                "mesh_data.x[Key(\"k\"), Key(\"output\")]",
                "module.m[Key(\"out\")]",
                "data.test_echo.e[Key(\"result\")]",
            ]
        );
    }

    #[test]
    fn for_bound_names_are_not_references() {
        let found = refs("[for k, v in var.m : upper(v) if k != local.skip]");
        assert_eq!(found, vec!["var.m[]", "local.skip[]"]);
    }
}
