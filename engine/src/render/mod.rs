//! Rendering plans and values for people and for programs.
//!
//! [`render_plan_human`] prints a plan the way Terraform does; [`render_plan_json`] builds the
//! documented, versioned JSON plan; [`render_value`] prints one value for `mesh output` and
//! `mesh state show`. None of them ever prints a sensitive value: a path marked sensitive on
//! either side of a change is hidden on both sides.

mod human;
mod json;
mod markdown;
mod writer;

pub use json::JSON_FORMAT_VERSION;
pub use markdown::{render_plan_markdown, MARKDOWN_MARKER};

use crate::plan::{MarkedValue, Plan};
use crate::value::Value;

/// Colors on or off (on only for a TTY without NO_COLOR; the CLI decides).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    /// Plain text, no escape codes.
    Never,
    /// ANSI colors: green `+`, yellow `~`, red `-`, cyan `<=`.
    Always,
}

/// Render a plan the way Terraform does, for humans.
///
/// Prints a legend of the symbols used, one block per changed resource instance (sorted by
/// address) showing only changed attributes, the `Plan: N to add, N to change, N to destroy.`
/// line and the changed outputs; or `No changes.` when nothing would change.
pub fn render_plan_human(plan: &Plan, color: ColorChoice) -> String {
    human::render(plan, color)
}

/// The documented, versioned JSON plan (`mesh plan --format json`, `mesh show --format json`).
///
/// The document is an object with these fields, in this order:
///
/// - `format_version` (string): the version of this document, currently `"1.1"`
///   ([`JSON_FORMAT_VERSION`]). The minor part grows when fields are added; the major part
///   changes only when a field is removed or changes meaning.
/// - `mesh_version` (string): the mesh version that made the plan.
/// - `mode` (string): `"normal"`, or `"destroy"` for `mesh plan -destroy`.
/// - `prior_state` (object): the state the plan was made against: `lineage` (string, or null
///   when there was no state) and `serial` (number).
/// - `resource_drift` (array, present only when there is drift): objects changed or deleted
///   outside mesh, shaped like resource changes (`change.before` is the stored value,
///   `change.after` the live one), less what drift rules ignore.
/// - `ignored_drift` (array, present only when a drift rule ignored something; since 1.1): one
///   object per instance and rule with `address`, `module_address`, `mode`, `type`, `name`,
///   `index` as below, `actions` (`["update"]` or `["delete"]`), `attributes` (the ignored
///   attribute paths, `[]` for a deletion), `rule` (the rule's position, from 0), `reason`
///   (string or null) and `rule_location` (`FILE:LINE`). No values.
/// - `resource_changes` (array): one object per resource instance, sorted by `address`,
///   including instances with no change:
///   - `address` (string): the full instance address, e.g. `module.net.mesh_data.subnet[0]`.
///   - `module_address` (string): the module instance, e.g. `module.net`; absent at the root.
///   - `mode` (string): `"managed"` for `resource` blocks, `"data"` for `data` blocks.
///   - `type`, `name` (strings): the resource type and name.
///   - `index` (number or string): the `count` index or `for_each` key; absent when the
///     resource is not repeated.
///   - `provider` (string): the provider name.
///   - `change` (object):
///     - `actions` (array of strings): `["no-op"]`, `["create"]`, `["read"]`, `["update"]`,
///       `["delete", "create"]` (destroy, then create the replacement),
///       `["create", "delete"]` (create the replacement, then destroy) or `["delete"]`.
///     - `before` (any): the current object, or null when there is none.
///     - `after` (any): the planned object, or null when it is destroyed. Values known only
///       after apply are null here.
///     - `after_unknown` (any): the shape of `after` with `true` where a value is known only
///       after apply. Known values are `false` inside arrays and left out of objects; a
///       wholly known object is `{}`, a wholly unknown value is `true`.
///     - `before_sensitive`, `after_sensitive` (any): the shapes of `before` and `after` with
///       `true` where a value is sensitive, laid out like `after_unknown`.
///     - `replace_paths` (array of paths): the attributes that force replacement. A path is an
///       array of steps: a string for an attribute or map key, a number for a list index.
///   - `action_reason` (string): why, when it is not obvious (e.g. `requested with -replace`);
///     absent otherwise.
/// - `output_changes` (object): one entry per root output, keyed by name, with `actions`,
///   `before`, `after`, `after_unknown`, `before_sensitive`, `after_sensitive` as above and
///   `sensitive` (bool): whether the output is declared sensitive.
/// - `summary` (object): `add`, `change` and `destroy` counts over managed resources, as in the
///   human `Plan:` line (a replacement counts once in `add` and once in `destroy`).
///
/// Unlike Terraform's JSON plan, sensitive values are **redacted**: they appear as null, and the
/// matching `*_sensitive` entry is `true`. A path that is sensitive on either side of a change
/// is treated as sensitive on both, and every value of an output declared sensitive is redacted.
pub fn render_plan_json(plan: &Plan) -> serde_json::Value {
    json::render(plan)
}

