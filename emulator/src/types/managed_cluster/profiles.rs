//! The profiles of a managed cluster: networking, identities, add-ons and the service mesh,
//! each checked against the rest of the cloud and completed with what Azure sets.

use ipnet::IpNet;
use serde_json::{json, Map, Value as Json};

use super::super::subnet::net::{network_prefixes, overlap};
use super::super::user_assigned_identity::{self as uai, kept_guid};
use super::super::CloudView;
use super::{bad, immutable};
use crate::model::{ArmErrorBody, ArmId};

/// The add-ons that get an identity, and the identity name prefix Azure uses.
const IDENTITY_ADDONS: &[(&str, &str)] = &[
    (
        "azureKeyvaultSecretsProvider",
        "azurekeyvaultsecretsprovider",
    ),
    ("ingressApplicationGateway", "ingressapplicationgateway"),
    ("omsagent", "omsagent"),
];

/// The network profile with Azure's defaults, checked against the pools' virtual network.
pub(super) fn network_profile(
    given: Option<&Json>,
    old: Option<&Json>,
    vnet: Option<&Json>,
) -> Result<Json, ArmErrorBody> {
    let mut n: Map<String, Json> = given.and_then(Json::as_object).cloned().unwrap_or_default();
    let plugin = n
        .get("networkPlugin")
        .and_then(Json::as_str)
        .unwrap_or("kubenet")
        .to_string();
    if !["azure", "kubenet", "none"].contains(&plugin.as_str()) {
        return Err(bad(format!(
            "The network plugin '{plugin}' is not valid: use azure, kubenet or none."
        )));
    }
    if let Some(policy) = n.get("networkPolicy").and_then(Json::as_str) {
        if !["azure", "calico", "cilium", "none"].contains(&policy) {
            return Err(bad(format!("The network policy '{policy}' is not valid.")));
        }
    }
    let defaults = [
        ("networkPlugin", json!(plugin)),
        ("serviceCidr", json!("10.0.0.0/16")),
        ("dnsServiceIP", json!("10.0.0.10")),
        ("loadBalancerSku", json!("standard")),
        ("outboundType", json!("loadBalancer")),
    ];
    for (k, v) in defaults {
        if n.get(k).is_none_or(Json::is_null) {
            n.insert(k.into(), v);
        }
    }
    if plugin == "kubenet" && n.get("podCidr").is_none_or(Json::is_null) {
        n.insert("podCidr".into(), json!("10.244.0.0/16"));
    }
    let text = |k: &str| {
        n.get(k)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let service: IpNet = text("serviceCidr")
        .parse()
        .ok()
        .filter(|s: &IpNet| s.trunc() == *s)
        .ok_or_else(|| {
            bad(format!(
                "The service CIDR '{}' is not a valid CIDR.",
                text("serviceCidr")
            ))
        })?;
    let dns: std::net::IpAddr = text("dnsServiceIP").parse().map_err(|_| {
        bad(format!(
            "The DNS service IP '{}' is not a valid IP address.",
            text("dnsServiceIP")
        ))
    })?;
    if !service.contains(&dns) || dns == service.network() || Some(dns) == service.hosts().next() {
        return Err(ArmErrorBody::new(400, "DnsServiceIPOutOfServiceCidr", format!("DNSServiceIP {dns} must be inside ServiceCidr {service} and must not be its network or first address.")));
    }
    if let Some(pod) = n
        .get("podCidr")
        .and_then(Json::as_str)
        .and_then(|p| p.parse::<IpNet>().ok())
    {
        if overlap(&pod, &service) {
            return Err(bad(format!(
                "The pod CIDR {pod} overlaps the service CIDR {service}."
            )));
        }
    }
    if let Some(vnet) = vnet {
        if let Some(space) = network_prefixes(vnet)?
            .into_iter()
            .find(|p| overlap(p, &service))
        {
            return Err(ArmErrorBody::new(400, "ServiceCidrOverlapExistingSubnetsCidr", format!("The specified service CIDR {service} is conflicted with an existing subnet CIDR {space} of the cluster's virtual network.")));
        }
    }
    if let Some(old) = old {
        for field in [
            "networkPlugin",
            "serviceCidr",
            "dnsServiceIP",
            "podCidr",
            "loadBalancerSku",
        ] {
            if old.get(field) != n.get(field) {
                return Err(immutable(&format!("networkProfile.{field}")));
            }
        }
    }
    n.insert("serviceCidrs".into(), json!([service.to_string()]));
    n.insert("ipFamilies".into(), json!(["IPv4"]));
    Ok(Json::Object(n))
}

/// An identity Azure creates in the node resource group, kept across updates.
pub(super) fn managed_identity(sub: &str, node_rg: &str, name: &str, old: Option<&Json>) -> Json {
    let resource = format!("/subscriptions/{sub}/resourcegroups/{node_rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}");
    json!({
        "resourceId": resource,
        "clientId": kept_guid(old, "/clientId"),
        "objectId": kept_guid(old, "/objectId"),
    })
}

pub(super) fn require(
    cloud: &dyn CloudView,
    id: &str,
    ty: &str,
    what: &str,
) -> Result<(), ArmErrorBody> {
    let found = ArmId::parse(id)
        .filter(|p| p.arm_type().eq_ignore_ascii_case(ty))
        .and_then(|p| cloud.get(&p));
    match found {
        Some(_) => Ok(()),
        None => Err(bad(format!("The {what} '{id}' was not found."))),
    }
}

pub(super) fn addons(
    cloud: &dyn CloudView,
    given: Option<&Json>,
    old: Option<&Json>,
    sub: &str,
    node_rg: &str,
    cluster: &str,
) -> Result<Json, ArmErrorBody> {
    let mut out = Map::new();
    for (key, profile) in given.and_then(Json::as_object).cloned().unwrap_or_default() {
        let mut p = profile.as_object().cloned().unwrap_or_default();
        let enabled = p.get("enabled").and_then(Json::as_bool).unwrap_or(false);
        let lower = key.to_ascii_lowercase();
        let cfg = |k: &str| {
            profile
                .pointer(&format!("/config/{k}"))
                .and_then(Json::as_str)
                .map(str::to_string)
        };
        if enabled {
            match lower.as_str() {
                "ingressapplicationgateway" => {
                    if let Some(gw) = cfg("applicationGatewayId") {
                        require(
                            cloud,
                            &gw,
                            "Microsoft.Network/applicationGateways",
                            "application gateway",
                        )?;
                    } else if cfg("subnetCIDR").is_none() && cfg("subnetId").is_none() {
                        return Err(bad("The ingressApplicationGateway add-on needs config.applicationGatewayId, subnetCIDR or subnetId."));
                    }
                }
                "omsagent" => {
                    let ws = cfg("logAnalyticsWorkspaceResourceID").ok_or_else(|| {
                        bad("The omsagent add-on needs config.logAnalyticsWorkspaceResourceID.")
                    })?;
                    require(
                        cloud,
                        &ws,
                        "Microsoft.OperationalInsights/workspaces",
                        "Log Analytics workspace",
                    )?;
                }
                "azurekeyvaultsecretsprovider" => {
                    let mut c = p
                        .get("config")
                        .and_then(Json::as_object)
                        .cloned()
                        .unwrap_or_default();
                    let rotation = c
                        .get("enableSecretRotation")
                        .and_then(Json::as_str)
                        .unwrap_or("false")
                        .to_string();
                    if rotation != "true" && rotation != "false" {
                        return Err(bad(format!(
                            "enableSecretRotation must be \"true\" or \"false\", not '{rotation}'."
                        )));
                    }
                    c.insert("enableSecretRotation".into(), json!(rotation));
                    c.entry("rotationPollInterval").or_insert(json!("2m"));
                    p.insert("config".into(), Json::Object(c));
                }
                _ => {}
            }
            if let Some((_, prefix)) = IDENTITY_ADDONS
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&key))
            {
                let previous = get_ci(old, &key).and_then(|o| o.get("identity"));
                p.insert(
                    "identity".into(),
                    managed_identity(sub, node_rg, &format!("{prefix}-{cluster}"), previous),
                );
            }
        } else {
            p.remove("identity");
        }
        out.insert(key, Json::Object(p));
    }
    Ok(Json::Object(out))
}

