//! The caller's sidecar: what it does with a call once the name resolved.
//!
//! A Service or ServiceEntry host is routed ([`super::routing`]), its endpoints come from the
//! caller's istiod ([`super::discovery`]; ServiceEntry endpoints as written), and one is picked
//! round robin. An attempt reaches a pod directly when the networks route, or through the
//! network gateway of a pod on another Istio network; it fails when the path does not exist
//! or the mTLS handshake does (the two clusters' CAs do not share a root). Failed attempts are
//! retried on other endpoints (Istio's default: twice) before Envoy answers 503 with the last
//! reset reason. Hosts outside the registry leave the mesh (`ALLOW_ANY`) or hit the black
//! hole (`REGISTRY_ONLY`).

use serde_json::Value as Json;

use super::call::{pod_at, pod_server, served, Call, Outcome, Server};
use super::caller::Caller;
use super::discovery::{
    local_endpoints, service_endpoints, service_has_port, service_known, unsynced, Endpoint,
};
use super::draws::Draws;
use super::network::{
    gateway_pods, passthrough_gateway, reaches_load_balancer, routable, service_at, target_port,
    PASSTHROUGH_PORT,
};
use super::resolve::{exported_to, service_fqdn, split_service_fqdn, Resolved};
use super::routing::{self, destination_rule, subset_labels, tls_mode, Destination, Routed};
use super::view::{meta, selects, MeshView};

/// Envoy's reason when the peer's certificate does not chain to a trusted root.
const VERIFY_FAILED: &str = "connection failure, transport failure reason: TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED";
/// Envoy's reason when the peer does not speak TLS.
const WRONG_VERSION: &str = "connection failure, transport failure reason: TLS error: 268435703:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER";
/// Envoy's reason when nothing listens.
const REFUSED: &str = "connection failure, transport failure reason: delayed connect error: 111";
/// Envoy's reason when the address does not route.
const TIMEOUT: &str = "connection timeout";
/// Envoy's reason when the peer closes the connection.
const TERMINATED: &str = "connection termination";

/// Where an attempt goes.
#[derive(Debug, Clone)]
enum Target {
    /// A pod (through a network gateway when it says so).
    Pod(Endpoint),
    /// A ServiceEntry endpoint address (or the host itself, for DNS resolution).
    Address {
        /// IP or name.
        address: String,
        /// The port.
        port: u16,
    },
}

impl Target {
    fn describe(&self, view: &MeshView) -> String {
        match self {
            Target::Pod(e) => e.describe(view),
            Target::Address { address, port } => format!("{address}:{port}"),
        }
    }
}

/// Everything an outbound call needs.
struct Outbound<'a, 'd, 't> {
    view: &'a MeshView,
    caller: &'a Caller,
    call: &'a Call,
    draws: &'a mut Draws<'d>,
    trace: &'t mut Vec<String>,
    key: String,
}

/// What the sidecar of `caller` does with `call` to `resolved`.
pub(crate) fn outbound(
    view: &MeshView,
    caller: &Caller,
    call: &Call,
    resolved: Resolved,
    draws: &mut Draws<'_>,
    trace: &mut Vec<String>,
) -> Outcome {
    let mut out = Outbound {
        view,
        caller,
        call,
        draws,
        trace,
        key: caller.counter_key(view),
    };
    let port = call.request.port;
    match resolved {
        Resolved::Service {
            namespace, name, ..
        } => {
            if !service_has_port(view, caller.cluster, &namespace, &name, port) {
                return out.unknown_port();
            }
            out.routed(&service_fqdn(&namespace, &name))
        }
        Resolved::Entry { host, .. } => out.call_entry_host(&host),
        Resolved::External { host } => match out.entry_for(&host) {
            Some(_) => out.call_entry_host(&host),
            None => out.leave_mesh(&host, &host),
        },
        Resolved::Address(address) => out.call_address(&address),
    }
}

