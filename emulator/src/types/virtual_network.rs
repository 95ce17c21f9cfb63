//! Microsoft.Network/virtualNetworks.

use serde_json::{json, Value as Json};

use super::subnet::net::{
    location, network_prefixes, overlap, prefixes_of, same_location, tags, user_of,
};
use super::subnet::{check_ranges, in_use, normalize};
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Virtual networks: an address space, DNS servers, inline subnets.
pub struct VirtualNetwork;

const SUBNETS: &str = "Microsoft.Network/virtualNetworks/subnets";
const PEERINGS: &str = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings";

/// The child resources of `vnet` of one type, as (name, body).
pub(crate) fn children_of(
    cloud: &dyn CloudView,
    vnet: &ArmId,
    arm_type: &str,
) -> Vec<(String, Json)> {
    cloud
        .children(vnet)
        .into_iter()
        .filter_map(|r| {
            let id = ArmId::parse(&r.id)?;
            id.arm_type()
                .eq_ignore_ascii_case(arm_type)
                .then(|| (id.name().to_string(), r.body.clone()))
        })
        .collect()
}

/// The subnets a network's body lists: the inline subnets given, then the subnet child
/// resources not among them.
pub(crate) fn subnet_list(cloud: &dyn CloudView, vnet: &ArmId, inline: &[Json]) -> Vec<Json> {
    let mut out: Vec<Json> = inline.to_vec();
    for (name, body) in children_of(cloud, vnet, SUBNETS) {
        let listed = inline.iter().any(|s| {
            s.get("name")
                .and_then(Json::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(&name))
        });
        if !listed {
            out.push(body);
        }
    }
    out
}