pub(super) fn get_ci<'a>(obj: Option<&'a Json>, key: &str) -> Option<&'a Json> {
    obj?.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

pub(super) fn service_mesh(
    cloud: &dyn CloudView,
    given: Option<&Json>,
) -> Result<Json, ArmErrorBody> {
    let Some(mesh) = given else {
        return Ok(json!({"mode": "Disabled"}));
    };
    let mode = mesh
        .get("mode")
        .and_then(Json::as_str)
        .unwrap_or("Disabled");
    match mode {
        "Disabled" => return Ok(json!({"mode": "Disabled"})),
        "Istio" => {}
        other => {
            return Err(bad(format!(
                "The service mesh mode '{other}' is not valid: use Istio or Disabled."
            )))
        }
    }
    let mut out = mesh.clone();
    let revisions: Vec<String> = mesh
        .pointer("/istio/revisions")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if revisions.len() > 2 || revisions.iter().any(|r| !r.starts_with("asm-1-")) {
        return Err(bad(format!(
            "The Istio revisions {revisions:?} are not valid: at most two, such as asm-1-24."
        )));
    }
    if revisions.is_empty() {
        out["istio"]["revisions"] = json!(["asm-1-25"]);
    }
    if let Some(plugin) = mesh.pointer("/istio/certificateAuthority/plugin") {
        for field in [
            "keyVaultId",
            "certObjectName",
            "keyObjectName",
            "rootCertObjectName",
            "certChainObjectName",
        ] {
            if plugin
                .get(field)
                .and_then(Json::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(bad(format!(
                    "The plug-in CA of the Istio add-on needs {field}."
                )));
            }
        }
        let vault = plugin["keyVaultId"].as_str().unwrap_or_default();
        require(
            cloud,
            vault,
            "Microsoft.KeyVault/vaults",
            "Key Vault of the Istio plug-in CA",
        )?;
    }
    Ok(out)
}

