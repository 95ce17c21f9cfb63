//! Changes made to a cluster's objects behind its clients' backs, as someone with kubectl
//! would make them, for `POST /_admin/mutate` (`mesh local kube-patch|kube-delete`): drift
//! for tests and demos.
//!
//! They skip authentication and admission (an outside actor's edit is whatever it is), but
//! otherwise are writes like any other: a new resourceVersion, a new generation when more
//! than metadata and status changed, watch events, persisted data. Deleting an object takes
//! along what it contains and owns, as a delete through the API does; a changed workload or
//! Service is reconciled by the cluster's controllers as after any write.
//!
//! Objects are named by cluster (case-insensitive), kind, namespace and name. A kind is its
//! kind (`VirtualService`), resource name (`virtualservices`), singular or short name, any of
//! them qualified by group (`virtualservices.networking.istio.io`) or version and group
//! (`deployments.v1.apps`), and may be narrowed by `apiVersion` or `group`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value as Json};

use super::kinds::{self, Kind};
use super::objects::{key, meta, meta_str, split_key, ClusterObjects};
use super::patch;
use super::writes::Writer;
use super::{cluster, env, settle};
use crate::server::{lock, Shared};
use crate::store::{now, Cloud};

/// The ops of `POST /_admin/mutate` this module answers.
pub(crate) const OPS: &[&str] = &["kube-patch", "kube-delete"];

/// Why a change is refused: an HTTP status and a message.
pub(crate) type Refusal = (u16, String);

/// Which object a request names.
struct Target<'a> {
    cluster: &'a str,
    kind: &'a str,
    api_version: Option<&'a str>,
    group: Option<&'a str>,
    namespace: Option<&'a str>,
    name: &'a str,
}

impl<'a> Target<'a> {
    fn of(request: &'a Json) -> Result<Target<'a>, Refusal> {
        let text = |name: &str| request.get(name).and_then(Json::as_str);
        let required = |name: &str| {
            text(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| (400, format!("the request needs a \"{name}\"")))
        };
        Ok(Target {
            cluster: required("cluster")?,
            kind: required("kind")?,
            api_version: text("apiVersion").filter(|v| !v.is_empty()),
            group: text("group"),
            namespace: text("namespace").filter(|v| !v.is_empty()),
            name: required("name")?,
        })
    }
}

/// How a patch is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatchType {
    /// RFC 6902: a list of operations.
    Json,
    /// RFC 7386: an object merged in (`null` removes).
    Merge,
}

impl PatchType {
    /// The type the request names, else the one the patch's shape says (a list of
    /// operations, or an object).
    fn of(request: &Json, patch: &Json) -> Result<PatchType, Refusal> {
        match request.get("patchType").and_then(Json::as_str) {
            Some("json") => Ok(PatchType::Json),
            Some("merge") => Ok(PatchType::Merge),
            Some(other) => Err((400, format!("unknown patch type {other:?} (json or merge)"))),
            None if patch.is_array() => Ok(PatchType::Json),
            None => Ok(PatchType::Merge),
        }
    }
}

