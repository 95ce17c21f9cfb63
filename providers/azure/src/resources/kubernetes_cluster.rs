//! `azure_kubernetes_cluster`: Microsoft.ContainerService/managedClusters.
//!
//! The system pool is `default_node_pool` (agentPoolProfiles[0], mode System); other pools are
//! `azure_kubernetes_node_pool`. Add-ons map to `properties.addonProfiles`
//! (azureKeyvaultSecretsProvider, ingressApplicationGateway, omsagent), the managed Istio
//! add-on to `properties.serviceMeshProfile`. The admin kubeconfig is never part of the state:
//! [`admin_kubeconfig`] fetches it (POST `{id}/listClusterAdminCredential`) when the Kubernetes
//! provider needs a client.

use async_trait::async_trait;
use base64::Engine as _;
use mesh_engine::provider::{
    default_plan, AttrType, AttributeSchema, BlockSchema, NestedBlockSchema, Nesting,
    PlannedChange, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Map, Value as Json};
use tokio_util::sync::CancellationToken;

use super::config::{string, tags};
use super::generic_resource::values::{
    block, error_at, flag, jstr, map, same_id, strings, tags_state,
};
use super::kubernetes_node_pool::{pool, when_idle, AKS_API_VERSION};
use super::{arm_delete, arm_put, arm_read, provider_error, AzureResourceType, Context};
use crate::arm::ArmClient;
use checks::{validate_cluster, CRITICAL_ADDONS_TAINT};
use mapping::{
    addon_body, addon_state, get_ci, identity_state, mesh_body, mesh_state, network_body,
    network_state,
};

mod checks;
mod mapping;
#[cfg(test)]
mod tests;

/// An AKS cluster.
pub struct KubernetesCluster;

/// The add-on blocks and their addonProfiles keys.
const ADDONS: &[(&str, &str)] = &[
    ("key_vault_secrets_provider", "azureKeyvaultSecretsProvider"),
    ("ingress_application_gateway", "ingressApplicationGateway"),
    ("oms_agent", "omsagent"),
];

fn nested(
    description: &str,
    block: BlockSchema,
    required: bool,
    force_new: bool,
) -> NestedBlockSchema {
    NestedBlockSchema {
        nesting: Nesting::Single,
        required,
        force_new,
        description: description.into(),
        block,
    }
}

fn s(p: Presence, d: &str) -> AttributeSchema {
    AttributeSchema::new(AttrType::String, p, d)
}

fn b(d: &str) -> AttributeSchema {
    AttributeSchema::new(AttrType::Bool, Presence::Optional, d).default_value(Value::Bool(false))
}

