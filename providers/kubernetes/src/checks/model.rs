//! The mesh as planned: the clusters, what each holds (control planes, Kubernetes objects),
//! and the remote secrets between them, built from every planned resource of the deployment.
//!
//! A resource is placed in a cluster by its `cluster` attribute: the normalized reference
//! when it is known (existing clusters), else the configuration's AKS object, whose ARM `id`
//! the Azure provider knows at plan time even for a cluster created in the same apply, or a
//! kubeconfig path and context. Resources that cannot be placed are listed, not guessed.

use std::collections::BTreeMap;

use mesh_engine::provider::{Deployment, DeploymentResource};
use mesh_engine::value::Value;
use serde_json::Value as Json;

use super::values::{effective, known_bool, known_string, text_of, Text};
use crate::remote_secret;
use crate::types::{self, ObjectSetType};

/// Which cluster a resource lives in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClusterKey {
    /// An AKS cluster, by its ARM ID (lowercase).
    Aks(String),
    /// A kubeconfig file and context.
    Kubeconfig(String, Option<String>),
}

/// The `cluster` (or `source_cluster`) value of a resource, as a key; `None` when unknown.
pub fn cluster_key(value: Option<&Value>) -> Option<ClusterKey> {
    let value = value?.unmark().0;
    if value.get("kubeconfig_path").is_some() {
        let path = known_string(value, "kubeconfig_path")?;
        let context = match value.get("context").map(|v| v.unmark().0) {
            None | Some(Value::Null) => None,
            Some(_) => Some(known_string(value, "context")?),
        };
        return Some(ClusterKey::Kubeconfig(path, context));
    }
    known_string(value, "id").map(|id| ClusterKey::Aks(id.to_ascii_lowercase()))
}

/// One revision of Istio's control plane.
#[derive(Debug, Clone)]
pub struct ControlPlane {
    /// Its resource.
    pub address: String,
    /// `mesh_id`.
    pub mesh_id: Text,
    /// `cluster_name`.
    pub cluster_name: Text,
    /// `network` (absent: the default network).
    pub network: Text,
    /// The revision (planned from the version when not set).
    pub revision: Text,
    /// `ca_source`.
    pub ca_source: Text,
    /// `ca_secret_provider_class`.
    pub ca_secret_provider_class: Text,
    /// `outbound_traffic_policy`.
    pub outbound_policy: Text,
    /// `dns_capture`.
    pub dns_capture: bool,
    /// `default_revision`.
    pub default_revision: bool,
    /// The east-west gateway: `None` without one, else whether it renders the
    /// cross-network Gateway (`expose_services`).
    pub eastwest: Option<bool>,
}

/// One Kubernetes object a resource declares.
#[derive(Debug, Clone)]
pub struct Object {
    /// The resource that declares it.
    pub address: String,
    /// The object, as it will be applied (values known only after apply are placeholders).
    pub json: Json,
}

impl Object {
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.json.get("kind").and_then(Json::as_str).unwrap_or("")
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.json
            .pointer("/metadata/name")
            .and_then(Json::as_str)
            .unwrap_or("")
    }

    /// `metadata.namespace`, `default` when unset.
    pub fn namespace(&self) -> &str {
        self.json
            .pointer("/metadata/namespace")
            .and_then(Json::as_str)
            .unwrap_or("default")
    }

    /// True for an Istio networking object of this kind (any API version).
    pub fn is_istio(&self, kind: &str) -> bool {
        self.kind() == kind
            && self
                .json
                .get("apiVersion")
                .and_then(Json::as_str)
                .is_some_and(|v| v.starts_with("networking.istio.io/"))
    }
}

/// One cluster of the deployment.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// Its key.
    pub key: ClusterKey,
    /// How messages name it: its mesh name when it has one, else its AKS name or context.
    pub name: String,
    /// The `azure_kubernetes_cluster` resource, when the deployment has it.
    pub aks: Option<String>,
    /// Its control planes (one per revision).
    pub control_planes: Vec<ControlPlane>,
    /// The Kubernetes objects the deployment puts in it.
    pub objects: Vec<Object>,
    /// Resources in it whose objects are not known at plan time: rules that need to see that
    /// something is absent skip this cluster.
    pub opaque: Vec<String>,
}

impl Cluster {
    /// The objects of one kind.
    pub fn objects_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> + 'a {
        self.objects.iter().filter(move |o| o.kind() == kind)
    }

    /// The first control plane's address: what findings about the cluster point at.
    pub fn anchor(&self) -> String {
        self.control_planes
            .first()
            .map(|c| c.address.clone())
            .or_else(|| self.aks.clone())
            .or_else(|| self.objects.first().map(|o| o.address.clone()))
            .unwrap_or_default()
    }

    /// The known mesh network of the cluster: the first control plane's network ("" for the
    /// default network); `None` while unknown or without a control plane.
    pub fn network(&self) -> Option<String> {
        match &self.control_planes.first()?.network {
            Text::Known(n) => Some(n.clone()),
            Text::Absent => Some(String::new()),
            Text::Unknown(_) => None,
        }
    }
}

