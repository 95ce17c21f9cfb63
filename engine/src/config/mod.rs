//! The configuration: a spec directory's HCL files decoded into typed, located declarations.
//!
//! Raw HCL becomes a [`Module`] once, in [`load`]; everything downstream works on these types
//! and never re-reads user text. Expressions stay as parsed HCL ([`Expr`]) together with the
//! file they came from, so every later error can point at file, line and column.

mod decode;
pub mod drift;
mod drift_patterns;
mod references;
pub mod settings;
mod types;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use hcl_edit::Span;

pub use decode::{file_text, load_module_text, load_module_tree, parse_file};
pub use drift::{AddressPattern, AttributePattern, DriftIgnoreRule, DriftRules};
pub use references::{references_in, RefTarget, Reference};
pub use settings::{LiteralBlock, LiteralSetting, MeshSettings};
pub use types::TypeConstraint;

use crate::diagnostics::{SourceFile, SourceLocation};

/// An expression as written, with the file it came from.
#[derive(Debug, Clone)]
pub struct Expr {
    /// The parsed expression.
    pub expr: hcl_edit::expr::Expression,
    /// Its file.
    pub file: Arc<SourceFile>,
}

impl Expr {
    /// Where the expression starts.
    pub fn location(&self) -> SourceLocation {
        self.file.location_of(self.expr.span())
    }

    /// The references the expression makes.
    pub fn references(&self) -> Vec<Reference> {
        references_in(&self.expr, &self.file)
    }
}

/// A block body (resource, module call, provider) with the file it came from.
#[derive(Debug, Clone)]
pub struct BodyExpr {
    /// The body, without the meta-arguments mesh interprets itself.
    pub body: hcl_edit::structure::Body,
    /// Its file.
    pub file: Arc<SourceFile>,
}

impl BodyExpr {
    /// Every reference made anywhere in the body.
    pub fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        collect_body_references(&self.body, &self.file, &mut out);
        out
    }
}

fn collect_body_references(
    body: &hcl_edit::structure::Body,
    file: &Arc<SourceFile>,
    out: &mut Vec<Reference>,
) {
    for attr in body.attributes() {
        out.extend(references_in(&attr.value, file));
    }
    for block in body.blocks() {
        collect_body_references(&block.body, file, out);
    }
}

/// `variable "name" {}`.
#[derive(Debug, Clone)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Type constraint (`any` when absent).
    pub type_constraint: TypeConstraint,
    /// The default; a variable without one is required.
    pub default: Option<Expr>,
    /// Description, for docs.
    pub description: Option<String>,
    /// Never shown.
    pub sensitive: bool,
    /// `nullable = false` rejects null.
    pub nullable: bool,
    /// `validation {}` blocks.
    pub validations: Vec<Validation>,
    /// Where it is declared.
    pub location: SourceLocation,
}

/// `validation { condition = ..., error_message = ... }`.
#[derive(Debug, Clone)]
pub struct Validation {
    /// Must be true.
    pub condition: Expr,
    /// Shown when it is not.
    pub error_message: Expr,
}

/// One entry of a `locals {}` block.
#[derive(Debug, Clone)]
pub struct Local {
    /// Its name.
    pub name: String,
    /// Its expression.
    pub value: Expr,
    /// Where it is declared.
    pub location: SourceLocation,
}

/// `output "name" {}`.
#[derive(Debug, Clone)]
pub struct Output {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: Expr,
    /// Description.
    pub description: Option<String>,
    /// Never shown.
    pub sensitive: bool,
    /// `depends_on`.
    pub depends_on: Vec<Reference>,
    /// Where it is declared.
    pub location: SourceLocation,
}

/// `provider "name" {}`.
#[derive(Debug, Clone)]
pub struct ProviderBlock {
    /// The provider's name.
    pub name: String,
    /// Its configuration.
    pub body: BodyExpr,
    /// Where it is declared.
    pub location: SourceLocation,
}

/// Managed resource or data source.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ResourceMode {
    /// `resource`.
    Managed,
    /// `data`.
    Data,
}

/// How many instances a resource or module call has.
#[derive(Debug, Clone)]
pub enum Repetition {
    /// One instance, no key.
    Single,
    /// `count = N`.
    Count(Expr),
    /// `for_each = map or set`.
    ForEach(Expr),
}

/// `lifecycle {}`.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// Create the replacement before destroying the old object.
    pub create_before_destroy: bool,
    /// Refuse any plan that destroys this resource.
    pub prevent_destroy: bool,
    /// Attributes whose changes are ignored (`all` = every attribute).
    pub ignore_changes: IgnoreChanges,
    /// Replace when any of these change.
    pub replace_triggered_by: Vec<Reference>,
}

/// `ignore_changes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IgnoreChanges {
    /// Nothing ignored.
    #[default]
    None,
    /// Listed top-level attributes.
    Attributes(Vec<String>),
    /// `ignore_changes = all`.
    All,
}

/// `resource "type" "name" {}` or `data "type" "name" {}`.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Managed or data.
    pub mode: ResourceMode,
    /// The resource type.
    pub resource_type: String,
    /// Its name.
    pub name: String,
    /// count / for_each.
    pub repetition: Repetition,
    /// Explicit dependencies.
    pub depends_on: Vec<Reference>,
    /// lifecycle {}.
    pub lifecycle: Lifecycle,
    /// The body without meta-arguments.
    pub body: BodyExpr,
    /// Where it is declared.
    pub location: SourceLocation,
}

impl Resource {
    /// `type.name` or `data.type.name`.
    pub fn address(&self) -> String {
        match self.mode {
            ResourceMode::Managed => format!("{}.{}", self.resource_type, self.name),
            ResourceMode::Data => format!("data.{}.{}", self.resource_type, self.name),
        }
    }
}

/// `module "name" { source = "./dir" ... }`.
#[derive(Debug, Clone)]
pub struct ModuleCall {
    /// Its name.
    pub name: String,
    /// The `source` as written.
    pub source: String,
    /// count / for_each.
    pub repetition: Repetition,
    /// Explicit dependencies.
    pub depends_on: Vec<Reference>,
    /// Input expressions by variable name.
    pub inputs: BTreeMap<String, Expr>,
    /// Where it is declared.
    pub location: SourceLocation,
    /// The loaded child module.
    pub module: Arc<Module>,
}

/// One module: a directory of `*.hcl` files, merged.
#[derive(Debug, Clone, Default)]
pub struct Module {
    /// The directory.
    pub dir: PathBuf,
    /// Variables by name.
    pub variables: BTreeMap<String, Variable>,
    /// Locals by name.
    pub locals: BTreeMap<String, Local>,
    /// Outputs by name.
    pub outputs: BTreeMap<String, Output>,
    /// Provider blocks by name (root module only).
    pub providers: BTreeMap<String, ProviderBlock>,
    /// Resources and data sources by address (`type.name`, `data.type.name`).
    pub resources: BTreeMap<String, Resource>,
    /// Module calls by name.
    pub module_calls: BTreeMap<String, ModuleCall>,
    /// `drift {}` rules (root module only: a child module's are an error at load).
    pub drift: DriftRules,
    /// The `mesh {}` block's backend and encryption settings (root module only).
    pub settings: MeshSettings,
    /// The files, for `mesh fmt` and diagnostics.
    pub files: Vec<Arc<SourceFile>>,
}
