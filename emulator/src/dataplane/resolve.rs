//! Name resolution in a pod, as its resolver does it: the search path of its namespace
//! (`<ns>.svc.cluster.local`, `svc.cluster.local`, `cluster.local`) before the name itself,
//! each name looked up first by the sidecar's DNS proxy when DNS capture is on (ServiceEntry
//! hosts, and the Services of every cluster its istiod knows), then by the cluster's DNS (the
//! cluster's own Services), then — for names under a public top-level domain — by the
//! Internet's DNS.

use std::net::IpAddr;

use serde_json::Value as Json;

use super::caller::Caller;
use super::discovery::known_clusters;
use super::view::{meta, MeshView};

/// The cluster domain.
pub(crate) const CLUSTER_DOMAIN: &str = "cluster.local";

/// Top-level domains the local cloud pretends public DNS answers for.
const PUBLIC_TLDS: &[&str] = &[
    "com", "net", "org", "io", "dev", "app", "info", "biz", "edu", "gov", "co", "uk", "de", "fr",
    "nl", "eu", "us", "cloud", "ai",
];

/// What a name resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// A Kubernetes Service, and the cluster IP the name resolved to.
    Service {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Its cluster IP.
        address: String,
    },
    /// A ServiceEntry host the sidecar's DNS proxy answered for, with its address.
    Entry {
        /// The host.
        host: String,
        /// The address answered.
        address: String,
    },
    /// A name outside the clusters, answered by public DNS.
    External {
        /// The name.
        host: String,
    },
    /// An IP address, no lookup needed.
    Address(String),
}

impl Resolved {
    /// How traces show it.
    pub fn describe(&self) -> String {
        match self {
            Resolved::Service {
                namespace,
                name,
                address,
            } => format!("Service {namespace}/{name} ({address})"),
            Resolved::Entry { host, address } => {
                format!("ServiceEntry host {host} ({address}, answered by the sidecar)")
            }
            Resolved::External { host } => format!("{host} (public DNS)"),
            Resolved::Address(a) => a.clone(),
        }
    }
}

/// The FQDN of Service `namespace/name`.
pub(crate) fn service_fqdn(namespace: &str, name: &str) -> String {
    format!("{name}.{namespace}.svc.{CLUSTER_DOMAIN}")
}

/// The (namespace, name) a Service FQDN names.
pub(crate) fn split_service_fqdn(fqdn: &str) -> Option<(&str, &str)> {
    let rest = fqdn.strip_suffix(&format!(".svc.{CLUSTER_DOMAIN}"))?;
    let (name, namespace) = rest.split_once('.')?;
    (!namespace.contains('.') && !name.is_empty()).then_some((namespace, name))
}

/// Whether ServiceEntry `entry` is visible from `namespace` (its `exportTo`).
pub(crate) fn exported_to(entry: &Json, namespace: &str) -> bool {
    let Some(targets) = entry["spec"]["exportTo"].as_array() else {
        return true;
    };
    targets
        .iter()
        .filter_map(Json::as_str)
        .any(|t| t == "*" || t == namespace || (t == "." && meta(entry, "namespace") == namespace))
}

/// The address the sidecar's DNS proxy answers for a ServiceEntry host: its first address,
/// else one auto-allocated from 240.240.0.0/16.
fn entry_address(entry: &Json, host: &str) -> String {
    if let Some(address) = entry["spec"]["addresses"][0].as_str() {
        return address.to_string();
    }
    let hash = crate::kube::objects::stable_hash(host);
    format!("240.240.{}.{}", (hash >> 8) % 256, hash % 254 + 1)
}

/// The names the resolver tries for `host`, in order.
fn search_list(host: &str, namespace: &str) -> Vec<String> {
    if let Some(absolute) = host.strip_suffix('.') {
        return vec![absolute.to_string()];
    }
    let mut names: Vec<String> = [
        format!("{namespace}.svc.{CLUSTER_DOMAIN}"),
        format!("svc.{CLUSTER_DOMAIN}"),
        CLUSTER_DOMAIN.to_string(),
    ]
    .iter()
    .map(|suffix| format!("{host}.{suffix}"))
    .collect();
    names.push(host.to_string());
    names
}

/// What `host` resolves to in the caller's pod; `None` when it does not.
pub(crate) fn resolve(view: &MeshView, caller: &Caller, host: &str) -> Option<Resolved> {
    let host = host.to_ascii_lowercase();
    if host.parse::<IpAddr>().is_ok() {
        return Some(Resolved::Address(host));
    }
    let dns_proxy = caller.sidecar() && caller.mesh_config(view).dns_capture;
    for name in search_list(&host, &caller.namespace) {
        if dns_proxy {
            if let Some(found) = entry_lookup(view, caller, &name) {
                return Some(found);
            }
        }
        if let Some(found) = service_lookup(view, caller, &name, dns_proxy) {
            return Some(found);
        }
    }
    let public = host
        .rsplit('.')
        .next()
        .is_some_and(|tld| host.contains('.') && PUBLIC_TLDS.contains(&tld));
    public.then_some(Resolved::External { host })
}

/// A ServiceEntry host (not a wildcard) visible to the caller.
fn entry_lookup(view: &MeshView, caller: &Caller, name: &str) -> Option<Resolved> {
    view.clusters[caller.cluster]
        .objects
        .service_entries
        .iter()
        .filter(|e| exported_to(e, &caller.namespace))
        .find_map(|entry| {
            let hosts = entry["spec"]["hosts"].as_array()?;
            hosts
                .iter()
                .filter_map(Json::as_str)
                .find(|h| h.eq_ignore_ascii_case(name))
                .map(|h| Resolved::Entry {
                    host: h.to_ascii_lowercase(),
                    address: entry_address(entry, h),
                })
        })
}

/// A Service FQDN: in the caller's cluster, or with the DNS proxy in any cluster its istiod
/// knows.
fn service_lookup(
    view: &MeshView,
    caller: &Caller,
    name: &str,
    dns_proxy: bool,
) -> Option<Resolved> {
    let (namespace, service) = split_service_fqdn(name)?;
    let clusters: Vec<usize> = if dns_proxy {
        known_clusters(view, caller.cluster)
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    } else {
        vec![caller.cluster]
    };
    clusters.into_iter().find_map(|c| {
        let found = view.clusters[c].service(namespace, service)?;
        Some(Resolved::Service {
            namespace: namespace.to_string(),
            name: service.to_string(),
            address: found["spec"]["clusterIP"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_path_comes_first() {
        assert_eq!(
            search_list("helloworld.sample", "foo"),
            [
                "helloworld.sample.foo.svc.cluster.local",
                "helloworld.sample.svc.cluster.local",
                "helloworld.sample.cluster.local",
                "helloworld.sample",
            ]
        );
        assert_eq!(search_list("x.example.com.", "foo"), ["x.example.com"]);
    }

    #[test]
    fn service_fqdns_split() {
        assert_eq!(
            split_service_fqdn("reviews.bookinfo.svc.cluster.local"),
            Some(("bookinfo", "reviews"))
        );
        assert_eq!(split_service_fqdn("a.b.c.svc.cluster.local"), None);
        assert_eq!(split_service_fqdn("helloworld.sample.cluster2"), None);
    }
}