/// Answer a `kube-patch` or `kube-delete` request: what changed, or why nothing did.
pub(crate) fn mutate(shared: &Shared, request: &Json) -> Result<Json, Refusal> {
    let op = request.get("op").and_then(Json::as_str).unwrap_or_default();
    let target = Target::of(request)?;
    let mut cloud = lock(&shared.cloud);
    let now = now();
    settle(&mut cloud, shared, now);
    let cluster_key = cluster::find(&cloud, target.cluster).ok_or_else(|| {
        let names = cluster::names(&cloud);
        let known = if names.is_empty() {
            "it has no AKS clusters".to_string()
        } else {
            format!("its clusters: {}", names.join(", "))
        };
        (
            404,
            format!(
                "the local cloud has no AKS cluster named {:?} ({known})",
                target.cluster
            ),
        )
    })?;
    let ctx = cluster::context(&cloud, &env(shared), &cluster_key, now)
        .ok_or_else(|| (500, "the cluster cannot be read".to_string()))?;
    // What a first request to the cluster's API would have made (its namespaces).
    cluster::ensure(&mut cloud, &ctx, &cluster_key).map_err(|e| (e.code, e.message))?;
    let Some(objects) = cloud.kube.get_mut(&cluster_key) else {
        return Err((500, "the cluster has no objects".to_string()));
    };
    let kind = resolve_kind(objects, &target, &ctx.name)?;
    let namespace = if kind.namespaced {
        target.namespace.unwrap_or("default")
    } else {
        ""
    };
    let object_key = key(&kind.group, &kind.plural, namespace, target.name);
    let Some(stored) = objects.get(&object_key) else {
        let place = match namespace {
            "" => String::new(),
            ns => format!(" in namespace {ns}"),
        };
        return Err((
            404,
            format!(
                "the cluster {} has no {} named {}{place}",
                ctx.name, kind.kind, target.name
            ),
        ));
    };
    let mut answer = json!({
        "op": op,
        "cluster": ctx.name,
        "kind": kind.kind,
        "apiVersion": stored.object["apiVersion"],
        "name": target.name,
    });
    if kind.namespaced {
        answer["namespace"] = json!(namespace);
    }
    let mut writer = Writer {
        objects,
        cluster: &ctx,
        dry_run: false,
    };
    let outcome = match op {
        "kube-patch" => patch_object(&mut writer, &kind, &object_key, request)?,
        "kube-delete" => delete_object(&mut writer, &kind, &object_key)?,
        other => {
            return Err((
                400,
                format!("unknown op {other:?} (kube-patch or kube-delete)"),
            ))
        }
    };
    merge_into(&mut answer, outcome);
    save(shared, &mut cloud)?;
    Ok(answer)
}

fn merge_into(answer: &mut Json, outcome: Json) {
    if let (Some(answer), Json::Object(outcome)) = (answer.as_object_mut(), outcome) {
        answer.extend(outcome);
    }
}

/// Persist the change and wake the watches.
fn save(shared: &Shared, cloud: &mut Cloud) -> Result<(), Refusal> {
    cloud.dirty = true;
    shared
        .persist
        .save(cloud)
        .map_err(|e| (500, format!("the local cloud cannot save its data: {e}")))?;
    shared.kube.notify();
    Ok(())
}

/// Whether `name` names `kind`: its kind, resource name, singular or a short name.
fn names_kind(kind: &Kind, name: &str) -> bool {
    [&kind.kind, &kind.plural, &kind.singular]
        .into_iter()
        .chain(&kind.short_names)
        .any(|n| n.eq_ignore_ascii_case(name))
}

/// Whether `qualifier` (what follows the first dot of a kind) names `kind`'s group, or its
/// version and group.
fn qualifies(kind: &Kind, qualifier: &str) -> bool {
    qualifier.eq_ignore_ascii_case(&kind.group)
        || qualifier.eq_ignore_ascii_case(&format!("{}.{}", kind.version, kind.group))
}

/// The kind `target` names among those the cluster serves (one version per group and
/// resource: the first served).
fn resolve_kind(
    objects: &ClusterObjects,
    target: &Target<'_>,
    cluster: &str,
) -> Result<Kind, Refusal> {
    let (name, qualifier) = match target.kind.split_once('.') {
        Some((name, qualifier)) => (name, Some(qualifier)),
        None => (target.kind, None),
    };
    let (group, version) = match target.api_version {
        Some(v) => match v.split_once('/') {
            Some((g, v)) => (Some(g), Some(v)),
            None => (Some(""), Some(v)),
        },
        None => (target.group, None),
    };
    let mut seen = BTreeSet::new();
    let candidates: Vec<Kind> = kinds::served(objects)
        .into_iter()
        .filter(|k| names_kind(k, name))
        .filter(|k| qualifier.is_none_or(|q| qualifies(k, q)))
        .filter(|k| group.is_none_or(|g| k.group == g))
        .filter(|k| version.is_none_or(|v| k.version == v))
        .filter(|k| seen.insert(k.qualified()))
        .collect();
    match candidates.as_slice() {
        [kind] => Ok(kind.clone()),
        [] => {
            let at = target
                .api_version
                .map(|v| format!(" at {v}"))
                .unwrap_or_default();
            Err((
                404,
                format!(
                    "the cluster {cluster} serves no kind {:?}{at} (name a kind like VirtualService, virtualservices or virtualservices.networking.istio.io; custom kinds need their CRD)",
                    target.kind
                ),
            ))
        }
        several => {
            let names: Vec<String> = several.iter().map(Kind::qualified).collect();
            Err((
                400,
                format!(
                    "{:?} names several kinds in the cluster {cluster}: {}; name one with its group",
                    target.kind,
                    names.join(", ")
                ),
            ))
        }
    }
}

