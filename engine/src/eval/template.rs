//! String templates and heredocs: interpolation, `%{if}` and `%{for}` directives, strip markers.
//!
//! hcl-edit unescapes and dedents the literals at a template's top level only; the bodies of
//! directives arrive raw. [`LiteralStyle`] says how to finish those nested literals: unescape
//! them in a quoted string, remove the heredoc's indentation in a `<<-` heredoc.

use std::collections::BTreeMap;

use hcl_edit::template::{Directive, Element, Strip, Template};
use hcl_edit::Span;

use super::Evaluator;
use crate::diagnostics::Diagnostic;
use crate::value::{format_number, Marks, Value};

/// How the literals nested in directives of a template are to be finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LiteralStyle {
    /// A quoted string: escapes such as `\n` apply.
    Quoted,
    /// A heredoc; `<<-` removes this many columns of indentation.
    Heredoc(usize),
    /// A template file: literals are taken as written.
    Raw,
}

/// Whitespace to strip at the edges of a (sub-)template, from `~` markers around it.
#[derive(Debug, Clone, Copy, Default)]
struct Edges {
    trim_start: bool,
    trim_end: bool,
}

fn strips_after(strip: Strip) -> bool {
    matches!(strip, Strip::End | Strip::Both)
}

fn strips_before(strip: Strip) -> bool {
    matches!(strip, Strip::Start | Strip::Both)
}

impl Evaluator<'_> {
    pub(super) fn template(
        &mut self,
        template: &Template,
        style: LiteralStyle,
    ) -> Result<Value, Diagnostic> {
        // A template that is exactly one interpolation yields the value itself, as in HCL.
        if let Some(Element::Interpolation(i)) = template.as_single_element() {
            return self.eval(&i.expr);
        }
        self.render_template(template, style)
    }

    /// Render a template to a string value, carrying marks.
    pub(crate) fn render_template(
        &mut self,
        template: &Template,
        style: LiteralStyle,
    ) -> Result<Value, Diagnostic> {
        let mut out = String::new();
        let mut marks = Marks::default();
        self.render_into(template, style, 0, Edges::default(), &mut out, &mut marks)?;
        Ok(marks.apply(Value::String(out)))
    }

    fn render_into(
        &mut self,
        template: &Template,
        style: LiteralStyle,
        depth: usize,
        edges: Edges,
        out: &mut String,
        marks: &mut Marks,
    ) -> Result<(), Diagnostic> {
        let elements: Vec<&Element> = template.iter().collect();
        let mut strip_next = edges.trim_start;
        for (i, element) in elements.iter().enumerate() {
            let strip_before_next = match elements.get(i + 1) {
                Some(next) => strips_before(opening_strip(next)),
                None => edges.trim_end,
            };
            match element {
                Element::Literal(lit) => {
                    let text = finish_literal(lit.value(), style, depth);
                    let mut text: &str = &text;
                    if strip_next {
                        text = text.trim_start();
                    }
                    if strip_before_next {
                        text = text.trim_end();
                    }
                    out.push_str(text);
                }
                Element::Interpolation(interp) => {
                    let v = self.eval(&interp.expr)?;
                    self.append(&v, &interp.expr, out, marks)?;
                }
                Element::Directive(d) => self.directive(d, style, depth + 1, out, marks)?,
            }
            strip_next = strips_after(closing_strip(element));
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
        style: LiteralStyle,
        depth: usize,
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
                let end_strips = strips_before(d.endif_expr.strip);
                match cond.unmark().0 {
                    Value::Bool(true) => {
                        let then_end = match &d.else_expr {
                            Some(e) => strips_before(e.strip),
                            None => end_strips,
                        };
                        let edges = Edges {
                            trim_start: strips_after(d.if_expr.strip),
                            trim_end: then_end,
                        };
                        self.render_into(&d.if_expr.template, style, depth, edges, out, marks)
                    }
                    Value::Bool(false) => match &d.else_expr {
                        Some(e) => {
                            let edges = Edges {
                                trim_start: strips_after(e.strip),
                                trim_end: end_strips,
                            };
                            self.render_into(&e.template, style, depth, edges, out, marks)
                        }
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
                let Some(pairs) = super::iteration_pairs(&collection) else {
                    return Err(self.error(
                        &d.for_expr.collection_expr,
                        "Iteration over non-iterable value",
                        format!(
                            "%{{for}} needs a list or map, got {}",
                            collection.type_name()
                        ),
                    ));
                };
                let edges = Edges {
                    trim_start: strips_after(d.for_expr.strip),
                    trim_end: strips_before(d.endfor_expr.strip),
                };
                for (k, v) in pairs {
                    let mut names = BTreeMap::new();
                    if let Some(kv) = &d.for_expr.key_var {
                        names.insert(kv.as_str().to_string(), k);
                    }
                    names.insert(d.for_expr.value_var.as_str().to_string(), v);
                    self.bindings.push(names);
                    let r = self.render_into(&d.for_expr.template, style, depth, edges, out, marks);
                    self.bindings.pop();
                    r?;
                }
                Ok(())
            }
        }
    }
}

/// Finish a nested literal: hcl-edit leaves escapes and heredoc indentation inside directives.
fn finish_literal(text: &str, style: LiteralStyle, depth: usize) -> String {
    if depth == 0 {
        return text.to_string();
    }
    match style {
        LiteralStyle::Quoted => unescape(text),
        LiteralStyle::Heredoc(indent) if indent > 0 => dedent_after_newlines(text, indent),
        _ => text.to_string(),
    }
}

/// Remove up to `indent` leading spaces from every line that starts inside `text`.
fn dedent_after_newlines(text: &str, indent: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            let spaces = line.len() - line.trim_start_matches(' ').len();
            out.push_str(&line[spaces.min(indent)..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// HCL string escapes: `\n`, `\r`, `\t`, `\"`, `\\`, `\uNNNN`, `\UNNNNNNNN`.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some(u @ ('u' | 'U')) => {
                let len = if u == 'u' { 4 } else { 8 };
                let hex: String = chars.by_ref().take(len).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => {
                        out.push('\\');
                        out.push(u);
                        out.push_str(&hex);
                    }
                }
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The strip marker of the tag that opens an element (`%{~ for`, `${~`).
fn opening_strip(element: &Element) -> Strip {
    match element {
        Element::Interpolation(i) => i.strip,
        Element::Directive(d) => match d.as_ref() {
            Directive::If(d) => d.if_expr.strip,
            Directive::For(d) => d.for_expr.strip,
        },
        Element::Literal(_) => Strip::None,
    }
}

/// The strip marker of the tag that closes an element (`endfor ~}`, `~}`).
fn closing_strip(element: &Element) -> Strip {
    match element {
        Element::Directive(d) => match d.as_ref() {
            Directive::If(d) => d.endif_expr.strip,
            Directive::For(d) => d.endfor_expr.strip,
        },
        other => opening_strip(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_and_dedents() {
        assert_eq!(unescape(r#"a\nb\t\"c\" \u00e9"#), "a\nb\t\"c\" é");
        assert_eq!(
            dedent_after_newlines("x\n      item\n    ", 4),
            "x\n  item\n"
        );
    }
}
