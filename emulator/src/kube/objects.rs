//! The object store of one cluster: objects by key with a per-cluster resourceVersion
//! counter, what each field manager last applied (server-side apply), when a controller acts
//! on an object next, and a log of recent changes that watches replay.
//!
//! Keys are `{group}/{resource}/{namespace}/{name}` (group and namespace empty when there is
//! none), so the objects of one kind, or of one kind in one namespace, are a key range.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

/// How many changes a cluster's log keeps for watches that resume from a resourceVersion.
const LOG_SIZE: usize = 4096;

/// The store key of an object.
pub(crate) fn key(group: &str, plural: &str, namespace: &str, name: &str) -> String {
    format!("{group}/{plural}/{namespace}/{name}")
}

/// The parts of a key: group, resource, namespace, name.
pub(crate) fn split_key(key: &str) -> Option<(&str, &str, &str, &str)> {
    let mut parts = key.splitn(4, '/');
    Some((parts.next()?, parts.next()?, parts.next()?, parts.next()?))
}

/// A stored object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stored {
    /// The object as the API shows it.
    pub object: Json,
    /// What each field manager last applied with server-side apply.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub applied: BTreeMap<String, Json>,
    /// When a controller acts on it next (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<f64>,
}

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Deleted.
    Deleted,
}

impl EventType {
    /// The watch event's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// The resourceVersion the change made.
    pub revision: u64,
    /// What happened.
    pub kind: EventType,
    /// The object's key.
    pub key: String,
    /// The object after the change (before it, for a deletion, with the deletion's
    /// resourceVersion).
    pub object: Json,
    /// The object before the change (`None` for a creation).
    pub previous: Option<Json>,
}

/// Recent changes (not persisted: a watch that resumes from before a restart gets 410 Gone
/// and lists again, as with a real API server).
#[derive(Debug, Default, Clone)]
pub(crate) struct EventLog {
    events: VecDeque<Event>,
    /// Changes after this resourceVersion are all in the log; `None` until the first change
    /// since the cluster's objects were loaded.
    horizon: Option<u64>,
}

/// Everything stored for one cluster's Kubernetes API.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct ClusterObjects {
    /// The cluster's ARM ID (original case).
    pub cluster_id: String,
    /// The last resourceVersion handed out.
    pub revision: u64,
    /// Signs the service-account tokens this cluster issues (random per cluster).
    pub signing_key: String,
    /// Objects by key.
    pub objects: BTreeMap<String, Stored>,
    #[serde(skip)]
    log: EventLog,
}

impl ClusterObjects {
    /// An empty store for the cluster `cluster_id`.
    pub fn new(cluster_id: &str) -> ClusterObjects {
        ClusterObjects {
            cluster_id: cluster_id.to_string(),
            revision: 0,
            signing_key: uuid::Uuid::new_v4().simple().to_string(),
            objects: BTreeMap::new(),
            log: EventLog::default(),
        }
    }

    /// An object by key.
    pub fn get(&self, key: &str) -> Option<&Stored> {
        self.objects.get(key)
    }

    /// An object by key, to change things that are not the object (its due time).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Stored> {
        self.objects.get_mut(key)
    }

    /// The objects whose keys start with `prefix`, in key order.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &str,
    ) -> impl Iterator<Item = (&'a String, &'a Stored)> + 'a {
        let prefix = prefix.to_string();
        self.objects
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
    }

    /// Keys of the objects whose keys start with `prefix`.
    pub fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.with_prefix(prefix).map(|(k, _)| k.clone()).collect()
    }

    fn bump(&mut self) -> u64 {
        if self.log.horizon.is_none() {
            self.log.horizon = Some(self.revision);
        }
        self.revision += 1;
        self.revision
    }

    fn record(&mut self, kind: EventType, key: &str, object: &Json, previous: Option<Json>) {
        self.log.events.push_back(Event {
            revision: self.revision,
            kind,
            key: key.to_string(),
            object: object.clone(),
            previous,
        });
        while self.log.events.len() > LOG_SIZE {
            if let Some(dropped) = self.log.events.pop_front() {
                self.log.horizon = Some(dropped.revision);
            }
        }
    }

    /// Store `stored` under `key` with a new resourceVersion; the object as stored.
    pub fn write(&mut self, key: &str, mut stored: Stored) -> Json {
        let previous = self.objects.get(key).map(|s| s.object.clone());
        let kind = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        let revision = self.bump();
        set_meta(
            &mut stored.object,
            "resourceVersion",
            json!(revision.to_string()),
        );
        self.record(kind, key, &stored.object, previous);
        let object = stored.object.clone();
        self.objects.insert(key.to_string(), stored);
        object
    }

    /// Remove the object under `key`; it, with the deletion's resourceVersion.
    pub fn remove(&mut self, key: &str) -> Option<Json> {
        let mut stored = self.objects.remove(key)?;
        let previous = Some(stored.object.clone());
        let revision = self.bump();
        set_meta(
            &mut stored.object,
            "resourceVersion",
            json!(revision.to_string()),
        );
        self.record(EventType::Deleted, key, &stored.object, previous);
        Some(stored.object)
    }

    /// The changes after resourceVersion `after`, oldest first; `None` when the log no longer
    /// reaches back that far.
    pub fn events_after(&self, after: u64) -> Option<Vec<Event>> {
        let horizon = self.log.horizon.unwrap_or(self.revision);
        if after < horizon {
            return None;
        }
        Some(
            self.log
                .events
                .iter()
                .filter(|e| e.revision > after)
                .cloned()
                .collect(),
        )
    }

    /// The earliest due time of any object.
    pub fn next_due(&self) -> Option<f64> {
        self.objects
            .values()
            .filter_map(|s| s.due)
            .min_by(f64::total_cmp)
    }

    /// Keys of the objects due at `now`, earliest first.
    pub fn due_keys(&self, now: f64) -> Vec<String> {
        let mut due: Vec<(f64, &String)> = self
            .objects
            .iter()
            .filter_map(|(k, s)| s.due.filter(|d| *d <= now).map(|d| (d, k)))
            .collect();
        due.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        due.into_iter().map(|(_, k)| k.clone()).collect()
    }
}

