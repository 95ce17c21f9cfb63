//! The engine's view of stored state: what the plan walk starts from and what apply reports.
//!
//! The state crate owns the stored document; the CLI converts between the two, so the engine
//! never does state I/O.

use std::collections::BTreeMap;

use crate::config::ResourceMode;
use crate::value::Value;

/// One instance as stored, with its sensitive marks restored.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorInstance {
    /// Full address.
    pub address: String,
    /// Managed or data.
    pub mode: ResourceMode,
    /// Provider name.
    pub provider: String,
    /// Resource type.
    pub resource_type: String,
    /// Attributes.
    pub value: Value,
    /// Recorded dependencies.
    pub dependencies: Vec<String>,
    /// Recorded lifecycle.create_before_destroy.
    pub create_before_destroy: bool,
}

/// The state a plan starts from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriorState {
    /// Lineage, when there is a state.
    pub lineage: Option<String>,
    /// Serial.
    pub serial: u64,
    /// Instances by address.
    pub instances: BTreeMap<String, PriorInstance>,
    /// Root outputs.
    pub outputs: BTreeMap<String, Value>,
}
