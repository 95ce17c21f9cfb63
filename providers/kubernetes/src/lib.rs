//! The `kubernetes` and `istio` providers: Kubernetes objects on any number of clusters,
//! reached through kube-rs, and the Istio install and multi-cluster wiring rendered as plain
//! Kubernetes objects.
//!
//! Every resource names its cluster ([`cluster`]); clients are made on first use from
//! credentials fetched in memory (an AKS cluster's admin kubeconfig through
//! [`ClusterCredentials`], which the Azure provider implements) or from a kubeconfig file.
//! Objects are applied with server-side apply as field manager `mesh`
//! ([`object_set::FIELD_MANAGER`]); refresh reads back only the fields a resource declares
//! ([`objects::project`]), so server defaults never show as drift. The `istio` provider also
//! runs the mesh rules over the whole planned deployment ([`checks`], `mesh check`). It must not
//! know the engine beyond the provider boundary, nor Azure beyond an AKS cluster's ARM ID (the
//! rules read planned Azure values — network profiles, subnets, peerings, Key Vault objects —
//! as plain data).
#![deny(missing_docs)]

pub mod checks;
pub mod cluster;
mod durations;
pub mod istio;
pub mod object_digests;
pub mod object_set;
pub mod objects;
pub mod remote_secret;
pub mod types;
pub mod wait;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use mesh_engine::provider::{
    ApplyRequest, Deployment, PlanFinding, PlanRequest, PlannedChange, Provider, ProviderError,
    ProviderSchema, ReadRequest,
};
use mesh_engine::value::Value;

pub use cluster::{ClusterConnections, ClusterCredentials, ClusterRef};
use object_set::Clusters;
use types::ObjectSetType;

/// The Kubernetes provider's name.
pub const PROVIDER_NAME: &str = "kubernetes";
/// The Istio provider's name.
pub const ISTIO_PROVIDER_NAME: &str = "istio";

/// A provider of object-set resource types (`kubernetes_*` or `istio_*`).
pub struct KubernetesProvider {
    name: &'static str,
    types: BTreeMap<&'static str, Arc<dyn ObjectSetType>>,
    clusters: Clusters,
}

impl KubernetesProvider {
    /// The `kubernetes` provider; AKS credentials come from `credentials`.
    pub fn new(credentials: Option<Arc<dyn ClusterCredentials>>) -> KubernetesProvider {
        let connections = Arc::new(ClusterConnections::new(credentials));
        KubernetesProvider::with_types(PROVIDER_NAME, types::all(), connections)
    }

    /// The `istio` provider, sharing this provider's cluster connections.
    pub fn istio(&self) -> KubernetesProvider {
        KubernetesProvider::with_types(
            ISTIO_PROVIDER_NAME,
            types::istio(),
            self.clusters.connections.clone(),
        )
    }

    fn with_types(
        name: &'static str,
        list: Vec<Arc<dyn ObjectSetType>>,
        connections: Arc<ClusterConnections>,
    ) -> KubernetesProvider {
        KubernetesProvider {
            name,
            types: list.into_iter().map(|t| (t.name(), t)).collect(),
            clusters: Clusters { connections },
        }
    }

    fn resource_type(&self, name: &str) -> Result<&Arc<dyn ObjectSetType>, ProviderError> {
        self.types
            .get(name)
            .ok_or_else(|| ProviderError::new(format!("unknown resource type {name}")))
    }

    /// The remote secret spans two clusters: it has its own lifecycle.
    fn is_remote_secret(&self, name: &str) -> bool {
        self.name == ISTIO_PROVIDER_NAME && name == remote_secret::TYPE_NAME
    }
}

#[async_trait]
impl Provider for KubernetesProvider {
    fn name(&self) -> &str {
        self.name
    }

    fn schema(&self) -> ProviderSchema {
        let mut resources: BTreeMap<String, _> = self
            .types
            .iter()
            .map(|(name, t)| (name.to_string(), t.schema()))
            .collect();
        if self.name == ISTIO_PROVIDER_NAME {
            resources.insert(remote_secret::TYPE_NAME.into(), remote_secret::schema());
        }
        ProviderSchema {
            resources,
            ..ProviderSchema::default()
        }
    }

    /// The mesh rules ([`checks`]), run once: by the `istio` provider.
    fn checks_deployment(&self, resource_types: &std::collections::BTreeSet<String>) -> bool {
        // The mesh rules start from Istio and Kubernetes objects; Azure and PKI resources only
        // matter as what those objects refer to.
        self.name == ISTIO_PROVIDER_NAME
            && resource_types
                .iter()
                .any(|t| t.starts_with("istio_") || t.starts_with("kubernetes_"))
    }

    fn expected_duration(
        &self,
        resource_type: &str,
        operation: mesh_engine::graph::OpKind,
        value: &Value,
    ) -> Option<std::time::Duration> {
        durations::expected(resource_type, operation, value)
    }

    fn check_deployment(&self, deployment: &Deployment) -> Vec<PlanFinding> {
        if self.name != ISTIO_PROVIDER_NAME {
            return Vec::new();
        }
        let now = time::OffsetDateTime::now_utc();
        checks::check(deployment, now)
    }

    fn validate(&self, resource_type: &str, config: &Value) -> Vec<ProviderError> {
        if self.is_remote_secret(resource_type) {
            return ["cluster", "source_cluster"]
                .into_iter()
                .filter_map(|a| {
                    let value = config.get(a)?;
                    cluster::ClusterValue::from_attribute(value)
                        .err()
                        .map(|e| ProviderError::at_attribute(e.message, a))
                })
                .collect();
        }
        match self.resource_type(resource_type) {
            Ok(t) => {
                let mut errors = t.validate(config);
                if let Some(cluster) = config.get("cluster") {
                    if let Err(e) = cluster::ClusterValue::from_attribute(cluster) {
                        errors.push(e);
                    }
                }
                errors
            }
            Err(e) => vec![e],
        }
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlannedChange, ProviderError> {
        if self.is_remote_secret(&request.resource_type) {
            return remote_secret::plan(&request);
        }
        let ty = self.resource_type(&request.resource_type)?;
        object_set::plan(ty.as_ref(), &request)
    }

    async fn create(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        if self.is_remote_secret(&request.resource_type) {
            return remote_secret::apply(&self.clusters, &request).await;
        }
        let ty = self.resource_type(&request.resource_type)?;
        object_set::apply(ty.as_ref(), &self.clusters, &request).await
    }

    async fn read(&self, request: ReadRequest) -> Result<Option<Value>, ProviderError> {
        if self.is_remote_secret(&request.resource_type) {
            return remote_secret::read(&self.clusters, &request).await;
        }
        let ty = self.resource_type(&request.resource_type)?;
        object_set::read(ty.as_ref(), &self.clusters, &request).await
    }

    async fn update(&self, request: ApplyRequest) -> Result<Value, ProviderError> {
        if self.is_remote_secret(&request.resource_type) {
            return remote_secret::apply(&self.clusters, &request).await;
        }
        let ty = self.resource_type(&request.resource_type)?;
        object_set::apply(ty.as_ref(), &self.clusters, &request).await
    }

    async fn delete(&self, request: ApplyRequest) -> Result<(), ProviderError> {
        if self.is_remote_secret(&request.resource_type) {
            return remote_secret::delete(&self.clusters, &request).await;
        }
        let ty = self.resource_type(&request.resource_type)?;
        object_set::delete(ty.as_ref(), &self.clusters, &request).await
    }
}
