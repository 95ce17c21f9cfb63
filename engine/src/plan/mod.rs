//! The plan: plain, serialisable data saying what apply will do.
//!
//! A [`Plan`] is produced by [`walk::plan`] and executed by [`crate::apply`]. Saved with
//! `mesh plan -out FILE`, it records the state serial and lineage it was made against, and a
//! digest of the configuration, so that `mesh apply FILE` can refuse a stale plan.

mod deps;
mod drift;
mod marked;
mod order;
mod saved;
pub mod walk;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use drift::{changed_paths, split_drift, summarize_ignored, IgnoredDrift, IgnoredDriftSummary};
pub use marked::MarkedValue;
pub use order::{config_order, ConfigNode};
pub use saved::{decode_saved_plan, SavedPlanError};

use crate::config::{DriftIgnoreRule, ResourceMode};
use crate::value::{PathStep, Value};

/// The version of the saved-plan and JSON plan formats.
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Converge on the configuration.
    #[default]
    Normal,
    /// Destroy everything in state.
    Destroy,
}

/// What happens to one resource instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing.
    NoOp,
    /// Create.
    Create,
    /// Read a data source during apply.
    Read,
    /// Update in place.
    Update,
    /// Destroy, then create the replacement.
    DeleteThenCreate,
    /// Create the replacement, then destroy the old object.
    CreateThenDelete,
    /// Destroy.
    Delete,
}

impl Action {
    /// True for either kind of replacement.
    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }

    /// The symbol used in human plans.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Read => "<=",
            Action::Update => "~",
            Action::DeleteThenCreate => "-/+",
            Action::CreateThenDelete => "+/-",
            Action::Delete => "-",
        }
    }
}

/// The planned change of one resource instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// Full instance address.
    pub address: String,
    /// Module instance prefix (`module.a.` or empty).
    pub module: String,
    /// Managed or data.
    pub mode: ResourceMode,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Resource name.
    pub name: String,
    /// Provider name.
    pub provider: String,
    /// What happens.
    pub action: Action,
    /// Why, when it is not obvious ("requested with -replace", "no longer in configuration").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The current object (null for create).
    pub before: MarkedValue,
    /// The planned object (null for delete), unknowns marked.
    pub after: MarkedValue,
    /// Attribute paths that force replacement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_paths: Vec<Vec<PathStep>>,
    /// Instances this one depends on (for ordering and for state).
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// What the stored object depended on, when that differs: an object being destroyed
    /// waits until its former dependents have been updated away from it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prior_dependencies: Vec<String>,
    /// lifecycle.create_before_destroy.
    #[serde(default)]
    pub create_before_destroy: bool,
}

impl ResourceChange {
    /// The module path plus `type.name` (or `data.type.name`), without the instance key.
    pub fn resource_address(&self) -> String {
        let data = if self.mode == ResourceMode::Data {
            "data."
        } else {
            ""
        };
        format!("{}{data}{}.{}", self.module, self.resource_type, self.name)
    }
}

/// The planned value of one root output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputChange {
    /// Previous value from state (null when new).
    pub before: MarkedValue,
    /// Planned value.
    pub after: MarkedValue,
    /// Declared sensitive.
    pub sensitive: bool,
    /// Removed from the configuration.
    #[serde(default)]
    pub removed: bool,
}

/// The state a plan was made against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StateRef {
    /// State lineage (None when there was no state).
    pub lineage: Option<String>,
    /// State serial.
    pub serial: u64,
}

/// A complete plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT_VERSION`].
    pub format_version: u32,
    /// The mesh version that made it.
    pub mesh_version: String,
    /// Normal or destroy.
    pub mode: PlanMode,
    /// The state it was made against.
    pub prior_state: StateRef,
    /// Digest of the spec files and variable values.
    pub config_digest: String,
    /// Root variable values used, to evaluate the same configuration at apply.
    pub variables: BTreeMap<String, MarkedValue>,
    /// Instance changes, sorted by address; no-ops included.
    pub changes: Vec<ResourceChange>,
    /// Root outputs.
    pub outputs: BTreeMap<String, OutputChange>,
    /// `-target` addresses, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// Warnings found while planning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Changes made outside mesh since the last apply, found by refresh, less what the spec's
    /// drift rules ignore (see [`Plan::record_drift`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<ResourceDrift>,
    /// The drift refresh found that the spec's `drift { ignore {} }` rules expected: counted in
    /// reports, not shown, and never a reason for a non-zero exit code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored_drift: Vec<IgnoredDrift>,
}

/// How a resource drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Attributes differ from what mesh recorded.
    Changed,
    /// The object no longer exists.
    Deleted,
}

/// One resource instance that changed outside mesh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceDrift {
    /// Instance address.
    pub address: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Provider name.
    pub provider: String,
    /// Changed or deleted.
    pub kind: DriftKind,
    /// What mesh recorded after the last apply.
    pub before: MarkedValue,
    /// What the provider reports now (null when deleted).
    pub after: MarkedValue,
}

/// Counts for the closing line of a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    /// Creates, including the create half of replacements.
    pub add: usize,
    /// In-place updates.
    pub change: usize,
    /// Deletes, including the delete half of replacements.
    pub destroy: usize,
}

impl Plan {
    /// Add/change/destroy counts over managed resources.
    pub fn summary(&self) -> ChangeSummary {
        let mut s = ChangeSummary::default();
        for c in self
            .changes
            .iter()
            .filter(|c| c.mode == ResourceMode::Managed)
        {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Delete => s.destroy += 1,
                Action::DeleteThenCreate | Action::CreateThenDelete => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::NoOp | Action::Read => {}
            }
        }
        s
    }

    /// True when applying would change any resource or output.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
            || self
                .outputs
                .values()
                .any(|o| o.removed || o.before != o.after)
    }

    /// Record what refresh found, split by the spec's drift rules into [`Plan::drift`] (to
    /// report) and [`Plan::ignored_drift`] (to count).
    pub fn record_drift(&mut self, drift: Vec<ResourceDrift>, rules: &[DriftIgnoreRule]) {
        let (reported, ignored) = split_drift(rules, drift);
        self.drift = reported;
        self.ignored_drift = ignored;
    }

    /// Instances refresh found deleted outside mesh, reported or ignored: apply forgets them.
    pub fn vanished(&self) -> Vec<String> {
        let reported = self.drift.iter().map(|d| (&d.address, d.kind));
        let ignored = self.ignored_drift.iter().map(|d| (&d.address, d.kind));
        let mut out: Vec<String> = reported
            .chain(ignored)
            .filter(|(_, kind)| *kind == DriftKind::Deleted)
            .map(|(address, _)| address.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Every instance refresh found changed or deleted outside mesh, reported or ignored.
    pub fn drifted_addresses(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .drift
            .iter()
            .map(|d| d.address.as_str())
            .chain(self.ignored_drift.iter().map(|d| d.address.as_str()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The instances on which drift rules ignored something.
    pub fn ignored_drift_addresses(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .ignored_drift
            .iter()
            .map(|d| d.address.as_str())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The change for an address.
    pub fn change(&self, address: &str) -> Option<&ResourceChange> {
        self.changes.iter().find(|c| c.address == address)
    }

    /// Root variable values with their marks.
    pub fn variable_values(&self) -> BTreeMap<String, Value> {
        self.variables
            .iter()
            .map(|(k, v)| (k.clone(), v.to_value()))
            .collect()
    }
}
