//! `azure_private_endpoint`: Microsoft.Network/privateEndpoints, with its DNS zone group
//! (the child resource `privateEndpoints/privateDnsZoneGroups`, written after the endpoint).

use async_trait::async_trait;
use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, NestedBlockSchema, Nesting, Presence, ProviderError,
    ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::subnet::net::{
    blocks_at, bool_at, id_state, json_strings, looks_like, name_error, str_at, strings_at,
    tags_state,
};
use super::subnet::NETWORK_API_VERSION;
use super::{arm_delete, arm_put, provider_error, AzureResourceType, Context};

/// A private endpoint: a private IP in a subnet for a PaaS resource (ACR, Key Vault...).
pub struct PrivateEndpoint;

const GROUP_KEY: &str = "private_dns_zone_group";

fn strings() -> AttrType {
    AttrType::List(Box::new(AttrType::String))
}

/// The name of the zone config for a zone ID: the zone name with dots as hyphens.
fn zone_config_name(zone_id: &str) -> String {
    zone_id
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .replace('.', "-")
}

impl PrivateEndpoint {
    fn group(config: &Value) -> Option<&Value> {
        blocks_at(config, GROUP_KEY).into_iter().next()
    }

    /// The ARM ID of the DNS zone group a configuration or state names.
    fn group_id(endpoint_id: &str, group: &Value) -> Option<String> {
        Some(format!(
            "{endpoint_id}/privateDnsZoneGroups/{}",
            str_at(group, "name")?
        ))
    }

    /// The PUT body of the DNS zone group.
    pub fn group_body(group: &Value) -> Json {
        let configs: Vec<Json> = strings_at(group, "private_dns_zone_ids")
            .unwrap_or_default()
            .into_iter()
            .map(
                |id| json!({"name": zone_config_name(&id), "properties": {"privateDnsZoneId": id}}),
            )
            .collect();
        json!({"properties": {"privateDnsZoneConfigs": configs}})
    }

    /// Put the DNS zone group read from ARM (`None`: there is none) into `state`.
    pub fn with_group(state: &mut Value, config: &Value, live: Option<&Json>) {
        let configured = Self::group(config).cloned().unwrap_or(Value::Null);
        let value = match live {
            None => Value::Null,
            Some(g) => {
                let ids: Vec<Value> = g
                    .pointer("/properties/privateDnsZoneConfigs")
                    .and_then(Json::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let wanted =
                            strings_at(&configured, "private_dns_zone_ids").unwrap_or_default();
                        id_state(
                            wanted.get(i).map(|w| Value::string(w.as_str())).as_ref(),
                            c.pointer("/properties/privateDnsZoneId")
                                .and_then(Json::as_str),
                        )
                    })
                    .collect();
                Value::Map(
                    [
                        (
                            "name".to_string(),
                            g.get("name")
                                .and_then(Json::as_str)
                                .map(Value::string)
                                .unwrap_or(Value::Null),
                        ),
                        ("private_dns_zone_ids".to_string(), Value::List(ids)),
                    ]
                    .into(),
                )
            }
        };
        state.set_or_insert(GROUP_KEY, value);
    }

    async fn put_group(
        ctx: &Context,
        endpoint_id: &str,
        group: &Value,
    ) -> Result<Json, ProviderError> {
        let id = Self::group_id(endpoint_id, group)
            .ok_or_else(|| ProviderError::new("the private DNS zone group has no name"))?;
        ctx.client
            .put(
                &id,
                NETWORK_API_VERSION,
                &Self::group_body(group),
                &ctx.cancel,
            )
            .await
            .map_err(provider_error)
    }

    /// The private IP from the endpoint's network interface, when the endpoint body has none.
    async fn fill_ip(
        ctx: &Context,
        state: &mut Value,
        endpoint: Option<&Json>,
    ) -> Result<(), ProviderError> {
        if !state.get("private_ip_address").is_none_or(Value::is_null) {
            return Ok(());
        }
        let Some(nic) = endpoint
            .and_then(|e| e.pointer("/properties/networkInterfaces/0/id"))
            .and_then(Json::as_str)
        else {
            return Ok(());
        };
        let live = ctx
            .client
            .get(nic, NETWORK_API_VERSION, &ctx.cancel)
            .await
            .map_err(provider_error)?;
        if let Some(ip) = live
            .as_ref()
            .and_then(|n| n.pointer("/properties/ipConfigurations/0/properties/privateIPAddress"))
            .and_then(Json::as_str)
        {
            state.set_or_insert("private_ip_address", Value::string(ip));
        }
        Ok(())
    }

    fn endpoint_id(&self, ctx: &Context, value: &Value) -> Result<String, ProviderError> {
        string(value, "id")
            .or_else(|| self.resource_id(ctx.client.subscription_id(), value))
            .ok_or_else(|| {
                ProviderError::new("cannot tell the ARM ID of this azure_private_endpoint")
            })
    }
}

