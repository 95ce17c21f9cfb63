//! Microsoft.Network/virtualNetworks.

use serde_json::{json, Value as Json};

use super::subnet::net::{
    location, network_prefixes, overlap, prefixes_of, same_location, tags, user_of,
};
use super::subnet::{check_ranges, in_use, normalize, Subnet};
use super::virtual_network_peering::VirtualNetworkPeering;
use super::{Change, CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Virtual networks: an address space, DNS servers, inline subnets. A network's subnets and
/// peerings are child resources; its body lists them as they are now. A PUT's
/// `properties.subnets` is the complete subnet list: listed subnets are created or updated as
/// children, the others deleted (an absent list deletes them all, as on Azure).
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

/// The child resources of `vnet` of one type.
fn child_resources<'a>(
    cloud: &'a dyn CloudView,
    vnet: &ArmId,
    arm_type: &str,
) -> Vec<&'a StoredResource> {
    cloud
        .children(vnet)
        .into_iter()
        .filter(|r| {
            ArmId::parse(&r.id).is_some_and(|i| i.arm_type().eq_ignore_ascii_case(arm_type))
        })
        .collect()
}

/// Subnet properties without their provisioningState (to tell whether a PUT changes them).
fn settled(props: &Json) -> Json {
    let mut p = props.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("provisioningState");
    }
    p
}

