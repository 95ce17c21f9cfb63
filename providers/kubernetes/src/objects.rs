//! Kubernetes objects as JSON: naming them, applying them with server-side apply, reading them
//! back and deleting them, on one cluster.
//!
//! Kinds are resolved through discovery, so custom resources work like built-in ones; a kind
//! that is not served yet (its CRD is being created by another resource of the same apply) is
//! waited for, up to [`CRD_WAIT`]. Reads remember the kinds they found served ([`ServedKinds`],
//! one per cluster and run), so that reading an object is one request rather than two.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::{ApiCapabilities, Scope};
use kube::{Api, Client};
use mesh_engine::provider::ProviderError;
use serde_json::Value as Json;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

/// How long a custom resource waits for its kind to be served.
pub const CRD_WAIT: Duration = Duration::from_secs(180);
/// How long a delete waits for the object to be gone (finalizers, namespace termination).
pub const DELETE_WAIT: Duration = Duration::from_secs(600);
/// Attempts for calls that fail in a way worth retrying (5xx, 429, 409 races, connection
/// errors): with pauses doubling from 200 ms up to 5 s, about 40 s in all before giving up, so
/// an API server restarting or shedding load is waited out.
const ATTEMPTS: u32 = 12;
/// Reads in flight at once on one cluster ([`ClusterShare`]).
pub const READS_IN_FLIGHT: usize = 4;

/// The identity of an object: what a manifest names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// `v1`, `apps/v1`, `networking.istio.io/v1beta1`...
    pub api_version: String,
    /// `Deployment`, `VirtualService`...
    pub kind: String,
    /// The namespace as written (`None`: cluster-scoped, or the default namespace).
    pub namespace: Option<String>,
    /// metadata.name.
    pub name: String,
}

impl ObjectKey {
    /// The key of a manifest; an error says what is missing.
    pub fn of(object: &Json) -> Result<ObjectKey, String> {
        let text = |pointer: &str| object.pointer(pointer).and_then(Json::as_str);
        let api_version = text("/apiVersion").ok_or("the object has no apiVersion")?;
        let kind = text("/kind").ok_or("the object has no kind")?;
        let name = text("/metadata/name")
            .filter(|n| !n.is_empty())
            .ok_or_else(|| format!("the {kind} has no metadata.name"))?;
        Ok(ObjectKey {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            namespace: text("/metadata/namespace").map(str::to_string),
            name: name.to_string(),
        })
    }

    /// `Deployment istio-system/istiod`.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// A stable key for state maps: `apps/v1/Deployment/istio-system/istiod`.
    pub fn state_key(&self) -> String {
        let ns = self.namespace.as_deref().unwrap_or("_");
        format!("{}/{}/{ns}/{}", self.api_version, self.kind, self.name)
    }

    fn gvk(&self) -> GroupVersionKind {
        let (group, version) = match self.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", self.api_version.as_str()),
        };
        GroupVersionKind::gvk(group, version, &self.kind)
    }
}

/// What the object operations on one cluster share for a run: the kinds discovery found served
/// there, and a bound on the reads in flight.
///
/// Only kinds found served are kept, so a custom resource whose CRD is not there yet is still
/// waited for; a kind that stops being served makes reads of its objects answer 404, which is
/// read as gone, as a discovery that no longer finds the kind is. The bound keeps concurrent
/// reads from opening a connection (and a TLS handshake) each.
#[derive(Clone)]
pub struct ClusterShare {
    /// One cell per kind, so that concurrent first reads of a kind discover it once.
    kinds: Arc<Mutex<HashMap<GroupVersionKind, Arc<OnceCell<ServedKind>>>>>,
    reads: Arc<tokio::sync::Semaphore>,
}

/// A kind as discovery found it served.
type ServedKind = (ApiResource, ApiCapabilities);

