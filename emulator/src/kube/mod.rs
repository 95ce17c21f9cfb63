//! A Kubernetes API for every AKS cluster of the local cloud, at `{base_url}/aks/{cluster}`
//! (where the cluster's kubeconfig points), so that kubectl and kube-rs work against a
//! simulated cluster.
//!
//! Clusters are found by name, case-insensitively; when two clusters (in different resource
//! groups) share a name, the first by resource ID is served. A request needs
//! `Authorization: Bearer` with the cluster's admin or user token (from its kubeconfig) or a
//! service-account token the cluster issued; there is no RBAC: every authenticated request
//! may do everything. While the cluster is not provisioningState Succeeded the API answers
//! 503.
//!
//! The pieces: the kinds served ([`kinds`]: built-in table plus CRDs), the per-cluster object
//! store persisted with the rest of the cloud ([`objects`]), write semantics ([`writes`]),
//! the verbs ([`verbs`]) with server-side apply ([`apply`]) and patches ([`patch`]), watches
//! ([`watch`]), discovery ([`discovery`]), and what the control plane does by itself
//! ([`controllers`]). A cluster's objects are made on first use and deleted with the cluster.
//! [`admin`] changes objects behind the clients' backs, for `/_admin/mutate`.

pub(crate) mod admin;
mod apply;
pub(crate) mod cluster;
pub(crate) mod controllers;
mod discovery;
mod faults;
mod kinds;
pub(crate) mod objects;
mod patch;
mod path;
mod selectors;
mod status;
mod table;
mod verbs;
mod watch;
mod writes;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;

use cluster::with_certificate_authority;
pub(crate) use objects::ClusterObjects;
pub(crate) use path::decode as decode_query;

use crate::arm::Types;
use crate::reply::Reply;
use crate::server::{lock, Shared};
use crate::store::{now, Cloud};
use cluster::ClusterCtx;
use path::{Query, Route};
use status::KubeError;

/// What the Kubernetes APIs need from the server.
pub(crate) struct Env<'a> {
    /// Resource behaviours (for a cluster's view and credentials).
    pub types: &'a Types,
    /// The canonical base URL.
    pub base_url: &'a str,
    /// Simulated latency factor.
    pub time_factor: f64,
    /// The CA clients trust, with HTTPS on.
    pub ca_pem: Option<&'a str>,
}

/// Change notifications for watches, and the CA: kept by the server for the Kubernetes APIs.
pub(crate) struct Hub {
    changes: tokio::sync::watch::Sender<u64>,
    ca_pem: Option<String>,
}

impl Hub {
    /// A hub for a server whose clients trust `ca_pem`.
    pub fn new(ca_pem: Option<String>) -> Hub {
        Hub {
            changes: tokio::sync::watch::Sender::new(0),
            ca_pem,
        }
    }

    /// Wake the watches: something may have changed.
    pub fn notify(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The CA PEM, with HTTPS on.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }
}

/// The environment of the Kubernetes APIs (also what the mesh data plane reads clusters with).
pub(crate) fn env(shared: &Shared) -> Env<'_> {
    Env {
        types: &shared.types,
        base_url: &shared.base_url,
        time_factor: shared.time_factor,
        ca_pem: shared.kube.ca_pem(),
    }
}

/// The admin kubeconfig of the cluster named `name` (see [`crate::LocalCloud::kubeconfig`]).
pub(crate) fn admin_kubeconfig(shared: &Shared, name: &str) -> Option<String> {
    let cloud = lock(&shared.cloud);
    let key = cluster::find(&cloud, name)?;
    cluster::kubeconfig(&cloud, &env(shared), &key, true)
}

/// The names of the clusters the local cloud has.
pub(crate) fn cluster_names(shared: &Shared) -> Vec<String> {
    cluster::names(&lock(&shared.cloud))
}

fn respond(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply.body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    }
}