fn same_name(body: &Json, name: &str) -> bool {
    body.get("name")
        .and_then(Json::as_str)
        .is_some_and(|n| n.eq_ignore_ascii_case(name))
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
        for (i, s) in given.unwrap_or_default().iter().enumerate() {
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
            if inline.iter().any(|x| same_name(x, name)) {
                return Err(ArmErrorBody::invalid(format!(
                    "Subnet {name} is listed twice in virtual network {}.",
                    id.name()
                )));
            }
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
            let sp = settled(&sp);
            inline.push(json!({"name": name, "id": subnet_id, "type": SUBNETS, "properties": sp}));
        }
        // Subnets left out are deleted, unless something uses them; a listed subnet in use
        // keeps its ranges.
        for (name, child) in children_of(cloud, id, SUBNETS) {
            let subnet_id = format!("{vnet_id}/subnets/{name}");
            let user = || user_of(cloud, &subnet_id);
            match inline.iter().find(|s| same_name(s, &name)) {
                None => {
                    if let Some(user) = user() {
                        return Err(in_use(&name, &user));
                    }
                }
                Some(listed) => {
                    let old = prefixes_of(child.get("properties").unwrap_or(&Json::Null));
                    if old != prefixes_of(&listed["properties"]) {
                        if let Some(user) = user() {
                            return Err(ArmErrorBody::new(400, "InUseSubnetCannotBeUpdated", format!("Subnet {name} is in use by {user} and its address prefix cannot be changed.")));
                        }
                    }
                }
            }
        }
        let guid = existing
            .and_then(|e| e.body.pointer("/properties/resourceGuid"))
            .cloned()
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        // The subnets become child resources (changes_after_put); peerings are managed as
        // their own resources, so the peerings of a PUT body are not read.
        Ok(json!({
            "location": location,
            "tags": tags(&body),
            "properties": {
                "addressSpace": {"addressPrefixes": space},
                "dhcpOptions": {"dnsServers": dns},
                "subnets": inline,
                "resourceGuid": guid,
                "enableDdosProtection": props.get("enableDdosProtection").cloned().unwrap_or(json!(false)),
            },
        }))
    }

    fn changes_after_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        body: &mut Json,
    ) -> Result<Vec<Change>, ArmErrorBody> {
        let listed = body
            .get_mut("properties")
            .and_then(Json::as_object_mut)
            .and_then(|p| p.remove("subnets"))
            .and_then(|s| s.as_array().cloned())
            .unwrap_or_default();
        let existing = children_of(cloud, id, SUBNETS);
        let mut changes = Vec::new();
        for subnet in &listed {
            let name = subnet["name"].as_str().unwrap_or_default();
            let props = settled(&subnet["properties"]);
            let unchanged = existing.iter().any(|(n, child)| {
                n.eq_ignore_ascii_case(name) && settled(&child["properties"]) == props
            });
            if unchanged {
                continue;
            }
            let child =
                ArmId::parse(&format!("{}/subnets/{name}", id.to_id())).ok_or_else(|| {
                    ArmErrorBody::invalid(format!("Subnet name '{name}' is not valid."))
                })?;
            changes.push(Change::PutChild {
                id: child,
                body: json!({"properties": props}),
            });
        }
        for (name, _) in existing {
            if !listed.iter().any(|s| same_name(s, &name)) {
                if let Some(child) = ArmId::parse(&format!("{}/subnets/{name}", id.to_id())) {
                    changes.push(Change::DeleteChild { id: child });
                }
            }
        }
        Ok(changes)
    }

    fn view(&self, cloud: &dyn CloudView, stored: &StoredResource) -> Json {
        let mut body = stored.body.clone();
        let Some(id) = ArmId::parse(&stored.id) else {
            return body;
        };
        let mut subnets: Vec<Json> = child_resources(cloud, &id, SUBNETS)
            .into_iter()
            .map(|r| Subnet.view(cloud, r))
            .collect();
        // Inline subnets stored in the body by an earlier local cloud (no child resource).
        let legacy = stored
            .body
            .pointer("/properties/subnets")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        for s in legacy {
            let name = s.get("name").and_then(Json::as_str).unwrap_or_default();
            if !subnets.iter().any(|c| same_name(c, name)) {
                subnets.push(s);
            }
        }
        let peerings: Vec<Json> = child_resources(cloud, &id, PEERINGS)
            .into_iter()
            .map(|r| VirtualNetworkPeering.view(cloud, r))
            .collect();
        if let Some(props) = body.get_mut("properties").and_then(Json::as_object_mut) {
            props.insert("subnets".into(), Json::Array(subnets));
            props.insert("virtualNetworkPeerings".into(), Json::Array(peerings));
        }
        body
    }

    fn check_delete(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: &StoredResource,
    ) -> Result<(), ArmErrorBody> {
        // Subnet child resources are checked by the core (they are deleted with the network);
        // inline subnets stored by an earlier local cloud are checked here.
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
    fn listed_subnets_become_children_and_others_go_unless_in_use() {
        let mut cloud = Fake::default();
        let id = ArmId::parse(VNET).expect("id");
        cloud.add(VNET, body(None));
        let subnet = format!("{VNET}/subnets/pe");
        cloud.add(
            &subnet,
            json!({"id": subnet, "name": "pe", "properties": {"addressPrefix": "10.0.2.0/24"}}),
        );
        let listed = json!([{"name": "a", "properties": {"addressPrefix": "10.0.1.0/24"}}]);
        let mut accepted = VirtualNetwork
            .accept_put(&cloud, &id, None, body(Some(listed)))
            .expect("ok");
        let changes = VirtualNetwork
            .changes_after_put(&cloud, &id, &mut accepted)
            .expect("changes");
        assert!(accepted.pointer("/properties/subnets").is_none());
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(matches!(&changes[0], Change::PutChild { id, body }
            if id.name() == "a" && body["properties"]["addressPrefix"] == json!("10.0.1.0/24")));
        assert!(matches!(&changes[1], Change::DeleteChild { id } if id.name() == "pe"));
        // An unchanged subnet is left alone.
        let same = json!([{"name": "PE", "properties": {"addressPrefix": "10.0.2.0/24"}}]);
        cloud.add(&subnet, json!({"id": subnet, "name": "pe", "properties": normalize(&subnet, &json!({"addressPrefix": "10.0.2.0/24", "provisioningState": "Succeeded"})).expect("ok")}));
        let mut accepted = VirtualNetwork
            .accept_put(&cloud, &id, None, body(Some(same)))
            .expect("ok");
        let changes = VirtualNetwork
            .changes_after_put(&cloud, &id, &mut accepted)
            .expect("changes");
        assert!(changes.is_empty(), "{changes:?}");
        let pe =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/x";
        cloud.add(pe, json!({"properties": {"subnet": {"id": subnet}}}));
        let dropped = VirtualNetwork
            .accept_put(&cloud, &id, None, body(None))
            .expect_err("in use");
        assert_eq!(dropped.code, "InUseSubnetCannotBeDeleted");
        let moved = json!([{"name": "pe", "properties": {"addressPrefix": "10.0.3.0/24"}}]);
        let resized = VirtualNetwork
            .accept_put(&cloud, &id, None, body(Some(moved)))
            .expect_err("in use");
        assert_eq!(resized.code, "InUseSubnetCannotBeUpdated");
        let kept = json!([{"name": "pe", "properties": {"addressPrefix": "10.0.2.0/24"}}]);
        let mut shrunk = body(Some(kept));
        shrunk["properties"]["addressSpace"]["addressPrefixes"] = json!(["10.0.0.0/24"]);
        assert_eq!(
            VirtualNetwork
                .accept_put(&cloud, &id, None, shrunk)
                .expect_err("outside")
                .code,
            "NetcfgSubnetRangeOutsideVnet"
        );
        let twice = json!([{"name": "a", "properties": {"addressPrefix": "10.0.1.0/24"}}, {"name": "A", "properties": {"addressPrefix": "10.0.4.0/24"}}]);
        assert!(VirtualNetwork
            .accept_put(&cloud, &id, None, body(Some(twice)))
            .is_err());
    }
}
