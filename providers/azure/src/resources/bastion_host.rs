//! `azure_bastion_host`: Microsoft.Network/bastionHosts.

use mesh_engine::provider::{
    default_plan, AttrType, AttributeSchema, BlockSchema, NestedBlockSchema, Nesting,
    PlannedChange, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::PathStep;
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::subnet::net::{blocks_at, id_state, looks_like, name_error, str_at, tags_state};
use super::subnet::{BASTION_SUBNET, NETWORK_API_VERSION};
use super::AzureResourceType;

/// An Azure Bastion host.
pub struct BastionHost;

/// The SKUs, cheapest first: Azure upgrades in place but cannot downgrade.
const SKUS: [&str; 4] = ["Developer", "Basic", "Standard", "Premium"];

fn rank(sku: Option<String>) -> Option<usize> {
    SKUS.iter().position(|s| Some(*s) == sku.as_deref())
}

impl AzureResourceType for BastionHost {
    fn name(&self) -> &'static str {
        "azure_bastion_host"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/bastionHosts"
    }

    fn api_version(&self) -> &'static str {
        NETWORK_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        let a = AttributeSchema::new;
        ResourceSchema {
            version: 0,
            description: "Azure Bastion: browser SSH/RDP to private VMs and AKS nodes, deployed in the network's AzureBastionSubnet (/26 or larger) with a Standard static public IP.".into(),
            block: BlockSchema::default()
                .attribute("name", a(AttrType::String, Presence::Required, "Name, 1-80 characters: letters, digits, underscores, periods, hyphens.").force_new())
                .attribute("resource_group_name", a(AttrType::String, Presence::Required, "Resource group.").force_new())
                .attribute("location", a(AttrType::String, Presence::Required, "Azure region (the network's).").force_new())
                .attribute("sku", a(AttrType::String, Presence::Optional, "Developer, Basic (default), Standard or Premium.").default_value(Value::string("Basic")))
                .attribute("tags", a(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", a(AttrType::String, Presence::Computed, "ARM resource ID."))
                .attribute("dns_name", a(AttrType::String, Presence::Computed, "The host's DNS name."))
                .block("ip_configuration", NestedBlockSchema {
                    nesting: Nesting::Single,
                    required: true,
                    force_new: true,
                    description: "Where the host lives: its subnet and public IP (Azure cannot move it).".into(),
                    block: BlockSchema::default()
                        .attribute("name", a(AttrType::String, Presence::Required, "Name of the IP configuration."))
                        .attribute("subnet_id", a(AttrType::String, Presence::Required, "ARM ID of the network's AzureBastionSubnet."))
                        .attribute("public_ip_address_id", a(AttrType::String, Presence::Required, "ARM ID of a Standard, Static public IP.")),
                }),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(name) = string(config, "name") {
            errors.extend(name_error(&name, "name", "Bastion host", 1, 80));
        }
        if let Some(sku) = string(config, "sku") {
            if !SKUS.contains(&sku.as_str()) {
                errors.push(ProviderError::at_attribute(
                    format!("sku must be one of {}, not \"{sku}\"", SKUS.join(", ")),
                    "sku",
                ));
            }
        }
        for ip in blocks_at(config, "ip_configuration") {
            if let Some(subnet) = str_at(ip, "subnet_id") {
                if !looks_like(&subnet, "Microsoft.Network/virtualNetworks/subnets") {
                    errors.push(ProviderError::at_attribute(
                        format!("\"{subnet}\" is not the ARM ID of a subnet"),
                        "ip_configuration.subnet_id",
                    ));
                } else if subnet.rsplit('/').next() != Some(BASTION_SUBNET) {
                    errors.push(ProviderError::at_attribute(format!("Azure Bastion can only be created in a subnet named exactly {BASTION_SUBNET}, not {}", subnet.rsplit('/').next().unwrap_or_default()), "ip_configuration.subnet_id"));
                }
            }
            if let Some(pip) = str_at(ip, "public_ip_address_id") {
                if !looks_like(&pip, "Microsoft.Network/publicIPAddresses") {
                    errors.push(ProviderError::at_attribute(
                        format!("\"{pip}\" is not the ARM ID of a public IP address"),
                        "ip_configuration.public_ip_address_id",
                    ));
                }
            }
        }
        errors
    }

    fn plan(&self, subscription_id: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        let mut planned = default_plan(&self.schema().block, prior, config);
        if let Some(id) = self.resource_id(subscription_id, config) {
            planned.planned.set_or_insert("id", Value::string(id));
        }
        let before = prior.and_then(|p| rank(string(p, "sku")));
        let after = rank(string(config, "sku"));
        if let (Some(before), Some(after)) = (before, after) {
            if after < before {
                planned
                    .requires_replace
                    .push(vec![PathStep::Key("sku".into())]);
            }
        }
        planned
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.Network/bastionHosts/{}",
            string(config, "resource_group_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let ip_configurations: Vec<Json> = blocks_at(config, "ip_configuration")
            .into_iter()
            .map(|ip| {
                json!({
                    "name": str_at(ip, "name").unwrap_or_default(),
                    "properties": {
                        "subnet": {"id": str_at(ip, "subnet_id").unwrap_or_default()},
                        "publicIPAddress": {"id": str_at(ip, "public_ip_address_id").unwrap_or_default()},
                        "privateIPAllocationMethod": "Dynamic",
                    },
                })
            })
            .collect();
        Ok(json!({
            "location": string(config, "location").unwrap_or_default(),
            "tags": tags(config),
            "sku": {"name": string(config, "sku").unwrap_or_else(|| "Basic".into())},
            "properties": {"ipConfigurations": ip_configurations},
        }))
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
        ] {
            if let Some(v) = text(pointer) {
                state.set_or_insert(key, v);
            }
        }
        state.set_or_insert("tags", tags_state(config, response));
        state.set_or_insert(
            "dns_name",
            text("/properties/dnsName").unwrap_or(Value::Null),
        );
        let configured = blocks_at(config, "ip_configuration")
            .first()
            .map(|v| (*v).clone())
            .unwrap_or(Value::Null);
        let ip = response
            .pointer("/properties/ipConfigurations/0")
            .map(|live| {
                Value::Map(
                    [
                        (
                            "name".to_string(),
                            live.get("name")
                                .and_then(Json::as_str)
                                .map(Value::string)
                                .unwrap_or(Value::Null),
                        ),
                        (
                            "subnet_id".to_string(),
                            id_state(
                                configured.get("subnet_id"),
                                live.pointer("/properties/subnet/id").and_then(Json::as_str),
                            ),
                        ),
                        (
                            "public_ip_address_id".to_string(),
                            id_state(
                                configured.get("public_ip_address_id"),
                                live.pointer("/properties/publicIPAddress/id")
                                    .and_then(Json::as_str),
                            ),
                        ),
                    ]
                    .into(),
                )
            })
            .unwrap_or(Value::Null);
        state.set_or_insert("ip_configuration", ip);
        state
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const SUBNET: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-one/subnets/AzureBastionSubnet";
    const PIP: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/bastion-pip";

    fn config(subnet: &str) -> Value {
        Value::Map(BTreeMap::from([
            ("name".into(), Value::string("bastion")),
            ("resource_group_name".into(), Value::string("rg")),
            ("location".into(), Value::string("westeurope")),
            ("sku".into(), Value::string("Standard")),
            (
                "tags".into(),
                Value::Map(BTreeMap::from([("env".into(), Value::string("dev"))])),
            ),
            ("id".into(), Value::Null),
            ("dns_name".into(), Value::Null),
            (
                "ip_configuration".into(),
                Value::Map(BTreeMap::from([
                    ("name".into(), Value::string("configuration")),
                    ("subnet_id".into(), Value::string(subnet)),
                    ("public_ip_address_id".into(), Value::string(PIP)),
                ])),
            ),
        ]))
    }

    #[test]
    fn body_follows_the_rest_spec_shape() {
        assert_eq!(
            BastionHost.to_body(&config(SUBNET)).expect("body"),
            json!({
                "location": "westeurope",
                "tags": {"env": "dev"},
                "sku": {"name": "Standard"},
                "properties": {"ipConfigurations": [{
                    "name": "configuration",
                    "properties": {"subnet": {"id": SUBNET}, "publicIPAddress": {"id": PIP}, "privateIPAllocationMethod": "Dynamic"},
                }]},
            })
        );
    }

    #[test]
    fn state_round_trips_the_body() {
        let cfg = config(SUBNET);
        let mut response = BastionHost.to_body(&cfg).expect("body");
        response["name"] = json!("bastion");
        response["properties"]["dnsName"] = json!("bst-1.bastion.azure.com");
        let state = BastionHost.to_state(&cfg, "/b", &response);
        let mut expected = cfg.clone();
        expected.set_or_insert("id", Value::string("/b"));
        expected.set_or_insert("dns_name", Value::string("bst-1.bastion.azure.com"));
        assert_eq!(state, expected);
    }

    #[test]
    fn a_sku_downgrade_replaces_the_host() {
        let mut prior = config(SUBNET);
        prior.set_or_insert("id", Value::string("/b"));
        let mut basic = config(SUBNET);
        basic.set_or_insert("sku", Value::string("Basic"));
        let down = BastionHost.plan("sub", Some(&prior), &basic);
        assert_eq!(
            down.requires_replace,
            vec![vec![PathStep::Key("sku".into())]]
        );
        let mut premium = config(SUBNET);
        premium.set_or_insert("sku", Value::string("Premium"));
        assert!(BastionHost
            .plan("sub", Some(&prior), &premium)
            .requires_replace
            .is_empty());
    }

    #[test]
    fn the_subnet_must_be_the_bastion_subnet() {
        assert!(BastionHost.validate(&config(SUBNET)).is_empty());
        let wrong = SUBNET.replace("AzureBastionSubnet", "User");
        assert_eq!(BastionHost.validate(&config(&wrong)).len(), 1);
        assert_eq!(BastionHost.validate(&config("not-an-id")).len(), 1);
    }
}
