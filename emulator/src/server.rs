//! The HTTP server: binds loopback, runs every request through authentication, api-version,
//! throttling and fault injection, then hands it to [`crate::arm`] or [`crate::keyvault`];
//! plus the `/_admin` endpoints tests and `mesh local` use, and ARM's `/metadata/endpoints`.
//!
//! With HTTPS on, the same port also answers plain HTTP. Stored URLs (a vault's URI) name the
//! canonical base URL (`https://...`); a request on a plain connection sees them, and the
//! operation URLs in headers, as `http://...`, and the URLs it sends are stored canonical.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

use crate::arm::{Ctx, Types};
use crate::limits::{Admission, Buckets, Draw, Fault, FaultState};
use crate::listener::Conn;
use crate::model::ArmId;
use crate::options::{EmulatorError, Faults, LocalCloudOptions, Throttle};
use crate::reply::Reply;
use crate::store::{now, Cloud, Persist};
use crate::types::ResourceBehavior;
use crate::urls::{localize, rebase, to_canonical};

/// A running local cloud on `127.0.0.1`. Dropping it stops the server too; [`shutdown`]
/// waits for it.
///
/// [`shutdown`]: LocalCloud::shutdown
pub struct LocalCloud {
    url: String,
    plain_url: String,
    ca_file: Option<std::path::PathBuf>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    moved_from: Option<String>,
}

/// Bind the listener. An explicit port is used as is. Otherwise a persisted cloud keeps its
/// port across runs (its stored URLs name it): the port it used last, or for a new data
/// directory one derived from the directory's path (20000-29999, below the usual ephemeral
/// range), then any free port.
async fn bind(
    port: u16,
    previous: Option<u16>,
    data_dir: Option<&std::path::Path>,
) -> Result<tokio::net::TcpListener, EmulatorError> {
    let mut candidates: Vec<u16> = Vec::new();
    if port == 0 {
        if let Some(dir) = data_dir {
            candidates.extend(previous);
            let path = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            // FNV-1a: stable across builds, unlike std's hasher.
            let hash = path
                .to_string_lossy()
                .bytes()
                .fold(0xcbf29ce484222325u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
                });
            candidates.extend((0..8).map(|i| 20000 + ((hash + i) % 10000) as u16));
        }
    }
    candidates.push(port);
    let mut last = None;
    for candidate in candidates {
        match tokio::net::TcpListener::bind(("127.0.0.1", candidate)).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(EmulatorError::Bind {
        port,
        source: last.unwrap_or_else(|| std::io::Error::other("no port to bind")),
    })
}

