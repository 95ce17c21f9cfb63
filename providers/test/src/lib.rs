//! The `test` provider: a fake cloud for tests and demos, with configurable latency and
//! failure injection.
//!
//! It owns the `test_resource` resource type, the `test_echo` data source and the JSON file
//! that stands in for the remote API (the "store", see `provider "test" { store = "..." }`).
//! Everything is driven from HCL attributes, so the engine's end-to-end tests can control it
//! through the `mesh` binary: `create_delay_ms` and friends add latency (cut short by
//! cancellation), `fail_on` injects a failure, and editing the store file between runs
//! simulates drift. It must not know anything of the engine beyond the
//! [`Provider`](mesh_engine::provider::Provider) boundary: no graph, no state file, no CLI.
#![deny(missing_docs)]

mod store;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::Duration;

use async_trait::async_trait;
use mesh_engine::graph::OpKind;
use mesh_engine::provider::{
    default_plan, ApplyRequest, AttrType, AttributeSchema, BlockSchema, PlanRequest, PlannedChange,
    Presence, Provider, ProviderError, ProviderSchema, ReadRequest, ResourceSchema,
};
use mesh_engine::value::{paths_of, MarkKind, Value};

use store::Store;

/// The provider name.
pub const PROVIDER_NAME: &str = "test";
/// The managed resource type.
pub const TEST_RESOURCE: &str = "test_resource";
/// The data source type.
pub const TEST_ECHO: &str = "test_echo";
/// The store used when the provider block sets none, relative to the current directory.
pub const DEFAULT_STORE: &str = ".mesh/test-objects.json";
/// The operations `fail_on` may name.
pub const FAIL_ON_VALUES: [&str; 4] = ["create", "update", "delete", "read"];

/// The `test` provider. Cheap to construct; all remote state lives in the store file.
#[derive(Debug, Default)]
pub struct TestProvider {
    /// The configured store path (absolute once configured); `None` means [`DEFAULT_STORE`].
    store: RwLock<Option<PathBuf>>,
}

impl TestProvider {
    /// A provider using [`DEFAULT_STORE`] until `configure` says otherwise.
    pub fn new() -> TestProvider {
        TestProvider::default()
    }

    /// A provider using the store at `path` (as if configured with `store = path`).
    pub fn with_store(path: impl Into<PathBuf>) -> TestProvider {
        TestProvider {
            store: RwLock::new(Some(absolute(path.into()))),
        }
    }

    /// The path of the store file this provider reads and writes.
    pub fn store_path(&self) -> PathBuf {
        let configured = self
            .store
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        configured.unwrap_or_else(|| absolute(PathBuf::from(DEFAULT_STORE)))
    }

    fn store(&self) -> Store {
        Store::new(self.store_path())
    }
}

/// Resolve a relative path against the current directory, so later `chdir`s do not matter.
fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    std::env::current_dir()
        .map(|cwd| cwd.join(&path))
        .unwrap_or(path)
}

fn attribute(presence: Presence, attr_type: AttrType, description: &str) -> AttributeSchema {
    AttributeSchema::new(attr_type, presence, description)
}

fn test_resource_schema() -> ResourceSchema {
    use AttrType::{Any, Number, String as Str};
    use Presence::{Computed, Optional, Required};
    let delay = |op: &str| {
        attribute(
            Optional,
            Number,
            &format!("Milliseconds to wait before the {op}; cut short (with an error) on cancel."),
        )
    };
    ResourceSchema {
        version: 0,
        description: "A fake remote object kept in the provider's store file, with configurable \
                      latency and failure injection."
            .to_string(),
        block: BlockSchema::default()
            .attribute("name", attribute(Required, Str, "The object's name."))
            .attribute(
                "value",
                attribute(Optional, Any, "Any value; a change updates in place."),
            )
            .attribute(
                "replace_key",
                attribute(Optional, Str, "Any string; a change forces replacement.").force_new(),
            )
            .attribute(
                "secret",
                attribute(Optional, Str, "A sensitive string, never shown in plans.").sensitive(),
            )
            .attribute("create_delay_ms", delay("create"))
            .attribute("update_delay_ms", delay("update"))
            .attribute("delete_delay_ms", delay("delete"))
            .attribute(
                "fail_on",
                attribute(
                    Optional,
                    Str,
                    "Inject a failure into one operation: `create`, `update`, `delete` or `read`. \
                     The store is left unchanged.",
                ),
            )
            .attribute(
                "fail_message",
                attribute(
                    Optional,
                    Str,
                    "The message of the injected failure (default `injected failure on <op>`).",
                ),
            )
            .attribute(
                "id",
                attribute(
                    Computed,
                    Str,
                    "The object's ID: `test-` followed by a UUID.",
                ),
            )
            .attribute(
                "computed",
                attribute(
                    Computed,
                    Str,
                    "`computed-<name>`: known only after apply on create or when `name` changes.",
                ),
            ),
    }
}

