//! Injection: a namespace labelled `istio.io/rev=R` gets sidecars only when revision R runs
//! in its cluster; `istio-injection=enabled` only when a revision there is the default one.
//! Namespaces with workloads but no label run them without sidecars, outside the mesh.

use mesh_engine::provider::{has_placeholder, PlanFinding};

use super::model::{Cluster, MeshModel, Object};
use super::registry::pod_labels;
use super::values::json_strings;
use super::{FindingExt, Rule};
use crate::istio::{ISTIO_NAMESPACE, REVISION_LABEL};

/// The label of the default revision's injection.
const INJECTION_LABEL: &str = "istio-injection";

/// Namespaces that are not workload namespaces.
const SYSTEM_NAMESPACES: [&str; 4] = [
    ISTIO_NAMESPACE,
    "kube-system",
    "kube-public",
    "kube-node-lease",
];

/// Every injection rule.
pub fn check(model: &MeshModel<'_>) -> Vec<PlanFinding> {
    let mut out = Vec::new();
    for cluster in &model.clusters {
        let mesh_cluster = !cluster.control_planes.is_empty();
        out.extend(default_revisions(cluster));
        for namespace in cluster.objects_of("Namespace") {
            if SYSTEM_NAMESPACES.contains(&namespace.name()) {
                continue;
            }
            let labels = json_strings(namespace.json.pointer("/metadata/labels"));
            let injection = labels.get(INJECTION_LABEL).map(String::as_str);
            let revision = labels.get(REVISION_LABEL).map(String::as_str);
            if injection.or(revision).is_some_and(has_placeholder) {
                continue;
            }
            match (injection, revision) {
                (Some("enabled"), Some(rev)) => out.push(both_labels(cluster, namespace, rev)),
                (Some("enabled"), None) => out.extend(default_injection(cluster, namespace)),
                (None, Some(rev)) => {
                    out.extend(revision_exists(cluster, namespace, rev, "namespace"))
                }
                (None, None) if mesh_cluster => out.extend(unlabelled(cluster, namespace)),
                _ => {}
            }
        }
        for workload in cluster.objects.iter() {
            let Some(labels) = pod_labels(workload) else {
                continue;
            };
            if let Some(rev) = labels.get(REVISION_LABEL).filter(|r| !has_placeholder(r)) {
                out.extend(revision_exists(cluster, workload, rev, "workload"));
            }
        }
    }
    out
}

fn revisions(cluster: &Cluster) -> Vec<&str> {
    cluster
        .control_planes
        .iter()
        .filter_map(|cp| cp.revision.known())
        .collect()
}

fn revision_exists(
    cluster: &Cluster,
    object: &Object,
    rev: &str,
    what: &str,
) -> Option<PlanFinding> {
    if cluster
        .control_planes
        .iter()
        .any(|cp| cp.revision.is_unknown())
    {
        return None;
    }
    let known = revisions(cluster);
    if known.contains(&rev) {
        return None;
    }
    let there = if known.is_empty() {
        "no Istio control plane runs there".to_string()
    } else {
        format!("its revisions are {}", known.join(", "))
    };
    let subject = if what == "namespace" {
        format!("namespace {}", object.name())
    } else {
        format!("{} {}/{}", object.kind(), object.namespace(), object.name())
    };
    let fix = match known.first() {
        Some(first) => format!(
            "label it {REVISION_LABEL}={first}, or install revision {rev} in {}",
            cluster.name
        ),
        None => format!(
            "install an istio_control_plane with revision {rev} in {}",
            cluster.name
        ),
    };
    Some(
        Rule::Injection
            .error(
                &object.address,
                format!(
                    "{subject} in {} asks for revision {rev} ({REVISION_LABEL}={rev}) but {there}: \
                     no webhook injects its pods, so they run without sidecars, outside the mesh",
                    cluster.name
                ),
            )
            .at("labels")
            .related(cluster.control_planes.iter().map(|c| c.address.clone()))
            .fix(fix),
    )
}

fn default_injection(cluster: &Cluster, namespace: &Object) -> Option<PlanFinding> {
    if cluster.control_planes.iter().any(|cp| cp.default_revision) {
        return None;
    }
    let (there, fix) = if cluster.control_planes.is_empty() {
        (
            "no Istio control plane runs there".to_string(),
            format!("install an istio_control_plane in {}", cluster.name),
        )
    } else {
        (
            format!(
                "none of its revisions ({}) is the default revision",
                revisions(cluster).join(", ")
            ),
            "set default_revision = true on one control plane, or label the namespace istio.io/rev"
                .to_string(),
        )
    };
    Some(
        Rule::Injection
            .error(
                &namespace.address,
                format!(
                    "namespace {} in {} is labelled {INJECTION_LABEL}=enabled but {there}: its pods \
                     run without sidecars",
                    namespace.name(),
                    cluster.name
                ),
            )
            .at("labels")
            .related(cluster.control_planes.iter().map(|c| c.address.clone()))
            .fix(fix),
    )
}

fn both_labels(cluster: &Cluster, namespace: &Object, rev: &str) -> PlanFinding {
    Rule::Injection
        .warning(
            &namespace.address,
            format!(
                "namespace {} in {} has both {INJECTION_LABEL}=enabled and {REVISION_LABEL}={rev}: \
                 {INJECTION_LABEL} wins, so the default revision injects, not {rev}",
                namespace.name(),
                cluster.name
            ),
        )
        .at("labels")
        .fix("keep one of the two labels")
}

/// A namespace with workloads in a mesh cluster but no injection label.
fn unlabelled(cluster: &Cluster, namespace: &Object) -> Option<PlanFinding> {
    let workloads: Vec<&Object> = cluster
        .objects
        .iter()
        .filter(|o| o.namespace() == namespace.name() && pod_labels(o).is_some())
        .collect();
    let first = workloads.first()?;
    Some(
        Rule::Injection
            .warning(
                &namespace.address,
                format!(
                    "namespace {} in {} has workloads ({} {}) but no {INJECTION_LABEL} or \
                     {REVISION_LABEL} label: they run without sidecars, outside the mesh",
                    namespace.name(),
                    cluster.name,
                    first.kind(),
                    first.name()
                ),
            )
            .related(workloads.iter().map(|w| w.address.clone()))
            .fix(format!(
                "label the namespace {REVISION_LABEL} = \"{}\" (or {INJECTION_LABEL} = \"enabled\")",
                revisions(cluster).first().unwrap_or(&"REVISION")
            )),
    )
}

/// Two revisions of one cluster that both claim `istio-injection=enabled`.
fn default_revisions(cluster: &Cluster) -> Option<PlanFinding> {
    let defaults: Vec<&str> = cluster
        .control_planes
        .iter()
        .filter(|cp| cp.default_revision)
        .map(|cp| cp.address.as_str())
        .collect();
    if defaults.len() < 2 {
        return None;
    }
    Some(
        Rule::Injection
            .warning(
                defaults[1],
                format!(
                    "{} revisions of {} are the default revision: both webhooks inject pods of \
                     {INJECTION_LABEL}=enabled namespaces",
                    defaults.len(),
                    cluster.name
                ),
            )
            .related(defaults.iter().map(|d| d.to_string()))
            .fix("set default_revision = false on all but one"),
    )
}
