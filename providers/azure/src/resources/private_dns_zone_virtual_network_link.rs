//! `azure_private_dns_zone_virtual_network_link`:
//! Microsoft.Network/privateDnsZones/virtualNetworkLinks.

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::private_dns_zone::{zone_name_problem, PRIVATE_DNS_API_VERSION};
use super::subnet::net::{bool_at, id_state, looks_like, name_error, tags_state};
use super::AzureResourceType;

/// A link between a private DNS zone and a virtual network.
pub struct PrivateDnsZoneVirtualNetworkLink;

impl AzureResourceType for PrivateDnsZoneVirtualNetworkLink {
    fn name(&self) -> &'static str {
        "azure_private_dns_zone_virtual_network_link"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
    }

    fn api_version(&self) -> &'static str {
        PRIVATE_DNS_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        let a = AttributeSchema::new;
        ResourceSchema {
            version: 0,
            description: "Makes a private DNS zone resolvable in a virtual network (location global).".into(),
            block: BlockSchema::default()
                .attribute("name", a(AttrType::String, Presence::Required, "Name, 1-80 characters: letters, digits, underscores, periods, hyphens.").force_new())
                .attribute("resource_group_name", a(AttrType::String, Presence::Required, "Resource group of the zone.").force_new())
                .attribute("private_dns_zone_name", a(AttrType::String, Presence::Required, "The zone.").force_new())
                .attribute("virtual_network_id", a(AttrType::String, Presence::Required, "ARM ID of the linked network (Azure cannot change it).").force_new())
                .attribute("registration_enabled", a(AttrType::Bool, Presence::Optional, "Register the network's VM records in the zone automatically (default false; one registration zone per network).").default_value(Value::Bool(false)))
                .attribute("tags", a(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", a(AttrType::String, Presence::Computed, "ARM resource ID.")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(name) = string(config, "name") {
            errors.extend(name_error(&name, "name", "virtual network link", 1, 80));
        }
        if let Some(problem) =
            string(config, "private_dns_zone_name").and_then(|z| zone_name_problem(&z))
        {
            errors.push(ProviderError::at_attribute(
                problem,
                "private_dns_zone_name",
            ));
        }
        if let Some(vnet) = string(config, "virtual_network_id") {
            if !looks_like(&vnet, "Microsoft.Network/virtualNetworks") {
                errors.push(ProviderError::at_attribute(
                    format!("\"{vnet}\" is not the ARM ID of a virtual network"),
                    "virtual_network_id",
                ));
            }
        }
        errors
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.Network/privateDnsZones/{}/virtualNetworkLinks/{}",
            string(config, "resource_group_name")?,
            string(config, "private_dns_zone_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        Ok(json!({
            "location": "global",
            "tags": tags(config),
            "properties": {
                "virtualNetwork": {"id": string(config, "virtual_network_id").unwrap_or_default()},
                "registrationEnabled": bool_at(config, "registration_enabled").unwrap_or(false),
            },
        }))
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        state.set_or_insert("id", Value::string(id));
        if let Some(name) = response.get("name").and_then(Json::as_str) {
            state.set_or_insert("name", Value::string(name));
        }
        state.set_or_insert("tags", tags_state(config, response));
        state.set_or_insert(
            "virtual_network_id",
            id_state(
                config.get("virtual_network_id"),
                response
                    .pointer("/properties/virtualNetwork/id")
                    .and_then(Json::as_str),
            ),
        );
        let registration = response
            .pointer("/properties/registrationEnabled")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        state.set_or_insert("registration_enabled", Value::Bool(registration));
        state
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const VNET: &str =
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-one";

    fn config() -> Value {
        Value::Map(BTreeMap::from([
            ("name".into(), Value::string("link-one")),
            ("resource_group_name".into(), Value::string("rg")),
            (
                "private_dns_zone_name".into(),
                Value::string("privatelink.azurecr.io"),
            ),
            ("virtual_network_id".into(), Value::string(VNET)),
            ("registration_enabled".into(), Value::Bool(false)),
            ("tags".into(), Value::Null),
            ("id".into(), Value::Null),
        ]))
    }

    #[test]
    fn body_follows_the_rest_spec_shape() {
        assert_eq!(
            PrivateDnsZoneVirtualNetworkLink
                .to_body(&config())
                .expect("body"),
            json!({"location": "global", "tags": {}, "properties": {"virtualNetwork": {"id": VNET}, "registrationEnabled": false}})
        );
        assert_eq!(
            PrivateDnsZoneVirtualNetworkLink.resource_id("sub", &config()).as_deref(),
            Some("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io/virtualNetworkLinks/link-one")
        );
    }

    #[test]
    fn state_round_trips_the_body() {
        let cfg = config();
        let mut response = PrivateDnsZoneVirtualNetworkLink
            .to_body(&cfg)
            .expect("body");
        response["name"] = json!("link-one");
        response["properties"]["virtualNetworkLinkState"] = json!("Completed");
        let mut expected = cfg.clone();
        expected.set_or_insert("id", Value::string("/l"));
        assert_eq!(
            PrivateDnsZoneVirtualNetworkLink.to_state(&cfg, "/l", &response),
            expected
        );
        response["properties"]["registrationEnabled"] = json!(true);
        assert_eq!(
            PrivateDnsZoneVirtualNetworkLink
                .to_state(&cfg, "/l", &response)
                .get("registration_enabled"),
            Some(&Value::Bool(true))
        );
    }

    #[test]
    fn validates_names_and_ids() {
        assert!(PrivateDnsZoneVirtualNetworkLink
            .validate(&config())
            .is_empty());
        let mut bad = config();
        bad.set_or_insert("virtual_network_id", Value::string("vnet-one"));
        bad.set_or_insert("name", Value::string("link one"));
        assert_eq!(PrivateDnsZoneVirtualNetworkLink.validate(&bad).len(), 2);
    }
}
