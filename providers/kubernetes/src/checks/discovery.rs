//! Discovery: in a multi-primary mesh each primary's istiod holds a remote secret for every
//! other cluster of the mesh, registered under that cluster's name — without one, the primary
//! sees only its own endpoints and its calls stay in its own cluster.

use mesh_engine::provider::PlanFinding;

use super::model::{Cluster, ClusterKey, MeshMode, MeshModel, RemoteSecret};
use super::{FindingExt, Rule};

/// Every discovery rule.
pub fn check(model: &MeshModel<'_>) -> Vec<PlanFinding> {
    let mut out = Vec::new();
    for secret in &model.remote_secrets {
        out.extend(pointing(model, secret));
    }
    match model.mode() {
        MeshMode::MultiPrimary => out.extend(missing(model)),
        MeshMode::Federated => out.push(federated(model)),
        MeshMode::Single => {}
    }
    out.extend(duplicates(model));
    out
}

/// A remote secret that names the wrong cluster, or its own target.
fn pointing(model: &MeshModel<'_>, secret: &RemoteSecret) -> Vec<PlanFinding> {
    let (Some(target), Some(source)) = (&secret.target, &secret.source) else {
        return Vec::new();
    };
    if target == source {
        return vec![Rule::Discovery
            .error(
                &secret.address,
                "the remote secret reads the cluster it is in: istiod already watches its own \
                 cluster, so this adds nothing (and istiod ignores a secret with its own name)",
            )
            .at("source_cluster")
            .fix(
                "set source_cluster to the other cluster, whose endpoints this one should discover",
            )];
    }
    let Some(source_cluster) = model.cluster(source) else {
        return Vec::new();
    };
    let Some(control_plane) = source_cluster.control_planes.first() else {
        return Vec::new();
    };
    let (Some(registered), Some(actual)) = (
        secret.cluster_name.known(),
        control_plane.cluster_name.known(),
    ) else {
        return Vec::new();
    };
    if registered == actual {
        return Vec::new();
    }
    let clash = model
        .cluster(target)
        .and_then(|t| t.control_planes.first())
        .and_then(|cp| cp.cluster_name.known())
        .is_some_and(|own| own == registered);
    let consequence = if clash {
        "that is the target's own name, so istiod ignores the secret and never discovers the source"
            .to_string()
    } else {
        format!(
            "its endpoints are labelled topology.istio.io/cluster={registered}, so rules that \
             select \"{actual}\" (subsets, sourceLabels) miss them"
        )
    };
    vec![Rule::Discovery
        .error(
            &secret.address,
            format!(
                "the remote secret registers {} as \"{registered}\" but its control plane calls \
                 it \"{actual}\": {consequence}",
                source_cluster.name
            ),
        )
        .at("cluster_name")
        .related([control_plane.address.clone()])
        .fix(format!("set cluster_name = \"{actual}\""))]
}

/// Pairs of clusters without a remote secret.
fn missing(model: &MeshModel<'_>) -> Vec<PlanFinding> {
    if let Some(unknown) = model
        .remote_secrets
        .iter()
        .find(|s| s.target.is_none() || s.source.is_none())
    {
        return vec![Rule::Discovery.info(
            &unknown.address,
            "cannot tell which clusters this remote secret joins until its clusters are known \
             (after apply): missing remote secrets are not checked",
        )];
    }
    let mesh: Vec<&Cluster> = model
        .clusters
        .iter()
        .filter(|c| !c.control_planes.is_empty() || is_remote(model, &c.key))
        .collect();
    let mut out = Vec::new();
    for target in mesh.iter().filter(|c| !c.control_planes.is_empty()) {
        for source in mesh.iter().filter(|c| c.key != target.key) {
            let held = model.remote_secrets.iter().any(|s| {
                s.target.as_ref() == Some(&target.key) && s.source.as_ref() == Some(&source.key)
            });
            if !held {
                out.push(no_secret(target, source));
            }
        }
    }
    out
}

/// A cluster the mesh reads through remote secrets (a remote cluster without istiod, or a
/// primary).
fn is_remote(model: &MeshModel<'_>, key: &ClusterKey) -> bool {
    model
        .remote_secrets
        .iter()
        .any(|s| s.source.as_ref() == Some(key))
}

fn no_secret(target: &Cluster, source: &Cluster) -> PlanFinding {
    let name = source
        .control_planes
        .first()
        .and_then(|cp| cp.cluster_name.known())
        .unwrap_or(&source.name)
        .to_string();
    let source_ref = source.aks.clone().unwrap_or_else(|| source.name.clone());
    let target_ref = target.aks.clone().unwrap_or_else(|| target.name.clone());
    Rule::Discovery
        .error(
            &target.anchor(),
            format!(
                "istiod in {} holds no remote secret for {}: it never learns {}'s endpoints, so \
                 traffic from {} stays in {}",
                target.name, source.name, source.name, target.name, target.name
            ),
        )
        .related(source.control_planes.first().map(|c| c.address.clone()))
        .fix(format!(
            "add an istio_remote_secret with cluster = {target_ref}, source_cluster = \
             {source_ref}, cluster_name = \"{name}\""
        ))
}

/// Independent control planes: said once, as information.
fn federated(model: &MeshModel<'_>) -> PlanFinding {
    let names: Vec<&str> = model.primaries().map(|c| c.name.as_str()).collect();
    let first = model
        .primaries()
        .next()
        .map(Cluster::anchor)
        .unwrap_or_default();
    Rule::Discovery
        .info(
            &first,
            format!(
                "{} run independent control planes (no remote secrets, no east-west gateways): \
                 each discovers only its own cluster, and cross-cluster calls work only through \
                 ServiceEntries that name another cluster's gateway",
                names.join(", ")
            ),
        )
        .related(model.primaries().skip(1).map(Cluster::anchor))
}

/// Two remote secrets for one pair: they manage the same Secret.
fn duplicates(model: &MeshModel<'_>) -> Vec<PlanFinding> {
    let mut out = Vec::new();
    for (i, secret) in model.remote_secrets.iter().enumerate() {
        let (Some(target), Some(source)) = (&secret.target, &secret.source) else {
            continue;
        };
        let earlier = model.remote_secrets[..i]
            .iter()
            .find(|s| s.target.as_ref() == Some(target) && s.source.as_ref() == Some(source));
        if let Some(earlier) = earlier {
            out.push(
                Rule::Discovery
                    .warning(
                        &secret.address,
                        format!("{} already makes the same remote secret", earlier.address),
                    )
                    .related([earlier.address.clone()])
                    .fix("keep one remote secret per pair of clusters"),
            );
        }
    }
    out
}
