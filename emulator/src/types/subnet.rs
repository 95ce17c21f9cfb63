//! Microsoft.Network/virtualNetworks/subnets, and helpers shared by the network types.

use serde_json::{json, Value as Json};

use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};
use net::{network_prefixes, overlap, parse_prefixes, prefixes_of, user_of};

/// Subnets: inside the network's address space, not overlapping a sibling, not deleted or
/// resized while something uses them.
pub struct Subnet;

/// Actions Azure grants a delegated service, for the services mesh's topologies use.
fn delegation_actions(service: &str) -> Vec<&'static str> {
    let join = "Microsoft.Network/virtualNetworks/subnets/join/action";
    let prepare = "Microsoft.Network/virtualNetworks/subnets/prepareNetworkPolicies/action";
    let unprepare = "Microsoft.Network/virtualNetworks/subnets/unprepareNetworkPolicies/action";
    match service.to_ascii_lowercase().as_str() {
        "microsoft.containerinstance/containergroups" => {
            vec!["Microsoft.Network/virtualNetworks/subnets/action"]
        }
        "microsoft.web/serverfarms" => vec!["Microsoft.Network/virtualNetworks/subnets/action"],
        "microsoft.sql/managedinstances" => vec![join, prepare, unprepare],
        _ => vec![join],
    }
}

/// The stored `properties` of a subnet (child resource or inline in a network body).
pub(crate) fn normalize(id: &str, props: &Json) -> Result<Json, ArmErrorBody> {
    let mut p = props.as_object().cloned().unwrap_or_default();
    let prefixes = prefixes_of(props);
    if prefixes.is_empty() {
        return Err(ArmErrorBody::invalid(format!(
            "Subnet {id} has no addressPrefix or addressPrefixes."
        )));
    }
    parse_prefixes(&prefixes)?;
    let endpoints: Vec<Json> = p
        .get("serviceEndpoints")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|e| json!({"service": e.get("service").cloned().unwrap_or(Json::Null), "locations": e.get("locations").cloned().unwrap_or_else(|| json!(["*"])), "provisioningState": "Succeeded"}))
        .collect();
    p.insert("serviceEndpoints".into(), Json::Array(endpoints));
    let mut delegations = Vec::new();
    for d in p
        .get("delegations")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default()
    {
        let name = d
            .get("name")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let service = d
            .pointer("/properties/serviceName")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        if name.is_empty() || !service.contains('/') {
            return Err(ArmErrorBody::invalid(format!("Delegation '{name}' of subnet {id} needs a name and a serviceName such as Microsoft.Web/serverFarms.")));
        }
        delegations.push(json!({
            "name": name,
            "id": format!("{id}/delegations/{name}"),
            "type": "Microsoft.Network/virtualNetworks/subnets/delegations",
            "properties": {"serviceName": service, "actions": delegation_actions(&service), "provisioningState": "Succeeded"},
        }));
    }
    p.insert("delegations".into(), Json::Array(delegations));
    let policies = p
        .get("privateEndpointNetworkPolicies")
        .and_then(Json::as_str)
        .unwrap_or("Disabled")
        .to_string();
    if ![
        "Enabled",
        "Disabled",
        "NetworkSecurityGroupEnabled",
        "RouteTableEnabled",
    ]
    .contains(&policies.as_str())
    {
        return Err(ArmErrorBody::invalid(format!(
            "Value '{policies}' of privateEndpointNetworkPolicies is not valid."
        )));
    }
    p.insert("privateEndpointNetworkPolicies".into(), json!(policies));
    if !p.contains_key("privateLinkServiceNetworkPolicies") {
        p.insert("privateLinkServiceNetworkPolicies".into(), json!("Enabled"));
    }
    Ok(Json::Object(p))
}

/// Check one subnet's ranges against its network's space and its siblings'
/// (`siblings`: name and prefixes of the other subnets).
pub(crate) fn check_ranges(
    vnet: &Json,
    vnet_name: &str,
    name: &str,
    prefixes: &[String],
    siblings: &[(String, Vec<String>)],
) -> Result<(), ArmErrorBody> {
    let space = network_prefixes(vnet)?;
    for net in parse_prefixes(prefixes)? {
        if !space.iter().any(|s| s.contains(&net)) {
            return Err(ArmErrorBody::new(400, "NetcfgSubnetRangeOutsideVnet", format!("Subnet '{name}' is not valid because its IP address range {net} is outside the IP address range of virtual network '{vnet_name}'.")));
        }
        for (other, other_prefixes) in siblings {
            if let Some(o) = parse_prefixes(other_prefixes)?
                .into_iter()
                .find(|o| overlap(o, &net))
            {
                return Err(ArmErrorBody::new(400, "NetcfgSubnetRangesOverlap", format!("Subnet '{name}' is not valid because its IP address range {net} overlaps with that of an existing subnet '{other}' ({o}) in virtual network '{vnet_name}'.")));
            }
        }
    }
    Ok(())
}

