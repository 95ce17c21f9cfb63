//! `azure_key_vault`: Microsoft.KeyVault/vaults (api 2025-05-01), plus what the Key Vault
//! data-plane types (`azure_key_vault_secret`, `azure_key_vault_certificate`) share: finding a
//! vault's URI and calling the data plane.

use std::collections::BTreeMap;

use async_trait::async_trait;
use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, NestedBlockSchema, Nesting, Presence, ProviderError,
    ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::key_vault_secret::object_tags;
use super::{arm_put, AzureResourceType, Context};

/// The vaults api-version.
pub const VAULT_API_VERSION: &str = "2025-05-01";

const SECRET_PERMISSIONS: &str = "all backup delete get list purge recover restore set";
const CERTIFICATE_PERMISSIONS: &str = "all backup create delete deleteissuers get getissuers import list listissuers managecontacts manageissuers purge recover restore setissuers update";
const KEY_PERMISSIONS: &str = "all backup create decrypt delete encrypt get getrotationpolicy import list purge recover release restore rotate setrotationpolicy sign unwrapkey update verify wrapkey";

/// A Key Vault.
pub struct KeyVault;

fn attr(t: AttrType, p: Presence, d: &str) -> AttributeSchema {
    AttributeSchema::new(t, p, d)
}

fn string_set() -> AttrType {
    AttrType::Set(Box::new(AttrType::String))
}

fn access_policy_block() -> BlockSchema {
    use Presence::*;
    BlockSchema::default()
        .attribute("tenant_id", attr(AttrType::String, Required, "Entra tenant of the principal."))
        .attribute("object_id", attr(AttrType::String, Required, "Object ID of the user, group or service principal."))
        .attribute("application_id", attr(AttrType::String, Optional, "Application ID of a client acting on behalf of the principal (compound identity)."))
        .attribute("secret_permissions", attr(string_set(), Optional, "Secret permissions: all, backup, delete, get, list, purge, recover, restore, set."))
        .attribute("certificate_permissions", attr(string_set(), Optional, "Certificate permissions: all, backup, create, delete, deleteissuers, get, getissuers, import, list, listissuers, managecontacts, manageissuers, purge, recover, restore, setissuers, update."))
        .attribute("key_permissions", attr(string_set(), Optional, "Key permissions: all, backup, create, decrypt, delete, encrypt, get, getrotationpolicy, import, list, purge, recover, release, restore, rotate, setrotationpolicy, sign, unwrapKey, update, verify, wrapKey."))
}

#[rustfmt::skip]
fn network_acls_block() -> BlockSchema {
    use Presence::*;
    BlockSchema::default()
        .attribute("bypass", attr(AttrType::String, Required, "Traffic that bypasses the rules: AzureServices or None."))
        .attribute("default_action", attr(AttrType::String, Required, "Action when no rule matches: Allow or Deny."))
        .attribute("ip_rules", attr(string_set(), Optional, "Allowed IPv4 addresses or CIDR ranges."))
        .attribute("virtual_network_subnet_ids", attr(string_set(), Optional, "Allowed subnets (ARM IDs)."))
}