/// What every request handler shares.
pub(crate) struct Shared {
    pub(crate) cloud: Mutex<Cloud>,
    pub(crate) types: Types,
    /// The canonical base URL (stored URLs name it): `https://...` with HTTPS on.
    pub(crate) base_url: String,
    /// The base URL of plain connections: `http://...`.
    plain_url: String,
    pub(crate) time_factor: f64,
    pub(crate) persist: Persist,
    pub(crate) faults: Mutex<FaultState>,
    throttle: Mutex<Option<Buckets>>,
    /// Watches of the clusters' Kubernetes APIs, and the CA they are served with.
    pub(crate) kube: crate::kube::Hub,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl LocalCloud {
    /// The subscription the local cloud is meant to be used with (any other works too).
    pub const SUBSCRIPTION_ID: &'static str = "00000000-0000-0000-0000-000000000000";

    /// Start on a free loopback port, on the current tokio runtime.
    pub async fn start(options: LocalCloudOptions) -> Result<LocalCloud, EmulatorError> {
        LocalCloud::start_on_port(options, 0).await
    }

    /// Start on `127.0.0.1:port` (0: any free port).
    pub async fn start_on_port(
        options: LocalCloudOptions,
        port: u16,
    ) -> Result<LocalCloud, EmulatorError> {
        LocalCloud::start_with_types(options, port, Vec::new()).await
    }

    /// Start with behaviours of more ARM types besides [`crate::types::all`] (a behaviour for
    /// a type already there replaces it): for tests of ARM semantics with ad-hoc types.
    pub async fn start_with_types(
        options: LocalCloudOptions,
        port: u16,
        extra_types: Vec<Arc<dyn ResourceBehavior>>,
    ) -> Result<LocalCloud, EmulatorError> {
        let mut types = crate::types::all();
        for t in extra_types {
            types.insert(t.arm_type().to_ascii_lowercase(), t);
        }
        if options.tls.is_some() {
            crate::tls::seed_random_in_background();
        }
        let persist = Persist::new(options.data_dir.as_deref())?;
        // The TLS material and the stored cloud are independent: read them side by side.
        let (tls, cloud) = std::thread::scope(|scope| {
            let tls = scope.spawn(|| options.tls.as_ref().map(crate::tls::server_tls).transpose());
            let cloud = persist.load();
            let tls = tls.join().unwrap_or_else(|_| {
                Err(EmulatorError::Tls {
                    message: "setting up TLS failed unexpectedly".into(),
                })
            });
            (tls, cloud)
        });
        let (tls, mut cloud) = (tls?, cloud?);
        let listener = bind(port, cloud.port, options.data_dir.as_deref()).await?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind { port, source })?;
        let plain_url = format!("http://{addr}");
        let url = match tls {
            Some(_) => format!("https://{addr}"),
            None => plain_url.clone(),
        };
        let moved_from = rebase(&mut cloud, &url, addr.port());
        if options.data_dir.is_some() && (cloud.port != Some(addr.port()) || cloud.dirty) {
            cloud.port = Some(addr.port());
            cloud.dirty = true;
            persist.save(&mut cloud)?;
        }
        let ca_file = tls.as_ref().map(|t| t.ca_file.clone());
        let ca_pem = match &ca_file {
            Some(path) => {
                Some(
                    std::fs::read_to_string(path).map_err(|source| EmulatorError::Io {
                        what: "read",
                        path: path.clone(),
                        source,
                    })?,
                )
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            cloud: Mutex::new(cloud),
            types,
            base_url: url.clone(),
            plain_url: plain_url.clone(),
            time_factor: options.time_factor.max(0.0),
            persist,
            faults: Mutex::new(FaultState::new(options.faults)),
            throttle: Mutex::new(options.throttle.map(Buckets::new)),
            kube: crate::kube::Hub::new(ca_pem),
        });
        let app = Router::new()
            .route("/_admin/resources", get(admin_resources))
            .route("/_admin/reset", post(admin_reset))
            .route("/_admin/mutate", post(admin_mutate))
            .route("/_admin/exec", post(admin_exec))
            .route("/_admin/kubeconfig", get(admin_kubeconfig))
            .route("/_admin/faults", get(get_faults).post(set_faults))
            .route("/_admin/throttle", get(get_throttle).post(set_throttle))
            .fallback(serve)
            .with_state(shared.clone());
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let (incoming, accept) =
            crate::listener::accept_loop(listener, tls.map(|t| t.acceptor), cancel.clone());
        let task = tokio::spawn(async move {
            let serve = axum::serve(incoming, app.into_make_service_with_connect_info::<Conn>())
                .with_graceful_shutdown(async move { stop.cancelled().await });
            // The accept loop ends (closing the port) at once; the server when its open
            // requests are done.
            let _ = tokio::join!(accept, serve);
        });
        Ok(LocalCloud {
            url,
            plain_url,
            ca_file,
            shared,
            cancel,
            task: Some(task),
            moved_from,
        })
    }

    /// The URL the persisted cloud was served on before, when its port was taken and it had
    /// to move (stored URLs were rewritten; clients that kept the old ones must refresh).
    pub fn moved_from(&self) -> Option<&str> {
        self.moved_from.as_deref()
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`, or `https://127.0.0.1:41234` with HTTPS
    /// on.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The plain HTTP base URL (`http://127.0.0.1:PORT`), served with HTTPS on too.
    pub fn http_url(&self) -> String {
        self.plain_url.clone()
    }

    /// The CA certificate (PEM) that HTTPS clients must trust; `None` without HTTPS.
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.ca_file.as_deref()
    }

