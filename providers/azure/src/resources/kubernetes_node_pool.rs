//! `azure_kubernetes_node_pool`: Microsoft.ContainerService/managedClusters/agentPools (the
//! user pools; the system pool is the cluster's `default_node_pool`). Also home of [`pool`],
//! the agent-pool mapping both share.

use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::string;
use super::generic_resource::values::{error_at, known, strings};
use super::{arm_delete, arm_put, AzureResourceType, Context};

/// The pinned api-version of managedClusters and agentPools.
pub const AKS_API_VERSION: &str = "2026-08-01";

/// An AKS node pool.
pub struct KubernetesNodePool;

/// The agent-pool fields shared by a cluster's default pool and a separate node pool.
pub(crate) mod pool {
    use mesh_engine::provider::{AttrType, AttributeSchema, BlockSchema, Presence, ProviderError};
    use mesh_engine::value::Value;
    use serde_json::{json, Map, Value as Json};

    use super::super::config::string;
    use super::super::generic_resource::values::{error_at, flag, int, known, same_id};

    /// The pool attributes both schemas have (`name` aside).
    pub fn attributes(block: BlockSchema) -> BlockSchema {
        let n = |d| AttributeSchema::new(AttrType::Number, Presence::Optional, d);
        block
            .attribute("vm_size", AttributeSchema::new(AttrType::String, Presence::Required, "VM size of the nodes, e.g. Standard_D4s_v5 (cannot change: replace the pool).").force_new())
            .attribute("node_count", n("Number of nodes; with auto scaling, the initial count (later changes by the autoscaler are not drift)."))
            .attribute("enable_auto_scaling", AttributeSchema::new(AttrType::Bool, Presence::Optional, "Let the cluster autoscaler size the pool between min_count and max_count.").default_value(Value::Bool(false)))
            .attribute("min_count", n("Minimum nodes with auto scaling."))
            .attribute("max_count", n("Maximum nodes with auto scaling."))
            .attribute("vnet_subnet_id", AttributeSchema::new(AttrType::String, Presence::Optional, "Subnet of the nodes (Azure CNI); every pool of a cluster must be in the same virtual network.").force_new())
            .attribute("os_disk_size_gb", n("OS disk size in GB (Azure's default when unset).").force_new())
    }

    /// True for a Linux agent pool name: 1-12 lowercase letters and digits, starting with a letter.
    pub fn valid_name(name: &str) -> bool {
        (1..=12).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }

    /// Name and node-count checks; `at` is the block path (empty for the node pool resource).
    pub fn validate(pool: &Value, at: &[&str], system: bool) -> Vec<ProviderError> {
        let path = |attr: &'static str| -> Vec<&str> { at.iter().copied().chain([attr]).collect() };
        let mut errors = Vec::new();
        if let Some(name) = string(pool, "name") {
            if !valid_name(&name) {
                errors.push(error_at(format!("\"{name}\" is not a valid node pool name: use 1-12 lowercase letters and digits, starting with a letter"), &path("name")));
            }
        }
        let count = int(pool, "node_count");
        let (min, max) = (int(pool, "min_count"), int(pool, "max_count"));
        let floor = if system { 1 } else { 0 };
        if let Some(c) = count {
            if !(floor..=1000).contains(&c) {
                errors.push(error_at(
                    format!("node_count {c} is out of range {floor}-1000"),
                    &path("node_count"),
                ));
            }
        }
        match flag(pool, "enable_auto_scaling") {
            Some(true) => {
                let unknown = |a: &str| pool.get(a).is_some_and(Value::is_unknown);
                if (min.is_none() && !unknown("min_count"))
                    || (max.is_none() && !unknown("max_count"))
                {
                    errors.push(error_at(
                        "auto scaling needs min_count and max_count",
                        &path("enable_auto_scaling"),
                    ));
                }
                if let (Some(lo), Some(hi)) = (min, max) {
                    if lo < floor || lo > hi || hi > 1000 {
                        errors.push(error_at(format!("min_count {lo} and max_count {hi} must satisfy {floor} <= min_count <= max_count <= 1000"), &path("min_count")));
                    } else if let Some(c) = count {
                        if c < lo || c > hi {
                            errors.push(error_at(
                                format!(
                                    "node_count {c} is outside min_count {lo} .. max_count {hi}"
                                ),
                                &path("node_count"),
                            ));
                        }
                    }
                }
            }
            Some(false) => {
                if min.is_some() || max.is_some() {
                    errors.push(error_at(
                        "min_count and max_count need enable_auto_scaling = true",
                        &path("min_count"),
                    ));
                }
                if count.is_none() && pool.get("node_count").is_some_and(Value::is_null) {
                    errors.push(error_at(
                        "node_count is required without auto scaling",
                        &path("node_count"),
                    ));
                }
            }
            None => {}
        }
        errors
    }

