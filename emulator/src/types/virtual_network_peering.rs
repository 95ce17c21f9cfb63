//! Microsoft.Network/virtualNetworks/virtualNetworkPeerings.

use serde_json::{json, Value as Json};

use super::subnet::net::{missing_reference, network_prefixes, overlap};
use super::{Change, CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// One direction of a peering: Initiated while alone, Connected (both directions) once the
/// remote network peers back, Disconnected when the remote peering or network is deleted.
/// A Disconnected peering blocks a new peering from the other side until it is updated
/// (back to Initiated) or recreated, as on Azure.
pub struct VirtualNetworkPeering;

const PEERINGS: &str = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings";

/// The peering of `vnet` to `remote` (a network ID), if any.
pub(crate) fn peering_to<'a>(
    cloud: &'a dyn CloudView,
    vnet: &ArmId,
    remote: &ArmId,
) -> Option<&'a StoredResource> {
    let remote = remote.key();
    cloud.children(vnet).into_iter().find(|p| {
        ArmId::parse(&p.id).is_some_and(|i| i.arm_type().eq_ignore_ascii_case(PEERINGS))
            && p.body
                .pointer("/properties/remoteVirtualNetwork/id")
                .and_then(Json::as_str)
                .and_then(ArmId::parse)
                .is_some_and(|r| r.key() == remote)
    })
}

/// The peering of the remote network back to the network of `peering`, if any.
fn back_peering<'a>(
    cloud: &'a dyn CloudView,
    peering: &StoredResource,
) -> Option<&'a StoredResource> {
    let local = ArmId::parse(&peering.id)?.parent()?;
    let remote = peering
        .body
        .pointer("/properties/remoteVirtualNetwork/id")
        .and_then(Json::as_str)
        .and_then(ArmId::parse)?;
    peering_to(cloud, &remote, &local)
}

/// A peering's state now: Connected while the remote network peers back, Disconnected once a
/// connected peering lost its other direction, else as stored (Initiated).
pub(crate) fn peering_state(cloud: &dyn CloudView, peering: &StoredResource) -> String {
    let stored = peering
        .body
        .pointer("/properties/peeringState")
        .and_then(Json::as_str)
        .unwrap_or("Initiated");
    match (back_peering(cloud, peering).is_some(), stored) {
        (true, _) => "Connected".into(),
        (false, "Connected" | "Disconnected") => "Disconnected".into(),
        (false, other) => other.into(),
    }
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
        let back = peering_to(cloud, &remote_id, &local_id);
        if let Some(back) = back {
            if existing.is_none() && peering_state(cloud, back) == "Disconnected" {
                return Err(ArmErrorBody::new(400, "RemotePeeringIsDisconnected", format!("Cannot create or update peering {} because remote peering {} referencing parent virtual network {} is in Disconnected state. Update or re-create the remote peering to get it back to Initiated state. Peering gets Disconnected when remote vnet or remote peering is deleted and re-created.", id.to_id(), back.id, local.id)));
            }
        }
        let connected = back.is_some();
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

    fn changes_after_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        body: &mut Json,
    ) -> Result<Vec<Change>, ArmErrorBody> {
        // The other direction becomes Connected too.
        if body.pointer("/properties/peeringState") != Some(&json!("Connected")) {
            return Ok(Vec::new());
        }
        let Some(local) = id.parent() else {
            return Ok(Vec::new());
        };
        let remote = body
            .pointer("/properties/remoteVirtualNetwork/id")
            .and_then(Json::as_str)
            .and_then(ArmId::parse);
        let back = remote.and_then(|r| peering_to(cloud, &r, &local));
        Ok(back
            .and_then(|b| ArmId::parse(&b.id))
            .map(|b| Change::Patch {
                id: b,
                patch: json!({"properties": {"peeringState": "Connected"}}),
            })
            .into_iter()
            .collect())
    }

    fn view(&self, cloud: &dyn CloudView, stored: &StoredResource) -> Json {
        let mut body = stored.body.clone();
        if let Some(props) = body.get_mut("properties").and_then(Json::as_object_mut) {
            props.insert("peeringState".into(), json!(peering_state(cloud, stored)));
        }
        body
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