fn schema_blocks(block: BlockSchema) -> BlockSchema {
    use Presence::{Optional, Required};
    let list = || AttrType::List(Box::new(AttrType::String));
    let default_pool = pool::attributes(BlockSchema::default())
        .attribute(
            "name",
            s(Required, "Pool name, 1-12 lowercase letters and digits.").force_new(),
        )
        .attribute(
            "only_critical_addons_enabled",
            b("Taint the nodes CriticalAddonsOnly=true:NoSchedule so only system pods run there."),
        );
    let identity = BlockSchema::default()
        .attribute("type", s(Required, "UserAssigned or SystemAssigned."))
        .attribute(
            "identity_ids",
            AttributeSchema::new(
                list(),
                Optional,
                "The user-assigned identity IDs (one) for UserAssigned.",
            ),
        );
    let kubelet = BlockSchema::default()
        .attribute(
            "user_assigned_identity_id",
            s(
                Required,
                "ID of the user-assigned identity the kubelet uses (e.g. to pull from ACR).",
            ),
        )
        .attribute("client_id", s(Required, "Its client ID."))
        .attribute("object_id", s(Required, "Its principal (object) ID."));
    let network = BlockSchema::default()
        .attribute("network_plugin", s(Required, "azure (Azure CNI), kubenet or none.").force_new())
        .attribute("network_policy", s(Optional, "azure, calico or cilium."))
        .attribute("service_cidr", s(Optional, "Kubernetes service address range; must not overlap the cluster's virtual network.").force_new())
        .attribute("dns_service_ip", s(Optional, "Cluster DNS service address, inside service_cidr (not its first address).").force_new())
        .attribute("pod_cidr", s(Optional, "Pod address range (kubenet or overlay).").force_new())
        .attribute("load_balancer_sku", s(Optional, "standard (default) or basic.").default_value(Value::string("standard")).force_new())
        .attribute("outbound_type", s(Optional, "loadBalancer (default), userDefinedRouting, managedNATGateway or userAssignedNATGateway.").default_value(Value::string("loadBalancer")));
    let kv = BlockSchema::default()
        .attribute(
            "secret_rotation_enabled",
            b("Poll Key Vault and rotate mounted secrets."),
        )
        .attribute(
            "secret_rotation_interval",
            s(Optional, "Rotation poll interval, e.g. 2m.").default_value(Value::string("2m")),
        );
    let agic = BlockSchema::default().attribute(
        "gateway_id",
        s(
            Required,
            "ID of the existing Application Gateway the ingress controller manages.",
        ),
    );
    let oms = BlockSchema::default().attribute(
        "log_analytics_workspace_id",
        s(Required, "ID of the Log Analytics workspace."),
    );
    let ca = BlockSchema::default()
        .attribute(
            "key_vault_id",
            s(Required, "ID of the Key Vault holding the CA objects."),
        )
        .attribute(
            "root_cert_object_name",
            s(Required, "Root certificate object name."),
        )
        .attribute(
            "cert_object_name",
            s(Required, "Intermediate certificate object name."),
        )
        .attribute(
            "key_object_name",
            s(
                Required,
                "Intermediate certificate private key object name.",
            ),
        )
        .attribute(
            "cert_chain_object_name",
            s(Required, "Certificate chain object name."),
        );
    let mesh = BlockSchema::default()
        .attribute(
            "mode",
            s(Optional, "Istio (the managed Istio add-on).").default_value(Value::string("Istio")),
        )
        .attribute(
            "revisions",
            AttributeSchema::new(
                list(),
                Optional,
                "Istio control plane revisions, e.g. [\"asm-1-24\"] (Azure's default when unset).",
            ),
        )
        .block(
            "certificate_authority",
            nested(
                "Plug-in CA: Istio's intermediate CA read from Key Vault.",
                ca,
                false,
                false,
            ),
        );
    block
        .block("default_node_pool", nested("The system node pool.", default_pool, true, false))
        .block("identity", nested("The cluster's (control plane) identity.", identity, true, false))
        .block("kubelet_identity", nested("The kubelet identity; Azure creates one in the node resource group when unset.", kubelet, false, true))
        .block("network_profile", nested("Networking; Azure's defaults (kubenet) when unset.", network, false, false))
        .block("key_vault_secrets_provider", nested("The Secrets Store CSI driver with the Azure Key Vault provider (azureKeyvaultSecretsProvider add-on).", kv, false, false))
        .block("ingress_application_gateway", nested("The Application Gateway ingress controller (ingressApplicationGateway add-on).", agic, false, false))
        .block("oms_agent", nested("Container insights to a Log Analytics workspace (omsagent add-on).", oms, false, false))
        .block("service_mesh_profile", nested("The managed Istio add-on.", mesh, false, false))
}

/// The admin kubeconfig (YAML) of a cluster, from listClusterAdminCredential (base64
/// kubeconfigs[0].value); `None` when the cluster does not exist. Kept out of state: the
/// Kubernetes provider asks for it when it needs a client.
pub async fn admin_kubeconfig(
    client: &ArmClient,
    id: &str,
    cancel: &CancellationToken,
) -> Result<Option<String>, ProviderError> {
    let action = format!("{id}/listClusterAdminCredential");
    let response = match client.post(&action, AKS_API_VERSION, None, cancel).await {
        Ok(response) => response,
        Err(e) if e.status == 404 => return Ok(None),
        Err(e) => return Err(provider_error(e)),
    };
    let encoded = response
        .pointer("/kubeconfigs/0/value")
        .and_then(Json::as_str)
        .ok_or_else(|| {
            ProviderError::new(format!(
                "listClusterAdminCredential of {id} returned no kubeconfig"
            ))
        })?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| ProviderError::new(format!("listClusterAdminCredential of {id} returned a kubeconfig that is not base64-encoded UTF-8")))?;
    Ok(Some(raw))
}

