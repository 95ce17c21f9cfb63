//! The human plan: Terraform's layout, markers, alignment and hidden-attribute counts.
//!
//! Values are compared after [`marked_pair`](super::marked_pair) has put every sensitive mark of
//! either side on both sides, so a secret is never printed even when only one side marks it.

use std::collections::{BTreeMap, BTreeSet};

use similar::{capture_diff_slices, Algorithm, ChangeTag, DiffTag, TextDiff};

use super::{marked_pair, ColorChoice};
use crate::config::ResourceMode;
use crate::plan::{Action, Plan, PlanMode, ResourceChange};
use crate::value::{format_number, PathStep, Value};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
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

/// How an attribute changes between two sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Skip,
    Same,
    Add,
    Remove,
    Change,
}

fn classify(b: Option<&Value>, a: Option<&Value>) -> Kind {
    let b = b.filter(|v| !matches!(v, Value::Null));
    let a = a.filter(|v| !matches!(v, Value::Null));
    match (b, a) {
        (None, None) => Kind::Skip,
        (None, Some(_)) => Kind::Add,
        (Some(_), None) => Kind::Remove,
        (Some(x), Some(y)) if x == y => Kind::Same,
        _ => Kind::Change,
    }
}

/// A JSON-escaped, quoted string.
pub(super) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A map key: bare when it is an identifier, quoted otherwise.
pub(super) fn key_text(k: &str) -> String {
    let mut chars = k.chars();
    let ident = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ident {
        k.to_string()
    } else {
        quote(k)
    }
}

