//! `azure_user_assigned_identity`: Microsoft.ManagedIdentity/userAssignedIdentities.

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::generic_resource::values::{jstr, tags_state};
use super::AzureResourceType;

/// A user-assigned managed identity.
pub struct UserAssignedIdentity;

/// True for a name Azure accepts: 3-128 letters, digits, hyphens and underscores, starting
/// with a letter or digit.
pub(crate) fn valid_identity_name(name: &str) -> bool {
    (3..=128).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl AzureResourceType for UserAssignedIdentity {
    fn name(&self) -> &'static str {
        "azure_user_assigned_identity"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.ManagedIdentity/userAssignedIdentities"
    }

    fn api_version(&self) -> &'static str {
        "2024-11-30"
    }

    fn schema(&self) -> ResourceSchema {
        let s = |p, d| AttributeSchema::new(AttrType::String, p, d);
        ResourceSchema {
            version: 0,
            description: "A user-assigned managed identity: an Entra service principal whose lifecycle mesh manages, used by AKS, Application Gateway and workloads.".into(),
            block: BlockSchema::default()
                .attribute("name", s(Presence::Required, "Name, 3-128 letters, digits, hyphens and underscores, starting with a letter or digit.").force_new())
                .attribute("resource_group_name", s(Presence::Required, "Resource group.").force_new())
                .attribute("location", s(Presence::Required, "Azure region.").force_new())
                .attribute("tags", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", s(Presence::Computed, "ARM resource ID."))
                .attribute("principal_id", s(Presence::Computed, "Object ID of the identity's service principal (for role assignments)."))
                .attribute("client_id", s(Presence::Computed, "Application (client) ID of the identity."))
                .attribute("tenant_id", s(Presence::Computed, "Entra tenant of the identity.")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        match string(config, "name") {
            Some(name) if !valid_identity_name(&name) => vec![ProviderError::at_attribute(
                format!("\"{name}\" is not a valid managed identity name: use 3-128 letters, digits, hyphens or underscores, starting with a letter or digit"),
                "name",
            )],
            _ => Vec::new(),
        }
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
            string(config, "resource_group_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        Ok(json!({
            "location": string(config, "location").unwrap_or_default(),
            "tags": tags(config),
        }))
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        state.set_or_insert("id", Value::string(id));
        if let Some(name) = jstr(response, "/name") {
            state.set_or_insert("name", Value::string(name));
        }
        if let Some(location) = jstr(response, "/location") {
            state.set_or_insert("location", Value::string(location));
        }
        state.set_or_insert("tags", tags_state(config, response));
        for (attr, field) in [
            ("principal_id", "principalId"),
            ("client_id", "clientId"),
            ("tenant_id", "tenantId"),
        ] {
            let v = jstr(response, &format!("/properties/{field}"));
            state.set_or_insert(attr, v.map(Value::String).unwrap_or(Value::Null));
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mesh_engine::provider::default_plan;

    use super::*;

    fn config(name: &str) -> Value {
        let mut m = BTreeMap::from([
            ("name".to_string(), Value::string(name)),
            ("resource_group_name".to_string(), Value::string("rg")),
            ("location".to_string(), Value::string("westeurope")),
            (
                "tags".to_string(),
                Value::Map(BTreeMap::from([("env".to_string(), Value::string("dev"))])),
            ),
        ]);
        for c in ["id", "principal_id", "client_id", "tenant_id"] {
            m.insert(c.to_string(), Value::Null);
        }
        Value::Map(m)
    }

    #[test]
    fn maps_to_the_rest_shape_and_back() {
        let t = UserAssignedIdentity;
        let c = config("aks-identity");
        let id = t.resource_id("sub", &c).unwrap();
        assert_eq!(id, "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aks-identity");
        let body = t.to_body(&c).unwrap();
        assert_eq!(
            body,
            json!({"location": "westeurope", "tags": {"env": "dev"}})
        );
        let mut response = body.clone();
        response["name"] = json!("aks-identity");
        response["properties"] =
            json!({"principalId": "p-1", "clientId": "c-1", "tenantId": "t-1"});
        let state = t.to_state(&c, &id, &response);
        assert_eq!(state.get("principal_id"), Some(&Value::string("p-1")));
        assert_eq!(state.get("client_id"), Some(&Value::string("c-1")));
        // A plan against this state shows no change.
        let planned = default_plan(&t.schema().block, Some(&state), &c);
        assert_eq!(planned.planned, state);
        assert!(planned.requires_replace.is_empty());
    }

    #[test]
    fn rejects_invalid_names() {
        assert_eq!(UserAssignedIdentity.validate(&config("-bad")).len(), 1);
        assert_eq!(UserAssignedIdentity.validate(&config("ab")).len(), 1);
        assert!(UserAssignedIdentity
            .validate(&config("aks_identity-1"))
            .is_empty());
    }
}