fn test_echo_schema() -> ResourceSchema {
    ResourceSchema {
        version: 0,
        description: "Echoes `value` back as `result`.".to_string(),
        block: BlockSchema::default()
            .attribute(
                "value",
                attribute(Presence::Optional, AttrType::Any, "Any value."),
            )
            .attribute(
                "result",
                attribute(Presence::Computed, AttrType::Any, "Equal to `value`."),
            ),
    }
}

fn provider_block_schema() -> BlockSchema {
    BlockSchema::default().attribute(
        "store",
        attribute(
            Presence::Optional,
            AttrType::String,
            "Path of the JSON file holding the fake remote objects (default \
             `.mesh/test-objects.json`, relative to the current directory).",
        ),
    )
}

/// An attribute's value without its sensitive mark (`Null` when absent).
fn plain<'a>(value: &'a Value, name: &str) -> &'a Value {
    value
        .get(name)
        .map(|v| v.unmark().0)
        .unwrap_or(&Value::Null)
}

fn plain_str<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    plain(value, name).as_str()
}

fn check_resource_type(resource_type: &str) -> Result<(), ProviderError> {
    if resource_type == TEST_RESOURCE {
        Ok(())
    } else {
        Err(ProviderError::new(format!(
            "the test provider has no resource type {resource_type}"
        )))
    }
}

/// Fail when the object's `fail_on` names `operation`.
fn injected_failure(object: &Value, operation: &str) -> Result<(), ProviderError> {
    if plain_str(object, "fail_on") != Some(operation) {
        return Ok(());
    }
    let message = plain_str(object, "fail_message")
        .map(str::to_string)
        .unwrap_or_else(|| format!("injected failure on {operation}"));
    Err(ProviderError::new(message))
}

/// Sleep for the object's `<attr>` milliseconds, or until the request is cancelled.
async fn delay(request: &ApplyRequest, object: &Value, attr: &str) -> Result<(), ProviderError> {
    let ms = match plain(object, attr) {
        Value::Number(ms) if ms.is_finite() && *ms > 0.0 => *ms,
        _ => return Ok(()),
    };
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)) => Ok(()),
        _ = request.cancel.cancelled() => Err(ProviderError::new("cancelled")),
    }
}

/// Fill in the computed attributes of an object about to be stored.
fn finish_state(mut state: Value, id: String) -> Result<Value, ProviderError> {
    if !matches!(state, Value::Map(_)) {
        return Err(ProviderError::new(
            "the planned test_resource is not an object",
        ));
    }
    let name = plain_str(&state, "name")
        .ok_or_else(|| ProviderError::at_attribute("name must be a known string", "name"))?
        .to_string();
    state.set_or_insert("id", Value::String(id));
    state.set_or_insert("computed", Value::String(format!("computed-{name}")));
    if state.is_unknown_deep() {
        return Err(ProviderError::new(
            "the planned test_resource still contains unknown values",
        ));
    }
    Ok(state)
}

/// A stored object as a value, with sensitive marks restored: those of `like` (the state it
/// replaces) and those the schema declares on non-null attributes.
fn from_store(json: &serde_json::Value, like: Option<&Value>) -> Value {
    let mut value = Value::from_json(json);
    if let Some(like) = like {
        for path in paths_of(like, MarkKind::Sensitive) {
            value.mark_sensitive_at(&path);
        }
    }
    let schema = test_resource_schema().block;
    for path in schema.sensitive_paths(&value) {
        if value.get_at(&path).is_some_and(|v| !v.is_null()) {
            value.mark_sensitive_at(&path);
        }
    }
    value
}

