//! Microsoft.Network/applicationGateways: a dedicated subnet, parts that reference each other
//! by sub-resource ID (`{gatewayId}/frontendPorts/{name}`), frontend addresses, Key Vault
//! certificates read through a user-assigned identity. Provisioning takes minutes, as on Azure.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{json, Map, Value as Json};

use super::subnet::net::{
    find_subnet, location, missing_reference, prefixes_of, same_location, tags,
};
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Application Gateways.
pub struct ApplicationGateway;

const TYPE: &str = "Microsoft.Network/applicationGateways";

/// The parts of a gateway, by ARM collection name.
const COLLECTIONS: [&str; 10] = [
    "gatewayIPConfigurations",
    "sslCertificates",
    "trustedRootCertificates",
    "frontendIPConfigurations",
    "frontendPorts",
    "probes",
    "backendAddressPools",
    "backendHttpSettingsCollection",
    "httpListeners",
    "requestRoutingRules",
];

/// References between parts: (collection, property, referenced collection).
const REFERENCES: [(&str, &str, &str); 7] = [
    (
        "httpListeners",
        "frontendIPConfiguration",
        "frontendIPConfigurations",
    ),
    ("httpListeners", "frontendPort", "frontendPorts"),
    ("httpListeners", "sslCertificate", "sslCertificates"),
    ("requestRoutingRules", "httpListener", "httpListeners"),
    (
        "requestRoutingRules",
        "backendAddressPool",
        "backendAddressPools",
    ),
    (
        "requestRoutingRules",
        "backendHttpSettings",
        "backendHttpSettingsCollection",
    ),
    ("backendHttpSettingsCollection", "probe", "probes"),
];

/// Resource types that may not share a subnet with an Application Gateway.
const OTHER_SUBNET_USERS: [&str; 5] = [
    "Microsoft.Network/privateEndpoints",
    "Microsoft.Network/bastionHosts",
    "Microsoft.Network/networkInterfaces",
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.ContainerService/managedClusters/agentPools",
];

fn mentions(j: &Json, target: &str) -> bool {
    match j {
        Json::String(s) => s.eq_ignore_ascii_case(target),
        Json::Array(a) => a.iter().any(|v| mentions(v, target)),
        Json::Object(o) => o.values().any(|v| mentions(v, target)),
        _ => false,
    }
}