/// A remote secret: `target`'s istiod discovers `source`.
#[derive(Debug, Clone)]
pub struct RemoteSecret {
    /// Its resource.
    pub address: String,
    /// The cluster holding the secret.
    pub target: Option<ClusterKey>,
    /// The cluster it reads.
    pub source: Option<ClusterKey>,
    /// The name the source is registered under.
    pub cluster_name: Text,
}

/// How the clusters of the deployment are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshMode {
    /// At most one cluster with a control plane.
    Single,
    /// Control planes that discover each other's clusters (remote secrets, east-west gateways).
    MultiPrimary,
    /// Independent control planes sharing a root: cross-cluster calls go through gateways
    /// named by ServiceEntries (no remote secrets, no east-west gateways).
    Federated,
}

/// The planned mesh.
pub struct MeshModel<'a> {
    /// The deployment it was built from.
    pub deployment: &'a Deployment,
    /// The clusters, in a stable order.
    pub clusters: Vec<Cluster>,
    /// Every remote secret.
    pub remote_secrets: Vec<RemoteSecret>,
    /// Kubernetes and Istio resources whose cluster is not known at plan time.
    pub unplaced: Vec<String>,
    /// The AKS clusters of the deployment, by lowercase ARM ID.
    pub aks: BTreeMap<String, AksCluster>,
}

impl<'a> MeshModel<'a> {
    /// Build the model from a deployment.
    pub fn build(deployment: &'a Deployment) -> MeshModel<'a> {
        let mut builder = Builder {
            deployment,
            aks: aks_clusters(deployment),
            clusters: BTreeMap::new(),
            remote_secrets: Vec::new(),
            unplaced: Vec::new(),
        };
        let object_types = types::all();
        for resource in &deployment.resources {
            builder.add(resource, &object_types);
        }
        let mut clusters: Vec<Cluster> = builder.clusters.into_values().collect();
        for cluster in &mut clusters {
            name_cluster(cluster, &builder.aks);
        }
        MeshModel {
            deployment,
            clusters,
            remote_secrets: builder.remote_secrets,
            unplaced: builder.unplaced,
            aks: builder.aks,
        }
    }

    /// The cluster with this key.
    pub fn cluster(&self, key: &ClusterKey) -> Option<&Cluster> {
        self.clusters.iter().find(|c| &c.key == key)
    }

    /// Clusters with a control plane.
    pub fn primaries(&self) -> impl Iterator<Item = &Cluster> {
        self.clusters
            .iter()
            .filter(|c| !c.control_planes.is_empty())
    }

    /// How the clusters are joined.
    pub fn mode(&self) -> MeshMode {
        if self.primaries().count() < 2 {
            return MeshMode::Single;
        }
        let eastwest = self
            .primaries()
            .flat_map(|c| &c.control_planes)
            .any(|cp| cp.eastwest.is_some());
        if eastwest || !self.remote_secrets.is_empty() {
            MeshMode::MultiPrimary
        } else {
            MeshMode::Federated
        }
    }

    /// The clusters `key`'s istiod discovers: itself and the sources of its remote secrets.
    pub fn discovered_by(&self, key: &ClusterKey) -> Vec<&Cluster> {
        let mut found: Vec<&Cluster> = self.cluster(key).into_iter().collect();
        for secret in &self.remote_secrets {
            if secret.target.as_ref() != Some(key) {
                continue;
            }
            let source = secret.source.as_ref().and_then(|s| self.cluster(s));
            if let Some(source) = source {
                if !found.iter().any(|c| c.key == source.key) {
                    found.push(source);
                }
            }
        }
        found
    }

    /// A resource of the deployment by address.
    pub fn resource(&self, address: &str) -> Option<&'a DeploymentResource> {
        self.deployment.resource(address)
    }

    /// The resources of one type, with their effective values.
    pub fn of_type(&self, resource_type: &'a str) -> impl Iterator<Item = (&'a str, Value)> + 'a {
        self.deployment
            .resources
            .iter()
            .filter(move |r| r.resource_type == resource_type)
            .map(|r| (r.address.as_str(), effective(r)))
    }
}

/// An AKS cluster of the deployment.
#[derive(Debug, Clone)]
pub struct AksCluster {
    /// Its resource address.
    pub address: String,
    /// Its effective value.
    pub value: Value,
}

