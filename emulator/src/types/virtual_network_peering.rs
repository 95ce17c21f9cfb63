//! Microsoft.Network/virtualNetworks/virtualNetworkPeerings.

use serde_json::{json, Value as Json};

use super::subnet::net::{missing_reference, network_prefixes, overlap};
use super::virtual_network::children_of;
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// One direction of a peering: Connected once the remote network peers back.
pub struct VirtualNetworkPeering;

const PEERINGS: &str = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings";

/// True when `vnet` has a peering to `remote`.
pub(crate) fn peers_with(cloud: &dyn CloudView, vnet: &ArmId, remote: &str) -> bool {
    children_of(cloud, vnet, PEERINGS).iter().any(|(_, p)| {
        p.pointer("/properties/remoteVirtualNetwork/id")
            .and_then(Json::as_str)
            .is_some_and(|r| r.eq_ignore_ascii_case(remote))
    })
}

impl ResourceBehavior for VirtualNetworkPeering {
    fn arm_type(&self) -> &'static str {
        PEERINGS
    }

    fn provisioning_seconds(&self) -> f64 {
        4.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let local_id = id
            .parent()
            .ok_or_else(|| ArmErrorBody::invalid("A peering needs a virtual network."))?;
        let local = cloud.get(&local_id).ok_or_else(|| {
            ArmErrorBody::new(
                404,
                "ParentResourceNotFound",
                format!("Parent resource '{}' not found.", local_id.name()),
            )
        })?;
        let props = body.get("properties").cloned().unwrap_or_else(|| json!({}));
        let remote = props.pointer("/remoteVirtualNetwork/id").and_then(Json::as_str).ok_or_else(|| ArmErrorBody::invalid("The request content is missing the required property properties.remoteVirtualNetwork.id"))?;
        let remote_id = ArmId::parse(remote)
            .filter(|r| {
                r.arm_type()
                    .eq_ignore_ascii_case("Microsoft.Network/virtualNetworks")
            })
            .ok_or_else(|| missing_reference(remote, id))?;
        if remote_id.key() == local_id.key() {
            return Err(ArmErrorBody::invalid(format!(
                "Virtual network {} cannot be peered with itself.",
                local_id.name()
            )));
        }
        let remote_vnet = cloud
            .get(&remote_id)
            .ok_or_else(|| missing_reference(remote, id))?;
        if let Some(old) = existing
            .and_then(|e| e.body.pointer("/properties/remoteVirtualNetwork/id"))
            .and_then(Json::as_str)
        {
            if !old.eq_ignore_ascii_case(remote) {
                return Err(ArmErrorBody::invalid(format!("The remote virtual network of peering {} cannot be changed from {old} to {remote}; delete and recreate the peering.", id.name())));
            }
        }
        let local_space = network_prefixes(&local.body)?;
        let remote_space = network_prefixes(&remote_vnet.body)?;
        let clashes: Vec<String> = local_space
            .iter()
            .flat_map(|a| {
                remote_space
                    .iter()
                    .filter(move |b| overlap(a, b))
                    .map(move |b| format!("{a} and {b}"))
            })
            .collect();
        if !clashes.is_empty() {
            return Err(ArmErrorBody::new(400, "VnetAddressSpacesOverlap", format!("Cannot create or update peering {}. Virtual networks {} and {} cannot be peered because their address spaces overlap. Overlapping address prefixes: {}.", id.to_id(), local.id, remote_vnet.id, clashes.join(", "))));
        }
        let flag =
            |name: &str, default: bool| props.get(name).and_then(Json::as_bool).unwrap_or(default);
        if flag("useRemoteGateways", false) {
            return Err(ArmErrorBody::new(400, "RemoteVnetHasNoGateways", format!("Peering {} cannot have UseRemoteGateways flag set to true because remote virtual network {} referenced by the peering does not have any gateways.", id.to_id(), remote_vnet.id)));
        }
        let connected = peers_with(cloud, &remote_id, &local.id);
        let remote_space = remote_vnet
            .body
            .pointer("/properties/addressSpace")
            .cloned()
            .unwrap_or_else(|| json!({"addressPrefixes": []}));
        let guid = existing
            .and_then(|e| e.body.pointer("/properties/resourceGuid"))
            .cloned()
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        Ok(json!({"properties": {
            "allowVirtualNetworkAccess": flag("allowVirtualNetworkAccess", true),
            "allowForwardedTraffic": flag("allowForwardedTraffic", false),
            "allowGatewayTransit": flag("allowGatewayTransit", false),
            "useRemoteGateways": false,
            "remoteVirtualNetwork": {"id": remote},
            "remoteAddressSpace": remote_space.clone(),
            "remoteVirtualNetworkAddressSpace": remote_space,
            "peeringState": if connected { "Connected" } else { "Initiated" },
            "peeringSyncLevel": "FullyInSync",
            "resourceGuid": guid,
        }}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::virtual_network::tests::Fake;

    const ONE: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/one";
    const TWO: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/two";

    fn vnet(prefix: &str) -> Json {
        json!({"properties": {"addressSpace": {"addressPrefixes": [prefix]}}})
    }

    fn peering(remote: &str) -> Json {
        json!({"properties": {"remoteVirtualNetwork": {"id": remote}, "allowForwardedTraffic": true}})
    }

    #[test]
    fn state_follows_both_directions_and_overlaps_fail() {
        let mut cloud = Fake::default();
        cloud.add(ONE, vnet("10.0.0.0/16"));
        cloud.add(TWO, vnet("10.1.0.0/16"));
        let one_to_two = ArmId::parse(&format!("{ONE}/virtualNetworkPeerings/to-two")).expect("id");
        let first = VirtualNetworkPeering
            .accept_put(&cloud, &one_to_two, None, peering(TWO))
            .expect("ok");
        assert_eq!(first["properties"]["peeringState"], json!("Initiated"));
        assert_eq!(
            first["properties"]["remoteAddressSpace"]["addressPrefixes"],
            json!(["10.1.0.0/16"])
        );
        cloud.add(&one_to_two.to_id(), first);
        let two_to_one = ArmId::parse(&format!("{TWO}/virtualNetworkPeerings/to-one")).expect("id");
        let second = VirtualNetworkPeering
            .accept_put(&cloud, &two_to_one, None, peering(ONE))
            .expect("ok");
        assert_eq!(second["properties"]["peeringState"], json!("Connected"));
        cloud.add(TWO, vnet("10.0.128.0/17"));
        let clash = VirtualNetworkPeering
            .accept_put(&cloud, &two_to_one, None, peering(ONE))
            .expect_err("overlap");
        assert_eq!(clash.code, "VnetAddressSpacesOverlap");
        let missing = VirtualNetworkPeering
            .accept_put(
                &cloud,
                &one_to_two,
                None,
                peering(&TWO.replace("two", "three")),
            )
            .expect_err("missing");
        assert_eq!(missing.code, "InvalidResourceReference");
    }
}
