//! Services: what a cluster's routing rules call must exist where it is called from.
//!
//! - a host an application calls (a mesh VirtualService's hosts, a DestinationRule's host)
//!   resolves by DNS in the calling cluster: a Service there, or a ServiceEntry (a Service
//!   that exists only in another cluster is in istiod's registry but not in DNS, unless the
//!   sidecars answer DNS themselves: `dns_capture`);
//! - VirtualService destinations are in the registry, and their subsets are defined by a
//!   DestinationRule of the calling cluster;
//! - DestinationRule subsets select labels that some workload behind the host has
//!   (`topology.istio.io/cluster` and `network` included, as Istio labels endpoints);
//! - with `REGISTRY_ONLY`, external hosts the spec calls have ServiceEntries;
//! - ServiceEntry VIPs are unique per cluster.

use std::collections::BTreeMap;

use mesh_engine::provider::PlanFinding;
use serde_json::Value as Json;

use super::model::{Cluster, MeshModel, Object};
use super::registry::{pod_labels, strings_at, Host, Registry};
use super::values::json_strings;
use super::{FindingExt, Rule};

/// Every services rule.
pub fn check(model: &MeshModel<'_>) -> Vec<PlanFinding> {
    let names: Vec<String> = model.primaries().map(|c| c.name.clone()).collect();
    let mut out = Vec::new();
    for cluster in model.primaries() {
        let registry = Registry::of(model, cluster);
        let registry_only = cluster
            .control_planes
            .iter()
            .any(|cp| cp.outbound_policy.known() == Some("REGISTRY_ONLY"));
        let checker = Checker {
            registry,
            registry_only,
            dns_capture: cluster.control_planes.iter().any(|cp| cp.dns_capture),
            cluster_names: &names,
        };
        for object in &cluster.objects {
            if object.is_istio("VirtualService") {
                checker.virtual_service(object, &mut out);
            } else if object.is_istio("DestinationRule") {
                checker.destination_rule(object, &mut out);
            }
        }
        if registry_only {
            checker.workload_urls(&mut out);
        }
        out.extend(vips(cluster));
    }
    out
}

struct Checker<'a> {
    registry: Registry<'a>,
    registry_only: bool,
    dns_capture: bool,
    cluster_names: &'a [String],
}