/// The 400 Azure answers when a subnet in use would go away.
pub(crate) fn in_use(subnet_name: &str, user: &str) -> ArmErrorBody {
    ArmErrorBody::new(400, "InUseSubnetCannotBeDeleted", format!("Subnet {subnet_name} is in use by {user} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet."))
}

impl ResourceBehavior for Subnet {
    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/virtualNetworks/subnets"
    }

    fn provisioning_seconds(&self) -> f64 {
        3.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let vnet_id = id
            .parent()
            .ok_or_else(|| ArmErrorBody::invalid("A subnet needs a virtual network."))?;
        let vnet = cloud.get(&vnet_id).ok_or_else(|| {
            ArmErrorBody::new(
                404,
                "ParentResourceNotFound",
                format!("Parent resource '{}' not found.", vnet_id.name()),
            )
        })?;
        let props = normalize(
            &id.to_id(),
            &body.get("properties").cloned().unwrap_or_else(|| json!({})),
        )?;
        let prefixes = prefixes_of(&props);
        let mut siblings: Vec<(String, Vec<String>)> = cloud
            .children(&vnet_id)
            .into_iter()
            .filter_map(|r| ArmId::parse(&r.id))
            .filter(|c| {
                c.arm_type()
                    .eq_ignore_ascii_case("Microsoft.Network/virtualNetworks/subnets")
                    && !c.name().eq_ignore_ascii_case(id.name())
            })
            .filter_map(|c| {
                cloud.get(&c).map(|r| {
                    (
                        c.name().to_string(),
                        prefixes_of(r.body.get("properties").unwrap_or(&Json::Null)),
                    )
                })
            })
            .collect();
        // Inline subnets of the network body that have no child resource.
        for s in vnet
            .body
            .pointer("/properties/subnets")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default()
        {
            let name = s
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string();
            if !name.eq_ignore_ascii_case(id.name())
                && !siblings.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name))
            {
                siblings.push((
                    name,
                    prefixes_of(s.get("properties").unwrap_or(&Json::Null)),
                ));
            }
        }
        check_ranges(&vnet.body, vnet_id.name(), id.name(), &prefixes, &siblings)?;
        if let Some(existing) = existing {
            let old = prefixes_of(existing.body.get("properties").unwrap_or(&Json::Null));
            if old != prefixes {
                if let Some(user) = user_of(cloud, &id.to_id()) {
                    return Err(ArmErrorBody::new(400, "InUseSubnetCannotBeUpdated", format!("Subnet {} is in use by {user} and its address prefix cannot be changed.", id.name())));
                }
            }
        }
        Ok(json!({"properties": props}))
    }

    fn check_delete(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        _existing: &StoredResource,
    ) -> Result<(), ArmErrorBody> {
        match user_of(cloud, &id.to_id()) {
            Some(user) => Err(in_use(id.name(), &user)),
            None => Ok(()),
        }
    }
}

/// Helpers shared by the network types.
pub(crate) mod net {
    use ipnet::IpNet;
    use serde_json::Value as Json;

    use super::super::CloudView;
    use crate::model::{ArmErrorBody, ArmId};

    /// Types whose resources may sit in a subnet or hold a public IP.
    const USERS: [&str; 6] = [
        "Microsoft.Network/privateEndpoints",
        "Microsoft.Network/bastionHosts",
        "Microsoft.Network/applicationGateways",
        "Microsoft.Network/networkInterfaces",
        "Microsoft.ContainerService/managedClusters",
        "Microsoft.ContainerService/managedClusters/agentPools",
    ];