#[async_trait]
impl AzureResourceType for PrivateEndpoint {
    fn name(&self) -> &'static str {
        "azure_private_endpoint"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/privateEndpoints"
    }

    fn api_version(&self) -> &'static str {
        NETWORK_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        let a = AttributeSchema::new;
        ResourceSchema {
            version: 0,
            description: "A private endpoint: a private IP in a subnet for a resource such as a container registry or key vault, optionally registered in private DNS zones.".into(),
            block: BlockSchema::default()
                .attribute("name", a(AttrType::String, Presence::Required, "Name, 2-64 characters: letters, digits, underscores, periods, hyphens.").force_new())
                .attribute("resource_group_name", a(AttrType::String, Presence::Required, "Resource group.").force_new())
                .attribute("location", a(AttrType::String, Presence::Required, "Azure region (the subnet's network's).").force_new())
                .attribute("subnet_id", a(AttrType::String, Presence::Required, "ARM ID of the subnet the endpoint takes its IP from.").force_new())
                .attribute("tags", a(AttrType::Map(Box::new(AttrType::String)), Presence::Optional, "Tags."))
                .attribute("id", a(AttrType::String, Presence::Computed, "ARM resource ID."))
                .attribute("private_ip_address", a(AttrType::String, Presence::Computed, "The endpoint's private IP in the subnet."))
                .block("private_service_connection", NestedBlockSchema {
                    nesting: Nesting::Single,
                    required: true,
                    force_new: true,
                    description: "The resource the endpoint connects to.".into(),
                    block: BlockSchema::default()
                        .attribute("name", a(AttrType::String, Presence::Required, "Name of the connection."))
                        .attribute("private_connection_resource_id", a(AttrType::String, Presence::Required, "ARM ID of the target resource (or private link service)."))
                        .attribute("subresource_names", a(strings(), Presence::Optional, "Target sub-resources (group IDs), e.g. [\"registry\"] or [\"vault\"]."))
                        .attribute("is_manual_connection", a(AttrType::Bool, Presence::Optional, "Needs approval by the target's owner (default false).").default_value(Value::Bool(false)))
                        .attribute("request_message", a(AttrType::String, Presence::Optional, "Message for the approver of a manual connection.")),
                })
                .block(GROUP_KEY, NestedBlockSchema {
                    nesting: Nesting::Single,
                    required: false,
                    force_new: false,
                    description: "Registers the endpoint's IP in private DNS zones (the child resource privateDnsZoneGroups).".into(),
                    block: BlockSchema::default()
                        .attribute("name", a(AttrType::String, Presence::Required, "Name of the zone group."))
                        .attribute("private_dns_zone_ids", a(strings(), Presence::Required, "ARM IDs of the private DNS zones.")),
                }),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(name) = string(config, "name") {
            errors.extend(name_error(&name, "name", "private endpoint", 2, 64));
        }
        if let Some(subnet) = string(config, "subnet_id") {
            if !looks_like(&subnet, "Microsoft.Network/virtualNetworks/subnets") {
                errors.push(ProviderError::at_attribute(
                    format!("\"{subnet}\" is not the ARM ID of a subnet"),
                    "subnet_id",
                ));
            }
        }
        for c in blocks_at(config, "private_service_connection") {
            if bool_at(c, "is_manual_connection") == Some(true)
                && c.get("request_message").is_some_and(Value::is_null)
            {
                errors.push(ProviderError::at_attribute(
                    "a manual connection needs a request_message",
                    "private_service_connection.request_message",
                ));
            }
            if let Some(target) = str_at(c, "private_connection_resource_id") {
                if !target.starts_with("/subscriptions/") || !target.contains("/providers/") {
                    errors.push(ProviderError::at_attribute(
                        format!("\"{target}\" is not an ARM resource ID"),
                        "private_service_connection.private_connection_resource_id",
                    ));
                }
            }
        }
        for g in blocks_at(config, GROUP_KEY) {
            for zone in strings_at(g, "private_dns_zone_ids").unwrap_or_default() {
                if !looks_like(&zone, "Microsoft.Network/privateDnsZones") {
                    errors.push(ProviderError::at_attribute(
                        format!("\"{zone}\" is not the ARM ID of a private DNS zone"),
                        "private_dns_zone_group.private_dns_zone_ids",
                    ));
                }
            }
        }
        errors
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.Network/privateEndpoints/{}",
            string(config, "resource_group_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let connections: Vec<Json> = blocks_at(config, "private_service_connection")
            .into_iter()
            .map(|c| {
                let mut props = json!({
                    "privateLinkServiceId": str_at(c, "private_connection_resource_id").unwrap_or_default(),
                    "groupIds": strings_at(c, "subresource_names").unwrap_or_default(),
                });
                if let Some(message) = str_at(c, "request_message") {
                    props["requestMessage"] = json!(message);
                }
                json!({"name": str_at(c, "name").unwrap_or_default(), "properties": props})
            })
            .collect();
        let manual = blocks_at(config, "private_service_connection")
            .first()
            .and_then(|c| bool_at(c, "is_manual_connection"))
            .unwrap_or(false);
        let (key, other) = if manual {
            (
                "manualPrivateLinkServiceConnections",
                "privateLinkServiceConnections",
            )
        } else {
            (
                "privateLinkServiceConnections",
                "manualPrivateLinkServiceConnections",
            )
        };
        Ok(json!({
            "location": string(config, "location").unwrap_or_default(),
            "tags": tags(config),
            "properties": {
                "subnet": {"id": string(config, "subnet_id").unwrap_or_default()},
                key: connections,
                other: [],
            },
        }))
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        state.set_or_insert("id", Value::string(id));
        for (key, pointer) in [("name", "/name"), ("location", "/location")] {
            if let Some(v) = response.pointer(pointer).and_then(Json::as_str) {
                state.set_or_insert(key, Value::string(v));
            }
        }
        state.set_or_insert("tags", tags_state(config, response));
        let props = response
            .get("properties")
            .cloned()
            .unwrap_or_else(|| json!({}));
        state.set_or_insert(
            "subnet_id",
            id_state(
                config.get("subnet_id"),
                props.pointer("/subnet/id").and_then(Json::as_str),
            ),
        );
        let configured = blocks_at(config, "private_service_connection")
            .first()
            .map(|c| (*c).clone())
            .unwrap_or(Value::Null);
        let auto = props.pointer("/privateLinkServiceConnections/0");
        let manual = props.pointer("/manualPrivateLinkServiceConnections/0");
        let connection = match auto.map(|c| (c, false)).or(manual.map(|c| (c, true))) {
            None => Value::Null,
            Some((c, is_manual)) => {
                let groups = json_strings(c.pointer("/properties/groupIds"));
                let groups =
                    super::subnet::net::list_state(configured.get("subresource_names"), groups);
                let message = c
                    .pointer("/properties/requestMessage")
                    .and_then(Json::as_str)
                    .map(Value::string)
                    .unwrap_or(Value::Null);
                Value::Map(
                    [
                        (
                            "name".to_string(),
                            c.get("name")
                                .and_then(Json::as_str)
                                .map(Value::string)
                                .unwrap_or(Value::Null),
                        ),
                        (
                            "private_connection_resource_id".to_string(),
                            id_state(
                                configured.get("private_connection_resource_id"),
                                c.pointer("/properties/privateLinkServiceId")
                                    .and_then(Json::as_str),
                            ),
                        ),
                        ("subresource_names".to_string(), groups),
                        ("is_manual_connection".to_string(), Value::Bool(is_manual)),
                        ("request_message".to_string(), message),
                    ]
                    .into(),
                )
            }
        };
        state.set_or_insert("private_service_connection", connection);
        let ip = props
            .get("customDnsConfigs")
            .and_then(Json::as_array)
            .and_then(|configs| {
                configs
                    .iter()
                    .find_map(|c| c.pointer("/ipAddresses/0").and_then(Json::as_str))
            })
            .or_else(|| {
                props
                    .pointer("/ipConfigurations/0/properties/privateIPAddress")
                    .and_then(Json::as_str)
            });
        state.set_or_insert(
            "private_ip_address",
            ip.map(Value::string).unwrap_or(Value::Null),
        );
        state
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        let mut state = arm_put(self, ctx, config).await?;
        let id = self.endpoint_id(ctx, &state)?;
        let group = match Self::group(config) {
            None => None,
            Some(g) => match Self::put_group(ctx, &id, g).await {
                Ok(live) => Some(live),
                Err(e) => {
                    // Leave nothing behind: the endpoint without its DNS registration is useless.
                    let _ = ctx
                        .client
                        .delete(&id, NETWORK_API_VERSION, &ctx.cancel)
                        .await;
                    return Err(e);
                }
            },
        };
        Self::with_group(&mut state, config, group.as_ref());
        let live = ctx
            .client
            .get(&id, NETWORK_API_VERSION, &ctx.cancel)
            .await
            .map_err(provider_error)?;
        Self::fill_ip(ctx, &mut state, live.as_ref()).await?;
        Ok(state)
    }

    async fn read(&self, ctx: &Context, state: &Value) -> Result<Option<Value>, ProviderError> {
        let id = self.endpoint_id(ctx, state)?;
        let Some(live) = ctx
            .client
            .get(&id, NETWORK_API_VERSION, &ctx.cancel)
            .await
            .map_err(provider_error)?
        else {
            return Ok(None);
        };
        let mut new_state = self.to_state(state, &id, &live);
        let group = match Self::group(state).and_then(|g| Self::group_id(&id, g)) {
            Some(group_id) => ctx
                .client
                .get(&group_id, NETWORK_API_VERSION, &ctx.cancel)
                .await
                .map_err(provider_error)?,
            None => None,
        };
        Self::with_group(&mut new_state, state, group.as_ref());
        Self::fill_ip(ctx, &mut new_state, Some(&live)).await?;
        Ok(Some(new_state))
    }

    async fn update(
        &self,
        ctx: &Context,
        prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        let mut state = arm_put(self, ctx, config).await?;
        let id = self.endpoint_id(ctx, &state)?;
        let old = Self::group(prior).and_then(|g| Self::group_id(&id, g));
        let new = Self::group(config).and_then(|g| Self::group_id(&id, g));
        if let Some(old) = old.filter(|o| Some(o) != new.as_ref()) {
            ctx.client
                .delete(&old, NETWORK_API_VERSION, &ctx.cancel)
                .await
                .map_err(provider_error)?;
        }
        let group = match Self::group(config) {
            Some(g) => Some(Self::put_group(ctx, &id, g).await?),
            None => None,
        };
        Self::with_group(&mut state, config, group.as_ref());
        let live = ctx
            .client
            .get(&id, NETWORK_API_VERSION, &ctx.cancel)
            .await
            .map_err(provider_error)?;
        Self::fill_ip(ctx, &mut state, live.as_ref()).await?;
        Ok(state)
    }

    async fn delete(&self, ctx: &Context, state: &Value) -> Result<(), ProviderError> {
        let id = self.endpoint_id(ctx, state)?;
        if let Some(group_id) = Self::group(state).and_then(|g| Self::group_id(&id, g)) {
            ctx.client
                .delete(&group_id, NETWORK_API_VERSION, &ctx.cancel)
                .await
                .map_err(provider_error)?;
        }
        arm_delete(self, ctx, state).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const SUBNET: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-one/subnets/PrivateEndpoints";
    const ACR: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/meshacr";
    const ZONE: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io";

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn config(manual: bool) -> Value {
        Value::Map(BTreeMap::from([
            ("name".into(), s("acr-pe")),
            ("resource_group_name".into(), s("rg")),
            ("location".into(), s("westeurope")),
            ("subnet_id".into(), s(SUBNET)),
            ("tags".into(), Value::Null),
            ("id".into(), Value::Null),
            ("private_ip_address".into(), Value::Null),
            (
                "private_service_connection".into(),
                Value::Map(BTreeMap::from([
                    ("name".into(), s("acr-connection")),
                    ("private_connection_resource_id".into(), s(ACR)),
                    ("subresource_names".into(), Value::List(vec![s("registry")])),
                    ("is_manual_connection".into(), Value::Bool(manual)),
                    (
                        "request_message".into(),
                        if manual { s("please") } else { Value::Null },
                    ),
                ])),
            ),
            (
                GROUP_KEY.into(),
                Value::Map(BTreeMap::from([
                    ("name".into(), s("default")),
                    ("private_dns_zone_ids".into(), Value::List(vec![s(ZONE)])),
                ])),
            ),
        ]))
    }

    #[test]
    fn bodies_follow_the_rest_spec_shape() {
        assert_eq!(
            PrivateEndpoint.to_body(&config(false)).expect("body"),
            json!({
                "location": "westeurope",
                "tags": {},
                "properties": {
                    "subnet": {"id": SUBNET},
                    "privateLinkServiceConnections": [{"name": "acr-connection", "properties": {"privateLinkServiceId": ACR, "groupIds": ["registry"]}}],
                    "manualPrivateLinkServiceConnections": [],
                },
            })
        );
        let manual = PrivateEndpoint.to_body(&config(true)).expect("body");
        assert_eq!(
            manual["properties"]["manualPrivateLinkServiceConnections"][0]["properties"]
                ["requestMessage"],
            json!("please")
        );
        assert_eq!(
            manual["properties"]["privateLinkServiceConnections"],
            json!([])
        );
        let cfg = config(false);
        let group = PrivateEndpoint::group(&cfg).expect("group");
        assert_eq!(
            PrivateEndpoint::group_body(group),
            json!({"properties": {"privateDnsZoneConfigs": [{"name": "privatelink-azurecr-io", "properties": {"privateDnsZoneId": ZONE}}]}})
        );
        assert_eq!(
            PrivateEndpoint::group_id("/pe", group).as_deref(),
            Some("/pe/privateDnsZoneGroups/default")
        );
    }

    #[test]
    fn state_round_trips_the_bodies() {
        for manual in [false, true] {
            let cfg = config(manual);
            let mut response = PrivateEndpoint.to_body(&cfg).expect("body");
            response["name"] = json!("acr-pe");
            response["properties"]["customDnsConfigs"] =
                json!([{"fqdn": "meshacr.azurecr.io", "ipAddresses": ["10.244.0.4"]}]);
            let mut state = PrivateEndpoint.to_state(&cfg, "/pe", &response);
            let mut group =
                PrivateEndpoint::group_body(PrivateEndpoint::group(&cfg).expect("group"));
            group["name"] = json!("default");
            PrivateEndpoint::with_group(&mut state, &cfg, Some(&group));
            let mut expected = cfg.clone();
            expected.set_or_insert("id", s("/pe"));
            expected.set_or_insert("private_ip_address", s("10.244.0.4"));
            assert_eq!(state, expected, "manual: {manual}");
            // A zone group deleted outside mesh shows as drift.
            PrivateEndpoint::with_group(&mut state, &cfg, None);
            assert_eq!(state.get(GROUP_KEY), Some(&Value::Null));
        }
    }

    #[test]
    fn validates_ids_and_manual_connections() {
        assert!(PrivateEndpoint.validate(&config(false)).is_empty());
        let mut bad = config(true);
        bad.set_or_insert("subnet_id", s("PrivateEndpoints"));
        bad.set_or_insert(
            "private_service_connection",
            Value::Map(BTreeMap::from([
                ("name".into(), s("c")),
                ("private_connection_resource_id".into(), s("meshacr")),
                ("subresource_names".into(), Value::Null),
                ("is_manual_connection".into(), Value::Bool(true)),
                ("request_message".into(), Value::Null),
            ])),
        );
        assert_eq!(PrivateEndpoint.validate(&bad).len(), 3);
    }
}
