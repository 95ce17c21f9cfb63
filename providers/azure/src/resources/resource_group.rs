//! `azure_resource_group`: Microsoft.Resources/resourceGroups.

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags, tags_state};
use super::AzureResourceType;

/// A resource group.
pub struct ResourceGroup;

impl AzureResourceType for ResourceGroup {
    fn name(&self) -> &'static str {
        "azure_resource_group"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Resources/resourceGroups"
    }

    fn api_version(&self) -> &'static str {
        "2024-03-01"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema {
            version: 0,
            description: "A resource group: the container every other Azure resource of a region lives in.".into(),
            block: BlockSchema::default()
                .attribute("name", AttributeSchema::new(AttrType::String, Presence::Required, "Name, 1-90 characters: letters, digits, underscores, hyphens, periods and parentheses; not ending in a period.").force_new())
                .attribute("location", AttributeSchema::new(AttrType::String, Presence::Required, "Azure region, e.g. westeurope.").force_new())
                .attribute("tags", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", AttributeSchema::new(AttrType::String, Presence::Computed, "ARM resource ID.")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let Some(name) = string(config, "name") else {
            return Vec::new();
        };
        let valid_chars = name
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.()".contains(c));
        if name.is_empty() || name.len() > 90 || !valid_chars || name.ends_with('.') {
            return vec![ProviderError::at_attribute(
                format!("\"{name}\" is not a valid resource group name: use 1-90 letters, digits, underscores, hyphens, periods or parentheses, not ending in a period"),
                "name",
            )];
        }
        Vec::new()
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}",
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
        if let Some(name) = response.get("name").and_then(Json::as_str) {
            state.set_or_insert("name", Value::string(name));
        }
        if let Some(location) = response.get("location").and_then(Json::as_str) {
            state.set_or_insert("location", Value::string(location));
        }
        state.set_or_insert("tags", tags_state(config, response));
        state
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn config(name: &str) -> Value {
        Value::Map(BTreeMap::from([
            ("name".to_string(), Value::string(name)),
            ("location".to_string(), Value::string("westeurope")),
            (
                "tags".to_string(),
                Value::Map(BTreeMap::from([("env".to_string(), Value::string("dev"))])),
            ),
            ("id".to_string(), Value::Null),
        ]))
    }

    #[test]
    fn maps_to_the_arm_shape() {
        let rg = ResourceGroup;
        assert_eq!(
            rg.resource_id("sub", &config("rg-one")).as_deref(),
            Some("/subscriptions/sub/resourceGroups/rg-one")
        );
        assert_eq!(
            rg.to_body(&config("rg-one")).expect("body"),
            json!({"location": "westeurope", "tags": {"env": "dev"}})
        );
    }

    #[test]
    fn rejects_invalid_names() {
        assert!(ResourceGroup.validate(&config("bad name.")).len() == 1);
        assert!(ResourceGroup.validate(&config("rg-ok_(1)")).is_empty());
    }
}
