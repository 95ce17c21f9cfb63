//! Writing values as indented, marked lines: the layout shared by plans and `render_value`.

use super::ColorChoice;
use crate::value::{format_number, PathStep, Value};

pub(super) const RESET: &str = "\x1b[0m";
pub(super) const BOLD: &str = "\x1b[1m";
pub(super) const RED: &str = "\x1b[31m";
pub(super) const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";

/// The two-character marker in front of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mark {
    /// `+ `
    Add,
    /// `- `
    Remove,
    /// `~ `
    Update,
    /// Two spaces.
    Keep,
}

/// A JSON-escaped, quoted string.
pub(super) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A map key: bare when it is an identifier, quoted otherwise.
pub(super) fn key_text(k: &str) -> String {
    let mut chars = k.chars();
    let ident = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ident {
        k.to_string()
    } else {
        quote(k)
    }
}

/// Writes indented, marked lines.
pub(super) struct Writer {
    pub(super) out: String,
    color: bool,
    /// Plan layout (markers, four-wide indent) rather than plain value layout (two-wide).
    markers: bool,
    /// Show what is inside sensitive values (`mesh output` with reveal only).
    reveal: bool,
    /// Paths that force replacement, for the resource being written.
    pub(super) replace: Vec<Vec<PathStep>>,
}

impl Writer {
    pub(super) fn plan(color: ColorChoice) -> Writer {
        Writer {
            out: String::new(),
            color: color == ColorChoice::Always,
            markers: true,
            reveal: false,
            replace: Vec::new(),
        }
    }

    /// A writer for a single value, without markers.
    pub(super) fn value(reveal: bool) -> Writer {
        Writer {
            out: String::new(),
            color: false,
            markers: false,
            reveal,
            replace: Vec::new(),
        }
    }

    /// The text written so far.
    pub(super) fn finish(self) -> String {
        self.out
    }

    pub(super) fn paint(&self, code: &str, text: &str) -> String {
        if self.color && !text.trim().is_empty() {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// Color each action symbol in `text` (`+`, `-`, `~`, `<=`), leaving spaces and `/` plain.
    pub(super) fn paint_symbol(&self, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        if text.trim() == "<=" {
            return text.replace("<=", &self.paint(CYAN, "<="));
        }
        text.chars()
            .map(|c| match c {
                '+' => self.paint(GREEN, "+"),
                '-' => self.paint(RED, "-"),
                '~' => self.paint(YELLOW, "~"),
                other => other.to_string(),
            })
            .collect()
    }

    pub(super) fn line(&mut self, depth: usize, mark: Mark, text: &str) {
        let mut l = String::new();
        if self.markers {
            l.push_str(&" ".repeat(2 + 4 * depth));
            l.push_str(&self.paint_symbol(match mark {
                Mark::Add => "+ ",
                Mark::Remove => "- ",
                Mark::Update => "~ ",
                Mark::Keep => "  ",
            }));
        } else {
            l.push_str(&" ".repeat(2 * depth));
        }
        l.push_str(text);
        self.out.push_str(l.trim_end_matches(' '));
        self.out.push('\n');
    }

    /// ` # forces replacement` when `path` (or, for a leaf, anything under it) forces it.
    pub(super) fn note(&self, path: &[PathStep], leaf: bool) -> String {
        let forces = self
            .replace
            .iter()
            .any(|p| p.as_slice() == path || (leaf && p.starts_with(path)));
        if forces {
            format!(" {}", self.paint(RED, "# forces replacement"))
        } else {
            String::new()
        }
    }

    /// The one-line form of a value, if it has one.
    pub(super) fn inline(&self, v: &Value) -> Option<String> {
        Some(match v {
            Value::Sensitive(inner) if self.reveal => return self.inline(inner),
            Value::Sensitive(_) => "(sensitive value)".into(),
            Value::Unknown => "(known after apply)".into(),
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => format_number(*n),
            Value::String(s) if !s.contains('\n') => quote(s),
            Value::List(l) if l.is_empty() => "[]".into(),
            Value::Map(m) if m.is_empty() => "{}".into(),
            _ => return None,
        })
    }

    /// A whole value: `lead` starts its first line, `tail` ends its last, `note` ends its first.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn full(
        &mut self,
        depth: usize,
        mark: Mark,
        child: Mark,
        lead: &str,
        v: &Value,
        tail: &str,
        note: &str,
    ) {
        if let (Value::Sensitive(inner), true) = (v, self.reveal) {
            return self.full(depth, mark, child, lead, inner, tail, note);
        }
        if let Some(text) = self.inline(v) {
            return self.line(depth, mark, &format!("{lead}{text}{tail}{note}"));
        }
        match v {
            Value::String(s) => {
                self.line(depth, mark, &format!("{lead}<<-EOT{note}"));
                for l in s.lines() {
                    self.line(depth + 1, Mark::Keep, l);
                }
                self.line(depth, Mark::Keep, &format!("EOT{tail}"));
            }
            Value::Map(m) => {
                let skip_null = self.markers;
                let entries: Vec<_> = m
                    .iter()
                    .filter(|(_, v)| !(skip_null && matches!(v, Value::Null)))
                    .collect();
                if entries.is_empty() {
                    return self.line(depth, mark, &format!("{lead}{{}}{tail}{note}"));
                }
                let width = entries
                    .iter()
                    .map(|(k, _)| key_text(k).chars().count())
                    .max()
                    .unwrap_or(0);
                self.line(depth, mark, &format!("{lead}{{{note}"));
                for (k, item) in entries {
                    let lead = format!("{:<width$} = ", key_text(k));
                    self.full(depth + 1, child, child, &lead, item, "", "");
                }
                self.line(depth, Mark::Keep, &format!("}}{tail}"));
            }
            Value::List(items) => {
                self.line(depth, mark, &format!("{lead}[{note}"));
                for item in items {
                    self.full(depth + 1, child, child, "", item, ",", "");
                }
                self.line(depth, Mark::Keep, &format!("]{tail}"));
            }
            _ => self.line(depth, mark, &format!("{lead}null{tail}{note}")),
        }
    }
}
