//! Identity: one meshID across the mesh, a unique clusterName per cluster (and one per
//! cluster: its revisions agree), and istio-system labelled `topology.istio.io/network` with
//! the network its control plane is on.

use std::collections::BTreeMap;

use mesh_engine::provider::PlanFinding;

use super::model::{Cluster, MeshModel};
use super::values::{json_strings, Text};
use super::{FindingExt, Rule};
use crate::istio::ISTIO_NAMESPACE;

/// The namespace label that puts a cluster's workloads on a network.
pub const NETWORK_LABEL: &str = "topology.istio.io/network";

/// Every identity rule.
pub fn check(model: &MeshModel<'_>) -> Vec<PlanFinding> {
    let mut out = mesh_ids(model);
    out.extend(cluster_names(model));
    for cluster in model.primaries() {
        out.extend(network_label(cluster));
    }
    out
}

/// Control planes whose meshID differs from the most common one.
fn mesh_ids(model: &MeshModel<'_>) -> Vec<PlanFinding> {
    let mut by_id: BTreeMap<&str, Vec<(&Cluster, &str)>> = BTreeMap::new();
    for cluster in model.primaries() {
        for cp in &cluster.control_planes {
            if let Some(id) = cp.mesh_id.known() {
                by_id.entry(id).or_default().push((cluster, &cp.address));
            }
        }
    }
    if by_id.len() < 2 {
        return Vec::new();
    }
    let (majority, holders) = by_id
        .iter()
        .max_by_key(|(_, v)| v.len())
        .map(|(k, v)| (*k, v.clone()))
        .unwrap_or_default();
    let holders: Vec<String> = holders.iter().map(|(c, _)| c.name.clone()).collect();
    let mut out = Vec::new();
    for (id, control_planes) in &by_id {
        if *id == majority {
            continue;
        }
        for (cluster, address) in control_planes {
            out.push(
                Rule::Identity
                    .error(
                        address,
                        format!(
                            "{} has meshID \"{id}\" but {} have \"{majority}\": one mesh has one \
                             meshID, and control planes of different meshes do not share \
                             endpoints or trust",
                            cluster.name,
                            holders.join(", ")
                        ),
                    )
                    .at("mesh_id")
                    .fix(format!("set mesh_id = \"{majority}\"")),
            );
        }
    }
    out
}

/// Two clusters with one name, or one cluster with two.
fn cluster_names(model: &MeshModel<'_>) -> Vec<PlanFinding> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, (&Cluster, &str)> = BTreeMap::new();
    for cluster in model.primaries() {
        let names: Vec<(&str, &str)> = cluster
            .control_planes
            .iter()
            .filter_map(|cp| Some((cp.cluster_name.known()?, cp.address.as_str())))
            .collect();
        if let Some((first, _)) = names.first() {
            for (name, address) in names.iter().filter(|(n, _)| n != first) {
                out.push(
                    Rule::Identity
                        .error(
                            address,
                            format!(
                                "two revisions in one cluster call it \"{first}\" and \"{name}\": \
                                 istiod's CLUSTER_ID names the cluster, not the revision"
                            ),
                        )
                        .at("cluster_name")
                        .related(cluster.control_planes.iter().map(|c| c.address.clone()))
                        .fix(format!("set cluster_name = \"{first}\" on every revision")),
                );
            }
        }
        let Some((name, address)) = names.first() else {
            continue;
        };
        if let Some((other, other_address)) = seen.get(*name) {
            out.push(
                Rule::Identity
                    .error(
                        address,
                        format!(
                            "clusterName \"{name}\" is also used by another cluster ({}): istiod \
                             ignores a remote cluster with its own name, and endpoints of both \
                             carry the same topology.istio.io/cluster",
                            other.aks.as_deref().unwrap_or(other_address)
                        ),
                    )
                    .at("cluster_name")
                    .related([other_address.to_string()])
                    .fix("give every cluster a unique cluster_name"),
            );
            continue;
        }
        seen.insert(name.to_string(), (cluster, address));
    }
    out
}

/// istio-system's network label against the control plane's network.
fn network_label(cluster: &Cluster) -> Vec<PlanFinding> {
    let Some(control_plane) = cluster.control_planes.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for other in cluster.control_planes.iter().skip(1) {
        if other.network.known() != control_plane.network.known() && !other.network.is_unknown() {
            out.push(
                Rule::Identity
                    .error(
                        &other.address,
                        format!(
                            "two revisions in {} put the cluster on different networks",
                            cluster.name
                        ),
                    )
                    .at("network")
                    .related([control_plane.address.clone()])
                    .fix("give every revision of a cluster the same network"),
            );
        }
    }
    let network = match &control_plane.network {
        Text::Known(n) => Some(n.as_str()),
        Text::Absent => None,
        Text::Unknown(_) => return out,
    };
    let namespace = cluster
        .objects_of("Namespace")
        .find(|o| o.name() == ISTIO_NAMESPACE);
    let Some(namespace) = namespace else {
        if network.is_some() && cluster.opaque.is_empty() {
            out.push(
                Rule::Identity
                    .warning(
                        &control_plane.address,
                        format!(
                            "the spec does not declare istio-system in {}, so nothing labels it \
                             {NETWORK_LABEL}={}: its workloads' network then depends on \
                             labels made outside mesh",
                            cluster.name,
                            network.unwrap_or_default()
                        ),
                    )
                    .fix(format!(
                        "declare kubernetes_namespace \"istio-system\" with labels = {{ \"{NETWORK_LABEL}\" = \"{}\" }}",
                        network.unwrap_or_default()
                    )),
            );
        }
        return out;
    };
    let labels = json_strings(namespace.json.pointer("/metadata/labels"));
    let label = labels.get(NETWORK_LABEL).map(String::as_str);
    if label.is_some_and(mesh_engine::provider::has_placeholder) {
        return out;
    }
    match (network, label) {
        (Some(network), None) => out.push(
            Rule::Identity
                .error(
                    &namespace.address,
                    format!(
                        "istio-system in {} has no {NETWORK_LABEL} label but its control plane is \
                         on network \"{network}\": workloads are registered on no network, so \
                         other networks try their pod IPs directly instead of the east-west \
                         gateway",
                        cluster.name
                    ),
                )
                .at("labels")
                .related([control_plane.address.clone()])
                .fix(format!(
                    "label istio-system {NETWORK_LABEL} = \"{network}\""
                )),
        ),
        (Some(network), Some(label)) if label != network => out.push(
            Rule::Identity
                .error(
                    &namespace.address,
                    format!(
                        "istio-system in {} is labelled {NETWORK_LABEL}={label} but its control \
                         plane is on network \"{network}\": endpoints are announced on the wrong \
                         network",
                        cluster.name
                    ),
                )
                .at("labels")
                .related([control_plane.address.clone()])
                .fix(format!(
                    "make the label and the control plane's network agree (\"{network}\")"
                )),
        ),
        (None, Some(label)) => out.push(
            Rule::Identity
                .warning(
                    &namespace.address,
                    format!(
                        "istio-system in {} is labelled {NETWORK_LABEL}={label} but its control \
                         plane sets no network",
                        cluster.name
                    ),
                )
                .related([control_plane.address.clone()])
                .fix(format!("set network = \"{label}\" on the control plane")),
        ),
        _ => {}
    }
    out
}