/// Fields a patch may not change: they name the object.
const IDENTITY: &[&str] = &[
    "/apiVersion",
    "/kind",
    "/metadata/name",
    "/metadata/namespace",
    "/metadata/uid",
];

/// Fields left out of the list of changes: the store sets them on every write.
const BOOKKEEPING: &[&str] = &[
    "metadata.resourceVersion",
    "metadata.generation",
    "metadata.managedFields",
];

/// Patch the object under `key`; the changes, field by field.
fn patch_object(
    w: &mut Writer<'_>,
    kind: &Kind,
    key: &str,
    request: &Json,
) -> Result<Json, Refusal> {
    let Some(patch_doc) = request.get("patch") else {
        return Err((400, "kube-patch needs a \"patch\"".to_string()));
    };
    let patch_type = PatchType::of(request, patch_doc)?;
    let Some(before) = w.objects.get(key).map(|s| s.object.clone()) else {
        return Err((404, format!("the object {key} is gone")));
    };
    let mut after = before.clone();
    match patch_type {
        PatchType::Json => patch::json_patch(&mut after, patch_doc)
            .map_err(|e| (422, format!("the patch does not apply: {e}")))?,
        PatchType::Merge => {
            if !patch_doc.is_object() {
                return Err((400, "a merge patch must be a JSON object".to_string()));
            }
            patch::merge(&mut after, patch_doc);
        }
    }
    if let Some(field) = IDENTITY
        .iter()
        .find(|p| before.pointer(p) != after.pointer(p))
    {
        let field = field.trim_start_matches('/').replace('/', ".");
        return Err((
            422,
            format!("a patch cannot change {field}: it names the object"),
        ));
    }
    let changed = w.modify(key, |object| *object = after);
    let stored = w
        .objects
        .get(key)
        .map(|s| s.object.clone())
        .unwrap_or(Json::Null);
    if changed && meta(&stored, "generation") != meta(&before, "generation") {
        reconcile(w.objects, kind, key, w.cluster.now);
    }
    let mut changes = Vec::new();
    differences(
        &mut String::new(),
        Some(&before),
        Some(&stored),
        &mut changes,
    );
    changes.retain(|c| !BOOKKEEPING.iter().any(|b| c["path"] == *b));
    Ok(json!({
        "changes": changes,
        "resourceVersion": meta_str(&stored, "resourceVersion"),
        "generation": meta(&stored, "generation"),
    }))
}

/// Have the controllers of kinds that have one look at a changed object now, as they would
/// after a write through the API (a Deployment with more replicas rolls out).
fn reconcile(objects: &mut ClusterObjects, kind: &Kind, key: &str, now: f64) {
    let controlled = kind.group == "apps"
        || (kind.group.is_empty() && matches!(kind.plural.as_str(), "pods" | "services"));
    if let (true, Some(stored)) = (controlled, objects.get_mut(key)) {
        stored.due = Some(now);
    }
}