#[async_trait]
impl AzureResourceType for KubernetesCluster {
    fn name(&self) -> &'static str {
        "azure_kubernetes_cluster"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.ContainerService/managedClusters"
    }

    fn api_version(&self) -> &'static str {
        AKS_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        use Presence::{Computed, Optional, OptionalComputed, Required};
        let top = BlockSchema::default()
            .attribute("name", s(Required, "Name, 1-63 letters, digits, hyphens and underscores, starting and ending with a letter or digit.").force_new())
            .attribute("resource_group_name", s(Required, "Resource group.").force_new())
            .attribute("location", s(Required, "Azure region.").force_new())
            .attribute("dns_prefix", s(Required, "DNS prefix of the API server FQDN, 1-54 letters, digits and hyphens.").force_new())
            .attribute("kubernetes_version", s(OptionalComputed, "Kubernetes version, e.g. 1.33 (Azure's default when unset; upgrades only)."))
            .attribute("sku_tier", s(Optional, "Free (default), Standard or Premium.").default_value(Value::string("Free")))
            .attribute("node_resource_group", s(OptionalComputed, "Resource group Azure creates for the nodes (MC_... when unset).").force_new())
            .attribute("oidc_issuer_enabled", b("Publish an OIDC issuer (needed by workload identity; cannot be turned off)."))
            .attribute("workload_identity_enabled", b("Microsoft Entra Workload ID for pods (needs oidc_issuer_enabled)."))
            .attribute("tags", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Optional, "Tags."))
            .attribute("id", s(Computed, "ARM resource ID."))
            .attribute("fqdn", s(Computed, "API server FQDN."))
            .attribute("oidc_issuer_url", s(Computed, "OIDC issuer URL, when enabled."))
            .attribute("kubelet_identity_object_id", s(Computed, "Object ID of the kubelet identity (grant it AcrPull)."))
            .attribute("kubelet_identity_client_id", s(Computed, "Client ID of the kubelet identity."))
            .attribute("addon_identity_object_ids", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Computed, "Object IDs of the add-on identities Azure creates, by add-on block name (key_vault_secrets_provider, ingress_application_gateway, oms_agent)."))
            .attribute("addon_identity_client_ids", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Computed, "Client IDs of the add-on identities, by add-on block name: what a SecretProviderClass names as userAssignedIdentityID."));
        ResourceSchema {
            version: 0,
            description: "An AKS managed cluster: control plane, system node pool, identity, networking, add-ons and the managed Istio add-on.".into(),
            block: schema_blocks(top),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        validate_cluster(config)
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{}",
            string(config, "resource_group_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let dp = block(config, "default_node_pool").ok_or_else(|| {
            error_at(
                "a default_node_pool block is required",
                &["default_node_pool"],
            )
        })?;
        let mut pool_body = pool::properties(dp, "System");
        pool_body.insert("name".into(), json!(string(dp, "name")));
        if flag(dp, "only_critical_addons_enabled") == Some(true) {
            pool_body.insert("nodeTaints".into(), json!([CRITICAL_ADDONS_TAINT]));
        }
        let mut props = Map::new();
        props.insert("dnsPrefix".into(), json!(string(config, "dns_prefix")));
        if let Some(v) = string(config, "kubernetes_version") {
            props.insert("kubernetesVersion".into(), json!(v));
        }
        if let Some(rg) = string(config, "node_resource_group") {
            props.insert("nodeResourceGroup".into(), json!(rg));
        }
        props.insert("agentPoolProfiles".into(), json!([pool_body]));
        if let Some(np) = block(config, "network_profile") {
            props.insert("networkProfile".into(), network_body(np));
        }
        props.insert(
            "oidcIssuerProfile".into(),
            json!({"enabled": flag(config, "oidc_issuer_enabled").unwrap_or(false)}),
        );
        props.insert("securityProfile".into(), json!({"workloadIdentity": {"enabled": flag(config, "workload_identity_enabled").unwrap_or(false)}}));
        let addons: Map<String, Json> = ADDONS
            .iter()
            .map(|(attr, key)| (key.to_string(), addon_body(attr, block(config, attr))))
            .collect();
        props.insert("addonProfiles".into(), Json::Object(addons));
        props.insert(
            "serviceMeshProfile".into(),
            mesh_body(block(config, "service_mesh_profile")),
        );
        if let Some(k) = block(config, "kubelet_identity") {
            props.insert(
                "identityProfile".into(),
                json!({"kubeletidentity": {
                    "resourceId": string(k, "user_assigned_identity_id"),
                    "clientId": string(k, "client_id"),
                    "objectId": string(k, "object_id"),
                }}),
            );
        }
        let identity = match block(config, "identity") {
            Some(i) if string(i, "type").as_deref() == Some("UserAssigned") => {
                let ids: Map<String, Json> = strings(i, "identity_ids")
                    .unwrap_or_default()
                    .into_iter()
                    .map(|id| (id, json!({})))
                    .collect();
                json!({"type": "UserAssigned", "userAssignedIdentities": ids})
            }
            Some(i) => {
                json!({"type": string(i, "type").unwrap_or_else(|| "SystemAssigned".into())})
            }
            None => json!({"type": "SystemAssigned"}),
        };
        Ok(json!({
            "location": string(config, "location").unwrap_or_default(),
            "tags": tags(config),
            "sku": {"name": "Base", "tier": string(config, "sku_tier").unwrap_or_else(|| "Free".into())},
            "identity": identity,
            "properties": props,
        }))
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        let props = response.get("properties").cloned().unwrap_or(json!({}));
        let p = |k: &str| jstr(&props, k).map(Value::String).unwrap_or(Value::Null);
        state.set_or_insert("id", Value::string(id));
        for (attr, ptr) in [
            ("name", "/name"),
            ("location", "/location"),
            ("sku_tier", "/sku/tier"),
        ] {
            if let Some(v) = jstr(response, ptr) {
                state.set_or_insert(attr, Value::String(v));
            }
        }
        state.set_or_insert("tags", tags_state(config, response));
        for (attr, ptr) in [
            ("dns_prefix", "/dnsPrefix"),
            ("kubernetes_version", "/kubernetesVersion"),
            ("node_resource_group", "/nodeResourceGroup"),
            ("fqdn", "/fqdn"),
            ("oidc_issuer_url", "/oidcIssuerProfile/issuerURL"),
            (
                "kubelet_identity_object_id",
                "/identityProfile/kubeletidentity/objectId",
            ),
            (
                "kubelet_identity_client_id",
                "/identityProfile/kubeletidentity/clientId",
            ),
        ] {
            state.set_or_insert(attr, p(ptr));
        }
        let enabled =
            |ptr: &str| Value::Bool(props.pointer(ptr).and_then(Json::as_bool).unwrap_or(false));
        state.set_or_insert("oidc_issuer_enabled", enabled("/oidcIssuerProfile/enabled"));
        state.set_or_insert(
            "workload_identity_enabled",
            enabled("/securityProfile/workloadIdentity/enabled"),
        );
        // The system pool: the configured one by name, else the first System pool.
        let dp_config = block(config, "default_node_pool")
            .cloned()
            .unwrap_or(Value::Null);
        let pools = props
            .get("agentPoolProfiles")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let wanted = string(&dp_config, "name");
        let found = pools
            .iter()
            .find(|p| p.get("name").and_then(Json::as_str) == wanted.as_deref())
            .or_else(|| {
                pools
                    .iter()
                    .find(|p| p.get("mode").and_then(Json::as_str) == Some("System"))
            });
        if let Some(found) = found {
            let mut dp = pool::read(&dp_config, found);
            dp.set_or_insert(
                "name",
                Value::string(jstr(found, "/name").unwrap_or_default()),
            );
            let tainted = found
                .get("nodeTaints")
                .and_then(Json::as_array)
                .is_some_and(|t| t.iter().any(|x| x.as_str() == Some(CRITICAL_ADDONS_TAINT)));
            dp.set_or_insert("only_critical_addons_enabled", Value::Bool(tainted));
            state.set_or_insert("default_node_pool", dp);
        }
        state.set_or_insert(
            "identity",
            identity_state(block(config, "identity"), response.get("identity")),
        );
        if let Some(k) = block(config, "kubelet_identity") {
            let ki = props
                .pointer("/identityProfile/kubeletidentity")
                .cloned()
                .unwrap_or(json!({}));
            let f = |ptr: &str| jstr(&ki, ptr).map(Value::String).unwrap_or(Value::Null);
            let resource = jstr(&ki, "/resourceId")
                .map(|r| same_id(string(k, "user_assigned_identity_id"), &r))
                .unwrap_or(Value::Null);
            state.set_or_insert(
                "kubelet_identity",
                map([
                    ("user_assigned_identity_id", resource),
                    ("client_id", f("/clientId")),
                    ("object_id", f("/objectId")),
                ]),
            );
        }
        if let (Some(np), Some(resp)) = (
            block(config, "network_profile"),
            props.get("networkProfile"),
        ) {
            state.set_or_insert("network_profile", network_state(np, resp));
        }
        let mut addon_ids = std::collections::BTreeMap::new();
        let mut addon_client_ids = std::collections::BTreeMap::new();
        for (attr, key) in ADDONS {
            let profile = get_ci(props.get("addonProfiles"), key);
            let on = profile
                .and_then(|p| p.get("enabled"))
                .and_then(Json::as_bool)
                .unwrap_or(false);
            let v = match profile {
                Some(p) if on => addon_state(attr, block(config, attr), p),
                _ => Value::Null,
            };
            state.set_or_insert(attr, v);
            let identity = |pointer: &str| profile.filter(|_| on).and_then(|p| jstr(p, pointer));
            if let Some(oid) = identity("/identity/objectId") {
                addon_ids.insert(attr.to_string(), Value::String(oid));
            }
            if let Some(client_id) = identity("/identity/clientId") {
                addon_client_ids.insert(attr.to_string(), Value::String(client_id));
            }
        }
        state.set_or_insert("addon_identity_object_ids", Value::Map(addon_ids));
        state.set_or_insert("addon_identity_client_ids", Value::Map(addon_client_ids));
        let mesh = props
            .get("serviceMeshProfile")
            .map(|m| mesh_state(block(config, "service_mesh_profile"), m));
        state.set_or_insert("service_mesh_profile", mesh.unwrap_or(Value::Null));
        state
    }

    fn plan(&self, subscription_id: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        let mut planned = default_plan(&self.schema().block, prior, config);
        if let Some(id) = self.resource_id(subscription_id, config) {
            planned.planned.set_or_insert("id", Value::String(id));
        }
        if let Some(prior) = prior {
            // Server-set values that follow from settings being changed.
            if flag(prior, "oidc_issuer_enabled") != flag(config, "oidc_issuer_enabled") {
                planned
                    .planned
                    .set_or_insert("oidc_issuer_url", Value::Unknown);
            }
            let present = |v: &Value, a: &str| block(v, a).is_some();
            if ADDONS
                .iter()
                .any(|(a, _)| present(prior, a) != present(config, a))
            {
                for attribute in ["addon_identity_object_ids", "addon_identity_client_ids"] {
                    planned.planned.set_or_insert(attribute, Value::Unknown);
                }
            }
        }
        planned
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        arm_put(self, ctx, config).await
    }

    async fn read(&self, ctx: &Context, state: &Value) -> Result<Option<Value>, ProviderError> {
        arm_read(self, ctx, state).await
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
