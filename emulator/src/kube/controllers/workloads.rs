//! Workloads: Deployments roll out (a ReplicaSet per pod template, its Pods, then a status
//! that says Available and NewReplicaSetAvailable), ReplicaSets keep their Pod count,
//! StatefulSets and DaemonSets become ready (without Pods), Pods start running.

use std::net::IpAddr;

use serde_json::{json, Value as Json};

use super::super::cluster::ClusterCtx;
use super::super::kinds::{self, Kind};
use super::super::objects::{
    key as object_key, meta, meta_str, split_key, stable_hash, timestamp, ClusterObjects,
};
use super::super::selectors::has_labels;
use super::super::status::KubeError;
use super::super::writes::{random_suffix, Writer};
use super::injection;

/// How long a Deployment takes to roll out on a real cluster (seconds).
const ROLLOUT_SECONDS: f64 = 20.0;
/// How long a Pod takes to start.
const POD_START_SECONDS: f64 = 5.0;

fn replicas(object: &Json) -> i64 {
    object
        .pointer("/spec/replicas")
        .and_then(Json::as_i64)
        .unwrap_or(1)
}

fn generation(object: &Json) -> i64 {
    meta(object, "generation")
        .and_then(Json::as_i64)
        .unwrap_or(1)
}

fn condition(kind: &str, status: bool, reason: &str, message: &str, now: f64) -> Json {
    let t = timestamp(now);
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason,
        "message": message, "lastUpdateTime": t, "lastTransitionTime": t})
}

/// Defaults and status of apps/v1 workloads; they are due after their rollout time when
/// their spec changed.
pub(crate) fn admit_workload(
    cluster: &ClusterCtx,
    kind: &Kind,
    old: Option<&Json>,
    new: &mut Json,
) -> Result<Option<f64>, KubeError> {
    let name = meta_str(new, "name").to_string();
    let selector = new.pointer("/spec/selector/matchLabels").cloned();
    let Some(selector) = selector.filter(|s| s.as_object().is_some_and(|m| !m.is_empty())) else {
        return Err(KubeError::invalid(
            kind,
            &name,
            "spec.selector",
            "Required value",
        ));
    };
    let template_labels = new
        .pointer("/spec/template/metadata/labels")
        .cloned()
        .unwrap_or(json!({}));
    let pod = json!({"metadata": {"labels": template_labels}});
    if !has_labels(&pod, &selector) {
        return Err(KubeError::invalid(
            kind,
            &name,
            "spec.template.metadata.labels",
            "Invalid value: `selector` does not match template `labels`",
        ));
    }
    if kind.plural != "daemonsets" && new.pointer("/spec/replicas").is_none() {
        new["spec"]["replicas"] = json!(1);
    }
    let changed =
        old.is_none_or(|o| generation(o) != generation(new) || replicas(o) != replicas(new));
    if !changed {
        return Ok(None);
    }
    let seconds = match kind.plural.as_str() {
        "replicasets" => 0.0,
        "daemonsets" => ROLLOUT_SECONDS / 2.0,
        _ => ROLLOUT_SECONDS,
    };
    if kind.plural == "deployments" {
        new["status"] = progressing(old, new, cluster.now);
    } else if kind.plural != "replicasets" {
        let mut status = old
            .and_then(|o| o.get("status"))
            .cloned()
            .unwrap_or(json!({}));
        status["observedGeneration"] = json!(generation(new));
        new["status"] = status;
    }
    Ok(Some(cluster.after(seconds)))
}

/// A Deployment's status while it rolls out: what was available stays so.
fn progressing(old: Option<&Json>, new: &Json, now: f64) -> Json {
    let n = replicas(new);
    let before = old
        .and_then(|o| o.get("status"))
        .cloned()
        .unwrap_or(json!({}));
    let available = before["availableReplicas"].as_i64().unwrap_or(0).min(n);
    let was_available = kinds::condition_true(&json!({"status": before}), "Available");
    let available_condition = if was_available && available > 0 {
        condition(
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    } else {
        condition(
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    };
    let name = meta_str(new, "name");
    json!({
        "observedGeneration": generation(new),
        "replicas": n,
        "updatedReplicas": 0,
        "readyReplicas": available,
        "availableReplicas": available,
        "unavailableReplicas": n - available,
        "conditions": [available_condition,
            condition("Progressing", true, "ReplicaSetUpdated", &format!("ReplicaSet \"{name}\" is progressing."), now)],
    })
}

fn owner_reference(owner: &Json) -> Json {
    json!({"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta_str(owner, "name"),
        "uid": meta_str(owner, "uid"), "controller": true, "blockOwnerDeletion": true})
}

fn owned_by(object: &Json, uid: &str) -> bool {
    meta(object, "ownerReferences")
        .and_then(Json::as_array)
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == json!(uid)))
}

