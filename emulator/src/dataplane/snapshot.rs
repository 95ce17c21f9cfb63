//! The [`MeshView`] of the local cloud at one moment: every AKS cluster whose Kubernetes API
//! has objects, the remote secrets its istiod holds (checked as istiod would check them: the
//! server must be a cluster of this cloud whose API accepts the token), its CA (reading Key
//! Vault for a SecretProviderClass), and the virtual-network peerings between node networks.

use base64::Engine as _;
use serde_json::Value as Json;

use super::trust;
use super::view::{label, meta, ClusterView, MeshView, Objects, RemoteLink, ISTIO_NAMESPACE};
use crate::kube::{cluster, controllers, Env};
use crate::model::ArmId;
use crate::store::Cloud;

/// The store-key prefixes of the kinds traffic depends on.
const PREFIXES: &[&str] = &[
    "/namespaces/",
    "/pods/",
    "/services/",
    "/secrets/",
    "/configmaps/",
    "apps/deployments/",
    "networking.istio.io/",
    "secrets-store.csi.x-k8s.io/secretproviderclasses/",
];

const PEERINGS: &str = "microsoft.network/virtualnetworks/virtualnetworkpeerings";

/// The view of every cluster of `cloud`.
pub(crate) fn snapshot(cloud: &Cloud, env: &Env<'_>, now: f64) -> MeshView {
    let mut view = MeshView::default();
    let mut keys: Vec<(String, String)> = Vec::new();
    for (key, objects) in &cloud.kube {
        let Some(ctx) = cluster::context(cloud, env, key, now) else {
            continue;
        };
        let mut found = Objects::default();
        for prefix in PREFIXES {
            for (_, stored) in objects.with_prefix(prefix) {
                found.add(stored.object.clone());
            }
        }
        view.clusters.push(ClusterView {
            name: ctx.name.clone(),
            vnet: ctx.node_vnet.clone(),
            objects: found,
            remotes: Vec::new(),
            ca: None,
        });
        keys.push((key.clone(), ctx.provisioning_state));
    }
    for index in 0..view.clusters.len() {
        let remotes = remote_links(cloud, &view, &keys, index, now);
        let ca = trust::cluster_ca(&view.clusters[index], &|vault, name| {
            vault_secret(cloud, vault, name)
        });
        let cluster = &mut view.clusters[index];
        cluster.remotes = remotes;
        cluster.ca = ca;
    }
    view.peerings = peerings(cloud);
    view
}

/// Connected peerings as (local VNet, remote VNet) pairs.
fn peerings(cloud: &Cloud) -> std::collections::BTreeSet<(String, String)> {
    cloud
        .resources
        .iter()
        .filter_map(|(key, entry)| {
            let id = ArmId::parse(key)?;
            if !id.arm_type().eq_ignore_ascii_case(PEERINGS) {
                return None;
            }
            let props = &entry.resource.body["properties"];
            if props["peeringState"] != "Connected" {
                return None;
            }
            let remote = ArmId::parse(props.pointer("/remoteVirtualNetwork/id")?.as_str()?)?;
            Some((id.parent()?.key(), remote.key()))
        })
        .collect()
}

/// The current value of a Key Vault secret.
fn vault_secret(cloud: &Cloud, vault: &str, name: &str) -> Option<String> {
    let data = cloud.vaults.get(&vault.to_ascii_lowercase())?;
    let item = data.secrets.get(&name.to_ascii_lowercase())?;
    Some(item.versions.last()?.value.clone())
}

/// What istiod of cluster `index` makes of each of its remote secrets.
fn remote_links(
    cloud: &Cloud,
    view: &MeshView,
    keys: &[(String, String)],
    index: usize,
    now: f64,
) -> Vec<RemoteLink> {
    let cluster = &view.clusters[index];
    let mut links = Vec::new();
    for secret in &cluster.objects.secrets {
        let remote = meta(secret, "namespace") == ISTIO_NAMESPACE
            && label(secret, "istio/multiCluster") == Some("true");
        if !remote {
            continue;
        }
        let Some(data) = secret["data"].as_object() else {
            continue;
        };
        for (cluster_id, encoded) in data {
            let target = decode(encoded)
                .ok_or_else(|| "its kubeconfig cannot be read".to_string())
                .and_then(|config| reach(cloud, view, keys, &config, now));
            links.push(RemoteLink {
                secret: format!("{ISTIO_NAMESPACE}/{}", meta(secret, "name")),
                cluster_id: cluster_id.clone(),
                target,
            });
        }
    }
    links
}

fn decode(encoded: &Json) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_str()?)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// The cluster a remote kubeconfig reaches with its token, or why it does not.
fn reach(
    cloud: &Cloud,
    view: &MeshView,
    keys: &[(String, String)],
    config: &str,
    now: f64,
) -> Result<usize, String> {
    let doc: Json =
        serde_yaml::from_str(config).map_err(|_| "its kubeconfig is not YAML".to_string())?;
    let server = doc
        .pointer("/clusters/0/cluster/server")
        .and_then(Json::as_str)
        .ok_or_else(|| "its kubeconfig names no server".to_string())?;
    let token = doc
        .pointer("/users/0/user/token")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let Some(name) = local_cluster_name(server) else {
        return Err(format!("{server} is not reachable from the local cloud"));
    };
    let index = view
        .find(&name)
        .ok_or_else(|| format!("{server}: the local cloud has no cluster {name}"))?;
    let (key, state) = &keys[index];
    if state != "Succeeded" {
        return Err(format!("the API of {name} is not serving ({state})"));
    }
    let static_token = cluster::is_static_token(cloud, key, token);
    let issued = cloud
        .kube
        .get(key)
        .and_then(|objects| controllers::verify_token(objects, token, now))
        .is_some();
    if static_token || issued {
        Ok(index)
    } else {
        Err(format!("the API of {name} does not accept its token"))
    }
}

/// The cluster name of a server URL of this local cloud (`https://127.0.0.1:PORT/aks/NAME`).
/// The port is not compared: a persisted cloud may serve on another port than when the
/// secret was made, while a real cluster's API keeps its address.
fn local_cluster_name(server: &str) -> Option<String> {
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))?;
    let (authority, path) = rest.split_once('/')?;
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if !matches!(host, "127.0.0.1" | "localhost") {
        return None;
    }
    let name = path.strip_prefix("aks/")?.trim_end_matches('/');
    (!name.is_empty() && !name.contains('/')).then(|| crate::kube::decode_query(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_of_the_local_cloud_name_their_cluster() {
        assert_eq!(
            local_cluster_name("https://127.0.0.1:23456/aks/aks-cluster2-mn").as_deref(),
            Some("aks-cluster2-mn")
        );
        assert_eq!(
            local_cluster_name("https://localhost/aks/two/").as_deref(),
            Some("two")
        );
        assert_eq!(local_cluster_name("https://10.0.0.1/aks/two"), None);
        assert_eq!(local_cluster_name("https://127.0.0.1:1/api"), None);
    }
}