impl ResourceBehavior for VirtualNetwork {
    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/virtualNetworks"
    }

    fn provisioning_seconds(&self) -> f64 {
        5.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let location = location(&body)?;
        same_location(existing.map(|e| &e.body), &location, id)?;
        let props = body.get("properties").cloned().unwrap_or_else(|| json!({}));
        let space: Vec<String> = props
            .pointer("/addressSpace/addressPrefixes")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if space.is_empty() {
            return Err(ArmErrorBody::invalid(format!("Virtual network {} needs at least one address prefix in properties.addressSpace.addressPrefixes.", id.name())));
        }
        let candidate = json!({"properties": {"addressSpace": {"addressPrefixes": space}}});
        let nets = network_prefixes(&candidate)?;
        for (i, a) in nets.iter().enumerate() {
            if let Some(b) = nets[i + 1..].iter().find(|b| overlap(a, b)) {
                return Err(ArmErrorBody::new(
                    400,
                    "VnetAddressSpacesOverlap",
                    format!(
                        "Address spaces {a} and {b} of virtual network {} overlap.",
                        id.name()
                    ),
                ));
            }
        }
        let dns: Vec<String> = props
            .pointer("/dhcpOptions/dnsServers")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(bad) = dns.iter().find(|d| d.parse::<std::net::IpAddr>().is_err()) {
            return Err(ArmErrorBody::invalid(format!(
                "DNS server '{bad}' of virtual network {} is not a valid IP address.",
                id.name()
            )));
        }
        let vnet_id = id.to_id();
        // Inline subnets: the network's complete list when given.
        let mut inline = Vec::new();
        let given = props.get("subnets").and_then(Json::as_array).cloned();
        for (i, s) in given.clone().unwrap_or_default().iter().enumerate() {
            let name = s
                .get("name")
                .and_then(Json::as_str)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    ArmErrorBody::invalid(format!(
                        "Subnet {i} of virtual network {} has no name.",
                        id.name()
                    ))
                })?;
            let subnet_id = format!("{vnet_id}/subnets/{name}");
            let sp = normalize(&subnet_id, s.get("properties").unwrap_or(&Json::Null))?;
            let siblings: Vec<(String, Vec<String>)> = inline
                .iter()
                .map(|x: &Json| {
                    (
                        x["name"].as_str().unwrap_or_default().to_string(),
                        prefixes_of(&x["properties"]),
                    )
                })
                .collect();
            check_ranges(&candidate, id.name(), name, &prefixes_of(&sp), &siblings)?;
            let mut sp = sp;
            sp["provisioningState"] = json!("Succeeded");
            inline.push(json!({"name": name, "id": subnet_id, "type": SUBNETS, "properties": sp}));
        }
        // Existing subnet resources must stay inside the new address space, and a subnet in
        // use cannot disappear from a list that omits it.
        for (name, child) in children_of(cloud, id, SUBNETS) {
            let listed = inline.iter().any(|s| {
                s["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(&name))
            });
            if given.is_some() && !listed {
                if let Some(user) = user_of(cloud, &format!("{vnet_id}/subnets/{name}")) {
                    return Err(in_use(&name, &user));
                }
                // Azure would delete the omitted subnet; the local cloud cannot delete
                // resources from a PUT of their parent, so it refuses instead.
                return Err(ArmErrorBody::invalid(format!("The subnet list of virtual network {} omits subnet {name}, which Azure would delete. The local cloud does not delete subnets through a network PUT: list every existing subnet (GET {vnet_id}/subnets), or DELETE the subnet itself. Subnets managed as separate resources must not also be inline subnets.", id.name())));
            }
            if !listed {
                check_ranges(
                    &candidate,
                    id.name(),
                    &name,
                    &prefixes_of(child.get("properties").unwrap_or(&Json::Null)),
                    &[],
                )?;
            }
        }
        let guid = existing
            .and_then(|e| e.body.pointer("/properties/resourceGuid"))
            .cloned()
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        // The local cloud cannot delete or create subnet resources from a network PUT: the
        // body lists the subnet resources that exist, then inline subnets without one.
        let subnets = subnet_list(cloud, id, &inline);
        let peerings: Vec<Json> = children_of(cloud, id, PEERINGS)
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        Ok(json!({
            "location": location,
            "tags": tags(&body),
            "properties": {
                "addressSpace": {"addressPrefixes": space},
                "dhcpOptions": {"dnsServers": dns},
                "subnets": subnets,
                "virtualNetworkPeerings": peerings,
                "resourceGuid": guid,
                "enableDdosProtection": props.get("enableDdosProtection").cloned().unwrap_or(json!(false)),
            },
        }))
    }

    fn check_delete(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: &StoredResource,
    ) -> Result<(), ArmErrorBody> {
        // Subnet child resources are checked by the core (they are deleted with the network);
        // inline subnets without a child resource are checked here.
        let inline = existing
            .body
            .pointer("/properties/subnets")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        for s in inline {
            let name = s.get("name").and_then(Json::as_str).unwrap_or_default();
            if let Some(user) = user_of(cloud, &format!("{}/subnets/{name}", id.to_id())) {
                return Err(in_use(name, &user));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// An in-memory cloud for behaviour tests.
    #[derive(Default)]
    pub(crate) struct Fake(BTreeMap<String, StoredResource>);

    impl Fake {
        pub(crate) fn add(&mut self, id: &str, body: Json) {
            self.0.insert(
                id.to_ascii_lowercase(),
                StoredResource {
                    id: id.into(),
                    body,
                },
            );
        }
    }

    impl CloudView for Fake {
        fn get(&self, id: &ArmId) -> Option<&StoredResource> {
            self.0.get(&id.key())
        }
        fn of_type(&self, arm_type: &str) -> Vec<&StoredResource> {
            self.0
                .values()
                .filter(|r| {
                    ArmId::parse(&r.id).is_some_and(|i| i.arm_type().eq_ignore_ascii_case(arm_type))
                })
                .collect()
        }
        fn children(&self, id: &ArmId) -> Vec<&StoredResource> {
            self.0
                .values()
                .filter(|r| {
                    ArmId::parse(&r.id)
                        .and_then(|i| i.parent())
                        .is_some_and(|p| p.key() == id.key())
                })
                .collect()
        }
        fn base_url(&self) -> &str {
            "http://127.0.0.1:1"
        }
    }

    const VNET: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";

    fn body(subnets: Option<Json>) -> Json {
        let mut b = json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}});
        if let Some(s) = subnets {
            b["properties"]["subnets"] = s;
        }
        b
    }

    #[test]
    fn inline_subnets_are_checked_and_listed() {
        let cloud = Fake::default();
        let id = ArmId::parse(VNET).expect("id");
        let ok = VirtualNetwork
            .accept_put(
                &cloud,
                &id,
                None,
                body(Some(
                    json!([{"name": "a", "properties": {"addressPrefix": "10.0.1.0/24"}}]),
                )),
            )
            .expect("ok");
        assert_eq!(
            ok["properties"]["subnets"][0]["id"],
            json!(format!("{VNET}/subnets/a"))
        );
        let outside = VirtualNetwork
            .accept_put(
                &cloud,
                &id,
                None,
                body(Some(
                    json!([{"name": "a", "properties": {"addressPrefix": "10.1.1.0/24"}}]),
                )),
            )
            .expect_err("outside");
        assert_eq!(outside.code, "NetcfgSubnetRangeOutsideVnet");
        let overlapping = json!([{"name": "a", "properties": {"addressPrefix": "10.0.0.0/20"}}, {"name": "b", "properties": {"addressPrefix": "10.0.1.0/24"}}]);
        assert_eq!(
            VirtualNetwork
                .accept_put(&cloud, &id, None, body(Some(overlapping)))
                .expect_err("overlap")
                .code,
            "NetcfgSubnetRangesOverlap"
        );
    }

    #[test]
    fn subnet_resources_show_and_in_use_ones_stay() {
        let mut cloud = Fake::default();
        let id = ArmId::parse(VNET).expect("id");
        cloud.add(VNET, body(None));
        let subnet = format!("{VNET}/subnets/pe");
        cloud.add(
            &subnet,
            json!({"id": subnet, "name": "pe", "properties": {"addressPrefix": "10.0.2.0/24"}}),
        );
        let accepted = VirtualNetwork
            .accept_put(&cloud, &id, None, body(None))
            .expect("ok");
        assert_eq!(accepted["properties"]["subnets"][0]["name"], json!("pe"));
        let omitted = VirtualNetwork
            .accept_put(&cloud, &id, None, body(Some(json!([]))))
            .expect_err("omitted");
        assert_eq!(omitted.code, "InvalidRequestContent");
        let pe =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/x";
        cloud.add(pe, json!({"properties": {"subnet": {"id": subnet}}}));
        let dropped = VirtualNetwork
            .accept_put(&cloud, &id, None, body(Some(json!([]))))
            .expect_err("in use");
        assert_eq!(dropped.code, "InUseSubnetCannotBeDeleted");
        let mut shrunk = body(None);
        shrunk["properties"]["addressSpace"]["addressPrefixes"] = json!(["10.0.0.0/24"]);
        assert_eq!(
            VirtualNetwork
                .accept_put(&cloud, &id, None, shrunk)
                .expect_err("outside")
                .code,
            "NetcfgSubnetRangeOutsideVnet"
        );
    }
}
