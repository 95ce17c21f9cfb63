//! Microsoft.ContainerService/managedClusters, with listClusterAdminCredential and
//! listClusterUserCredential.
//!
//! A cluster gets an FQDN, a node resource group name, a kubelet identity and add-on
//! identities, an OIDC issuer URL when enabled; its kubeconfig points at
//! `{base_url}/aks/{clusterName}` (where the local cloud may serve a Kubernetes API) with a
//! token derived from the cluster ([`cluster_token`]).

use base64::Engine as _;
use serde_json::{json, Value as Json};

use super::agent_pool::{
    cluster_idle, cluster_pools, normalize_pool, pool_named, subnet_network, POOLS,
};
use super::subnet::net::{location, same_location, stable_hash, tags};
use super::user_assigned_identity as uai;
use super::{Change, CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};
use profiles::{addons, identity, managed_identity, network_profile, service_mesh};

mod profiles;

/// Managed clusters. The pools of `agentPoolProfiles` are stored as agent pool child
/// resources (created or updated with the cluster; a PUT that leaves a pool out does not
/// delete it), and a cluster's body lists every pool it has now.
pub struct ManagedCluster;

/// Pool properties as stored in an agent pool resource: without name and provisioningState.
fn pool_properties(profile: &Json) -> Json {
    let mut p = profile.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("name");
        o.remove("provisioningState");
    }
    p
}

fn bad(message: impl Into<String>) -> ArmErrorBody {
    ArmErrorBody::new(400, "InvalidParameter", message)
}

fn immutable(field: &str) -> ArmErrorBody {
    ArmErrorBody::new(
        400,
        "PropertyChangeNotAllowed",
        format!("Changing property '{field}' is not allowed."),
    )
}

/// The bearer token of a cluster's kubeconfig (`user` is `clusterAdmin` or `clusterUser`):
/// derived from the cluster's ID and FQDN, so it is stable for the cluster's life and changes
/// when the cluster is recreated.
pub(crate) fn cluster_token(cluster: &StoredResource, user: &str) -> String {
    let fqdn = cluster
        .body
        .pointer("/properties/fqdn")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let seed = format!("{}|{fqdn}|{user}", cluster.id.to_ascii_lowercase());
    (0..4)
        .map(|i| format!("{:016x}", stable_hash(&format!("{seed}|{i}"))))
        .collect()
}

fn kubeconfig(base_url: &str, id: &ArmId, cluster: &StoredResource, admin: bool) -> String {
    let name = id.name();
    let rg = id.resource_group.as_deref().unwrap_or_default();
    let (user_kind, context) = if admin {
        ("clusterAdmin", format!("{name}-admin"))
    } else {
        ("clusterUser", name.to_string())
    };
    let user = format!("{user_kind}_{rg}_{name}");
    let token = cluster_token(cluster, user_kind);
    let server = format!("{}/aks/{name}", base_url.trim_end_matches('/'));
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {server}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: {user}\n  name: {context}\ncurrent-context: {context}\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    token: {token}\n"
    )
}

