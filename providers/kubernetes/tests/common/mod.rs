//! Harness of the provider's integration tests: a local cloud serving HTTPS (so kubeconfigs
//! carry its CA), AKS clusters made over ARM, and the providers driven the way the engine
//! drives them — configuration with every schema attribute present and defaults applied,
//! plan, then create/update with the planned value, read with the stored state, and the
//! engine's sensitive marks put back on what the provider returns.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mesh_emulator::{LocalCloud, LocalCloudOptions, TlsConfig};
use mesh_engine::provider::{
    mark_sensitive, ApplyRequest, BlockSchema, Nesting, PlanRequest, PlannedChange, Provider,
    ProviderError, ReadRequest, ResourceSchema,
};
use mesh_engine::value::Value;
use mesh_provider_kubernetes::{ClusterCredentials, KubernetesProvider};
use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

pub const SUBSCRIPTION: &str = LocalCloud::SUBSCRIPTION_ID;
pub const RESOURCE_GROUP: &str = "rg";
const API_VERSION: &str = "api-version=2024-03-01";
/// Subnets of the shared virtual network: clusters are placed in one of them.
pub const SUBNETS: [(&str, &str); 2] = [("a", "10.10.0.0/24"), ("b", "10.10.1.0/24")];
/// Longest wait for an ARM operation (they finish at once with time factor 0).
const ARM_WAIT: Duration = Duration::from_secs(60);

/// A running local cloud with HTTPS on, and an ARM client of it.
pub struct TestCloud {
    pub cloud: Arc<LocalCloud>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// An AKS cluster made over ARM.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub id: String,
    pub fqdn: String,
    /// The subnet its nodes (and its internal load balancers) are in.
    pub subnet: ipnet::Ipv4Net,
}

impl Cluster {
    /// The cluster as an `azure_kubernetes_cluster` object gives it to a `cluster` attribute.
    pub fn json(&self) -> Json {
        json!({"id": self.id, "fqdn": self.fqdn, "name": self.name, "location": "westeurope"})
    }
}

