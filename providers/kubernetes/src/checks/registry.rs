//! The service registry one cluster's sidecars see: Services of the clusters its istiod
//! discovers, ServiceEntries and DestinationRules of its own, and the workloads behind them.
//! Host names are read the way Istio reads them: a name without dots is a Service in the
//! rule's own namespace; anything else is taken literally.

use std::collections::BTreeMap;

use mesh_engine::provider::has_placeholder;
use serde_json::Value as Json;

use super::model::{Cluster, MeshModel, Object};
use super::values::json_strings;

/// The suffix of Kubernetes Service host names.
const SERVICE_SUFFIX: &str = ".svc.cluster.local";

/// A host as a rule names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Host {
    /// A Kubernetes Service.
    Service {
        /// Its name.
        name: String,
        /// Its namespace.
        namespace: String,
    },
    /// Any other name (ServiceEntries, external hosts).
    Other(String),
    /// A wildcard, an address, or a value known only after apply: not checked.
    Unchecked,
}

impl Host {
    /// Read `host` as a rule in `namespace` names it.
    pub fn parse(host: &str, namespace: &str) -> Host {
        let host = host.trim();
        if host.is_empty()
            || host.contains('*')
            || has_placeholder(host)
            || host.parse::<std::net::IpAddr>().is_ok()
        {
            return Host::Unchecked;
        }
        if !host.contains('.') {
            return Host::Service {
                name: host.to_string(),
                namespace: namespace.to_string(),
            };
        }
        if let Some(rest) = host.strip_suffix(SERVICE_SUFFIX) {
            if let Some((name, ns)) = rest.split_once('.') {
                if !ns.contains('.') {
                    return Host::Service {
                        name: name.to_string(),
                        namespace: ns.to_string(),
                    };
                }
            }
        }
        Host::Other(host.to_string())
    }

    /// The fully qualified name.
    pub fn fqdn(&self) -> String {
        match self {
            Host::Service { name, namespace } => format!("{name}.{namespace}{SERVICE_SUFFIX}"),
            Host::Other(h) => h.clone(),
            Host::Unchecked => "*".to_string(),
        }
    }
}

/// A workload's pod labels, with the topology labels Istio gives its endpoints.
#[derive(Debug, Clone)]
pub struct Workload<'a> {
    /// The object (Deployment, StatefulSet, ...).
    pub object: &'a Object,
    /// The cluster it runs in.
    pub cluster: &'a Cluster,
    /// Pod labels plus `topology.istio.io/cluster` and `topology.istio.io/network`.
    pub labels: BTreeMap<String, String>,
}

/// The pod labels of a workload object; `None` for other kinds.
pub fn pod_labels(object: &Object) -> Option<BTreeMap<String, String>> {
    let pointer = match object.kind() {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            "/spec/template/metadata/labels"
        }
        "CronJob" => "/spec/jobTemplate/spec/template/metadata/labels",
        "Pod" => "/metadata/labels",
        _ => return None,
    };
    Some(json_strings(object.json.pointer(pointer)))
}

/// What the sidecars of one cluster can reach.
pub struct Registry<'a> {
    /// The calling cluster.
    pub cluster: &'a Cluster,
    /// It and the clusters its istiod discovers.
    pub discovered: Vec<&'a Cluster>,
    /// Every cluster of the mesh (for "it exists, but elsewhere").
    pub all: &'a [Cluster],
}

impl<'a> Registry<'a> {
    /// The registry of `cluster`.
    pub fn of(model: &'a MeshModel<'_>, cluster: &'a Cluster) -> Registry<'a> {
        Registry {
            cluster,
            discovered: model.discovered_by(&cluster.key),
            all: &model.clusters,
        }
    }

    /// True when something this registry depends on is not known at plan time.
    pub fn opaque(&self) -> Option<&'a str> {
        self.discovered
            .iter()
            .find_map(|c| c.opaque.first().map(String::as_str))
    }

    /// The Service a host names, in `cluster`.
    pub fn service_in(cluster: &'a Cluster, name: &str, namespace: &str) -> Option<&'a Object> {
        cluster
            .objects_of("Service")
            .find(|s| s.name() == name && s.namespace() == namespace)
    }

    /// The clusters it discovers that have the Service.
    pub fn service_clusters(&self, name: &str, namespace: &str) -> Vec<&'a Cluster> {
        self.discovered
            .iter()
            .copied()
            .filter(|c| Self::service_in(c, name, namespace).is_some())
            .collect()
    }