fn valid_label(s: &str, max: usize, underscores: bool) -> bool {
    (1..=max).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || (underscores && c == '_'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn version_tuple(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = match parts.next() {
        Some(p) => p?,
        None => 0,
    };
    parts.next().is_none().then_some((major, minor, patch))
}

impl ResourceBehavior for ManagedCluster {
    fn arm_type(&self) -> &'static str {
        "Microsoft.ContainerService/managedClusters"
    }

    fn provisioning_seconds(&self) -> f64 {
        300.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let name = id.name();
        if !valid_label(name, 63, true) {
            return Err(bad(format!("The managed cluster name '{name}' is invalid: use 1-63 letters, digits, hyphens and underscores, starting and ending with a letter or digit.")));
        }
        if existing.is_some() {
            let pools = cloud
                .children(id)
                .into_iter()
                .filter(|c| c.id.to_ascii_lowercase().contains("/agentpools/"));
            for pool in pools {
                cluster_idle(pool, name)?;
            }
        }
        let location = location(&body)?;
        let old = existing.map(|e| &e.body);
        same_location(old, &location, id)?;
        let props = body.get("properties").cloned().unwrap_or(json!({}));
        let old_props = old.and_then(|o| o.get("properties"));
        let old_str = |k: &str| {
            old_props
                .and_then(|p| p.get(k))
                .and_then(Json::as_str)
                .map(str::to_string)
        };
        let given = |k: &str| {
            props
                .get(k)
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let rg = id.resource_group.clone().unwrap_or_default();
        let sub = id.subscription.clone();
        // DNS prefix and node resource group: fixed at creation.
        let dns_prefix = given("dnsPrefix")
            .or_else(|| old_str("dnsPrefix"))
            .unwrap_or_else(|| format!("{name}-dns"));
        if !valid_label(&dns_prefix, 54, false) {
            return Err(bad(format!("The DNS prefix '{dns_prefix}' is invalid: use 1-54 letters, digits and hyphens, starting and ending with a letter or digit.")));
        }
        let node_rg = given("nodeResourceGroup")
            .or_else(|| old_str("nodeResourceGroup"))
            .unwrap_or_else(|| format!("MC_{rg}_{name}_{location}"));
        for (field, new) in [("dnsPrefix", &dns_prefix), ("nodeResourceGroup", &node_rg)] {
            if old_str(field).is_some_and(|o| !o.eq_ignore_ascii_case(new)) {
                return Err(immutable(field));
            }
        }
        // Kubernetes version: upgrades only.
        let version = given("kubernetesVersion")
            .or_else(|| old_str("kubernetesVersion"))
            .unwrap_or_else(|| "1.33".into());
        let parsed = version_tuple(&version)
            .filter(|v| v.0 == 1)
            .ok_or_else(|| {
                ArmErrorBody::new(
                    400,
                    "K8sVersionNotSupported",
                    format!("Version {version} is not supported in this region."),
                )
            })?;
        if let Some(before) = old_str("kubernetesVersion").and_then(|v| version_tuple(&v)) {
            if (parsed.0, parsed.1) < (before.0, before.1) {
                return Err(ArmErrorBody::new(400, "NotAllowedDowngrade", format!("Downgrading the Kubernetes version of managed cluster '{name}' to {version} is not allowed.")));
            }
        }
        // Agent pools: at least one System pool, all in one virtual network.
        let pools_given = props
            .get("agentPoolProfiles")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let old_pools = existing
            .map(|e| cluster_pools(cloud, e))
            .unwrap_or_default();
        if !pools_given
            .iter()
            .any(|p| p.get("mode").and_then(Json::as_str) == Some("System"))
        {
            return Err(ArmErrorBody::new(
                400,
                "MustDefineAtLeastOneSystemPool",
                "Must define at least one system pool.",
            ));
        }
        let given_network = props.get("networkProfile");
        let plugin = given_network
            .and_then(|n| n.get("networkPlugin"))
            .and_then(Json::as_str)
            .unwrap_or("kubenet")
            .to_string();
        let mut pools = Vec::new();
        let mut vnets: Vec<(String, Json)> = Vec::new();
        for p in &pools_given {
            let pool_name = p.get("name").and_then(Json::as_str).unwrap_or_default();
            if pools
                .iter()
                .any(|q: &Json| q.get("name").and_then(Json::as_str) == Some(pool_name))
            {
                return Err(bad(format!("Agent pool name '{pool_name}' is used twice.")));
            }
            let before = old_pools.iter().find(|o| pool_named(o, pool_name));
            let mut pool = normalize_pool(cloud, pool_name, p, before, &version, &plugin)?;
            if let Some(o) = pool.as_object_mut() {
                o.remove("provisioningState");
            }
            if let Some(subnet) = pool.get("vnetSubnetID").and_then(Json::as_str) {
                vnets.push(subnet_network(cloud, subnet)?);
            }
            pools.push(pool);
        }
        vnets.dedup_by(|a, b| a.0 == b.0);
        if vnets.len() > 1
            || (!vnets.is_empty() && pools.iter().any(|p| p.get("vnetSubnetID").is_none()))
        {
            return Err(bad("All agent pools of a cluster must use subnets of the same virtual network (or none)."));
        }
        let network = network_profile(
            given_network,
            old_props.and_then(|p| p.get("networkProfile")),
            vnets.first().map(|v| &v.1),
        )?;
        // Identities.
        let identity = identity(
            cloud,
            body.get("identity"),
            old.and_then(|o| o.get("identity")),
        )?;
        let kubelet = match props.pointer("/identityProfile/kubeletidentity") {
            Some(k) => {
                if identity["type"] != json!("UserAssigned") {
                    return Err(bad(
                        "A custom kubelet identity needs a UserAssigned cluster identity.",
                    ));
                }
                let rid = k
                    .get("resourceId")
                    .and_then(Json::as_str)
                    .unwrap_or_default();
                let found = uai::find(cloud, rid)
                    .ok_or_else(|| bad(format!("The kubelet identity '{rid}' was not found.")))?;
                let f = |k: &str| {
                    found
                        .body
                        .pointer(&format!("/properties/{k}"))
                        .cloned()
                        .unwrap_or(Json::Null)
                };
                json!({"resourceId": rid, "clientId": f("clientId"), "objectId": f("principalId")})
            }
            None => managed_identity(
                &sub,
                &node_rg,
                &format!("{name}-agentpool"),
                old_props.and_then(|p| p.pointer("/identityProfile/kubeletidentity")),
            ),
        };
        // OIDC issuer and workload identity.
        let oidc = props
            .pointer("/oidcIssuerProfile/enabled")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        let was_oidc = old_props
            .and_then(|p| p.pointer("/oidcIssuerProfile/enabled"))
            .and_then(Json::as_bool)
            .unwrap_or(false);
        if was_oidc && !oidc {
            return Err(ArmErrorBody::new(
                400,
                "OIDCIssuerFeatureCannotBeDisabled",
                "OIDC issuer feature cannot be disabled once enabled.",
            ));
        }
        let workload = props
            .pointer("/securityProfile/workloadIdentity/enabled")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        if workload && !oidc {
            return Err(bad("Enabling workload identity requires enabling the OIDC issuer (oidcIssuerProfile.enabled)."));
        }
        let mut oidc_profile = json!({"enabled": oidc});
        if oidc {
            oidc_profile["issuerURL"] = json!(format!(
                "{}/aks/{name}/oidc/",
                cloud.base_url().trim_end_matches('/')
            ));
        }
        let mut security = props.get("securityProfile").cloned().unwrap_or(json!({}));
        security["workloadIdentity"] = json!({"enabled": workload});
        let addon_profiles = addons(
            cloud,
            props.get("addonProfiles"),
            old_props.and_then(|p| p.get("addonProfiles")),
            &sub,
            &node_rg,
            name,
        )?;
        let mesh = service_mesh(cloud, props.get("serviceMeshProfile"))?;
        let tier = body
            .pointer("/sku/tier")
            .and_then(Json::as_str)
            .unwrap_or("Free");
        if !["Free", "Standard", "Premium"].contains(&tier) {
            return Err(bad(format!(
                "The SKU tier '{tier}' is not valid: use Free, Standard or Premium."
            )));
        }
        let suffix = old_str("fqdn")
            .and_then(|f| {
                f.split('.')
                    .next()
                    .and_then(|h| h.rsplit('-').next())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_string());
        let mut out = props.as_object().cloned().unwrap_or_default();
        let fields = [
            ("kubernetesVersion", json!(version)),
            (
                "currentKubernetesVersion",
                json!(format!("{}.{}.{}", parsed.0, parsed.1, parsed.2)),
            ),
            ("dnsPrefix", json!(dns_prefix)),
            (
                "fqdn",
                json!(format!("{dns_prefix}-{suffix}.hcp.{location}.azmk8s.io")),
            ),
            (
                "azurePortalFQDN",
                json!(format!(
                    "{dns_prefix}-{suffix}.portal.hcp.{location}.azmk8s.io"
                )),
            ),
            ("nodeResourceGroup", json!(node_rg)),
            ("agentPoolProfiles", Json::Array(pools)),
            ("networkProfile", network),
            ("identityProfile", json!({"kubeletidentity": kubelet})),
            ("oidcIssuerProfile", oidc_profile),
            ("securityProfile", security),
            ("addonProfiles", addon_profiles),
            ("serviceMeshProfile", mesh),
            (
                "enableRBAC",
                props.get("enableRBAC").cloned().unwrap_or(json!(true)),
            ),
            ("maxAgentPools", json!(100)),
            ("powerState", json!({"code": "Running"})),
            ("supportPlan", json!("KubernetesOfficial")),
        ];
        for (k, v) in fields {
            out.insert(k.into(), v);
        }
        Ok(json!({
            "location": location,
            "tags": tags(&body),
            "sku": {"name": "Base", "tier": tier},
            "identity": identity,
            "properties": out,
        }))
    }

    fn changes_after_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        body: &mut Json,
    ) -> Result<Vec<Change>, ArmErrorBody> {
        let profiles = body
            .get_mut("properties")
            .and_then(Json::as_object_mut)
            .and_then(|p| p.remove("agentPoolProfiles"))
            .and_then(|p| p.as_array().cloned())
            .unwrap_or_default();
        let current: Vec<Json> = cloud
            .children(id)
            .into_iter()
            .filter(|c| {
                ArmId::parse(&c.id).is_some_and(|i| i.arm_type().eq_ignore_ascii_case(POOLS))
            })
            .map(|c| c.body.clone())
            .collect();
        let mut changes = Vec::new();
        for profile in &profiles {
            let name = profile
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or_default();
            let props = pool_properties(profile);
            let unchanged = current
                .iter()
                .any(|c| pool_named(c, name) && pool_properties(&c["properties"]) == props);
            if unchanged {
                continue;
            }
            let pool = ArmId::parse(&format!("{}/agentPools/{name}", id.to_id()))
                .ok_or_else(|| bad(format!("The agent pool name '{name}' is invalid.")))?;
            changes.push(Change::PutChild {
                id: pool,
                body: json!({"properties": props}),
            });
        }
        Ok(changes)
    }

    fn view(&self, cloud: &dyn CloudView, stored: &StoredResource) -> Json {
        let mut body = stored.body.clone();
        let pools = cluster_pools(cloud, stored);
        if let Some(props) = body.get_mut("properties").and_then(Json::as_object_mut) {
            props.insert("agentPoolProfiles".into(), Json::Array(pools));
        }
        body
    }

    fn action(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: &StoredResource,
        action: &str,
        _body: Option<&Json>,
    ) -> Option<Result<Json, ArmErrorBody>> {
        let admin = match action.to_ascii_lowercase().as_str() {
            "listclusteradmincredential" => true,
            "listclusterusercredential" => false,
            _ => return None,
        };
        if admin && existing.body.pointer("/properties/disableLocalAccounts") == Some(&json!(true))
        {
            return Some(Err(ArmErrorBody::new(400, "BadRequest", "Getting static credential is not allowed because this cluster is set to disable local accounts.")));
        }
        let config = kubeconfig(cloud.base_url(), id, existing, admin);
        let value = base64::engine::general_purpose::STANDARD.encode(config);
        let name = if admin { "clusterAdmin" } else { "clusterUser" };
        Some(Ok(json!({"kubeconfigs": [{"name": name, "value": value}]})))
    }
}

#[cfg(test)]
mod tests;
