//! The kinds a cluster's API serves: the built-in ones from a fixed table, and custom ones
//! from the CustomResourceDefinitions stored in the cluster (every served version of an
//! Established CRD).

use serde_json::Value as Json;

use super::objects::ClusterObjects;

/// The API group of CustomResourceDefinitions.
pub(crate) const CRD_GROUP: &str = "apiextensions.k8s.io";
/// The resource name of CustomResourceDefinitions.
pub(crate) const CRDS: &str = "customresourcedefinitions";

/// One servable kind at one version.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kind {
    /// API group ("" for the core group).
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `ConfigMap`.
    pub kind: String,
    /// Resource name, e.g. `configmaps`.
    pub plural: String,
    /// Lowercase kind.
    pub singular: String,
    /// Namespaced (or cluster-scoped).
    pub namespaced: bool,
    /// Short names kubectl accepts (`cm`).
    pub short_names: Vec<String>,
    /// Whether it is in the `all` category (`kubectl get all`).
    pub in_all: bool,
    /// Whether it has a `/status` subresource (writes to the main resource keep the status).
    pub has_status: bool,
}

impl Kind {
    /// `apiVersion` of its objects: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }

    /// The resource for messages: `configmaps` or `deployments.apps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The store keys of its objects start with this.
    pub fn key_prefix(&self) -> String {
        format!("{}/{}/", self.group, self.plural)
    }
}

/// `v1` or `group/version`.
pub(crate) fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// A row of the built-in table.
struct Builtin {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    all: bool,
    status: bool,
}

const fn row(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
) -> Builtin {
    Builtin {
        group,
        version,
        kind,
        plural,
        namespaced,
        short,
        all: false,
        status: false,
    }
}

const fn with_status(mut b: Builtin) -> Builtin {
    b.status = true;
    b
}

const fn in_all(mut b: Builtin) -> Builtin {
    b.all = true;
    b
}

const APPS: &str = "apps";
const RBAC: &str = "rbac.authorization.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";
const NETWORKING: &str = "networking.k8s.io";

/// The built-in kinds, in the order discovery lists their groups.
const BUILTIN: &[Builtin] = &[
    with_status(row("", "v1", "Namespace", "namespaces", false, &["ns"])),
    row("", "v1", "Secret", "secrets", true, &[]),
    row("", "v1", "ConfigMap", "configmaps", true, &["cm"]),
    row("", "v1", "ServiceAccount", "serviceaccounts", true, &["sa"]),
    in_all(with_status(row(
        "",
        "v1",
        "Service",
        "services",
        true,
        &["svc"],
    ))),
    in_all(with_status(row("", "v1", "Pod", "pods", true, &["po"]))),
    row("", "v1", "Endpoints", "endpoints", true, &["ep"]),
    row("", "v1", "Event", "events", true, &["ev"]),
    in_all(with_status(row(
        APPS,
        "v1",
        "Deployment",
        "deployments",
        true,
        &["deploy"],
    ))),
    in_all(with_status(row(
        APPS,
        "v1",
        "DaemonSet",
        "daemonsets",
        true,
        &["ds"],
    ))),
    in_all(with_status(row(
        APPS,
        "v1",
        "StatefulSet",
        "statefulsets",
        true,
        &["sts"],
    ))),
    in_all(with_status(row(
        APPS,
        "v1",
        "ReplicaSet",
        "replicasets",
        true,
        &["rs"],
    ))),
    row(RBAC, "v1", "ClusterRole", "clusterroles", false, &[]),
    row(
        RBAC,
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        &[],
    ),
    row(RBAC, "v1", "Role", "roles", true, &[]),
    row(RBAC, "v1", "RoleBinding", "rolebindings", true, &[]),
    row(
        ADMISSION,
        "v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        false,
        &[],
    ),
    row(
        ADMISSION,
        "v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        false,
        &[],
    ),
    with_status(row(
        CRD_GROUP,
        "v1",
        "CustomResourceDefinition",
        CRDS,
        false,
        &["crd", "crds"],
    )),
    with_status(row(
        NETWORKING,
        "v1",
        "Ingress",
        "ingresses",
        true,
        &["ing"],
    )),
    row(
        NETWORKING,
        "v1",
        "IngressClass",
        "ingressclasses",
        false,
        &[],
    ),
    row(
        NETWORKING,
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        &["netpol"],
    ),
    with_status(row(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        &["pdb"],
    )),
    in_all(with_status(row(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        &["hpa"],
    ))),
    row("coordination.k8s.io", "v1", "Lease", "leases", true, &[]),
    row(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        true,
        &[],
    ),
];

