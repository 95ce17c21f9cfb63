//! The root module's `mesh {}` block: where state is stored (`backend "TYPE" {}`) and how it
//! is encrypted at rest (`encryption {}`).
//!
//! Both are read before anything is evaluated (state must be found before a plan can start),
//! so their values are literals. The engine only checks their shape; what the settings mean is
//! up to the CLI, which reports its own errors at each setting's location.

use std::collections::BTreeMap;

use crate::diagnostics::SourceLocation;

/// The settings of the root module's `mesh` blocks.
#[derive(Debug, Clone, Default)]
pub struct MeshSettings {
    /// The `backend "TYPE" {}` block, if any.
    pub backend: Option<LiteralBlock>,
    /// The `encryption {}` block, if any.
    pub encryption: Option<LiteralBlock>,
    /// Where this module's `mesh` blocks with settings are (a child module's are an error).
    pub blocks: Vec<SourceLocation>,
}

/// A block whose attributes are all literals.
#[derive(Debug, Clone)]
pub struct LiteralBlock {
    /// Its label (the backend type), if it takes one.
    pub label: Option<String>,
    /// The attributes by name.
    pub attributes: BTreeMap<String, LiteralSetting>,
    /// Where the block starts.
    pub location: SourceLocation,
}

/// One literal attribute: a string, a number or a bool.
#[derive(Debug, Clone)]
pub struct LiteralSetting {
    /// The value.
    pub value: serde_json::Value,
    /// Where the value is written.
    pub location: SourceLocation,
}

impl LiteralBlock {
    /// A setting's value.
    pub fn get(&self, name: &str) -> Option<&LiteralSetting> {
        self.attributes.get(name)
    }
}
