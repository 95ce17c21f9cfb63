//! The provider boundary: one trait, request/response data, schemas.
//!
//! Every call the engine makes to a provider goes through [`Provider`]. Requests and responses
//! are plain data; each method's doc says what an implementation MUST and MUST NOT do. The
//! engine finds a resource type's provider by the type's prefix before the first `_`
//! (`mesh_data` → `mesh`, `azure_virtual_network` → `azure`).

mod deployment;
mod schema;
mod sensitivity;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub use deployment::{
    has_placeholder, Deployment, DeploymentResource, LocatedFinding, Origins, UnknownOrigin,
};
pub use schema::{
    AttrType, AttributeSchema, BlockSchema, NestedBlockSchema, Nesting, Presence, ProviderSchema,
    ResourceSchema,
};
pub use sensitivity::{mark_data_result, mark_sensitive};

use crate::value::{PathStep, Value};

/// A provider call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    /// What went wrong, for the user (never containing secret values).
    pub message: String,
    /// The attribute at fault, when the error is about one attribute.
    pub attribute: Option<Vec<PathStep>>,
    /// True when retrying the same call later may succeed.
    pub retryable: bool,
}

impl ProviderError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> ProviderError {
        ProviderError {
            message: message.into(),
            attribute: None,
            retryable: false,
        }
    }

    /// An error about one attribute.
    pub fn at_attribute(message: impl Into<String>, attribute: &str) -> ProviderError {
        ProviderError {
            attribute: Some(vec![PathStep::Key(attribute.to_string())]),
            ..ProviderError::new(message)
        }
    }
}

/// Ask a provider how it would bring a resource from `prior` to `config`.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// The resource type.
    pub resource_type: String,
    /// The instance address, for messages.
    pub address: String,
    /// The stored state, after refresh; `None` when the resource does not exist yet.
    pub prior: Option<Value>,
    /// The configuration as evaluated: every schema attribute present (null when unset,
    /// defaults applied), nested blocks as objects/lists; may contain unknowns.
    pub config: Value,
}

/// A provider's answer to [`PlanRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedChange {
    /// The state expected after apply: config values, prior values for computed attributes
    /// that will not change, and [`Value::Unknown`] for values known only after apply.
    pub planned: Value,
    /// Attribute paths whose change forces replacement.
    pub requires_replace: Vec<Vec<PathStep>>,
}

/// Create, update or delete one resource.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The resource type.
    pub resource_type: String,
    /// The instance address, for messages and progress.
    pub address: String,
    /// The stored state (`None` for create).
    pub prior: Option<Value>,
    /// The planned state, re-planned with final configuration (`Null` for delete).
    pub planned: Value,
    /// Cancelled when the user interrupts twice: the provider SHOULD stop waiting and return.
    pub cancel: CancellationToken,
}

/// Read the live state of one resource.
#[derive(Debug, Clone)]
pub struct ReadRequest {
    /// The resource type.
    pub resource_type: String,
    /// The instance address.
    pub address: String,
    /// The stored state.
    pub current: Value,
}

