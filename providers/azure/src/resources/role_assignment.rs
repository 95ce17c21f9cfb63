//! `azure_role_assignment`: Microsoft.Authorization/roleAssignments, an extension resource on
//! any scope (`{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`).
//!
//! The assignment's name must be a GUID. mesh derives it from scope, role and principal (see
//! [`values::derived_guid`]), so the ID is known at plan time and the same configuration
//! always addresses the same assignment. Role assignments cannot be changed in place: every
//! attribute is force-new.

use mesh_engine::provider::{
    default_plan, AttrType, AttributeSchema, BlockSchema, PlannedChange, Presence, ProviderError,
    ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::string;
use super::generic_resource::values::{self, jstr, same_id};
use super::AzureResourceType;

/// A role assignment.
pub struct RoleAssignment;

/// Built-in role names mesh resolves without a lookup, and their role definition GUIDs (the
/// same in every tenant).
pub const BUILT_IN_ROLES: &[(&str, &str)] = &[
    ("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
    ("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"),
    ("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"),
    (
        "User Access Administrator",
        "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
    ),
    (
        "Network Contributor",
        "4d97b98b-1d4f-4787-a291-c67834d212e7",
    ),
    (
        "Managed Identity Operator",
        "f1a07417-d97a-45cb-824c-7a7467783830",
    ),
    ("AcrPull", "7f951dda-4ed3-4680-a7ca-43fe172d538d"),
    ("AcrPush", "8311e382-0749-4cb8-b61a-304f252e45ec"),
    (
        "Key Vault Administrator",
        "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    ),
    (
        "Key Vault Secrets User",
        "4633458b-17de-408a-b874-0445c86b69e6",
    ),
    (
        "Key Vault Secrets Officer",
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    ),
    (
        "Key Vault Certificates Officer",
        "a4417e6f-fecd-4de8-b567-7b0420556985",
    ),
];

const PRINCIPAL_TYPES: &[&str] = &[
    "User",
    "Group",
    "ServicePrincipal",
    "ForeignGroup",
    "Device",
];

/// The GUID of a built-in role by name (case-insensitive).
pub fn built_in_role(name: &str) -> Option<&'static str> {
    BUILT_IN_ROLES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, g)| *g)
}

fn subscription_of(scope: &str) -> Option<&str> {
    let mut parts = scope.trim_start_matches('/').split('/');
    match (parts.next(), parts.next()) {
        (Some(s), Some(id)) if s.eq_ignore_ascii_case("subscriptions") => Some(id),
        _ => None,
    }
}