pub(super) fn identity(
    cloud: &dyn CloudView,
    given: Option<&Json>,
    old: Option<&Json>,
) -> Result<Json, ArmErrorBody> {
    let kind = given
        .and_then(|g| g.get("type"))
        .and_then(Json::as_str)
        .unwrap_or("SystemAssigned");
    match kind {
        "SystemAssigned" => Ok(json!({
            "type": "SystemAssigned",
            "principalId": kept_guid(old, "/principalId"),
            "tenantId": crate::arm::TENANT_ID,
        })),
        "UserAssigned" => {
            let ids: Vec<String> = given
                .and_then(|g| g.get("userAssignedIdentities"))
                .and_then(Json::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            if ids.len() != 1 {
                return Err(bad("A UserAssigned cluster identity needs exactly one entry in userAssignedIdentities."));
            }
            let mut out = Map::new();
            for id in ids {
                let found = uai::find(cloud, &id).ok_or_else(|| {
                    bad(format!("The user-assigned identity '{id}' was not found."))
                })?;
                let p = |k: &str| {
                    found
                        .body
                        .pointer(&format!("/properties/{k}"))
                        .cloned()
                        .unwrap_or(Json::Null)
                };
                out.insert(
                    id,
                    json!({"principalId": p("principalId"), "clientId": p("clientId")}),
                );
            }
            Ok(json!({"type": "UserAssigned", "userAssignedIdentities": out}))
        }
        other => Err(bad(format!(
            "The identity type '{other}' is not valid: use SystemAssigned or UserAssigned."
        ))),
    }
}