/// A value for `mesh output` / `mesh state show`: HCL-like, multi-line, sensitive shown as
/// `(sensitive value)` unless `reveal`.
pub fn render_value(value: &Value, reveal: bool) -> String {
    let mut w = writer::Writer::value(reveal);
    w.full(0, writer::Mark::Keep, writer::Mark::Keep, "", value, "", "");
    let mut out = w.finish();
    out.truncate(out.trim_end_matches('\n').len());
    out
}

/// One sentence per drift rule that ignored something, in rule order, such as
/// `3 drifted attributes on 2 resources ignored by drift rules (the autoscaler owns node
/// counts)`; the rule's `FILE:LINE` stands in for a missing reason.
fn ignored_drift_sentences(plan: &Plan) -> Vec<String> {
    crate::plan::summarize_ignored(&plan.ignored_drift)
        .iter()
        .map(|s| {
            let mut what = Vec::new();
            if s.changed > 0 {
                what.push(format!(
                    "{} on {}",
                    counted(s.attributes, "drifted attribute"),
                    counted(s.changed, "resource")
                ));
            }
            if s.deleted > 0 {
                what.push(format!(
                    "{} deleted outside mesh",
                    counted(s.deleted, "resource")
                ));
            }
            let why = match &s.reason {
                Some(reason) => reason.clone(),
                None => format!("rule at {}", s.rule_location),
            };
            format!("{} ignored by drift rules ({why})", what.join(" and "))
        })
        .collect()
}

/// `1 resource`, `2 resources`.
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Both sides of a change with every sensitive mark of either side applied to both.
///
/// A side that has nothing at a path (absent, or null) keeps nothing there: a value that is
/// new, or goes away, stays an addition or a removal instead of becoming a change between a
/// hidden null and a hidden value.
fn marked_pair(before: &MarkedValue, after: &MarkedValue) -> (Value, Value) {
    let mut b = before.to_value();
    let mut a = after.to_value();
    for path in before.sensitive.iter().chain(&after.sensitive) {
        mark_present_at(&mut b, path);
        mark_present_at(&mut a, path);
    }
    unmark_nulls(&mut b);
    unmark_nulls(&mut a);
    (b, a)
}

/// A sensitive null hides nothing: make it a plain null, so it still reads as "absent".
fn unmark_nulls(value: &mut Value) {
    match value {
        Value::Sensitive(inner) if matches!(**inner, Value::Null) => *value = Value::Null,
        Value::Sensitive(inner) => unmark_nulls(inner),
        Value::List(items) => items.iter_mut().for_each(unmark_nulls),
        Value::Map(map) => map.values_mut().for_each(unmark_nulls),
        _ => {}
    }
}

/// Mark the value at `path` sensitive, unless there is no value there (absent or null).
fn mark_present_at(value: &mut Value, path: &[crate::value::PathStep]) {
    use crate::value::PathStep;
    let Some((first, rest)) = path.split_first() else {
        if !matches!(value, Value::Null | Value::Sensitive(_)) {
            let inner = std::mem::replace(value, Value::Null);
            *value = inner.into_sensitive();
        }
        return;
    };
    let target = match (value, first) {
        (Value::Map(m), PathStep::Key(k)) => m.get_mut(k),
        (Value::List(l), PathStep::Index(i)) => l.get_mut(*i),
        _ => None,
    };
    if let Some(target) = target {
        mark_present_at(target, rest);
    }
}

#[cfg(test)]
mod tests;
