//! `azure_virtual_network`: Microsoft.Network/virtualNetworks, with optional inline subnets.
//!
//! Inline `subnet` blocks and separate `azure_subnet` resources on the same network fight:
//! a network PUT replaces the whole subnet list. A network whose subnets are `azure_subnet`
//! resources must leave its inline blocks empty; then every PUT carries the live subnets
//! (and peerings) over from a GET, so updating the network never deletes them.

use async_trait::async_trait;
use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, NestedBlockSchema, Nesting, Presence, ProviderError,
    ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::subnet::net::{
    blocks_at, json_strings, list_state, name_error, parse_prefix, str_at, strings_at,
};
use super::subnet::{
    read_subnet_fields, subnet_fields, subnet_properties, validate_subnet, NETWORK_API_VERSION,
};
use super::{provider_error, AzureResourceType, Context};

/// A virtual network.
pub struct VirtualNetwork;

fn attr(t: AttrType, p: Presence, doc: &str) -> AttributeSchema {
    AttributeSchema::new(t, p, doc)
}

fn strings() -> AttrType {
    AttrType::List(Box::new(AttrType::String))
}

impl VirtualNetwork {
    /// The PUT body, carrying over from `existing` what mesh does not manage here: the
    /// subnets when there are no inline subnet blocks, and the peerings.
    pub fn body_with_existing(
        &self,
        config: &Value,
        existing: Option<&Json>,
    ) -> Result<Json, ProviderError> {
        let mut body = self.to_body(config)?;
        let Some(existing) = existing else {
            return Ok(body);
        };
        if blocks_at(config, "subnet").is_empty() {
            if let Some(subnets) = existing.pointer("/properties/subnets") {
                body["properties"]["subnets"] = subnets.clone();
            }
        }
        if let Some(peerings) = existing.pointer("/properties/virtualNetworkPeerings") {
            body["properties"]["virtualNetworkPeerings"] = peerings.clone();
        }
        Ok(body)
    }

    async fn put(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        let id = self
            .resource_id(ctx.client.subscription_id(), config)
            .ok_or_else(|| {
                ProviderError::new("cannot tell the ARM ID of this azure_virtual_network")
            })?;
        let mut existing = ctx
            .client
            .get(&id, NETWORK_API_VERSION, &ctx.cancel)
            .await
            .map_err(provider_error)?;
        if let Some(existing) = existing.as_mut() {
            // The child collections (Subnets_List, VirtualNetworkPeerings_List) say what
            // exists now.
            for child in ["subnets", "virtualNetworkPeerings"] {
                let listed = ctx
                    .client
                    .get(&format!("{id}/{child}"), NETWORK_API_VERSION, &ctx.cancel)
                    .await
                    .map_err(provider_error)?;
                if let Some(items) = listed.as_ref().and_then(|l| l.get("value")) {
                    existing["properties"][child] = items.clone();
                }
            }
        }
        let body = self.body_with_existing(config, existing.as_ref())?;
        let response = ctx
            .client
            .put(&id, NETWORK_API_VERSION, &body, &ctx.cancel)
            .await
            .map_err(provider_error)?;
        Ok(self.to_state(config, &id, &response))
    }
}