impl TestCloud {
    /// A fresh in-memory cloud whose operations and controllers finish at once.
    pub async fn start() -> TestCloud {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let options = LocalCloudOptions {
            time_factor: 0.0,
            tls: Some(TlsConfig {
                dir: dir.path().join("tls"),
            }),
            ..LocalCloudOptions::default()
        };
        let cloud = LocalCloud::start(options)
            .await
            .expect("the local cloud starts");
        assert!(cloud.url().starts_with("https://"), "{}", cloud.url());
        TestCloud {
            cloud: Arc::new(cloud),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// Credentials that fetch a cluster's admin kubeconfig from this cloud.
    pub fn credentials(&self) -> Arc<dyn ClusterCredentials> {
        Arc::new(CloudCredentials(self.cloud.clone()))
    }

    /// A `kubernetes` provider with its own cluster connections.
    pub fn kubernetes(&self) -> KubernetesProvider {
        KubernetesProvider::new(Some(self.credentials()))
    }

    /// The resource group, the network (once) and the cluster `name` in subnet `subnet`.
    pub async fn create_cluster(&self, name: &str, subnet: &str) -> Cluster {
        let (_, prefix) = SUBNETS
            .iter()
            .find(|(n, _)| *n == subnet)
            .expect("a subnet of SUBNETS");
        self.put(&rg_id(), json!({"location": "westeurope"})).await;
        if self.get(&vnet_id()).await.0 != 200 {
            let subnets: Vec<Json> = SUBNETS
                .iter()
                .map(|(n, p)| json!({"name": n, "properties": {"addressPrefix": p}}))
                .collect();
            let body = json!({"location": "westeurope", "properties": {
                "addressSpace": {"addressPrefixes": ["10.10.0.0/16"]}, "subnets": subnets}});
            self.put(&vnet_id(), body).await;
        }
        let id = cluster_id(name);
        let body = json!({"location": "westeurope", "properties": {
            "dnsPrefix": name,
            "agentPoolProfiles": [{"name": "system", "count": 2, "vmSize": "Standard_D4s_v5",
                "mode": "System", "vnetSubnetID": format!("{}/subnets/{subnet}", vnet_id())}],
            "networkProfile": {"networkPlugin": "azure", "serviceCidr": "172.16.0.0/16",
                "dnsServiceIP": "172.16.0.10"},
        }});
        let created = self.put(&id, body).await;
        let fqdn = created
            .pointer("/properties/fqdn")
            .and_then(Json::as_str)
            .expect("the cluster has an FQDN")
            .to_string();
        Cluster {
            name: name.to_string(),
            id,
            fqdn,
            subnet: prefix.parse().expect("a subnet prefix"),
        }
    }

    /// Delete a cluster over ARM and wait until it is gone.
    pub async fn delete_cluster(&self, cluster: &Cluster) {
        let response = self
            .request(reqwest::Method::DELETE, &cluster.id, None)
            .await;
        assert!(
            matches!(response.0, 200 | 202 | 204),
            "DELETE {}: {:?}",
            cluster.id,
            response
        );
        let deadline = Instant::now() + ARM_WAIT;
        while self.get(&cluster.id).await.0 != 404 {
            assert!(Instant::now() < deadline, "{} is still there", cluster.id);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The admin kubeconfig of a cluster.
    pub fn kubeconfig(&self, cluster: &Cluster) -> String {
        self.cloud
            .kubeconfig(&cluster.name)
            .expect("the cluster's kubeconfig")
    }

    /// A kube-rs client of a cluster, for changes made outside mesh.
    pub async fn kube(&self, cluster: &Cluster) -> kube::Client {
        let kubeconfig = self.kubeconfig(cluster);
        let (client, _) =
            mesh_provider_kubernetes::cluster::client_from_kubeconfig(&kubeconfig, None, "test")
                .await
                .expect("a client");
        client
    }

    async fn put(&self, id: &str, body: Json) -> Json {
        let (status, _, operation) = self.request(reqwest::Method::PUT, id, Some(body)).await;
        assert!(status == 200 || status == 201, "PUT {id}: {status}");
        if let Some(url) = operation {
            self.wait_operation(id, &url).await;
        }
        let (status, body) = self.get(id).await;
        assert_eq!(status, 200, "GET {id}: {body}");
        body
    }

    async fn wait_operation(&self, id: &str, url: &str) {
        let deadline = Instant::now() + ARM_WAIT;
        loop {
            let body: Json = self
                .http
                .get(url)
                .bearer_auth("test")
                .send()
                .await
                .expect("an operation status")
                .json()
                .await
                .expect("JSON");
            match body["status"].as_str() {
                Some("InProgress") => {}
                Some("Succeeded") => return,
                _ => panic!("{id}: {body}"),
            }
            assert!(Instant::now() < deadline, "{id}: still in progress");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn get(&self, id: &str) -> (u16, Json) {
        let (status, body, _) = self.request(reqwest::Method::GET, id, None).await;
        (status, body)
    }

    /// Status, body and Azure-AsyncOperation URL of an ARM request over plain HTTP.
    async fn request(
        &self,
        method: reqwest::Method,
        id: &str,
        body: Option<Json>,
    ) -> (u16, Json, Option<String>) {
        let url = format!("{}{id}?{API_VERSION}", self.cloud.http_url());
        let mut request = self.http.request(method, url).bearer_auth("test");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an ARM response");
        let status = response.status().as_u16();
        let operation = response
            .headers()
            .get("azure-asyncoperation")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Json::Null);
        (status, body, operation)
    }
}

pub fn rg_id() -> String {
    format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}")
}

pub fn vnet_id() -> String {
    format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet",
        rg_id()
    )
}

pub fn cluster_id(name: &str) -> String {
    format!(
        "{}/providers/Microsoft.ContainerService/managedClusters/{name}",
        rg_id()
    )
}

/// What the Azure provider does for the Kubernetes provider: an admin kubeconfig by ARM ID.
struct CloudCredentials(Arc<LocalCloud>);

#[async_trait]
impl ClusterCredentials for CloudCredentials {
    async fn admin_kubeconfig(&self, cluster_id: &str) -> Result<Option<String>, ProviderError> {
        let name = cluster_id
            .rsplit_once("/managedClusters/")
            .map(|(_, name)| name)
            .ok_or_else(|| ProviderError::new(format!("{cluster_id} is not a cluster ID")))?;
        Ok(self.0.kubeconfig(name))
    }
}

/// One resource type of a provider, driven as the engine drives it.
pub struct Resource<'p> {
    pub provider: &'p KubernetesProvider,
    pub resource_type: &'static str,
}

impl<'p> Resource<'p> {
    pub fn new(provider: &'p KubernetesProvider, resource_type: &'static str) -> Resource<'p> {
        Resource {
            provider,
            resource_type,
        }
    }

    pub fn schema(&self) -> ResourceSchema {
        self.provider
            .schema()
            .resources
            .get(self.resource_type)
            .cloned()
            .expect("the provider has the type")
    }

    /// The evaluated configuration of `attrs` (a JSON object) in `cluster`: every schema
    /// attribute present, defaults applied, sensitive attributes marked.
    pub fn config(&self, cluster: &Cluster, attrs: Json) -> Value {
        let mut value = Value::from_json(&attrs);
        value.set_or_insert("cluster", Value::from_json(&cluster.json()));
        evaluated(&self.schema().block, value)
    }

    /// Validate and plan; validation errors come back as the error.
    pub async fn try_plan(
        &self,
        prior: Option<&Value>,
        config: &Value,
    ) -> Result<PlannedChange, ProviderError> {
        let errors = self.provider.validate(self.resource_type, config);
        if let Some(first) = errors.into_iter().next() {
            return Err(first);
        }
        self.provider
            .plan(PlanRequest {
                resource_type: self.resource_type.to_string(),
                address: self.address(),
                prior: prior.map(Value::strip_sensitive),
                config: config.clone(),
            })
            .await
    }

    pub async fn plan(&self, prior: Option<&Value>, config: &Value) -> PlannedChange {
        self.try_plan(prior, config)
            .await
            .unwrap_or_else(|e| panic!("{} plans: {e}", self.resource_type))
    }

    /// Plan and create; the state as the engine stores it.
    pub async fn try_create(&self, config: &Value) -> Result<Value, ProviderError> {
        self.try_create_with(config, CancellationToken::new()).await
    }

    pub async fn try_create_with(
        &self,
        config: &Value,
        cancel: CancellationToken,
    ) -> Result<Value, ProviderError> {
        let planned = self.try_plan(None, config).await?.planned;
        let request = self.apply_request(None, &planned, cancel);
        let created = self.provider.create(request).await?;
        Ok(self.marked(created, &[config, &planned]))
    }

    pub async fn create(&self, config: &Value) -> Value {
        self.try_create(config)
            .await
            .unwrap_or_else(|e| panic!("{} is created: {e}", self.resource_type))
    }

    /// Refresh: the stored state's live counterpart, re-marked.
    pub async fn read(&self, state: &Value) -> Option<Value> {
        let read = self
            .provider
            .read(ReadRequest {
                resource_type: self.resource_type.to_string(),
                address: self.address(),
                current: state.strip_sensitive(),
            })
            .await
            .unwrap_or_else(|e| panic!("{} is read: {e}", self.resource_type))?;
        Some(self.marked(read, &[state]))
    }

    /// Plan from `prior` to `config` (an in-place update, never a replacement) and apply it.
    pub async fn update(&self, prior: &Value, config: &Value) -> Value {
        let change = self.plan(Some(prior), config).await;
        assert!(
            change.requires_replace.is_empty(),
            "an update, not a replacement: {:?}",
            change.requires_replace
        );
        let request = self.apply_request(Some(prior), &change.planned, CancellationToken::new());
        let updated = self
            .provider
            .update(request)
            .await
            .unwrap_or_else(|e| panic!("{} is updated: {e}", self.resource_type));
        self.marked(updated, &[config, &change.planned])
    }

    pub async fn try_delete(&self, state: &Value) -> Result<(), ProviderError> {
        let request = ApplyRequest {
            resource_type: self.resource_type.to_string(),
            address: self.address(),
            prior: Some(state.strip_sensitive()),
            planned: Value::Null,
            cancel: CancellationToken::new(),
        };
        self.provider.delete(request).await
    }

    pub async fn delete(&self, state: &Value) {
        self.try_delete(state)
            .await
            .unwrap_or_else(|e| panic!("{} is deleted: {e}", self.resource_type));
    }

    fn address(&self) -> String {
        format!("{}.test", self.resource_type)
    }

    fn apply_request(
        &self,
        prior: Option<&Value>,
        planned: &Value,
        cancel: CancellationToken,
    ) -> ApplyRequest {
        ApplyRequest {
            resource_type: self.resource_type.to_string(),
            address: self.address(),
            prior: prior.map(Value::strip_sensitive),
            planned: planned.strip_sensitive(),
            cancel,
        }
    }

    fn marked(&self, value: Value, sources: &[&Value]) -> Value {
        mark_sensitive(Some(&self.schema().block), value, sources)
    }
}

/// What the engine's evaluation makes of a body: unset attributes null or their default,
/// absent blocks null, sensitive attributes marked.
fn evaluated(schema: &BlockSchema, mut value: Value) -> Value {
    for (name, attribute) in &schema.attributes {
        let set = value.get(name).is_some_and(|v| !v.is_null());
        if !set {
            let default = attribute.default.clone().unwrap_or(Value::Null);
            value.set_or_insert(name, default);
        }
        if attribute.sensitive {
            if let Some(v) = value.get(name).filter(|v| !v.is_null()).cloned() {
                value.set_or_insert(name, v.into_sensitive());
            }
        }
    }
    for (name, block) in &schema.blocks {
        let inner = match (block.nesting, value.get(name).cloned()) {
            (_, None | Some(Value::Null)) => match block.nesting {
                Nesting::Single => Value::Null,
                Nesting::List => Value::List(Vec::new()),
            },
            (Nesting::Single, Some(inner)) => evaluated(&block.block, inner),
            (Nesting::List, Some(Value::List(items))) => Value::List(
                items
                    .into_iter()
                    .map(|item| evaluated(&block.block, item))
                    .collect(),
            ),
            (Nesting::List, Some(other)) => other,
        };
        value.set_or_insert(name, inner);
    }
    value
}

/// The JSON of a value (marks dropped), for assertions on nested data.
pub fn json_of(value: &Value) -> Json {
    value.to_json()
}

/// The text of a string attribute.
pub fn text<'v>(value: &'v Value, name: &str) -> &'v str {
    value
        .get(name)
        .map(|v| v.unmark().0)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{name} is a string in {value}"))
}