impl Outbound<'_, '_, '_> {
    fn note(&mut self, line: String) {
        self.trace.push(line);
    }

    /// A port no Service declares: the sidecar passes it to the cluster IP, where nothing
    /// answers.
    fn unknown_port(&mut self) -> Outcome {
        self.note(format!(
            "port {} is not a port of the Service: passed through to the cluster IP, where nothing listens",
            self.call.request.port
        ));
        Outcome::CurlError {
            code: 56,
            message: "Recv failure: Connection reset by peer".to_string(),
        }
    }

    /// The ServiceEntry (visible to the caller) with `host`.
    fn entry_for(&self, host: &str) -> Option<&Json> {
        self.view.clusters[self.caller.cluster]
            .objects
            .service_entries
            .iter()
            .filter(|e| exported_to(e, &self.caller.namespace))
            .find(|e| {
                e["spec"]["hosts"].as_array().is_some_and(|hosts| {
                    hosts
                        .iter()
                        .filter_map(Json::as_str)
                        .any(|h| super::network::host_matches(&h.to_ascii_lowercase(), host))
                })
            })
    }

    fn call_entry_host(&mut self, host: &str) -> Outcome {
        let port = self.call.request.port;
        let declared = self
            .entry_for(host)
            .is_some_and(|e| entry_port(e, port).is_some());
        if !declared {
            return self.unknown_port();
        }
        self.routed(host)
    }

    /// An IP address: a cluster IP or ServiceEntry address of the caller's cluster is that
    /// host; anything else leaves the mesh.
    fn call_address(&mut self, address: &str) -> Outcome {
        let cluster = &self.view.clusters[self.caller.cluster];
        let service = cluster
            .objects
            .services
            .iter()
            .find(|s| s["spec"]["clusterIP"] == address)
            .map(|s| {
                (
                    meta(s, "namespace").to_string(),
                    meta(s, "name").to_string(),
                )
            });
        if let Some((namespace, name)) = service {
            let resolved = Resolved::Service {
                namespace,
                name,
                address: address.to_string(),
            };
            return outbound(
                self.view,
                self.caller,
                self.call,
                resolved,
                self.draws,
                self.trace,
            );
        }
        let entry_host = cluster
            .objects
            .service_entries
            .iter()
            .filter(|e| exported_to(e, &self.caller.namespace))
            .find(|e| {
                e["spec"]["addresses"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|a| a == address))
            })
            .and_then(|e| e["spec"]["hosts"][0].as_str())
            .map(str::to_ascii_lowercase);
        match entry_host {
            Some(host) => self.call_entry_host(&host),
            None => self.leave_mesh(address, address),
        }
    }

    /// A host outside the registry: passed through (`ALLOW_ANY`) or black-holed
    /// (`REGISTRY_ONLY`).
    fn leave_mesh(&mut self, host: &str, address: &str) -> Outcome {
        if self.caller.mesh_config(self.view).registry_only {
            self.note(format!(
                "{host} is not in the mesh's registry and outbound traffic is REGISTRY_ONLY: BlackHoleCluster"
            ));
            if self.call.https {
                return Outcome::CurlError {
                    code: 35,
                    message: format!(
                        "OpenSSL SSL_connect: Connection reset by peer in connection to {host}:{}",
                        self.call.request.port
                    ),
                };
            }
            return Outcome::proxy(502, "");
        }
        self.note(format!(
            "{host} is not in the mesh's registry: PassthroughCluster (ALLOW_ANY)"
        ));
        let target = Target::Address {
            address: address.to_string(),
            port: self.call.request.port,
        };
        match self.attempt_address(&target, false, host, self.call.request.port) {
            Ok(server) => served(server, true),
            Err(reason) => Outcome::proxy(
                503,
                &format!("upstream connect error or disconnect/reset before headers. reset reason: {reason}"),
            ),
        }
    }

    /// Route a call to a Service FQDN or ServiceEntry host, then make the attempts.
    fn routed(&mut self, host: &str) -> Outcome {
        let cluster = &self.view.clusters[self.caller.cluster];
        let labels = self.caller.proxy_labels(self.view);
        let source = routing::Source {
            labels: &labels,
            namespace: &self.caller.namespace,
            key: &self.key,
        };
        // curl's TLS hides the request: the sidecar proxies bytes to the destination.
        let routed = if self.call.https {
            Routed::To {
                destination: Destination {
                    host: host.to_string(),
                    subset: None,
                    port: None,
                },
                rule: None,
                retries: 0,
            }
        } else {
            routing::route(cluster, &source, host, &self.call.request, self.draws)
        };
        match routed {
            Routed::NoRoute { virtual_service } => {
                self.note(format!(
                    "VirtualService {virtual_service} has no rule for this request: 404"
                ));
                Outcome::proxy(404, "")
            }
            Routed::Answered { status, body, rule } => {
                self.note(format!("{rule} answers {status} by itself"));
                Outcome::proxy(status, &body)
            }
            Routed::To {
                destination,
                rule,
                retries,
            } => {
                let subset = destination
                    .subset
                    .as_deref()
                    .map(|s| format!(", subset {s}"))
                    .unwrap_or_default();
                match rule {
                    Some(rule) => {
                        self.note(format!("{rule} sends it to {}{subset}", destination.host))
                    }
                    None => self.note(format!("no VirtualService: sent to {}", destination.host)),
                }
                self.send_to(&destination, retries)
            }
        }
    }

    /// The port a destination is called on: the route's, else the host's only port, else the
    /// port called.
    fn destination_port(&self, destination: &Destination) -> u16 {
        if let Some(port) = destination.port {
            return port;
        }
        let called = self.call.request.port;
        let ports: Vec<u16> = match split_service_fqdn(&destination.host) {
            Some((namespace, name)) => self.view.clusters[self.caller.cluster]
                .service(namespace, name)
                .and_then(|s| s["spec"]["ports"].as_array())
                .map(|ports| ports_of(ports, "port"))
                .unwrap_or_default(),
            None => self
                .entry_for(&destination.host)
                .and_then(|e| e["spec"]["ports"].as_array())
                .map(|ports| ports_of(ports, "number"))
                .unwrap_or_default(),
        };
        if ports.len() == 1 && !ports.contains(&called) {
            return ports[0];
        }
        called
    }

    /// The endpoints of a destination, or the proxy's answer when there are none.
    fn targets(
        &mut self,
        destination: &Destination,
        port: u16,
    ) -> Result<Vec<Target>, Box<Outcome>> {
        let view = self.view;
        let cluster = &view.clusters[self.caller.cluster];
        let rule = destination_rule(cluster, &self.caller.namespace, &destination.host);
        let subset = match &destination.subset {
            None => None,
            Some(name) => match rule.and_then(|r| subset_labels(r, name)) {
                Some(labels) => Some(labels),
                None => {
                    self.note(format!(
                        "no DestinationRule defines subset {name} of {}: no cluster to send it to",
                        destination.host
                    ));
                    return Err(Box::new(Outcome::proxy(503, "")));
                }
            },
        };
        let selected = |labels: &std::collections::BTreeMap<String, String>| {
            subset.as_ref().is_none_or(|s| selects(s, labels))
        };
        let service = split_service_fqdn(&destination.host)
            .filter(|(ns, name)| service_known(view, self.caller.cluster, ns, name));
        let targets: Vec<Target> = if let Some((namespace, name)) = service {
            let mut notes = unsynced(view, self.caller.cluster);
            let endpoints =
                service_endpoints(view, self.caller.cluster, namespace, name, port, &mut notes);
            self.trace.extend(notes);
            endpoints
                .into_iter()
                .filter(|e| selected(&e.labels))
                .map(Target::Pod)
                .collect()
        } else if let Some(entry) = self.entry_for(&destination.host) {
            entry_targets(entry, &destination.host, port)
                .into_iter()
                .filter(|(labels, _)| selected(labels))
                .map(|(_, t)| t)
                .collect()
        } else {
            self.note(format!(
                "{} is in no registry the caller's istiod has",
                destination.host
            ));
            return Err(Box::new(Outcome::proxy(503, "")));
        };
        if targets.is_empty() {
            self.note(format!(
                "{} has no endpoint: no healthy upstream",
                destination.host
            ));
            return Err(Box::new(Outcome::proxy(503, "no healthy upstream")));
        }
        let known: Vec<String> = targets.iter().map(|t| t.describe(view)).collect();
        self.note(format!("endpoints: {}", known.join(", ")));
        Ok(targets)
    }

    /// Send the call to one of the destination's endpoints, retrying on failure.
    fn send_to(&mut self, destination: &Destination, retries: u32) -> Outcome {
        let port = self.destination_port(destination);
        let targets = match self.targets(destination, port) {
            Ok(t) => t,
            Err(answer) => return *answer,
        };
        let cluster = &self.view.clusters[self.caller.cluster];
        let tls = destination_rule(cluster, &self.caller.namespace, &destination.host)
            .and_then(|r| tls_mode(r, destination.subset.as_deref()))
            .map(|mode| mode == "ISTIO_MUTUAL");
        let key = format!(
            "{}|endpoints|{}|{}|{port}",
            self.key,
            destination.host,
            destination.subset.as_deref().unwrap_or("")
        );
        let mut tried: Vec<usize> = Vec::new();
        let mut last = String::new();
        for attempt in 0..=retries {
            let mut index = self.draws.round_robin(&key, targets.len());
            if tried.len() < targets.len() {
                while tried.contains(&index) {
                    index = (index + 1) % targets.len();
                }
            }
            tried.push(index);
            let target = &targets[index];
            let result = match target {
                Target::Pod(endpoint) => self.attempt_pod(endpoint, tls, &destination.host),
                Target::Address { .. } => {
                    self.attempt_address(target, tls == Some(true), &destination.host, port)
                }
            };
            match result {
                Ok(server) => {
                    self.note(format!(
                        "attempt {}: {} answers",
                        attempt + 1,
                        target.describe(self.view)
                    ));
                    return served(server, true);
                }
                Err(reason) => {
                    self.note(format!(
                        "attempt {}: {}: {reason}",
                        attempt + 1,
                        target.describe(self.view)
                    ));
                    last = reason;
                }
            }
        }
        let retried = if retries > 0 {
            "retried and the latest "
        } else {
            ""
        };
        Outcome::proxy(
            503,
            &format!(
                "upstream connect error or disconnect/reset before headers. {retried}reset reason: {last}"
            ),
        )
    }

    /// An attempt at a pod: the path (direct, or through its network's gateway), then the
    /// mTLS handshake with the caller.
    fn attempt_pod(
        &mut self,
        endpoint: &Endpoint,
        tls: Option<bool>,
        host: &str,
    ) -> Result<Server, String> {
        let view = self.view;
        let mtls = tls.unwrap_or(endpoint.sidecar);
        match &endpoint.via {
            Some(gateway) => {
                let cluster = &view.clusters[gateway.cluster];
                let service = cluster
                    .service(&gateway.namespace, &gateway.name)
                    .ok_or_else(|| REFUSED.to_string())?;
                if !reaches_load_balancer(view, self.caller.cluster, gateway.cluster, service) {
                    return Err(TIMEOUT.to_string());
                }
                if gateway_pods(cluster, service).is_empty() {
                    return Err(REFUSED.to_string());
                }
                if !mtls {
                    return Err(TERMINATED.to_string());
                }
                let Some(passthrough) =
                    passthrough_gateway(cluster, service, PASSTHROUGH_PORT, host)
                else {
                    self.note(format!(
                        "the gateway {} of {} has no AUTO_PASSTHROUGH Gateway on {PASSTHROUGH_PORT} for {host}",
                        gateway.service(),
                        cluster.name
                    ));
                    return Err(REFUSED.to_string());
                };
                self.note(format!(
                    "through the east-west gateway {} of {} (Gateway {passthrough})",
                    gateway.service(),
                    cluster.name
                ));
            }
            None => {
                if !routable(view, self.caller.cluster, endpoint.cluster) {
                    self.note(format!(
                        "the nodes of {} and {} share no routed network",
                        view.clusters[self.caller.cluster].name,
                        view.clusters[endpoint.cluster].name
                    ));
                    return Err(TIMEOUT.to_string());
                }
            }
        }
        self.handshake(endpoint, mtls)?;
        Ok(pod_server(view, endpoint))
    }

    /// The mTLS handshake between the caller's sidecar and the endpoint's.
    fn handshake(&mut self, endpoint: &Endpoint, mtls: bool) -> Result<(), String> {
        if !mtls {
            return Ok(());
        }
        if !endpoint.sidecar {
            return Err(WRONG_VERSION.to_string());
        }
        let ours = self.view.clusters[self.caller.cluster].ca.as_ref();
        let theirs = self.view.clusters[endpoint.cluster].ca.as_ref();
        match (ours, theirs) {
            (Some(a), Some(b)) if a.trusts_mutually(b) => Ok(()),
            (Some(a), Some(b)) => {
                self.note(format!(
                    "mTLS: {} signs with {} (root {}), {} with {} (root {}): no shared root",
                    self.view.clusters[self.caller.cluster].name,
                    a.source,
                    a.issuer_short(),
                    self.view.clusters[endpoint.cluster].name,
                    b.source,
                    b.issuer_short()
                ));
                Err(VERIFY_FAILED.to_string())
            }
            _ => Err(VERIFY_FAILED.to_string()),
        }
    }

    /// An attempt at an address: a load balancer of the cloud (a gateway passing mTLS through
    /// by SNI, or an application's), a pod, or the outside world. `host` and `host_port` are
    /// what the call is for (the SNI a passing-through gateway routes by).
    fn attempt_address(
        &mut self,
        target: &Target,
        mtls: bool,
        host: &str,
        host_port: u16,
    ) -> Result<Server, String> {
        let Target::Address { address, port } = target else {
            return Err(REFUSED.to_string());
        };
        let view = self.view;
        if address.parse::<std::net::IpAddr>().is_err() {
            return self.attempt_name(self.caller.cluster, address, *port, mtls);
        }
        if let Some((cluster, service)) = service_at(view, address) {
            if !reaches_load_balancer(view, self.caller.cluster, cluster, &service) {
                return Err(TIMEOUT.to_string());
            }
            if target_port(&service, *port).is_none() {
                return Err(REFUSED.to_string());
            }
            if gateway_pods(&view.clusters[cluster], &service).is_empty() {
                let (ns, name) = (meta(&service, "namespace"), meta(&service, "name"));
                return self.attempt_service(cluster, ns, name, *port, mtls);
            }
            return self.through_gateway(cluster, &service, *port, mtls, (host, host_port));
        }
        if let Some(endpoint) = pod_at(view, address) {
            let endpoint = Endpoint {
                port: *port,
                ..endpoint
            };
            return self.attempt_pod(&endpoint, Some(mtls), host);
        }
        Ok(Server::External {
            host: if host.is_empty() {
                address.clone()
            } else {
                host.to_string()
            },
        })
    }

    /// A name an endpoint gives (a ServiceEntry endpoint address), resolved by the DNS of
    /// `cluster`: one of its Services, or an outside host.
    fn attempt_name(
        &mut self,
        cluster: usize,
        name: &str,
        port: u16,
        mtls: bool,
    ) -> Result<Server, String> {
        match split_service_fqdn(name) {
            Some((namespace, service)) => {
                self.attempt_service(cluster, namespace, service, port, mtls)
            }
            None => Ok(Server::External {
                host: name.to_string(),
            }),
        }
    }

    /// A Service of `cluster` by its cluster IP: kube-proxy picks one of its ready pods.
    fn attempt_service(
        &mut self,
        cluster: usize,
        namespace: &str,
        name: &str,
        port: u16,
        mtls: bool,
    ) -> Result<Server, String> {
        let endpoints = local_endpoints(self.view, cluster, namespace, name, port);
        if endpoints.is_empty() {
            return Err(REFUSED.to_string());
        }
        let key = format!(
            "{}|kube-proxy|{}|{namespace}/{name}",
            self.key, self.view.clusters[cluster].name
        );
        let endpoint = &endpoints[self.draws.round_robin(&key, endpoints.len())];
        self.note(format!(
            "kube-proxy of {} sends it to {}",
            self.view.clusters[cluster].name,
            endpoint.describe(self.view)
        ));
        self.handshake(endpoint, mtls)?;
        Ok(pod_server(self.view, endpoint))
    }

    /// Through a gateway that passes mTLS through by SNI (`AUTO_PASSTHROUGH`) on `port`: the
    /// gateway's cluster routes `sni` (host and port) as its own registry, seen from the
    /// gateway's namespace, knows it.
    fn through_gateway(
        &mut self,
        cluster: usize,
        service: &Json,
        port: u16,
        mtls: bool,
        sni: (&str, u16),
    ) -> Result<Server, String> {
        let (host, host_port) = sni;
        let view = self.view;
        let c = &view.clusters[cluster];
        let gateway = format!("{}/{}", meta(service, "namespace"), meta(service, "name"));
        if !mtls {
            self.note(format!(
                "the gateway {gateway} of {} gets no Istio mTLS (no SNI to route by)",
                c.name
            ));
            return Err(TERMINATED.to_string());
        }
        let Some(passthrough) = passthrough_gateway(c, service, port, host) else {
            self.note(format!(
                "the gateway {gateway} of {} has no AUTO_PASSTHROUGH Gateway on {port} for {host}",
                c.name
            ));
            return Err(REFUSED.to_string());
        };
        self.note(format!(
            "through the gateway {gateway} of {} (Gateway {passthrough}) by SNI {host}",
            c.name
        ));
        let gateway_namespace = meta(service, "namespace").to_string();
        if let Some((namespace, name)) = split_service_fqdn(host) {
            return self.attempt_service(cluster, namespace, name, host_port, true);
        }
        let entry = c
            .objects
            .service_entries
            .iter()
            .filter(|e| exported_to(e, &gateway_namespace))
            .find(|e| {
                e["spec"]["hosts"]
                    .as_array()
                    .is_some_and(|h| h.iter().any(|h| h.as_str() == Some(host)))
            });
        let Some(entry) = entry else {
            self.note(format!("{} has no registry entry for {host}", c.name));
            return Err(TERMINATED.to_string());
        };
        let targets = entry_targets(entry, host, host_port);
        let Some((_, Target::Address { address, port })) = targets.into_iter().next() else {
            return Err(TERMINATED.to_string());
        };
        self.attempt_name(cluster, &address, port, true)
    }
}