#[async_trait]
impl AzureResourceType for KeyVault {
    fn name(&self) -> &'static str {
        "azure_key_vault"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.KeyVault/vaults"
    }

    fn api_version(&self) -> &'static str {
        VAULT_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        use Presence::*;
        let block = BlockSchema::default()
            .attribute("name", attr(AttrType::String, Required, "Globally unique name, 3-24 characters: letters, digits and hyphens; starts with a letter, ends with a letter or digit, no consecutive hyphens.").force_new())
            .attribute("resource_group_name", attr(AttrType::String, Required, "Resource group.").force_new())
            .attribute("location", attr(AttrType::String, Required, "Azure region.").force_new())
            .attribute("tenant_id", attr(AttrType::String, Required, "Entra tenant that authenticates requests to the vault."))
            .attribute("sku_name", attr(AttrType::String, Required, "standard or premium."))
            .attribute("enable_rbac_authorization", attr(AttrType::Bool, Optional, "Authorize data-plane requests with Azure RBAC instead of access policies.").default_value(Value::Bool(false)))
            .attribute("soft_delete_retention_days", attr(AttrType::Number, Optional, "Days a deleted vault or object stays recoverable, 7-90. Azure cannot change it once set.").default_value(Value::Number(90.0)).force_new())
            .attribute("purge_protection_enabled", attr(AttrType::Bool, Optional, "Forbid purging deleted objects before the retention period ends. Once on, it cannot be turned off.").default_value(Value::Bool(false)))
            .attribute("public_network_access_enabled", attr(AttrType::Bool, Optional, "Accept requests from public networks (subject to network_acls).").default_value(Value::Bool(true)))
            .attribute("tags", attr(AttrType::Map(Box::new(AttrType::String)), Optional, "Tags."))
            .attribute("id", attr(AttrType::String, Computed, "ARM resource ID."))
            .attribute("vault_uri", attr(AttrType::String, Computed, "Data-plane URI, e.g. https://NAME.vault.azure.net/."))
            .block("access_policy", NestedBlockSchema { nesting: Nesting::List, required: false, force_new: false, description: "Who may do what on the data plane (ignored when enable_rbac_authorization is true).".into(), block: access_policy_block() })
            .block("network_acls", NestedBlockSchema { nesting: Nesting::Single, required: false, force_new: false, description: "Network rules of the data plane.".into(), block: network_acls_block() });
        ResourceSchema {
            version: 0,
            description: "An Azure Key Vault: secrets, keys and certificates behind Entra authentication, with soft delete and optional purge protection.".into(),
            block,
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(name) = string(config, "name") {
            if let Err(why) = check_vault_name(&name) {
                errors.push(ProviderError::at_attribute(
                    format!("\"{name}\" is not a valid Key Vault name: {why}"),
                    "name",
                ));
            }
        }
        if let Some(sku) = string(config, "sku_name") {
            if sku != "standard" && sku != "premium" {
                errors.push(ProviderError::at_attribute(
                    format!("sku_name must be \"standard\" or \"premium\", not \"{sku}\""),
                    "sku_name",
                ));
            }
        }
        if let Some(days) = number(config, "soft_delete_retention_days") {
            if !(7.0..=90.0).contains(&days) || days.fract() != 0.0 {
                errors.push(ProviderError::at_attribute(
                    format!("soft_delete_retention_days must be a whole number from 7 to 90, not {days}"),
                    "soft_delete_retention_days",
                ));
            }
        }
        for policy in blocks(config, "access_policy") {
            for (attribute, allowed) in [
                ("secret_permissions", SECRET_PERMISSIONS),
                ("certificate_permissions", CERTIFICATE_PERMISSIONS),
                ("key_permissions", KEY_PERMISSIONS),
            ] {
                for p in strings(policy, attribute) {
                    if !allowed.split(' ').any(|a| a.eq_ignore_ascii_case(&p)) {
                        errors.push(ProviderError::at_attribute(
                            format!("\"{p}\" is not a valid access_policy {attribute} value; use one of: {}", allowed.replace(' ', ", ")),
                            "access_policy",
                        ));
                    }
                }
            }
        }
        if let Some(acls) = config.get("network_acls").filter(|v| !v.is_null()) {
            if let Some(b) = string(acls, "bypass") {
                if b != "AzureServices" && b != "None" {
                    errors.push(ProviderError::at_attribute(
                        format!("network_acls.bypass must be AzureServices or None, not \"{b}\""),
                        "network_acls",
                    ));
                }
            }
            if let Some(a) = string(acls, "default_action") {
                if a != "Allow" && a != "Deny" {
                    errors.push(ProviderError::at_attribute(
                        format!("network_acls.default_action must be Allow or Deny, not \"{a}\""),
                        "network_acls",
                    ));
                }
            }
        }
        errors
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.KeyVault/vaults/{}",
            string(config, "resource_group_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let policies: Vec<Json> = blocks(config, "access_policy")
            .into_iter()
            .map(|p| {
                let mut policy = json!({
                    "tenantId": string(p, "tenant_id").unwrap_or_default(),
                    "objectId": string(p, "object_id").unwrap_or_default(),
                    "permissions": {
                        "secrets": strings(p, "secret_permissions"),
                        "certificates": strings(p, "certificate_permissions"),
                        "keys": strings(p, "key_permissions"),
                    },
                });
                if let Some(app) = string(p, "application_id") {
                    policy["applicationId"] = json!(app);
                }
                policy
            })
            .collect();
        let mut properties = json!({
            "tenantId": string(config, "tenant_id").unwrap_or_default(),
            "sku": {"family": "A", "name": string(config, "sku_name").unwrap_or_default()},
            "accessPolicies": policies,
            "enableRbacAuthorization": boolean(config, "enable_rbac_authorization").unwrap_or(false),
            "enableSoftDelete": true,
            "softDeleteRetentionInDays": number(config, "soft_delete_retention_days").unwrap_or(90.0) as i64,
            "publicNetworkAccess": if boolean(config, "public_network_access_enabled").unwrap_or(true) { "Enabled" } else { "Disabled" },
        });
        // The API refuses false ("enabling is irreversible"): send it only to turn it on.
        if boolean(config, "purge_protection_enabled") == Some(true) {
            properties["enablePurgeProtection"] = json!(true);
        }
        if let Some(acls) = config.get("network_acls").filter(|v| !v.is_null()) {
            properties["networkAcls"] = json!({
                "bypass": string(acls, "bypass").unwrap_or_else(|| "AzureServices".into()),
                "defaultAction": string(acls, "default_action").unwrap_or_else(|| "Allow".into()),
                "ipRules": strings(acls, "ip_rules").into_iter().map(|v| json!({"value": v})).collect::<Vec<_>>(),
                "virtualNetworkRules": strings(acls, "virtual_network_subnet_ids").into_iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            });
        }
        Ok(json!({
            "location": string(config, "location").unwrap_or_default(),
            "tags": tags(config),
            "properties": properties,
        }))
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        let props = response.get("properties").cloned().unwrap_or(Json::Null);
        let text = |p: &str| props.pointer(p).and_then(Json::as_str).map(Value::string);
        state.set_or_insert("id", Value::string(id));
        for (key, value) in [
            (
                "name",
                response
                    .get("name")
                    .and_then(Json::as_str)
                    .map(Value::string),
            ),
            (
                "location",
                response
                    .get("location")
                    .and_then(Json::as_str)
                    .map(Value::string),
            ),
            ("tenant_id", text("/tenantId")),
            ("sku_name", text("/sku/name")),
            ("vault_uri", text("/vaultUri")),
        ] {
            if let Some(value) = value {
                state.set_or_insert(key, value);
            }
        }
        if let Some(rg) = resource_group_of(id) {
            if string(config, "resource_group_name")
                .map(|c| !c.eq_ignore_ascii_case(&rg))
                .unwrap_or(true)
            {
                state.set_or_insert("resource_group_name", Value::string(rg));
            }
        }
        let flag = |p: &str| props.pointer(p).and_then(Json::as_bool).unwrap_or(false);
        state.set_or_insert(
            "enable_rbac_authorization",
            Value::Bool(flag("/enableRbacAuthorization")),
        );
        state.set_or_insert(
            "purge_protection_enabled",
            Value::Bool(flag("/enablePurgeProtection")),
        );
        state.set_or_insert(
            "public_network_access_enabled",
            Value::Bool(
                props
                    .pointer("/publicNetworkAccess")
                    .and_then(Json::as_str)
                    .map(|s| !s.eq_ignore_ascii_case("Disabled"))
                    .unwrap_or(true),
            ),
        );
        let days = props
            .pointer("/softDeleteRetentionInDays")
            .and_then(Json::as_f64)
            .unwrap_or(90.0);
        state.set_or_insert("soft_delete_retention_days", Value::Number(days));
        state.set_or_insert("tags", object_tags(config, response));
        state.set_or_insert("access_policy", access_policies_state(config, &props));
        state.set_or_insert("network_acls", network_acls_state(config, &props));
        state
    }

    async fn update(
        &self,
        ctx: &Context,
        prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        if let Some(e) = purge_protection_error(prior, config) {
            return Err(e);
        }
        arm_put(self, ctx, config).await
    }
}

