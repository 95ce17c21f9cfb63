//! Microsoft.Network/privateDnsZones/virtualNetworkLinks (global).

use serde_json::{json, Value as Json};

use super::private_dns_zone::{global_location, links_of};
use super::subnet::net::{missing_reference, tags};
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// A zone linked to a network: once per network and zone; one registration zone per network.
pub struct PrivateDnsZoneVirtualNetworkLink;

const LINKS: &str = "Microsoft.Network/privateDnsZones/virtualNetworkLinks";

impl ResourceBehavior for PrivateDnsZoneVirtualNetworkLink {
    fn arm_type(&self) -> &'static str {
        LINKS
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
        global_location(&body, LINKS)?;
        let zone = id
            .parent()
            .ok_or_else(|| ArmErrorBody::invalid("A link needs a zone."))?;
        let vnet = body.pointer("/properties/virtualNetwork/id").and_then(Json::as_str).ok_or_else(|| ArmErrorBody::invalid("The request content is missing the required property properties.virtualNetwork.id"))?;
        let vnet_id = ArmId::parse(vnet)
            .filter(|v| {
                v.arm_type()
                    .eq_ignore_ascii_case("Microsoft.Network/virtualNetworks")
            })
            .ok_or_else(|| missing_reference(vnet, id))?;
        if cloud.get(&vnet_id).is_none() {
            return Err(missing_reference(vnet, id));
        }
        if let Some(old) = existing
            .and_then(|e| e.body.pointer("/properties/virtualNetwork/id"))
            .and_then(Json::as_str)
        {
            if !old.eq_ignore_ascii_case(vnet) {
                return Err(ArmErrorBody::new(
                    400,
                    "BadRequest",
                    format!(
                        "The virtual network of link {} cannot be changed.",
                        id.name()
                    ),
                ));
            }
        }
        let is_self = |l: &Json| {
            l.get("id")
                .and_then(Json::as_str)
                .is_some_and(|i| i.eq_ignore_ascii_case(&id.to_id()))
        };
        let same_vnet = |l: &Json| {
            l.pointer("/properties/virtualNetwork/id")
                .and_then(Json::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(vnet))
        };
        if links_of(cloud, &zone)
            .iter()
            .any(|l| !is_self(l) && same_vnet(l))
        {
            return Err(ArmErrorBody::conflict("Conflict", format!("A virtual network cannot be linked to the same private DNS zone '{}' more than once.", zone.name())));
        }
        let registration = body
            .pointer("/properties/registrationEnabled")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        if registration {
            let other = cloud.of_type(LINKS).into_iter().find(|l| {
                !is_self(&l.body)
                    && same_vnet(&l.body)
                    && l.body
                        .pointer("/properties/registrationEnabled")
                        .and_then(Json::as_bool)
                        == Some(true)
            });
            if let Some(other) = other {
                return Err(ArmErrorBody::conflict("Conflict", format!("Virtual network {vnet} already has a registration-enabled link ({}); a network can auto-register in only one private DNS zone.", other.id)));
            }
        }
        Ok(json!({
            "location": "global",
            "tags": tags(&body),
            "properties": {
                "virtualNetwork": {"id": vnet},
                "registrationEnabled": registration,
                "resolutionPolicy": body.pointer("/properties/resolutionPolicy").cloned().unwrap_or(json!("Default")),
                "virtualNetworkLinkState": "Completed",
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::private_dns_zone::PrivateDnsZone;
    use crate::types::virtual_network::tests::Fake;

    const ZONE: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io";
    const VNET: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v";

    #[test]
    fn links_once_per_network_and_block_zone_deletion() {
        let mut cloud = Fake::default();
        let zone = ArmId::parse(ZONE).expect("id");
        let stored = PrivateDnsZone
            .accept_put(&cloud, &zone, None, json!({"location": "global"}))
            .expect("zone");
        assert!(PrivateDnsZone
            .accept_put(&cloud, &zone, None, json!({"location": "westeurope"}))
            .is_err());
        cloud.add(ZONE, stored.clone());
        cloud.add(VNET, json!({"properties": {}}));
        let link = ArmId::parse(&format!("{ZONE}/virtualNetworkLinks/one")).expect("id");
        let body = json!({"location": "global", "properties": {"virtualNetwork": {"id": VNET}, "registrationEnabled": false}});
        let accepted = PrivateDnsZoneVirtualNetworkLink
            .accept_put(&cloud, &link, None, body.clone())
            .expect("link");
        assert_eq!(
            accepted["properties"]["virtualNetworkLinkState"],
            json!("Completed")
        );
        let mut with_id = accepted;
        with_id["id"] = json!(link.to_id());
        cloud.add(&link.to_id(), with_id);
        let twice = ArmId::parse(&format!("{ZONE}/virtualNetworkLinks/two")).expect("id");
        assert_eq!(
            PrivateDnsZoneVirtualNetworkLink
                .accept_put(&cloud, &twice, None, body)
                .expect_err("twice")
                .code,
            "Conflict"
        );
        let existing = StoredResource {
            id: ZONE.into(),
            body: stored,
        };
        assert!(PrivateDnsZone
            .check_delete(&cloud, &zone, &existing)
            .is_err());
    }
}
