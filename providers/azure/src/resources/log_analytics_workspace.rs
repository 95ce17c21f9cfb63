//! `azure_log_analytics_workspace`: Microsoft.OperationalInsights/workspaces.

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::generic_resource::values::{from, int, jstr, tags_state};
use super::AzureResourceType;

/// A Log Analytics workspace.
pub struct LogAnalyticsWorkspace;

const SKUS: &[&str] = &[
    "Free",
    "PerNode",
    "Premium",
    "Standard",
    "Standalone",
    "Unlimited",
    "CapacityReservation",
    "PerGB2018",
];

impl AzureResourceType for LogAnalyticsWorkspace {
    fn name(&self) -> &'static str {
        "azure_log_analytics_workspace"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.OperationalInsights/workspaces"
    }

    fn api_version(&self) -> &'static str {
        "2023-09-01"
    }

    fn schema(&self) -> ResourceSchema {
        let s = |p, d| AttributeSchema::new(AttrType::String, p, d);
        ResourceSchema {
            version: 0,
            description: "A Log Analytics workspace: where AKS (the omsagent add-on) and other services send logs and metrics.".into(),
            block: BlockSchema::default()
                .attribute("name", s(Presence::Required, "Name, 4-63 letters, digits and hyphens, starting and ending with a letter or digit.").force_new())
                .attribute("resource_group_name", s(Presence::Required, "Resource group.").force_new())
                .attribute("location", s(Presence::Required, "Azure region.").force_new())
                .attribute("sku", s(Presence::Optional, "Pricing tier: PerGB2018 (default), Free, Standalone, PerNode, Premium, Standard, Unlimited or CapacityReservation.").default_value(Value::string("PerGB2018")))
                .attribute("retention_in_days", AttributeSchema::new(AttrType::Number, Presence::Optional, "Days data is kept, 30-730 (7 on the Free tier).").default_value(Value::Number(30.0)))
                .attribute("tags", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", s(Presence::Computed, "ARM resource ID."))
                .attribute("workspace_id", s(Presence::Computed, "The workspace (customer) ID, a GUID agents report to.")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(name) = string(config, "name") {
            let ok = (4..=63).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name.ends_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                errors.push(ProviderError::at_attribute(format!("\"{name}\" is not a valid workspace name: use 4-63 letters, digits or hyphens, starting and ending with a letter or digit"), "name"));
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
        if let Some(days) = int(config, "retention_in_days") {
            let free = sku.as_deref() == Some("Free");
            if (free && days != 7) || (!free && !(30..=730).contains(&days)) {
                errors.push(ProviderError::at_attribute(format!("retention_in_days {days} is out of range: 30-730 days, or 7 on the Free tier"), "retention_in_days"));
            }
        }
        errors
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.OperationalInsights/workspaces/{}",
            string(config, "resource_group_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let mut properties = json!({
            "sku": {"name": string(config, "sku").unwrap_or_else(|| "PerGB2018".into())},
        });
        if let Some(days) = int(config, "retention_in_days") {
            properties["retentionInDays"] = json!(days);
        }
        Ok(json!({
            "location": string(config, "location").unwrap_or_default(),
            "tags": tags(config),
            "properties": properties,
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
        if let Some(sku) = jstr(response, "/properties/sku/name") {
            state.set_or_insert("sku", Value::string(sku));
        }
        if let Some(days) = response.pointer("/properties/retentionInDays") {
            state.set_or_insert("retention_in_days", Value::from_json(days));
        }
        state.set_or_insert(
            "workspace_id",
            from(response.pointer("/properties/customerId")),
        );
        state
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mesh_engine::provider::default_plan;

    use super::*;

    fn config(name: &str, sku: &str, days: f64) -> Value {
        Value::Map(BTreeMap::from([
            ("name".to_string(), Value::string(name)),
            ("resource_group_name".to_string(), Value::string("rg")),
            ("location".to_string(), Value::string("westeurope")),
            ("sku".to_string(), Value::string(sku)),
            ("retention_in_days".to_string(), Value::Number(days)),
            ("tags".to_string(), Value::Null),
            ("id".to_string(), Value::Null),
            ("workspace_id".to_string(), Value::Null),
        ]))
    }

    #[test]
    fn maps_to_the_rest_shape_and_back() {
        let t = LogAnalyticsWorkspace;
        let c = config("law-shared", "PerGB2018", 60.0);
        assert!(t.validate(&c).is_empty());
        let body = t.to_body(&c).unwrap();
        assert_eq!(
            body,
            json!({"location": "westeurope", "tags": {}, "properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": 60}})
        );
        let mut response = body.clone();
        response["name"] = json!("law-shared");
        response["properties"]["customerId"] = json!("0b6a4f0e-0000-4000-8000-000000000001");
        let id = t.resource_id("sub", &c).unwrap();
        let state = t.to_state(&c, &id, &response);
        assert_eq!(
            state.get("workspace_id").and_then(Value::as_str),
            Some("0b6a4f0e-0000-4000-8000-000000000001")
        );
        assert_eq!(state.get("tags"), Some(&Value::Null));
        let planned = default_plan(&t.schema().block, Some(&state), &c);
        assert_eq!(planned.planned, state);
        // Drift: retention changed outside mesh.
        response["properties"]["retentionInDays"] = json!(90);
        let drifted = t.to_state(&c, &id, &response);
        assert_eq!(drifted.get("retention_in_days"), Some(&Value::Number(90.0)));
    }

    #[test]
    fn validation() {
        let t = LogAnalyticsWorkspace;
        assert_eq!(t.validate(&config("law", "PerGB2018", 30.0)).len(), 1);
        assert_eq!(t.validate(&config("law-1", "PerGB2018", 10.0)).len(), 1);
        assert_eq!(t.validate(&config("law-1", "Gold", 30.0)).len(), 1);
        assert!(t.validate(&config("law-1", "Free", 7.0)).is_empty());
    }
}