/// Purge protection cannot be turned off once on: the error to report when a change would.
pub fn purge_protection_error(prior: &Value, config: &Value) -> Option<ProviderError> {
    let was_on = boolean(prior, "purge_protection_enabled") == Some(true);
    let turns_off = boolean(config, "purge_protection_enabled") == Some(false);
    (was_on && turns_off).then(|| {
        ProviderError::at_attribute(
            "purge protection is on for this Key Vault and Azure cannot turn it off; set purge_protection_enabled = true",
            "purge_protection_enabled",
        )
    })
}

/// Key Vault name rules: 3-24 letters, digits and hyphens; starts with a letter, ends with a
/// letter or digit; no consecutive hyphens.
pub fn check_vault_name(name: &str) -> Result<(), &'static str> {
    if name.len() < 3 || name.len() > 24 {
        return Err("use 3-24 characters");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("use only letters, digits and hyphens");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err("start with a letter");
    }
    if name.ends_with('-') {
        return Err("end with a letter or digit");
    }
    if name.contains("--") {
        return Err("do not use consecutive hyphens");
    }
    Ok(())
}

fn resource_group_of(id: &str) -> Option<String> {
    let parts: Vec<&str> = id.split('/').collect();
    let i = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("resourceGroups"))?;
    parts.get(i + 1).map(|s| s.to_string())
}