fn error_reply(e: &KubeError) -> Reply {
    Reply::json(e.code, e.to_status())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Settle ARM operations and the controllers of every cluster.
pub(crate) fn settle(cloud: &mut Cloud, shared: &Shared, now: f64) -> bool {
    cloud.settle(now);
    controllers::settle(cloud, &env(shared), now)
}

/// Find, authenticate and prepare the cluster named `name`: its key and facts.
fn open(
    cloud: &mut Cloud,
    shared: &Shared,
    name: &str,
    token: Option<&str>,
    now: f64,
) -> Result<(String, ClusterCtx), KubeError> {
    let env = env(shared);
    let key = cluster::find(cloud, name).ok_or_else(|| {
        KubeError::no_route(&format!("the local cloud has no AKS cluster named {name}"))
    })?;
    let ctx = cluster::context(cloud, &env, &key, now)
        .ok_or_else(|| KubeError::internal("the cluster cannot be read"))?;
    let token = token.ok_or_else(KubeError::unauthorized)?;
    let static_token = cluster::is_static_token(cloud, &key, token);
    let service_account = || {
        cloud
            .kube
            .get(&key)
            .and_then(|objects| controllers::verify_token(objects, token, now))
            .is_some()
    };
    if !static_token && !service_account() {
        return Err(KubeError::unauthorized());
    }
    if ctx.provisioning_state != "Succeeded" {
        return Err(KubeError::unavailable(format!(
            "the cluster {} is {}: its API serves once it has Succeeded",
            ctx.name, ctx.provisioning_state
        )));
    }
    cluster::ensure(cloud, &ctx, &key)?;
    Ok((key, ctx))
}

/// Serve one request under `/aks/`.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let rest = path
        .trim_start_matches('/')
        .strip_prefix("aks/")
        .unwrap_or("");
    let (name, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let name = path::decode(name);
    let route = path::route(rest);
    if route == Route::Health {
        return (StatusCode::OK, "ok").into_response();
    }
    let query = Query::parse(uri.query());
    let token = bearer(&headers);
    let watching = query.watch && method == Method::GET;
    if !watching {
        if let Some(response) = faults::injected(&shared, &method, &path).await {
            return response;
        }
    }
    if let (Route::Object(object), true, "GET") = (&route, query.watch, method.as_str()) {
        let request = watch::WatchRequest {
            cluster: name,
            path: object.clone(),
            query,
            token,
            request_path: path,
        };
        return watch::serve(shared, request).await;
    }
    let request = Request {
        method: method.as_str(),
        query: &query,
        content_type: header(&headers, "content-type"),
        accept: header(&headers, "accept"),
        body: &body,
    };
    let (reply, changed) = answer(&shared, &name, token.as_deref(), &route, &request, &path);
    if changed {
        shared.kube.notify();
    }
    let mut response = respond(reply);
    if let Ok(v) = HeaderValue::try_from(uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("audit-id", v);
    }
    response
}

/// Answer a request (not a watch) under the lock: the reply, and whether the cloud changed.
fn answer(
    shared: &Shared,
    name: &str,
    token: Option<&str>,
    route: &Route,
    request: &Request<'_>,
    path: &str,
) -> (Reply, bool) {
    let mut cloud = lock(&shared.cloud);
    let now = now();
    settle(&mut cloud, shared, now);
    let result = open(&mut cloud, shared, name, token, now).and_then(|(key, ctx)| {
        let objects = cloud
            .kube
            .get_mut(&key)
            .ok_or_else(|| KubeError::internal("the cluster has no objects"))?;
        let before = objects.revision;
        let reply = dispatch(objects, &ctx, route, request, path);
        if objects.revision != before {
            cloud.dirty = true;
        }
        reply
    });
    let reply = result.unwrap_or_else(|e| error_reply(&e));
    let changed = cloud.dirty;
    match shared.persist.save(&mut cloud) {
        Ok(()) => (reply, changed),
        Err(e) => {
            let message = format!("the local cloud cannot save its data: {e}");
            (error_reply(&KubeError::internal(message)), changed)
        }
    }
}

/// A request, apart from its route.
struct Request<'a> {
    method: &'a str,
    query: &'a Query,
    content_type: &'a str,
    accept: &'a str,
    body: &'a [u8],
}

fn dispatch(
    objects: &mut ClusterObjects,
    ctx: &ClusterCtx,
    route: &Route,
    request: &Request<'_>,
    request_path: &str,
) -> Result<Reply, KubeError> {
    let ok = |doc: Json| Ok(Reply::json(200, doc));
    match route {
        Route::Object(object) => {
            let req = verbs::Request {
                method: request.method,
                path: object,
                query: request.query,
                content_type: request.content_type,
                accept: request.accept,
                body: request.body,
            };
            verbs::handle(objects, ctx, &req, request_path)
        }
        Route::Unknown => Err(KubeError::no_route(request_path)),
        other => {
            if request.method != "GET" {
                return Err(KubeError::method_not_allowed(request.method));
            }
            match other {
                Route::Version => ok(discovery::version(ctx)),
                Route::CoreVersions => ok(discovery::core_versions(ctx)),
                Route::Groups => ok(discovery::groups(objects)),
                Route::Group(g) => ok(discovery::group(objects, g, request_path)?),
                Route::Resources { group, version } => {
                    ok(discovery::resources(objects, group, version, request_path)?)
                }
                Route::OpenApiV3 => ok(discovery::openapi_root(objects, ctx)),
                Route::OpenApiV3Group { group, version } => ok(discovery::openapi_group_doc(
                    objects,
                    group,
                    version,
                    request_path,
                )?),
                _ => Err(KubeError::no_route(request_path)),
            }
        }
    }
}

/// A `listCluster{Admin,User}Credential` answer whose kubeconfigs trust `ca_pem` (HTTPS on):
/// other replies unchanged.
pub(crate) fn credentials_with_ca(path: &str, mut reply: Reply, ca_pem: Option<&str>) -> Reply {
    use base64::Engine as _;
    let Some(ca) = ca_pem else {
        return reply;
    };
    let lower = path.to_ascii_lowercase();
    let credentials = lower.ends_with("/listclusteradmincredential")
        || lower.ends_with("/listclusterusercredential");
    if !credentials || reply.status != 200 {
        return reply;
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let configs = reply
        .body
        .as_mut()
        .and_then(|b| b.get_mut("kubeconfigs"))
        .and_then(Json::as_array_mut);
    for entry in configs.into_iter().flatten() {
        let Some(text) = entry
            .get("value")
            .and_then(Json::as_str)
            .and_then(|v| engine.decode(v).ok())
            .and_then(|b| String::from_utf8(b).ok())
        else {
            continue;
        };
        entry["value"] = Json::String(engine.encode(with_certificate_authority(&text, ca)));
    }
    reply
}
