//! Splitting what refresh found into the drift reports show and the drift the spec's
//! `drift { ignore {} }` rules expected.
//!
//! Only reports change: refresh has already written the live values into the prior state, so
//! the plan (and apply) are the same with or without rules. An ignored attribute change is taken
//! out of the drift entry's diff by putting the stored value back at that path of the entry's
//! `after`; an entry left with no change disappears. What was ignored is kept, attribute path by
//! attribute path, in [`IgnoredDrift`] entries, so reports can count it and programs can list it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{DriftKind, MarkedValue, ResourceDrift};
use crate::address::{parse_deposed, InstanceAddress};
use crate::config::DriftIgnoreRule;
use crate::value::{PathStep, Value};

/// The drift one rule ignored on one resource instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgnoredDrift {
    /// Instance address.
    pub address: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Changed (some attributes ignored) or deleted (the deletion ignored).
    pub kind: DriftKind,
    /// The ignored attributes, as the rule names them (a rule about whole objects names
    /// top-level attributes), sorted; empty for a deletion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Vec<PathStep>>,
    /// The rule's position among the spec's `ignore` blocks, from 0.
    pub rule: usize,
    /// The rule's `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the rule is, `FILE:LINE`.
    pub rule_location: String,
}

/// What one rule ignored in a plan, for the one-line summaries of reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredDriftSummary {
    /// The rule's position, from 0.
    pub rule: usize,
    /// The rule's `reason`.
    pub reason: Option<String>,
    /// Where the rule is, `FILE:LINE`.
    pub rule_location: String,
    /// Ignored attribute changes.
    pub attributes: usize,
    /// Instances those attribute changes are on.
    pub changed: usize,
    /// Instances whose deletion outside mesh was ignored.
    pub deleted: usize,
}

/// Split refresh's drift into the entries to report and what `rules` ignore.
///
/// A deleted object is ignored only by a rule that matches it and names no attributes. A
/// changed object's attribute changes are each ignored by the first rule that matches the
/// object and covers the change; the entry is reported with the remaining changes, or not at
/// all when none remain. Entries whose address is not a resource instance are reported as
/// they are.
pub fn split_drift(
    rules: &[DriftIgnoreRule],
    drift: Vec<ResourceDrift>,
) -> (Vec<ResourceDrift>, Vec<IgnoredDrift>) {
    let mut reported = Vec::new();
    let mut ignored = Vec::new();
    for entry in drift {
        let matching = matching_rules(rules, &entry.address);
        if matching.is_empty() {
            reported.push(entry);
            continue;
        }
        match entry.kind {
            DriftKind::Deleted => match matching.iter().find(|(_, r)| r.ignores_deletion()) {
                Some((index, rule)) => ignored.push(ignored_entry(&entry, *index, rule, vec![])),
                None => reported.push(entry),
            },
            DriftKind::Changed => {
                let (rest, found) = split_changed(&matching, entry);
                reported.extend(rest);
                ignored.extend(found);
            }
        }
    }
    ignored.sort_by(|a, b| (&a.address, a.rule).cmp(&(&b.address, b.rule)));
    (reported, ignored)
}

/// Per rule, in rule order, what it ignored.
pub fn summarize_ignored(ignored: &[IgnoredDrift]) -> Vec<IgnoredDriftSummary> {
    let mut by_rule: BTreeMap<usize, IgnoredDriftSummary> = BTreeMap::new();
    for item in ignored {
        let summary = by_rule
            .entry(item.rule)
            .or_insert_with(|| IgnoredDriftSummary {
                rule: item.rule,
                reason: item.reason.clone(),
                rule_location: item.rule_location.clone(),
                attributes: 0,
                changed: 0,
                deleted: 0,
            });
        match item.kind {
            DriftKind::Deleted => summary.deleted += 1,
            DriftKind::Changed => {
                summary.attributes += item.attributes.len();
                summary.changed += 1;
            }
        }
    }
    by_rule.into_values().collect()
}

/// The rules (with their positions) that apply to the instance at `address`.
fn matching_rules<'r>(
    rules: &'r [DriftIgnoreRule],
    address: &str,
) -> Vec<(usize, &'r DriftIgnoreRule)> {
    let base = parse_deposed(address).map_or(address, |(base, _)| base);
    let Some(parsed) = InstanceAddress::parse(base) else {
        return Vec::new();
    };
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.matches_resource(&parsed))
        .collect()
}

