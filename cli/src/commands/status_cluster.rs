//! What `mesh status` reads from one live cluster: the remote secrets its istiod holds (each
//! tried with its own kubeconfig, as istiod would: synced when that cluster's API answers a
//! list of Services with the secret's token), the istiod revisions and whether they are
//! ready, the namespaces each revision injects, and the gateway Services with their addresses.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use kube::api::{Api, ListParams};
use kube::Client;
use serde_json::Value as Json;

/// The namespace istiod and remote secrets live in.
const ISTIO_NAMESPACE: &str = "istio-system";
/// How long a remote cluster's API may take to answer.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(15);

/// A remote secret and whether istiod can use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCluster {
    /// The cluster ID it registers (the Secret's data key).
    pub name: String,
    /// `namespace/name` of the Secret.
    pub secret: String,
    /// Why it is not synced; `None` when it is.
    pub problem: Option<String>,
    /// The cluster of this spec its server is, when known.
    pub server_cluster: Option<String>,
}

/// An istiod revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The revision.
    pub revision: String,
    /// The Deployment's name.
    pub istiod: String,
    /// Ready replicas.
    pub ready: i64,
    /// Wanted replicas.
    pub replicas: i64,
    /// The `CLUSTER_ID` it runs with.
    pub cluster_id: Option<String>,
}

/// A namespace a revision injects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectedNamespace {
    /// The namespace.
    pub name: String,
    /// The revision (`default` for `istio-injection=enabled` when no default is known).
    pub revision: String,
    /// The label that selects it.
    pub label: String,
}

/// A gateway Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayService {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `LoadBalancer`, `ClusterIP`, ...
    pub service_type: String,
    /// Its load-balancer address (none yet: `None`).
    pub address: Option<String>,
    /// The network it is the gateway of (`topology.istio.io/network`).
    pub network: Option<String>,
    /// Its ports.
    pub ports: Vec<i32>,
}

/// Everything `mesh status` shows of one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Live {
    /// The network label of istio-system.
    pub network: Option<String>,
    /// Remote secrets.
    pub remotes: Vec<RemoteCluster>,
    /// istiod revisions.
    pub revisions: Vec<Revision>,
    /// Namespaces by revision.
    pub namespaces: Vec<InjectedNamespace>,
    /// Gateway Services.
    pub gateways: Vec<GatewayService>,
}

fn label(object: &Json, name: &str) -> Option<String> {
    object["metadata"]["labels"][name]
        .as_str()
        .map(str::to_string)
}

fn meta(object: &Json, field: &str) -> String {
    object["metadata"][field]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Read the cluster behind `client`. `default_revision` is the revision the spec installed
/// as the default (it serves `istio-injection=enabled`); `servers` names the clusters of the
/// spec by their API server URL.
pub async fn inspect(
    client: &Client,
    default_revision: Option<&str>,
    servers: &BTreeMap<String, String>,
) -> Result<Live, String> {
    let failed = |what: &str, e: kube::Error| format!("cannot list {what}: {e}");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespaces: Vec<Json> = namespaces
        .list(&ListParams::default())
        .await
        .map_err(|e| failed("namespaces", e))?
        .items
        .iter()
        .map(|o| serde_json::to_value(o).unwrap_or_default())
        .collect();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ISTIO_NAMESPACE);
    let istiods: Vec<Json> = deployments
        .list(&ListParams::default().labels("app=istiod"))
        .await
        .map_err(|e| failed("istiod Deployments", e))?
        .items
        .iter()
        .map(|o| serde_json::to_value(o).unwrap_or_default())
        .collect();
    let services: Api<Service> = Api::all(client.clone());
    let gateways: Vec<Json> = services
        .list(&ListParams::default().labels("istio"))
        .await
        .map_err(|e| failed("gateway Services", e))?
        .items
        .iter()
        .map(|o| serde_json::to_value(o).unwrap_or_default())
        .collect();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ISTIO_NAMESPACE);
    let secrets: Vec<Secret> = secrets
        .list(&ListParams::default().labels("istio/multiCluster=true"))
        .await
        .map_err(|e| failed("remote secrets", e))?
        .items;
    let network = namespaces
        .iter()
        .find(|n| meta(n, "name") == ISTIO_NAMESPACE)
        .and_then(|n| label(n, "topology.istio.io/network"));
    let mut remotes = Vec::new();
    for secret in &secrets {
        remotes.extend(remote_clusters(secret, servers).await);
    }
    Ok(Live {
        network,
        remotes,
        revisions: istiods.iter().map(revision).collect(),
        namespaces: injected(&namespaces, default_revision),
        gateways: gateways
            .iter()
            .filter(|s| label(s, "app").as_deref() != Some("istiod"))
            .map(gateway)
            .collect(),
    })
}

fn revision(deployment: &Json) -> Revision {
    let env = deployment
        .pointer("/spec/template/spec/containers/0/env")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    Revision {
        revision: label(deployment, "istio.io/rev").unwrap_or_else(|| "default".to_string()),
        istiod: meta(deployment, "name"),
        ready: deployment["status"]["readyReplicas"].as_i64().unwrap_or(0),
        replicas: deployment["spec"]["replicas"].as_i64().unwrap_or(1),
        cluster_id: env
            .iter()
            .find(|e| e["name"] == "CLUSTER_ID")
            .and_then(|e| e["value"].as_str())
            .map(str::to_string),
    }
}

