//! One call from a pod, start to end: the name resolved, then either the sidecar's path
//! ([`super::sidecar`]) or, for a pod without one, the plain Kubernetes path — the cluster IP
//! balanced by kube-proxy over the cluster's own ready pods. The outcome is what curl sees: an
//! HTTP response (with the pod that served it), or curl's own error.

use serde_json::Value as Json;

use super::caller::Caller;
use super::discovery::{local_endpoints, Endpoint};
use super::draws::Draws;
use super::network::{gateway_pods, reaches_load_balancer, routable, service_at, target_port};
use super::resolve::{resolve, Resolved};
use super::routing::RequestView;
use super::view::{label, meta, MeshView};

/// What curl asks for.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// `https://` (curl speaks TLS itself).
    pub https: bool,
    /// The host as written.
    pub host: String,
    /// The request.
    pub request: RequestView,
}

/// Who answered a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Server {
    /// A pod of a cluster of the local cloud.
    Pod {
        /// The AKS cluster.
        cluster: String,
        /// The pod's namespace.
        namespace: String,
        /// The pod.
        pod: String,
        /// Its workload (the Deployment, else the pod).
        workload: String,
        /// Its `app` label.
        app: Option<String>,
        /// Its `version` label (`latest` without one, as Istio names it).
        version: String,
    },
    /// A host outside the local cloud.
    External {
        /// The host.
        host: String,
    },
}

/// What curl sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// An HTTP response.
    Response {
        /// The status.
        status: u16,
        /// The body.
        body: String,
        /// Who served it, when an application did.
        server: Option<Server>,
        /// Whether a sidecar proxied it (Envoy's headers).
        proxied: bool,
    },
    /// curl's own failure: its exit code and message.
    CurlError {
        /// The exit code.
        code: i32,
        /// The message after `curl: (code) `.
        message: String,
    },
}

impl Outcome {
    /// A response a proxy made up (no application served it).
    pub fn proxy(status: u16, body: &str) -> Outcome {
        Outcome::Response {
            status,
            body: body.to_string(),
            server: None,
            proxied: true,
        }
    }
}

/// A call's outcome and how it got there.
pub(crate) struct Traced {
    /// The outcome.
    pub outcome: Outcome,
    /// What happened, step by step (curl -v shows it).
    pub trace: Vec<String>,
}

/// The server behind an endpoint.
pub(crate) fn pod_server(view: &MeshView, endpoint: &Endpoint) -> Server {
    let cluster = &view.clusters[endpoint.cluster];
    let pod = cluster.pod(&endpoint.namespace, &endpoint.pod);
    let workload = pod
        .and_then(|p| p["metadata"]["ownerReferences"][0]["name"].as_str())
        .map(|rs| match rs.rsplit_once('-') {
            Some((deployment, _)) => deployment.to_string(),
            None => rs.to_string(),
        })
        .unwrap_or_else(|| endpoint.pod.clone());
    Server::Pod {
        cluster: cluster.name.clone(),
        namespace: endpoint.namespace.clone(),
        pod: endpoint.pod.clone(),
        workload,
        app: pod.and_then(|p| label(p, "app")).map(str::to_string),
        version: pod
            .and_then(|p| label(p, "version"))
            .unwrap_or("latest")
            .to_string(),
    }
}

/// Make `call` from `caller`.
pub(crate) fn call(view: &MeshView, caller: &Caller, call: &Call, draws: &mut Draws<'_>) -> Traced {
    let mut trace = Vec::new();
    let Some(resolved) = resolve(view, caller, &call.host) else {
        trace.push(format!(
            "{} has no DNS answer in {}",
            call.host, caller.namespace
        ));
        return Traced {
            outcome: Outcome::CurlError {
                code: 6,
                message: format!("Could not resolve host: {}", call.host),
            },
            trace,
        };
    };
    trace.push(format!("{} resolves to {}", call.host, resolved.describe()));
    let has_istiod = view.clusters[caller.cluster].istiod().is_some();
    let outcome = if caller.sidecar() && has_istiod {
        super::sidecar::outbound(view, caller, call, resolved, draws, &mut trace)
    } else {
        trace.push(format!(
            "{} has no sidecar: plain Kubernetes networking",
            caller.name()
        ));
        plain(view, caller, call, resolved, draws, &mut trace)
    };
    Traced {
        outcome: finish(call, outcome),
        trace,
    }
}

/// curl's TLS against an application that speaks plain HTTP fails.
fn finish(call: &Call, outcome: Outcome) -> Outcome {
    let served_by_pod = matches!(
        &outcome,
        Outcome::Response {
            server: Some(Server::Pod { .. }),
            ..
        }
    );
    if call.https && served_by_pod {
        return Outcome::CurlError {
            code: 35,
            message: "OpenSSL/3.1.4: error:0A00010B:SSL routines::wrong version number".to_string(),
        };
    }
    outcome
}

