//! `azure_virtual_network_peering`: Microsoft.Network/virtualNetworks/virtualNetworkPeerings.
//!
//! A peering is one direction; two networks talk once both directions exist (ARM then
//! reports `peeringState` Connected on both, Initiated while only one exists).
//!
//! When one direction is deleted (outside mesh), the other turns Disconnected and ARM refuses a
//! new peering from the other side until the Disconnected one is updated. So a Disconnected
//! peering plans an in-place update (the PUT takes it back to Initiated), and creating a
//! peering waits a little while the remote direction is Disconnected, since that update may
//! be running in the same apply.

use std::time::Duration;

use async_trait::async_trait;
use mesh_engine::provider::{
    default_plan, AttrType, AttributeSchema, BlockSchema, PlannedChange, Presence, ProviderError,
    ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::string;
use super::subnet::net::{bool_at, id_state, looks_like, name_error};
use super::subnet::NETWORK_API_VERSION;
use super::{arm_put, AzureResourceType, Context};

/// ARM's refusal to peer with a network whose peering back is Disconnected.
const REMOTE_DISCONNECTED: &str = "RemotePeeringIsDisconnected";
/// How long a create waits for the remote direction to be repaired.
const REPAIR_WAIT: Duration = Duration::from_secs(120);

/// One direction of a peering between two virtual networks.
pub struct VirtualNetworkPeering;

const FLAGS: [(&str, &str, bool, &str); 4] = [
    ("allow_virtual_network_access", "allowVirtualNetworkAccess", true, "VMs of the local network may reach the remote network (default true)."),
    ("allow_forwarded_traffic", "allowForwardedTraffic", false, "Traffic forwarded by appliances in the remote network is allowed in (default false)."),
    ("allow_gateway_transit", "allowGatewayTransit", false, "The remote network may use this network's gateway (default false)."),
    ("use_remote_gateways", "useRemoteGateways", false, "This network uses the remote network's gateway (default false; the remote peering needs allow_gateway_transit)."),
];

#[async_trait]
impl AzureResourceType for VirtualNetworkPeering {
    fn name(&self) -> &'static str {
        "azure_virtual_network_peering"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"
    }

    fn api_version(&self) -> &'static str {
        NETWORK_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        let a = AttributeSchema::new;
        let mut block = BlockSchema::default()
            .attribute("name", a(AttrType::String, Presence::Required, "Name, 1-80 characters: letters, digits, underscores, periods, hyphens.").force_new())
            .attribute("resource_group_name", a(AttrType::String, Presence::Required, "Resource group of the local network.").force_new())
            .attribute("virtual_network_name", a(AttrType::String, Presence::Required, "The local network.").force_new())
            .attribute("remote_virtual_network_id", a(AttrType::String, Presence::Required, "ARM ID of the remote network; its address space must not overlap the local one.").force_new())
            .attribute("id", a(AttrType::String, Presence::Computed, "ARM resource ID."))
            .attribute("peering_state", a(AttrType::String, Presence::Computed, "Initiated while only this direction exists, Connected once the remote network peers back; its progress is not drift.").volatile());
        for (name, _, default, doc) in FLAGS {
            block = block.attribute(
                name,
                a(AttrType::Bool, Presence::Optional, doc).default_value(Value::Bool(default)),
            );
        }
        ResourceSchema {
            version: 0,
            description: "One direction of a virtual network peering; declare both directions."
                .into(),
            block,
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = Vec::new();
        if let Some(name) = string(config, "name") {
            errors.extend(name_error(&name, "name", "peering", 1, 80));
        }
        if let Some(remote) = string(config, "remote_virtual_network_id") {
            if !looks_like(&remote, "Microsoft.Network/virtualNetworks") {
                errors.push(ProviderError::at_attribute(format!("\"{remote}\" is not the ARM ID of a virtual network (/subscriptions/.../resourceGroups/.../providers/Microsoft.Network/virtualNetworks/NAME)"), "remote_virtual_network_id"));
            }
        }
        if bool_at(config, "use_remote_gateways") == Some(true)
            && bool_at(config, "allow_gateway_transit") == Some(true)
        {
            errors.push(ProviderError::at_attribute(
                "a peering cannot both use the remote gateways and offer gateway transit",
                "use_remote_gateways",
            ));
        }
        errors
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{}/virtualNetworkPeerings/{}",
            string(config, "resource_group_name")?,
            string(config, "virtual_network_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let mut props = serde_json::Map::new();
        for (name, field, default, _) in FLAGS {
            props.insert(
                field.into(),
                json!(bool_at(config, name).unwrap_or(default)),
            );
        }
        props.insert(
            "remoteVirtualNetwork".into(),
            json!({"id": string(config, "remote_virtual_network_id").unwrap_or_default()}),
        );
        Ok(json!({"properties": props}))
    }

    fn plan(&self, subscription_id: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        let mut planned = default_plan(&self.schema().block, prior, config);
        if let Some(id) = self.resource_id(subscription_id, config) {
            planned.planned.set_or_insert("id", Value::String(id));
        }
        let disconnected = prior
            .and_then(|p| p.get("peering_state"))
            .and_then(Value::as_str)
            == Some("Disconnected");
        if disconnected {
            planned
                .planned
                .set_or_insert("peering_state", Value::Unknown);
        }
        planned
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        let deadline = tokio::time::Instant::now() + REPAIR_WAIT;
        loop {
            match arm_put(self, ctx, config).await {
                Err(e)
                    if e.message.starts_with(REMOTE_DISCONNECTED)
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                        _ = ctx.cancel.cancelled() => return Err(e),
                    }
                }
                other => return other,
            }
        }
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        state.set_or_insert("id", Value::string(id));
        if let Some(name) = response.get("name").and_then(Json::as_str) {
            state.set_or_insert("name", Value::string(name));
        }
        let props = response
            .get("properties")
            .cloned()
            .unwrap_or_else(|| json!({}));
        for (name, field, default, _) in FLAGS {
            let live = props.get(field).and_then(Json::as_bool).unwrap_or(default);
            state.set_or_insert(name, Value::Bool(live));
        }
        state.set_or_insert(
            "remote_virtual_network_id",
            id_state(
                config.get("remote_virtual_network_id"),
                props
                    .pointer("/remoteVirtualNetwork/id")
                    .and_then(Json::as_str),
            ),
        );
        let peering_state = props
            .get("peeringState")
            .and_then(Json::as_str)
            .map(Value::string)
            .unwrap_or(Value::Null);
        state.set_or_insert("peering_state", peering_state);
        state
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const REMOTE: &str = "/subscriptions/sub/resourceGroups/rg2/providers/Microsoft.Network/virtualNetworks/vnet-two";

    fn config() -> Value {
        Value::Map(BTreeMap::from([
            ("name".into(), Value::string("one-to-two")),
            ("resource_group_name".into(), Value::string("rg1")),
            ("virtual_network_name".into(), Value::string("vnet-one")),
            ("remote_virtual_network_id".into(), Value::string(REMOTE)),
            ("allow_virtual_network_access".into(), Value::Bool(true)),
            ("allow_forwarded_traffic".into(), Value::Bool(true)),
            ("allow_gateway_transit".into(), Value::Bool(false)),
            ("use_remote_gateways".into(), Value::Bool(false)),
            ("id".into(), Value::Null),
            ("peering_state".into(), Value::Null),
        ]))
    }

    #[test]
    fn body_follows_the_rest_spec_shape() {
        assert_eq!(
            VirtualNetworkPeering.to_body(&config()).expect("body"),
            json!({"properties": {
                "allowVirtualNetworkAccess": true,
                "allowForwardedTraffic": true,
                "allowGatewayTransit": false,
                "useRemoteGateways": false,
                "remoteVirtualNetwork": {"id": REMOTE},
            }})
        );
        assert_eq!(
            VirtualNetworkPeering.resource_id("sub", &config()).as_deref(),
            Some("/subscriptions/sub/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet-one/virtualNetworkPeerings/one-to-two")
        );
    }

    #[test]
    fn state_round_trips_the_body() {
        let cfg = config();
        let mut response = VirtualNetworkPeering.to_body(&cfg).expect("body");
        response["name"] = json!("one-to-two");
        response["properties"]["peeringState"] = json!("Initiated");
        // ARM may spell the ID's fixed words differently.
        response["properties"]["remoteVirtualNetwork"]["id"] =
            json!(REMOTE.replace("resourceGroups", "resourcegroups"));
        let state = VirtualNetworkPeering.to_state(&cfg, "/p", &response);
        let mut expected = cfg.clone();
        expected.set_or_insert("id", Value::string("/p"));
        expected.set_or_insert("peering_state", Value::string("Initiated"));
        assert_eq!(state, expected);
        response["properties"]["allowForwardedTraffic"] = json!(false);
        assert_eq!(
            VirtualNetworkPeering
                .to_state(&cfg, "/p", &response)
                .get("allow_forwarded_traffic"),
            Some(&Value::Bool(false))
        );
    }

    #[test]
    fn validates_the_remote_id_and_gateway_flags() {
        assert!(VirtualNetworkPeering.validate(&config()).is_empty());
        let mut bad = config();
        bad.set_or_insert("remote_virtual_network_id", Value::string("vnet-two"));
        bad.set_or_insert("use_remote_gateways", Value::Bool(true));
        bad.set_or_insert("allow_gateway_transit", Value::Bool(true));
        assert_eq!(VirtualNetworkPeering.validate(&bad).len(), 2);
        let mut unknown = config();
        unknown.set_or_insert("remote_virtual_network_id", Value::Unknown);
        assert!(VirtualNetworkPeering.validate(&unknown).is_empty());
    }

    #[test]
    fn the_remote_network_forces_replacement() {
        let schema = VirtualNetworkPeering.schema();
        assert!(schema.block.attributes["remote_virtual_network_id"].force_new);
        assert!(!schema.block.attributes["allow_forwarded_traffic"].force_new);
    }
}