/// Delete the object under `key` and what goes with it; every object removed (the object
/// first).
fn delete_object(w: &mut Writer<'_>, kind: &Kind, key: &str) -> Result<Json, Refusal> {
    // Before the delete: deleting a CRD takes its kinds along.
    let served = kinds::served(w.objects);
    let kind_names: BTreeMap<(String, String), String> = served
        .iter()
        .map(|k| ((k.group.clone(), k.plural.clone()), k.kind.clone()))
        .collect();
    let before: BTreeSet<String> = w.objects.objects.keys().cloned().collect();
    w.delete(kind, key, false)
        .map_err(|e| (e.code, e.message))?;
    let mut gone: Vec<&String> = before
        .iter()
        .filter(|k| w.objects.get(k).is_none())
        .collect();
    gone.sort_by_key(|k| *k != key);
    let removed: Vec<Json> = gone
        .into_iter()
        .filter_map(|k| {
            let (group, plural, namespace, name) = split_key(k)?;
            let kind = kind_names
                .get(&(group.to_string(), plural.to_string()))
                .cloned()
                .unwrap_or_else(|| plural.to_string());
            Some(json!({"kind": kind, "namespace": namespace, "name": name}))
        })
        .collect();
    Ok(json!({ "removed": removed }))
}

/// Append `segment` to a field path: `.name`, `["a.b/c"]` or `[3]`.
fn push_segment(path: &mut String, segment: &str) {
    let plain = segment
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(segment);
    } else {
        path.push_str(&format!("[{}]", Json::String(segment.to_string())));
    }
}