/// One changed entry: the entry left to report (if any change remains) and what was ignored.
fn split_changed(
    rules: &[(usize, &DriftIgnoreRule)],
    mut entry: ResourceDrift,
) -> (Option<ResourceDrift>, Vec<IgnoredDrift>) {
    let before = entry.before.to_value();
    let mut after = entry.after.to_value();
    let mut by_rule: BTreeMap<usize, BTreeSet<Vec<PathStep>>> = BTreeMap::new();
    let mut kept = 0;
    for path in changed_paths(&before, &after) {
        let hit = rules
            .iter()
            .find_map(|(index, rule)| rule.ignored_prefix(&path).map(|n| (*index, n)));
        match hit {
            Some((index, n)) => {
                by_rule.entry(index).or_default().insert(path[..n].to_vec());
            }
            None => kept += 1,
        }
    }
    if by_rule.is_empty() {
        return (Some(entry), Vec::new());
    }
    let mut ignored = Vec::new();
    for (index, paths) in by_rule {
        for path in &paths {
            restore(&mut after, &before, path);
        }
        let rule = rules.iter().find(|(i, _)| *i == index).map(|(_, r)| *r);
        if let Some(rule) = rule {
            ignored.push(ignored_entry(
                &entry,
                index,
                rule,
                paths.into_iter().collect(),
            ));
        }
    }
    if kept == 0 {
        return (None, ignored);
    }
    entry.after = MarkedValue::from_value(&after);
    (Some(entry), ignored)
}

fn ignored_entry(
    entry: &ResourceDrift,
    index: usize,
    rule: &DriftIgnoreRule,
    attributes: Vec<Vec<PathStep>>,
) -> IgnoredDrift {
    IgnoredDrift {
        address: entry.address.clone(),
        resource_type: entry.resource_type.clone(),
        kind: entry.kind,
        attributes,
        rule: index,
        reason: rule.reason.clone(),
        rule_location: rule.short_location(),
    }
}

/// The paths at which `before` and `after` differ, as deep as both sides have the same shape:
/// into objects key by key (a missing key or null standing for an empty object beside an
/// object), into lists of the same length index by index. A sensitive value is one leaf, so
/// nothing is learnt about what is inside it.
pub fn changed_paths(before: &Value, after: &Value) -> Vec<Vec<PathStep>> {
    let mut out = Vec::new();
    collect_changes(Some(before), Some(after), &mut Vec::new(), &mut out);
    out
}

fn collect_changes(
    before: Option<&Value>,
    after: Option<&Value>,
    at: &mut Vec<PathStep>,
    out: &mut Vec<Vec<PathStep>>,
) {
    let null = Value::Null;
    let (b, a) = (before.unwrap_or(&null), after.unwrap_or(&null));
    if b.strip_sensitive() == a.strip_sensitive() {
        return;
    }
    let found = out.len();
    match (b, a) {
        (Value::Sensitive(_), _) | (_, Value::Sensitive(_)) => {}
        (Value::Map(_) | Value::Null, Value::Map(_) | Value::Null) => {
            let empty = BTreeMap::new();
            let (bm, am) = (b.as_map().unwrap_or(&empty), a.as_map().unwrap_or(&empty));
            let keys: BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
            for key in keys {
                at.push(PathStep::Key(key.clone()));
                collect_changes(bm.get(key), am.get(key), at, out);
                at.pop();
            }
        }
        (Value::List(bl), Value::List(al)) if bl.len() == al.len() => {
            for (i, (x, y)) in bl.iter().zip(al).enumerate() {
                at.push(PathStep::Index(i));
                collect_changes(Some(x), Some(y), at, out);
                at.pop();
            }
        }
        _ => {}
    }
    // A difference found nowhere below (a leaf, a reshaped value, null against `{}`) is here.
    if out.len() == found {
        out.push(at.clone());
    }
}

/// Put `before`'s value at `path` into `after` (removing the key when `before` has none).
fn restore(after: &mut Value, before: &Value, path: &[PathStep]) {
    put(after, path, before.get_at(path).cloned());
}

/// Set (`Some`) or remove (`None`) the value at `path`, creating the objects on the way.
fn put(value: &mut Value, path: &[PathStep], new: Option<Value>) {
    let Some((first, rest)) = path.split_first() else {
        *value = new.unwrap_or(Value::Null);
        return;
    };
    if let Value::Sensitive(inner) = value {
        return put(inner, path, new);
    }
    match first {
        PathStep::Key(key) => {
            if matches!(value, Value::Null) && new.is_some() {
                *value = Value::Map(BTreeMap::new());
            }
            let Value::Map(map) = value else {
                return;
            };
            if rest.is_empty() {
                match new {
                    Some(v) => map.insert(key.clone(), v),
                    None => map.remove(key),
                };
                return;
            }
            if new.is_none() && !map.contains_key(key) {
                return;
            }
            put(map.entry(key.clone()).or_insert(Value::Null), rest, new);
        }
        PathStep::Index(i) => {
            if let Value::List(items) = value {
                if let Some(slot) = items.get_mut(*i) {
                    put(slot, rest, new);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
