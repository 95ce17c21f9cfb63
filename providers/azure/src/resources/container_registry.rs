//! `azure_container_registry`: Microsoft.ContainerRegistry/registries.
//!
//! When the admin user is enabled, its credentials come from POST `{id}/listCredentials`
//! after create, update and read, and are kept as sensitive computed attributes.

use async_trait::async_trait;
use mesh_engine::provider::{
    default_plan, AttrType, AttributeSchema, BlockSchema, PlannedChange, Presence, ProviderError,
    ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::generic_resource::values::{flag, jstr, tags_state};
use super::{arm_put, arm_read, provider_error, AzureResourceType, Context};

/// A container registry.
pub struct ContainerRegistry;

const SKUS: &[&str] = &["Basic", "Standard", "Premium"];

/// True for a registry name: 5-50 letters and digits.
pub(crate) fn valid_registry_name(name: &str) -> bool {
    (5..=50).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Fill `admin_username`/`admin_password` from listCredentials when the admin user is on.
async fn with_credentials(
    ty: &ContainerRegistry,
    ctx: &Context,
    mut state: Value,
) -> Result<Value, ProviderError> {
    if flag(&state, "admin_enabled") != Some(true) {
        state.set_or_insert("admin_username", Value::Null);
        state.set_or_insert("admin_password", Value::Null);
        return Ok(state);
    }
    let id = string(&state, "id").unwrap_or_default();
    let response = ctx
        .client
        .post(
            &format!("{id}/listCredentials"),
            ty.api_version(),
            None,
            &ctx.cancel,
        )
        .await
        .map_err(provider_error)?;
    let username = jstr(&response, "/username");
    let password = response
        .get("passwords")
        .and_then(Json::as_array)
        .and_then(|p| p.first())
        .and_then(|p| p.get("value"))
        .and_then(Json::as_str);
    let (Some(username), Some(password)) = (username, password) else {
        return Err(ProviderError::new(format!(
            "listCredentials of {id} returned no admin credentials"
        )));
    };
    state.set_or_insert("admin_username", Value::string(username));
    state.set_or_insert("admin_password", Value::string(password).into_sensitive());
    Ok(state)
}

#[async_trait]
impl AzureResourceType for ContainerRegistry {
    fn name(&self) -> &'static str {
        "azure_container_registry"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.ContainerRegistry/registries"
    }

    fn api_version(&self) -> &'static str {
        "2025-04-01"
    }

    fn schema(&self) -> ResourceSchema {
        let s = |p, d| AttributeSchema::new(AttrType::String, p, d);
        let b = |d| AttributeSchema::new(AttrType::Bool, Presence::Optional, d);
        ResourceSchema {
            version: 0,
            description: "A container registry (ACR). Premium registries can be replicated to other regions and closed to the public network.".into(),
            block: BlockSchema::default()
                .attribute("name", s(Presence::Required, "Name, 5-50 letters and digits, unique across Azure (it becomes {name}.azurecr.io).").force_new())
                .attribute("resource_group_name", s(Presence::Required, "Resource group.").force_new())
                .attribute("location", s(Presence::Required, "Azure region (the home replica).").force_new())
                .attribute("sku", s(Presence::Required, "Basic, Standard or Premium."))
                .attribute("admin_enabled", b("Enable the admin user (username and password access).").default_value(Value::Bool(false)))
                .attribute("public_network_access_enabled", b("Reachable from the public network; only Premium registries may turn it off.").default_value(Value::Bool(true)))
                .attribute("tags", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", s(Presence::Computed, "ARM resource ID."))
                .attribute("login_server", s(Presence::Computed, "Registry host name, {name}.azurecr.io."))
                .attribute("admin_username", s(Presence::Computed, "Admin user name, when admin_enabled."))
                .attribute("admin_password", s(Presence::Computed, "Admin password, when admin_enabled (from listCredentials).").sensitive()),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(name) = string(config, "name") {
            if !valid_registry_name(&name) {
                errors.push(ProviderError::at_attribute(format!("\"{name}\" is not a valid container registry name: use 5-50 letters and digits only"), "name"));
            }
        }
        let sku = string(config, "sku");
        if let Some(sku) = &sku {
            if !SKUS.contains(&sku.as_str()) {
                errors.push(ProviderError::at_attribute(
                    format!("sku must be one of {}", SKUS.join(", ")),
                    "sku",
                ));
            }
        }
        if flag(config, "public_network_access_enabled") == Some(false)
            && sku.as_deref().is_some_and(|s| s != "Premium")
        {
            errors.push(ProviderError::at_attribute(
                "only Premium registries can disable public network access",
                "public_network_access_enabled",
            ));
        }
        errors
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.ContainerRegistry/registries/{}",
            string(config, "resource_group_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let public = flag(config, "public_network_access_enabled").unwrap_or(true);
        Ok(json!({
            "location": string(config, "location").unwrap_or_default(),
            "tags": tags(config),
            "sku": {"name": string(config, "sku").unwrap_or_else(|| "Basic".into())},
            "properties": {
                "adminUserEnabled": flag(config, "admin_enabled").unwrap_or(false),
                "publicNetworkAccess": if public { "Enabled" } else { "Disabled" },
            },
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
        if let Some(sku) = jstr(response, "/sku/name") {
            state.set_or_insert("sku", Value::string(sku));
        }
        if let Some(admin) = response
            .pointer("/properties/adminUserEnabled")
            .and_then(Json::as_bool)
        {
            state.set_or_insert("admin_enabled", Value::Bool(admin));
        }
        if let Some(access) = jstr(response, "/properties/publicNetworkAccess") {
            state.set_or_insert(
                "public_network_access_enabled",
                Value::Bool(access.eq_ignore_ascii_case("Enabled")),
            );
        }
        let login = jstr(response, "/properties/loginServer").map(Value::String);
        state.set_or_insert("login_server", login.unwrap_or(Value::Null));
        state
    }

    fn plan(&self, subscription_id: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        let mut planned = default_plan(&self.schema().block, prior, config);
        if let Some(id) = self.resource_id(subscription_id, config) {
            planned.planned.set_or_insert("id", Value::String(id));
        }
        if let Some(prior) = prior {
            if flag(prior, "admin_enabled") != flag(config, "admin_enabled") {
                planned
                    .planned
                    .set_or_insert("admin_username", Value::Unknown);
                planned
                    .planned
                    .set_or_insert("admin_password", Value::Unknown.into_sensitive());
            }
        }
        planned
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        let state = arm_put(self, ctx, config).await?;
        with_credentials(self, ctx, state).await
    }

    async fn read(&self, ctx: &Context, state: &Value) -> Result<Option<Value>, ProviderError> {
        match arm_read(self, ctx, state).await? {
            Some(s) => Ok(Some(with_credentials(self, ctx, s).await?)),
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        ctx: &Context,
        _prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        let state = arm_put(self, ctx, config).await?;
        with_credentials(self, ctx, state).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn config(name: &str, sku: &str, public: bool) -> Value {
        Value::Map(BTreeMap::from([
            ("name".to_string(), Value::string(name)),
            ("resource_group_name".to_string(), Value::string("rg")),
            ("location".to_string(), Value::string("westeurope")),
            ("sku".to_string(), Value::string(sku)),
            ("admin_enabled".to_string(), Value::Bool(false)),
            (
                "public_network_access_enabled".to_string(),
                Value::Bool(public),
            ),
            ("tags".to_string(), Value::Null),
            ("id".to_string(), Value::Null),
            ("login_server".to_string(), Value::Null),
            ("admin_username".to_string(), Value::Null),
            ("admin_password".to_string(), Value::Null),
        ]))
    }

    #[test]
    fn maps_to_the_rest_shape_and_back() {
        let t = ContainerRegistry;
        let c = config("meshacr01", "Premium", false);
        assert!(t.validate(&c).is_empty());
        let body = t.to_body(&c).unwrap();
        assert_eq!(
            body,
            json!({"location": "westeurope", "tags": {}, "sku": {"name": "Premium"},
            "properties": {"adminUserEnabled": false, "publicNetworkAccess": "Disabled"}})
        );
        let mut response = body.clone();
        response["name"] = json!("meshacr01");
        response["properties"]["loginServer"] = json!("meshacr01.azurecr.io");
        let id = t.resource_id("sub", &c).unwrap();
        let state = t.to_state(&c, &id, &response);
        assert_eq!(
            state.get("login_server").and_then(Value::as_str),
            Some("meshacr01.azurecr.io")
        );
        let planned = t.plan("sub", Some(&state), &c);
        assert_eq!(planned.planned, state);
        // Enabling the admin user makes its credentials unknown until apply.
        let mut admin = c.clone();
        admin.set_or_insert("admin_enabled", Value::Bool(true));
        let planned = t.plan("sub", Some(&state), &admin);
        assert!(planned.planned.get("admin_password").unwrap().is_unknown());
    }

    #[test]
    fn validation() {
        let t = ContainerRegistry;
        assert_eq!(t.validate(&config("mesh-acr", "Basic", true)).len(), 1);
        assert_eq!(t.validate(&config("acr", "Basic", true)).len(), 1);
        assert_eq!(t.validate(&config("meshacr01", "Standard", false)).len(), 1);
        assert_eq!(t.validate(&config("meshacr01", "Gold", true)).len(), 1);
    }
}