fn plural(noun: &str, n: usize) -> String {
    if n == 1 {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}

/// Writes indented, marked lines.
pub(super) struct Writer {
    out: String,
    color: bool,
    /// Plan layout (markers, four-wide indent) rather than plain value layout (two-wide).
    markers: bool,
    /// Show what is inside sensitive values (`mesh output` with reveal only).
    reveal: bool,
    /// Paths that force replacement, for the resource being written.
    replace: Vec<Vec<PathStep>>,
}

impl Writer {
    fn plan(color: ColorChoice) -> Writer {
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

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color && !text.trim().is_empty() {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// Color each action symbol in `text` (`+`, `-`, `~`, `<=`), leaving spaces and `/` plain.
    fn paint_symbol(&self, text: &str) -> String {
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

    fn line(&mut self, depth: usize, mark: Mark, text: &str) {
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
    fn note(&self, path: &[PathStep], leaf: bool) -> String {
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
    fn inline(&self, v: &Value) -> Option<String> {
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
    pub(super) fn full(&mut self, depth: usize, mark: Mark, child: Mark, lead: &str, v: &Value, tail: &str, note: &str) {
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
                let width = entries.iter().map(|(k, _)| key_text(k).chars().count()).max().unwrap_or(0);
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

    /// One map entry or output, already classified.
    #[allow(clippy::too_many_arguments)]
    fn entry(&mut self, depth: usize, lead: &str, kind: Kind, b: &Value, a: &Value, path: &mut Vec<PathStep>, tail: &str) {
        match kind {
            Kind::Add => {
                let note = self.note(path, true);
                self.full(depth, Mark::Add, Mark::Add, lead, a, tail, &note)
            }
            Kind::Remove => {
                let note = self.note(path, true);
                let rm_tail = if tail.is_empty() { " -> null" } else { tail };
                self.full(depth, Mark::Remove, Mark::Remove, lead, b, rm_tail, &note)
            }
            Kind::Change => self.change(depth, lead, b, a, path, tail),
            Kind::Skip | Kind::Same => {}
        }
    }

    /// A value present on both sides that differs.
    fn change(&mut self, depth: usize, lead: &str, b: &Value, a: &Value, path: &mut Vec<PathStep>, tail: &str) {
        match (b, a) {
            (Value::Sensitive(_), Value::Sensitive(_)) => {
                let note = self.note(path, true);
                self.line(depth, Mark::Update, &format!("{lead}(sensitive value){tail}{note}"));
            }
            (_, Value::Unknown) => {
                let note = self.note(path, true);
                let tail = format!(" -> (known after apply){tail}");
                self.full(depth, Mark::Update, Mark::Remove, lead, b, &tail, &note);
            }
            (Value::Map(bm), Value::Map(am)) => {
                let note = self.note(path, false);
                self.line(depth, Mark::Update, &format!("{lead}{{{note}"));
                self.map_body(depth + 1, bm, am, path, "element");
                self.line(depth, Mark::Keep, &format!("}}{tail}"));
            }
            (Value::List(bl), Value::List(al)) => {
                let note = self.note(path, false);
                self.line(depth, Mark::Update, &format!("{lead}[{note}"));
                self.list_body(depth + 1, bl, al, path);
                self.line(depth, Mark::Keep, &format!("]{tail}"));
            }
            (Value::String(bs), Value::String(s)) if bs.contains('\n') || s.contains('\n') => {
                let note = self.note(path, true);
                self.line(depth, Mark::Update, &format!("{lead}<<-EOT{note}"));
                let old: Vec<&str> = bs.lines().collect();
                let new: Vec<&str> = s.lines().collect();
                let diff = TextDiff::from_slices(&old, &new);
                for change in diff.iter_all_changes() {
                    let mark = match change.tag() {
                        ChangeTag::Equal => Mark::Keep,
                        ChangeTag::Delete => Mark::Remove,
                        ChangeTag::Insert => Mark::Add,
                    };
                    self.line(depth + 1, mark, change.value());
                }
                self.line(depth, Mark::Keep, &format!("EOT{tail}"));
            }
            _ => {
                let note = self.note(path, true);
                match (self.inline(b), self.inline(a)) {
                    (Some(old), Some(new)) => {
                        self.line(depth, Mark::Update, &format!("{lead}{old} -> {new}{tail}{note}"));
                    }
                    _ => {
                        let rm_tail = if tail.is_empty() { " -> null" } else { tail };
                        self.full(depth, Mark::Remove, Mark::Remove, lead, b, rm_tail, &note);
                        self.full(depth, Mark::Add, Mark::Add, lead, a, tail, "");
                    }
                }
            }
        }
    }

    /// The changed entries of two maps, aligned, then a count of the unchanged ones.
    fn map_body(
        &mut self,
        depth: usize,
        b: &BTreeMap<String, Value>,
        a: &BTreeMap<String, Value>,
        path: &mut Vec<PathStep>,
        noun: &str,
    ) {
        let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
        let mut shown = Vec::new();
        let mut same = 0;
        for k in keys {
            match classify(b.get(k), a.get(k)) {
                Kind::Skip => {}
                Kind::Same => same += 1,
                kind => shown.push((k, kind)),
            }
        }
        let width = shown.iter().map(|(k, _)| key_text(k).chars().count()).max().unwrap_or(0);
        for (k, kind) in shown {
            let lead = format!("{:<width$} = ", key_text(k));
            path.push(PathStep::Key(k.clone()));
            let (bv, av) = (b.get(k).unwrap_or(&Value::Null), a.get(k).unwrap_or(&Value::Null));
            self.entry(depth, &lead, kind, bv, av, path, "");
            path.pop();
        }
        if same > 0 {
            self.line(depth, Mark::Keep, &format!("# ({same} unchanged {} hidden)", plural(noun, same)));
        }
    }

    /// The changed elements of two lists, in order, with runs of unchanged ones counted.
    fn list_body(&mut self, depth: usize, b: &[Value], a: &[Value], path: &mut Vec<PathStep>) {
        // Debug text is only a comparison key here; it is never printed.
        let old: Vec<String> = b.iter().map(|v| format!("{v:?}")).collect();
        let new: Vec<String> = a.iter().map(|v| format!("{v:?}")).collect();
        let mut hidden = 0;
        for op in capture_diff_slices(Algorithm::Myers, &old, &new) {
            let (tag, old_range, new_range) = op.as_tag_tuple();
            if tag == DiffTag::Equal {
                hidden += old_range.len();
                continue;
            }
            self.flush_hidden(depth, &mut hidden);
            let paired = tag == DiffTag::Replace
                && old_range.len() == new_range.len()
                && old_range
                    .clone()
                    .zip(new_range.clone())
                    .all(|(i, j)| matches!((&b[i], &a[j]), (Value::Map(_), Value::Map(_))));
            if paired {
                for (i, j) in old_range.zip(new_range) {
                    path.push(PathStep::Index(j));
                    self.change(depth, "", &b[i], &a[j], path, ",");
                    path.pop();
                }
                continue;
            }
            for i in old_range {
                path.push(PathStep::Index(i));
                self.entry(depth, "", Kind::Remove, &b[i], &Value::Null, path, ",");
                path.pop();
            }
            for j in new_range {
                path.push(PathStep::Index(j));
                self.entry(depth, "", Kind::Add, &Value::Null, &a[j], path, ",");
                path.pop();
            }
        }
        self.flush_hidden(depth, &mut hidden);
    }

    fn flush_hidden(&mut self, depth: usize, hidden: &mut usize) {
        if *hidden > 0 {
            let n = std::mem::take(hidden);
            self.line(depth, Mark::Keep, &format!("# ({n} unchanged {} hidden)", plural("element", n)));
        }
    }

    /// The comment, header and body of one resource change.
    fn resource(&mut self, rc: &ResourceChange) {
        let what = match rc.action {
            Action::Create => "will be created",
            Action::Update => "will be updated in place",
            Action::DeleteThenCreate | Action::CreateThenDelete => "must be replaced",
            Action::Delete => "will be destroyed",
            Action::Read => "will be read during apply",
            Action::NoOp => "has no changes",
        };
        let comment = self.paint(BOLD, &format!("# {} {what}", rc.address));
        self.out.push_str(&format!("  {comment}\n"));
        if let Some(reason) = &rc.reason {
            let reason = reason.strip_prefix("because ").unwrap_or(reason);
            self.out.push_str(&format!("  # (because {reason})\n"));
        }
        let keyword = if rc.mode == ResourceMode::Data { "data" } else { "resource" };
        let symbol = self.paint_symbol(&format!("{:>3}", rc.action.symbol()));
        self.out.push_str(&format!(
            "{symbol} {keyword} {} {} {{\n",
            quote(&rc.resource_type),
            quote(&rc.name)
        ));
        let (b, a) = marked_pair(&rc.before, &rc.after);
        self.replace = rc.replace_paths.clone();
        let empty = BTreeMap::new();
        match (&b, &a) {
            (Value::Sensitive(_), _) | (_, Value::Sensitive(_)) => {
                self.line(1, Mark::Keep, "# (sensitive value)");
            }
            (_, Value::Unknown) => self.line(1, Mark::Keep, "# (all attributes known after apply)"),
            _ => {
                let bm = b.as_map().unwrap_or(&empty);
                let am = a.as_map().unwrap_or(&empty);
                self.map_body(1, bm, am, &mut Vec::new(), "attribute");
            }
        }
        self.line(0, Mark::Keep, "}");
        self.replace.clear();
    }

    /// The changed root outputs, aligned; false when none changed.
    fn outputs(&mut self, plan: &Plan) -> bool {
        let mut shown = Vec::new();
        for (name, oc) in &plan.outputs {
            if !oc.removed && oc.before == oc.after {
                continue;
            }
            let (mut b, mut a) = marked_pair(&oc.before, &oc.after);
            if oc.removed {
                a = Value::Null;
            }
            if oc.sensitive {
                b = wrap_sensitive(b);
                a = wrap_sensitive(a);
            }
            match classify(Some(&b), Some(&a)) {
                Kind::Skip | Kind::Same => {}
                kind => shown.push((name, kind, b, a)),
            }
        }
        let width = shown.iter().map(|(n, ..)| n.chars().count()).max().unwrap_or(0);
        for (name, kind, b, a) in &shown {
            let lead = format!("{name:<width$} = ");
            self.entry(0, &lead, *kind, b, a, &mut Vec::new(), "");
        }
        !shown.is_empty()
    }
}

fn wrap_sensitive(v: Value) -> Value {
    if matches!(v, Value::Null) {
        v
    } else {
        v.into_sensitive()
    }
}

/// The whole human plan.
pub(super) fn render(plan: &Plan, color: ColorChoice) -> String {
    let mut changes: Vec<&ResourceChange> = plan.changes.iter().filter(|c| c.action != Action::NoOp).collect();
    changes.sort_by(|x, y| x.address.cmp(&y.address));
    let mut w = Writer::plan(color);
    let mut outputs = Writer::plan(color);
    let outputs_changed = outputs.outputs(plan);

    if changes.is_empty() && !outputs_changed {
        let (headline, detail) = match plan.mode {
            PlanMode::Normal => (
                "Your infrastructure matches the configuration.",
                "mesh has compared your real infrastructure against your configuration and found no \
                 differences, so no changes are needed.",
            ),
            PlanMode::Destroy => (
                "No objects need to be destroyed.",
                "Either you have not created any objects yet or the existing objects were already \
                 deleted outside of mesh.",
            ),
        };
        let no = w.paint(&format!("{BOLD}{GREEN}"), "No changes.");
        return format!("{no} {}\n\n{detail}\n", w.paint(BOLD, headline));
    }

    if !changes.is_empty() {
        w.out.push_str(
            "mesh used the selected providers to generate the following execution plan. Resource \
             actions are indicated with the following symbols:\n",
        );
        let legend = [
            (Action::Create, "create"),
            (Action::Update, "update in place"),
            (Action::DeleteThenCreate, "destroy and then create replacement"),
            (Action::CreateThenDelete, "create replacement and then destroy"),
            (Action::Delete, "destroy"),
            (Action::Read, "read (data resources)"),
        ];
        for (action, text) in legend {
            if changes.iter().any(|c| c.action == action) {
                let symbol = w.paint_symbol(&format!("{:>3}", action.symbol()));
                w.out.push_str(&format!("{symbol} {text}\n"));
            }
        }
        w.out.push_str("\nmesh will perform the following actions:\n\n");
        for rc in &changes {
            w.resource(rc);
            w.out.push('\n');
        }
        let s = plan.summary();
        let label = w.paint(BOLD, "Plan:");
        w.out.push_str(&format!(
            "{label} {} to add, {} to change, {} to destroy.\n",
            s.add, s.change, s.destroy
        ));
    }

    if outputs_changed {
        if !changes.is_empty() {
            w.out.push('\n');
        }
        w.out.push_str("Changes to Outputs:\n");
        w.out.push_str(&outputs.out);
        if changes.is_empty() {
            w.out.push_str(
                "\nYou can apply this plan to save these new output values to the mesh state, \
                 without changing any real infrastructure.\n",
            );
        }
    }
    w.out
}