/// The objects under `prefix` owned by `uid`: (key, object).
fn owned(objects: &ClusterObjects, prefix: &str, uid: &str) -> Vec<(String, Json)> {
    objects
        .with_prefix(prefix)
        .filter(|(_, s)| owned_by(&s.object, uid))
        .map(|(k, s)| (k.clone(), s.object.clone()))
        .collect()
}

/// The pod-template-hash of a template (stable, in the alphabet of generated names).
fn template_hash(template: &Json) -> String {
    let hash = stable_hash(&template.to_string());
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..10)
        .map(|i| SAFE[((hash >> (i * 6)) % SAFE.len() as u64) as usize] as char)
        .collect()
}

/// A Deployment that is due has rolled out: its current ReplicaSet has all Pods, older
/// ones none, and its status says so.
pub(crate) fn roll_out(w: &mut Writer<'_>, key: &str) {
    let Some(deployment) = w.objects.get(key).map(|s| s.object.clone()) else {
        return;
    };
    let (_, _, namespace, name) = split_key(key).unwrap_or_default();
    let (namespace, name) = (namespace.to_string(), name.to_string());
    let uid = meta_str(&deployment, "uid").to_string();
    let n = replicas(&deployment);
    let template = deployment
        .pointer("/spec/template")
        .cloned()
        .unwrap_or(json!({}));
    let hash = template_hash(&template);
    let rs_name = format!("{name}-{hash}");
    let prefix = format!("apps/replicasets/{namespace}/");
    for (rs_key, rs) in owned(w.objects, &prefix, &uid) {
        if meta_str(&rs, "name") != rs_name && replicas(&rs) != 0 {
            scale_replica_set(w, &rs_key, 0);
        }
    }
    let rs_key = object_key("apps", "replicasets", &namespace, &rs_name);
    if w.objects.get(&rs_key).is_some() {
        scale_replica_set(w, &rs_key, n);
    } else if let Some(kind) = kinds::builtin("apps", "replicasets") {
        let mut rs_template = template.clone();
        rs_template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
        let mut selector = deployment
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or(json!({}));
        selector["matchLabels"]["pod-template-hash"] = json!(hash);
        let mut labels = rs_template["metadata"]["labels"].clone();
        labels["pod-template-hash"] = json!(hash);
        let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": namespace, "labels": labels,
                "annotations": {"deployment.kubernetes.io/desired-replicas": n.to_string(), "deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [owner_reference(&deployment)]},
            "spec": {"replicas": n, "selector": selector, "template": rs_template}});
        let _ = w.create(&kind, Some(&namespace), rs, Default::default());
    }
    let now = w.cluster.now;
    let status = json!({
        "observedGeneration": generation(&deployment),
        "replicas": n,
        "updatedReplicas": n,
        "readyReplicas": n,
        "availableReplicas": n,
        "conditions": [
            condition("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability.", now),
            condition("Progressing", true, "NewReplicaSetAvailable", &format!("ReplicaSet \"{rs_name}\" has successfully progressed."), now),
        ],
    });
    let status = without_zero_counts(status);
    w.set_status(key, status);
}

/// Kubernetes omits zero counts from workload statuses.
fn without_zero_counts(mut status: Json) -> Json {
    if let Some(map) = status.as_object_mut() {
        map.retain(|k, v| k == "observedGeneration" || v != &json!(0));
    }
    status
}

fn scale_replica_set(w: &mut Writer<'_>, key: &str, n: i64) {
    w.modify(key, |rs| rs["spec"]["replicas"] = json!(n));
    if let Some(stored) = w.objects.get_mut(key) {
        stored.due = Some(w.cluster.now);
    }
}

/// A ReplicaSet that is due has exactly its replica count of running Pods.
pub(crate) fn reconcile_replica_set(w: &mut Writer<'_>, key: &str) {
    let Some(rs) = w.objects.get(key).map(|s| s.object.clone()) else {
        return;
    };
    let (_, _, namespace, name) = split_key(key).unwrap_or_default();
    let (namespace, name) = (namespace.to_string(), name.to_string());
    let n = replicas(&rs).max(0) as usize;
    let pods = owned(
        w.objects,
        &format!("/pods/{namespace}/"),
        meta_str(&rs, "uid"),
    );
    for (pod_key, _) in pods.iter().skip(n) {
        if let Some(kind) = kinds::builtin("", "pods") {
            let _ = w.delete(&kind, pod_key, false);
        }
    }
    let Some(kind) = kinds::builtin("", "pods") else {
        return;
    };
    for _ in pods.len()..n {
        let template = rs.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": template.get("metadata").cloned().unwrap_or(json!({})),
            "spec": template.get("spec").cloned().unwrap_or(json!({}))});
        pod["metadata"]["name"] = json!(format!("{name}-{}", random_suffix(5)));
        pod["metadata"]["namespace"] = json!(namespace);
        pod["metadata"]["ownerReferences"] = json!([owner_reference(&rs)]);
        if let Ok(created) = w.create(&kind, Some(&namespace), pod, Default::default()) {
            let pod_key = object_key("", "pods", &namespace, meta_str(&created, "name"));
            start_pod(w, &pod_key);
        }
    }
    let status = without_zero_counts(json!({"observedGeneration": generation(&rs), "replicas": n,
        "fullyLabeledReplicas": n, "readyReplicas": n, "availableReplicas": n}));
    w.set_status(key, status);
}