/// Items of a response list, spelled as in the configuration when they match ignoring case
/// (Azure normalises permission names), sorted like a set.
fn set_like(config_items: &[String], response: Option<&Json>) -> Value {
    let mut items: Vec<Value> = response
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .map(|s| {
            let spelled = config_items.iter().find(|c| c.eq_ignore_ascii_case(s));
            Value::string(spelled.cloned().unwrap_or_else(|| s.to_string()))
        })
        .collect();
    items.sort_by_key(|v| v.to_string());
    items.dedup();
    Value::List(items)
}

fn access_policies_state(config: &Value, props: &Json) -> Value {
    let configured = blocks(config, "access_policy");
    let policies = props
        .get("accessPolicies")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    let items = policies.iter().map(|p| {
        let object_id = p.get("objectId").and_then(Json::as_str).unwrap_or_default();
        let matching = configured
            .iter()
            .find(|c| string(c, "object_id").is_some_and(|o| o.eq_ignore_ascii_case(object_id)));
        let s = |key: &str| {
            p.get(key)
                .and_then(Json::as_str)
                .map(Value::string)
                .unwrap_or(Value::Null)
        };
        let mut out = BTreeMap::from([
            ("tenant_id".to_string(), s("tenantId")),
            ("object_id".to_string(), s("objectId")),
            ("application_id".to_string(), s("applicationId")),
        ]);
        for (attr, key) in [
            ("secret_permissions", "/permissions/secrets"),
            ("certificate_permissions", "/permissions/certificates"),
            ("key_permissions", "/permissions/keys"),
        ] {
            let spelled = matching.map(|c| strings(c, attr)).unwrap_or_default();
            let mut value = set_like(&spelled, p.pointer(key));
            // An unset permission list in the configuration is null, not an empty list.
            let unset = matching
                .and_then(|c| c.get(attr))
                .is_some_and(Value::is_null);
            if unset && value == Value::List(vec![]) {
                value = Value::Null;
            }
            out.insert(attr.to_string(), value);
        }
        Value::Map(out)
    });
    Value::List(items.collect())
}

fn network_acls_state(config: &Value, props: &Json) -> Value {
    let Some(acls) = props.get("networkAcls").filter(|a| a.is_object()) else {
        return Value::Null;
    };
    let configured = config.get("network_acls").filter(|v| !v.is_null());
    let ip_rules: Vec<Json> = acls
        .get("ipRules")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("value").cloned())
        .collect();
    let subnets: Vec<Json> = acls
        .get("virtualNetworkRules")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("id").cloned())
        .collect();
    if configured.is_none()
        && ip_rules.is_empty()
        && subnets.is_empty()
        && acls.get("defaultAction").and_then(Json::as_str) != Some("Deny")
    {
        // Azure's default rules (allow everything) when none were configured.
        return Value::Null;
    }
    let list_or_null = |attr: &str, items: Vec<Json>| {
        let config_items = configured.map(|c| strings(c, attr)).unwrap_or_default();
        let v = set_like(&config_items, Some(&Json::Array(items)));
        let unset = configured
            .and_then(|c| c.get(attr))
            .map(Value::is_null)
            .unwrap_or(true);
        if unset && v == Value::List(vec![]) {
            Value::Null
        } else {
            v
        }
    };
    let s = |key: &str| {
        acls.get(key)
            .and_then(Json::as_str)
            .map(Value::string)
            .unwrap_or(Value::Null)
    };
    Value::Map(BTreeMap::from([
        ("bypass".to_string(), s("bypass")),
        ("default_action".to_string(), s("defaultAction")),
        ("ip_rules".to_string(), list_or_null("ip_rules", ip_rules)),
        (
            "virtual_network_subnet_ids".to_string(),
            list_or_null("virtual_network_subnet_ids", subnets),
        ),
    ]))
}

