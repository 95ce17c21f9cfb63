//! Microsoft.ManagedIdentity/userAssignedIdentities.

use serde_json::{json, Value as Json};

use super::subnet::net::{location, same_location, tags};
use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// User-assigned identities: a tenant, a principal (object) ID and a client ID, generated once
/// and kept for the identity's life.
pub struct UserAssignedIdentity;

/// The ARM type.
pub(crate) const TYPE: &str = "Microsoft.ManagedIdentity/userAssignedIdentities";

/// A new random GUID.
pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A string at `pointer` of the existing resource, else a new GUID.
pub(crate) fn kept_guid(existing: Option<&Json>, pointer: &str) -> String {
    existing
        .and_then(|e| e.pointer(pointer))
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(new_guid)
}

/// The stored identity with this ID (case-insensitive), if any.
pub(crate) fn find<'a>(cloud: &'a dyn CloudView, id: &str) -> Option<&'a StoredResource> {
    let parsed = ArmId::parse(id)?;
    if !parsed.arm_type().eq_ignore_ascii_case(TYPE) {
        return None;
    }
    cloud.get(&parsed)
}

impl ResourceBehavior for UserAssignedIdentity {
    fn arm_type(&self) -> &'static str {
        TYPE
    }

    fn provisioning_seconds(&self) -> f64 {
        2.0
    }

    fn accept_put(
        &self,
        _cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let name = id.name();
        let valid = (3..=128).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(ArmErrorBody::new(400, "InvalidResourceName", format!("The resource name '{name}' is invalid. It must be 3-128 letters, digits, hyphens or underscores, starting with a letter or digit.")));
        }
        let location = location(&body)?;
        let old = existing.map(|e| &e.body);
        same_location(old, &location, id)?;
        let scope = body
            .pointer("/properties/isolationScope")
            .and_then(Json::as_str)
            .unwrap_or("None");
        if scope != "None" && scope != "Regional" {
            return Err(ArmErrorBody::invalid(format!("The value '{scope}' of properties.isolationScope is not valid: use None or Regional.")));
        }
        Ok(json!({
            "location": location,
            "tags": tags(&body),
            "properties": {
                "tenantId": crate::arm::TENANT_ID,
                "principalId": kept_guid(old, "/properties/principalId"),
                "clientId": kept_guid(old, "/properties/clientId"),
                "isolationScope": scope,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::virtual_network::tests::Fake;
    use super::*;

    const ID: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks-id";

    #[test]
    fn generates_ids_once() {
        let cloud = Fake::default();
        let id = ArmId::parse(ID).unwrap();
        let first = UserAssignedIdentity
            .accept_put(&cloud, &id, None, json!({"location": "westeurope"}))
            .unwrap();
        let principal = first["properties"]["principalId"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(principal.len(), 36);
        let stored = StoredResource {
            id: ID.into(),
            body: first.clone(),
        };
        let second = UserAssignedIdentity
            .accept_put(
                &cloud,
                &id,
                Some(&stored),
                json!({"location": "westeurope", "tags": {"a": "b"}}),
            )
            .unwrap();
        assert_eq!(second["properties"]["principalId"], json!(principal));
        assert_eq!(
            second["properties"]["clientId"],
            first["properties"]["clientId"]
        );
        let moved = UserAssignedIdentity.accept_put(
            &cloud,
            &id,
            Some(&stored),
            json!({"location": "eastus"}),
        );
        assert_eq!(moved.unwrap_err().code, "InvalidResourceLocation");
        let bad = ArmId::parse(&ID.replace("aks-id", "-x")).unwrap();
        assert!(UserAssignedIdentity
            .accept_put(&cloud, &bad, None, json!({"location": "westeurope"}))
            .is_err());
    }
}
