//! What a cluster's control plane does besides storing objects, in two halves:
//! - admission, synchronous on every create and update ([`admit`]): defaults and
//!   server-set fields (Service IPs and node ports, CRD conditions, namespace phase,
//!   service-account token data, sidecar injection into new pods), and when a controller
//!   should act on the object next;
//! - controllers, run when objects are due ([`settle`], before every request and by watches
//!   waiting for the next due time): Deployments rolling out (ReplicaSets, Pods, status),
//!   Pods running, LoadBalancer Services getting an address.
//!
//! Delays are real-cluster durations scaled by the local cloud's time factor.

mod injection;
mod network;
mod tokens;
mod workloads;

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::{json, Value as Json};

use super::cluster::{self, ClusterCtx};
use super::kinds::{self, Kind, CRDS, CRD_GROUP};
use super::objects::{meta_str, set_meta, split_key, timestamp, ClusterObjects};
use super::status::KubeError;
use super::writes::Writer;
use super::Env;
use crate::store::Cloud;

pub(crate) use injection::inject;
pub(crate) use tokens::{issue_token, verify_token};

/// Defaults and server-set fields of `new` (created when `old` is `None`); when a
/// controller acts on it next.
pub(crate) fn admit(
    objects: &ClusterObjects,
    cluster: &ClusterCtx,
    kind: &Kind,
    old: Option<&Json>,
    new: &mut Json,
) -> Result<Option<f64>, KubeError> {
    match (kind.group.as_str(), kind.plural.as_str()) {
        ("", "namespaces") => {
            admit_namespace(new);
            Ok(None)
        }
        ("", "services") => network::admit_service(objects, cluster, kind, old, new),
        ("", "pods") => workloads::admit_pod(objects, cluster, old, new),
        ("", "secrets") => {
            tokens::admit_secret(objects, cluster, kind, new)?;
            Ok(None)
        }
        ("apps", _) => workloads::admit_workload(cluster, kind, old, new),
        (CRD_GROUP, CRDS) => {
            admit_crd(cluster, kind, old, new)?;
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// What follows a stored write at once (service-account token secrets waiting for their
/// service account).
pub(crate) fn after_write(w: &mut Writer<'_>, kind: &Kind, key: &str) {
    if kind.group.is_empty() && kind.plural == "serviceaccounts" {
        tokens::fill_waiting_secrets(w, key);
    }
}

fn admit_namespace(new: &mut Json) {
    let name = meta_str(new, "name").to_string();
    let mut labels = super::objects::meta(new, "labels")
        .cloned()
        .unwrap_or(json!({}));
    labels["kubernetes.io/metadata.name"] = json!(name);
    set_meta(new, "labels", labels);
    if new.pointer("/spec/finalizers").is_none() {
        new["spec"] = json!({"finalizers": ["kubernetes"]});
    }
    new["status"] = json!({"phase": "Active"});
}

/// Check a CRD and set its names and conditions: accepted and Established at once.
fn admit_crd(
    cluster: &ClusterCtx,
    kind: &Kind,
    old: Option<&Json>,
    new: &mut Json,
) -> Result<(), KubeError> {
    let name = meta_str(new, "name").to_string();
    let invalid = |field: &str, problem: &str| KubeError::invalid(kind, &name, field, problem);
    let text = |new: &Json, p: &str| {
        new.pointer(p)
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string()
    };
    let group = text(new, "/spec/group");
    let plural = text(new, "/spec/names/plural");
    let crd_kind = text(new, "/spec/names/kind");
    for (field, value) in [
        ("spec.group", &group),
        ("spec.names.plural", &plural),
        ("spec.names.kind", &crd_kind),
    ] {
        if value.is_empty() {
            return Err(invalid(field, "Required value"));
        }
    }
    if name != format!("{plural}.{group}") {
        return Err(invalid(
            "metadata.name",
            &format!("Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    let scope = text(new, "/spec/scope");
    if scope != "Namespaced" && scope != "Cluster" {
        return Err(invalid(
            "spec.scope",
            &format!(
                "Unsupported value: \"{scope}\": supported values: \"Cluster\", \"Namespaced\""
            ),
        ));
    }
    let versions = new
        .pointer("/spec/versions")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        return Err(invalid(
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        ));
    }
    let storage: Vec<&Json> = versions
        .iter()
        .filter(|v| v["storage"] == json!(true))
        .collect();
    if storage.len() != 1 {
        return Err(invalid(
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        ));
    }
    if kinds::builtin(&group, &plural).is_some() {
        return Err(invalid(
            "spec.group",
            "Invalid value: the resource is built in",
        ));
    }
    let names = &mut new["spec"]["names"];
    if names.get("singular").is_none() {
        names["singular"] = json!(crd_kind.to_ascii_lowercase());
    }
    if names.get("listKind").is_none() {
        names["listKind"] = json!(format!("{crd_kind}List"));
    }
    let accepted = names.clone();
    let mut stored: Vec<Json> = old
        .and_then(|o| o.pointer("/status/storedVersions"))
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    if !stored.contains(&storage[0]["name"]) {
        stored.push(storage[0]["name"].clone());
    }
    let since = old
        .and_then(|o| o.pointer("/status/conditions/0/lastTransitionTime"))
        .cloned()
        .unwrap_or_else(|| json!(timestamp(cluster.now)));
    new["status"] = json!({
        "acceptedNames": accepted,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": since},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": since},
        ],
        "storedVersions": stored,
    });
    Ok(())
}

/// The kind of the object under `key` (its stored group and resource).
fn kind_of_key(objects: &ClusterObjects, key: &str) -> Option<Kind> {
    let (group, plural, _, _) = split_key(key)?;
    kinds::builtin(group, plural).or_else(|| {
        kinds::served(objects)
            .into_iter()
            .find(|k| k.group == group && k.plural == plural)
    })
}

/// Act on the object under `key`, which is due.
fn run_due(w: &mut Writer<'_>, key: &str, used: &mut BTreeSet<IpAddr>) {
    if let Some(stored) = w.objects.get_mut(key) {
        stored.due = None;
    }
    let Some(kind) = kind_of_key(w.objects, key) else {
        return;
    };
    match (kind.group.as_str(), kind.plural.as_str()) {
        ("apps", "deployments") => workloads::roll_out(w, key),
        ("apps", "replicasets") => workloads::reconcile_replica_set(w, key),
        ("apps", _) => workloads::mark_ready(w, &kind, key),
        ("", "pods") => workloads::start_pod(w, key),
        ("", "services") => network::provision_load_balancer(w, key, used),
        _ => {}
    }
}

/// Run every due controller of every cluster at `now`; whether anything changed.
pub(crate) fn settle(cloud: &mut Cloud, env: &Env<'_>, now: f64) -> bool {
    let due_clusters: Vec<String> = cloud
        .kube
        .iter()
        .filter(|(_, objects)| objects.next_due().is_some_and(|d| d <= now))
        .map(|(k, _)| k.clone())
        .collect();
    if due_clusters.is_empty() {
        return false;
    }
    let mut used = network::addresses_in_use(cloud);
    for cluster_key in due_clusters {
        let Some(ctx) = cluster::context(cloud, env, &cluster_key, now) else {
            continue;
        };
        let Some(objects) = cloud.kube.get_mut(&cluster_key) else {
            continue;
        };
        let mut w = Writer {
            objects,
            cluster: &ctx,
            dry_run: false,
        };
        // Controllers make more due objects (a Deployment its ReplicaSet, that its Pods):
        // settle those too, within bounds.
        for _ in 0..16 {
            let keys = w.objects.due_keys(now);
            if keys.is_empty() {
                break;
            }
            for key in keys {
                run_due(&mut w, &key, &mut used);
            }
        }
    }
    cloud.dirty = true;
    true
}