impl Default for ClusterShare {
    fn default() -> ClusterShare {
        ClusterShare {
            kinds: Arc::default(),
            reads: Arc::new(tokio::sync::Semaphore::new(READS_IN_FLIGHT)),
        }
    }
}

impl ClusterShare {
    fn kind(&self, gvk: &GroupVersionKind) -> Arc<OnceCell<ServedKind>> {
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        kinds.entry(gvk.clone()).or_default().clone()
    }
}

/// Object operations on one cluster.
#[derive(Clone)]
pub struct ClusterObjects {
    client: Client,
    what: String,
    share: ClusterShare,
}

impl ClusterObjects {
    /// Operations through `client`; `what` names the cluster in messages.
    pub fn new(client: Client, what: impl Into<String>) -> ClusterObjects {
        ClusterObjects::sharing(client, what, ClusterShare::default())
    }

    /// [`ClusterObjects::new`], sharing what other operations on the cluster found out.
    pub fn sharing(client: Client, what: impl Into<String>, share: ClusterShare) -> ClusterObjects {
        ClusterObjects {
            client,
            what: what.into(),
            share,
        }
    }

    /// The kube client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Server-side apply `object` as `field_manager` (forcing conflicts: mesh owns what it
    /// declares); returns the object as the server stored it.
    pub async fn apply(
        &self,
        object: &Json,
        field_manager: &str,
        cancel: &CancellationToken,
    ) -> Result<Json, ProviderError> {
        let key = ObjectKey::of(object).map_err(ProviderError::new)?;
        let (api, scope) = self.api(&key, cancel).await?;
        let mut object = object.clone();
        if matches!(scope, Scope::Cluster) {
            // A cluster-scoped object has no namespace, whatever a manifest says.
            if let Some(meta) = object.get_mut("metadata").and_then(Json::as_object_mut) {
                meta.remove("namespace");
            }
        }
        let dynamic: DynamicObject = serde_json::from_value(object).map_err(|e| {
            ProviderError::new(format!("{} is not a valid object: {e}", key.describe()))
        })?;
        let params = PatchParams::apply(field_manager).force();
        let patch = Patch::Apply(&dynamic);
        let applied = self
            .retrying(&key, "apply", || api.patch(&key.name, &params, &patch))
            .await?;
        to_json(applied)
    }

    /// The object, or `None` when it (or its kind) does not exist.
    pub async fn get(&self, key: &ObjectKey) -> Result<Option<Json>, ProviderError> {
        // Never closed, so acquiring cannot fail.
        let _permit = self.share.reads.acquire().await.ok();
        let Some((api, _)) = self.api_for_read(key).await? else {
            return Ok(None);
        };
        let found = self
            .retrying(key, "read", || api.get_opt(&key.name))
            .await?;
        found.map(to_json).transpose()
    }

