//! Microsoft.Authorization/roleAssignments: an extension resource on any scope
//! (`{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`).

use serde_json::{json, Value as Json};

use super::{CloudView, ResourceBehavior};
use crate::model::{ArmErrorBody, ArmId, StoredResource};

/// Role assignments: GUID names, immutable, one per scope, role and principal.
pub struct RoleAssignment;

const TYPE: &str = "Microsoft.Authorization/roleAssignments";

fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

/// The principal IDs the local cloud knows as service principals: managed identities, and
/// the kubelet and add-on identities of clusters.
fn is_service_principal(cloud: &dyn CloudView, principal: &str) -> bool {
    let same = |j: Option<&Json>| {
        j.and_then(Json::as_str)
            .is_some_and(|p| p.eq_ignore_ascii_case(principal))
    };
    let identities = cloud.of_type(super::user_assigned_identity::TYPE);
    if identities
        .iter()
        .any(|r| same(r.body.pointer("/properties/principalId")))
    {
        return true;
    }
    cloud
        .of_type("Microsoft.ContainerService/managedClusters")
        .iter()
        .any(|c| {
            same(
                c.body
                    .pointer("/properties/identityProfile/kubeletidentity/objectId"),
            ) || c
                .body
                .pointer("/properties/addonProfiles")
                .and_then(Json::as_object)
                .is_some_and(|a| a.values().any(|p| same(p.pointer("/identity/objectId"))))
        })
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl ResourceBehavior for RoleAssignment {
    fn arm_type(&self) -> &'static str {
        TYPE
    }

    fn provisioning_seconds(&self) -> f64 {
        1.0
    }

    fn accept_put(
        &self,
        cloud: &dyn CloudView,
        id: &ArmId,
        existing: Option<&StoredResource>,
        body: Json,
    ) -> Result<Json, ArmErrorBody> {
        let name = id.name();
        if !is_guid(name) {
            return Err(ArmErrorBody::new(400, "InvalidRoleAssignmentId", format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.")));
        }
        let scope = id
            .parent()
            .map(|p| p.to_id())
            .ok_or_else(|| ArmErrorBody::invalid("A role assignment needs a scope."))?;
        let role = body
            .pointer("/properties/roleDefinitionId")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let lower = role.to_ascii_lowercase();
        let role_guid = role.rsplit('/').next().unwrap_or_default();
        if !lower.contains("/providers/microsoft.authorization/roledefinitions/")
            || !is_guid(role_guid)
        {
            return Err(ArmErrorBody::new(
                400,
                "InvalidRoleDefinitionId",
                format!("The role definition ID '{role}' is not valid."),
            ));
        }
        let principal = body
            .pointer("/properties/principalId")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        if !is_guid(&principal) {
            return Err(ArmErrorBody::new(400, "InvalidPrincipalId", format!("A valid principal ID must be provided for role assignment; '{principal}' is not one.")));
        }
        if let Some(old) = existing {
            let same = |field: &str, new: &str| {
                old.body
                    .pointer(&format!("/properties/{field}"))
                    .and_then(Json::as_str)
                    .is_some_and(|o| o.eq_ignore_ascii_case(new))
            };
            if !same("roleDefinitionId", &role) || !same("principalId", &principal) {
                return Err(ArmErrorBody::new(400, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated."));
            }
        }
        let key = id.key();
        let duplicate = cloud.of_type(TYPE).into_iter().find(|r| {
            let p = |f: &str| {
                r.body
                    .pointer(&format!("/properties/{f}"))
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_ascii_lowercase()
            };
            r.id.to_ascii_lowercase() != key
                && p("scope") == scope.to_ascii_lowercase()
                && p("principalId") == principal.to_ascii_lowercase()
                && p("roleDefinitionId").rsplit('/').next() == Some(&role_guid.to_ascii_lowercase())
        });
        if let Some(d) = duplicate {
            return Err(ArmErrorBody::conflict("RoleAssignmentExists", format!("The role assignment already exists. The ID of the existing role assignment is {}.", d.id.rsplit('/').next().unwrap_or_default())));
        }
        let principal_type = body
            .pointer("/properties/principalType")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                if is_service_principal(cloud, &principal) {
                    "ServicePrincipal"
                } else {
                    "User"
                }
                .into()
            });
        if ![
            "User",
            "Group",
            "ServicePrincipal",
            "ForeignGroup",
            "Device",
        ]
        .contains(&principal_type.as_str())
        {
            return Err(ArmErrorBody::invalid(format!(
                "The value '{principal_type}' of properties.principalType is not valid."
            )));
        }
        let created = existing
            .and_then(|e| e.body.pointer("/properties/createdOn"))
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(now);
        let mut properties = json!({
            "roleDefinitionId": role,
            "principalId": principal,
            "principalType": principal_type,
            "scope": scope,
            "createdOn": created,
            "updatedOn": now(),
        });
        for optional in ["description", "condition", "conditionVersion"] {
            if let Some(v) = body.pointer(&format!("/properties/{optional}")) {
                properties[optional] = v.clone();
            }
        }
        Ok(json!({ "properties": properties }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::virtual_network::tests::Fake;
    use super::*;

    const VAULT: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv";
    const ROLE: &str = "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6";
    const P: &str = "11111111-2222-3333-4444-555555555555";

    fn id(name: &str) -> ArmId {
        ArmId::parse(&format!(
            "{VAULT}/providers/Microsoft.Authorization/roleAssignments/{name}"
        ))
        .unwrap()
    }

    fn body(role: &str, principal: &str) -> Json {
        json!({"properties": {"roleDefinitionId": role, "principalId": principal}})
    }

    #[test]
    fn accepts_extension_assignments_and_refuses_duplicates_and_updates() {
        let mut cloud = Fake::default();
        cloud.add("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/i", json!({"properties": {"principalId": P}}));
        let a = "aaaaaaaa-2222-3333-4444-555555555555";
        let ok = RoleAssignment
            .accept_put(&cloud, &id(a), None, body(ROLE, P))
            .unwrap();
        assert_eq!(ok["properties"]["scope"], json!(VAULT));
        assert_eq!(ok["properties"]["principalType"], json!("ServicePrincipal"));
        cloud.add(&id(a).to_id(), ok.clone());
        let b = "bbbbbbbb-2222-3333-4444-555555555555";
        let dup = RoleAssignment
            .accept_put(&cloud, &id(b), None, body(ROLE, P))
            .unwrap_err();
        assert_eq!(
            (dup.status, dup.code.as_str()),
            (409, "RoleAssignmentExists")
        );
        let stored = StoredResource {
            id: id(a).to_id(),
            body: ok,
        };
        let changed = RoleAssignment
            .accept_put(
                &cloud,
                &id(a),
                Some(&stored),
                body(&ROLE.replace("4633458b", "00482a5a"), P),
            )
            .unwrap_err();
        assert_eq!(changed.code, "RoleAssignmentUpdateNotPermitted");
        assert_eq!(
            RoleAssignment
                .accept_put(&cloud, &id("not-a-guid"), None, body(ROLE, P))
                .unwrap_err()
                .code,
            "InvalidRoleAssignmentId"
        );
        assert_eq!(
            RoleAssignment
                .accept_put(&cloud, &id(b), None, body("Reader", P))
                .unwrap_err()
                .code,
            "InvalidRoleDefinitionId"
        );
        assert_eq!(
            RoleAssignment
                .accept_put(&cloud, &id(b), None, body(ROLE, "me"))
                .unwrap_err()
                .code,
            "InvalidPrincipalId"
        );
        let user = RoleAssignment
            .accept_put(
                &cloud,
                &id(b),
                None,
                body(ROLE, "99999999-2222-3333-4444-555555555555"),
            )
            .unwrap();
        assert_eq!(user["properties"]["principalType"], json!("User"));
    }
}
