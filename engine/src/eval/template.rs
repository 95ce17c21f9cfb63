//! String templates and heredocs: interpolation, `%{if}` and `%{for}` directives, strip markers.

use std::collections::BTreeMap;

use hcl_edit::template::{Directive, Element, Strip, Template};
use hcl_edit::Span;

use super::Evaluator;
use crate::diagnostics::Diagnostic;
use crate::value::{format_number, Marks, Value};

impl Evaluator<'_> {
    pub(super) fn template(
        &mut self,
        template: &Template,
        at: &impl Span,
    ) -> Result<Value, Diagnostic> {
        // A template that is exactly one interpolation yields the value itself, as in HCL.
        if let Some(Element::Interpolation(i)) = template.as_single_element() {
            return self.eval(&i.expr);
        }
        let _ = at;
        self.render_template(template)
    }

    /// Render a template to a string value, carrying marks.
    pub(crate) fn render_template(&mut self, template: &Template) -> Result<Value, Diagnostic> {
        let mut out = String::new();
        let mut marks = Marks::default();
        self.render_into(template, &mut out, &mut marks)?;
        Ok(marks.apply(Value::String(out)))
    }

    fn render_into(
        &mut self,
        template: &Template,
        out: &mut String,
        marks: &mut Marks,
    ) -> Result<(), Diagnostic> {
        let elements: Vec<&Element> = template.iter().collect();
        let mut strip_next = false;
        for (i, element) in elements.iter().enumerate() {
            let strip_prev_of_next = elements
                .get(i + 1)
                .map(|e| strips_start(e))
                .unwrap_or(false);
            match element {
                Element::Literal(lit) => {
                    let mut text: &str = lit.value();
                    if strip_next {
                        text = text.trim_start();
                    }
                    if strip_prev_of_next {
                        text = text.trim_end();
                    }
                    out.push_str(text);
                }
                Element::Interpolation(interp) => {
                    let v = self.eval(&interp.expr)?;
                    self.append(&v, &interp.expr, out, marks)?;
                }
                Element::Directive(d) => self.directive(d, out, marks)?,
            }
            strip_next = strips_end(element);
        }
        Ok(())
    }

    fn append(
        &mut self,
        v: &Value,
        at: &impl Span,
        out: &mut String,
        marks: &mut Marks,
    ) -> Result<(), Diagnostic> {
        *marks = marks.union(v.top_marks());
        if v.is_unknown() {
            return Ok(());
        }
        match v.unmark().0 {
            Value::String(s) => out.push_str(s),
            Value::Number(n) => out.push_str(&format_number(*n)),
            Value::Bool(b) => out.push_str(&b.to_string()),
            Value::Null => {
                return Err(self.error(
                    at,
                    "Invalid template interpolation value",
                    "the expression result is null; a template cannot include null",
                ))
            }
            other => {
                return Err(self.error(
                    at,
                    "Invalid template interpolation value",
                    format!(
                        "cannot include a {} in a string template; use jsonencode or join",
                        other.type_name()
                    ),
                ))
            }
        }
        Ok(())
    }

    fn directive(
        &mut self,
        d: &Directive,
        out: &mut String,
        marks: &mut Marks,
    ) -> Result<(), Diagnostic> {
        match d {
            Directive::If(d) => {
                let cond = self.eval(&d.if_expr.cond_expr)?;
                *marks = marks.union(cond.top_marks());
                if cond.is_unknown() {
                    return Ok(());
                }
                match cond.unmark().0 {
                    Value::Bool(true) => self.render_into(&d.if_expr.template, out, marks),
                    Value::Bool(false) => match &d.else_expr {
                        Some(e) => self.render_into(&e.template, out, marks),
                        None => Ok(()),
                    },
                    other => Err(self.error(
                        &d.if_expr.cond_expr,
                        "Invalid condition",
                        format!("%{{if}} needs a bool, got {}", other.type_name()),
                    )),
                }
            }
            Directive::For(d) => {
                let collection = self.eval(&d.for_expr.collection_expr)?;
                *marks = marks.union(collection.top_marks());
                if collection.is_unknown() {
                    return Ok(());
                }
                let pairs: Vec<(Value, Value)> = match collection.unmark().0 {
                    Value::List(items) => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (Value::Number(i as f64), v.clone()))
                        .collect(),
                    Value::Map(map) => map
                        .iter()
                        .map(|(k, v)| (Value::string(k.clone()), v.clone()))
                        .collect(),
                    other => {
                        return Err(self.error(
                            &d.for_expr.collection_expr,
                            "Iteration over non-iterable value",
                            format!("%{{for}} needs a list or map, got {}", other.type_name()),
                        ))
                    }
                };
                for (k, v) in pairs {
                    let mut names = BTreeMap::new();
                    if let Some(kv) = &d.for_expr.key_var {
                        names.insert(kv.as_str().to_string(), k);
                    }
                    names.insert(d.for_expr.value_var.as_str().to_string(), v);
                    self.bindings.push(names);
                    let r = self.render_into(&d.for_expr.template, out, marks);
                    self.bindings.pop();
                    r?;
                }
                Ok(())
            }
        }
    }
}

fn strip_of(element: &Element) -> Strip {
    match element {
        Element::Interpolation(i) => i.strip,
        Element::Directive(d) => match d.as_ref() {
            Directive::If(d) => d.if_expr.strip,
            Directive::For(d) => d.for_expr.strip,
        },
        Element::Literal(_) => Strip::None,
    }
}

fn strips_start(element: &Element) -> bool {
    matches!(strip_of(element), Strip::Start | Strip::Both)
}

fn strips_end(element: &Element) -> bool {
    let strip = match element {
        Element::Directive(d) => match d.as_ref() {
            Directive::If(d) => d.endif_expr.strip,
            Directive::For(d) => d.endfor_expr.strip,
        },
        other => strip_of(other),
    };
    matches!(strip, Strip::End | Strip::Both)
}