fn aks_clusters(deployment: &Deployment) -> BTreeMap<String, AksCluster> {
    deployment
        .resources
        .iter()
        .filter(|r| r.resource_type == "azure_kubernetes_cluster")
        .filter_map(|r| {
            let value = effective(r);
            let id = known_string(&value, "id")?.to_ascii_lowercase();
            let address = r.address.clone();
            Some((id, AksCluster { address, value }))
        })
        .collect()
}

struct Builder<'a> {
    deployment: &'a Deployment,
    aks: BTreeMap<String, AksCluster>,
    clusters: BTreeMap<ClusterKey, Cluster>,
    remote_secrets: Vec<RemoteSecret>,
    unplaced: Vec<String>,
}

impl Builder<'_> {
    fn add(
        &mut self,
        resource: &DeploymentResource,
        object_types: &[std::sync::Arc<dyn ObjectSetType>],
    ) {
        let is_istio = resource.resource_type == "istio_control_plane";
        let is_secret = resource.resource_type == remote_secret::TYPE_NAME;
        let object_type = object_types
            .iter()
            .find(|t| t.name() == resource.resource_type);
        if !is_istio && !is_secret && object_type.is_none() {
            return;
        }
        let value = effective(resource);
        if is_secret {
            self.remote_secrets.push(RemoteSecret {
                address: resource.address.clone(),
                target: cluster_key(value.get("cluster")),
                source: cluster_key(value.get("source_cluster")),
                cluster_name: text_of(self.deployment, value.get("cluster_name")),
            });
            for key in [value.get("cluster"), value.get("source_cluster")]
                .into_iter()
                .filter_map(cluster_key)
            {
                self.cluster_mut(key);
            }
            return;
        }
        let Some(key) = cluster_key(value.get("cluster")) else {
            self.unplaced.push(resource.address.clone());
            return;
        };
        if is_istio {
            let control_plane = control_plane(self.deployment, &resource.address, &value);
            self.cluster_mut(key).control_planes.push(control_plane);
            return;
        }
        let Some(object_type) = object_type else {
            return;
        };
        let cluster = self.cluster_mut(key);
        match object_type.objects(&value) {
            Ok(objects) => cluster
                .objects
                .extend(objects.into_iter().map(|json| Object {
                    address: resource.address.clone(),
                    json,
                })),
            Err(_) => cluster.opaque.push(resource.address.clone()),
        }
    }

    fn cluster_mut(&mut self, key: ClusterKey) -> &mut Cluster {
        let aks = match &key {
            ClusterKey::Aks(id) => self.aks.get(id).map(|a| a.address.clone()),
            ClusterKey::Kubeconfig(..) => None,
        };
        self.clusters.entry(key.clone()).or_insert_with(|| Cluster {
            key,
            name: String::new(),
            aks,
            control_planes: Vec::new(),
            objects: Vec::new(),
            opaque: Vec::new(),
        })
    }
}

fn control_plane(deployment: &Deployment, address: &str, value: &Value) -> ControlPlane {
    let text = |name: &str| text_of(deployment, value.get(name));
    let eastwest = match value.get("eastwest_gateway").map(|v| v.unmark().0) {
        None | Some(Value::Null) => None,
        Some(block) => Some(known_bool(block, "expose_services").unwrap_or(true)),
    };
    ControlPlane {
        address: address.to_string(),
        mesh_id: text("mesh_id"),
        cluster_name: text("cluster_name"),
        network: text("network"),
        revision: text("revision"),
        ca_source: match text("ca_source") {
            Text::Absent => Text::Known("self_signed".into()),
            other => other,
        },
        ca_secret_provider_class: text("ca_secret_provider_class"),
        outbound_policy: match text("outbound_traffic_policy") {
            Text::Absent => Text::Known("ALLOW_ANY".into()),
            other => other,
        },
        dns_capture: known_bool(value, "dns_capture").unwrap_or(false),
        default_revision: known_bool(value, "default_revision").unwrap_or(true),
        eastwest,
    }
}

/// Messages name a cluster by its mesh name (istiod's CLUSTER_ID), else by its AKS name or
/// kubeconfig context.
fn name_cluster(cluster: &mut Cluster, aks: &BTreeMap<String, AksCluster>) {
    let mesh_name = cluster
        .control_planes
        .iter()
        .find_map(|cp| cp.cluster_name.known().map(str::to_string));
    cluster.name = match (&mesh_name, &cluster.key) {
        (Some(name), _) => name.clone(),
        (None, ClusterKey::Aks(id)) => aks
            .get(id)
            .and_then(|a| known_string(&a.value, "name"))
            .unwrap_or_else(|| id.rsplit('/').next().unwrap_or(id).to_string()),
        (None, ClusterKey::Kubeconfig(path, context)) => match context {
            Some(c) => c.clone(),
            None => path.clone(),
        },
    };
}
