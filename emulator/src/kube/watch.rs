//! Watches (`?watch=true` on a list path): newline-delimited JSON events
//! (`{"type": "ADDED"|"MODIFIED"|"DELETED", "object": ...}`), from a resourceVersion (replayed
//! from the cluster's change log; 410 Expired in an ERROR event when the log no longer reaches
//! back that far) or, without one, starting with the current objects. With selectors, an
//! object that stops matching is reported DELETED and one that starts matching ADDED.
//!
//! A watch waits for changes (the server notifies after every request) and for the next time
//! a controller is due, so objects change without requests, as on a real cluster.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value as Json};
use tokio::sync::mpsc;

use super::kinds::Kind;
use super::objects::{ClusterObjects, Event, EventType};
use super::path::{ObjectPath, Query};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::KubeError;
use super::verbs::{matching, present, resolve, selectors};
use super::{open, settle};
use crate::server::{lock, Shared};
use crate::store::now;

/// A watch request.
pub(crate) struct WatchRequest {
    /// The cluster's name.
    pub cluster: String,
    /// The list (or object) path.
    pub path: ObjectPath,
    /// Query parameters.
    pub query: Query,
    /// The bearer token.
    pub token: Option<String>,
    /// The request's path, for messages.
    pub request_path: String,
}

/// Watches end after this long unless the client asks for less (seconds).
const DEFAULT_TIMEOUT: u64 = 1800;

/// What a watch follows.
struct Watching {
    cluster_key: String,
    kind: Kind,
    prefix: String,
    labels: LabelSelector,
    fields: FieldSelector,
    filtered: bool,
    seen: BTreeSet<String>,
    last: u64,
    /// When a controller of the cluster acts next.
    next_due: Option<f64>,
}

fn line(kind: &str, object: Json) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

impl Watching {
    /// The event a change becomes for this watch, if any.
    fn translate(&mut self, event: &Event) -> Option<Bytes> {
        if !event.key.starts_with(&self.prefix) {
            return None;
        }
        let object = present(&self.kind, event.object.clone());
        if !self.filtered {
            return Some(line(event.kind.as_str(), object));
        }
        let matches = self.labels.matches(&object) && self.fields.matches(&object);
        let known = self.seen.contains(&event.key);
        let kind = match (event.kind, matches, known) {
            (EventType::Deleted, m, k) if m || k => EventType::Deleted,
            (EventType::Deleted, _, _) => return None,
            (_, true, true) => EventType::Modified,
            (_, true, false) => EventType::Added,
            (_, false, true) => EventType::Deleted,
            (_, false, false) => return None,
        };
        match kind {
            EventType::Deleted => self.seen.remove(&event.key),
            _ => self.seen.insert(event.key.clone()),
        };
        Some(line(kind.as_str(), object))
    }

    /// The lines for every change since the last look; `Err` with the final line when the
    /// watch must end.
    fn catch_up(&mut self, objects: &ClusterObjects) -> Result<Vec<Bytes>, Bytes> {
        let Some(events) = objects.events_after(self.last) else {
            return Err(line("ERROR", KubeError::expired(self.last).to_status()));
        };
        self.last = objects.revision;
        Ok(events.iter().filter_map(|e| self.translate(e)).collect())
    }
}