/// A known bool attribute.
pub(crate) fn boolean(v: &Value, name: &str) -> Option<bool> {
    match v.get(name).map(|v| v.unmark().0) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// A known number attribute.
pub(crate) fn number(v: &Value, name: &str) -> Option<f64> {
    match v.get(name).map(|v| v.unmark().0) {
        Some(Value::Number(n)) => Some(*n),
        _ => None,
    }
}

/// The known strings of a list attribute.
pub(crate) fn strings(v: &Value, name: &str) -> Vec<String> {
    match v.get(name).map(|v| v.unmark().0) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|i| i.unmark().0.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The objects of a nested list block.
pub(crate) fn blocks<'a>(v: &'a Value, name: &str) -> Vec<&'a Value> {
    match v.get(name).map(|v| v.unmark().0) {
        Some(Value::List(items)) => items
            .iter()
            .map(|i| i.unmark().0)
            .filter(|i| matches!(i, Value::Map(_)))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn config(name: &str) -> Value {
        map(&[
            ("name", s(name)),
            ("resource_group_name", s("rg-shared")),
            ("location", s("westeurope")),
            ("tenant_id", s("11111111-1111-1111-1111-111111111111")),
            ("sku_name", s("standard")),
            ("enable_rbac_authorization", Value::Bool(false)),
            ("soft_delete_retention_days", Value::Number(7.0)),
            ("purge_protection_enabled", Value::Bool(true)),
            ("public_network_access_enabled", Value::Bool(false)),
            ("tags", map(&[("env", s("dev"))])),
            ("id", Value::Null),
            ("vault_uri", Value::Null),
            (
                "access_policy",
                Value::List(vec![map(&[
                    ("tenant_id", s("11111111-1111-1111-1111-111111111111")),
                    ("object_id", s("22222222-2222-2222-2222-222222222222")),
                    ("application_id", Value::Null),
                    ("secret_permissions", Value::List(vec![s("Get"), s("List")])),
                    (
                        "certificate_permissions",
                        Value::List(vec![s("Get"), s("Import")]),
                    ),
                    ("key_permissions", Value::Null),
                ])]),
            ),
            (
                "network_acls",
                map(&[
                    ("bypass", s("AzureServices")),
                    ("default_action", s("Deny")),
                    ("ip_rules", Value::List(vec![s("203.0.113.0/24")])),
                    ("virtual_network_subnet_ids", Value::Null),
                ]),
            ),
        ])
    }

    fn response_for(body: &Json, id: &str, uri: &str) -> Json {
        let mut r = body.clone();
        r["id"] = json!(id);
        r["name"] = json!("kv-mesh-one");
        r["type"] = json!("Microsoft.KeyVault/vaults");
        r["properties"]["vaultUri"] = json!(uri);
        r["properties"]["provisioningState"] = json!("Succeeded");
        r
    }

    #[test]
    fn body_has_the_rest_shape() {
        let body = KeyVault.to_body(&config("kv-mesh-one")).expect("body");
        assert_eq!(
            body,
            json!({
                "location": "westeurope",
                "tags": {"env": "dev"},
                "properties": {
                    "tenantId": "11111111-1111-1111-1111-111111111111",
                    "sku": {"family": "A", "name": "standard"},
                    "accessPolicies": [{
                        "tenantId": "11111111-1111-1111-1111-111111111111",
                        "objectId": "22222222-2222-2222-2222-222222222222",
                        "permissions": {"secrets": ["Get", "List"], "certificates": ["Get", "Import"], "keys": []},
                    }],
                    "enableRbacAuthorization": false,
                    "enableSoftDelete": true,
                    "softDeleteRetentionInDays": 7,
                    "publicNetworkAccess": "Disabled",
                    "enablePurgeProtection": true,
                    "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny", "ipRules": [{"value": "203.0.113.0/24"}], "virtualNetworkRules": []},
                },
            })
        );
        assert_eq!(
            KeyVault.resource_id("sub", &config("kv-mesh-one")).as_deref(),
            Some("/subscriptions/sub/resourceGroups/rg-shared/providers/Microsoft.KeyVault/vaults/kv-mesh-one")
        );
        let mut off = config("kv-mesh-one");
        off.set_or_insert("purge_protection_enabled", Value::Bool(false));
        off.set_or_insert("network_acls", Value::Null);
        let body = KeyVault.to_body(&off).expect("body");
        assert!(body["properties"].get("enablePurgeProtection").is_none());
        assert!(body["properties"].get("networkAcls").is_none());
    }

    #[test]
    fn state_of_the_response_reproduces_the_configuration() {
        let cfg = config("kv-mesh-one");
        let id = "/subscriptions/sub/resourceGroups/rg-shared/providers/Microsoft.KeyVault/vaults/kv-mesh-one";
        // Azure lowercases permission names: the configuration's spelling is kept.
        let mut response = response_for(
            &KeyVault.to_body(&cfg).unwrap(),
            id,
            "https://kv-mesh-one.vault.azure.net/",
        );
        response["properties"]["accessPolicies"][0]["permissions"]["secrets"] =
            json!(["get", "list"]);
        let state = KeyVault.to_state(&cfg, id, &response);
        let mut expected = cfg.clone();
        expected.set_or_insert("id", s(id));
        expected.set_or_insert("vault_uri", s("https://kv-mesh-one.vault.azure.net/"));
        assert_eq!(state, expected);
        let planned = KeyVault.plan("sub", Some(&state), &cfg);
        assert!(planned.requires_replace.is_empty());
        assert_eq!(
            planned.planned, state,
            "a plan right after apply changes nothing"
        );

        // Drift made outside mesh shows up.
        response["properties"]["softDeleteRetentionInDays"] = json!(30);
        response["properties"]
            .as_object_mut()
            .unwrap()
            .remove("enablePurgeProtection");
        let drifted = KeyVault.to_state(&cfg, id, &response);
        assert_eq!(
            drifted.get("soft_delete_retention_days"),
            Some(&Value::Number(30.0))
        );
        assert_eq!(
            drifted.get("purge_protection_enabled"),
            Some(&Value::Bool(false))
        );
        let replan = KeyVault.plan("sub", Some(&drifted), &cfg);
        assert_eq!(
            replan.requires_replace.len(),
            1,
            "retention days cannot change in place"
        );
    }

    #[test]
    fn checks_names_and_values() {
        for good in ["kv1", "kv-mesh-westeurope-001", "Abc"] {
            assert!(KeyVault.validate(&config(good)).is_empty(), "{good}");
        }
        for bad in [
            "kv",
            "1kv",
            "kv--one",
            "kv-",
            "kv_one",
            "a-very-long-key-vault-name-x",
        ] {
            assert_eq!(KeyVault.validate(&config(bad)).len(), 1, "{bad}");
        }
        let mut c = config("kv1");
        c.set_or_insert("sku_name", s("gold"));
        c.set_or_insert("soft_delete_retention_days", Value::Number(3.0));
        assert_eq!(KeyVault.validate(&c).len(), 2);
        let mut unknown = config("kv1");
        unknown.set_or_insert("name", Value::Unknown);
        assert!(KeyVault.validate(&unknown).is_empty());
    }

    #[test]
    fn purge_protection_cannot_be_turned_off() {
        let on = config("kv1");
        let mut off = config("kv1");
        off.set_or_insert("purge_protection_enabled", Value::Bool(false));
        assert!(purge_protection_error(&on, &off).is_some());
        assert!(purge_protection_error(&off, &on).is_none());
        assert!(purge_protection_error(&on, &on).is_none());
    }
}