    /// Every object of `keys` ([`ClusterObjects::get`]), in that order, read concurrently
    /// (within the cluster's bound). On failures, the error of the first failing key.
    pub async fn get_all(&self, keys: &[ObjectKey]) -> Result<Vec<Option<Json>>, ProviderError> {
        let mut reads = tokio::task::JoinSet::new();
        for (index, key) in keys.iter().enumerate() {
            let (objects, key) = (self.clone(), key.clone());
            reads.spawn(async move { (index, objects.get(&key).await) });
        }
        let mut results: Vec<Option<Result<Option<Json>, ProviderError>>> =
            keys.iter().map(|_| None).collect();
        while let Some(joined) = reads.join_next().await {
            let (index, result) = joined.map_err(|e| {
                ProviderError::new(format!("a read on {} did not finish: {e}", self.what))
            })?;
            results[index] = Some(result);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ProviderError::new("a read was lost"))))
            .collect()
    }

    /// Delete the object and wait until it is gone. Succeeds when it is already gone.
    pub async fn delete(
        &self,
        key: &ObjectKey,
        cancel: &CancellationToken,
    ) -> Result<(), ProviderError> {
        let Some((api, _)) = self.api_if_served(key).await? else {
            return Ok(());
        };
        let params = DeleteParams::background();
        let deleted = self
            .retrying(key, "delete", || async {
                match api.delete(&key.name, &params).await {
                    Ok(_) => Ok(()),
                    Err(e) if is_not_found(&e) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await;
        deleted?;
        let waiting = format!("{} to be deleted", key.describe());
        let gone = poll(DELETE_WAIT, cancel, &waiting, || async {
            Ok(self.get(key).await?.is_none())
        })
        .await?;
        if !gone {
            return Err(ProviderError::new(format!(
                "{} on {} was still there {} s after it was deleted",
                key.describe(),
                self.what,
                DELETE_WAIT.as_secs()
            )));
        }
        Ok(())
    }

    async fn api(
        &self,
        key: &ObjectKey,
        cancel: &CancellationToken,
    ) -> Result<(Api<DynamicObject>, Scope), ProviderError> {
        if let Some(api) = self.api_if_served(key).await? {
            return Ok(api);
        }
        // A custom resource whose CRD another resource is creating: wait for the kind.
        let waiting = format!(
            "the kind {} of {} to be served ({} on {})",
            key.kind,
            key.api_version,
            key.describe(),
            self.what
        );
        let served = poll(CRD_WAIT, cancel, &waiting, || async {
            Ok(self.api_if_served(key).await?.is_some())
        })
        .await?;
        let found = if served {
            self.api_if_served(key).await?
        } else {
            None
        };
        found.ok_or_else(|| {
            ProviderError::new(format!(
                "{} on {}: the kind {} is not served by {} (is its CustomResourceDefinition installed?)",
                key.describe(),
                self.what,
                key.kind,
                key.api_version
            ))
        })
    }

    async fn api_if_served(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<(Api<DynamicObject>, Scope)>, ProviderError> {
        let Some((resource, capabilities)) = self.resolve(key).await? else {
            return Ok(None);
        };
        Ok(Some(self.api_with(key, &resource, &capabilities)))
    }

    /// [`ClusterObjects::api_if_served`] through the discovery cache: for reads, where a kind
    /// gone since it was cached answers 404 like its objects would.
    async fn api_for_read(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<(Api<DynamicObject>, Scope)>, ProviderError> {
        let cell = self.share.kind(&key.gvk());
        // Not served is an "error" here only so that it is not kept: asked again next time.
        let found = cell
            .get_or_try_init(|| async {
                match self.resolve(key).await {
                    Ok(Some(found)) => Ok(found),
                    Ok(None) => Err(None),
                    Err(e) => Err(Some(e)),
                }
            })
            .await;
        match found {
            Ok((resource, capabilities)) => Ok(Some(self.api_with(key, resource, capabilities))),
            Err(None) => Ok(None),
            Err(Some(e)) => Err(e),
        }
    }

    fn api_with(
        &self,
        key: &ObjectKey,
        resource: &ApiResource,
        capabilities: &ApiCapabilities,
    ) -> (Api<DynamicObject>, Scope) {
        let api = match capabilities.scope {
            Scope::Cluster => Api::all_with(self.client.clone(), resource),
            Scope::Namespaced => {
                let ns = key.namespace.as_deref().unwrap_or("default");
                Api::namespaced_with(self.client.clone(), ns, resource)
            }
        };
        (api, capabilities.scope.clone())
    }

    async fn resolve(
        &self,
        key: &ObjectKey,
    ) -> Result<Option<(ApiResource, ApiCapabilities)>, ProviderError> {
        let gvk = key.gvk();
        let found = self
            .retrying(key, "discover", || async {
                match kube::discovery::pinned_kind(&self.client, &gvk).await {
                    Ok(found) => Ok(Some(found)),
                    Err(e) if is_not_found(&e) || is_kind_missing(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        if let Some(found) = &found {
            // Set unless a concurrent discovery got there first (with the same answer).
            let _ = self.share.kind(&gvk).set(found.clone());
        }
        Ok(found)
    }

    async fn retrying<T, F, Fut>(
        &self,
        key: &ObjectKey,
        verb: &str,
        mut call: F,
    ) -> Result<T, ProviderError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, kube::Error>>,
    {
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=ATTEMPTS {
            match call().await {
                Ok(value) => return Ok(value),
                Err(e) if attempt < ATTEMPTS && is_retryable(&e) => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(self.error(key, verb, &e)),
            }
        }
        unreachable!("the last attempt returns")
    }

    fn error(&self, key: &ObjectKey, verb: &str, e: &kube::Error) -> ProviderError {
        let detail = match e {
            kube::Error::Api(status) => format!("{} ({})", status.message, status.reason),
            other => other.to_string(),
        };
        ProviderError {
            message: format!(
                "cannot {verb} {} on {}: {detail}",
                key.describe(),
                self.what
            ),
            attribute: None,
            retryable: is_retryable(e),
        }
    }
}

/// Call `check` until it returns true, with growing pauses, until `limit` passes (Ok(false))
/// or `cancel` fires (an error saying what was awaited: `waiting`).
pub async fn poll<F, Fut>(
    limit: Duration,
    cancel: &CancellationToken,
    waiting: &str,
    mut check: F,
) -> Result<bool, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, ProviderError>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut pause = Duration::from_millis(50);
    loop {
        if check().await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = cancel.cancelled() => {
                return Err(ProviderError::new(format!("interrupted while waiting for {waiting}")))
            }
        }
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

fn to_json(object: DynamicObject) -> Result<Json, ProviderError> {
    serde_json::to_value(object)
        .map_err(|e| ProviderError::new(format!("cannot encode an object: {e}")))
}

fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    status_code(e) == Some(404)
}

fn is_kind_missing(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Discovery(_))
}

fn is_retryable(e: &kube::Error) -> bool {
    // A 409 Conflict ("the object has been modified") is an optimistic-concurrency race that
    // the same request wins once the other write is done (mesh applies server-side, without a
    // resourceVersion); AlreadyExists and field-manager conflicts are also 409 but not races.
    if let kube::Error::Api(status) = e {
        if status.code == 409 {
            let field_managers = status
                .details
                .as_ref()
                .is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict"));
            return status.reason == "Conflict" && !field_managers;
        }
    }
    match status_code(e) {
        Some(code) => code == 429 || code >= 500,
        None => matches!(
            e,
            kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::HttpError(_)
        ),
    }
}

/// The part of `live` that `desired` declares: maps keep only the keys `desired` has, lists
/// are compared element by element. Comparing this with `desired` ignores what the server
/// adds (defaults, status, metadata it manages) and still shows every managed field that
/// changed or went missing.
pub fn project(live: &Json, desired: &Json) -> Json {
    let mut projected = project_value(live, desired);
    // The server drops the namespace of a cluster-scoped object: not a difference.
    let declared_ns = desired.pointer("/metadata/namespace");
    let live_ns = live.pointer("/metadata/namespace");
    if let (Some(ns), None, Some(meta)) = (
        declared_ns,
        live_ns,
        projected.get_mut("metadata").and_then(Json::as_object_mut),
    ) {
        meta.insert("namespace".into(), ns.clone());
    }
    projected
}

fn project_value(live: &Json, desired: &Json) -> Json {
    match (live, desired) {
        (Json::Object(live), Json::Object(desired)) => Json::Object(
            desired
                .iter()
                .filter_map(|(k, d)| live.get(k).map(|l| (k.clone(), project_value(l, d))))
                .collect(),
        ),
        (Json::Array(live), Json::Array(desired)) => Json::Array(
            live.iter()
                .enumerate()
                .map(|(i, l)| match desired.get(i) {
                    Some(d) => project_value(l, d),
                    None => l.clone(),
                })
                .collect(),
        ),
        (Json::Number(l), Json::Number(d)) if l.as_f64() == d.as_f64() => Json::Number(d.clone()),
        (Json::String(l), Json::Number(d)) if l == &d.to_string() => Json::Number(d.clone()),
        (Json::Number(l), Json::String(d)) if d == &l.to_string() => Json::String(d.clone()),
        _ => live.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api_error(code: u16, reason: &str, causes: &[&str]) -> kube::Error {
        let details = kube::core::response::StatusDetails {
            name: "x".into(),
            group: String::new(),
            kind: "configmaps".into(),
            uid: String::new(),
            causes: causes
                .iter()
                .map(|reason| kube::core::response::StatusCause {
                    reason: reason.to_string(),
                    message: String::new(),
                    field: String::new(),
                })
                .collect(),
            retry_after_seconds: 0,
        };
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            reason: reason.into(),
            details: Some(details),
            ..Default::default()
        }))
    }

    #[test]
    fn races_and_server_trouble_are_retried_field_manager_conflicts_are_not() {
        assert!(is_retryable(&api_error(409, "Conflict", &[])));
        assert!(is_retryable(&api_error(503, "ServiceUnavailable", &[])));
        assert!(is_retryable(&api_error(429, "TooManyRequests", &[])));
        assert!(!is_retryable(&api_error(409, "AlreadyExists", &[])));
        assert!(!is_retryable(&api_error(
            409,
            "Conflict",
            &["FieldManagerConflict"]
        )));
        assert!(!is_retryable(&api_error(404, "NotFound", &[])));
    }

    /// A scripted API server on loopback (plain HTTP): serves `v1` ConfigMaps `c1`, `c2`
    /// and `example.com/v1` Widget `w1` in namespace `a`; `missing.io/v1` is not served.
    /// Counts the requests of every path.
    async fn scripted_api() -> (Client, Arc<Mutex<HashMap<String, usize>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let counts = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let counts = counts.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match conn.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buffer[..end]).to_string();
                        buffer.drain(..end + 4);
                        let path = head.split(' ').nth(1).unwrap_or("").to_string();
                        let path = path.split('?').next().unwrap_or("").to_string();
                        *counts.lock().unwrap().entry(path.clone()).or_default() += 1;
                        let (status, body) = answer(&path);
                        let reply = format!(
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if conn.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let config = kube::Config::new(url.parse().unwrap());
        (Client::try_from(config).unwrap(), seen)
    }

    fn answer(path: &str) -> (&'static str, String) {
        let resources = |group_version: &str, name: &str, kind: &str| {
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                "resources": [{"name": name, "singularName": "", "namespaced": true,
                    "kind": kind, "verbs": ["get", "list"]}]})
        };
        let object = |api_version: &str, kind: &str, name: &str| {
            json!({"apiVersion": api_version, "kind": kind,
                "metadata": {"name": name, "namespace": "a"}, "data": {"k": name}})
        };
        let found = match path {
            "/api/v1" => resources("v1", "configmaps", "ConfigMap"),
            "/apis/example.com/v1" => resources("example.com/v1", "widgets", "Widget"),
            "/api/v1/namespaces/a/configmaps/c1" => object("v1", "ConfigMap", "c1"),
            "/api/v1/namespaces/a/configmaps/c2" => object("v1", "ConfigMap", "c2"),
            "/apis/example.com/v1/namespaces/a/widgets/w1" => {
                object("example.com/v1", "Widget", "w1")
            }
            _ => {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "reason": "NotFound", "code": 404, "message": "not found"});
                return ("404 Not Found", status.to_string());
            }
        };
        ("200 OK", found.to_string())
    }

    fn key(api_version: &str, kind: &str, name: &str) -> ObjectKey {
        ObjectKey {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: Some("a".into()),
            name: name.into(),
        }
    }

    #[tokio::test]
    async fn reads_come_back_in_order_and_discover_each_served_kind_once() {
        let (client, seen) = scripted_api().await;
        let objects = ClusterObjects::new(client, "the scripted cluster");
        let keys = [
            key("v1", "ConfigMap", "c1"),
            key("v1", "ConfigMap", "c2"),
            key("v1", "ConfigMap", "c3"),
            key("example.com/v1", "Widget", "w1"),
            key("missing.io/v1", "Gadget", "g1"),
            key("v1", "ConfigMap", "c1"),
        ];
        for round in 1..=2 {
            let found = objects.get_all(&keys).await.expect("every read answers");
            let names: Vec<Option<&str>> = found
                .iter()
                .map(|o| {
                    o.as_ref()
                        .and_then(|o| o.pointer("/metadata/name")?.as_str())
                })
                .collect();
            assert_eq!(
                names,
                [Some("c1"), Some("c2"), None, Some("w1"), None, Some("c1")]
            );
            let seen = seen.lock().unwrap();
            // Served kinds are discovered once, however many reads want them at once...
            assert_eq!(seen.get("/api/v1"), Some(&1), "{seen:?}");
            assert_eq!(seen.get("/apis/example.com/v1"), Some(&1), "{seen:?}");
            // ...a kind not served is asked about again, as it may be served by now...
            assert!(seen.get("/apis/missing.io/v1") >= Some(&round), "{seen:?}");
            // ...and every object is read every time (nothing cached that could hide drift).
            let c1 = seen.get("/api/v1/namespaces/a/configmaps/c1");
            assert_eq!(c1, Some(&(2 * round)), "{seen:?}");
        }
    }

    #[test]
    fn keys_name_objects_and_say_what_is_missing() {
        let key = ObjectKey::of(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "istiod", "namespace": "istio-system"}}))
        .unwrap();
        assert_eq!(key.describe(), "Deployment istio-system/istiod");
        assert_eq!(key.state_key(), "apps/v1/Deployment/istio-system/istiod");
        assert_eq!(key.gvk().group, "apps");
        let core = ObjectKey::of(&json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "a"}}))
        .unwrap();
        assert_eq!(core.gvk().group, "");
        assert_eq!(core.state_key(), "v1/Namespace/_/a");
        let err = ObjectKey::of(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {}}))
            .unwrap_err();
        assert_eq!(err, "the Secret has no metadata.name");
        assert!(ObjectKey::of(&json!({"kind": "Secret"}))
            .unwrap_err()
            .contains("apiVersion"));
    }

    #[test]
    fn projection_drops_server_additions_and_keeps_managed_changes() {
        let desired = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "a", "image": "x:1"}]}}}});
        let live = json!({"status": {"ready": 1}, "spec": {"replicas": 3,
            "progressDeadlineSeconds": 600, "template": {"spec": {"containers": [
            {"name": "a", "image": "x:1", "imagePullPolicy": "IfNotPresent"}]}}}});
        assert_eq!(
            project(&live, &desired),
            json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "a", "image": "x:1"}]}}}})
        );
    }

    #[test]
    fn projection_shows_missing_fields_and_extra_list_items() {
        let desired =
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "ports": [{"port": 80}]});
        let live = json!({"metadata": {"labels": {"a": "1", "c": "3"}},
            "ports": [{"port": 80, "protocol": "TCP"}, {"port": 81}]});
        assert_eq!(
            project(&live, &desired),
            json!({"metadata": {"labels": {"a": "1"}}, "ports": [{"port": 80}, {"port": 81}]})
        );
    }

    #[test]
    fn projection_treats_equal_numbers_and_int_strings_as_written() {
        assert_eq!(project(&json!(80.0), &json!(80)), json!(80));
        assert_eq!(project(&json!("80"), &json!(80)), json!(80));
        assert_eq!(project(&json!(81), &json!(80)), json!(81));
    }
}