/// Namespaces a revision injects: `istio.io/rev=<rev>`, or `istio-injection=enabled` for the
/// default revision (which takes precedence, as the webhooks do).
pub fn injected(namespaces: &[Json], default_revision: Option<&str>) -> Vec<InjectedNamespace> {
    let mut found: Vec<InjectedNamespace> = namespaces
        .iter()
        .filter_map(|ns| {
            let name = meta(ns, "name");
            match (label(ns, "istio-injection"), label(ns, "istio.io/rev")) {
                (Some(enabled), _) if enabled == "enabled" => Some(InjectedNamespace {
                    name,
                    revision: default_revision.unwrap_or("default").to_string(),
                    label: "istio-injection=enabled".to_string(),
                }),
                (Some(_), _) => None,
                (None, Some(rev)) => Some(InjectedNamespace {
                    name,
                    label: format!("istio.io/rev={rev}"),
                    revision: rev,
                }),
                (None, None) => None,
            }
        })
        .collect();
    found.sort_by(|a, b| (&a.revision, &a.name).cmp(&(&b.revision, &b.name)));
    found
}

fn gateway(service: &Json) -> GatewayService {
    let ingress = &service["status"]["loadBalancer"]["ingress"][0];
    GatewayService {
        namespace: meta(service, "namespace"),
        name: meta(service, "name"),
        service_type: service["spec"]["type"]
            .as_str()
            .unwrap_or("ClusterIP")
            .to_string(),
        address: ingress["ip"]
            .as_str()
            .or(ingress["hostname"].as_str())
            .map(str::to_string),
        network: label(service, "topology.istio.io/network"),
        ports: service["spec"]["ports"]
            .as_array()
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|p| p["port"].as_i64())
                    .filter_map(|p| i32::try_from(p).ok())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Each cluster a remote secret registers, tried with its kubeconfig.
async fn remote_clusters(
    secret: &Secret,
    servers: &BTreeMap<String, String>,
) -> Vec<RemoteCluster> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let secret_name = format!("{ISTIO_NAMESPACE}/{name}");
    let mut found = Vec::new();
    for (cluster_id, bytes) in secret.data.iter().flatten() {
        let kubeconfig = String::from_utf8(bytes.0.clone()).ok();
        let server = kubeconfig.as_deref().and_then(server_of);
        let problem = match &kubeconfig {
            None => Some("its kubeconfig is not text".to_string()),
            Some(text) => synced(text, &secret_name).await.err(),
        };
        found.push(RemoteCluster {
            name: cluster_id.clone(),
            secret: secret_name.clone(),
            problem,
            server_cluster: server.and_then(|s| servers.get(&s).cloned()),
        });
    }
    found
}

/// The server URL of a kubeconfig's first cluster.
fn server_of(kubeconfig: &str) -> Option<String> {
    let doc: Json = serde_yaml_from(kubeconfig)?;
    doc.pointer("/clusters/0/cluster/server")?
        .as_str()
        .map(str::to_string)
}

fn serde_yaml_from(text: &str) -> Option<Json> {
    // kubeconfigs are YAML; kube's own parser reads them into its Kubeconfig type.
    let config = kube::config::Kubeconfig::from_yaml(text).ok()?;
    serde_json::to_value(config).ok()
}

/// Whether the remote cluster answers a list of Services with the kubeconfig's credentials:
/// what istiod does first with a remote secret.
async fn synced(kubeconfig: &str, what: &str) -> Result<(), String> {
    let (client, _) = mesh_provider_kubernetes::cluster::client_from_kubeconfig(
        kubeconfig,
        None,
        &format!("remote secret {what}"),
    )
    .await
    .map_err(|e| e.message)?;
    let services: Api<Service> = Api::all(client);
    let listed = tokio::time::timeout(
        REMOTE_TIMEOUT,
        services.list(&ListParams::default().limit(1)),
    )
    .await
    .map_err(|_| {
        format!(
            "its API did not answer within {}s",
            REMOTE_TIMEOUT.as_secs()
        )
    })?;
    match listed {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 401 => {
            Err("its API does not accept the secret's token (401)".to_string())
        }
        Err(kube::Error::Api(status)) if status.code == 403 => {
            Err("its token may not list Services (403)".to_string())
        }
        Err(kube::Error::Api(status)) => Err(format!(
            "its API answered {}: {}",
            status.code, status.message
        )),
        Err(e) => Err(format!("its API cannot be reached: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespaces_group_by_the_revision_that_injects_them() {
        let ns = |name: &str, labels: Json| json!({"metadata": {"name": name, "labels": labels}});
        let found = injected(
            &[
                ns("sample", json!({"istio-injection": "enabled"})),
                ns("echo", json!({"istio.io/rev": "1-14-1"})),
                ns(
                    "off",
                    json!({"istio-injection": "disabled", "istio.io/rev": "1-14-1"}),
                ),
                ns("plain", json!({})),
            ],
            Some("1-19-1"),
        );
        let names: Vec<(&str, &str)> = found
            .iter()
            .map(|n| (n.revision.as_str(), n.name.as_str()))
            .collect();
        assert_eq!(names, [("1-14-1", "echo"), ("1-19-1", "sample")]);
        assert_eq!(found[1].label, "istio-injection=enabled");
    }

    #[test]
    fn servers_come_from_the_kubeconfig() {
        let config = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1/aks/two\ncontexts: []\nusers: []\n";
        assert_eq!(
            server_of(config).as_deref(),
            Some("https://127.0.0.1:1/aks/two")
        );
    }
}