/// A StatefulSet or DaemonSet that is due is ready (no Pods are made for them).
pub(crate) fn mark_ready(w: &mut Writer<'_>, kind: &Kind, key: &str) {
    let Some(object) = w.objects.get(key).map(|s| s.object.clone()) else {
        return;
    };
    let g = generation(&object);
    let status = if kind.plural == "daemonsets" {
        let n = w.cluster.nodes;
        json!({"observedGeneration": g, "desiredNumberScheduled": n, "currentNumberScheduled": n,
            "numberReady": n, "numberAvailable": n, "updatedNumberScheduled": n, "numberMisscheduled": 0})
    } else {
        let n = replicas(&object);
        without_zero_counts(
            json!({"observedGeneration": g, "replicas": n, "readyReplicas": n,
            "currentReplicas": n, "updatedReplicas": n, "availableReplicas": n}),
        )
    };
    w.set_status(key, status);
}

/// Pods: sidecar injection when created, then Pending until they start.
pub(crate) fn admit_pod(
    objects: &ClusterObjects,
    cluster: &ClusterCtx,
    old: Option<&Json>,
    new: &mut Json,
) -> Result<Option<f64>, KubeError> {
    if old.is_some() {
        return Ok(None);
    }
    injection::inject(objects, new);
    new["status"] = json!({"phase": "Pending", "qosClass": "BestEffort",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": timestamp(cluster.now)}]});
    Ok(Some(cluster.after(POD_START_SECONDS)))
}

/// A pod address from the cluster's pod range.
fn pod_ip(cluster: &ClusterCtx, name: &str) -> String {
    let net = cluster.pod_cidr;
    let hosts = match net {
        ipnet::IpNet::V4(n) => (1u64 << (32 - n.prefix_len()).min(31))
            .saturating_sub(2)
            .max(1),
        ipnet::IpNet::V6(_) => 1 << 20,
    };
    let offset = 4 + stable_hash(name) % hosts.saturating_sub(4).max(1);
    match net.network() {
        IpAddr::V4(a) => {
            std::net::Ipv4Addr::from(u32::from(a).wrapping_add(offset as u32)).to_string()
        }
        IpAddr::V6(a) => {
            std::net::Ipv6Addr::from(u128::from(a).wrapping_add(u128::from(offset))).to_string()
        }
    }
}

/// A Pod that is due runs: Ready, with an address and container statuses.
pub(crate) fn start_pod(w: &mut Writer<'_>, key: &str) {
    let Some(pod) = w.objects.get(key).map(|s| s.object.clone()) else {
        return;
    };
    if let Some(stored) = w.objects.get_mut(key) {
        stored.due = None;
    }
    let name = meta_str(&pod, "name");
    let now = timestamp(w.cluster.now);
    let statuses: Vec<Json> = pod
        .pointer("/spec/containers")
        .and_then(Json::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true,
                    "restartCount": 0, "state": {"running": {"startedAt": now}}}))
                .collect()
        })
        .unwrap_or_default();
    let conditions: Vec<Json> = [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    .iter()
    .map(|c| json!({"type": c, "status": "True", "lastTransitionTime": now}))
    .collect();
    let ip = pod_ip(w.cluster, name);
    let node = w.cluster.node_name.clone();
    let host_ip = w
        .cluster
        .node_subnet
        .as_ref()
        .map(|(_, n)| match n.network() {
            IpAddr::V4(a) => std::net::Ipv4Addr::from(u32::from(a) + 4).to_string(),
            IpAddr::V6(a) => a.to_string(),
        })
        .unwrap_or_else(|| "10.224.0.4".to_string());
    w.modify(key, |p| {
        if p.pointer("/spec/nodeName").is_none() {
            p["spec"]["nodeName"] = json!(node);
        }
        p["status"] = json!({"phase": "Running", "qosClass": "BestEffort", "conditions": conditions,
            "containerStatuses": statuses, "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}], "startTime": now});
    });
}
