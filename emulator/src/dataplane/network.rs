//! Where packets can go. Pods of clusters on one Istio network talk directly, which needs their
//! node networks to route to each other (one virtual network, or peered ones). A pod on another
//! Istio network is reached only through its cluster's network gateway — a Service labelled
//! `topology.istio.io/network` with a load-balancer address (the east-west gateway) — and only
//! when an Istio Gateway on it passes mTLS through (`AUTO_PASSTHROUGH`) for the host.

use serde_json::Value as Json;

use super::view::{
    has_proxy, labels, load_balancer_address, meta, ready, selects, ClusterView, MeshView,
    NETWORK_LABEL,
};

/// The annotation that makes a LoadBalancer Service's address private to its network.
const INTERNAL_LB: &str = "service.beta.kubernetes.io/azure-load-balancer-internal";
/// The port east-west gateways pass mTLS through on.
pub(crate) const PASSTHROUGH_PORT: u16 = 15443;

/// A gateway Service: the cluster it is in, its namespace and name, and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GatewayRef {
    /// The cluster (index in the view).
    pub cluster: usize,
    /// The Service's namespace.
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// Its load-balancer address.
    pub address: String,
}

impl GatewayRef {
    /// `namespace/name`.
    pub fn service(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Whether pods of cluster `from` reach pods (and private addresses) of cluster `to`: the
/// same cluster, the same virtual network, or a Connected peering.
pub(crate) fn routable(view: &MeshView, from: usize, to: usize) -> bool {
    if from == to {
        return true;
    }
    let (Some(a), Some(b)) = (&view.clusters[from].vnet, &view.clusters[to].vnet) else {
        return false;
    };
    a == b || view.peerings.contains(&(a.clone(), b.clone()))
}

/// The network gateway cluster `cluster` exposes for `network`, as istiod finds it.
pub(crate) fn network_gateway(
    view: &MeshView,
    cluster: usize,
    network: &str,
) -> Option<GatewayRef> {
    let c = &view.clusters[cluster];
    c.objects
        .services
        .iter()
        .filter(|s| super::view::label(s, NETWORK_LABEL) == Some(network))
        .find_map(|s| {
            Some(GatewayRef {
                cluster,
                namespace: meta(s, "namespace").to_string(),
                name: meta(s, "name").to_string(),
                address: load_balancer_address(s)?.to_string(),
            })
        })
}

/// The Service whose load-balancer address is `address`, in any cluster.
pub(crate) fn service_at(view: &MeshView, address: &str) -> Option<(usize, Json)> {
    view.clusters.iter().enumerate().find_map(|(i, c)| {
        c.objects
            .services
            .iter()
            .find(|s| load_balancer_address(s) == Some(address))
            .map(|s| (i, s.clone()))
    })
}

/// Whether pods of `from` reach the load-balancer address of `service` in cluster `to`: a
/// public address always, an internal one when the networks route.
pub(crate) fn reaches_load_balancer(
    view: &MeshView,
    from: usize,
    to: usize,
    service: &Json,
) -> bool {
    let internal = service["metadata"]["annotations"][INTERNAL_LB] == "true";
    !internal || routable(view, from, to)
}

/// The ready proxy pods behind a gateway Service.
pub(crate) fn gateway_pods<'a>(cluster: &'a ClusterView, service: &'a Json) -> Vec<&'a Json> {
    let namespace = meta(service, "namespace");
    let selector = &service["spec"]["selector"];
    if !selector.is_object() {
        return Vec::new();
    }
    cluster
        .selected_pods(namespace, selector)
        .filter(|p| ready(p) && has_proxy(p))
        .collect()
}

/// The port a Service port sends to (its `targetPort` when numeric, else the port).
pub(crate) fn target_port(service: &Json, port: u16) -> Option<u16> {
    let entry = service["spec"]["ports"]
        .as_array()?
        .iter()
        .find(|p| p["port"].as_u64() == Some(u64::from(port)))?;
    Some(
        entry["targetPort"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(port),
    )
}

/// Whether a Gateway `hosts` entry (`host`, `ns/host`, `*`, `*.suffix`) admits `host`.
pub(crate) fn gateway_host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.split_once('/').map_or(pattern, |(_, h)| h);
    host_matches(pattern, host)
}

/// Whether an Istio host pattern (`*`, `*.suffix`, exact) admits `host`.
pub(crate) fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some("") => true,
        Some(suffix) => host.ends_with(suffix),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// The `AUTO_PASSTHROUGH` Gateway that lets mTLS for `host` through the gateway Service
/// `service` of `cluster` on service port `port`: its `namespace/name`.
pub(crate) fn passthrough_gateway(
    cluster: &ClusterView,
    service: &Json,
    port: u16,
    host: &str,
) -> Option<String> {
    let pods = gateway_pods(cluster, service);
    let target = target_port(service, port).unwrap_or(port);
    cluster.objects.gateways.iter().find_map(|gateway| {
        let selector = &gateway["spec"]["selector"];
        let selects_pods = pods.iter().any(|p| selects(selector, &labels(p)));
        let serves = gateway["spec"]["servers"]
            .as_array()
            .is_some_and(|servers| {
                servers.iter().any(|s| {
                    let number = s["port"]["number"].as_u64();
                    let on_port =
                        number == Some(u64::from(port)) || number == Some(u64::from(target));
                    on_port
                        && s["tls"]["mode"] == "AUTO_PASSTHROUGH"
                        && s["hosts"].as_array().is_some_and(|hosts| {
                            hosts
                                .iter()
                                .filter_map(Json::as_str)
                                .any(|h| gateway_host_matches(h, host))
                        })
                })
            });
        (selects_pods && serves)
            .then(|| format!("{}/{}", meta(gateway, "namespace"), meta(gateway, "name")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hosts_match_exactly_or_by_wildcard() {
        assert!(gateway_host_matches(
            "*.local",
            "helloworld.sample.svc.cluster.local"
        ));
        assert!(gateway_host_matches("istio-system/*", "anything"));
        assert!(gateway_host_matches(
            "helloworld.sample.cluster2",
            "helloworld.sample.cluster2"
        ));
        assert!(!gateway_host_matches(
            "*.local",
            "helloworld.sample.cluster2"
        ));
    }

    #[test]
    fn peered_or_shared_networks_route() {
        let mut view = MeshView::default();
        for vnet in [Some("a"), Some("b"), None] {
            view.clusters.push(ClusterView {
                vnet: vnet.map(str::to_string),
                ..ClusterView::default()
            });
        }
        assert!(routable(&view, 2, 2));
        assert!(!routable(&view, 0, 1));
        assert!(!routable(&view, 0, 2));
        view.peerings.insert(("a".into(), "b".into()));
        assert!(routable(&view, 0, 1));
        assert!(!routable(&view, 1, 0), "a peering is one-way");
    }

    #[test]
    fn target_ports_default_to_the_port() {
        let service =
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 5000}]}});
        assert_eq!(target_port(&service, 80), Some(8080));
        assert_eq!(target_port(&service, 5000), Some(5000));
        assert_eq!(target_port(&service, 1), None);
    }
}