/// The leaf-level differences between two values, as `{"path", "before", "after"}` (a side
/// is left out where the field is missing). Lists of the same length compare element by
/// element; others as wholes.
fn differences(
    path: &mut String,
    before: Option<&Json>,
    after: Option<&Json>,
    out: &mut Vec<Json>,
) {
    let at = path.len();
    match (before, after) {
        (Some(Json::Object(a)), Some(Json::Object(b))) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                push_segment(path, k);
                differences(path, a.get(k), b.get(k), out);
                path.truncate(at);
            }
        }
        (Some(Json::Array(a)), Some(Json::Array(b))) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                path.push_str(&format!("[{i}]"));
                differences(path, Some(x), Some(y), out);
                path.truncate(at);
            }
        }
        (a, b) if a != b => {
            let mut change = json!({ "path": path.clone() });
            if let Some(a) = a {
                change["before"] = a.clone();
            }
            if let Some(b) = b {
                change["after"] = b.clone();
            }
            out.push(change);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(a: Json, b: Json) -> Vec<Json> {
        let mut out = Vec::new();
        differences(&mut String::new(), Some(&a), Some(&b), &mut out);
        out
    }

    #[test]
    fn differences_name_the_changed_leaves() {
        let a = json!({"spec": {"http": [{"route": [{"weight": 50}, {"weight": 50}]}]},
            "metadata": {"labels": {"app.kubernetes.io/name": "x", "keep": "y"}}});
        let b = json!({"spec": {"http": [{"route": [{"weight": 90}, {"weight": 50}]}]},
            "metadata": {"labels": {"keep": "y", "new": "z"}}});
        assert_eq!(
            diff(a, b),
            [
                json!({"path": "metadata.labels[\"app.kubernetes.io/name\"]", "before": "x"}),
                json!({"path": "metadata.labels.new", "after": "z"}),
                json!({"path": "spec.http[0].route[0].weight", "before": 50, "after": 90}),
            ]
        );
        assert_eq!(
            diff(json!({"a": [1]}), json!({"a": [1, 2]})),
            [json!({"path": "a", "before": [1], "after": [1, 2]})]
        );
        assert!(diff(json!({"a": 1}), json!({"a": 1})).is_empty());
    }

    fn kind(group: &str, plural: &str, kind: &str, short: &[&str]) -> Kind {
        Kind {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            namespaced: true,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            in_all: false,
            has_status: false,
        }
    }

    #[test]
    fn kinds_are_named_by_kind_resource_or_short_name_and_qualified_by_group() {
        let vs = kind(
            "networking.istio.io",
            "virtualservices",
            "VirtualService",
            &["vs"],
        );
        for name in [
            "VirtualService",
            "virtualservices",
            "virtualservice",
            "vs",
            "VS",
        ] {
            assert!(names_kind(&vs, name), "{name}");
        }
        assert!(!names_kind(&vs, "virtualservicez"));
        assert!(qualifies(&vs, "networking.istio.io"));
        assert!(qualifies(&vs, "v1.networking.istio.io"));
        assert!(!qualifies(&vs, "istio.io"));
    }

    #[test]
    fn builtin_kinds_resolve_and_unknown_ones_are_refused() {
        let objects = ClusterObjects::new("/c");
        let target = |kind| Target {
            cluster: "c",
            kind,
            api_version: None,
            group: None,
            namespace: None,
            name: "x",
        };
        for name in [
            "Deployment",
            "deployments",
            "deploy",
            "deployments.apps",
            "Deployment.v1.apps",
        ] {
            let k = resolve_kind(&objects, &target(name), "c").unwrap();
            assert_eq!(k.qualified(), "deployments.apps", "{name}");
        }
        let (code, message) = resolve_kind(&objects, &target("VirtualService"), "c").unwrap_err();
        assert_eq!(code, 404);
        assert!(
            message.contains("serves no kind \"VirtualService\""),
            "{message}"
        );
        let mut narrowed = target("Deployment");
        narrowed.api_version = Some("apps/v2");
        assert_eq!(resolve_kind(&objects, &narrowed, "c").unwrap_err().0, 404);
        narrowed.api_version = Some("apps/v1");
        assert!(resolve_kind(&objects, &narrowed, "c").is_ok());
    }

    /// A stored, Established CRD of the kind Gateway in `group`.
    fn gateway_crd(objects: &mut ClusterObjects, group: &str) {
        let crd = json!({"metadata": {"name": format!("gateways.{group}")},
            "spec": {"group": group, "scope": "Namespaced",
                "names": {"kind": "Gateway", "plural": "gateways"},
                "versions": [{"name": "v1", "served": true, "storage": true},
                             {"name": "v1beta1", "served": true, "storage": false}]},
            "status": {"conditions": [{"type": "Established", "status": "True"}]}});
        let stored = super::super::objects::Stored {
            object: crd,
            applied: BTreeMap::new(),
            due: None,
        };
        let at = key(
            kinds::CRD_GROUP,
            kinds::CRDS,
            "",
            &format!("gateways.{group}"),
        );
        objects.write(&at, stored);
    }

    #[test]
    fn a_kind_two_groups_define_needs_its_group() {
        let mut objects = ClusterObjects::new("/c");
        gateway_crd(&mut objects, "networking.istio.io");
        let target = |kind, group| Target {
            cluster: "c",
            kind,
            api_version: None,
            group,
            namespace: None,
            name: "x",
        };
        // Two served versions of one group are one kind.
        let k = resolve_kind(&objects, &target("Gateway", None), "c").unwrap();
        assert_eq!(k.api_version(), "networking.istio.io/v1");
        gateway_crd(&mut objects, "gateway.networking.k8s.io");
        let (code, message) = resolve_kind(&objects, &target("gateways", None), "c").unwrap_err();
        assert_eq!(code, 400);
        assert!(
            message.contains("gateways.gateway.networking.k8s.io, gateways.networking.istio.io"),
            "{message}"
        );
        for (kind, group) in [
            ("gateways.gateway.networking.k8s.io", None),
            ("Gateway", Some("gateway.networking.k8s.io")),
        ] {
            let k = resolve_kind(&objects, &target(kind, group), "c").unwrap();
            assert_eq!(k.group, "gateway.networking.k8s.io", "{kind}");
        }
    }

    #[test]
    fn patch_types_come_from_the_request_or_the_patch() {
        let of = |request: Json, patch: Json| PatchType::of(&request, &patch);
        assert_eq!(of(json!({}), json!([])), Ok(PatchType::Json));
        assert_eq!(of(json!({}), json!({})), Ok(PatchType::Merge));
        assert_eq!(
            of(json!({"patchType": "merge"}), json!([])),
            Ok(PatchType::Merge)
        );
        assert_eq!(
            of(json!({"patchType": "strategic"}), json!({}))
                .unwrap_err()
                .0,
            400
        );
    }
}
