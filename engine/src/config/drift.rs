//! `drift { ignore { ... } }`: the drift a spec expects, so that reports count it instead of
//! showing it.
//!
//! Some objects are changed outside mesh on purpose: an autoscaler owns a node pool's node
//! count, a controller stamps annotations on the objects it watches. Reporting that drift on
//! every scheduled check buries the drift that matters. A drift rule names the resources and
//! attributes whose drift is expected; refresh still reads them, and apply does exactly what it
//! would do without the rule (only `lifecycle.ignore_changes` changes what apply does), but the
//! reports show how much was ignored instead of the diffs.
//!
//! The rules are plain data decoded once at load time (only the root module may declare them);
//! [`crate::plan::split_drift`] applies them to what refresh found.

use crate::address::InstanceAddress;
use crate::diagnostics::SourceLocation;
use crate::value::PathStep;

pub use super::drift_patterns::{AddressPattern, AttributePattern};

/// Every drift rule of the root module, in declaration order (files by name, then position).
#[derive(Debug, Clone, Default)]
pub struct DriftRules {
    /// The `ignore` blocks.
    pub ignore: Vec<DriftIgnoreRule>,
    /// Where each `drift` block is, so that one in a child module can be reported.
    pub blocks: Vec<SourceLocation>,
}

impl DriftRules {
    /// True when the spec declares no rule.
    pub fn is_empty(&self) -> bool {
        self.ignore.is_empty()
    }
}

/// One `ignore { resources = [...] attributes = [...] reason = "..." }` block.
#[derive(Debug, Clone)]
pub struct DriftIgnoreRule {
    /// The resource instances it applies to; `None` (the argument left out) means every one.
    pub resources: Option<Vec<AddressPattern>>,
    /// The attributes whose changes it ignores; `None` (left out) means the whole object,
    /// including its deletion outside mesh.
    pub attributes: Option<Vec<AttributePattern>>,
    /// Why this drift is expected, shown in reports.
    pub reason: Option<String>,
    /// Where the `ignore` block is.
    pub location: SourceLocation,
}

impl DriftIgnoreRule {
    /// True when the rule applies to this managed resource instance.
    pub fn matches_resource(&self, address: &InstanceAddress) -> bool {
        match &self.resources {
            None => true,
            Some(patterns) => patterns.iter().any(|p| p.matches(address)),
        }
    }

    /// True when the rule ignores the object's deletion: only a rule about whole objects does.
    pub fn ignores_deletion(&self) -> bool {
        self.attributes.is_none()
    }

    /// How many leading steps of `changed` name the attribute this rule ignores, or `None` when
    /// the rule does not cover that change. A rule about whole objects covers every change and
    /// names its top-level attribute.
    pub fn ignored_prefix(&self, changed: &[PathStep]) -> Option<usize> {
        match &self.attributes {
            None => Some(changed.len().min(1)),
            Some(patterns) => patterns.iter().find(|p| p.covers(changed)).map(|p| p.len()),
        }
    }

    /// Where the rule is, as `FILE:LINE`, for reports.
    pub fn short_location(&self) -> String {
        format!("{}:{}", self.location.file.display(), self.location.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(resources: Option<&[&str]>, attributes: Option<&[&str]>) -> DriftIgnoreRule {
        DriftIgnoreRule {
            resources: resources.map(|r| {
                r.iter()
                    .map(|p| AddressPattern::parse(p).expect("pattern"))
                    .collect()
            }),
            attributes: attributes.map(|a| {
                a.iter()
                    .map(|p| AttributePattern::parse(p).expect("path"))
                    .collect()
            }),
            reason: None,
            location: SourceLocation::synthetic("main.hcl"),
        }
    }

    fn key(k: &str) -> PathStep {
        PathStep::Key(k.into())
    }

    #[test]
    fn a_rule_without_resources_applies_everywhere() {
        let r = rule(None, Some(&["node_count"]));
        let a = InstanceAddress::parse("module.x[1].test_resource.y[\"k\"]").expect("address");
        assert!(r.matches_resource(&a));
        assert!(!r.ignores_deletion());
    }

    #[test]
    fn a_rule_without_attributes_ignores_whole_objects() {
        let r = rule(Some(&["test_resource.pool"]), None);
        assert!(r.ignores_deletion());
        assert_eq!(r.ignored_prefix(&[key("value"), key("a")]), Some(1));
        assert_eq!(r.ignored_prefix(&[]), Some(0));
        let other = InstanceAddress::parse("test_resource.other").expect("address");
        assert!(!r.matches_resource(&other));
    }

    #[test]
    fn the_prefix_is_the_length_of_the_covering_path() {
        let r = rule(None, Some(&["name", "value.labels"]));
        assert_eq!(
            r.ignored_prefix(&[key("value"), key("labels"), key("team")]),
            Some(2)
        );
        assert_eq!(r.ignored_prefix(&[key("value"), key("size")]), None);
        assert_eq!(r.ignored_prefix(&[key("value")]), None);
    }
}