fn parts<'a>(props: &'a Map<String, Json>, collection: &str) -> Vec<&'a Json> {
    props
        .get(collection)
        .and_then(Json::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn part_name(part: &Json) -> &str {
    part.get("name").and_then(Json::as_str).unwrap_or_default()
}

fn part_id(gateway: &ArmId, collection: &str, name: &str) -> String {
    format!("{}/{collection}/{name}", gateway.to_id())
}

/// Every reference from one part to another resolves to a part of this gateway.
fn check_references(gateway: &ArmId, props: &Map<String, Json>) -> Result<(), ArmErrorBody> {
    let resolves = |reference: &str, target: &str| {
        parts(props, target)
            .iter()
            .any(|p| part_id(gateway, target, part_name(p)).eq_ignore_ascii_case(reference))
    };
    let by = |collection: &str, part: &Json| {
        ArmId::parse(&part_id(gateway, collection, part_name(part)))
            .unwrap_or_else(|| gateway.clone())
    };
    for (collection, property, target) in REFERENCES {
        for part in parts(props, collection) {
            if let Some(reference) = part
                .pointer(&format!("/properties/{property}/id"))
                .and_then(Json::as_str)
            {
                if !resolves(reference, target) {
                    return Err(missing_reference(reference, &by(collection, part)));
                }
            }
        }
    }
    for part in parts(props, "backendHttpSettingsCollection") {
        let roots = part
            .pointer("/properties/trustedRootCertificates")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        for reference in roots
            .iter()
            .filter_map(|r| r.get("id").and_then(Json::as_str))
        {
            if !resolves(reference, "trustedRootCertificates") {
                return Err(missing_reference(
                    reference,
                    &by("backendHttpSettingsCollection", part),
                ));
            }
        }
    }
    for listener in parts(props, "httpListeners") {
        let https = listener
            .pointer("/properties/protocol")
            .and_then(Json::as_str)
            .is_some_and(|p| p.eq_ignore_ascii_case("Https"));
        if https && listener.pointer("/properties/sslCertificate/id").is_none() {
            return Err(ArmErrorBody::invalid(format!(
                "Https listener {} must reference an SSL certificate.",
                part_id(gateway, "httpListeners", part_name(listener))
            )));
        }
    }
    Ok(())
}

/// The gateway subnet exists, is in the gateway's region and holds nothing but gateways.
fn check_subnet(
    cloud: &dyn CloudView,
    gateway: &ArmId,
    subnet_id: &str,
    region: &str,
) -> Result<IpNet, ArmErrorBody> {
    let (subnet, vnet) =
        find_subnet(cloud, subnet_id).ok_or_else(|| missing_reference(subnet_id, gateway))?;
    let vnet_region = vnet
        .get("location")
        .and_then(Json::as_str)
        .unwrap_or(region);
    if !vnet_region.eq_ignore_ascii_case(region) {
        return Err(missing_reference(subnet_id, gateway));
    }
    let mut users: Vec<String> = OTHER_SUBNET_USERS
        .iter()
        .flat_map(|t| cloud.of_type(t))
        .filter(|r| mentions(&r.body, subnet_id))
        .map(|r| r.id.clone())
        .collect();
    let delegations = subnet
        .get("delegations")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    users.extend(
        delegations
            .iter()
            .filter_map(|d| d.pointer("/properties/serviceName").and_then(Json::as_str))
            .filter(|s| !s.eq_ignore_ascii_case(TYPE))
            .map(|s| format!("delegation to {s}")),
    );
    if !users.is_empty() {
        return Err(ArmErrorBody::new(400, "ApplicationGatewaySubnetCannotBeUsedByOtherResources", format!("Subnet {subnet_id} cannot be used for application gateway {} since the subnet is used by other resources: {}. An application gateway subnet can only contain application gateways.", gateway.to_id(), users.join(", "))));
    }
    prefixes_of(&subnet)
        .iter()
        .filter_map(|p| p.parse::<IpNet>().ok())
        .find(|n| matches!(n, IpNet::V4(_)))
        .ok_or_else(|| {
            ArmErrorBody::invalid(format!("Subnet {subnet_id} has no IPv4 address prefix."))
        })
}

/// Private frontend addresses held by other gateways in the subnet.
fn taken_addresses(cloud: &dyn CloudView, gateway: &ArmId, subnet: &IpNet) -> BTreeSet<IpAddr> {
    cloud
        .of_type(TYPE)
        .into_iter()
        .filter(|g| !g.id.eq_ignore_ascii_case(&gateway.to_id()))
        .flat_map(|g| {
            g.body
                .pointer("/properties/frontendIPConfigurations")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|f| {
            f.pointer("/properties/privateIPAddress")
                .and_then(Json::as_str)
                .and_then(|a| a.parse().ok())
        })
        .filter(|a| subnet.contains(a))
        .collect()
}

/// Frontends: public IPs exist; private addresses are in the gateway subnet (static), or are
/// assigned from it (dynamic; kept across updates).
fn frontends(
    cloud: &dyn CloudView,
    gateway: &ArmId,
    props: &mut Map<String, Json>,
    old: &Json,
    subnet: &IpNet,
) -> Result<(), ArmErrorBody> {
    let mut taken = taken_addresses(cloud, gateway, subnet);
    let old_frontends = old
        .pointer("/properties/frontendIPConfigurations")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let frontends = props
        .get_mut("frontendIPConfigurations")
        .and_then(Json::as_array_mut);
    for fe in frontends.into_iter().flatten() {
        let name = part_name(fe).to_string();
        let by = ArmId::parse(&part_id(gateway, "frontendIPConfigurations", &name))
            .unwrap_or_else(|| gateway.clone());
        if let Some(pip) = fe
            .pointer("/properties/publicIPAddress/id")
            .and_then(Json::as_str)
        {
            if ArmId::parse(pip).and_then(|id| cloud.get(&id)).is_none() {
                return Err(missing_reference(pip, &by));
            }
        }
        if fe.pointer("/properties/subnet/id").is_none() {
            continue;
        }
        let fixed = fe
            .pointer("/properties/privateIPAddress")
            .and_then(Json::as_str)
            .map(str::to_string);
        let address = match fixed {
            Some(a) => {
                let ip: IpAddr = a.parse().map_err(|_| {
                    ArmErrorBody::invalid(format!("'{a}' is not a valid IP address."))
                })?;
                if !subnet.contains(&ip) || taken.contains(&ip) {
                    return Err(ArmErrorBody::new(400, "PrivateIPAddressNotInSubnet", format!("Private static IP address {a} of {} does not belong to the range of subnet prefix {subnet} or is in use.", by.to_id())));
                }
                ip
            }
            None => {
                let before = old_frontends
                    .iter()
                    .find(|o| part_name(o).eq_ignore_ascii_case(&name))
                    .and_then(|o| o.pointer("/properties/privateIPAddress"))
                    .and_then(Json::as_str)
                    .and_then(|a| a.parse().ok());
                // Azure reserves the first four addresses of a subnet.
                let free = subnet.hosts().skip(3).find(|a| !taken.contains(a));
                before.or(free).ok_or_else(|| {
                    ArmErrorBody::new(
                        400,
                        "SubnetIsFull",
                        format!("Subnet {subnet} has no free address for {}.", by.to_id()),
                    )
                })?
            }
        };
        taken.insert(address);
        fe["properties"]["privateIPAddress"] = json!(address.to_string());
        if fe
            .pointer("/properties/privateIPAllocationMethod")
            .is_none()
        {
            fe["properties"]["privateIPAllocationMethod"] = json!("Dynamic");
        }
    }
    Ok(())
}

/// The identity: user-assigned identities exist; their principal and client IDs are filled in.
fn identity(cloud: &dyn CloudView, body: &Json) -> Result<Option<Json>, ArmErrorBody> {
    let Some(identity) = body.get("identity").filter(|i| i.is_object()) else {
        return Ok(None);
    };
    let kind = identity
        .get("type")
        .and_then(Json::as_str)
        .unwrap_or("None");
    if kind.eq_ignore_ascii_case("None") {
        return Ok(None);
    }
    if !kind.eq_ignore_ascii_case("UserAssigned") {
        return Err(ArmErrorBody::invalid(format!(
            "Identity type '{kind}' is not supported by Application Gateway: use UserAssigned."
        )));
    }
    let mut ids = Map::new();
    for id in identity
        .get("userAssignedIdentities")
        .and_then(Json::as_object)
        .map(|m| m.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let found = ArmId::parse(&id).and_then(|i| cloud.get(&i)).ok_or_else(|| ArmErrorBody::new(400, "FailedIdentityOperation", format!("Identity operation failed: the user-assigned identity '{id}' was not found.")))?;
        let field = |k: &str| {
            found
                .body
                .pointer(&format!("/properties/{k}"))
                .cloned()
                .unwrap_or(Json::Null)
        };
        ids.insert(
            id,
            json!({"principalId": field("principalId"), "clientId": field("clientId")}),
        );
    }
    if ids.is_empty() {
        return Err(ArmErrorBody::invalid(
            "A UserAssigned identity needs at least one entry in userAssignedIdentities.",
        ));
    }
    Ok(Some(
        json!({"type": "UserAssigned", "userAssignedIdentities": ids}),
    ))
}

/// SSL certificates: inline data or a Key Vault secret read through the identity; a secret in
/// this local cloud must belong to one of its vaults. Passwords are never stored.
fn certificates(
    cloud: &dyn CloudView,
    gateway: &ArmId,
    props: &mut Map<String, Json>,
    has_identity: bool,
) -> Result<(), ArmErrorBody> {
    let base = format!("{}/keyvault/", cloud.base_url().trim_end_matches('/'));
    for cert in props
        .get_mut("sslCertificates")
        .and_then(Json::as_array_mut)
        .into_iter()
        .flatten()
    {
        let id = part_id(gateway, "sslCertificates", part_name(cert));
        let secret = cert
            .pointer("/properties/keyVaultSecretId")
            .and_then(Json::as_str)
            .map(str::to_string);
        match secret {
            Some(secret) => {
                if !has_identity {
                    return Err(ArmErrorBody::invalid(format!("SSL certificate {id} references Key Vault secret {secret}, which needs a user-assigned identity on the application gateway.")));
                }
                if let Some(rest) = secret.strip_prefix(&base) {
                    let vault = rest.split('/').next().unwrap_or_default();
                    let known = cloud.of_type("Microsoft.KeyVault/vaults").iter().any(|v| {
                        ArmId::parse(&v.id).is_some_and(|i| i.name().eq_ignore_ascii_case(vault))
                    });
                    if !known || !rest[vault.len()..].starts_with("/secrets/") {
                        return Err(ArmErrorBody::invalid(format!("SSL certificate {id} references {secret}, which is not a secret of a Key Vault in this cloud.")));
                    }
                }
            }
            None if cert.pointer("/properties/data").is_none() => {
                return Err(ArmErrorBody::invalid(format!(
                    "SSL certificate {id} needs data or keyVaultSecretId."
                )));
            }
            None => {}
        }
        if let Some(p) = cert.get_mut("properties").and_then(Json::as_object_mut) {
            p.remove("password");
        }
    }
    for root in parts(props, "trustedRootCertificates") {
        if root.pointer("/properties/data").is_none()
            && root.pointer("/properties/keyVaultSecretId").is_none()
        {
            return Err(ArmErrorBody::invalid(format!(
                "Trusted root certificate {} needs data or keyVaultSecretId.",
                part_id(gateway, "trustedRootCertificates", part_name(root))
            )));
        }
    }
    Ok(())
}

impl ResourceBehavior for ApplicationGateway {
    fn arm_type(&self) -> &'static str {
        TYPE
    }

    fn provisioning_seconds(&self) -> f64 {
        600.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let region = location(&body)?;
        let old = existing.map(|e| e.body.clone()).unwrap_or(Json::Null);
        same_location(existing.map(|e| &e.body), &region, id)?;
        let mut props = body
            .get("properties")
            .and_then(Json::as_object)
            .cloned()
            .ok_or_else(|| {
                ArmErrorBody::invalid(
                    "The request content is missing the required property properties.",
                )
            })?;
        let sku = props.get("sku").cloned().unwrap_or(Json::Null);
        let tier = sku
            .get("tier")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        if !["Standard_v2", "WAF_v2", "Basic"].contains(&tier.as_str())
            || sku.get("name").and_then(Json::as_str) != Some(tier.as_str())
        {
            return Err(ArmErrorBody::invalid(format!("SKU name '{}' and tier '{tier}' are not valid: use Standard_v2, WAF_v2 or Basic for both.", sku.get("name").and_then(Json::as_str).unwrap_or_default())));
        }
        let gateway_ips = parts(&props, "gatewayIPConfigurations");
        let [gateway_ip] = gateway_ips.as_slice() else {
            return Err(ArmErrorBody::invalid(
                "An application gateway needs exactly one gatewayIPConfiguration.",
            ));
        };
        let subnet_id = gateway_ip
            .pointer("/properties/subnet/id")
            .and_then(Json::as_str)
            .ok_or_else(|| {
                ArmErrorBody::invalid(
                    "gatewayIPConfigurations[0].properties.subnet.id is required.",
                )
            })?
            .to_string();
        let subnet = check_subnet(cloud, id, &subnet_id, &region)?;
        for collection in COLLECTIONS {
            let mut names = BTreeSet::new();
            for part in parts(&props, collection) {
                if part_name(part).is_empty() || !names.insert(part_name(part).to_ascii_lowercase())
                {
                    return Err(ArmErrorBody::invalid(format!("Every entry of {collection} needs a unique name ('{}' is empty or repeated).", part_name(part))));
                }
            }
        }
        check_references(id, &props)?;
        for rule in parts(&props, "requestRoutingRules") {
            if rule
                .pointer("/properties/priority")
                .and_then(Json::as_u64)
                .is_none_or(|p| !(1..=20000).contains(&p))
            {
                return Err(ArmErrorBody::new(400, "ApplicationGatewayRequestRoutingRulePriorityCannotBeEmpty", format!("Request routing rule {} needs a priority from 1 to 20000 with SKU tier {tier}.", part_id(id, "requestRoutingRules", part_name(rule)))));
            }
        }
        frontends(cloud, id, &mut props, &old, &subnet)?;
        let identity = identity(cloud, &body)?;
        certificates(cloud, id, &mut props, identity.is_some())?;
        for collection in COLLECTIONS {
            for part in props
                .get_mut(collection)
                .and_then(Json::as_array_mut)
                .into_iter()
                .flatten()
            {
                let name = part_name(part).to_string();
                part["id"] = json!(part_id(id, collection, &name));
                part["type"] = json!(format!("{TYPE}/{collection}"));
                if !part.get("properties").is_some_and(Json::is_object) {
                    part["properties"] = json!({});
                }
                part["properties"]["provisioningState"] = json!("Succeeded");
            }
        }
        props.insert("operationalState".into(), json!("Running"));
        let guid = old
            .pointer("/properties/resourceGuid")
            .cloned()
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        props.insert("resourceGuid".into(), guid);
        let mut stored = json!({"location": region, "tags": tags(&body), "properties": props});
        if let Some(identity) = identity {
            stored["identity"] = identity;
        }
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::virtual_network::tests::Fake;

    const RG: &str = "/subscriptions/s/resourceGroups/rg/providers";
    const GW: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationGateways/agw";

    fn subnet() -> String {
        format!("{RG}/Microsoft.Network/virtualNetworks/v/subnets/AppGateway")
    }

    fn cloud() -> Fake {
        let mut cloud = Fake::default();
        cloud.add(&format!("{RG}/Microsoft.Network/virtualNetworks/v"), json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}));
        cloud.add(
            &subnet(),
            json!({"properties": {"addressPrefix": "10.0.3.0/24"}}),
        );
        cloud.add(
            &format!("{RG}/Microsoft.Network/publicIPAddresses/pip"),
            json!({"location": "westeurope", "properties": {"ipAddress": "20.1.2.3"}}),
        );
        cloud.add(
            &format!("{RG}/Microsoft.ManagedIdentity/userAssignedIdentities/agw"),
            json!({"properties": {"principalId": "p1", "clientId": "c1"}}),
        );
        cloud.add(
            &format!("{RG}/Microsoft.KeyVault/vaults/kv1"),
            json!({"properties": {"vaultUri": "http://127.0.0.1:1/keyvault/kv1/"}}),
        );
        cloud
    }

    fn sub(collection: &str, name: &str) -> Json {
        json!({"id": format!("{GW}/{collection}/{name}")})
    }

    fn body() -> Json {
        json!({
            "location": "westeurope",
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {format!("{RG}/Microsoft.ManagedIdentity/userAssignedIdentities/agw"): {}}},
            "properties": {
                "sku": {"name": "Standard_v2", "tier": "Standard_v2", "capacity": 2},
                "gatewayIPConfigurations": [{"name": "gw", "properties": {"subnet": {"id": subnet()}}}],
                "frontendIPConfigurations": [
                    {"name": "public", "properties": {"publicIPAddress": {"id": format!("{RG}/Microsoft.Network/publicIPAddresses/pip")}}},
                    {"name": "private", "properties": {"subnet": {"id": subnet()}, "privateIPAllocationMethod": "Dynamic"}},
                ],
                "frontendPorts": [{"name": "https", "properties": {"port": 443}}],
                "sslCertificates": [{"name": "fe", "properties": {"keyVaultSecretId": "http://127.0.0.1:1/keyvault/kv1/secrets/fe"}}],
                "backendAddressPools": [{"name": "pool", "properties": {"backendAddresses": [{"fqdn": "echo.example.com"}]}}],
                "probes": [{"name": "health", "properties": {"protocol": "Https", "path": "/", "interval": 30, "timeout": 30, "unhealthyThreshold": 3}}],
                "backendHttpSettingsCollection": [{"name": "tls", "properties": {"port": 443, "protocol": "Https", "probe": sub("probes", "health")}}],
                "httpListeners": [{"name": "https", "properties": {"frontendIPConfiguration": sub("frontendIPConfigurations", "public"), "frontendPort": sub("frontendPorts", "https"), "protocol": "Https", "sslCertificate": sub("sslCertificates", "fe")}}],
                "requestRoutingRules": [{"name": "r", "properties": {"ruleType": "Basic", "priority": 10, "httpListener": sub("httpListeners", "https"), "backendAddressPool": sub("backendAddressPools", "pool"), "backendHttpSettings": sub("backendHttpSettingsCollection", "tls")}}],
            },
        })
    }

    fn put(cloud: &Fake, existing: Option<&Json>, body: Json) -> Result<Json, ArmErrorBody> {
        let stored = existing.map(|b| StoredResource {
            id: GW.into(),
            body: b.clone(),
        });
        ApplicationGateway.accept_put(cloud, &ArmId::parse(GW).expect("id"), stored.as_ref(), body)
    }

    #[test]
    fn accepts_a_gateway_and_fills_server_values() {
        let cloud = cloud();
        let gw = put(&cloud, None, body()).expect("accepted");
        let p = &gw["properties"];
        assert_eq!(
            p["frontendIPConfigurations"][1]["properties"]["privateIPAddress"],
            json!("10.0.3.4")
        );
        assert_eq!(
            p["httpListeners"][0]["id"],
            json!(format!("{GW}/httpListeners/https"))
        );
        assert_eq!(
            gw["identity"]["userAssignedIdentities"]
                [format!("{RG}/Microsoft.ManagedIdentity/userAssignedIdentities/agw")]
                ["principalId"],
            json!("p1")
        );
        let again = put(&cloud, Some(&gw), body()).expect("updated");
        assert_eq!(again["properties"]["resourceGuid"], p["resourceGuid"]);
        assert_eq!(
            again["properties"]["frontendIPConfigurations"][1]["properties"]["privateIPAddress"],
            json!("10.0.3.4")
        );
    }

    #[test]
    fn refuses_broken_references_and_shared_subnets() {
        let mut cloud = cloud();
        let mut b = body();
        b["properties"]["requestRoutingRules"][0]["properties"]["backendAddressPool"] =
            sub("backendAddressPools", "nope");
        let e = put(&cloud, None, b).expect_err("dangling");
        assert_eq!(e.code, "InvalidResourceReference");
        assert!(e.message.contains("backendAddressPools/nope"));
        let mut b = body();
        b["properties"]["httpListeners"][0]["properties"]["sslCertificate"] = Json::Null;
        assert!(put(&cloud, None, b)
            .expect_err("https")
            .message
            .contains("SSL certificate"));
        let mut b = body();
        b["properties"]["requestRoutingRules"][0]["properties"]["priority"] = Json::Null;
        assert_eq!(
            put(&cloud, None, b).expect_err("priority").code,
            "ApplicationGatewayRequestRoutingRulePriorityCannotBeEmpty"
        );
        let mut b = body();
        b["properties"]["sslCertificates"][0]["properties"]["keyVaultSecretId"] =
            json!("http://127.0.0.1:1/keyvault/gone/secrets/fe");
        assert!(put(&cloud, None, b).is_err());
        let mut b = body();
        b["identity"] = Json::Null;
        assert!(put(&cloud, None, b)
            .expect_err("identity")
            .message
            .contains("user-assigned identity"));
        let mut b = body();
        b["properties"]["gatewayIPConfigurations"][0]["properties"]["subnet"]["id"] =
            json!(subnet().replace("AppGateway", "Missing"));
        assert_eq!(
            put(&cloud, None, b).expect_err("subnet").code,
            "InvalidResourceReference"
        );
        cloud.add(
            &format!("{RG}/Microsoft.Network/privateEndpoints/pe"),
            json!({"properties": {"subnet": {"id": subnet()}}}),
        );
        assert_eq!(
            put(&cloud, None, body()).expect_err("shared").code,
            "ApplicationGatewaySubnetCannotBeUsedByOtherResources"
        );
    }
}
