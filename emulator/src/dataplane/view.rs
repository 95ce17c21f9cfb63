//! What the data plane sees of the clusters: for each AKS cluster the Kubernetes and Istio
//! objects that shape traffic, the clusters its istiod discovers through remote secrets, its
//! CA, and where its nodes are on the Azure network. Plain data: [`super::snapshot`] fills it
//! from the local cloud, unit tests by hand.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use super::trust::CaView;

/// The namespace istiod and the east-west gateway run in.
pub(crate) const ISTIO_NAMESPACE: &str = "istio-system";
/// The label naming a workload's (or a namespace's, or a gateway's) Istio network.
pub(crate) const NETWORK_LABEL: &str = "topology.istio.io/network";
/// The label istiod adds to every workload: the cluster it is registered under.
pub(crate) const CLUSTER_LABEL: &str = "topology.istio.io/cluster";
/// The cluster ID istiod uses when `CLUSTER_ID` is not set.
const DEFAULT_CLUSTER_ID: &str = "Kubernetes";

/// Every cluster of the local cloud, as the data plane sees it.
#[derive(Debug, Default)]
pub(crate) struct MeshView {
    /// The clusters, by name order.
    pub clusters: Vec<ClusterView>,
    /// Virtual-network pairs (lowercase IDs) with a Connected peering from the first to the
    /// second.
    pub peerings: BTreeSet<(String, String)>,
}

/// One AKS cluster.
#[derive(Debug, Default)]
pub(crate) struct ClusterView {
    /// The AKS cluster's name.
    pub name: String,
    /// The virtual network of its nodes (lowercase ID); `None` for AKS's managed network.
    pub vnet: Option<String>,
    /// Its objects.
    pub objects: Objects,
    /// The clusters its istiod reads through remote secrets.
    pub remotes: Vec<RemoteLink>,
    /// Its mesh CA; `None` without istiod.
    pub ca: Option<CaView>,
}

/// A remote secret and what istiod makes of it.
#[derive(Debug, Clone)]
pub(crate) struct RemoteLink {
    /// `namespace/name` of the Secret.
    pub secret: String,
    /// The cluster ID the remote cluster is registered under (the Secret's data key).
    pub cluster_id: String,
    /// The cluster it reaches (index in [`MeshView::clusters`]), or why istiod cannot sync it.
    pub target: Result<usize, String>,
}

/// The objects of one cluster that traffic depends on.
#[derive(Debug, Default)]
pub(crate) struct Objects {
    /// Namespaces.
    pub namespaces: Vec<Json>,
    /// Pods.
    pub pods: Vec<Json>,
    /// Services.
    pub services: Vec<Json>,
    /// Deployments.
    pub deployments: Vec<Json>,
    /// Secrets.
    pub secrets: Vec<Json>,
    /// ConfigMaps.
    pub config_maps: Vec<Json>,
    /// VirtualServices.
    pub virtual_services: Vec<Json>,
    /// DestinationRules.
    pub destination_rules: Vec<Json>,
    /// ServiceEntries.
    pub service_entries: Vec<Json>,
    /// Istio Gateways.
    pub gateways: Vec<Json>,
    /// SecretProviderClasses (Secrets Store CSI).
    pub secret_provider_classes: Vec<Json>,
}

impl Objects {
    /// Keep `object` when its kind matters to traffic.
    pub fn add(&mut self, object: Json) {
        let group = object["apiVersion"]
            .as_str()
            .and_then(|v| v.rsplit_once('/').map(|(g, _)| g))
            .unwrap_or_default();
        let list = match (group, object["kind"].as_str().unwrap_or_default()) {
            ("", "Namespace") => &mut self.namespaces,
            ("", "Pod") => &mut self.pods,
            ("", "Service") => &mut self.services,
            ("apps", "Deployment") => &mut self.deployments,
            ("", "Secret") => &mut self.secrets,
            ("", "ConfigMap") => &mut self.config_maps,
            ("networking.istio.io", "VirtualService") => &mut self.virtual_services,
            ("networking.istio.io", "DestinationRule") => &mut self.destination_rules,
            ("networking.istio.io", "ServiceEntry") => &mut self.service_entries,
            ("networking.istio.io", "Gateway") => &mut self.gateways,
            ("secrets-store.csi.x-k8s.io", "SecretProviderClass") => {
                &mut self.secret_provider_classes
            }
            _ => return,
        };
        list.push(object);
    }
}

/// `metadata.{field}` as text ("" when missing).
pub(crate) fn meta<'a>(object: &'a Json, field: &str) -> &'a str {
    object["metadata"][field].as_str().unwrap_or_default()
}

/// A label of an object.
pub(crate) fn label<'a>(object: &'a Json, name: &str) -> Option<&'a str> {
    object["metadata"]["labels"][name].as_str()
}

/// Every label of an object.
pub(crate) fn labels(object: &Json) -> BTreeMap<String, String> {
    object["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `labels` has every entry of `wanted` (a `matchLabels`-style object).
pub(crate) fn selects(wanted: &Json, labels: &BTreeMap<String, String>) -> bool {
    wanted.as_object().is_some_and(|w| {
        w.iter().all(|(k, v)| {
            v.as_str()
                .is_some_and(|v| labels.get(k).is_some_and(|l| l == v))
        })
    })
}

fn named<'a>(list: &'a [Json], namespace: &str, name: &str) -> Option<&'a Json> {
    list.iter()
        .find(|o| meta(o, "namespace") == namespace && meta(o, "name") == name)
}

