//! The AKS clusters behind the API: finding one by name, what the API needs to know about it
//! (networking, add-ons, version), its kubeconfig, and the objects a new cluster starts with.

use base64::Engine as _;
use ipnet::IpNet;
use serde_json::{json, Value as Json};

use super::objects::ClusterObjects;
use super::status::KubeError;
use super::writes::Writer;
use super::Env;
use crate::model::ArmId;
use crate::store::Cloud;
use crate::types::managed_cluster::cluster_token;

/// The lowercase ARM type of managed clusters.
pub(crate) const MANAGED_CLUSTERS: &str = "microsoft.containerservice/managedclusters";

/// The key of the cluster named `name` (case-insensitive; the first by ID when several share
/// the name).
pub(crate) fn find(cloud: &Cloud, name: &str) -> Option<String> {
    cloud
        .resources
        .keys()
        .find(|k| {
            ArmId::parse(k).is_some_and(|id| {
                id.arm_type().eq_ignore_ascii_case(MANAGED_CLUSTERS)
                    && id.name().eq_ignore_ascii_case(name)
            })
        })
        .cloned()
}

/// The names of every cluster, sorted.
pub(crate) fn names(cloud: &Cloud) -> Vec<String> {
    let mut names: Vec<String> = cloud
        .resources
        .values()
        .filter_map(|e| ArmId::parse(&e.resource.id))
        .filter(|id| id.arm_type().eq_ignore_ascii_case(MANAGED_CLUSTERS))
        .map(|id| id.name().to_string())
        .collect();
    names.sort();
    names
}

/// What the API needs to know about a cluster.
#[derive(Debug, Clone)]
pub(crate) struct ClusterCtx {
    /// The cluster's ARM ID (original case).
    pub id: String,
    /// Its name.
    pub name: String,
    /// `properties.provisioningState`.
    pub provisioning_state: String,
    /// Kubernetes version, e.g. `1.33.0`.
    pub version: String,
    /// Where Service cluster IPs come from.
    pub service_cidr: IpNet,
    /// Where pod IPs come from (the pod CIDR, or the node subnet with Azure CNI).
    pub pod_cidr: IpNet,
    /// The node subnet (of the first agent pool): (name, prefix). Internal load balancers
    /// take addresses from it.
    pub node_subnet: Option<(String, IpNet)>,
    /// Subnets of the node subnet's virtual network: (name, prefix) (for internal load
    /// balancers that name another subnet).
    pub vnet_subnets: Vec<(String, IpNet)>,
    /// The node subnet's virtual network (its lowercase ID), what pods route over.
    pub node_vnet: Option<String>,
    /// Nodes in all pools.
    pub nodes: u64,
    /// The name pods are scheduled on.
    pub node_name: String,
    /// Whether the Key Vault secrets provider (CSI) add-on is on.
    pub csi_addon: bool,
    /// The API's URL: `{base_url}/aks/{name}`.
    pub server: String,
    /// The CA PEM clients trust (HTTPS on).
    pub ca_pem: Option<String>,
    /// Service-account token issuer.
    pub issuer: String,
    /// Simulated latency factor.
    pub time_factor: f64,
    /// The request's time.
    pub now: f64,
}

impl ClusterCtx {
    /// When something that takes `seconds` on a real cluster is done, from now.
    pub fn after(&self, seconds: f64) -> f64 {
        self.now + seconds * self.time_factor
    }
}

fn text(v: Option<&Json>) -> String {
    v.and_then(Json::as_str).unwrap_or_default().to_string()
}

fn subnet_prefix(body: &Json) -> Option<IpNet> {
    let props = body.get("properties")?;
    let prefix = props
        .get("addressPrefix")
        .and_then(Json::as_str)
        .or_else(|| props.pointer("/addressPrefixes/0").and_then(Json::as_str))?;
    prefix.parse().ok()
}

/// The cluster as the ARM API shows it now (with its agent pools).
fn cluster_view(cloud: &Cloud, env: &Env, key: &str) -> Option<Json> {
    let entry = cloud.resources.get(key)?;
    let view = cloud.view(env.base_url);
    Some(match env.types.get(MANAGED_CLUSTERS) {
        Some(behavior) => behavior.view(&view, &entry.resource),
        None => entry.resource.body.clone(),
    })
}