/// The ports numbers a ports list declares under `field`.
fn ports_of(ports: &[Json], field: &str) -> Vec<u16> {
    ports
        .iter()
        .filter_map(|p| p[field].as_u64())
        .filter_map(|p| u16::try_from(p).ok())
        .collect()
}

/// The entry's port definition for `number`.
fn entry_port(entry: &Json, number: u16) -> Option<&Json> {
    entry["spec"]["ports"]
        .as_array()?
        .iter()
        .find(|p| p["number"].as_u64() == Some(u64::from(number)))
}

/// A ServiceEntry's endpoints for port `port` (with their labels): those it lists, else the
/// host itself for DNS resolution.
fn entry_targets(
    entry: &Json,
    host: &str,
    port: u16,
) -> Vec<(std::collections::BTreeMap<String, String>, Target)> {
    let port_name = entry_port(entry, port)
        .and_then(|p| p["name"].as_str())
        .unwrap_or_default()
        .to_string();
    let listed = entry["spec"]["endpoints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if listed.is_empty() {
        let resolution = entry["spec"]["resolution"].as_str().unwrap_or("NONE");
        return match resolution {
            "DNS" | "DNS_ROUND_ROBIN" | "NONE" => vec![(
                Default::default(),
                Target::Address {
                    address: host.to_string(),
                    port,
                },
            )],
            _ => Vec::new(),
        };
    }
    listed
        .iter()
        .filter_map(|e| {
            let address = e["address"].as_str()?.to_string();
            let port = e["ports"][&port_name]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(port);
            let labels =
                super::view::labels(&serde_json::json!({"metadata": {"labels": e["labels"]}}));
            Some((labels, Target::Address { address, port }))
        })
        .collect()
}