    /// Every stored resource ID (original case), sorted.
    pub fn resource_ids(&self) -> Vec<String> {
        let mut cloud = lock(&self.shared.cloud);
        cloud.settle(now());
        let _ = self.shared.persist.save(&mut cloud);
        let mut ids: Vec<String> = cloud
            .resources
            .values()
            .map(|e| e.resource.id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Change a resource behind its clients' backs, as someone else changing Azure would:
    /// no type validation, no operation. `request` is what `POST /_admin/mutate` takes:
    /// `{"id", "op": "delete"}`, `{"id", "op": "tag", "key", "value"}` or
    /// `{"id", "op": "set", "path": "properties.count", "value": 5}`. Deleting a resource
    /// deletes everything below it. The answer says what changed; an error is (status, message).
    ///
    /// An object of an AKS cluster's Kubernetes API is changed the same way, as someone with
    /// kubectl would (no authentication, no admission; a new resourceVersion, watch events):
    /// `{"op": "kube-patch", "cluster", "kind", "namespace", "name", "patch"}` with an RFC
    /// 6902 JSON patch (a list) or an RFC 7386 merge patch (an object; `"patchType": "json"
    /// | "merge"` to say which), or `{"op": "kube-delete", "cluster", "kind", "namespace",
    /// "name"}`. The cluster is named case-insensitively; the kind by kind, resource name or
    /// either qualified by group (`virtualservices.networking.istio.io`), optionally narrowed
    /// by `"apiVersion"`; the namespace defaults to `default`. A patch answers its
    /// `"changes"` (`{"path", "before", "after"}`), a delete the objects `"removed"` with it.
    pub fn mutate(&self, request: &Json) -> Result<Json, (u16, String)> {
        mutate(&self.shared, request)
    }

    /// Run a command in a pod of an AKS cluster, as `kubectl exec` would, through the mesh
    /// data plane the local cloud simulates ([`crate::dataplane`]): only `curl` runs. `request`
    /// is what `POST /_admin/exec` takes: `{"cluster", "namespace", "workload", "command":
    /// ["curl", ...]}`, with `"run": true` for a throwaway pod named `workload` (as `kubectl
    /// run`) and `"count": N` to run it N times. The answer names the `"cluster"` and `"pod"`
    /// and lists `"results"`: `{"stdout", "stderr", "exitCode"}` per run. An error is (status,
    /// message): no such cluster, or a malformed request.
    pub fn exec(&self, request: &Json) -> Result<Json, (u16, String)> {
        crate::dataplane::exec(&self.shared, request)
    }

    /// The admin kubeconfig of the AKS cluster named `cluster_name` (case-insensitive; the
    /// first by resource ID when several share the name), as `listClusterAdminCredential`
    /// gives it: its server is this cloud's Kubernetes API for the cluster. `None` when there
    /// is no such cluster or it has local accounts disabled.
    pub fn kubeconfig(&self, cluster_name: &str) -> Option<String> {
        crate::kube::admin_kubeconfig(&self.shared, cluster_name)
    }

    /// Replace the injected faults (the random sequence restarts from their seed).
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.shared.faults) = FaultState::new(faults);
    }

    /// Turn throttling on with fresh buckets, or off.
    pub fn set_throttle(&self, throttle: Option<Throttle>) {
        *lock(&self.shared.throttle) = throttle.map(Buckets::new);
    }

    /// Stop serving and wait (a few seconds at most) for open requests to finish.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        let mut cloud = lock(&self.shared.cloud);
        cloud.settle(now());
        let _ = self.shared.persist.save(&mut cloud);
    }
}

impl Drop for LocalCloud {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    };
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(name),
            HeaderValue::try_from(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

/// A body that fails at once: the client sees the connection break off mid-response.
pub(crate) struct Broken;

impl http_body::Body for Broken {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection dropped (injected fault)",
        ))))
    }
}

fn fault_reply(fault: Fault, retry_after_ms: u64) -> Response {
    let wait = retry_after_ms as f64 / 1000.0;
    let reply = match fault {
        Fault::Throttle => Reply::json(429, json!({"error": {"code": "TooManyRequests", "message": "Too many requests (injected fault). Retry after the time in the Retry-After header."}})).retry_after(wait),
        Fault::ServerError => Reply::json(500, json!({"error": {"code": "InternalServerError", "message": "Encountered internal server error (injected fault)."}})),
        Fault::Unavailable => Reply::json(503, json!({"error": {"code": "ServiceUnavailable", "message": "The service is temporarily unavailable (injected fault)."}})).retry_after(wait),
        Fault::Conflict => Reply::json(409, json!({"error": {"code": "Conflict", "message": "The request conflicts with another one (injected fault)."}})),
        Fault::Drop => {
            return Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(Body::new(Broken))
                .unwrap_or_default()
        }
    };
    into_response(reply)
}

fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        k.eq_ignore_ascii_case(name).then_some(v)
    })
}

