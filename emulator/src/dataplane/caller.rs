//! The pod a command runs in: a Pod named so, the first running pod of a Deployment named so,
//! or a throwaway pod made for the command (`kubectl run NAME` then `kubectl delete pod`).

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::view::{
    has_proxy, label, labels, meta, ready, MeshConfig, MeshView, CLUSTER_LABEL, NETWORK_LABEL,
};

/// The pod a command runs in.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// Its cluster (index in the view).
    pub cluster: usize,
    /// Its namespace.
    pub namespace: String,
    /// The Pod object.
    pub pod: Json,
}

impl Caller {
    /// The pod's name.
    pub fn name(&self) -> &str {
        meta(&self.pod, "name")
    }

    /// Whether an Istio sidecar intercepts its traffic.
    pub fn sidecar(&self) -> bool {
        has_proxy(&self.pod)
    }

    /// How its sidecar's revision treats traffic.
    pub fn mesh_config(&self, view: &MeshView) -> MeshConfig {
        view.clusters[self.cluster].mesh_config(label(&self.pod, "istio.io/rev"))
    }

    /// The labels its proxy presents (what `sourceLabels` match): the pod's, plus the
    /// cluster and network istiod adds.
    pub fn proxy_labels(&self, view: &MeshView) -> BTreeMap<String, String> {
        let cluster = &view.clusters[self.cluster];
        let mut all = labels(&self.pod);
        all.insert(CLUSTER_LABEL.to_string(), cluster.cluster_id());
        if let Some(network) = cluster.network() {
            all.insert(NETWORK_LABEL.to_string(), network.to_string());
        }
        all
    }

    /// A key that identifies this caller in load-balancing counters.
    pub fn counter_key(&self, view: &MeshView) -> String {
        format!(
            "{}/{}/{}",
            view.clusters[self.cluster].name,
            self.namespace,
            self.name()
        )
    }
}

/// The pod `workload` names in `namespace` of cluster `cluster`: a Pod of that name, else the
/// first ready pod (by name) a Deployment of that name owns. The error is kubectl's.
pub(crate) fn find(
    view: &MeshView,
    cluster: usize,
    namespace: &str,
    workload: &str,
) -> Result<Caller, String> {
    let c = &view.clusters[cluster];
    if c.namespace(namespace).is_none() {
        return Err(format!(
            "Error from server (NotFound): namespaces \"{namespace}\" not found"
        ));
    }
    let caller = |pod: &Json| Caller {
        cluster,
        namespace: namespace.to_string(),
        pod: pod.clone(),
    };
    if let Some(pod) = c.pod(namespace, workload) {
        if !ready(pod) {
            return Err(format!(
                "error: unable to upgrade connection: pod {workload} is not running"
            ));
        }
        return Ok(caller(pod));
    }
    let Some(deployment) = c.deployment(namespace, workload) else {
        return Err(format!(
            "Error from server (NotFound): pods \"{workload}\" not found (nor deployments.apps \"{workload}\" in namespace {namespace})"
        ));
    };
    let selector = &deployment["spec"]["selector"]["matchLabels"];
    let mut pods: Vec<&Json> = c
        .selected_pods(namespace, selector)
        .filter(|p| ready(p))
        .collect();
    pods.sort_by_key(|p| meta(p, "name"));
    pods.first().map(|p| caller(p)).ok_or_else(|| {
        format!("error: deployment {workload} in namespace {namespace} has no running pod")
    })
}

/// A throwaway pod `name` in `namespace`, as `kubectl run NAME --image=curlimages/curl` makes
/// it: labelled `run=NAME`, injected like any new pod of its namespace, given an address.
pub(crate) fn throwaway(
    view: &MeshView,
    cluster: usize,
    namespace: &str,
    name: &str,
    inject: &dyn Fn(&mut Json),
) -> Result<Caller, String> {
    if view.clusters[cluster].namespace(namespace).is_none() {
        return Err(format!(
            "Error from server (NotFound): namespaces \"{namespace}\" not found"
        ));
    }
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"run": name}},
        "spec": {"containers": [{"name": name, "image": "docker.io/curlimages/curl:8.5.0"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    });
    inject(&mut pod);
    Ok(Caller {
        cluster,
        namespace: namespace.to_string(),
        pod,
    })
}