impl Checker<'_> {
    fn name(&self) -> &str {
        &self.registry.cluster.name
    }

    fn virtual_service(&self, vs: &Object, out: &mut Vec<PlanFinding>) {
        let namespace = vs.namespace();
        let gateways = strings_at(&vs.json, "/spec/gateways");
        let mesh = gateways.is_empty() || gateways.iter().any(|g| g == "mesh");
        if mesh {
            for host in strings_at(&vs.json, "/spec/hosts") {
                self.called_host(vs, &Host::parse(&host, namespace), out);
            }
            self.source_labels(vs, out);
        }
        for destination in destinations(&vs.json) {
            let Some(host) = destination.get("host").and_then(Json::as_str) else {
                continue;
            };
            let host = Host::parse(host, namespace);
            if !self.destination_exists(vs, &host, out) {
                continue;
            }
            if let Some(subset) = destination.get("subset").and_then(Json::as_str) {
                self.subset_defined(vs, &host, subset, out);
            }
        }
    }

    /// A host applications call: resolvable by DNS here, and allowed out. A VirtualService's
    /// hosts are certainly called (errors); a DestinationRule's host most likely (warnings).
    fn called_host(&self, by: &Object, host: &Host, out: &mut Vec<PlanFinding>) {
        if self.registry.opaque().is_some() {
            return;
        }
        let certain = by.is_istio("VirtualService");
        let finding = |message: String| {
            if certain {
                Rule::Services.error(&by.address, message)
            } else {
                Rule::Services.warning(&by.address, message)
            }
        };
        let namespace = by.namespace();
        match host {
            Host::Service {
                name,
                namespace: ns,
            } => {
                let here = Registry::service_in(self.registry.cluster, name, ns).is_some();
                let entries = !self
                    .registry
                    .service_entries(&host.fqdn(), namespace)
                    .is_empty();
                if here || entries || self.dns_capture {
                    return;
                }
                let elsewhere = self.registry.service_clusters(name, ns);
                let Some(first) = elsewhere.first() else {
                    return;
                };
                let service = Registry::service_in(first, name, ns).map(|s| s.address.clone());
                out.push(
                    finding(format!(
                        "{} calls {} but the Service {ns}/{name} exists only in {}: \
                         the name does not resolve in {} (no DNS record), so calls fail \
                         before reaching the mesh",
                        self.name(),
                        host.fqdn(),
                        names(&elsewhere),
                        self.name()
                    ))
                    .related(service)
                    .fix(format!(
                        "declare the Service {ns}/{name} in {} too (selector-only, as the \
                         samples do), or set dns_capture = true on its control plane",
                        self.name()
                    )),
                );
            }
            Host::Other(h) if self.registry_only => {
                if !self.registry.service_entries(h, namespace).is_empty() {
                    return;
                }
                out.push(
                    finding(format!(
                        "{} calls {h}, which is not in its registry, and its outbound \
                         traffic policy is REGISTRY_ONLY: sidecars drop the calls (502 \
                         BlackHoleCluster)",
                        self.name()
                    ))
                    .fix(format!("declare a ServiceEntry for {h} in {}", self.name())),
                );
            }
            _ => {}
        }
    }

    /// A route destination: in the registry. Returns whether it is.
    fn destination_exists(&self, vs: &Object, host: &Host, out: &mut Vec<PlanFinding>) -> bool {
        if self.registry.knows(host, vs.namespace()) {
            return true;
        }
        if self.registry.opaque().is_some() {
            return false;
        }
        let elsewhere = match host {
            Host::Service { name, namespace } => {
                self.registry.undiscovered_service_clusters(name, namespace)
            }
            _ => Vec::new(),
        };
        let (why, fix) = match elsewhere.first() {
            Some(_) => (
                format!(
                    "its Service exists only in {}, which istiod in {} does not discover",
                    names(&elsewhere),
                    self.name()
                ),
                format!(
                    "add a remote secret so that {} discovers {}, or a ServiceEntry for the host",
                    self.name(),
                    names(&elsewhere)
                ),
            ),
            None => (
                "no cluster it discovers has that Service and no ServiceEntry declares it"
                    .to_string(),
                "fix the host name, or declare its Service or ServiceEntry".to_string(),
            ),
        };
        out.push(
            Rule::Services
                .error(
                    &vs.address,
                    format!(
                        "VirtualService {}/{} in {} routes to {}, which is not in the registry: \
                         {why}; those requests fail (503, no route)",
                        vs.namespace(),
                        vs.name(),
                        self.name(),
                        host.fqdn()
                    ),
                )
                .fix(fix),
        );
        false
    }

    fn subset_defined(&self, vs: &Object, host: &Host, subset: &str, out: &mut Vec<PlanFinding>) {
        let subsets = self.registry.subsets(host, vs.namespace());
        if subsets.iter().any(|(name, _)| name == subset) || self.registry.opaque().is_some() {
            return;
        }
        let defined: Vec<&str> = subsets.iter().map(|(n, _)| n.as_str()).collect();
        let known = if defined.is_empty() {
            "no DestinationRule for it defines subsets".to_string()
        } else {
            format!("its DestinationRules define {}", defined.join(", "))
        };
        out.push(
            Rule::Services
                .error(
                    &vs.address,
                    format!(
                        "VirtualService {}/{} in {} routes to subset \"{subset}\" of {}, but {known}: \
                         those requests fail (503, no healthy upstream)",
                        vs.namespace(),
                        vs.name(),
                        self.name(),
                        host.fqdn()
                    ),
                )
                .related(subsets.iter().map(|(_, rule)| rule.address.clone()))
                .fix(format!(
                    "define subset \"{subset}\" in a DestinationRule for {} in {}, or route to an existing subset",
                    host.fqdn(),
                    self.name()
                )),
        );
    }

    /// `sourceLabels` matching a cluster name that no cluster has.
    fn source_labels(&self, vs: &Object, out: &mut Vec<PlanFinding>) {
        let http = vs.json.pointer("/spec/http").and_then(Json::as_array);
        for route in http.into_iter().flatten() {
            let matches = route.get("match").and_then(Json::as_array);
            for m in matches.into_iter().flatten() {
                let labels = json_strings(m.get("sourceLabels"));
                let Some(cluster) = labels.get("topology.istio.io/cluster") else {
                    continue;
                };
                if self.cluster_names.iter().any(|n| n == cluster) {
                    continue;
                }
                out.push(
                    Rule::Services
                        .warning(
                            &vs.address,
                            format!(
                                "VirtualService {}/{} matches sourceLabels topology.istio.io/cluster={cluster}, \
                                 but no cluster of the mesh is called that ({}): the route never applies",
                                vs.namespace(),
                                vs.name(),
                                self.cluster_names.join(", ")
                            ),
                        )
                        .fix("use a cluster_name of one of the control planes"),
                );
            }
        }
    }

    fn destination_rule(&self, rule: &Object, out: &mut Vec<PlanFinding>) {
        let Some(host) = rule.json.pointer("/spec/host").and_then(Json::as_str) else {
            return;
        };
        let host = Host::parse(host, rule.namespace());
        self.called_host(rule, &host, out);
        let Host::Service { name, namespace } = &host else {
            return;
        };
        if self.registry.opaque().is_some() {
            return;
        }
        let workloads = self.registry.workloads(name, namespace);
        if workloads.is_empty()
            || workloads.iter().any(|w| {
                w.labels
                    .values()
                    .any(|v| mesh_engine::provider::has_placeholder(v))
            })
        {
            return;
        }
        let subsets = rule.json.pointer("/spec/subsets").and_then(Json::as_array);
        for subset in subsets.into_iter().flatten() {
            let labels = json_strings(subset.get("labels"));
            if labels.is_empty()
                || labels
                    .values()
                    .any(|v| mesh_engine::provider::has_placeholder(v))
            {
                continue;
            }
            let selected = workloads
                .iter()
                .any(|w| labels.iter().all(|(k, v)| w.labels.get(k) == Some(v)));
            if selected {
                continue;
            }
            let subset_name = subset.get("name").and_then(Json::as_str).unwrap_or("?");
            let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let hidden: Vec<&Cluster> = self
                .registry
                .undiscovered_workloads(name, namespace)
                .iter()
                .filter(|w| labels.iter().all(|(k, v)| w.labels.get(k) == Some(v)))
                .map(|w| w.cluster)
                .collect();
            let (why, fix) = match hidden.first() {
                Some(first) => (
                    format!(
                        "; only workloads in {}, which istiod in {} does not discover, match",
                        first.name,
                        self.name()
                    ),
                    format!(
                        "add the remote secret that lets {} discover {}",
                        self.name(),
                        first.name
                    ),
                ),
                None => (
                    String::new(),
                    "select labels the workloads' pod templates carry, or add the workload"
                        .to_string(),
                ),
            };
            out.push(
                Rule::Services
                    .error(
                        &rule.address,
                        format!(
                            "subset \"{subset_name}\" of {} selects {}, which no workload of \
                             {namespace}/{name} has in {}{why}: requests routed to it fail \
                             (503, no healthy upstream)",
                            host.fqdn(),
                            wanted.join(", "),
                            names(&self.registry.discovered)
                        ),
                    )
                    .related(workloads.iter().map(|w| w.object.address.clone()))
                    .fix(fix),
            );
        }
    }

    /// External URLs in workloads' environment and arguments, with REGISTRY_ONLY.
    fn workload_urls(&self, out: &mut Vec<PlanFinding>) {
        for object in &self.registry.cluster.objects {
            if pod_labels(object).is_none() {
                continue;
            }
            for host in urls_in(&object.json) {
                let parsed = Host::parse(&host, object.namespace());
                let Host::Other(h) = &parsed else {
                    continue;
                };
                if h.ends_with(".local")
                    || !self
                        .registry
                        .service_entries(h, object.namespace())
                        .is_empty()
                {
                    continue;
                }
                out.push(
                    Rule::Services
                        .warning(
                            &object.address,
                            format!(
                                "{} {}/{} names {h}, which is not in the registry of {}, whose \
                                 outbound traffic policy is REGISTRY_ONLY: its calls there are dropped",
                                object.kind(),
                                object.namespace(),
                                object.name(),
                                self.name()
                            ),
                        )
                        .fix(format!("declare a ServiceEntry for {h} in {}", self.name())),
                );
            }
        }
    }
}