fn bearer(headers: &HeaderMap) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer "))
}

async fn serve(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path().starts_with("/aks/") {
        return crate::kube::serve(shared, method, uri, headers, body).await;
    }
    // The URL this client knows the cloud by, when it is not the canonical one.
    let seen_as = (!conn.tls && shared.plain_url != shared.base_url).then_some(&shared.plain_url);
    let body = match seen_as {
        Some(here) => to_canonical(body, here, &shared.base_url),
        None => body,
    };
    let path = uri.path().to_string();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Clients that append the path to an endpoint ending in "/" send "//metadata/...".
    if method == Method::GET
        && parts.len() == 2
        && parts[0].eq_ignore_ascii_case("metadata")
        && parts[1].eq_ignore_ascii_case("endpoints")
    {
        return metadata_endpoints(&shared, conn, &uri);
    }
    let is_arm = parts[0].eq_ignore_ascii_case("subscriptions");
    let is_kv = parts[0] == "keyvault";
    if !is_arm && !is_kv {
        return into_response(Reply::json(
            404,
            json!({"error": {"code": "NotFound", "message": format!("The local cloud does not serve {path}.")}}),
        ));
    }
    let draw: Draw = lock(&shared.faults).draw(method.as_str(), &path);
    if let Some(delay) = draw.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(fault) = draw.fault {
        let retry = lock(&shared.faults).faults().retry_after_ms;
        return with_request_id(fault_reply(fault, retry));
    }
    let reply = if is_arm {
        serve_arm(&shared, &method, &uri, &headers, &parts, &body)
    } else {
        serve_keyvault(&shared, &method, &uri, &headers, &parts[1..], &body)
    };
    let reply = match seen_as {
        Some(here) => localize(reply, &shared.base_url, here),
        None => reply,
    };
    with_request_id(into_response(reply))
}

fn with_request_id(mut response: Response) -> Response {
    if let Ok(v) = HeaderValue::try_from(uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("x-ms-request-id", v);
    }
    response
}

fn serve_arm(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    parts: &[&str],
    body: &[u8],
) -> Reply {
    if !bearer(headers) {
        return Reply::json(401, json!({"error": {"code": "AuthenticationFailed", "message": "Authentication failed. The 'Authorization' header is missing."}}))
            .header("WWW-Authenticate", format!("Bearer authorization_uri=\"https://login.microsoftonline.com/{}\", error=\"invalid_token\"", crate::arm::TENANT_ID));
    }
    let Some(api_version) = query_param(uri, "api-version").filter(|v| !v.is_empty()) else {
        return Reply::json(
            400,
            json!({"error": {"code": "MissingApiVersionParameter", "message": "The api-version query parameter (?api-version=) is required for all requests."}}),
        );
    };
    let write = !matches!(*method, Method::GET | Method::HEAD);
    let subscription = parts.get(1).copied().unwrap_or_default();
    let now = now();
    let admitted = lock(&shared.throttle)
        .as_mut()
        .map(|b| b.take(subscription, write, now));
    let remaining_header = if write {
        "x-ms-ratelimit-remaining-subscription-writes"
    } else {
        "x-ms-ratelimit-remaining-subscription-reads"
    };
    let remaining = match admitted {
        Some(Admission::Throttled(wait)) => {
            let kind = if write { "write" } else { "read" };
            return Reply::json(429, json!({"error": {"code": "SubscriptionRequestsThrottled", "message": format!("Number of '{kind}' requests for subscription '{subscription}' exceeded. Please try again after '{}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling", wait.ceil() as u64)}}))
                .retry_after(wait)
                .header(remaining_header, "0");
        }
        Some(Admission::Admitted(left)) => Some(left),
        None => None,
    };
    let fail_operation = write
        && matches!(*method, Method::PUT | Method::PATCH | Method::DELETE)
        && lock(&shared.faults).fail_operation(method.as_str(), uri.path());
    let (reply, changed) = {
        let mut cloud = lock(&shared.cloud);
        cloud.settle(now);
        let mut ctx = Ctx {
            cloud: &mut cloud,
            types: &shared.types,
            base_url: &shared.base_url,
            time_factor: shared.time_factor,
            now,
            api_version,
            fail_operation,
        };
        let reply = crate::arm::handle(&mut ctx, method.as_str(), uri.path(), body);
        let reply = crate::kube::credentials_with_ca(uri.path(), reply, shared.kube.ca_pem());
        let changed = cloud.dirty;
        let reply = match shared.persist.save(&mut cloud) {
            Ok(()) => reply,
            Err(e) => Reply::json(
                500,
                json!({"error": {"code": "InternalServerError", "message": format!("The local cloud cannot save its data: {e}")}}),
            ),
        };
        (reply, changed)
    };
    if changed {
        // A cluster deleted (or changed) ends (or moves) watches of its Kubernetes API.
        shared.kube.notify();
    }
    match remaining {
        Some(left) => reply.header(remaining_header, left.to_string()),
        None => reply,
    }
}