fn builtin_kind(b: &Builtin) -> Kind {
    Kind {
        group: b.group.to_string(),
        version: b.version.to_string(),
        kind: b.kind.to_string(),
        plural: b.plural.to_string(),
        singular: b.kind.to_ascii_lowercase(),
        namespaced: b.namespaced,
        short_names: b.short.iter().map(|s| s.to_string()).collect(),
        in_all: b.all,
        has_status: b.status,
    }
}

/// The built-in kind with this group and resource name (any version).
pub(crate) fn builtin(group: &str, plural: &str) -> Option<Kind> {
    BUILTIN
        .iter()
        .find(|b| b.group == group && b.plural == plural)
        .map(builtin_kind)
}

/// Whether `status.conditions` holds `type` with status True.
pub(crate) fn condition_true(object: &Json, kind: &str) -> bool {
    object
        .pointer("/status/conditions")
        .and_then(Json::as_array)
        .is_some_and(|conds| {
            conds
                .iter()
                .any(|c| c["type"] == kind && c["status"] == "True")
        })
}

/// The kinds a stored CRD makes servable (one per served version); none until Established.
pub(crate) fn crd_kinds(crd: &Json) -> Vec<Kind> {
    if !condition_true(crd, "Established") {
        return Vec::new();
    }
    let spec = &crd["spec"];
    let text = |v: &Json| v.as_str().unwrap_or_default().to_string();
    let names = &spec["names"];
    let kind = text(&names["kind"]);
    let singular = match text(&names["singular"]) {
        s if s.is_empty() => kind.to_ascii_lowercase(),
        s => s,
    };
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    versions
        .iter()
        .filter(|v| v["served"] != Json::Bool(false))
        .map(|v| Kind {
            group: text(&spec["group"]),
            version: text(&v["name"]),
            kind: kind.clone(),
            plural: text(&names["plural"]),
            singular: singular.clone(),
            namespaced: spec["scope"] != "Cluster",
            short_names: names["shortNames"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            in_all: names["categories"]
                .as_array()
                .is_some_and(|a| a.iter().any(|c| c == "all")),
            has_status: v.pointer("/subresources/status").is_some(),
        })
        .collect()
}

/// Every stored CRD.
fn crds(objects: &ClusterObjects) -> impl Iterator<Item = &Json> {
    objects
        .with_prefix(&format!("{CRD_GROUP}/{CRDS}/"))
        .map(|(_, stored)| &stored.object)
}

/// Every kind the cluster serves now: built-in ones first, then custom ones by CRD name.
pub(crate) fn served(objects: &ClusterObjects) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = BUILTIN.iter().map(builtin_kind).collect();
    for crd in crds(objects) {
        kinds.extend(crd_kinds(crd));
    }
    kinds
}

/// The kind served at `group/version` under `plural`.
pub(crate) fn resolve(
    objects: &ClusterObjects,
    group: &str,
    version: &str,
    plural: &str,
) -> Option<Kind> {
    if let Some(b) = BUILTIN
        .iter()
        .find(|b| b.group == group && b.version == version && b.plural == plural)
    {
        return Some(builtin_kind(b));
    }
    crds(objects)
        .flat_map(crd_kinds)
        .find(|k| k.group == group && k.version == version && k.plural == plural)
}

/// The group versions served, in discovery order: `(group, [versions])`, the preferred
/// version first.
pub(crate) fn group_versions(kinds: &[Kind]) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for k in kinds {
        match groups.iter_mut().find(|(g, _)| *g == k.group) {
            Some((_, versions)) => {
                if !versions.contains(&k.version) {
                    versions.push(k.version.clone());
                }
            }
            None => groups.push((k.group.clone(), vec![k.version.clone()])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn builtins_are_found_by_group_and_resource() {
        let d = builtin("apps", "deployments").unwrap();
        assert_eq!(d.kind, "Deployment");
        assert_eq!(d.api_version(), "apps/v1");
        assert_eq!(d.qualified(), "deployments.apps");
        assert!(d.namespaced && d.has_status);
        let ns = builtin("", "namespaces").unwrap();
        assert!(!ns.namespaced);
        assert_eq!(ns.api_version(), "v1");
        assert!(builtin("", "deployments").is_none());
    }

    #[test]
    fn crds_serve_every_served_version_once_established() {
        let mut crd = json!({"spec": {"group": "x.io", "scope": "Namespaced",
            "names": {"kind": "Foo", "plural": "foos", "shortNames": ["fo"]},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                         {"name": "v1beta1", "served": false, "storage": false}]}});
        assert!(crd_kinds(&crd).is_empty());
        crd["status"] = json!({"conditions": [{"type": "Established", "status": "True"}]});
        let kinds = crd_kinds(&crd);
        assert_eq!(kinds.len(), 1);
        assert_eq!(kinds[0].api_version(), "x.io/v1");
        assert_eq!(kinds[0].singular, "foo");
        assert!(kinds[0].has_status && kinds[0].namespaced);
    }
}