#[async_trait]
impl Provider for TestProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: provider_block_schema(),
            resources: BTreeMap::from([(TEST_RESOURCE.to_string(), test_resource_schema())]),
            data_sources: BTreeMap::from([(TEST_ECHO.to_string(), test_echo_schema())]),
        }
    }

    /// The configured delay of the operation: what the object says it will take.
    fn expected_duration(
        &self,
        resource_type: &str,
        operation: OpKind,
        value: &Value,
    ) -> Option<Duration> {
        if resource_type != TEST_RESOURCE {
            return None;
        }
        let attr = match operation {
            OpKind::Create => "create_delay_ms",
            OpKind::Update => "update_delay_ms",
            OpKind::Delete | OpKind::DeleteDeposed => "delete_delay_ms",
            OpKind::Read | OpKind::Barrier(_) => return None,
        };
        match plain(value, attr) {
            Value::Number(ms) if ms.is_finite() && *ms > 0.0 => {
                Some(Duration::from_secs_f64(ms / 1000.0))
            }
            _ => Some(Duration::ZERO),
        }
    }

    async fn configure(&self, config: Value) -> Result<(), ProviderError> {
        let path = match plain(&config, "store") {
            Value::Null => None,
            Value::String(path) if !path.is_empty() => Some(absolute(PathBuf::from(path))),
            Value::Unknown => {
                return Err(ProviderError::at_attribute(
                    "store must be known when the provider is configured",
                    "store",
                ))
            }
            _ => {
                return Err(ProviderError::at_attribute(
                    "store must be a non-empty path",
                    "store",
                ))
            }
        };
        *self
            .store
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = path;
        Ok(())
    }

    fn validate(&self, resource_type: &str, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if resource_type != TEST_RESOURCE {
            return errors;
        }
        match plain(config, "fail_on") {
            Value::Null | Value::Unknown => {}
            Value::String(op) if FAIL_ON_VALUES.contains(&op.as_str()) => {}
            other => errors.push(ProviderError::at_attribute(
                format!(
                    "fail_on must be one of \"create\", \"update\", \"delete\" or \"read\", not {other}"
                ),
                "fail_on",
            )),
        }
        for attr in ["create_delay_ms", "update_delay_ms", "delete_delay_ms"] {
            if let Value::Number(ms) = plain(config, attr) {
                if !ms.is_finite() || *ms < 0.0 {
                    errors.push(ProviderError::at_attribute(
                        format!("{attr} must be a non-negative number of milliseconds"),
                        attr,
                    ));
                }
            }
        }
        errors
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlannedChange, ProviderError> {
        check_resource_type(&request.resource_type)?;
        let schema = test_resource_schema().block;
        let mut change = default_plan(&schema, request.prior.as_ref(), &request.config);
        if let Some(prior) = &request.prior {
            if !change.requires_replace.is_empty() {
                change.planned.set_or_insert("id", Value::Unknown);
                change.planned.set_or_insert("computed", Value::Unknown);
            } else if plain(prior, "name") != plain(&request.config, "name") {
                change.planned.set_or_insert("computed", Value::Unknown);
            }
        }
        Ok(change)
    }

    async fn create(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        check_resource_type(&request.resource_type)?;
        delay(&request, &request.planned, "create_delay_ms").await?;
        injected_failure(&request.planned, "create")?;
        let id = format!("test-{}", uuid::Uuid::new_v4());
        let state = finish_state(request.planned.clone(), id.clone())?;
        self.store().put(&id, state.to_json()).await?;
        Ok(state)
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        check_resource_type(&request.resource_type)?;
        injected_failure(&request.current, "read")?;
        let Some(id) = plain_str(&request.current, "id") else {
            return Ok(None);
        };
        let stored = self.store().get(id).await?;
        Ok(stored.map(|json| from_store(&json, Some(&request.current))))
    }

    async fn update(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        check_resource_type(&request.resource_type)?;
        delay(&request, &request.planned, "update_delay_ms").await?;
        injected_failure(&request.planned, "update")?;
        let id = plain_str(&request.planned, "id")
            .or_else(|| request.prior.as_ref().and_then(|p| plain_str(p, "id")))
            .ok_or_else(|| ProviderError::new("the test_resource to update has no id"))?
            .to_string();
        let state = finish_state(request.planned.clone(), id.clone())?;
        self.store().put(&id, state.to_json()).await?;
        Ok(state)
    }

    async fn delete(&self, request: ApplyRequest) -> Result<(), ProviderError> {
        check_resource_type(&request.resource_type)?;
        let Some(prior) = &request.prior else {
            return Ok(());
        };
        delay(&request, prior, "delete_delay_ms").await?;
        injected_failure(prior, "delete")?;
        match plain_str(prior, "id") {
            Some(id) => self.store().remove(id).await,
            None => Ok(()),
        }
    }

    async fn import(&self, resource_type: &str, id: &str) -> Result<Option<Value>, ProviderError> {
        check_resource_type(resource_type)?;
        let stored = self.store().get(id).await?;
        Ok(stored.map(|json| from_store(&json, None)))
    }

    async fn read_data(&self, data_type: &str, config: Value) -> Result<Value, ProviderError> {
        if data_type != TEST_ECHO {
            return Err(ProviderError::new(format!(
                "the test provider has no data source {data_type}"
            )));
        }
        let value = config.get("value").cloned().unwrap_or(Value::Null);
        let mut result = match config {
            Value::Map(_) => config,
            _ => Value::Map(BTreeMap::new()),
        };
        result.set_or_insert("value", value.clone());
        result.set_or_insert("result", value);
        Ok(result)
    }
}

#[cfg(test)]
mod tests;