/// The role definition ID: as configured, or resolved from a built-in role name.
fn role_definition_id(subscription_id: &str, config: &Value) -> Option<String> {
    if let Some(id) = string(config, "role_definition_id") {
        return Some(id);
    }
    let guid = built_in_role(&string(config, "role_definition_name")?)?;
    let scope = string(config, "scope");
    let sub = scope
        .as_deref()
        .and_then(subscription_of)
        .unwrap_or(subscription_id);
    Some(format!(
        "/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    ))
}

/// The assignment name: as configured, or derived from scope, role GUID and principal.
fn assignment_name(subscription_id: &str, config: &Value) -> Option<String> {
    if let Some(name) = string(config, "name") {
        return Some(name);
    }
    let scope = string(config, "scope")?;
    let role = role_definition_id(subscription_id, config)?;
    let role_guid = role.rsplit('/').next().unwrap_or(&role).to_string();
    let principal = string(config, "principal_id")?;
    Some(values::derived_guid(&[
        scope.trim_end_matches('/'),
        &role_guid,
        &principal,
    ]))
}

impl AzureResourceType for RoleAssignment {
    fn name(&self) -> &'static str {
        "azure_role_assignment"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Authorization/roleAssignments"
    }

    fn api_version(&self) -> &'static str {
        "2022-04-01"
    }

    fn schema(&self) -> ResourceSchema {
        let s = |p, d| AttributeSchema::new(AttrType::String, p, d);
        let names: Vec<&str> = BUILT_IN_ROLES.iter().map(|(n, _)| *n).collect();
        let name_doc = format!("A built-in role by name, resolved to its well-known GUID without a lookup: {}. Other roles: set role_definition_id.", names.join(", "));
        ResourceSchema {
            version: 0,
            description: "A role assignment: grants a principal a role on a scope (a subscription, resource group or resource). Its name is a GUID derived from scope, role and principal, so its ID is known at plan time.".into(),
            block: BlockSchema::default()
                .attribute("scope", s(Presence::Required, "ARM ID of the scope: subscription, resource group or resource.").force_new())
                .attribute("role_definition_id", s(Presence::OptionalComputed, "Full role definition ID (/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}); computed from role_definition_name when unset.").force_new())
                .attribute("role_definition_name", s(Presence::Optional, &name_doc).force_new())
                .attribute("principal_id", s(Presence::Required, "Object ID of the user, group or service principal (e.g. a managed identity's principal_id).").force_new())
                .attribute("principal_type", s(Presence::Optional, "User, Group, ServicePrincipal, ForeignGroup or Device; set ServicePrincipal for identities created in the same apply (avoids replication delays).").force_new())
                .attribute("name", s(Presence::OptionalComputed, "Assignment name, a GUID; derived from scope, role and principal when unset.").force_new())
                .attribute("id", s(Presence::Computed, "ARM resource ID.")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        let by_id = config
            .get("role_definition_id")
            .is_some_and(|v| !v.is_null());
        let by_name = config
            .get("role_definition_name")
            .is_some_and(|v| !v.is_null());
        if by_id == by_name {
            errors.push(ProviderError::new(
                "set exactly one of role_definition_id and role_definition_name",
            ));
        }
        if let Some(name) = string(config, "role_definition_name") {
            if built_in_role(&name).is_none() {
                errors.push(ProviderError::at_attribute(format!("\"{name}\" is not one of the built-in roles mesh knows by name; set role_definition_id to the role's full ID instead"), "role_definition_name"));
            }
        }
        if let Some(id) = string(config, "role_definition_id") {
            let guid = id.rsplit('/').next().unwrap_or_default();
            if !id
                .to_ascii_lowercase()
                .contains("/providers/microsoft.authorization/roledefinitions/")
                || !values::is_guid(guid)
            {
                errors.push(ProviderError::at_attribute(format!("\"{id}\" is not a role definition ID (…/providers/Microsoft.Authorization/roleDefinitions/{{guid}})"), "role_definition_id"));
            }
        }
        if let Some(scope) = string(config, "scope") {
            let lower = scope.to_ascii_lowercase();
            if !lower.starts_with("/subscriptions/")
                && !lower.starts_with("/providers/microsoft.management/managementgroups/")
            {
                errors.push(ProviderError::at_attribute(
                    format!("\"{scope}\" is not an ARM scope: it must start with /subscriptions/"),
                    "scope",
                ));
            }
        }
        if let Some(p) = string(config, "principal_id") {
            if !values::is_guid(&p) {
                errors.push(ProviderError::at_attribute(
                    format!("\"{p}\" is not an object ID (a GUID)"),
                    "principal_id",
                ));
            }
        }
        if let Some(t) = string(config, "principal_type") {
            if !PRINCIPAL_TYPES.contains(&t.as_str()) {
                errors.push(ProviderError::at_attribute(
                    format!(
                        "principal_type must be one of {}",
                        PRINCIPAL_TYPES.join(", ")
                    ),
                    "principal_type",
                ));
            }
        }
        if let Some(n) = string(config, "name") {
            if !values::is_guid(&n) {
                errors.push(ProviderError::at_attribute(
                    format!("\"{n}\" is not a GUID: a role assignment's name must be one"),
                    "name",
                ));
            }
        }
        errors
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        let scope = string(config, "scope")?;
        let name = assignment_name(subscription_id, config)?;
        Some(format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{name}",
            scope.trim_end_matches('/')
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let role = role_definition_id("", config).ok_or_else(|| {
            ProviderError::new("the role definition of this role assignment is unknown")
        })?;
        let mut properties = json!({
            "roleDefinitionId": role,
            "principalId": string(config, "principal_id").unwrap_or_default(),
        });
        if let Some(t) = string(config, "principal_type") {
            properties["principalType"] = Json::String(t);
        }
        Ok(json!({ "properties": properties }))
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        state.set_or_insert("id", Value::string(id));
        if let Some(name) = jstr(response, "/name") {
            state.set_or_insert("name", Value::string(name));
        }
        if let Some(scope) = jstr(response, "/properties/scope") {
            state.set_or_insert("scope", same_id(string(config, "scope"), &scope));
        }
        if let Some(role) = jstr(response, "/properties/roleDefinitionId") {
            let configured = role_definition_id("", config);
            state.set_or_insert("role_definition_id", same_id(configured, &role));
        }
        if let Some(p) = jstr(response, "/properties/principalId") {
            state.set_or_insert("principal_id", Value::string(p));
        }
        if config.get("principal_type").is_some_and(|v| !v.is_null()) {
            if let Some(t) = jstr(response, "/properties/principalType") {
                state.set_or_insert("principal_type", Value::string(t));
            }
        }
        state
    }

    fn plan(&self, subscription_id: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        // Resolve the role and the name first, so both take part in the force-new comparison.
        let mut effective = config.clone();
        if let Some(role) = role_definition_id(subscription_id, config) {
            effective.set_or_insert("role_definition_id", Value::String(role));
        }
        if let Some(name) = assignment_name(subscription_id, config) {
            effective.set_or_insert("name", Value::String(name));
        }
        let mut planned = default_plan(&self.schema().block, prior, &effective);
        if let Some(id) = self.resource_id(subscription_id, &effective) {
            planned.planned.set_or_insert("id", Value::String(id));
        }
        planned
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const SCOPE: &str =
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv";
    const PRINCIPAL: &str = "11111111-2222-3333-4444-555555555555";

    fn config(role_name: Option<&str>, role_id: Option<&str>) -> Value {
        let opt = |v: Option<&str>| v.map(Value::string).unwrap_or(Value::Null);
        Value::Map(BTreeMap::from([
            ("scope".to_string(), Value::string(SCOPE)),
            ("role_definition_name".to_string(), opt(role_name)),
            ("role_definition_id".to_string(), opt(role_id)),
            ("principal_id".to_string(), Value::string(PRINCIPAL)),
            (
                "principal_type".to_string(),
                Value::string("ServicePrincipal"),
            ),
            ("name".to_string(), Value::Null),
            ("id".to_string(), Value::Null),
        ]))
    }

    #[test]
    fn resolves_built_in_roles_and_derives_the_name() {
        let t = RoleAssignment;
        let c = config(Some("Key Vault Secrets User"), None);
        assert!(t.validate(&c).is_empty());
        let planned = t.plan("other", None, &c).planned;
        let role = "/subscriptions/sub/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6";
        assert_eq!(
            planned.get("role_definition_id"),
            Some(&Value::string(role))
        );
        let name = planned
            .get("name")
            .and_then(Value::as_str)
            .unwrap()
            .to_string();
        assert!(values::is_guid(&name));
        let id = format!("{SCOPE}/providers/Microsoft.Authorization/roleAssignments/{name}");
        assert_eq!(planned.get("id"), Some(&Value::string(&id)));
        // The same assignment by ID has the same name.
        let by_id = t.plan("other", None, &config(None, Some(role))).planned;
        assert_eq!(by_id.get("name"), planned.get("name"));
        // Another principal, another name.
        let mut other = c.clone();
        other.set_or_insert(
            "principal_id",
            Value::string("99999999-2222-3333-4444-555555555555"),
        );
        assert_ne!(
            t.plan("other", None, &other).planned.get("name"),
            planned.get("name")
        );
    }

    #[test]
    fn maps_to_the_rest_shape_and_back() {
        let t = RoleAssignment;
        let c = config(Some("AcrPull"), None);
        let planned = t.plan("sub", None, &c).planned;
        let body = t.to_body(&planned).unwrap();
        let role = "/subscriptions/sub/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d";
        assert_eq!(
            body,
            json!({"properties": {"roleDefinitionId": role, "principalId": PRINCIPAL, "principalType": "ServicePrincipal"}})
        );
        let id = planned
            .get("id")
            .and_then(Value::as_str)
            .unwrap()
            .to_string();
        let name = planned.get("name").and_then(Value::as_str).unwrap();
        let response = json!({"id": id, "name": name, "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": role, "principalId": PRINCIPAL, "principalType": "ServicePrincipal", "scope": SCOPE.to_ascii_lowercase()}});
        let state = t.to_state(&planned, &id, &response);
        assert_eq!(state, planned);
        // Planning the same configuration against the state changes nothing.
        let again = t.plan("sub", Some(&state), &c);
        assert_eq!(again.planned, state);
        assert!(again.requires_replace.is_empty());
        // Another role replaces the assignment.
        let changed = t.plan("sub", Some(&state), &config(Some("Reader"), None));
        assert!(!changed.requires_replace.is_empty());
    }

    #[test]
    fn validation() {
        let t = RoleAssignment;
        assert_eq!(t.validate(&config(None, None)).len(), 1);
        assert_eq!(t.validate(&config(Some("Reader"), Some("x"))).len(), 2);
        assert_eq!(t.validate(&config(Some("Chief Wizard"), None)).len(), 1);
        let mut bad = config(Some("Reader"), None);
        bad.set_or_insert("principal_id", Value::string("me"));
        bad.set_or_insert("scope", Value::string("rg"));
        assert_eq!(t.validate(&bad).len(), 2);
    }
}
