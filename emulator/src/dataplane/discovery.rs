//! Endpoint discovery, as a cluster's istiod does it: its own cluster's Services and pods, plus
//! those of every cluster it holds a working remote secret for. A host's endpoints are the
//! ready pods each of those clusters' own Service of that name selects (a cluster without the
//! Service contributes none), labelled with the cluster ID they are registered under and their
//! network. Pods on another network than the caller's are reached through their cluster's
//! network gateway; without one, istiod leaves them out.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::network::{network_gateway, GatewayRef};
use super::view::{has_proxy, labels, meta, ready, MeshView, CLUSTER_LABEL, NETWORK_LABEL};

/// A pod that serves a host, as the caller's istiod knows it.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The cluster the pod runs in (index in the view).
    pub cluster: usize,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The port it listens on.
    pub port: u16,
    /// Its labels, with `topology.istio.io/cluster` and `topology.istio.io/network`.
    pub labels: BTreeMap<String, String>,
    /// Whether it runs a sidecar (auto mTLS sends it Istio mTLS).
    pub sidecar: bool,
    /// The network gateway in front of it, when it is on another network than the caller.
    pub via: Option<GatewayRef>,
}

impl Endpoint {
    /// `pod (cluster)` for traces.
    pub fn describe(&self, view: &MeshView) -> String {
        let cluster = &view.clusters[self.cluster].name;
        match &self.via {
            Some(g) => format!(
                "{}:{} ({cluster}, through gateway {}:{})",
                self.pod,
                self.port,
                g.address,
                super::network::PASSTHROUGH_PORT
            ),
            None => format!("{}:{} ({cluster})", self.pod, self.port),
        }
    }
}

/// The clusters istiod of `cluster` reads: (index, the cluster ID they are registered
/// under), itself first; remote secrets that do not work are left out.
pub(crate) fn known_clusters(view: &MeshView, cluster: usize) -> Vec<(usize, String)> {
    let own = &view.clusters[cluster];
    let mut known = vec![(cluster, own.cluster_id())];
    for link in &own.remotes {
        if let Ok(target) = link.target {
            if !known.iter().any(|(i, _)| *i == target) {
                known.push((target, link.cluster_id.clone()));
            }
        }
    }
    known
}

/// What istiod of `cluster` says about its remote secrets that do not work.
pub(crate) fn unsynced(view: &MeshView, cluster: usize) -> Vec<String> {
    view.clusters[cluster]
        .remotes
        .iter()
        .filter_map(|link| {
            let why = link.target.as_ref().err()?;
            Some(format!(
                "remote cluster {} (Secret {}) is not synced: {why}",
                link.cluster_id, link.secret
            ))
        })
        .collect()
}

/// The port a Service port of `service` sends to on `pod`: a numeric `targetPort`, a named
/// one looked up in the pod's containers, else the port itself.
fn pod_port(service: &Json, pod: &Json, port: u16) -> Option<u16> {
    let entry = service["spec"]["ports"]
        .as_array()?
        .iter()
        .find(|p| p["port"].as_u64() == Some(u64::from(port)))?;
    let target = &entry["targetPort"];
    if let Some(n) = target.as_u64() {
        return u16::try_from(n).ok();
    }
    let Some(name) = target.as_str() else {
        return Some(port);
    };
    pod["spec"]["containers"]
        .as_array()?
        .iter()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_u64())
        .and_then(|n| u16::try_from(n).ok())
}

/// Whether any cluster `caller` knows has the Service `namespace/name`.
pub(crate) fn service_known(view: &MeshView, caller: usize, namespace: &str, name: &str) -> bool {
    known_clusters(view, caller)
        .iter()
        .any(|(c, _)| view.clusters[*c].service(namespace, name).is_some())
}

/// Whether the Service `namespace/name`, in a cluster `caller` knows, declares `port`.
pub(crate) fn service_has_port(
    view: &MeshView,
    caller: usize,
    namespace: &str,
    name: &str,
    port: u16,
) -> bool {
    known_clusters(view, caller).iter().any(|(c, _)| {
        view.clusters[*c]
            .service(namespace, name)
            .and_then(|s| s["spec"]["ports"].as_array())
            .is_some_and(|ports| {
                ports
                    .iter()
                    .any(|p| p["port"].as_u64() == Some(u64::from(port)))
            })
    })
}

/// The endpoints of Service `namespace/name` port `port` the sidecar of a pod in `caller`
/// gets from its istiod, sorted by cluster and pod. `notes` says what was left out and why.
pub(crate) fn service_endpoints(
    view: &MeshView,
    caller: usize,
    namespace: &str,
    name: &str,
    port: u16,
    notes: &mut Vec<String>,
) -> Vec<Endpoint> {
    let caller_network = view.clusters[caller].network().map(str::to_string);
    let mut endpoints = Vec::new();
    for (index, cluster_id) in known_clusters(view, caller) {
        let cluster = &view.clusters[index];
        let Some(service) = cluster.service(namespace, name) else {
            continue;
        };
        let selector = &service["spec"]["selector"];
        if !selector.is_object() {
            continue;
        }
        let network = cluster.network().map(str::to_string);
        let pods: Vec<&Json> = cluster
            .selected_pods(namespace, selector)
            .filter(|p| ready(p))
            .collect();
        if pods.is_empty() {
            continue;
        }
        let via = match (&network, &caller_network) {
            (Some(theirs), Some(ours)) if theirs != ours => {
                match network_gateway(view, index, theirs) {
                    Some(gateway) => Some(gateway),
                    None => {
                        notes.push(format!(
                            "{} endpoint(s) in {} left out: network {theirs} has no gateway there",
                            pods.len(),
                            cluster.name
                        ));
                        continue;
                    }
                }
            }
            _ => None,
        };
        for pod in pods {
            let Some(pod_port) = pod_port(service, pod, port) else {
                continue;
            };
            let mut pod_labels = labels(pod);
            pod_labels.insert(CLUSTER_LABEL.to_string(), cluster_id.clone());
            if let Some(network) = &network {
                pod_labels.insert(NETWORK_LABEL.to_string(), network.clone());
            }
            endpoints.push(Endpoint {
                cluster: index,
                namespace: namespace.to_string(),
                pod: meta(pod, "name").to_string(),
                port: pod_port,
                labels: pod_labels,
                sidecar: has_proxy(pod),
                via: via.clone(),
            });
        }
    }
    endpoints.sort_by(|a, b| (a.cluster, &a.pod).cmp(&(b.cluster, &b.pod)));
    endpoints
}

/// The ready pods of `cluster`'s own Service `namespace/name` (what kube-proxy balances over
/// for its cluster IP), as endpoints of that cluster.
pub(crate) fn local_endpoints(
    view: &MeshView,
    cluster: usize,
    namespace: &str,
    name: &str,
    port: u16,
) -> Vec<Endpoint> {
    let c = &view.clusters[cluster];
    let Some(service) = c.service(namespace, name) else {
        return Vec::new();
    };
    let selector = &service["spec"]["selector"];
    if !selector.is_object() {
        return Vec::new();
    }
    let mut endpoints: Vec<Endpoint> = c
        .selected_pods(namespace, selector)
        .filter(|p| ready(p))
        .filter_map(|pod| {
            Some(Endpoint {
                cluster,
                namespace: namespace.to_string(),
                pod: meta(pod, "name").to_string(),
                port: pod_port(service, pod, port)?,
                labels: labels(pod),
                sidecar: has_proxy(pod),
                via: None,
            })
        })
        .collect();
    endpoints.sort_by(|a, b| a.pod.cmp(&b.pod));
    endpoints
}
