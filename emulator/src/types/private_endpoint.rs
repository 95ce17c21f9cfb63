//! Microsoft.Network/privateEndpoints and their child privateDnsZoneGroups.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::{json, Value as Json};

use super::subnet::net::{
    find_subnet, location, missing_reference, parse_prefixes, prefixes_of, same_location, tags,
};
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Private endpoints: an IP from their subnet, auto-approved connections.
pub struct PrivateEndpoint;

/// The DNS zone group of a private endpoint (at most one per endpoint).
pub struct PrivateDnsZoneGroup;

const ENDPOINTS: &str = "Microsoft.Network/privateEndpoints";
const GROUPS: &str = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups";

/// The private IPs an endpoint body holds.
fn ips_of(body: &Json) -> Vec<String> {
    body.pointer("/properties/customDnsConfigs")
        .and_then(Json::as_array)
        .map(|c| {
            c.iter()
                .flat_map(|d| {
                    d.get("ipAddresses")
                        .and_then(Json::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .filter_map(|ip| ip.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The first free address of the subnet: Azure reserves the first four and the last.
fn allocate(
    cloud: &dyn CloudView,
    id: &ArmId,
    subnet_id: &str,
    subnet: &Json,
) -> Result<String, ArmErrorBody> {
    let used: Vec<String> = cloud
        .of_type(ENDPOINTS)
        .into_iter()
        .filter(|r| !r.id.eq_ignore_ascii_case(&id.to_id()))
        .filter(|r| {
            r.body
                .pointer("/properties/subnet/id")
                .and_then(Json::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(subnet_id))
        })
        .flat_map(|r| ips_of(&r.body))
        .collect();
    for net in parse_prefixes(&prefixes_of(subnet))? {
        let (IpAddr::V4(first), IpAddr::V4(last)) = (net.network(), net.broadcast()) else {
            continue;
        };
        let (first, last) = (u32::from(first), u32::from(last));
        if let Some(ip) = (first.saturating_add(4)..last)
            .map(|n| Ipv4Addr::from(n).to_string())
            .find(|ip| !used.contains(ip))
        {
            return Ok(ip);
        }
    }
    Err(ArmErrorBody::new(
        400,
        "SubnetIsFull",
        format!(
            "Subnet {subnet_id} has no free address for private endpoint {}.",
            id.name()
        ),
    ))
}

/// The host name a target resource is reached by.
fn fqdn_of(target: &ArmId) -> String {
    let name = target.name().to_ascii_lowercase();
    match target.arm_type().to_ascii_lowercase().as_str() {
        "microsoft.containerregistry/registries" => format!("{name}.azurecr.io"),
        "microsoft.keyvault/vaults" => format!("{name}.vault.azure.net"),
        _ => format!("{name}.privatelink.local"),
    }
}

impl ResourceBehavior for PrivateEndpoint {
    fn arm_type(&self) -> &'static str {
        ENDPOINTS
    }

    fn provisioning_seconds(&self) -> f64 {
        30.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let location = location(&body)?;
        let old = existing.map(|e| &e.body);
        same_location(old, &location, id)?;
        let props = body.get("properties").cloned().unwrap_or_else(|| json!({}));
        let subnet_id = props
            .pointer("/subnet/id")
            .and_then(Json::as_str)
            .ok_or_else(|| {
                ArmErrorBody::new(
                    400,
                    "InvalidRequestFormat",
                    "Value for reference id is missing. Path properties.subnet.",
                )
            })?;
        let (subnet, _vnet) =
            find_subnet(cloud, subnet_id).ok_or_else(|| missing_reference(subnet_id, id))?;
        if let Some(old_subnet) = old
            .and_then(|o| o.pointer("/properties/subnet/id"))
            .and_then(Json::as_str)
        {
            if !old_subnet.eq_ignore_ascii_case(subnet_id) {
                return Err(ArmErrorBody::invalid(format!(
                    "The subnet of private endpoint {} cannot be changed.",
                    id.name()
                )));
            }
        }
        let list = |key: &str| {
            props
                .get(key)
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let (auto, manual) = (
            list("privateLinkServiceConnections"),
            list("manualPrivateLinkServiceConnections"),
        );
        let (connections, is_manual) = match (auto.as_slice(), manual.as_slice()) {
            ([_], []) => (auto.clone(), false),
            ([], [_]) => (manual.clone(), true),
            _ => {
                return Err(ArmErrorBody::invalid(format!(
                    "Private endpoint {} needs exactly one private link service connection.",
                    id.name()
                )))
            }
        };
        let connection = &connections[0];
        let target = connection
            .pointer("/properties/privateLinkServiceId")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let target_id = ArmId::parse(target)
            .filter(|t| cloud.get(t).is_some())
            .ok_or_else(|| missing_reference(target, id))?;
        let groups = connection
            .pointer("/properties/groupIds")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        if groups.is_empty()
            && !target_id
                .arm_type()
                .eq_ignore_ascii_case("Microsoft.Network/privateLinkServices")
        {
            return Err(ArmErrorBody::invalid(format!("Private endpoint {} must name the target sub-resource (groupIds), e.g. registry or vault.", id.name())));
        }
        let ip = match ips_of(old.unwrap_or(&Json::Null)).into_iter().next() {
            Some(ip) => ip,
            None => allocate(cloud, id, subnet_id, &subnet)?,
        };
        let name = connection
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or("connection");
        let (status, description) = if is_manual {
            ("Pending", "Awaiting approval")
        } else {
            ("Approved", "Auto-Approved")
        };
        let mut connection_props = connection
            .get("properties")
            .cloned()
            .unwrap_or_else(|| json!({}));
        connection_props["privateLinkServiceConnectionState"] =
            json!({"status": status, "description": description, "actionsRequired": "None"});
        connection_props["provisioningState"] = json!("Succeeded");
        let connection = json!({"name": name, "id": format!("{}/privateLinkServiceConnections/{name}", id.to_id()), "type": "Microsoft.Network/privateEndpoints/privateLinkServiceConnections", "properties": connection_props});
        let nic = old
            .and_then(|o| o.pointer("/properties/networkInterfaces"))
            .cloned()
            .unwrap_or_else(|| json!([{"id": format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/networkInterfaces/{}.nic.{}", id.subscription, id.resource_group.as_deref().unwrap_or_default(), id.name(), uuid::Uuid::new_v4())}]));
        let (with, without) = if is_manual {
            (
                "manualPrivateLinkServiceConnections",
                "privateLinkServiceConnections",
            )
        } else {
            (
                "privateLinkServiceConnections",
                "manualPrivateLinkServiceConnections",
            )
        };
        Ok(json!({
            "location": location,
            "tags": tags(&body),
            "properties": {
                "subnet": {"id": subnet_id},
                with: [connection],
                without: [],
                "networkInterfaces": nic,
                "customDnsConfigs": [{"fqdn": fqdn_of(&target_id), "ipAddresses": [ip]}],
                "ipConfigurations": props.get("ipConfigurations").cloned().unwrap_or_else(|| json!([])),
                "customNetworkInterfaceName": props.get("customNetworkInterfaceName").cloned().unwrap_or(json!("")),
            },
        }))
    }
}

impl ResourceBehavior for PrivateDnsZoneGroup {
    fn arm_type(&self) -> &'static str {
        GROUPS
    }

    fn provisioning_seconds(&self) -> f64 {
        10.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        _existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let endpoint_id = id
            .parent()
            .ok_or_else(|| ArmErrorBody::invalid("A DNS zone group needs a private endpoint."))?;
        let endpoint = cloud.get(&endpoint_id).ok_or_else(|| {
            ArmErrorBody::new(
                404,
                "ParentResourceNotFound",
                format!("Parent resource '{}' not found.", endpoint_id.name()),
            )
        })?;
        let other = cloud.children(&endpoint_id).into_iter().find(|r| {
            ArmId::parse(&r.id).is_some_and(|g| {
                g.arm_type().eq_ignore_ascii_case(GROUPS)
                    && !g.name().eq_ignore_ascii_case(id.name())
            })
        });
        if let Some(other) = other {
            return Err(ArmErrorBody::invalid(format!("Private endpoint {} already has the DNS zone group {}; an endpoint has at most one.", endpoint_id.name(), other.id)));
        }
        let configs = body
            .pointer("/properties/privateDnsZoneConfigs")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        if configs.is_empty() || configs.len() > 5 {
            return Err(ArmErrorBody::invalid(format!(
                "DNS zone group {} needs 1 to 5 privateDnsZoneConfigs.",
                id.name()
            )));
        }
        let dns = endpoint
            .body
            .pointer("/properties/customDnsConfigs/0")
            .cloned()
            .unwrap_or(Json::Null);
        let host = dns
            .get("fqdn")
            .and_then(Json::as_str)
            .and_then(|f| f.split('.').next())
            .unwrap_or(endpoint_id.name())
            .to_string();
        let mut out = Vec::new();
        for (i, c) in configs.iter().enumerate() {
            let zone = c
                .pointer("/properties/privateDnsZoneId")
                .and_then(Json::as_str)
                .ok_or_else(|| {
                    ArmErrorBody::invalid(format!(
                        "privateDnsZoneConfigs[{i}] has no privateDnsZoneId."
                    ))
                })?;
            let zone_id = ArmId::parse(zone)
                .filter(|z| {
                    z.arm_type()
                        .eq_ignore_ascii_case("Microsoft.Network/privateDnsZones")
                        && cloud.get(z).is_some()
                })
                .ok_or_else(|| missing_reference(zone, id))?;
            let name = c
                .get("name")
                .and_then(Json::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| zone_id.name().replace('.', "-"));
            out.push(json!({"name": name, "properties": {"privateDnsZoneId": zone, "recordSets": [{
                "recordType": "A", "recordSetName": host, "fqdn": format!("{host}.{}", zone_id.name()), "ttl": 10,
                "ipAddresses": dns.get("ipAddresses").cloned().unwrap_or_else(|| json!([])), "provisioningState": "Succeeded",
            }]}}));
        }
        Ok(json!({"properties": {"privateDnsZoneConfigs": out}}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::virtual_network::tests::Fake;

    const VNET: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";
    const ACR: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/meshacr";
    const ZONE: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io";
    const PE: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe";

    fn body() -> Json {
        json!({"location": "westeurope", "properties": {"subnet": {"id": format!("{VNET}/subnets/PrivateEndpoints")}, "privateLinkServiceConnections": [{"name": "c", "properties": {"privateLinkServiceId": ACR, "groupIds": ["registry"]}}]}})
    }

    #[test]
    fn endpoints_get_subnet_addresses_and_zone_records() {
        let mut cloud = Fake::default();
        cloud.add(VNET, json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}));
        cloud.add(
            &format!("{VNET}/subnets/PrivateEndpoints"),
            json!({"properties": {"addressPrefix": "10.0.5.0/24"}}),
        );
        cloud.add(ACR, json!({}));
        cloud.add(ZONE, json!({}));
        let id = ArmId::parse(PE).expect("id");
        let first = PrivateEndpoint
            .accept_put(&cloud, &id, None, body())
            .expect("ok");
        assert_eq!(
            first["properties"]["customDnsConfigs"][0],
            json!({"fqdn": "meshacr.azurecr.io", "ipAddresses": ["10.0.5.4"]})
        );
        assert_eq!(
            first["properties"]["privateLinkServiceConnections"][0]["properties"]
                ["privateLinkServiceConnectionState"]["status"],
            json!("Approved")
        );
        let mut stored = first.clone();
        stored["id"] = json!(PE);
        cloud.add(PE, stored);
        let second = ArmId::parse(&PE.replace("/pe", "/pe2")).expect("id");
        let other = PrivateEndpoint
            .accept_put(&cloud, &second, None, body())
            .expect("ok");
        assert_eq!(
            other["properties"]["customDnsConfigs"][0]["ipAddresses"],
            json!(["10.0.5.5"])
        );
        let mut missing = body();
        missing["properties"]["subnet"]["id"] = json!(format!("{VNET}/subnets/Nope"));
        assert_eq!(
            PrivateEndpoint
                .accept_put(&cloud, &second, None, missing)
                .expect_err("subnet")
                .code,
            "InvalidResourceReference"
        );
        let group = ArmId::parse(&format!("{PE}/privateDnsZoneGroups/default")).expect("id");
        let accepted = PrivateDnsZoneGroup.accept_put(&cloud, &group, None, json!({"properties": {"privateDnsZoneConfigs": [{"name": "acr", "properties": {"privateDnsZoneId": ZONE}}]}})).expect("group");
        assert_eq!(
            accepted["properties"]["privateDnsZoneConfigs"][0]["properties"]["recordSets"][0]
                ["fqdn"],
            json!("meshacr.privatelink.azurecr.io")
        );
    }
}