/// `metadata.{field}` of an object.
pub(crate) fn meta<'a>(object: &'a Json, field: &str) -> Option<&'a Json> {
    object.get("metadata")?.get(field)
}

/// `metadata.{field}` as text ("" when missing).
pub(crate) fn meta_str<'a>(object: &'a Json, field: &str) -> &'a str {
    meta(object, field)
        .and_then(Json::as_str)
        .unwrap_or_default()
}

/// Set `metadata.{field}`, creating `metadata` when needed.
pub(crate) fn set_meta(object: &mut Json, field: &str, value: Json) {
    let Some(obj) = object.as_object_mut() else {
        return;
    };
    let metadata = obj.entry("metadata").or_insert_with(|| json!({}));
    if !metadata.is_object() {
        *metadata = json!({});
    }
    if let Some(m) = metadata.as_object_mut() {
        m.insert(field.to_string(), value);
    }
}

/// Remove `metadata.{field}`.
pub(crate) fn remove_meta(object: &mut Json, field: &str) {
    if let Some(m) = object.get_mut("metadata").and_then(Json::as_object_mut) {
        m.remove(field);
    }
}

/// A label of an object.
pub(crate) fn label<'a>(object: &'a Json, name: &str) -> Option<&'a str> {
    meta(object, "labels")?.get(name)?.as_str()
}

/// An annotation of an object.
pub(crate) fn annotation<'a>(object: &'a Json, name: &str) -> Option<&'a str> {
    meta(object, "annotations")?.get(name)?.as_str()
}

/// A Unix time as Kubernetes writes timestamps (RFC 3339, whole seconds, UTC).
pub(crate) fn timestamp(t: f64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t.floor() as i64)
        .ok()
        .and_then(|d| {
            d.format(&time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A hash that is the same in every build (FNV-1a), for names and addresses derived from
/// text.
pub(crate) fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// The parts of an object its generation counts: everything but metadata and status.
pub(crate) fn spec_part(object: &Json) -> Json {
    let mut rest = object.clone();
    if let Some(o) = rest.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(object: Json) -> Stored {
        Stored {
            object,
            applied: BTreeMap::new(),
            due: None,
        }
    }

    #[test]
    fn writes_number_revisions_and_the_log_replays_them() {
        let mut c = ClusterObjects::new("/x");
        assert_eq!(c.events_after(0).unwrap().len(), 0);
        let a = c.write(&key("", "configmaps", "default", "a"), stored(json!({})));
        assert_eq!(a["metadata"]["resourceVersion"], "1");
        c.write(&key("", "configmaps", "default", "a"), stored(json!({})));
        c.remove(&key("", "configmaps", "default", "a"));
        let events = c.events_after(1).unwrap();
        let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventType::Modified, EventType::Deleted]);
        assert_eq!(events[1].object["metadata"]["resourceVersion"], "3");
    }

    #[test]
    fn a_log_started_after_loading_cannot_replay_older_changes() {
        let mut c = ClusterObjects::new("/x");
        c.revision = 10;
        assert!(c.events_after(9).is_none());
        assert!(c.events_after(10).unwrap().is_empty());
        c.write(&key("", "secrets", "default", "s"), stored(json!({})));
        assert_eq!(c.events_after(10).unwrap().len(), 1);
        assert!(c.events_after(9).is_none());
    }

    #[test]
    fn keys_split_back() {
        let k = key("apps", "deployments", "ns", "web");
        assert_eq!(split_key(&k), Some(("apps", "deployments", "ns", "web")));
        assert_eq!(timestamp(0.5), "1970-01-01T00:00:00Z");
    }
}