/// A plug-in that manages resource types.
///
/// Implementations MUST be safe to call concurrently for different resources. They MUST NOT
/// print: progress and results flow back through return values.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name: the prefix of its resource types.
    fn name(&self) -> &str;

    /// The provider's schemas. MUST be the same on every call, configured or not:
    /// [`ProviderRegistry`] builds it once and keeps it.
    fn schema(&self) -> ProviderSchema;

    /// Receive the evaluated `provider "name" {}` block (an empty object when there is none).
    /// Called once before any other async call.
    async fn configure(&self, config: Value) -> Result<(), ProviderError> {
        let _ = config;
        Ok(())
    }

    /// Check a configuration beyond what the schema says. MUST NOT do I/O. Unknown values
    /// MUST be accepted.
    fn validate(&self, resource_type: &str, config: &Value) -> Vec<ProviderError> {
        let _ = (resource_type, config);
        Vec::new()
    }

    /// Plan a change. MUST NOT change anything. The default keeps config values, fills
    /// computed attributes from prior (or unknown on create) and marks force-new paths whose
    /// values differ.
    async fn plan(&self, request: PlanRequest) -> Result<PlannedChange, ProviderError> {
        let schema = self
            .schema()
            .resources
            .get(&request.resource_type)
            .cloned()
            .ok_or_else(|| {
                ProviderError::new(format!("unknown resource type {}", request.resource_type))
            })?;
        Ok(default_plan(
            &schema.block,
            request.prior.as_ref(),
            &request.config,
        ))
    }

    /// Create the resource; return its full state. On error after the object was created
    /// remotely, the implementation SHOULD return the error and leave nothing behind.
    async fn create(&self, request: ApplyRequest) -> Result<Value, ProviderError>;

    /// Read the live state. MUST NOT fail when the resource is gone: it returns `Ok(None)`.
    /// `current` may also be a *planned* value (an operation interrupted by a crash is looked
    /// up with what was planned: computed attributes null): the answer MUST then be `None`
    /// unless the object it identifies exists.
    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError>;

    /// Update in place; return the new state.
    async fn update(&self, request: ApplyRequest) -> Result<Value, ProviderError>;

    /// Delete. MUST succeed when the resource is already gone.
    async fn delete(&self, request: ApplyRequest) -> Result<(), ProviderError>;

    /// Import an existing object by its provider-specific ID; return its state, or `None`.
    async fn import(&self, resource_type: &str, id: &str) -> Result<Option<Value>, ProviderError> {
        let _ = id;
        Err(ProviderError::new(format!(
            "{resource_type} does not support import"
        )))
    }

    /// Read a data source. The config is fully known.
    async fn read_data(&self, data_type: &str, config: Value) -> Result<Value, ProviderError> {
        let _ = config;
        Err(ProviderError::new(format!(
            "unknown data source {data_type}"
        )))
    }

    /// Check the planned values of all of this provider's resources together, for mistakes
    /// no single resource shows (overlapping address spaces of peered networks, a subnet in
    /// the wrong network...). MUST NOT do I/O. Unknown values MUST be accepted. Each finding
    /// names the address of the resource it is about.
    fn check_plan(&self, resources: &[PlannedResource]) -> Vec<PlanFinding> {
        let _ = resources;
        Vec::new()
    }

    /// Whether this provider has a [`Provider::check_plan`]: plans hand it its resources'
    /// planned values only when it says so (a copy of each, which thousands of instances of a
    /// provider without checks need not pay for). `false` by default.
    fn checks_plan(&self) -> bool {
        false
    }

    /// Check the whole planned deployment — every managed resource of every provider, with
    /// its configuration ([`Deployment`]) — for mistakes that make the deployed system not
    /// work, though each request would succeed (a multi-cluster mesh spans Azure, PKI,
    /// Kubernetes and Istio resources). MUST NOT do I/O. Unknown values and placeholders MUST
    /// be accepted. Plans show these findings as warnings, whatever their severity (the plan
    /// can be applied; the findings predict how the result behaves); `mesh check` reports
    /// them with their severity.
    fn check_deployment(&self, deployment: &Deployment) -> Vec<PlanFinding> {
        let _ = deployment;
        Vec::new()
    }

    /// Whether [`Provider::check_deployment`] has anything to look at in a spec declaring
    /// `resource_types`. Building the deployment evaluates every instance a second time, so
    /// plans skip it when no provider says yes. `false` (the default) for providers without a
    /// deployment check.
    fn checks_deployment(&self, resource_types: &BTreeSet<String>) -> bool {
        let _ = resource_types;
        false
    }

    /// How long `operation` on an instance of `resource_type` usually takes, given its planned
    /// value (the prior value for deletes). Apply uses it only to order work: the operations
    /// with the longest expected path to the end of the apply start first. It MUST NOT do I/O
    /// and never limits how long anything may take. `None` (the default): no estimate.
    fn expected_duration(
        &self,
        resource_type: &str,
        operation: crate::graph::OpKind,
        value: &Value,
    ) -> Option<std::time::Duration> {
        let _ = (resource_type, operation, value);
        None
    }
}

/// One resource instance as planned, for [`Provider::check_plan`].
#[derive(Debug, Clone)]
pub struct PlannedResource {
    /// Instance address.
    pub address: String,
    /// Resource type.
    pub resource_type: String,
    /// Planned value (unknowns where known only after apply).
    pub value: Value,
}

/// A problem found by [`Provider::check_plan`] or [`Provider::check_deployment`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlanFinding {
    /// The resource it is about.
    pub address: String,
    /// The attribute at fault, when there is one.
    pub attribute: Option<String>,
    /// What is wrong (and, without [`PlanFinding::fix`], how to fix it).
    pub message: String,
    /// How much it matters. Errors of [`Provider::check_plan`] fail the plan, warnings are
    /// shown with it, infos only by `mesh check`.
    pub severity: FindingSeverity,
    /// The family of rules it comes from (`trust`, `discovery`, ...), for grouping.
    pub rule: Option<String>,
    /// Other resources involved.
    pub related: Vec<String>,
    /// How to fix it, when that is worth a line of its own.
    pub fix: Option<String>,
}

