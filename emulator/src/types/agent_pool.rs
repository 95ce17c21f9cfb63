//! Microsoft.ContainerService/managedClusters/agentPools, and the agent-pool rules a
//! cluster's own `agentPoolProfiles` share.

use serde_json::{json, Map, Value as Json};

use super::subnet::net::find_subnet;
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Node pools of a cluster: a VM size fixed at creation, counts, a subnet in the cluster's
/// network.
pub struct AgentPool;

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

/// The virtual network ID of a pool's subnet; 400 when the ID is not a subnet's or the subnet
/// does not exist.
pub(crate) fn subnet_network(
    cloud: &dyn CloudView,
    subnet_id: &str,
) -> Result<(String, Json), ArmErrorBody> {
    let parsed = ArmId::parse(subnet_id)
        .filter(|id| {
            id.arm_type()
                .eq_ignore_ascii_case("Microsoft.Network/virtualNetworks/subnets")
        })
        .ok_or_else(|| {
            ArmErrorBody::new(
                400,
                "InvalidSubnetId",
                format!("The subnet ID '{subnet_id}' is not a valid subnet resource ID."),
            )
        })?;
    let (_, vnet) = find_subnet(cloud, subnet_id).ok_or_else(|| {
        ArmErrorBody::new(
            400,
            "SubnetNotFound",
            format!("The subnet '{subnet_id}' referenced by the agent pool was not found."),
        )
    })?;
    let vnet_id = parsed.parent().map(|p| p.key()).unwrap_or_default();
    Ok((vnet_id, vnet))
}

/// Check one pool's properties and fill in what Azure sets. `old` is the pool as stored
/// before an update; `version` and `plugin` come from the cluster.
pub(crate) fn normalize_pool(
    cloud: &dyn CloudView,
    name: &str,
    props: &Json,
    old: Option<&Json>,
    version: &str,
    plugin: &str,
) -> Result<Json, ArmErrorBody> {
    let valid = (1..=12).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !valid {
        return Err(bad(format!("The agent pool name '{name}' is invalid: use 1-12 lowercase letters and digits, starting with a letter.")));
    }
    let mut p: Map<String, Json> = props.as_object().cloned().unwrap_or_default();
    let s = |p: &Map<String, Json>, k: &str| p.get(k).and_then(Json::as_str).map(str::to_string);
    let vm = s(&p, "vmSize")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad(format!("Agent pool '{name}' needs a vmSize.")))?;
    let mode = s(&p, "mode").unwrap_or_else(|| "User".into());
    if mode != "System" && mode != "User" {
        return Err(bad(format!(
            "The mode '{mode}' of agent pool '{name}' is not valid: use System or User."
        )));
    }
    let auto = p
        .get("enableAutoScaling")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let given = p.clone();
    let num = |k: &str| given.get(k).and_then(Json::as_i64);
    let floor = if mode == "System" { 1 } else { 0 };
    let count = if auto {
        let (Some(min), Some(max)) = (num("minCount"), num("maxCount")) else {
            return Err(bad(format!(
                "Agent pool '{name}' enables auto scaling without minCount and maxCount."
            )));
        };
        if min < floor || min > max || max > 1000 {
            return Err(bad(format!("Agent pool '{name}': minCount {min} and maxCount {max} must satisfy {floor} <= minCount <= maxCount <= 1000.")));
        }
        let count = num("count").unwrap_or(min);
        if count < min || count > max {
            return Err(bad(format!(
                "Agent pool '{name}': count {count} is outside minCount {min} .. maxCount {max}."
            )));
        }
        count
    } else {
        p.remove("minCount");
        p.remove("maxCount");
        num("count").ok_or_else(|| bad(format!("Agent pool '{name}' needs a count.")))?
    };
    if !(floor..=1000).contains(&count) {
        return Err(bad(format!(
            "The count {count} of agent pool '{name}' is out of range {floor}-1000."
        )));
    }
    if let Some(subnet) = s(&p, "vnetSubnetID") {
        subnet_network(cloud, &subnet)?;
    }
    if let Some(old) = old {
        for field in ["vmSize", "vnetSubnetID", "osDiskSizeGB", "osType"] {
            let new = p.get(field).filter(|v| !v.is_null());
            let before = old.get(field).filter(|v| !v.is_null());
            let differs = match (new, before) {
                (Some(Json::String(a)), Some(Json::String(b))) => !a.eq_ignore_ascii_case(b),
                (Some(a), Some(b)) => a != b,
                // Unset on update keeps the stored value.
                _ => false,
            };
            if differs {
                return Err(immutable(&format!("agentPoolProfile.{field}")));
            }
            if new.is_none() {
                if let Some(b) = before {
                    p.insert(field.into(), b.clone());
                }
            }
        }
    }
    let default = |p: &mut Map<String, Json>, k: &str, v: Json| {
        if p.get(k).is_none_or(Json::is_null) {
            p.insert(k.into(), v);
        }
    };
    p.insert("count".into(), json!(count));
    p.insert("vmSize".into(), json!(vm));
    p.insert("mode".into(), json!(mode));
    p.insert("enableAutoScaling".into(), json!(auto));
    default(&mut p, "osType", json!("Linux"));
    default(&mut p, "osSKU", json!("Ubuntu"));
    default(&mut p, "type", json!("VirtualMachineScaleSets"));
    default(&mut p, "osDiskSizeGB", json!(128));
    default(
        &mut p,
        "maxPods",
        json!(if plugin == "azure" { 30 } else { 110 }),
    );
    default(&mut p, "orchestratorVersion", json!(version));
    p.insert(
        "currentOrchestratorVersion".into(),
        p["orchestratorVersion"].clone(),
    );
    p.insert("powerState".into(), json!({"code": "Running"}));
    p.insert(
        "nodeImageVersion".into(),
        json!("AKSUbuntu-2204gen2containerd-202601.06.0"),
    );
    Ok(Json::Object(p))
}

