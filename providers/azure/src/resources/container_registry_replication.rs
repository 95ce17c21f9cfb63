//! `azure_container_registry_replication`: Microsoft.ContainerRegistry/registries/replications
//! (geo-replicas of a Premium registry).

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::container_registry::valid_registry_name;
use super::generic_resource::values::{flag, jstr, tags_state};
use super::AzureResourceType;

/// A registry replica in another region.
pub struct ContainerRegistryReplication;

impl AzureResourceType for ContainerRegistryReplication {
    fn name(&self) -> &'static str {
        "azure_container_registry_replication"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.ContainerRegistry/registries/replications"
    }

    fn api_version(&self) -> &'static str {
        "2025-04-01"
    }

    fn schema(&self) -> ResourceSchema {
        let s = |p, d| AttributeSchema::new(AttrType::String, p, d);
        let b = |d| AttributeSchema::new(AttrType::Bool, Presence::Optional, d);
        ResourceSchema {
            version: 0,
            description: "A geo-replica of a Premium container registry in another region (not the registry's own).".into(),
            block: BlockSchema::default()
                .attribute("name", s(Presence::Required, "Name, 5-50 letters and digits; by convention the region, e.g. northeurope.").force_new())
                .attribute("container_registry_id", s(Presence::Required, "ID of the Premium registry.").force_new())
                .attribute("location", s(Presence::Required, "Region of the replica.").force_new())
                .attribute("zone_redundancy_enabled", b("Spread the replica across availability zones (fixed at creation).").default_value(Value::Bool(false)).force_new())
                .attribute("regional_endpoint_enabled", b("Route requests to this replica (turn off to drain it).").default_value(Value::Bool(true)))
                .attribute("tags", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", s(Presence::Computed, "ARM resource ID.")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(name) = string(config, "name") {
            if !valid_registry_name(&name) {
                errors.push(ProviderError::at_attribute(format!("\"{name}\" is not a valid replication name: use 5-50 letters and digits only"), "name"));
            }
        }
        if let Some(id) = string(config, "container_registry_id") {
            if !id
                .to_ascii_lowercase()
                .contains("/providers/microsoft.containerregistry/registries/")
            {
                errors.push(ProviderError::at_attribute(
                    format!("\"{id}\" is not a container registry ID"),
                    "container_registry_id",
                ));
            }
        }
        errors
    }

    fn resource_id(&self, _subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "{}/replications/{}",
            string(config, "container_registry_id")?.trim_end_matches('/'),
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let zones = flag(config, "zone_redundancy_enabled").unwrap_or(false);
        Ok(json!({
            "location": string(config, "location").unwrap_or_default(),
            "tags": tags(config),
            "properties": {
                "regionEndpointEnabled": flag(config, "regional_endpoint_enabled").unwrap_or(true),
                "zoneRedundancy": if zones { "Enabled" } else { "Disabled" },
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
        if let Some(on) = response
            .pointer("/properties/regionEndpointEnabled")
            .and_then(Json::as_bool)
        {
            state.set_or_insert("regional_endpoint_enabled", Value::Bool(on));
        }
        if let Some(z) = jstr(response, "/properties/zoneRedundancy") {
            state.set_or_insert(
                "zone_redundancy_enabled",
                Value::Bool(z.eq_ignore_ascii_case("Enabled")),
            );
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mesh_engine::provider::default_plan;

    use super::*;

    const ACR: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/meshacr01";

    fn config(name: &str) -> Value {
        Value::Map(BTreeMap::from([
            ("name".to_string(), Value::string(name)),
            ("container_registry_id".to_string(), Value::string(ACR)),
            ("location".to_string(), Value::string("northeurope")),
            ("zone_redundancy_enabled".to_string(), Value::Bool(false)),
            ("regional_endpoint_enabled".to_string(), Value::Bool(true)),
            ("tags".to_string(), Value::Null),
            ("id".to_string(), Value::Null),
        ]))
    }

    #[test]
    fn maps_to_the_rest_shape_and_back() {
        let t = ContainerRegistryReplication;
        let c = config("northeurope");
        assert!(t.validate(&c).is_empty());
        let id = t.resource_id("sub", &c).unwrap();
        assert_eq!(id, format!("{ACR}/replications/northeurope"));
        let body = t.to_body(&c).unwrap();
        assert_eq!(
            body,
            json!({"location": "northeurope", "tags": {},
            "properties": {"regionEndpointEnabled": true, "zoneRedundancy": "Disabled"}})
        );
        let state = t.to_state(&c, &id, &body);
        let planned = default_plan(&t.schema().block, Some(&state), &c);
        assert_eq!(planned.planned, state);
        let mut moved = c.clone();
        moved.set_or_insert("zone_redundancy_enabled", Value::Bool(true));
        assert!(!default_plan(&t.schema().block, Some(&state), &moved)
            .requires_replace
            .is_empty());
    }

    #[test]
    fn validation() {
        let t = ContainerRegistryReplication;
        assert_eq!(t.validate(&config("north-europe")).len(), 1);
        let mut c = config("northeurope");
        c.set_or_insert("container_registry_id", Value::string("/subscriptions/x"));
        assert_eq!(t.validate(&c).len(), 1);
    }
}