fn serve_keyvault(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    parts: &[&str],
    body: &[u8],
) -> Reply {
    if !bearer(headers) {
        return crate::keyvault::challenge();
    }
    if query_param(uri, "api-version").is_none_or(str::is_empty) {
        return Reply::json(
            400,
            json!({"error": {"code": "BadParameter", "message": "The request URI must carry an api-version (e.g. ?api-version=7.5)."}}),
        );
    }
    let now = now();
    let mut cloud = lock(&shared.cloud);
    cloud.settle(now);
    let reply = crate::keyvault::handle(
        &mut cloud,
        &shared.base_url,
        now,
        method.as_str(),
        parts,
        body,
    );
    match shared.persist.save(&mut cloud) {
        Ok(()) => reply,
        Err(e) => Reply::json(
            500,
            json!({"error": {"code": "InternalError", "message": format!("The local cloud cannot save its data: {e}")}}),
        ),
    }
}

/// ARM's cloud metadata (no authentication, like ARM's), naming the URL this client used.
fn metadata_endpoints(shared: &Shared, conn: Conn, uri: &Uri) -> Response {
    let base = if conn.tls {
        &shared.base_url
    } else {
        &shared.plain_url
    };
    let Some(api_version) = query_param(uri, "api-version").filter(|v| !v.is_empty()) else {
        return into_response(Reply::json(
            400,
            json!({"error": {"code": "MissingApiVersionParameter", "message": "The api-version query parameter (?api-version=) is required for all requests."}}),
        ));
    };
    match crate::urls::metadata(base, api_version) {
        Ok(doc) => axum::Json(doc).into_response(),
        Err(reply) => into_response(reply),
    }
}

async fn admin_resources(State(shared): State<Arc<Shared>>) -> Response {
    let mut cloud = lock(&shared.cloud);
    cloud.settle(now());
    let _ = shared.persist.save(&mut cloud);
    let resources: Vec<Json> = cloud
        .resources
        .iter()
        .map(|(k, e)| {
            json!({
                "id": e.resource.id,
                "type": ArmId::parse(k).map(|id| id.arm_type()).unwrap_or_default(),
                "provisioningState": e.resource.body.pointer("/properties/provisioningState"),
            })
        })
        .collect();
    axum::Json(json!({ "resources": resources })).into_response()
}

async fn admin_reset(State(shared): State<Arc<Shared>>) -> Response {
    let mut cloud = lock(&shared.cloud);
    cloud.clear();
    shared.kube.notify();
    match shared.persist.save(&mut cloud) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn admin_mutate(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request = match serde_json::from_slice::<Json>(&body) {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("invalid request: {e}")).into_response()
        }
    };
    match mutate(&shared, &request) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err((status, message)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            message,
        )
            .into_response(),
    }
}

async fn admin_exec(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let request = match serde_json::from_slice::<Json>(&body) {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("invalid request: {e}")).into_response()
        }
    };
    match crate::dataplane::exec(&shared, &request) {
        Ok(answer) => axum::Json(answer).into_response(),
        Err((status, message)) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            message,
        )
            .into_response(),
    }
}