/// The answer of a server to the call.
pub(crate) fn served(server: Server, proxied: bool) -> Outcome {
    Outcome::Response {
        status: 200,
        body: String::new(),
        server: Some(server),
        proxied,
    }
}

fn refused(call: &Call) -> Outcome {
    Outcome::CurlError {
        code: 7,
        message: format!(
            "Failed to connect to {} port {} after 0 ms: Couldn't connect to server",
            call.host, call.request.port
        ),
    }
}

/// A pod without a sidecar: cluster IPs go to the cluster's own ready pods, other addresses
/// straight to where they lead.
fn plain(
    view: &MeshView,
    caller: &Caller,
    call: &Call,
    resolved: Resolved,
    draws: &mut Draws<'_>,
    trace: &mut Vec<String>,
) -> Outcome {
    let port = call.request.port;
    let service = match &resolved {
        Resolved::Service {
            namespace, name, ..
        } => Some((namespace.clone(), name.clone())),
        Resolved::Address(ip) => view.clusters[caller.cluster]
            .objects
            .services
            .iter()
            .find(|s| s["spec"]["clusterIP"] == ip.as_str())
            .map(|s| {
                (
                    meta(s, "namespace").to_string(),
                    meta(s, "name").to_string(),
                )
            }),
        _ => None,
    };
    if let Some((namespace, name)) = service {
        let endpoints = local_endpoints(view, caller.cluster, &namespace, &name, port);
        if endpoints.is_empty() {
            trace.push(format!(
                "Service {namespace}/{name} has no ready endpoint on port {port} in this cluster"
            ));
            return refused(call);
        }
        let key = format!("{}|kube-proxy|{namespace}/{name}", caller.counter_key(view));
        let endpoint = &endpoints[draws.round_robin(&key, endpoints.len())];
        trace.push(format!(
            "kube-proxy sends it to {}",
            endpoint.describe(view)
        ));
        return served(pod_server(view, endpoint), false);
    }
    match resolved {
        Resolved::Address(address) => address_plain(view, caller, call, &address, draws, trace),
        Resolved::External { host } => served(Server::External { host }, false),
        _ => refused(call),
    }
}

/// A pod without a sidecar calls an address: a load balancer of the cloud, a pod, or the
/// outside world.
fn address_plain(
    view: &MeshView,
    caller: &Caller,
    call: &Call,
    address: &str,
    draws: &mut Draws<'_>,
    trace: &mut Vec<String>,
) -> Outcome {
    let port = call.request.port;
    if let Some((cluster, service)) = service_at(view, address) {
        if !reaches_load_balancer(view, caller.cluster, cluster, &service) {
            return Outcome::CurlError {
                code: 28,
                message: format!(
                    "Failed to connect to {address} port {port}: Connection timed out"
                ),
            };
        }
        if target_port(&service, port).is_none() {
            return refused(call);
        }
        if !gateway_pods(&view.clusters[cluster], &service).is_empty() {
            trace.push(format!(
                "{address} is the gateway {}/{} of {}: routing at gateways is not simulated",
                meta(&service, "namespace"),
                meta(&service, "name"),
                view.clusters[cluster].name
            ));
            return Outcome::proxy(404, "");
        }
        let (namespace, name) = (meta(&service, "namespace"), meta(&service, "name"));
        let endpoints = local_endpoints(view, cluster, namespace, name, port);
        if endpoints.is_empty() {
            return refused(call);
        }
        let key = format!("{}|lb|{address}", caller.counter_key(view));
        let endpoint = &endpoints[draws.round_robin(&key, endpoints.len())];
        return served(pod_server(view, endpoint), false);
    }
    if let Some(endpoint) = pod_at(view, address) {
        if !routable(view, caller.cluster, endpoint.cluster) {
            return Outcome::CurlError {
                code: 28,
                message: format!(
                    "Failed to connect to {address} port {port}: Connection timed out"
                ),
            };
        }
        return served(pod_server(view, &endpoint), false);
    }
    served(
        Server::External {
            host: address.to_string(),
        },
        false,
    )
}

/// The pod with IP `address`, in any cluster.
pub(crate) fn pod_at(view: &MeshView, address: &str) -> Option<Endpoint> {
    view.clusters.iter().enumerate().find_map(|(index, c)| {
        let pod: &Json = c
            .objects
            .pods
            .iter()
            .find(|p| p["status"]["podIP"] == address)?;
        Some(Endpoint {
            cluster: index,
            namespace: meta(pod, "namespace").to_string(),
            pod: meta(pod, "name").to_string(),
            port: 0,
            labels: super::view::labels(pod),
            sidecar: super::view::has_proxy(pod),
            via: None,
        })
    })
}
