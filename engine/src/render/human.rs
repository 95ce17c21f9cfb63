//! The human plan: Terraform's layout, markers, alignment and hidden-attribute counts.
//!
//! Values are compared after [`marked_pair`](super::marked_pair) has put every sensitive mark of
//! either side on both sides, so a secret is never printed even when only one side marks it.

use std::collections::{BTreeMap, BTreeSet};

use similar::{capture_diff_slices, Algorithm, ChangeTag, DiffTag, TextDiff};

use super::writer::{key_text, quote, Mark, Writer, BOLD, GREEN};
use super::{marked_pair, ColorChoice};
use crate::config::ResourceMode;
use crate::plan::{Action, DriftKind, Plan, PlanMode, ResourceChange, ResourceDrift};
use crate::value::{PathStep, Value};

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

fn plural(noun: &str, n: usize) -> String {
    if n == 1 {
        noun.to_string()
    } else {
        format!("{noun}s")
    }
}

impl Writer {
    /// One map entry or output, already classified.
    #[allow(clippy::too_many_arguments)]
    fn entry(
        &mut self,
        depth: usize,
        lead: &str,
        kind: Kind,
        b: &Value,
        a: &Value,
        path: &mut Vec<PathStep>,
        tail: &str,
    ) {
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
    fn change(
        &mut self,
        depth: usize,
        lead: &str,
        b: &Value,
        a: &Value,
        path: &mut Vec<PathStep>,
        tail: &str,
    ) {
        match (b, a) {
            (Value::Sensitive(_), Value::Sensitive(_)) => {
                let note = self.note(path, true);
                self.line(
                    depth,
                    Mark::Update,
                    &format!("{lead}(sensitive value){tail}{note}"),
                );
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
                        self.line(
                            depth,
                            Mark::Update,
                            &format!("{lead}{old} -> {new}{tail}{note}"),
                        );
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
        let width = shown
            .iter()
            .map(|(k, _)| key_text(k).chars().count())
            .max()
            .unwrap_or(0);
        for (k, kind) in shown {
            let lead = format!("{:<width$} = ", key_text(k));
            path.push(PathStep::Key(k.clone()));
            let (bv, av) = (
                b.get(k).unwrap_or(&Value::Null),
                a.get(k).unwrap_or(&Value::Null),
            );
            self.entry(depth, &lead, kind, bv, av, path, "");
            path.pop();
        }
        if same > 0 {
            self.line(
                depth,
                Mark::Keep,
                &format!("# ({same} unchanged {} hidden)", plural(noun, same)),
            );
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
            self.line(
                depth,
                Mark::Keep,
                &format!("# ({n} unchanged {} hidden)", plural("element", n)),
            );
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
        let keyword = if rc.mode == ResourceMode::Data {
            "data"
        } else {
            "resource"
        };
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

    /// One object changed or deleted outside mesh: stored value → live value.
    fn drift(&mut self, d: &ResourceDrift) {
        let (what, action) = match d.kind {
            DriftKind::Changed => ("has changed", Action::Update),
            DriftKind::Deleted => ("has been deleted", Action::Delete),
        };
        let comment = self.paint(BOLD, &format!("# {} {what}", d.address));
        self.out.push_str(&format!("  {comment}\n"));
        let name = crate::address::InstanceAddress::parse(&d.address)
            .map(|a| a.resource.name)
            .unwrap_or_else(|| d.address.clone());
        let symbol = self.paint_symbol(&format!("{:>3}", action.symbol()));
        self.out.push_str(&format!(
            "{symbol} resource {} {} {{\n",
            quote(&d.resource_type),
            quote(&name)
        ));
        let (b, a) = marked_pair(&d.before, &d.after);
        let a = if d.kind == DriftKind::Deleted {
            Value::Null
        } else {
            a
        };
        let empty = BTreeMap::new();
        match (&b, &a) {
            (Value::Sensitive(_), _) | (_, Value::Sensitive(_)) => {
                self.line(1, Mark::Keep, "# (sensitive value)");
            }
            _ => {
                let bm = b.as_map().unwrap_or(&empty);
                let am = a.as_map().unwrap_or(&empty);
                self.map_body(1, bm, am, &mut Vec::new(), "attribute");
            }
        }
        self.line(0, Mark::Keep, "}");
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
        let width = shown
            .iter()
            .map(|(n, ..)| n.chars().count())
            .max()
            .unwrap_or(0);
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

/// The drift rules' counts, one line each, then a blank line; nothing when nothing was ignored.
fn ignored_drift_note(w: &mut Writer, sentences: &[String]) {
    if sentences.is_empty() {
        return;
    }
    for sentence in sentences {
        w.out.push_str(&format!("{sentence}.\n"));
    }
    w.out.push('\n');
}

/// The whole human plan.
pub(super) fn render(plan: &Plan, color: ColorChoice) -> String {
    let mut changes: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    changes.sort_by(|x, y| x.address.cmp(&y.address));
    let mut w = Writer::plan(color);
    let mut outputs = Writer::plan(color);
    let outputs_changed = outputs.outputs(plan);

    let ignored = super::ignored_drift_sentences(plan);
    if plan.drift.is_empty() && !ignored.is_empty() {
        w.out.push('\n');
        ignored_drift_note(&mut w, &ignored);
    }
    if !plan.drift.is_empty() {
        let mut drift: Vec<&ResourceDrift> = plan.drift.iter().collect();
        drift.sort_by(|x, y| x.address.cmp(&y.address));
        let note = w.paint(BOLD, "Note: Objects have changed outside of mesh");
        w.out.push_str(&format!(
            "\n{note}\n\nmesh detected the following changes made outside of mesh since the last \
             \"mesh apply\":\n\n"
        ));
        for d in drift {
            w.drift(d);
            w.out.push('\n');
        }
        ignored_drift_note(&mut w, &ignored);
        if changes.is_empty() && !outputs_changed {
            let no = w.paint(&format!("{BOLD}{GREEN}"), "No changes to apply.");
            let headline = w.paint(
                BOLD,
                "No real infrastructure would change; only the state can record the changes above.",
            );
            w.out.push_str(&format!(
                "{no} {headline}\n\nTo accept these changes into the mesh state without changing any \
                 real infrastructure, run:\n    mesh apply --refresh-only\n"
            ));
            return w.out;
        }
        w.out.push_str(
            "Unless you have made equivalent changes to your configuration, or ignored the relevant \
             attributes using ignore_changes, the following plan may include actions to undo or \
             respond to these changes.\n\n",
        );
        w.out.push_str(&"\u{2500}".repeat(77));
        w.out.push_str("\n\n");
    }

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
        let headline = w.paint(BOLD, headline);
        w.out.push_str(&format!("{no} {headline}\n\n{detail}\n"));
        return w.out;
    }

    if !changes.is_empty() {
        w.out.push_str(
            "mesh used the selected providers to generate the following execution plan. Resource \
             actions are indicated with the following symbols:\n",
        );
        let legend = [
            (Action::Create, "create"),
            (Action::Update, "update in place"),
            (
                Action::DeleteThenCreate,
                "destroy and then create replacement",
            ),
            (
                Action::CreateThenDelete,
                "create replacement and then destroy",
            ),
            (Action::Delete, "destroy"),
            (Action::Read, "read (data resources)"),
        ];
        for (action, text) in legend {
            if changes.iter().any(|c| c.action == action) {
                let symbol = w.paint_symbol(&format!("{:>3}", action.symbol()));
                w.out.push_str(&format!("{symbol} {text}\n"));
            }
        }
        w.out
            .push_str("\nmesh will perform the following actions:\n\n");
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