/// The facts about the cluster stored under `key`.
pub(crate) fn context(cloud: &Cloud, env: &Env, key: &str, now: f64) -> Option<ClusterCtx> {
    let entry = cloud.resources.get(key)?;
    let body = cluster_view(cloud, env, key)?;
    let props = body.get("properties").cloned().unwrap_or(json!({}));
    let id = entry.resource.id.clone();
    let name = ArmId::parse(&id).map(|i| i.name().to_string())?;
    let network = props.get("networkProfile").cloned().unwrap_or(json!({}));
    let cidr = |field: &str, default: &str| -> IpNet {
        text(network.get(field))
            .parse()
            .unwrap_or_else(|_| default.parse().unwrap_or_default())
    };
    let pools = props
        .get("agentPoolProfiles")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let subnet_id = pools
        .first()
        .and_then(|p| p.get("vnetSubnetID"))
        .and_then(Json::as_str)
        .and_then(ArmId::parse);
    let node_subnet = subnet_id.as_ref().and_then(|sid| {
        let subnet = cloud.resources.get(&sid.key())?;
        Some((
            sid.name().to_string(),
            subnet_prefix(&subnet.resource.body)?,
        ))
    });
    let vnet_subnets = subnet_id
        .as_ref()
        .and_then(ArmId::parent)
        .map(|vnet| {
            cloud
                .descendants(&vnet.key())
                .iter()
                .filter_map(|k| {
                    let sid = ArmId::parse(k)?;
                    let is_subnet = sid
                        .arm_type()
                        .eq_ignore_ascii_case("Microsoft.Network/virtualNetworks/subnets");
                    let entry = cloud.resources.get(k)?;
                    is_subnet.then(|| {
                        Some((sid.name().to_string(), subnet_prefix(&entry.resource.body)?))
                    })?
                })
                .collect()
        })
        .unwrap_or_default();
    let azure_cni = text(network.get("networkPlugin")) == "azure"
        && text(network.get("networkPluginMode")) != "overlay";
    let pod_cidr = match (&node_subnet, azure_cni) {
        (Some((_, prefix)), true) => *prefix,
        _ => cidr("podCidr", "10.244.0.0/16"),
    };
    let first_pool = pools
        .first()
        .and_then(|p| p.get("name"))
        .and_then(Json::as_str)
        .unwrap_or("nodepool1");
    let server = format!("{}/aks/{name}", env.base_url.trim_end_matches('/'));
    let issuer = props
        .pointer("/oidcIssuerProfile/issuerURL")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| "https://kubernetes.default.svc.cluster.local".to_string());
    Some(ClusterCtx {
        provisioning_state: text(props.get("provisioningState")),
        version: match text(props.get("currentKubernetesVersion")) {
            v if v.is_empty() => "1.33.0".to_string(),
            v => v,
        },
        service_cidr: cidr("serviceCidr", "10.0.0.0/16"),
        pod_cidr,
        node_subnet,
        vnet_subnets,
        node_vnet: subnet_id.as_ref().and_then(ArmId::parent).map(|v| v.key()),
        nodes: pools
            .iter()
            .map(|p| p.get("count").and_then(Json::as_u64).unwrap_or(1))
            .sum::<u64>()
            .max(1),
        node_name: format!("aks-{first_pool}-00000000-vmss000000"),
        csi_addon: props.pointer("/addonProfiles/azureKeyvaultSecretsProvider/enabled")
            == Some(&json!(true)),
        server,
        ca_pem: env.ca_pem.map(str::to_string),
        issuer,
        time_factor: env.time_factor,
        now,
        id,
        name,
    })
}

/// The cluster's kubeconfig as `listCluster{Admin,User}Credential` hands it out (with the CA
/// when HTTPS is on); `None` when the cluster does not give it (local accounts disabled).
pub(crate) fn kubeconfig(cloud: &Cloud, env: &Env, key: &str, admin: bool) -> Option<String> {
    let entry = cloud.resources.get(key)?;
    let behavior = env.types.get(MANAGED_CLUSTERS)?;
    let id = ArmId::parse(&entry.resource.id)?;
    let action = if admin {
        "listClusterAdminCredential"
    } else {
        "listClusterUserCredential"
    };
    let view = cloud.view(env.base_url);
    let answer = behavior
        .action(&view, &id, &entry.resource, action, None)?
        .ok()?;
    let encoded = answer.pointer("/kubeconfigs/0/value")?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let config = String::from_utf8(bytes).ok()?;
    Some(match env.ca_pem {
        Some(ca) => with_certificate_authority(&config, ca),
        None => config,
    })
}