/// Every route destination of a VirtualService (http, tcp, tls routes and mirrors).
fn destinations(vs: &Json) -> Vec<&Json> {
    let mut out = Vec::new();
    for section in ["http", "tcp", "tls"] {
        let routes = vs
            .pointer(&format!("/spec/{section}"))
            .and_then(Json::as_array);
        for route in routes.into_iter().flatten() {
            let targets = route.get("route").and_then(Json::as_array);
            out.extend(
                targets
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.get("destination")),
            );
            out.extend(route.get("mirror"));
        }
    }
    out
}

/// Host names of `scheme://host` URLs in a workload's containers' env values and arguments.
fn urls_in(workload: &Json) -> Vec<String> {
    let mut texts = Vec::new();
    collect_container_texts(workload, &mut texts);
    let mut hosts = Vec::new();
    for text in texts {
        let mut rest = text.as_str();
        while let Some(i) = rest.find("://") {
            let after = &rest[i + 3..];
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .unwrap_or(after.len());
            let host = &after[..end];
            if host.contains('.') && !hosts.iter().any(|h| h == host) {
                hosts.push(host.to_string());
            }
            rest = &after[end..];
        }
    }
    hosts
}

fn collect_container_texts(json: &Json, out: &mut Vec<String>) {
    match json {
        Json::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("env", Json::Array(vars)) => out.extend(
                        vars.iter()
                            .filter_map(|v| v.get("value")?.as_str().map(str::to_string)),
                    ),
                    ("args" | "command", Json::Array(items)) => {
                        out.extend(items.iter().filter_map(|i| i.as_str().map(str::to_string)))
                    }
                    _ => collect_container_texts(value, out),
                }
            }
        }
        Json::Array(items) => items.iter().for_each(|i| collect_container_texts(i, out)),
        _ => {}
    }
}