    /// Clusters of the mesh it does not discover that have the Service.
    pub fn undiscovered_service_clusters(&self, name: &str, namespace: &str) -> Vec<&'a Cluster> {
        self.all
            .iter()
            .filter(|c| !self.discovered.iter().any(|d| d.key == c.key))
            .filter(|c| Self::service_in(c, name, namespace).is_some())
            .collect()
    }

    /// The ServiceEntries of the calling cluster that a rule in `namespace` sees for `host`.
    pub fn service_entries(&self, host: &str, namespace: &str) -> Vec<&'a Object> {
        self.cluster
            .objects
            .iter()
            .filter(|o| o.is_istio("ServiceEntry") && visible(o, namespace))
            .filter(|o| {
                strings_at(&o.json, "/spec/hosts")
                    .iter()
                    .any(|h| host_matches(h, host))
            })
            .collect()
    }

    /// True when `host` is in the registry: a Service of a discovered cluster, or a
    /// ServiceEntry this namespace sees.
    pub fn knows(&self, host: &Host, namespace: &str) -> bool {
        match host {
            Host::Service {
                name,
                namespace: ns,
            } => {
                !self.service_clusters(name, ns).is_empty()
                    || !self.service_entries(&host.fqdn(), namespace).is_empty()
            }
            Host::Other(h) => !self.service_entries(h, namespace).is_empty(),
            Host::Unchecked => true,
        }
    }

    /// The subsets DestinationRules of the calling cluster define for a host, as a rule in
    /// `namespace` sees them.
    pub fn subsets(&self, host: &Host, namespace: &str) -> Vec<(String, &'a Object)> {
        let fqdn = host.fqdn();
        let mut out = Vec::new();
        for rule in self
            .cluster
            .objects
            .iter()
            .filter(|o| o.is_istio("DestinationRule"))
        {
            if !visible(rule, namespace) {
                continue;
            }
            let rule_host = rule
                .json
                .pointer("/spec/host")
                .and_then(Json::as_str)
                .unwrap_or("");
            if Host::parse(rule_host, rule.namespace()).fqdn() != fqdn {
                continue;
            }
            let subsets = rule.json.pointer("/spec/subsets").and_then(Json::as_array);
            for subset in subsets.into_iter().flatten() {
                if let Some(name) = subset.get("name").and_then(Json::as_str) {
                    out.push((name.to_string(), rule));
                }
            }
        }
        out
    }

    /// The workloads behind a Service, in the clusters it discovers.
    pub fn workloads(&self, name: &str, namespace: &str) -> Vec<Workload<'a>> {
        workloads_in(&self.discovered, name, namespace)
    }

    /// The workloads behind a Service in clusters of the mesh it does not discover.
    pub fn undiscovered_workloads(&self, name: &str, namespace: &str) -> Vec<Workload<'a>> {
        let others: Vec<&Cluster> = self
            .all
            .iter()
            .filter(|c| !self.discovered.iter().any(|d| d.key == c.key))
            .collect();
        workloads_in(&others, name, namespace)
    }
}

/// The workloads behind a Service in some clusters: pods its selector matches, labelled as
/// Istio labels their endpoints.
fn workloads_in<'a>(clusters: &[&'a Cluster], name: &str, namespace: &str) -> Vec<Workload<'a>> {
    let mut out = Vec::new();
    for cluster in clusters {
        let Some(service) = Registry::service_in(cluster, name, namespace) else {
            continue;
        };
        let selector = json_strings(service.json.pointer("/spec/selector"));
        if selector.is_empty() {
            continue;
        }
        for object in cluster
            .objects
            .iter()
            .filter(|o| o.namespace() == namespace)
        {
            let Some(mut labels) = pod_labels(object) else {
                continue;
            };
            if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                continue;
            }
            labels.insert("topology.istio.io/cluster".into(), cluster.name.clone());
            if let Some(network) = cluster.network().filter(|n| !n.is_empty()) {
                labels.insert("topology.istio.io/network".into(), network);
            }
            out.push(Workload {
                object,
                cluster,
                labels,
            });
        }
    }
    out
}

/// Whether an Istio object is visible to rules in `namespace` (its `exportTo`).
fn visible(object: &Object, namespace: &str) -> bool {
    let export = strings_at(&object.json, "/spec/exportTo");
    export.is_empty()
        || export
            .iter()
            .any(|e| e == "*" || e == namespace || (e == "." && object.namespace() == namespace))
}

/// A list of strings at a JSON pointer.
pub fn strings_at(json: &Json, pointer: &str) -> Vec<String> {
    json.pointer(pointer)
        .and_then(Json::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A ServiceEntry host (maybe a `*.` wildcard) against a called host.
fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => pattern == "*" || pattern == host,
    }
}