/// Whether a pod runs and is ready.
pub(crate) fn ready(pod: &Json) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Whether a pod runs an Istio proxy (an injected sidecar, or a gateway).
pub(crate) fn has_proxy(pod: &Json) -> bool {
    pod["spec"]["containers"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["name"] == "istio-proxy"))
}

/// A Service's load-balancer address, once Azure gave it one.
pub(crate) fn load_balancer_address(service: &Json) -> Option<&str> {
    let ingress = service.pointer("/status/loadBalancer/ingress/0")?;
    ingress["ip"].as_str().or(ingress["hostname"].as_str())
}

/// How a revision's sidecars treat traffic (its mesh config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MeshConfig {
    /// `outboundTrafficPolicy.mode: REGISTRY_ONLY`: hosts outside the registry are blocked.
    pub registry_only: bool,
    /// The sidecar's DNS proxy answers for ServiceEntry hosts and every cluster's Services.
    pub dns_capture: bool,
}

impl ClusterView {
    /// The namespace named `name`.
    pub fn namespace(&self, name: &str) -> Option<&Json> {
        self.objects
            .namespaces
            .iter()
            .find(|n| meta(n, "name") == name)
    }

    /// The Service `namespace/name`.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Json> {
        named(&self.objects.services, namespace, name)
    }

    /// The Pod `namespace/name`.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Json> {
        named(&self.objects.pods, namespace, name)
    }

    /// The Deployment `namespace/name`.
    pub fn deployment(&self, namespace: &str, name: &str) -> Option<&Json> {
        named(&self.objects.deployments, namespace, name)
    }

    /// The Secret `namespace/name`.
    pub fn secret(&self, namespace: &str, name: &str) -> Option<&Json> {
        named(&self.objects.secrets, namespace, name)
    }

    /// The pods of `namespace` whose labels `selector` (a `matchLabels` map) selects.
    pub fn selected_pods<'a>(
        &'a self,
        namespace: &'a str,
        selector: &'a Json,
    ) -> impl Iterator<Item = &'a Json> + 'a {
        self.objects
            .pods
            .iter()
            .filter(move |p| meta(p, "namespace") == namespace && selects(selector, &labels(p)))
    }

    /// istiod: the first Deployment `app=istiod` in istio-system.
    pub fn istiod(&self) -> Option<&Json> {
        self.objects
            .deployments
            .iter()
            .find(|d| meta(d, "namespace") == ISTIO_NAMESPACE && label(d, "app") == Some("istiod"))
    }

    /// The cluster ID istiod knows itself by (`CLUSTER_ID`).
    pub fn cluster_id(&self) -> String {
        self.istiod()
            .and_then(|d| d.pointer("/spec/template/spec/containers/0/env"))
            .and_then(Json::as_array)
            .and_then(|env| env.iter().find(|e| e["name"] == "CLUSTER_ID"))
            .and_then(|e| e["value"].as_str())
            .unwrap_or(DEFAULT_CLUSTER_ID)
            .to_string()
    }

    /// The Istio network of the cluster's workloads: the label of istio-system.
    pub fn network(&self) -> Option<&str> {
        self.namespace(ISTIO_NAMESPACE)
            .and_then(|ns| label(ns, NETWORK_LABEL))
    }

    /// The mesh config of `revision` (ConfigMap `istio-<revision>`, else `istio`).
    pub fn mesh_config(&self, revision: Option<&str>) -> MeshConfig {
        let wanted = revision.map(|r| format!("istio-{r}"));
        let config_map = self
            .objects
            .config_maps
            .iter()
            .filter(|c| meta(c, "namespace") == ISTIO_NAMESPACE)
            .find(|c| Some(meta(c, "name")) == wanted.as_deref())
            .or_else(|| named(&self.objects.config_maps, ISTIO_NAMESPACE, "istio"));
        let Some(text) = config_map.and_then(|c| c["data"]["mesh"].as_str()) else {
            return MeshConfig::default();
        };
        let mesh: Json = serde_yaml::from_str(text).unwrap_or_default();
        MeshConfig {
            registry_only: mesh.pointer("/outboundTrafficPolicy/mode")
                == Some(&Json::from("REGISTRY_ONLY")),
            dns_capture: mesh.pointer("/defaultConfig/proxyMetadata/ISTIO_META_DNS_CAPTURE")
                == Some(&Json::from("true")),
        }
    }
}

impl MeshView {
    /// The index of the cluster named `name` (case-insensitive).
    pub fn find(&self, name: &str) -> Option<usize> {
        self.clusters
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_are_sorted_by_kind_and_the_rest_ignored() {
        let mut objects = Objects::default();
        objects.add(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}));
        objects.add(json!({"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService"}));
        objects.add(json!({"apiVersion": "v1", "kind": "Event"}));
        assert_eq!(objects.pods.len(), 1);
        assert_eq!(objects.virtual_services.len(), 1);
    }

    #[test]
    fn mesh_config_comes_from_the_revision_config_map() {
        let mut cluster = ClusterView::default();
        cluster.objects.add(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "istio-1-19-1", "namespace": "istio-system"},
            "data": {"mesh": "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\ndefaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: \"true\"\n"}}));
        let config = cluster.mesh_config(Some("1-19-1"));
        assert!(config.registry_only && config.dns_capture);
        assert_eq!(cluster.mesh_config(Some("other")), MeshConfig::default());
    }
}
