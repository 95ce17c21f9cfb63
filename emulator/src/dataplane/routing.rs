//! Istio routing in the caller's sidecar: the VirtualService for the host (the oldest one
//! bound to the mesh and exported to the caller), its first `http` rule whose match holds
//! (`uri`, `headers`, `method`, `port`, `sourceLabels`, `sourceNamespace`, `gateways`), and
//! one of the rule's destinations by weight; DestinationRules give subsets and the TLS mode.
//! Weights are drawn from a low-discrepancy sequence per caller and rule, so that splits are
//! even over many calls and the same from one run to the next.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::draws::Draws;
use super::network::host_matches;
use super::resolve::{exported_to, service_fqdn, split_service_fqdn};
use super::view::{meta, ClusterView, ISTIO_NAMESPACE};

/// An HTTP request as routing sees it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestView {
    /// The method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The port called.
    pub port: u16,
    /// Headers (lowercase names).
    pub headers: BTreeMap<String, String>,
}

/// Where a call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Destination {
    /// The destination host (a Service FQDN or a ServiceEntry host).
    pub host: String,
    /// The DestinationRule subset, if any.
    pub subset: Option<String>,
    /// The port, when the route names one.
    pub port: Option<u16>,
}

/// What the caller's routes make of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Routed {
    /// Sent to a destination; `rule` names the VirtualService and rule, `retries` is how often
    /// a failed attempt is retried.
    To {
        /// The destination.
        destination: Destination,
        /// `VirtualService ns/name, rule N`, when one routed it.
        rule: Option<String>,
        /// Retries after the first attempt.
        retries: u32,
    },
    /// A VirtualService matched the host, but none of its rules the request (Envoy's 404).
    NoRoute {
        /// The VirtualService.
        virtual_service: String,
    },
    /// A rule answered by itself: a fault injection abort or a direct response.
    Answered {
        /// The status.
        status: u16,
        /// The body.
        body: String,
        /// The VirtualService and rule.
        rule: String,
    },
}

/// Istio's default retries for HTTP routes.
pub(crate) const DEFAULT_RETRIES: u32 = 2;

/// A host as a VirtualService or DestinationRule in `namespace` means it: short names are
/// Services of that namespace.
pub(crate) fn qualify(host: &str, namespace: &str) -> String {
    if host.contains('.') || host.contains('*') {
        host.to_ascii_lowercase()
    } else {
        service_fqdn(namespace, &host.to_ascii_lowercase())
    }
}

fn bound_to_mesh(vs: &Json) -> bool {
    vs["spec"]["gateways"]
        .as_array()
        .is_none_or(|g| g.is_empty() || g.iter().any(|g| g == "mesh"))
}

/// The VirtualService the caller's sidecar uses for `host`: bound to the mesh, exported to
/// the caller, oldest first.
pub(crate) fn virtual_service<'a>(
    cluster: &'a ClusterView,
    caller_namespace: &str,
    host: &str,
) -> Option<&'a Json> {
    let mut found: Vec<&Json> = cluster
        .objects
        .virtual_services
        .iter()
        .filter(|vs| bound_to_mesh(vs) && exported_to(vs, caller_namespace))
        .filter(|vs| {
            let namespace = meta(vs, "namespace");
            vs["spec"]["hosts"].as_array().is_some_and(|hosts| {
                hosts
                    .iter()
                    .filter_map(Json::as_str)
                    .any(|h| host_matches(&qualify(h, namespace), host))
            })
        })
        .collect();
    found.sort_by_key(|vs| {
        (
            meta(vs, "creationTimestamp").to_string(),
            meta(vs, "namespace").to_string(),
            meta(vs, "name").to_string(),
        )
    });
    found.first().copied()
}

