//! Microsoft.Network/privateDnsZones (global).

use serde_json::{json, Value as Json};

use super::subnet::net::tags;
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Private DNS zones: location global; deleted only once their links are gone.
pub struct PrivateDnsZone;

const LINKS: &str = "Microsoft.Network/privateDnsZones/virtualNetworkLinks";

/// The location a global resource's body gives, which must be "global".
pub(crate) fn global_location(body: &Json, arm_type: &str) -> Result<(), ArmErrorBody> {
    match body.get("location").and_then(Json::as_str) {
        Some(l) if l.eq_ignore_ascii_case("global") => Ok(()),
        Some(l) => Err(ArmErrorBody::new(400, "LocationNotAvailableForResourceType", format!("The provided location '{l}' is not available for resource type '{arm_type}'. List of available regions for the resource type is 'global'."))),
        None => Err(ArmErrorBody::new(400, "LocationRequired", "The location property is required for this definition.")),
    }
}

/// The links of a zone, as bodies.
pub(crate) fn links_of(cloud: &dyn CloudView, zone: &ArmId) -> Vec<Json> {
    cloud
        .children(zone)
        .into_iter()
        .filter(|r| ArmId::parse(&r.id).is_some_and(|i| i.arm_type().eq_ignore_ascii_case(LINKS)))
        .map(|r| r.body.clone())
        .collect()
}

impl ResourceBehavior for PrivateDnsZone {
    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/privateDnsZones"
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
        global_location(&body, self.arm_type())?;
        let name = id.name();
        let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.len() > 63) {
            return Err(ArmErrorBody::new(400, "BadRequest", format!("The zone name '{name}' is invalid: a private DNS zone name needs at least two labels of 1-63 characters.")));
        }
        let links = links_of(cloud, id);
        let registering = links
            .iter()
            .filter(|l| {
                l.pointer("/properties/registrationEnabled")
                    .and_then(Json::as_bool)
                    == Some(true)
            })
            .count();
        let internal = existing
            .and_then(|e| e.body.pointer("/properties/internalId"))
            .cloned()
            .unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string()));
        Ok(json!({
            "location": "global",
            "tags": tags(&body),
            "properties": {
                "maxNumberOfRecordSets": 25000,
                "numberOfRecordSets": 1,
                "maxNumberOfVirtualNetworkLinks": 1000,
                "numberOfVirtualNetworkLinks": links.len(),
                "maxNumberOfVirtualNetworkLinksWithRegistration": 100,
                "numberOfVirtualNetworkLinksWithRegistration": registering,
                "internalId": internal,
            },
        }))
    }

    fn check_delete(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        _existing: &StoredResource,
    ) -> Result<(), ArmErrorBody> {
        let links = links_of(cloud, id);
        if links.is_empty() {
            return Ok(());
        }
        Err(ArmErrorBody::conflict("CannotDeleteZoneWithVirtualNetworkLinks", format!("The private DNS zone '{}' cannot be deleted because it has {} virtual network link(s); delete the links first.", id.name(), links.len())))
    }
}