/// ServiceEntry VIPs declared twice in one cluster.
fn vips(cluster: &Cluster) -> Vec<PlanFinding> {
    let mut seen: BTreeMap<String, (&Object, String)> = BTreeMap::new();
    let mut out = Vec::new();
    for entry in cluster
        .objects
        .iter()
        .filter(|o| o.is_istio("ServiceEntry"))
    {
        let hosts = strings_at(&entry.json, "/spec/hosts").join(", ");
        for vip in strings_at(&entry.json, "/spec/addresses") {
            if mesh_engine::provider::has_placeholder(&vip) {
                continue;
            }
            match seen.get(&vip) {
                Some((first, first_hosts))
                    if first.name() != entry.name() || first.namespace() != entry.namespace() =>
                {
                    out.push(
                        Rule::Services
                            .error(
                                &entry.address,
                                format!(
                                    "ServiceEntry {}/{} ({hosts}) and {}/{} ({first_hosts}) both \
                                     use the VIP {vip} in {}: sidecars capture traffic to it for \
                                     one of them only",
                                    entry.namespace(),
                                    entry.name(),
                                    first.namespace(),
                                    first.name(),
                                    cluster.name
                                ),
                            )
                            .related([first.address.clone()])
                            .fix("give every ServiceEntry of a cluster its own VIP"),
                    );
                }
                Some(_) => {}
                None => {
                    seen.insert(vip, (entry, hosts.clone()));
                }
            }
        }
    }
    out
}

fn names(clusters: &[&Cluster]) -> String {
    clusters
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