#[async_trait]
impl AzureResourceType for VirtualNetwork {
    fn name(&self) -> &'static str {
        "azure_virtual_network"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/virtualNetworks"
    }

    fn api_version(&self) -> &'static str {
        NETWORK_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        let subnet = subnet_fields(BlockSchema::default().attribute(
            "name",
            attr(
                AttrType::String,
                Presence::Required,
                "Subnet name (AzureBastionSubnet for Azure Bastion).",
            ),
        ));
        ResourceSchema {
            version: 0,
            description: "A virtual network. Subnets are either inline subnet blocks here or azure_subnet resources, never both: with azure_subnet resources, leave the inline blocks out (mesh then keeps the live subnets on every update).".into(),
            block: BlockSchema::default()
                .attribute("name", attr(AttrType::String, Presence::Required, "Name, 2-64 characters: letters, digits, underscores, periods, hyphens; starts with a letter or digit, ends with a letter, digit or underscore.").force_new())
                .attribute("resource_group_name", attr(AttrType::String, Presence::Required, "Resource group.").force_new())
                .attribute("location", attr(AttrType::String, Presence::Required, "Azure region.").force_new())
                .attribute("address_space", attr(strings(), Presence::Required, "Address ranges (CIDR), e.g. [\"10.0.0.0/8\"]."))
                .attribute("dns_servers", attr(strings(), Presence::Optional, "Custom DNS server IPs; unset means Azure-provided DNS."))
                .attribute("tags", attr(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", attr(AttrType::String, Presence::Computed, "ARM resource ID."))
                .attribute("guid", attr(AttrType::String, Presence::Computed, "The network's resourceGuid."))
                .block("subnet", NestedBlockSchema {
                    nesting: Nesting::List,
                    required: false,
                    force_new: false,
                    description: "Inline subnets: the network's complete subnet list (subnets not listed are deleted). Leave out when the subnets are azure_subnet resources.".into(),
                    block: subnet,
                }),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(name) = string(config, "name") {
            errors.extend(name_error(&name, "name", "virtual network", 2, 64));
        }
        let mut space = Vec::new();
        if let Some(prefixes) = strings_at(config, "address_space") {
            if prefixes.is_empty() {
                errors.push(ProviderError::at_attribute(
                    "a virtual network needs at least one address range",
                    "address_space",
                ));
            }
            for p in &prefixes {
                match parse_prefix(p) {
                    Ok(net) => space.push(net),
                    Err(e) => errors.push(ProviderError::at_attribute(e, "address_space")),
                }
            }
            for (i, a) in space.iter().enumerate() {
                for b in &space[i + 1..] {
                    if a.contains(b) || b.contains(a) {
                        errors.push(ProviderError::at_attribute(
                            format!("address ranges {a} and {b} overlap"),
                            "address_space",
                        ));
                    }
                }
            }
        }
        for ip in strings_at(config, "dns_servers").unwrap_or_default() {
            if ip.parse::<std::net::IpAddr>().is_err() {
                errors.push(ProviderError::at_attribute(
                    format!("\"{ip}\" is not an IP address"),
                    "dns_servers",
                ));
            }
        }
        let subnets = blocks_at(config, "subnet");
        let mut seen: Vec<(String, ipnet::IpNet)> = Vec::new();
        for (i, subnet) in subnets.iter().enumerate() {
            let at = format!("subnet[{i}].");
            errors.extend(validate_subnet(subnet, &at));
            let name = str_at(subnet, "name").unwrap_or_default();
            if subnets[..i]
                .iter()
                .any(|s| str_at(s, "name").is_some_and(|n| n.eq_ignore_ascii_case(&name)))
            {
                errors.push(ProviderError::at_attribute(
                    format!("two subnets are named \"{name}\""),
                    &format!("{at}name"),
                ));
            }
            for prefix in strings_at(subnet, "address_prefixes").unwrap_or_default() {
                let Ok(net) = parse_prefix(&prefix) else {
                    continue;
                };
                if !space.is_empty() && !space.iter().any(|s| s.contains(&net)) {
                    errors.push(ProviderError::at_attribute(
                        format!("subnet {name} range {net} is outside the network's address space"),
                        &format!("{at}address_prefixes"),
                    ));
                }
                for (other, o) in &seen {
                    if o.contains(&net) || net.contains(o) {
                        errors.push(ProviderError::at_attribute(
                            format!("subnet {name} range {net} overlaps subnet {other} range {o}"),
                            &format!("{at}address_prefixes"),
                        ));
                    }
                }
                seen.push((name.clone(), net));
            }
        }
        errors
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{}",
            string(config, "resource_group_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let subnets: Vec<Json> = blocks_at(config, "subnet")
            .into_iter()
            .map(|s| json!({"name": str_at(s, "name").unwrap_or_default(), "properties": subnet_properties(s)}))
            .collect();
        Ok(json!({
            "location": string(config, "location").unwrap_or_default(),
            "tags": tags(config),
            "properties": {
                "addressSpace": {"addressPrefixes": strings_at(config, "address_space").unwrap_or_default()},
                "dhcpOptions": {"dnsServers": strings_at(config, "dns_servers").unwrap_or_default()},
                "subnets": subnets,
            },
        }))
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        state.set_or_insert("id", Value::string(id));
        for (key, field) in [
            ("name", "/name"),
            ("location", "/location"),
            ("guid", "/properties/resourceGuid"),
        ] {
            if let Some(v) = response.pointer(field).and_then(Json::as_str) {
                state.set_or_insert(key, Value::string(v));
            }
        }
        state.set_or_insert("tags", super::subnet::net::tags_state(config, response));
        state.set_or_insert(
            "address_space",
            list_state(
                config.get("address_space"),
                json_strings(response.pointer("/properties/addressSpace/addressPrefixes")),
            ),
        );
        state.set_or_insert(
            "dns_servers",
            list_state(
                config.get("dns_servers"),
                json_strings(response.pointer("/properties/dhcpOptions/dnsServers")),
            ),
        );
        let configured = blocks_at(config, "subnet");
        if configured.is_empty() {
            // Subnets managed as azure_subnet resources: not this resource's business.
            state.set_or_insert("subnet", Value::List(vec![]));
            return state;
        }
        let live: Vec<&Json> = response
            .pointer("/properties/subnets")
            .and_then(Json::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let name_of = |s: &Json| {
            s.get("name")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string()
        };
        // Configured order first, then subnets added outside mesh (they show as drift).
        let mut ordered: Vec<(&Value, &Json)> = Vec::new();
        for c in &configured {
            let name = str_at(c, "name").unwrap_or_default();
            if let Some(s) = live.iter().find(|s| name_of(s).eq_ignore_ascii_case(&name)) {
                ordered.push((c, s));
            }
        }
        let extra: Vec<&Json> = live
            .iter()
            .filter(|s| {
                !configured
                    .iter()
                    .any(|c| str_at(c, "name").is_some_and(|n| n.eq_ignore_ascii_case(&name_of(s))))
            })
            .copied()
            .collect();
        let empty = Value::Map(Default::default());
        let subnets: Vec<Value> = ordered
            .into_iter()
            .chain(extra.into_iter().map(|s| (&empty, s)))
            .map(|(c, s)| {
                let mut item = Value::Map([("name".to_string(), Value::string(name_of(s)))].into());
                let props = s.get("properties").cloned().unwrap_or_else(|| json!({}));
                read_subnet_fields(&mut item, c, &props);
                item
            })
            .collect();
        state.set_or_insert("subnet", Value::List(subnets));
        state
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        self.put(ctx, config).await
    }

    async fn update(
        &self,
        ctx: &Context,
        _prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        self.put(ctx, config).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| s(i)).collect())
    }

    fn subnet(name: &str, prefix: &str) -> Value {
        Value::Map(BTreeMap::from([
            ("name".into(), s(name)),
            ("address_prefixes".into(), list(&[prefix])),
            ("service_endpoints".into(), Value::Null),
            ("private_endpoint_network_policies".into(), s("Disabled")),
            ("delegation".into(), Value::List(vec![])),
        ]))
    }

    fn config(subnets: Vec<Value>) -> Value {
        Value::Map(BTreeMap::from([
            ("name".into(), s("vnet-one")),
            ("resource_group_name".into(), s("rg")),
            ("location".into(), s("westeurope")),
            ("address_space".into(), list(&["10.0.0.0/8"])),
            ("dns_servers".into(), Value::Null),
            (
                "tags".into(),
                Value::Map(BTreeMap::from([("env".into(), s("dev"))])),
            ),
            ("id".into(), Value::Null),
            ("guid".into(), Value::Null),
            ("subnet".into(), Value::List(subnets)),
        ]))
    }

    #[test]
    fn body_follows_the_rest_spec_shape() {
        let body = VirtualNetwork
            .to_body(&config(vec![subnet("System", "10.240.0.0/16")]))
            .expect("body");
        assert_eq!(
            body,
            json!({
                "location": "westeurope",
                "tags": {"env": "dev"},
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.0.0.0/8"]},
                    "dhcpOptions": {"dnsServers": []},
                    "subnets": [{"name": "System", "properties": {"addressPrefixes": ["10.240.0.0/16"], "serviceEndpoints": [], "delegations": [], "privateEndpointNetworkPolicies": "Disabled"}}],
                },
            })
        );
    }

    #[test]
    fn state_round_trips_the_body() {
        let cfg = config(vec![
            subnet("User", "10.241.0.0/16"),
            subnet("System", "10.240.0.0/16"),
        ]);
        let mut response = VirtualNetwork.to_body(&cfg).expect("body");
        response["name"] = json!("vnet-one");
        response["properties"]["resourceGuid"] = json!("g-1");
        // ARM lists subnets in its own order.
        response["properties"]["subnets"]
            .as_array_mut()
            .expect("subnets")
            .reverse();
        let state = VirtualNetwork.to_state(&cfg, "/vnet-id", &response);
        let mut expected = cfg.clone();
        expected.set_or_insert("id", s("/vnet-id"));
        expected.set_or_insert("guid", s("g-1"));
        assert_eq!(state, expected);
        // A subnet added outside mesh shows as drift.
        response["properties"]["subnets"]
            .as_array_mut()
            .expect("subnets")
            .push(json!({"name": "Extra", "properties": {"addressPrefix": "10.9.0.0/24"}}));
        let drift = VirtualNetwork.to_state(&cfg, "/vnet-id", &response);
        assert_eq!(
            drift
                .get("subnet")
                .and_then(Value::as_list)
                .map(<[Value]>::len),
            Some(3)
        );
    }

    #[test]
    fn separate_subnets_are_kept_and_not_read() {
        let cfg = config(vec![]);
        let existing = json!({"properties": {
            "subnets": [{"name": "System", "properties": {"addressPrefix": "10.240.0.0/16"}}],
            "virtualNetworkPeerings": [{"name": "one-to-two"}],
        }});
        let body = VirtualNetwork
            .body_with_existing(&cfg, Some(&existing))
            .expect("body");
        assert_eq!(
            body["properties"]["subnets"],
            existing["properties"]["subnets"]
        );
        assert_eq!(
            body["properties"]["virtualNetworkPeerings"],
            existing["properties"]["virtualNetworkPeerings"]
        );
        let state = VirtualNetwork.to_state(&cfg, "/id", &existing);
        assert_eq!(state.get("subnet"), Some(&Value::List(vec![])));
        // With inline subnets the configured list wins.
        let inline = config(vec![subnet("User", "10.241.0.0/16")]);
        let body = VirtualNetwork
            .body_with_existing(&inline, Some(&existing))
            .expect("body");
        assert_eq!(body["properties"]["subnets"][0]["name"], json!("User"));
        assert_eq!(
            body["properties"]["subnets"].as_array().map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn validates_ranges_and_names() {
        assert!(VirtualNetwork
            .validate(&config(vec![
                subnet("System", "10.240.0.0/16"),
                subnet("AzureBastionSubnet", "10.243.2.0/24")
            ]))
            .is_empty());
        let outside = VirtualNetwork.validate(&config(vec![subnet("System", "192.168.0.0/24")]));
        assert_eq!(outside.len(), 1, "{outside:?}");
        let overlap = VirtualNetwork.validate(&config(vec![
            subnet("A", "10.1.0.0/16"),
            subnet("B", "10.1.2.0/24"),
        ]));
        assert_eq!(overlap.len(), 1, "{overlap:?}");
        assert_eq!(
            VirtualNetwork
                .validate(&config(vec![subnet("AzureBastionSubnet", "10.1.0.0/27")]))
                .len(),
            1
        );
        assert_eq!(
            VirtualNetwork
                .validate(&config(vec![
                    subnet("A", "10.1.0.0/16"),
                    subnet("a", "10.2.0.0/16")
                ]))
                .len(),
            1
        );
        let mut bad = config(vec![]);
        bad.set_or_insert("name", s("v"));
        bad.set_or_insert("address_space", list(&["10.0.0.0/33"]));
        bad.set_or_insert("dns_servers", list(&["not-an-ip"]));
        assert_eq!(VirtualNetwork.validate(&bad).len(), 3);
        let mut unknown = config(vec![]);
        unknown.set_or_insert("address_space", Value::Unknown);
        unknown.set_or_insert("name", Value::Unknown);
        assert!(VirtualNetwork.validate(&unknown).is_empty());
    }

    #[test]
    fn id_shapes() {
        assert!(super::super::subnet::net::looks_like(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v",
            "Microsoft.Network/virtualNetworks"
        ));
        assert!(super::super::subnet::net::looks_like("/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/x", "Microsoft.Network/virtualNetworks/subnets"));
        assert!(!super::super::subnet::net::looks_like(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v",
            "Microsoft.Network/virtualNetworks/subnets"
        ));
        assert!(!super::super::subnet::net::looks_like(
            "vnet-one",
            "Microsoft.Network/virtualNetworks"
        ));
    }
}