/// Start a watch: its first lines, or the error that answers the request.
fn start(shared: &Shared, req: &WatchRequest) -> Result<(Watching, Vec<Bytes>, bool), KubeError> {
    let mut cloud = lock(&shared.cloud);
    let now = now();
    settle(&mut cloud, shared, now);
    let (cluster_key, _) = open(&mut cloud, shared, &req.cluster, req.token.as_deref(), now)?;
    let _ = shared.persist.save(&mut cloud);
    let objects = cloud
        .kube
        .get(&cluster_key)
        .ok_or_else(|| KubeError::internal("the cluster has no objects"))?;
    let mut path = req.path.clone();
    let mut query = req.query.clone();
    if let Some(name) = path.name.take() {
        let by_name = format!("metadata.name={name}");
        query.field_selector = Some(match query.field_selector {
            Some(f) => format!("{f},{by_name}"),
            None => by_name,
        });
    }
    let kind = resolve(objects, &path, &req.request_path)?;
    let (labels, fields) = selectors(&query)?;
    let current = matching(objects, &kind, path.namespace.as_deref(), &query)?;
    let mut watching = Watching {
        cluster_key,
        prefix: match &path.namespace {
            Some(ns) => format!("{}{ns}/", kind.key_prefix()),
            None => kind.key_prefix(),
        },
        kind,
        labels,
        fields,
        filtered: query.label_selector.is_some() || query.field_selector.is_some(),
        seen: current.iter().map(|(k, _)| k.clone()).collect(),
        last: objects.revision,
        next_due: objects.next_due(),
    };
    let from = query.resource_version.as_deref().filter(|v| *v != "0");
    let Some(from) = from else {
        let lines = current.into_iter().map(|(_, o)| line("ADDED", o)).collect();
        return Ok((watching, lines, false));
    };
    let from: u64 = from
        .parse()
        .map_err(|_| KubeError::bad_request(format!("invalid resource version: {from}")))?;
    watching.last = from;
    let Some(events) = objects.events_after(from) else {
        return Ok((
            watching,
            vec![line("ERROR", KubeError::expired(from).to_status())],
            true,
        ));
    };
    watching.seen = seen_at(&watching, &events);
    match watching.catch_up(objects) {
        Ok(lines) => Ok((watching, lines, false)),
        Err(last) => Ok((watching, vec![last], true)),
    }
}

/// The keys that matched the watch at the resourceVersion it starts from: those matching now
/// that changed since, plus those whose object before their first change since matched.
fn seen_at(watching: &Watching, events: &[Event]) -> BTreeSet<String> {
    let mut seen = watching.seen.clone();
    let mut decided = BTreeSet::new();
    for event in events
        .iter()
        .filter(|e| e.key.starts_with(&watching.prefix))
    {
        if !decided.insert(event.key.clone()) {
            continue;
        }
        let matched = event.previous.as_ref().is_some_and(|p| {
            let p = present(&watching.kind, p.clone());
            watching.labels.matches(&p) && watching.fields.matches(&p)
        });
        if matched {
            seen.insert(event.key.clone());
        } else {
            seen.remove(&event.key);
        }
    }
    seen
}

/// The response body: lines as they come.
struct Lines(mpsc::Receiver<Bytes>);

impl http_body::Body for Lines {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|line| line.map(|l| Ok(http_body::Frame::data(l))))
    }
}

/// Serve a watch request.
pub(crate) async fn serve(shared: Arc<Shared>, req: WatchRequest) -> Response {
    let mut changes = shared.kube.subscribe();
    changes.borrow_and_update();
    let (watching, first, done) = match start(&shared, &req) {
        Ok(started) => started,
        Err(e) => {
            let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, axum::Json(e.to_status())).into_response();
        }
    };
    let timeout = Duration::from_secs(req.query.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT));
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        for l in first {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        if !done {
            follow(shared, watching, changes, tx, timeout).await;
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(Body::new(Lines(rx)))
        .unwrap_or_default()
}

/// Send changes until the timeout, the client leaving, or the cluster going away.
async fn follow(
    shared: Arc<Shared>,
    mut watching: Watching,
    mut changes: tokio::sync::watch::Receiver<u64>,
    tx: mpsc::Sender<Bytes>,
    timeout: Duration,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let wake = match watching.next_due {
            Some(due) => {
                let wait = (due - now()).max(0.0) + 0.005;
                (tokio::time::Instant::now() + Duration::from_secs_f64(wait.max(0.01)))
                    .min(deadline)
            }
            None => deadline,
        };
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep_until(wake) => {},
            _ = tx.closed() => return,
        }
        if tokio::time::Instant::now() >= deadline {
            return;
        }
        changes.borrow_and_update();
        let (lines, changed) = {
            let mut cloud = lock(&shared.cloud);
            let now = now();
            let changed = settle(&mut cloud, &shared, now);
            if changed {
                let _ = shared.persist.save(&mut cloud);
            }
            let Some(objects) = cloud.kube.get(&watching.cluster_key) else {
                return;
            };
            watching.next_due = objects.next_due();
            (watching.catch_up(objects), changed)
        };
        if changed {
            shared.kube.notify();
        }
        let (lines, end) = match lines {
            Ok(lines) => (lines, false),
            Err(last) => (vec![last], true),
        };
        for l in lines {
            if tx.send(l).await.is_err() {
                return;
            }
        }
        if end {
            return;
        }
    }
}