/// 409 OperationNotAllowed while `resource` (a cluster or a pool) is being created, updated or
/// deleted: AKS runs one operation at a time per cluster.
pub(crate) fn cluster_idle(resource: &StoredResource, cluster: &str) -> Result<(), ArmErrorBody> {
    let state = resource
        .body
        .pointer("/properties/provisioningState")
        .and_then(Json::as_str)
        .unwrap_or("Succeeded");
    if matches!(state, "Creating" | "Updating" | "Deleting") {
        let what = resource.id.rsplit('/').next().unwrap_or_default();
        return Err(ArmErrorBody::conflict("OperationNotAllowed", format!("Operation is not allowed because there's an in progress operation on '{what}' of managed cluster '{cluster}' (provisioningState {state}). Retry after it completes.")));
    }
    Ok(())
}

/// The agent pool type.
pub(crate) const POOLS: &str = "Microsoft.ContainerService/managedClusters/agentPools";

/// The pools of a cluster as its `agentPoolProfiles` show them (`name` and the pool's
/// properties): its agent pool child resources, then pools stored inline in its body without
/// a child (clusters stored by an earlier local cloud).
pub(crate) fn cluster_pools(cloud: &dyn CloudView, cluster: &StoredResource) -> Vec<Json> {
    let children = ArmId::parse(&cluster.id)
        .map(|id| cloud.children(&id))
        .unwrap_or_default();
    let mut pools: Vec<Json> = children
        .into_iter()
        .filter_map(|c| {
            let id = ArmId::parse(&c.id)?;
            if !id.arm_type().eq_ignore_ascii_case(POOLS) {
                return None;
            }
            let mut p = Map::new();
            p.insert("name".into(), json!(id.name()));
            if let Some(props) = c.body.get("properties").and_then(Json::as_object) {
                p.extend(props.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Some(Json::Object(p))
        })
        .collect();
    let inline = cluster
        .body
        .pointer("/properties/agentPoolProfiles")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    for p in inline {
        let name = p.get("name").and_then(Json::as_str).unwrap_or_default();
        if !pools.iter().any(|q| pool_named(q, name)) {
            pools.push(p);
        }
    }
    pools
}

/// True when a pool profile is named `name`.
pub(crate) fn pool_named(pool: &Json, name: &str) -> bool {
    pool.get("name").and_then(Json::as_str) == Some(name)
}

/// The virtual networks (keys) the pools of a cluster other than `skip` use, and whether the
/// cluster has such other pools.
fn cluster_networks(
    cloud: &dyn CloudView,
    cluster: &StoredResource,
    skip: &str,
) -> (Vec<String>, bool) {
    let others: Vec<Json> = cluster_pools(cloud, cluster)
        .into_iter()
        .filter(|p| !pool_named(p, skip))
        .collect();
    let mut nets: Vec<String> = others
        .iter()
        .filter_map(|p| p.get("vnetSubnetID")?.as_str())
        .filter_map(|s| ArmId::parse(s)?.parent().map(|p| p.key()))
        .collect();
    nets.sort();
    nets.dedup();
    (nets, !others.is_empty())
}

impl ResourceBehavior for AgentPool {
    fn arm_type(&self) -> &'static str {
        "Microsoft.ContainerService/managedClusters/agentPools"
    }

    fn provisioning_seconds(&self) -> f64 {
        120.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let cluster_id = id
            .parent()
            .ok_or_else(|| bad("An agent pool needs a cluster."))?;
        let cluster = cloud.get(&cluster_id).ok_or_else(|| {
            ArmErrorBody::new(404, "ParentResourceNotFound", format!("Can not perform requested operation on nested resource. Parent resource '{}' not found.", cluster_id.name()))
        })?;
        cluster_idle(cluster, cluster_id.name())?;
        let name = id.name();
        let version = cluster
            .body
            .pointer("/properties/kubernetesVersion")
            .and_then(Json::as_str)
            .unwrap_or("1.33");
        let plugin = cluster
            .body
            .pointer("/properties/networkProfile/networkPlugin")
            .and_then(Json::as_str)
            .unwrap_or("kubenet");
        let props = body.get("properties").cloned().unwrap_or(json!({}));
        let old = existing.and_then(|e| e.body.get("properties"));
        let mut pool = normalize_pool(cloud, name, &props, old, version, plugin)?;
        let (networks, others) = cluster_networks(cloud, cluster, name);
        match pool.get("vnetSubnetID").and_then(Json::as_str) {
            Some(_) if !others => {}
            Some(subnet) => {
                let (vnet, _) = subnet_network(cloud, subnet)?;
                if networks.is_empty() {
                    return Err(bad(format!("Agent pool '{name}' sets vnetSubnetID but the other pools of cluster '{}' use no custom subnet: all or none must.", cluster_id.name())));
                }
                if !networks.contains(&vnet) {
                    return Err(bad(format!("The subnet of agent pool '{name}' is in virtual network {vnet}, but the other pools of cluster '{}' are in {}: all pools of a cluster must be in the same virtual network.", cluster_id.name(), networks.join(", "))));
                }
            }
            None if !networks.is_empty() => {
                return Err(bad(format!("Agent pool '{name}' has no vnetSubnetID but the other pools of cluster '{}' use custom subnets: all or none must.", cluster_id.name())));
            }
            None => {}
        }
        if let Some(p) = pool.as_object_mut() {
            p.remove("provisioningState");
        }
        Ok(json!({ "properties": pool }))
    }

    fn check_delete(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        _existing: &StoredResource,
    ) -> Result<(), ArmErrorBody> {
        match id.parent().and_then(|c| cloud.get(&c).map(|r| (c, r))) {
            Some((cluster_id, cluster)) => cluster_idle(cluster, cluster_id.name()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::virtual_network::tests::Fake;
    use super::*;

    const RG: &str = "/subscriptions/s/resourceGroups/rg";

    fn cloud() -> Fake {
        let mut c = Fake::default();
        for (v, space) in [("vnet", "10.0.0.0/16"), ("other", "10.1.0.0/16")] {
            let base = space.trim_end_matches(".0/16");
            c.add(&format!("{RG}/providers/Microsoft.Network/virtualNetworks/{v}"), json!({"properties": {"addressSpace": {"addressPrefixes": [space]},
                "subnets": [{"name": "System", "properties": {"addressPrefix": format!("{base}.0/24")}}, {"name": "User", "properties": {"addressPrefix": format!("{base}.1.0/24")}}]}}));
        }
        c.add(&format!("{RG}/providers/Microsoft.ContainerService/managedClusters/aks"), json!({"properties": {"provisioningState": "Succeeded", "kubernetesVersion": "1.33",
            "networkProfile": {"networkPlugin": "azure"},
            "agentPoolProfiles": [{"name": "system", "vnetSubnetID": format!("{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/System")}]}}));
        c
    }

    fn put(cloud: &Fake, name: &str, props: Json) -> Result<Json, ArmErrorBody> {
        let id = ArmId::parse(&format!(
            "{RG}/providers/Microsoft.ContainerService/managedClusters/aks/agentPools/{name}"
        ))
        .unwrap();
        AgentPool.accept_put(cloud, &id, None, json!({"properties": props}))
    }

    fn subnet(vnet: &str, s: &str) -> String {
        format!("{RG}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{s}")
    }

    #[test]
    fn pools_join_the_cluster_network() {
        let c = cloud();
        let ok = put(&c, "user", json!({"vmSize": "Standard_D4s_v5", "count": 2, "vnetSubnetID": subnet("vnet", "User")})).unwrap();
        assert_eq!(ok["properties"]["orchestratorVersion"], json!("1.33"));
        assert_eq!(ok["properties"]["maxPods"], json!(30));
        let elsewhere = put(&c, "user", json!({"vmSize": "Standard_D4s_v5", "count": 2, "vnetSubnetID": subnet("other", "User")})).unwrap_err();
        assert!(
            elsewhere.message.contains("same virtual network"),
            "{}",
            elsewhere.message
        );
        let missing = put(&c, "user", json!({"vmSize": "Standard_D4s_v5", "count": 2, "vnetSubnetID": subnet("vnet", "Nope")})).unwrap_err();
        assert_eq!(missing.code, "SubnetNotFound");
        // The cluster's own pool is an agent pool resource too: it can be written directly.
        let system = put(
            &c,
            "system",
            json!({"vmSize": "x", "count": 1, "mode": "System", "vnetSubnetID": subnet("other", "System")}),
        )
        .unwrap();
        assert_eq!(system["properties"]["count"], json!(1));
        assert_eq!(
            put(&c, "User", json!({"vmSize": "x", "count": 1}))
                .unwrap_err()
                .code,
            "InvalidParameter"
        );
        let auto = put(
            &c,
            "user",
            json!({"vmSize": "x", "enableAutoScaling": true, "minCount": 2, "maxCount": 1, "vnetSubnetID": subnet("vnet", "User")}),
        );
        assert!(auto.is_err());
    }

    #[test]
    fn vm_size_is_fixed() {
        let c = cloud();
        let old = json!({"vmSize": "Standard_D4s_v5", "count": 2});
        let changed = normalize_pool(
            &c,
            "user",
            &json!({"vmSize": "Standard_D8s_v5", "count": 2}),
            Some(&old),
            "1.33",
            "azure",
        )
        .unwrap_err();
        assert_eq!(changed.code, "PropertyChangeNotAllowed");
        let scaled = normalize_pool(
            &c,
            "user",
            &json!({"vmSize": "standard_d4s_v5", "count": 5}),
            Some(&old),
            "1.33",
            "azure",
        )
        .unwrap();
        assert_eq!(scaled["count"], json!(5));
    }
}