/// Whether a string match (`exact`, `prefix`; `regex` is not simulated) holds.
fn string_matches(rule: &Json, value: Option<&str>) -> bool {
    let Some(value) = value else {
        return false;
    };
    if let Some(exact) = rule["exact"].as_str() {
        return value == exact;
    }
    if let Some(prefix) = rule["prefix"].as_str() {
        return value.starts_with(prefix);
    }
    false
}

/// Whether one `match` block holds for the request from a proxy with `source` labels in
/// `source_namespace`.
fn match_holds(
    block: &Json,
    request: &RequestView,
    source: &BTreeMap<String, String>,
    source_namespace: &str,
) -> bool {
    if !block["uri"].is_null() {
        let path = request.path.split('?').next().unwrap_or_default();
        if !string_matches(&block["uri"], Some(path)) {
            return false;
        }
    }
    if !block["method"].is_null() && !string_matches(&block["method"], Some(&request.method)) {
        return false;
    }
    if let Some(headers) = block["headers"].as_object() {
        let all = headers.iter().all(|(name, rule)| {
            let value = request.headers.get(&name.to_ascii_lowercase());
            string_matches(rule, value.map(String::as_str))
        });
        if !all {
            return false;
        }
    }
    if let Some(port) = block["port"].as_u64() {
        if port != u64::from(request.port) {
            return false;
        }
    }
    if let Some(wanted) = block["sourceLabels"].as_object() {
        let all = wanted.iter().all(|(k, v)| {
            v.as_str()
                .is_some_and(|v| source.get(k).is_some_and(|l| l == v))
        });
        if !all {
            return false;
        }
    }
    if let Some(ns) = block["sourceNamespace"].as_str() {
        if ns != source_namespace {
            return false;
        }
    }
    if let Some(gateways) = block["gateways"].as_array() {
        if !gateways.iter().any(|g| g == "mesh") {
            return false;
        }
    }
    true
}

/// The caller: its labels, namespace and counter key.
pub(crate) struct Source<'a> {
    /// The proxy's labels.
    pub labels: &'a BTreeMap<String, String>,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its key in load-balancing counters.
    pub key: &'a str,
}

/// Route a call to `host` (a Service FQDN or ServiceEntry host) from `source`.
pub(crate) fn route(
    cluster: &ClusterView,
    source: &Source<'_>,
    host: &str,
    request: &RequestView,
    draws: &mut Draws<'_>,
) -> Routed {
    let direct = || Routed::To {
        destination: Destination {
            host: host.to_string(),
            subset: None,
            port: None,
        },
        rule: None,
        retries: DEFAULT_RETRIES,
    };
    let Some(vs) = virtual_service(cluster, source.namespace, host) else {
        return direct();
    };
    let vs_name = format!("{}/{}", meta(vs, "namespace"), meta(vs, "name"));
    let Some(rules) = vs["spec"]["http"].as_array() else {
        return direct();
    };
    for (index, rule) in rules.iter().enumerate() {
        let matches = match rule["match"].as_array() {
            None => true,
            Some(blocks) if blocks.is_empty() => true,
            Some(blocks) => blocks
                .iter()
                .any(|b| match_holds(b, request, source.labels, source.namespace)),
        };
        if !matches {
            continue;
        }
        let rule_name = match rule["name"].as_str() {
            Some(name) => format!("VirtualService {vs_name}, rule {name}"),
            None => format!("VirtualService {vs_name}, rule {}", index + 1),
        };
        let draw_key = format!("{}|weight|{vs_name}#{index}", source.key);
        if let Some(answer) = fault_or_direct(rule, &rule_name, draws, &draw_key) {
            return answer;
        }
        let Some(destination) = pick_destination(rule, meta(vs, "namespace"), draws, &draw_key)
        else {
            continue;
        };
        let retries = rule["retries"]["attempts"]
            .as_u64()
            .map_or(DEFAULT_RETRIES, |a| {
                u32::try_from(a).unwrap_or(DEFAULT_RETRIES)
            });
        return Routed::To {
            destination,
            rule: Some(rule_name),
            retries,
        };
    }
    Routed::NoRoute {
        virtual_service: vs_name,
    }
}

