//! Azure resource types: one file per type, each an [`AzureResourceType`].
//!
//! A type says how a mesh value maps to an ARM resource: its schema, its deterministic ARM ID,
//! the request body, and how a response becomes state. The create/read/update/delete calls
//! are generic ([`arm_create`], [`arm_read`], ...) unless a type needs more (the Key Vault
//! data plane, AKS credentials).

pub mod application_gateway;
pub mod bastion_host;
pub mod container_registry;
pub mod container_registry_replication;
pub mod generic_resource;
pub mod key_vault;
pub mod key_vault_certificate;
pub mod key_vault_key;
pub mod key_vault_secret;
pub mod kubernetes_cluster;
pub mod kubernetes_node_pool;
pub mod log_analytics_workspace;
pub mod private_dns_zone;
pub mod private_dns_zone_virtual_network_link;
pub mod private_endpoint;
pub mod public_ip;
pub mod resource_group;
pub mod role_assignment;
pub mod subnet;
pub mod user_assigned_identity;
pub mod virtual_network;
pub mod virtual_network_peering;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use mesh_engine::provider::{default_plan, PlannedChange, ProviderError, ResourceSchema};
use mesh_engine::value::Value;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use crate::arm::{ArmClient, ArmError};

/// What every resource type call may need besides its own configuration.
#[derive(Clone)]
pub struct Context {
    /// The ARM client.
    pub client: ArmClient,
    /// Cancelled when the user interrupts twice.
    pub cancel: CancellationToken,
}

/// One Azure resource type.
#[async_trait]
pub trait AzureResourceType: Send + Sync {
    /// The mesh type name, e.g. `azure_virtual_network`.
    fn name(&self) -> &'static str;

    /// The ARM resource type it maps to, e.g. `Microsoft.Network/virtualNetworks`.
    fn arm_type(&self) -> &'static str;

    /// The pinned api-version.
    fn api_version(&self) -> &'static str;

    /// The schema: attributes, force-new, sensitive, docs.
    fn schema(&self) -> ResourceSchema;

    /// Checks of one configuration that need no I/O (names, sizes, CIDRs). Unknown values
    /// MUST be accepted.
    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let _ = config;
        Vec::new()
    }

    /// The ARM ID the configuration addresses, when every part of it is known.
    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String>;

    /// The PUT request body.
    fn to_body(&self, config: &Value) -> Result<Json, ProviderError>;

    /// State from an ARM response: `config` (the configuration, or the prior state on refresh)
    /// supplies what the response does not carry (write-only values); everything the response
    /// reports is taken from it, so changes made outside mesh show up.
    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value;

    /// Plan: by default the engine's default plan, with `id` known from the configuration.
    fn plan(&self, subscription_id: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        let schema = self.schema();
        let mut planned = default_plan(&schema.block, prior, config);
        if let Some(id) = self.resource_id(subscription_id, config) {
            planned.planned.set_or_insert("id", Value::String(id));
        }
        planned
    }

    /// Create; the default PUTs [`to_body`](Self::to_body) to [`resource_id`](Self::resource_id).
    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        arm_put(self, ctx, config).await
    }

    /// Read the live object; `None` when it is gone.
    async fn read(&self, ctx: &Context, state: &Value) -> Result<Option<Value>, ProviderError> {
        arm_read(self, ctx, state).await
    }

    /// Update in place; the default PUTs the whole body again (ARM PUT is idempotent).
    async fn update(
        &self,
        ctx: &Context,
        _prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        arm_put(self, ctx, config).await
    }

    /// Delete; gone already is success.
    async fn delete(&self, ctx: &Context, state: &Value) -> Result<(), ProviderError> {
        arm_delete(self, ctx, state).await
    }
}

/// An ARM error as a provider error, naming ARM's code.
pub fn provider_error(e: ArmError) -> ProviderError {
    ProviderError {
        message: format!("{}: {}", e.code, e.message),
        attribute: None,
        retryable: e.is_retryable(),
    }
}

fn id_of<T: AzureResourceType + ?Sized>(
    ty: &T,
    ctx: &Context,
    value: &Value,
) -> Result<String, ProviderError> {
    if let Some(Value::String(id)) = value.get("id").map(|v| v.unmark().0) {
        return Ok(id.clone());
    }
    ty.resource_id(ctx.client.subscription_id(), value)
        .ok_or_else(|| {
            ProviderError::new(format!(
                "cannot tell the ARM ID of this {}: a name or parent is unknown",
                ty.name()
            ))
        })
}

/// PUT the body and return the resulting state.
pub async fn arm_put<T: AzureResourceType + ?Sized>(
    ty: &T,
    ctx: &Context,
    config: &Value,
) -> Result<Value, ProviderError> {
    let id = ty
        .resource_id(ctx.client.subscription_id(), config)
        .ok_or_else(|| {
            ProviderError::new(format!("cannot tell the ARM ID of this {}", ty.name()))
        })?;
    let body = ty.to_body(config)?;
    let response = again_after_transient_failure(ctx, || {
        ctx.client.put(&id, ty.api_version(), &body, &ctx.cancel)
    })
    .await
    .map_err(provider_error)?;
    Ok(ty.to_state(config, &id, &response))
}