/// How much a [`PlanFinding`] matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum FindingSeverity {
    /// It will not work as written.
    #[default]
    Error,
    /// It may not work, or works differently than it seems.
    Warning,
    /// Something a check could not decide yet (values known only after apply).
    Info,
}

impl FindingSeverity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingSeverity::Error => "error",
            FindingSeverity::Warning => "warning",
            FindingSeverity::Info => "info",
        }
    }
}

/// The default plan: computed attributes kept from prior or unknown, force-new marked.
pub fn default_plan(schema: &BlockSchema, prior: Option<&Value>, config: &Value) -> PlannedChange {
    let planned = fill_computed(schema, prior, config);
    let requires_replace = match prior {
        None => Vec::new(),
        Some(prior) => schema
            .force_new_paths(&planned)
            .into_iter()
            .filter(|path| planned.get_at(path) != prior.get_at(path))
            .collect(),
    };
    PlannedChange {
        planned,
        requires_replace,
    }
}

/// Fill computed attributes the config leaves null: from prior when there is one, else unknown.
pub fn fill_computed(schema: &BlockSchema, prior: Option<&Value>, config: &Value) -> Value {
    let mut planned = config.clone();
    for (name, attr) in &schema.attributes {
        if !attr.is_computed() {
            continue;
        }
        let set = config.get(name).map(|v| !v.is_null()).unwrap_or(false);
        if set {
            continue;
        }
        let from_prior = prior.and_then(|p| p.get(name)).cloned();
        let value = from_prior.unwrap_or(Value::Unknown);
        planned.set_or_insert(name, value);
    }
    planned
}

impl Value {
    /// Insert or replace a key of a map value (no-op on non-maps).
    pub fn set_or_insert(&mut self, key: &str, value: Value) {
        if let Value::Map(map) = self {
            map.insert(key.to_string(), value);
        }
    }
}

/// The providers of a run, by name.
#[derive(Clone, Default)]
pub struct ProviderRegistry {
    providers: std::collections::BTreeMap<String, Arc<dyn Provider>>,
    /// Each provider's schema, built on first use: a provider builds its whole schema on
    /// every [`Provider::schema`] call, and plans look types up once per instance.
    schemas: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<ProviderSchema>>>>,
}

impl ProviderRegistry {
    /// An empty registry.
    pub fn new() -> ProviderRegistry {
        ProviderRegistry::default()
    }

    /// Register a provider under its name.
    pub fn register(&mut self, provider: Arc<dyn Provider>) {
        let name = provider.name().to_string();
        self.schemas_cache().remove(&name);
        self.providers.insert(name, provider);
    }

    fn schemas_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Arc<ProviderSchema>>> {
        self.schemas.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The schema of the provider serving `resource_type` (built once per registry).
    fn schema_for_type(&self, resource_type: &str) -> Option<Arc<ProviderSchema>> {
        let name = provider_name_of(resource_type);
        if let Some(schema) = self.schemas_cache().get(name) {
            return Some(schema.clone());
        }
        let schema = Arc::new(self.providers.get(name)?.schema());
        self.schemas_cache()
            .insert(name.to_string(), schema.clone());
        Some(schema)
    }

    /// The provider of a resource type, by its prefix.
    pub fn for_type(&self, resource_type: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(provider_name_of(resource_type))
    }

    /// A provider by name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// Every provider, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Arc<dyn Provider>)> {
        self.providers.iter()
    }

    /// The schema of a managed resource type.
    pub fn resource_schema(&self, resource_type: &str) -> Option<ResourceSchema> {
        self.schema_for_type(resource_type)?
            .resources
            .get(resource_type)
            .cloned()
    }

    /// The schema of a data source type.
    pub fn data_schema(&self, data_type: &str) -> Option<ResourceSchema> {
        self.schema_for_type(data_type)?
            .data_sources
            .get(data_type)
            .cloned()
    }
}

/// The provider name of a resource type: its prefix before the first `_`.
pub fn provider_name_of(resource_type: &str) -> &str {
    resource_type.split('_').next().unwrap_or(resource_type)
}