/// See [`LocalCloud::mutate`].
fn mutate(shared: &Shared, request: &Json) -> Result<Json, (u16, String)> {
    let field = |name: &str| request.get(name).and_then(Json::as_str);
    let op = field("op").ok_or((400, "the request needs an \"op\"".to_string()))?;
    if crate::kube::admin::OPS.contains(&op) {
        return crate::kube::admin::mutate(shared, request);
    }
    let id = field("id").ok_or((400, "the request needs an \"id\"".to_string()))?;
    let key = ArmId::parse(id)
        .map(|a| a.key())
        .ok_or((400, format!("{id} is not an ARM resource ID")))?;
    let mut cloud = lock(&shared.cloud);
    cloud.settle(now());
    let Some(entry) = cloud.resources.get(&key) else {
        return Err((404, format!("the local cloud has no resource {id}")));
    };
    let id = entry.resource.id.clone();
    let answer = match op {
        "delete" => {
            let mut removed = vec![id.clone()];
            for k in cloud.descendants(&key) {
                if let Some(e) = cloud.resources.get(&k) {
                    removed.push(e.resource.id.clone());
                }
            }
            cloud.remove_tree(&key);
            json!({"id": id, "op": "delete", "removed": removed})
        }
        "tag" | "set" => {
            let (path, value): (Vec<String>, Json) = if op == "tag" {
                let tag = field("key").ok_or((400, "a tag needs a \"key\"".to_string()))?;
                let value = request.get("value").cloned().unwrap_or(Json::Null);
                (vec!["tags".to_string(), tag.to_string()], value)
            } else {
                let path = field("path").ok_or((400, "set needs a \"path\"".to_string()))?;
                let path: Vec<String> = path.split('.').map(str::to_string).collect();
                if path.iter().any(String::is_empty) {
                    return Err((400, format!("invalid property path {:?}", field("path"))));
                }
                if matches!(path[0].as_str(), "id" | "name" | "type") {
                    return Err((400, format!("{} cannot be changed", path[0])));
                }
                (path, request.get("value").cloned().unwrap_or(Json::Null))
            };
            let Some(entry) = cloud.resources.get_mut(&key) else {
                return Err((404, format!("the local cloud has no resource {id}")));
            };
            let mut node = &mut entry.resource.body;
            for part in &path[..path.len() - 1] {
                let Some(obj) = node.as_object_mut() else {
                    return Err((400, format!("{} is not inside an object", path.join("."))));
                };
                let next = obj.entry(part.clone()).or_insert(Json::Null);
                if next.is_null() {
                    *next = json!({});
                }
                node = next;
            }
            let Some(obj) = node.as_object_mut() else {
                return Err((400, format!("{} is not inside an object", path.join("."))));
            };
            let last = path[path.len() - 1].clone();
            let before = obj.insert(last, value.clone()).unwrap_or(Json::Null);
            cloud.dirty = true;
            json!({"id": id, "op": op, "path": path.join("."), "before": before, "after": value})
        }
        other => {
            return Err((
                400,
                format!("unknown op {other:?} (delete, tag, set, kube-patch or kube-delete)"),
            ))
        }
    };
    shared
        .persist
        .save(&mut cloud)
        .map_err(|e| (500, format!("the local cloud cannot save its data: {e}")))?;
    shared.kube.notify();
    Ok(answer)
}

/// `GET /_admin/kubeconfig?cluster=NAME`: the cluster's admin kubeconfig (YAML), or 404 naming
/// the clusters there are.
async fn admin_kubeconfig(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let name = crate::kube::decode_query(query_param(&uri, "cluster").unwrap_or_default());
    if let Some(config) = crate::kube::admin_kubeconfig(&shared, &name) {
        return ([("content-type", "application/yaml")], config).into_response();
    }
    let names = crate::kube::cluster_names(&shared);
    let known = if names.is_empty() {
        "the local cloud has no AKS clusters".to_string()
    } else {
        format!("its clusters: {}", names.join(", "))
    };
    (
        StatusCode::NOT_FOUND,
        format!("the local cloud has no AKS cluster named {name:?} that gives an admin kubeconfig ({known})"),
    )
        .into_response()
}

async fn get_faults(State(shared): State<Arc<Shared>>) -> Response {
    let state = lock(&shared.faults);
    axum::Json(json!({"faults": state.faults(), "injected": state.injected()})).into_response()
}

async fn set_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            *lock(&shared.faults) = FaultState::new(faults);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("invalid faults: {e}")).into_response(),
    }
}

async fn get_throttle(State(shared): State<Arc<Shared>>) -> Response {
    let config = lock(&shared.throttle).as_ref().map(|b| b.config().clone());
    axum::Json(json!({ "throttle": config })).into_response()
}

async fn set_throttle(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Option<Throttle>>(&body) {
        Ok(t) => {
            *lock(&shared.throttle) = t.map(Buckets::new);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, format!("invalid throttle: {e}")).into_response(),
    }
}
