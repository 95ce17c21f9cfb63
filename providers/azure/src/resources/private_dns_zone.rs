//! `azure_private_dns_zone`: Microsoft.Network/privateDnsZones (a global resource).

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::subnet::net::tags_state;
use super::AzureResourceType;

/// The api-version of Microsoft.Network private DNS zones and their virtual network links.
pub const PRIVATE_DNS_API_VERSION: &str = "2024-06-01";

/// A private DNS zone, e.g. privatelink.azurecr.io.
pub struct PrivateDnsZone;

/// Why `name` is not a valid DNS zone name, if it is not: 2 to 34 labels of 1-63 letters,
/// digits or hyphens (not at either end), at most 253 characters.
pub(crate) fn zone_name_problem(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let labels: Vec<&str> = name.split('.').collect();
    if name.len() > 253 || !(2..=34).contains(&labels.len()) {
        return Some(format!("\"{name}\" is not a valid DNS zone name: use 2 to 34 dot-separated labels, at most 253 characters"));
    }
    for label in labels {
        let ok = (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Some(format!("\"{name}\" is not a valid DNS zone name: label \"{label}\" must be 1-63 letters, digits or hyphens, not starting or ending with a hyphen"));
        }
    }
    None
}

impl AzureResourceType for PrivateDnsZone {
    fn name(&self) -> &'static str {
        "azure_private_dns_zone"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/privateDnsZones"
    }

    fn api_version(&self) -> &'static str {
        PRIVATE_DNS_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        let a = AttributeSchema::new;
        ResourceSchema {
            version: 0,
            description: "A private DNS zone (location global), resolved in the virtual networks linked to it; private endpoints register their A records in it.".into(),
            block: BlockSchema::default()
                .attribute("name", a(AttrType::String, Presence::Required, "The zone, e.g. privatelink.azurecr.io or privatelink.vaultcore.azure.net.").force_new())
                .attribute("resource_group_name", a(AttrType::String, Presence::Required, "Resource group.").force_new())
                .attribute("tags", a(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", a(AttrType::String, Presence::Computed, "ARM resource ID."))
                .attribute("number_of_record_sets", a(AttrType::Number, Presence::Computed, "Record sets in the zone (the SOA record counts).")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        match string(config, "name").and_then(|n| zone_name_problem(&n)) {
            Some(problem) => vec![ProviderError::at_attribute(problem, "name")],
            None => Vec::new(),
        }
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.Network/privateDnsZones/{}",
            string(config, "resource_group_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        Ok(json!({"location": "global", "tags": tags(config)}))
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        state.set_or_insert("id", Value::string(id));
        if let Some(name) = response.get("name").and_then(Json::as_str) {
            state.set_or_insert("name", Value::string(name));
        }
        state.set_or_insert("tags", tags_state(config, response));
        let records = response
            .pointer("/properties/numberOfRecordSets")
            .and_then(Json::as_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null);
        state.set_or_insert("number_of_record_sets", records);
        state
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn config(name: &str) -> Value {
        Value::Map(BTreeMap::from([
            ("name".into(), Value::string(name)),
            ("resource_group_name".into(), Value::string("rg")),
            (
                "tags".into(),
                Value::Map(BTreeMap::from([("env".into(), Value::string("dev"))])),
            ),
            ("id".into(), Value::Null),
            ("number_of_record_sets".into(), Value::Null),
        ]))
    }

    #[test]
    fn body_and_state_follow_the_rest_spec() {
        let cfg = config("privatelink.azurecr.io");
        let body = PrivateDnsZone.to_body(&cfg).expect("body");
        assert_eq!(body, json!({"location": "global", "tags": {"env": "dev"}}));
        assert_eq!(
            PrivateDnsZone.resource_id("sub", &cfg).as_deref(),
            Some("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io")
        );
        let mut response = body;
        response["name"] = json!("privatelink.azurecr.io");
        response["properties"] = json!({"maxNumberOfRecordSets": 25000, "numberOfRecordSets": 1, "provisioningState": "Succeeded"});
        let mut expected = cfg.clone();
        expected.set_or_insert("id", Value::string("/z"));
        expected.set_or_insert("number_of_record_sets", Value::Number(1.0));
        assert_eq!(PrivateDnsZone.to_state(&cfg, "/z", &response), expected);
    }

    #[test]
    fn validates_zone_names() {
        assert!(PrivateDnsZone
            .validate(&config("privatelink.vaultcore.azure.net"))
            .is_empty());
        assert_eq!(PrivateDnsZone.validate(&config("localhost")).len(), 1);
        assert_eq!(
            PrivateDnsZone
                .validate(&config("bad_label.azure.net"))
                .len(),
            1
        );
        assert_eq!(PrivateDnsZone.validate(&config("-x.azure.net")).len(), 1);
    }
}
