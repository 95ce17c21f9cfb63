//! Microsoft.ContainerRegistry/registries/replications: geo-replicas of Premium registries.

use serde_json::{json, Value as Json};

use super::subnet::net::{location, same_location, tags};
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Replications: Premium registries only, one per region other than the registry's own.
pub struct ContainerRegistryReplication;

impl ResourceBehavior for ContainerRegistryReplication {
    fn arm_type(&self) -> &'static str {
        "Microsoft.ContainerRegistry/registries/replications"
    }

    fn provisioning_seconds(&self) -> f64 {
        60.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let name = id.name();
        if !(5..=50).contains(&name.len()) || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ArmErrorBody::new(
                400,
                "InvalidResourceName",
                format!("The replication name '{name}' is invalid: use 5-50 letters and digits."),
            ));
        }
        let registry_id = id
            .parent()
            .ok_or_else(|| ArmErrorBody::invalid("A replication needs a registry."))?;
        let registry = cloud.get(&registry_id).ok_or_else(|| {
            ArmErrorBody::new(404, "ParentResourceNotFound", format!("Can not perform requested operation on nested resource. Parent resource '{}' not found.", registry_id.name()))
        })?;
        let sku = registry
            .body
            .pointer("/sku/name")
            .and_then(Json::as_str)
            .unwrap_or_default();
        if sku != "Premium" {
            return Err(ArmErrorBody::new(
                400,
                "GeoReplicationRequiresPremium",
                format!(
                    "Geo-replication is only supported for Premium registries; '{}' is {sku}.",
                    registry_id.name()
                ),
            ));
        }
        let location = location(&body)?;
        let old = existing.map(|e| &e.body);
        same_location(old, &location, id)?;
        let norm = |s: &str| s.replace(' ', "").to_ascii_lowercase();
        let home = registry
            .body
            .get("location")
            .and_then(Json::as_str)
            .unwrap_or_default();
        if norm(home) == norm(&location) {
            return Err(ArmErrorBody::conflict("ReplicationAlreadyExists", format!("Location '{location}' is the home region of registry '{}', which already has its replica there.", registry_id.name())));
        }
        let clash = cloud.children(&registry_id).into_iter().find(|c| {
            !c.id.eq_ignore_ascii_case(&id.to_id())
                && c.id.to_ascii_lowercase().contains("/replications/")
                && c.body
                    .get("location")
                    .and_then(Json::as_str)
                    .is_some_and(|l| norm(l) == norm(&location))
        });
        if let Some(c) = clash {
            return Err(ArmErrorBody::conflict(
                "ReplicationAlreadyExists",
                format!(
                    "Registry '{}' already has replication '{}' in location '{location}'.",
                    registry_id.name(),
                    c.id.rsplit('/').next().unwrap_or_default()
                ),
            ));
        }
        let zone = body
            .pointer("/properties/zoneRedundancy")
            .and_then(Json::as_str)
            .unwrap_or("Disabled")
            .to_string();
        if old
            .and_then(|o| o.pointer("/properties/zoneRedundancy"))
            .and_then(Json::as_str)
            .is_some_and(|z| z != zone)
        {
            return Err(ArmErrorBody::new(
                400,
                "PropertyChangeNotAllowed",
                "Changing property 'zoneRedundancy' is not allowed.",
            ));
        }
        Ok(json!({
            "location": location,
            "tags": tags(&body),
            "properties": {
                "regionEndpointEnabled": body.pointer("/properties/regionEndpointEnabled").and_then(Json::as_bool).unwrap_or(true),
                "zoneRedundancy": zone,
                "status": {"displayStatus": "Ready"},
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::virtual_network::tests::Fake;
    use super::*;

    const ACR: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/meshacr01";

    fn put(cloud: &Fake, name: &str, location: &str) -> Result<Json, ArmErrorBody> {
        let id = ArmId::parse(&format!("{ACR}/replications/{name}")).unwrap();
        ContainerRegistryReplication.accept_put(cloud, &id, None, json!({"location": location}))
    }

    #[test]
    fn premium_only_and_one_per_region() {
        let mut cloud = Fake::default();
        cloud.add(
            ACR,
            json!({"location": "westeurope", "sku": {"name": "Standard"}}),
        );
        assert_eq!(
            put(&cloud, "northeurope", "northeurope").unwrap_err().code,
            "GeoReplicationRequiresPremium"
        );
        cloud.add(
            ACR,
            json!({"location": "westeurope", "sku": {"name": "Premium"}}),
        );
        let ok = put(&cloud, "northeurope", "northeurope").unwrap();
        assert_eq!(ok["properties"]["zoneRedundancy"], json!("Disabled"));
        assert_eq!(
            put(&cloud, "westeurope", "West Europe").unwrap_err().status,
            409
        );
        cloud.add(&format!("{ACR}/replications/northeurope"), ok);
        assert_eq!(
            put(&cloud, "northeu2", "northeurope").unwrap_err().code,
            "ReplicationAlreadyExists"
        );
    }
}