    /// The agentPool properties for a pool block.
    pub fn properties(pool: &Value, mode: &str) -> Map<String, Json> {
        let mut p = Map::new();
        let auto = flag(pool, "enable_auto_scaling").unwrap_or(false);
        if let Some(c) =
            int(pool, "node_count").or(if auto { int(pool, "min_count") } else { None })
        {
            p.insert("count".into(), json!(c));
        }
        p.insert(
            "vmSize".into(),
            json!(string(pool, "vm_size").unwrap_or_default()),
        );
        if let Some(gb) = int(pool, "os_disk_size_gb") {
            p.insert("osDiskSizeGB".into(), json!(gb));
        }
        if let Some(subnet) = string(pool, "vnet_subnet_id") {
            p.insert("vnetSubnetID".into(), json!(subnet));
        }
        p.insert("enableAutoScaling".into(), json!(auto));
        if auto {
            p.insert("minCount".into(), json!(int(pool, "min_count")));
            p.insert("maxCount".into(), json!(int(pool, "max_count")));
        }
        p.insert("type".into(), json!("VirtualMachineScaleSets"));
        p.insert("osType".into(), json!("Linux"));
        p.insert("mode".into(), json!(mode));
        p
    }

    /// The pool block read back from agentPool properties, shaped like `config`.
    pub fn read(config: &Value, props: &Json) -> Value {
        let mut state = config.clone();
        let num = |f: &str| props.get(f).filter(|v| v.is_number()).map(Value::from_json);
        if let Some(v) = props.get("vmSize").and_then(Json::as_str) {
            state.set_or_insert("vm_size", Value::string(v));
        }
        let auto = props
            .get("enableAutoScaling")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        state.set_or_insert("enable_auto_scaling", Value::Bool(auto));
        // With auto scaling the count is the autoscaler's business; unset stays unset.
        if !auto && known(config, "node_count").is_some() {
            state.set_or_insert("node_count", num("count").unwrap_or(Value::Null));
        }
        for (attr, field) in [("min_count", "minCount"), ("max_count", "maxCount")] {
            let v = if auto {
                num(field).unwrap_or(Value::Null)
            } else {
                Value::Null
            };
            state.set_or_insert(attr, v);
        }
        if known(config, "os_disk_size_gb").is_some() {
            state.set_or_insert(
                "os_disk_size_gb",
                num("osDiskSizeGB").unwrap_or(Value::Null),
            );
        }
        let subnet = props.get("vnetSubnetID").and_then(Json::as_str);
        state.set_or_insert(
            "vnet_subnet_id",
            subnet
                .map(|s| same_id(string(config, "vnet_subnet_id"), s))
                .unwrap_or(Value::Null),
        );
        state
    }
}

/// How long mesh waits for a cluster to finish another operation before giving up.
const BUSY_LIMIT: Duration = Duration::from_secs(45 * 60);

/// True for ARM's answer while a cluster or one of its pools is busy with another operation.
fn busy(e: &ProviderError) -> bool {
    ["OperationNotAllowed:", "AnotherOperationInProgress:"]
        .iter()
        .any(|code| e.message.starts_with(code))
}

/// Run `op`, and run it again while AKS answers that the cluster is busy with another
/// operation (a pool changing while the cluster updates, or the other way round): AKS allows
/// one operation at a time per cluster. Waits grow from half a second to 15 s, stop after 45
/// minutes, and end when the apply is cancelled.
pub(crate) async fn when_idle<T, F, Fut>(ctx: &Context, mut op: F) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let start = Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        match op().await {
            Err(e) if busy(&e) && start.elapsed() < BUSY_LIMIT => {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = ctx.cancel.cancelled() => return Err(e),
                }
                wait = (wait * 2).min(Duration::from_secs(15));
            }
            other => return other,
        }
    }
}

/// A list of strings read back: null stays null while ARM reports none.
fn list_state(config: &Value, name: &str, items: Option<&Json>) -> Value {
    let items: Vec<Value> = items
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(Value::string)
                .collect()
        })
        .unwrap_or_default();
    if items.is_empty() && known(config, name).is_none() {
        return Value::Null;
    }
    Value::List(items)
}