/// A rule's abort fault (by its percentage) or direct response.
fn fault_or_direct(
    rule: &Json,
    rule_name: &str,
    draws: &mut Draws<'_>,
    draw_key: &str,
) -> Option<Routed> {
    if let Some(status) = rule["directResponse"]["status"].as_u64() {
        return Some(Routed::Answered {
            status: u16::try_from(status).unwrap_or(200),
            body: rule["directResponse"]["body"]["string"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            rule: rule_name.to_string(),
        });
    }
    let abort = &rule["fault"]["abort"];
    let status = abort["httpStatus"].as_u64()?;
    let percent = abort["percentage"]["value"].as_f64().unwrap_or(100.0);
    let hit = draws.fraction(&format!("{draw_key}|abort")) * 100.0 < percent;
    hit.then(|| Routed::Answered {
        status: u16::try_from(status).unwrap_or(503),
        body: "fault filter abort".to_string(),
        rule: rule_name.to_string(),
    })
}

/// One of a rule's destinations, by weight.
fn pick_destination(
    rule: &Json,
    namespace: &str,
    draws: &mut Draws<'_>,
    draw_key: &str,
) -> Option<Destination> {
    let routes = rule["route"].as_array()?;
    let weighted: Vec<(u64, &Json)> = routes
        .iter()
        .map(|r| (r["weight"].as_u64().unwrap_or(0), r))
        .collect();
    let total: u64 = weighted.iter().map(|(w, _)| w).sum();
    let chosen = if routes.len() == 1 || total == 0 {
        routes.first()?
    } else {
        let point = (draws.fraction(draw_key) * total as f64) as u64;
        let mut acc = 0;
        weighted
            .iter()
            .find(|(w, _)| {
                acc += w;
                point < acc
            })
            .map(|(_, r)| *r)
            .unwrap_or(weighted.last()?.1)
    };
    let destination = &chosen["destination"];
    Some(Destination {
        host: qualify(destination["host"].as_str()?, namespace),
        subset: destination["subset"].as_str().map(str::to_string),
        port: destination["port"]["number"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok()),
    })
}

/// The DestinationRule for `host` as the caller sees it: in the caller's namespace, else the
/// host's (a Service's) namespace, else the root namespace.
pub(crate) fn destination_rule<'a>(
    cluster: &'a ClusterView,
    caller_namespace: &str,
    host: &str,
) -> Option<&'a Json> {
    let for_host = |dr: &&Json| {
        dr["spec"]["host"]
            .as_str()
            .is_some_and(|h| host_matches(&qualify(h, meta(dr, "namespace")), host))
            && exported_to(dr, caller_namespace)
    };
    let host_namespace = split_service_fqdn(host).map(|(ns, _)| ns);
    let mut order = vec![caller_namespace];
    order.extend(host_namespace);
    order.push(ISTIO_NAMESPACE);
    order.iter().find_map(|namespace| {
        cluster
            .objects
            .destination_rules
            .iter()
            .filter(|dr| meta(dr, "namespace") == *namespace)
            .find(for_host)
    })
}

/// The labels of `subset` in a DestinationRule; `None` when it has no such subset.
pub(crate) fn subset_labels(rule: &Json, subset: &str) -> Option<Json> {
    rule["spec"]["subsets"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == subset)
        .map(|s| s["labels"].clone())
}

/// The TLS mode a DestinationRule sets for traffic (to `subset`), if any.
pub(crate) fn tls_mode<'a>(rule: &'a Json, subset: Option<&str>) -> Option<&'a str> {
    let from_subset = subset.and_then(|name| {
        rule["spec"]["subsets"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == name)?["trafficPolicy"]["tls"]["mode"]
            .as_str()
    });
    from_subset.or_else(|| rule["spec"]["trafficPolicy"]["tls"]["mode"].as_str())
}
