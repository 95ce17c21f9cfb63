//! `azure_public_ip`: Microsoft.Network/publicIPAddresses.

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::subnet::net::{json_strings, list_state, name_error, strings_at, tags_state};
use super::subnet::NETWORK_API_VERSION;
use super::AzureResourceType;

/// A public IP address.
pub struct PublicIp;

fn valid_label(label: &str) -> bool {
    let b = label.as_bytes();
    (3..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

impl AzureResourceType for PublicIp {
    fn name(&self) -> &'static str {
        "azure_public_ip"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/publicIPAddresses"
    }

    fn api_version(&self) -> &'static str {
        NETWORK_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        let a = AttributeSchema::new;
        ResourceSchema {
            version: 0,
            description: "A public IPv4 address (Application Gateway frontends, Azure Bastion).".into(),
            block: BlockSchema::default()
                .attribute("name", a(AttrType::String, Presence::Required, "Name, 1-80 characters: letters, digits, underscores, periods, hyphens.").force_new())
                .attribute("resource_group_name", a(AttrType::String, Presence::Required, "Resource group.").force_new())
                .attribute("location", a(AttrType::String, Presence::Required, "Azure region.").force_new())
                .attribute("sku", a(AttrType::String, Presence::Optional, "Basic or Standard (default); Standard needs Static allocation. Azure cannot change it in place.").default_value(Value::string("Standard")).force_new())
                .attribute("allocation_method", a(AttrType::String, Presence::Required, "Static or Dynamic (Basic only)."))
                .attribute("zones", a(AttrType::List(Box::new(AttrType::String)), Presence::Optional, "Availability zones, e.g. [\"1\", \"2\", \"3\"]; fixed at creation.").force_new())
                .attribute("domain_name_label", a(AttrType::String, Presence::Optional, "DNS label: the address gets LABEL.REGION.cloudapp.azure.com."))
                .attribute("tags", a(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", a(AttrType::String, Presence::Computed, "ARM resource ID."))
                .attribute("ip_address", a(AttrType::String, Presence::Computed, "The address Azure allocated (Dynamic addresses only once attached)."))
                .attribute("fqdn", a(AttrType::String, Presence::Computed, "The DNS name, when domain_name_label is set.")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(name) = string(config, "name") {
            errors.extend(name_error(&name, "name", "public IP", 1, 80));
        }
        let sku = string(config, "sku");
        if let Some(s) = &sku {
            if s != "Basic" && s != "Standard" {
                errors.push(ProviderError::at_attribute(
                    format!("sku must be Basic or Standard, not \"{s}\""),
                    "sku",
                ));
            }
        }
        if let Some(m) = string(config, "allocation_method") {
            if m != "Static" && m != "Dynamic" {
                errors.push(ProviderError::at_attribute(
                    format!("allocation_method must be Static or Dynamic, not \"{m}\""),
                    "allocation_method",
                ));
            } else if m == "Dynamic" && sku.as_deref() == Some("Standard") {
                errors.push(ProviderError::at_attribute(
                    "a Standard public IP must use Static allocation",
                    "allocation_method",
                ));
            }
        }
        if let Some(label) = string(config, "domain_name_label") {
            if !valid_label(&label) {
                errors.push(ProviderError::at_attribute(format!("\"{label}\" is not a valid domain name label: 3-63 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen"), "domain_name_label"));
            }
        }
        for zone in strings_at(config, "zones").unwrap_or_default() {
            if !["1", "2", "3"].contains(&zone.as_str()) {
                errors.push(ProviderError::at_attribute(
                    format!("zone \"{zone}\" is not one of 1, 2, 3"),
                    "zones",
                ));
            }
        }
        errors
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.Network/publicIPAddresses/{}",
            string(config, "resource_group_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let mut body = json!({
            "location": string(config, "location").unwrap_or_default(),
            "tags": tags(config),
            "sku": {"name": string(config, "sku").unwrap_or_else(|| "Standard".into()), "tier": "Regional"},
            "properties": {
                "publicIPAllocationMethod": string(config, "allocation_method").unwrap_or_default(),
                "publicIPAddressVersion": "IPv4",
            },
        });
        if let Some(zones) = strings_at(config, "zones") {
            body["zones"] = json!(zones);
        }
        if let Some(label) = string(config, "domain_name_label") {
            body["properties"]["dnsSettings"] = json!({"domainNameLabel": label});
        }
        Ok(body)
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        state.set_or_insert("id", Value::string(id));
        let text = |p: &str| {
            response
                .pointer(p)
                .and_then(Json::as_str)
                .map(Value::string)
        };
        for (key, pointer) in [
            ("name", "/name"),
            ("location", "/location"),
            ("sku", "/sku/name"),
            ("allocation_method", "/properties/publicIPAllocationMethod"),
        ] {
            if let Some(v) = text(pointer) {
                state.set_or_insert(key, v);
            }
        }
        state.set_or_insert("tags", tags_state(config, response));
        state.set_or_insert(
            "zones",
            list_state(config.get("zones"), json_strings(response.get("zones"))),
        );
        state.set_or_insert(
            "domain_name_label",
            text("/properties/dnsSettings/domainNameLabel").unwrap_or(Value::Null),
        );
        state.set_or_insert(
            "ip_address",
            text("/properties/ipAddress").unwrap_or(Value::Null),
        );
        state.set_or_insert(
            "fqdn",
            text("/properties/dnsSettings/fqdn").unwrap_or(Value::Null),
        );
        state
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn config() -> Value {
        Value::Map(BTreeMap::from([
            ("name".into(), Value::string("bastion-pip")),
            ("resource_group_name".into(), Value::string("rg")),
            ("location".into(), Value::string("westeurope")),
            ("sku".into(), Value::string("Standard")),
            ("allocation_method".into(), Value::string("Static")),
            ("zones".into(), Value::Null),
            ("domain_name_label".into(), Value::string("mesh-bastion")),
            ("tags".into(), Value::Null),
            ("id".into(), Value::Null),
            ("ip_address".into(), Value::Null),
            ("fqdn".into(), Value::Null),
        ]))
    }

    #[test]
    fn body_follows_the_rest_spec_shape() {
        assert_eq!(
            PublicIp.to_body(&config()).expect("body"),
            json!({
                "location": "westeurope",
                "tags": {},
                "sku": {"name": "Standard", "tier": "Regional"},
                "properties": {
                    "publicIPAllocationMethod": "Static",
                    "publicIPAddressVersion": "IPv4",
                    "dnsSettings": {"domainNameLabel": "mesh-bastion"},
                },
            })
        );
    }

    #[test]
    fn state_round_trips_the_body() {
        let cfg = config();
        let mut response = PublicIp.to_body(&cfg).expect("body");
        response["name"] = json!("bastion-pip");
        response["zones"] = json!([]);
        response["properties"]["ipAddress"] = json!("203.0.113.7");
        response["properties"]["dnsSettings"]["fqdn"] =
            json!("mesh-bastion.westeurope.cloudapp.azure.com");
        let state = PublicIp.to_state(&cfg, "/pip", &response);
        let mut expected = cfg.clone();
        expected.set_or_insert("id", Value::string("/pip"));
        expected.set_or_insert("ip_address", Value::string("203.0.113.7"));
        expected.set_or_insert(
            "fqdn",
            Value::string("mesh-bastion.westeurope.cloudapp.azure.com"),
        );
        assert_eq!(state, expected);
    }

    #[test]
    fn validates_sku_allocation_and_label() {
        assert!(PublicIp.validate(&config()).is_empty());
        let mut bad = config();
        bad.set_or_insert("allocation_method", Value::string("Dynamic"));
        bad.set_or_insert("domain_name_label", Value::string("Mesh_Bastion"));
        bad.set_or_insert("zones", Value::List(vec![Value::string("4")]));
        assert_eq!(PublicIp.validate(&bad).len(), 3);
        let mut basic = config();
        basic.set_or_insert("sku", Value::string("Basic"));
        basic.set_or_insert("allocation_method", Value::string("Dynamic"));
        assert!(PublicIp.validate(&basic).is_empty());
    }

    #[test]
    fn sku_and_location_force_replacement() {
        let schema = PublicIp.schema();
        assert!(schema.block.attributes["sku"].force_new);
        assert!(schema.block.attributes["location"].force_new);
        assert!(!schema.block.attributes["allocation_method"].force_new);
    }
}