/// Long-running operations that ended Failed for a passing reason (the service's own error,
/// not the request's) are started again: a PUT or DELETE of the same resource is idempotent.
const OPERATION_ATTEMPTS: u32 = 4;

/// Codes of failed operations worth starting again.
fn transient_operation_failure(e: &crate::arm::ArmError) -> bool {
    matches!(
        e.code.as_str(),
        "InternalServerError" | "ServiceUnavailable" | "RetryableError" | "InternalOperationError"
    )
}

async fn again_after_transient_failure<T, F, Fut>(
    ctx: &Context,
    mut call: F,
) -> Result<T, crate::arm::ArmError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::arm::ArmError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e)
                if attempt < OPERATION_ATTEMPTS
                    && transient_operation_failure(&e)
                    && !ctx.cancel.is_cancelled() =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)))
                    .await;
            }
            other => return other,
        }
    }
}

/// GET the resource; `None` when it is gone.
pub async fn arm_read<T: AzureResourceType + ?Sized>(
    ty: &T,
    ctx: &Context,
    state: &Value,
) -> Result<Option<Value>, ProviderError> {
    let id = id_of(ty, ctx, state)?;
    let response = ctx
        .client
        .get(&id, ty.api_version(), &ctx.cancel)
        .await
        .map_err(provider_error)?;
    Ok(response.map(|r| ty.to_state(state, &id, &r)))
}

/// DELETE the resource.
pub async fn arm_delete<T: AzureResourceType + ?Sized>(
    ty: &T,
    ctx: &Context,
    state: &Value,
) -> Result<(), ProviderError> {
    let id = id_of(ty, ctx, state)?;
    again_after_transient_failure(ctx, || {
        ctx.client.delete(&id, ty.api_version(), &ctx.cancel)
    })
    .await
    .map_err(provider_error)
}

/// Every resource type, by name.
pub fn all() -> BTreeMap<&'static str, Arc<dyn AzureResourceType>> {
    let types: Vec<Arc<dyn AzureResourceType>> = vec![
        Arc::new(resource_group::ResourceGroup),
        Arc::new(user_assigned_identity::UserAssignedIdentity),
        Arc::new(role_assignment::RoleAssignment),
        Arc::new(kubernetes_cluster::KubernetesCluster),
        Arc::new(kubernetes_node_pool::KubernetesNodePool),
        Arc::new(container_registry::ContainerRegistry),
        Arc::new(container_registry_replication::ContainerRegistryReplication),
        Arc::new(log_analytics_workspace::LogAnalyticsWorkspace),
        Arc::new(generic_resource::GenericResource),
        Arc::new(bastion_host::BastionHost),
        Arc::new(private_dns_zone::PrivateDnsZone),
        Arc::new(private_dns_zone_virtual_network_link::PrivateDnsZoneVirtualNetworkLink),
        Arc::new(private_endpoint::PrivateEndpoint),
        Arc::new(public_ip::PublicIp),
        Arc::new(subnet::Subnet),
        Arc::new(virtual_network::VirtualNetwork),
        Arc::new(virtual_network_peering::VirtualNetworkPeering),
        Arc::new(application_gateway::ApplicationGateway),
        Arc::new(key_vault::KeyVault),
        Arc::new(key_vault_certificate::KeyVaultCertificate),
        Arc::new(key_vault_key::KeyVaultKey),
        Arc::new(key_vault_secret::KeyVaultSecret),
    ];
    types.into_iter().map(|t| (t.name(), t)).collect()
}

/// Helpers to read configuration values.
pub mod config {
    use mesh_engine::value::Value;
    use serde_json::Value as Json;

    /// A known string attribute.
    pub fn string(config: &Value, name: &str) -> Option<String> {
        match config.get(name).map(|v| v.unmark().0) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        }
    }

    /// The `tags` attribute as a JSON object (empty when unset).
    pub fn tags(config: &Value) -> Json {
        match config.get("tags").map(|v| v.strip_sensitive()) {
            Some(Value::Map(m)) => {
                Json::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            _ => Json::Object(Default::default()),
        }
    }

    /// Tags from a response as a value (an empty map when absent).
    pub fn tags_from(response: &Json) -> Value {
        match response.get("tags") {
            Some(t @ Json::Object(_)) => Value::from_json(t),
            _ => Value::Map(Default::default()),
        }
    }

    /// Tags for state: what the response says, except that no tags stay `null` when the
    /// configuration left them unset (so a plan after apply shows no change).
    pub fn tags_state(config: &Value, response: &Json) -> Value {
        let tags = tags_from(response);
        let empty = matches!(&tags, Value::Map(m) if m.is_empty());
        if empty && config.get("tags").is_none_or(Value::is_null) {
            return Value::Null;
        }
        tags
    }
}