/// Whether `token` is one of the static kubeconfig tokens of the cluster stored at `key`, as
/// listClusterUserCredential and listClusterAdminCredential hand them out (the admin one only
/// while local accounts are enabled, as that action refuses otherwise). Compared directly:
/// rendering both kubeconfigs on every request is most of the API's time.
pub(crate) fn is_static_token(cloud: &Cloud, key: &str, token: &str) -> bool {
    let Some(entry) = cloud.resources.get(key) else {
        return false;
    };
    let cluster = &entry.resource;
    let local_accounts =
        cluster.body.pointer("/properties/disableLocalAccounts") != Some(&json!(true));
    cluster_token(cluster, "clusterUser") == token
        || (local_accounts && cluster_token(cluster, "clusterAdmin") == token)
}

/// A kubeconfig whose clusters trust `ca_pem` (`certificate-authority-data`).
pub(crate) fn with_certificate_authority(config: &str, ca_pem: &str) -> String {
    let Ok(mut doc) = serde_yaml::from_str::<Json>(config) else {
        return config.to_string();
    };
    let data = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let Some(clusters) = doc.get_mut("clusters").and_then(Json::as_array_mut) else {
        return config.to_string();
    };
    for c in clusters {
        if let Some(cluster) = c.get_mut("cluster").and_then(Json::as_object_mut) {
            cluster.insert("certificate-authority-data".into(), json!(data));
        }
    }
    serde_yaml::to_string(&doc).unwrap_or_else(|_| config.to_string())
}

/// The CRDs of the Key Vault secrets provider add-on.
fn csi_crds() -> Vec<Json> {
    let schema = json!({"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}});
    let crd = |plural: &str, kind: &str, versions: Json| {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.secrets-store.csi.x-k8s.io"),
                "labels": {"kubernetes.io/cluster-service": "true", "addonmanager.kubernetes.io/mode": "Reconcile"}},
            "spec": {
                "group": "secrets-store.csi.x-k8s.io",
                "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural, "singular": kind.to_ascii_lowercase()},
                "scope": "Namespaced",
                "versions": versions,
            },
        })
    };
    let version = |name: &str, storage: bool| json!({"name": name, "served": true, "storage": storage, "schema": schema, "subresources": {"status": {}}});
    vec![
        crd(
            "secretproviderclasses",
            "SecretProviderClass",
            json!([version("v1", true), version("v1alpha1", false)]),
        ),
        crd(
            "secretproviderclasspodstatuses",
            "SecretProviderClassPodStatus",
            json!([version("v1", true), version("v1alpha1", false)]),
        ),
    ]
}

fn create_missing(w: &mut Writer<'_>, group: &str, plural: &str, object: Json) {
    let Some(kind) = super::kinds::builtin(group, plural) else {
        return;
    };
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Json::as_str)
        .map(str::to_string);
    let name = super::objects::meta_str(&object, "name").to_string();
    let key = super::objects::key(group, plural, namespace.as_deref().unwrap_or(""), &name);
    if w.objects.get(&key).is_none() {
        let _ = w.create(&kind, namespace.as_deref(), object, Default::default());
    }
}

/// Make sure the cluster under `key` has its API objects: on first use the namespaces every
/// cluster has and the `kubernetes` Service; the CSI CRDs whenever the add-on is on.
pub(crate) fn ensure(cloud: &mut Cloud, ctx: &ClusterCtx, key: &str) -> Result<(), KubeError> {
    let fresh = !cloud.kube.contains_key(key);
    let objects = cloud
        .kube
        .entry(key.to_string())
        .or_insert_with(|| ClusterObjects::new(&ctx.id));
    let had_csi = objects
        .get(&super::objects::key(
            super::kinds::CRD_GROUP,
            super::kinds::CRDS,
            "",
            "secretproviderclasses.secrets-store.csi.x-k8s.io",
        ))
        .is_some();
    if !fresh && (had_csi || !ctx.csi_addon) {
        return Ok(());
    }
    let mut w = Writer {
        objects,
        cluster: ctx,
        dry_run: false,
    };
    if fresh {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            create_missing(&mut w, "", "namespaces", object);
        }
        let service = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}]}});
        create_missing(&mut w, "", "services", service);
    }
    if ctx.csi_addon {
        for crd in csi_crds() {
            create_missing(&mut w, super::kinds::CRD_GROUP, super::kinds::CRDS, crd);
        }
    }
    cloud.dirty = true;
    Ok(())
}