    /// The address prefixes of subnet properties (`addressPrefixes`, or `addressPrefix`).
    pub fn prefixes_of(props: &Json) -> Vec<String> {
        let strings = |j: Option<&Json>| -> Vec<String> {
            j.and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let many = strings(props.get("addressPrefixes"));
        if !many.is_empty() {
            return many;
        }
        props
            .get("addressPrefix")
            .and_then(Json::as_str)
            .map(|p| vec![p.to_string()])
            .unwrap_or_default()
    }

    /// Parse CIDR prefixes the way Azure accepts them (host bits zero).
    pub fn parse_prefixes(prefixes: &[String]) -> Result<Vec<IpNet>, ArmErrorBody> {
        prefixes
            .iter()
            .map(|p| match p.parse::<IpNet>() {
                Ok(n) if n.trunc() == n => Ok(n),
                _ => Err(ArmErrorBody::new(400, "InvalidAddressPrefixFormat", format!("Address prefix {p} does not have a valid format: use CIDR notation with a network address, e.g. 10.0.0.0/16."))),
            })
            .collect()
    }

    /// The address space of a network body.
    pub fn network_prefixes(vnet: &Json) -> Result<Vec<IpNet>, ArmErrorBody> {
        let prefixes: Vec<String> = vnet
            .pointer("/properties/addressSpace/addressPrefixes")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        parse_prefixes(&prefixes)
    }

    /// True when two ranges share an address.
    pub fn overlap(a: &IpNet, b: &IpNet) -> bool {
        a.contains(b) || b.contains(a)
    }

    /// A subnet by ID: its child resource, or an inline subnet of its network's body.
    /// Returns the subnet's properties and the network's body.
    pub fn find_subnet(cloud: &dyn CloudView, subnet_id: &str) -> Option<(Json, Json)> {
        let id = ArmId::parse(subnet_id)?;
        if !id
            .arm_type()
            .eq_ignore_ascii_case("Microsoft.Network/virtualNetworks/subnets")
        {
            return None;
        }
        let vnet = cloud.get(&id.parent()?)?.body.clone();
        if let Some(child) = cloud.get(&id) {
            return Some((
                child.body.get("properties").cloned().unwrap_or(Json::Null),
                vnet,
            ));
        }
        let inline = vnet
            .pointer("/properties/subnets")
            .and_then(Json::as_array)?
            .iter()
            .find(|s| {
                s.get("name")
                    .and_then(Json::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(id.name()))
            })?;
        Some((
            inline.get("properties").cloned().unwrap_or(Json::Null),
            vnet,
        ))
    }

    fn mentions(j: &Json, target: &str) -> bool {
        match j {
            Json::String(s) => s.eq_ignore_ascii_case(target),
            Json::Array(a) => a.iter().any(|v| mentions(v, target)),
            Json::Object(o) => o.values().any(|v| mentions(v, target)),
            _ => false,
        }
    }

    /// The ID of a resource that references `target` (a subnet, a public IP...), if any.
    pub fn user_of(cloud: &dyn CloudView, target: &str) -> Option<String> {
        USERS
            .iter()
            .flat_map(|t| cloud.of_type(t))
            .find(|r| mentions(&r.body, target))
            .map(|r| r.id.clone())
    }

    /// 400 InvalidResourceReference, as ARM answers a reference to a missing resource.
    pub fn missing_reference(referenced: &str, by: &ArmId) -> ArmErrorBody {
        ArmErrorBody::new(400, "InvalidResourceReference", format!("Resource {referenced} referenced by resource {} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", by.to_id()))
    }

    /// A stable 64-bit hash (FNV-1a) for deterministic server-set values.
    pub fn stable_hash(s: &str) -> u64 {
        s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    /// The location of a body, required.
    pub fn location(body: &Json) -> Result<String, ArmErrorBody> {
        body.get("location")
            .and_then(Json::as_str)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                ArmErrorBody::new(
                    400,
                    "LocationRequired",
                    "The location property is required for this definition.",
                )
            })
    }

    /// 400 when an update moves a resource to another region.
    pub fn same_location(
        existing: Option<&Json>,
        location: &str,
        id: &ArmId,
    ) -> Result<(), ArmErrorBody> {
        let old = existing
            .and_then(|e| e.get("location"))
            .and_then(Json::as_str);
        match old {
            Some(old) if !old.eq_ignore_ascii_case(location) => Err(ArmErrorBody::new(400, "InvalidResourceLocation", format!("The resource '{}' already exists in location '{old}' in resource group '{}'. A resource with the same name cannot be created in location '{location}'. Please select a new resource name.", id.name(), id.resource_group.as_deref().unwrap_or_default()))),
            _ => Ok(()),
        }
    }

    /// The tags of a body (an empty object when absent).
    pub fn tags(body: &Json) -> Json {
        body.get("tags")
            .filter(|t| t.is_object())
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_checks_ranges() {
        let props = normalize("/s", &json!({"addressPrefix": "10.1.0.0/24", "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]})).expect("ok");
        assert_eq!(props["privateEndpointNetworkPolicies"], json!("Disabled"));
        assert_eq!(
            props["delegations"][0]["properties"]["actions"],
            json!(["Microsoft.Network/virtualNetworks/subnets/action"])
        );
        assert!(normalize("/s", &json!({})).is_err());
        assert_eq!(
            normalize("/s", &json!({"addressPrefix": "10.1.0.1/24"}))
                .expect_err("host bits")
                .code,
            "InvalidAddressPrefixFormat"
        );
        let vnet = json!({"properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}});
        let outside =
            check_ranges(&vnet, "v", "s", &["10.1.0.0/24".into()], &[]).expect_err("outside");
        assert_eq!(outside.code, "NetcfgSubnetRangeOutsideVnet");
        let siblings = vec![("a".to_string(), vec!["10.0.0.0/20".to_string()])];
        let overlapping =
            check_ranges(&vnet, "v", "s", &["10.0.1.0/24".into()], &siblings).expect_err("overlap");
        assert_eq!(overlapping.code, "NetcfgSubnetRangesOverlap");
        assert!(check_ranges(&vnet, "v", "s", &["10.0.16.0/24".into()], &siblings).is_ok());
        assert_ne!(net::stable_hash("a"), net::stable_hash("b"));
    }
}
