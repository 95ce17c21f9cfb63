//! The Azure provider: Azure resource types over the ARM REST API.
//!
//! It owns the ARM client ([`arm`]), credentials ([`auth`]) and one module per resource type
//! ([`resources`]). It speaks the same protocol to real Azure and to the local cloud; which
//! one it talks to is configuration (`endpoint`, `subscription_id`, `auth`). It must not know
//! the engine beyond the [`Provider`] boundary, nor the local cloud's implementation.
#![deny(missing_docs)]
#![allow(clippy::result_large_err)]

pub mod arm;
pub mod auth;
pub mod checks;
mod durations;
pub mod key_wrapping;
pub mod resources;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use mesh_engine::provider::{
    ApplyRequest, AttrType, AttributeSchema, BlockSchema, PlanFinding, PlanRequest, PlannedChange,
    PlannedResource, Presence, Provider, ProviderError, ProviderSchema, ReadRequest,
};
use mesh_engine::value::Value;

use arm::{ArmClient, ArmConfig};
use resources::{AzureResourceType, Context};

/// The provider name.
pub const PROVIDER_NAME: &str = "azure";

/// Public Azure's ARM endpoint.
pub const AZURE_PUBLIC_ENDPOINT: &str = "https://management.azure.com";

/// The subscription ID used in planned IDs before the provider is configured.
pub const UNCONFIGURED_SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";

/// The Azure provider.
pub struct AzureProvider {
    types: BTreeMap<&'static str, Arc<dyn AzureResourceType>>,
    client: OnceLock<ArmClient>,
    target: OnceLock<String>,
}

impl Default for AzureProvider {
    fn default() -> Self {
        AzureProvider::new()
    }
}

impl AzureProvider {
    /// A provider with every resource type, not yet configured.
    pub fn new() -> AzureProvider {
        AzureProvider {
            types: resources::all(),
            client: OnceLock::new(),
            target: OnceLock::new(),
        }
    }

    /// The admin kubeconfig (YAML) of the AKS cluster with this ARM ID, fetched now and never
    /// stored; `None` when the cluster does not exist.
    pub async fn admin_kubeconfig(
        &self,
        cluster_id: &str,
    ) -> Result<Option<String>, ProviderError> {
        let Some(client) = self.client.get() else {
            return Err(ProviderError::new(
                "the azure provider is not configured: no subscription to fetch cluster credentials from",
            ));
        };
        let cancel = tokio_util::sync::CancellationToken::new();
        resources::kubernetes_cluster::admin_kubeconfig(client, cluster_id, &cancel).await
    }

    /// What the provider talks to, once configured: "subscription X at ENDPOINT".
    pub fn target(&self) -> Option<&str> {
        self.target.get().map(String::as_str)
    }

    fn resource_type(&self, name: &str) -> Result<&Arc<dyn AzureResourceType>, ProviderError> {
        self.types
            .get(name)
            .ok_or_else(|| ProviderError::new(format!("unknown Azure resource type {name}")))
    }

    fn context(
        &self,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<Context, ProviderError> {
        let client = self
            .client
            .get()
            .cloned()
            .ok_or_else(|| ProviderError::new("the azure provider is not configured"))?;
        Ok(Context { client, cancel })
    }

    /// The configured subscription; before configuration (`mesh validate` plans without
    /// configuring providers) a placeholder of the right shape, so IDs parse and checks run.
    fn subscription_id(&self) -> String {
        self.client
            .get()
            .map(|c| c.subscription_id().to_string())
            .unwrap_or_else(|| UNCONFIGURED_SUBSCRIPTION.to_string())
    }
}

fn provider_block() -> BlockSchema {
    let s = |desc: &str| AttributeSchema::new(AttrType::String, Presence::Optional, desc);
    BlockSchema::default()
        .attribute("subscription_id", s("Subscription to manage; also AZURE_SUBSCRIPTION_ID. Without one, mesh uses the local cloud."))
        .attribute("tenant_id", s("Entra tenant; also AZURE_TENANT_ID."))
        .attribute("client_id", s("Application (client) ID of a service principal or workload identity; also AZURE_CLIENT_ID."))
        .attribute("client_secret", s("Client secret of a service principal; also AZURE_CLIENT_SECRET.").sensitive())
        .attribute("endpoint", s("ARM endpoint; default https://management.azure.com (sovereign clouds and the local cloud differ)."))
        .attribute("auth", s("How to authenticate: auto (default), azure_cli, client_secret, managed_identity, workload_identity, or none (the local cloud)."))
}

#[async_trait]
impl Provider for AzureProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: provider_block(),
            resources: self
                .types
                .iter()
                .map(|(n, t)| (n.to_string(), t.schema()))
                .collect(),
            data_sources: BTreeMap::new(),
        }
    }

    async fn configure(&self, config: Value) -> Result<(), ProviderError> {
        let settings = auth::Settings::from_config(&config);
        let Some(subscription_id) = settings.subscription_id.clone() else {
            // Not configured for any Azure: fine until an Azure resource is used.
            return Ok(());
        };
        let endpoint = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| AZURE_PUBLIC_ENDPOINT.to_string());
        let credential = auth::credential(&settings)?;
        let client = ArmClient::new(ArmConfig {
            scope: format!("{}/.default", auth::audience_of(&endpoint)),
            endpoint: endpoint.clone(),
            subscription_id: subscription_id.clone(),
            credential,
        })
        .map_err(|e| ProviderError::new(e.to_string()))?;
        let _ = self
            .target
            .set(format!("subscription {subscription_id} at {endpoint}"));
        let _ = self.client.set(client);
        Ok(())
    }

    fn validate(&self, resource_type: &str, config: &Value) -> Vec<ProviderError> {
        match self.types.get(resource_type) {
            Some(t) => t.validate(config),
            None => vec![ProviderError::new(format!(
                "unknown Azure resource type {resource_type}"
            ))],
        }
    }

    fn checks_plan(&self) -> bool {
        true
    }

    fn expected_duration(
        &self,
        resource_type: &str,
        operation: mesh_engine::graph::OpKind,
        _value: &Value,
    ) -> Option<std::time::Duration> {
        durations::expected(resource_type, operation)
    }

    fn check_plan(&self, resources: &[PlannedResource]) -> Vec<PlanFinding> {
        checks::check(resources)
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlannedChange, ProviderError> {
        let ty = self.resource_type(&request.resource_type)?;
        Ok(ty.plan(
            &self.subscription_id(),
            request.prior.as_ref(),
            &request.config,
        ))
    }

    async fn create(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        let ty = self.resource_type(&request.resource_type)?;
        ty.create(&self.context(request.cancel)?, &request.planned)
            .await
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        let ty = self.resource_type(&request.resource_type)?;
        ty.read(&self.context(Default::default())?, &request.current)
            .await
    }

    async fn update(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        let ty = self.resource_type(&request.resource_type)?;
        let prior = request.prior.clone().unwrap_or(Value::Null);
        ty.update(&self.context(request.cancel)?, &prior, &request.planned)
            .await
    }

    async fn delete(&self, request: ApplyRequest) -> Result<(), ProviderError> {
        let ty = self.resource_type(&request.resource_type)?;
        let prior = request.prior.clone().unwrap_or(Value::Null);
        ty.delete(&self.context(request.cancel)?, &prior).await
    }
}