/// True for a taint `key=value:Effect` (or `key:Effect`).
pub(crate) fn valid_taint(t: &str) -> bool {
    let Some((kv, effect)) = t.rsplit_once(':') else {
        return false;
    };
    let key = kv.split('=').next().unwrap_or_default();
    !key.is_empty() && ["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect)
}

#[async_trait]
impl AzureResourceType for KubernetesNodePool {
    fn name(&self) -> &'static str {
        "azure_kubernetes_node_pool"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.ContainerService/managedClusters/agentPools"
    }

    fn api_version(&self) -> &'static str {
        AKS_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        let s = |p, d| AttributeSchema::new(AttrType::String, p, d);
        ResourceSchema {
            version: 0,
            description: "A node pool of an AKS cluster, typically the user pool in its own subnet of the cluster's network.".into(),
            block: pool::attributes(BlockSchema::default())
                .attribute("name", s(Presence::Required, "Name, 1-12 lowercase letters and digits, starting with a letter.").force_new())
                .attribute("kubernetes_cluster_id", s(Presence::Required, "ID of the cluster.").force_new())
                .attribute("mode", s(Presence::Optional, "User (default) or System.").default_value(Value::string("User")))
                .attribute("node_taints", AttributeSchema::new(AttrType::List(Box::new(AttrType::String)), Presence::Optional, "Taints, e.g. dedicated=istio:NoSchedule."))
                .attribute("node_labels", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Kubernetes labels of the nodes."))
                .attribute("id", s(Presence::Computed, "ARM resource ID.")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mode = string(config, "mode");
        let mut errors = pool::validate(config, &[], mode.as_deref() == Some("System"));
        if let Some(m) = mode {
            if m != "User" && m != "System" {
                errors.push(ProviderError::at_attribute(
                    "mode must be User or System",
                    "mode",
                ));
            }
        }
        for t in strings(config, "node_taints").unwrap_or_default() {
            if !valid_taint(&t) {
                errors.push(error_at(format!("\"{t}\" is not a taint: write key=value:NoSchedule|PreferNoSchedule|NoExecute"), &["node_taints"]));
            }
        }
        if let Some(id) = string(config, "kubernetes_cluster_id") {
            if !id
                .to_ascii_lowercase()
                .contains("/providers/microsoft.containerservice/managedclusters/")
            {
                errors.push(ProviderError::at_attribute(
                    format!("\"{id}\" is not an AKS cluster ID"),
                    "kubernetes_cluster_id",
                ));
            }
        }
        errors
    }

    fn resource_id(&self, _subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "{}/agentPools/{}",
            string(config, "kubernetes_cluster_id")?.trim_end_matches('/'),
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let mode = string(config, "mode").unwrap_or_else(|| "User".into());
        let mut p = pool::properties(config, &mode);
        if let Some(taints) = strings(config, "node_taints") {
            p.insert("nodeTaints".into(), json!(taints));
        }
        if let Some(labels) = known(config, "node_labels") {
            p.insert("nodeLabels".into(), labels.strip_sensitive().to_json());
        }
        Ok(json!({ "properties": p }))
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let props = response.get("properties").cloned().unwrap_or(json!({}));
        let mut state = pool::read(config, &props);
        state.set_or_insert("id", Value::string(id));
        if let Some(name) = response.get("name").and_then(Json::as_str) {
            state.set_or_insert("name", Value::string(name));
        }
        if let Some(mode) = props.get("mode").and_then(Json::as_str) {
            state.set_or_insert("mode", Value::string(mode));
        }
        state.set_or_insert(
            "node_taints",
            list_state(config, "node_taints", props.get("nodeTaints")),
        );
        let labels = match props.get("nodeLabels") {
            Some(l @ Json::Object(m))
                if !m.is_empty() || known(config, "node_labels").is_some() =>
            {
                Value::from_json(l)
            }
            _ if known(config, "node_labels").is_some() => Value::Map(Default::default()),
            _ => Value::Null,
        };
        state.set_or_insert("node_labels", labels);
        state
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        when_idle(ctx, || arm_put(self, ctx, config)).await
    }

    async fn update(
        &self,
        ctx: &Context,
        _prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        when_idle(ctx, || arm_put(self, ctx, config)).await
    }

    async fn delete(&self, ctx: &Context, state: &Value) -> Result<(), ProviderError> {
        when_idle(ctx, || arm_delete(self, ctx, state)).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mesh_engine::provider::default_plan;

    use super::*;

    const CLUSTER: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-one";
    const SUBNET: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/User";

    fn config() -> Value {
        Value::Map(BTreeMap::from([
            ("name".to_string(), Value::string("user")),
            ("kubernetes_cluster_id".to_string(), Value::string(CLUSTER)),
            ("vm_size".to_string(), Value::string("Standard_D4s_v5")),
            ("node_count".to_string(), Value::Number(3.0)),
            ("enable_auto_scaling".to_string(), Value::Bool(false)),
            ("min_count".to_string(), Value::Null),
            ("max_count".to_string(), Value::Null),
            ("vnet_subnet_id".to_string(), Value::string(SUBNET)),
            ("os_disk_size_gb".to_string(), Value::Null),
            ("mode".to_string(), Value::string("User")),
            (
                "node_taints".to_string(),
                Value::List(vec![Value::string("dedicated=apps:NoSchedule")]),
            ),
            (
                "node_labels".to_string(),
                Value::Map(BTreeMap::from([(
                    "tier".to_string(),
                    Value::string("apps"),
                )])),
            ),
            ("id".to_string(), Value::Null),
        ]))
    }

    #[test]
    fn maps_to_the_rest_shape_and_back() {
        let t = KubernetesNodePool;
        let c = config();
        assert!(t.validate(&c).is_empty());
        let id = t.resource_id("sub", &c).unwrap();
        assert_eq!(id, format!("{CLUSTER}/agentPools/user"));
        let body = t.to_body(&c).unwrap();
        assert_eq!(
            body,
            json!({"properties": {
            "count": 3, "vmSize": "Standard_D4s_v5", "vnetSubnetID": SUBNET, "enableAutoScaling": false,
            "type": "VirtualMachineScaleSets", "osType": "Linux", "mode": "User",
            "nodeTaints": ["dedicated=apps:NoSchedule"], "nodeLabels": {"tier": "apps"}}})
        );
        let mut response = body.clone();
        response["name"] = json!("user");
        response["properties"]["osDiskSizeGB"] = json!(128);
        response["properties"]["vnetSubnetID"] = json!(SUBNET.to_ascii_lowercase());
        let state = t.to_state(&c, &id, &response);
        let planned = default_plan(&t.schema().block, Some(&state), &c);
        assert_eq!(planned.planned, state);
        // vm_size cannot change in place.
        let mut bigger = c.clone();
        bigger.set_or_insert("vm_size", Value::string("Standard_D8s_v5"));
        assert!(!default_plan(&t.schema().block, Some(&state), &bigger)
            .requires_replace
            .is_empty());
        // Scaling is an update.
        let mut more = c.clone();
        more.set_or_insert("node_count", Value::Number(5.0));
        let p = default_plan(&t.schema().block, Some(&state), &more);
        assert!(p.requires_replace.is_empty() && p.planned != state);
    }

    #[test]
    fn auto_scaling_counts() {
        let t = KubernetesNodePool;
        let mut c = config();
        c.set_or_insert("enable_auto_scaling", Value::Bool(true));
        assert_eq!(t.validate(&c).len(), 1, "min/max missing");
        c.set_or_insert("min_count", Value::Number(4.0));
        c.set_or_insert("max_count", Value::Number(6.0));
        assert_eq!(t.validate(&c).len(), 1, "count below min");
        c.set_or_insert("node_count", Value::Null);
        assert!(t.validate(&c).is_empty());
        let body = t.to_body(&c).unwrap();
        assert_eq!(body["properties"]["count"], json!(4));
        assert_eq!(body["properties"]["maxCount"], json!(6));
        // The autoscaler moved the count: not drift.
        let mut response = body.clone();
        response["properties"]["count"] = json!(5);
        let state = t.to_state(&c, "id", &response);
        assert_eq!(state.get("node_count"), Some(&Value::Null));
        assert_eq!(state.get("max_count"), Some(&Value::Number(6.0)));
    }

    #[test]
    fn rejects_bad_names_and_taints() {
        let t = KubernetesNodePool;
        let mut c = config();
        c.set_or_insert("name", Value::string("User-Pool"));
        c.set_or_insert("node_taints", Value::List(vec![Value::string("oops")]));
        assert_eq!(t.validate(&c).len(), 2);
        assert!(valid_taint("CriticalAddonsOnly=true:NoSchedule"));
    }
}
