//! `azure_subnet`: Microsoft.Network/virtualNetworks/subnets.
//!
//! The subnet mapping here (body `properties`, state, validation) is shared with the inline
//! `subnet` blocks of `azure_virtual_network`.

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, NestedBlockSchema, Nesting, Presence, ProviderError,
    ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Map, Value as Json};

use super::config::string;
use super::AzureResourceType;
use net::{
    blocks_at, json_strings, known, list_state, name_error, parse_prefix, str_at, strings_at,
};

/// The api-version of Microsoft.Network virtual networks and their children.
pub const NETWORK_API_VERSION: &str = "2024-05-01";

/// The only subnet name Azure Bastion deploys into.
pub const BASTION_SUBNET: &str = "AzureBastionSubnet";

/// The values `private_endpoint_network_policies` takes.
pub const ENDPOINT_POLICIES: [&str; 4] = [
    "Enabled",
    "Disabled",
    "NetworkSecurityGroupEnabled",
    "RouteTableEnabled",
];

/// A subnet managed on its own (leave the network's inline `subnet` blocks empty then).
pub struct Subnet;

fn attr(t: AttrType, p: Presence, doc: &str) -> AttributeSchema {
    AttributeSchema::new(t, p, doc)
}

fn strings() -> AttrType {
    AttrType::List(Box::new(AttrType::String))
}

/// The `delegation` block (shared with inline subnets).
pub(crate) fn delegation_block() -> NestedBlockSchema {
    NestedBlockSchema {
        nesting: Nesting::List,
        required: false,
        force_new: false,
        description: "Delegates the subnet to a service (e.g. Microsoft.ContainerInstance/containerGroups).".into(),
        block: BlockSchema::default()
            .attribute("name", attr(AttrType::String, Presence::Required, "Name of the delegation."))
            .attribute("service_name", attr(AttrType::String, Presence::Required, "Service the subnet is delegated to, e.g. Microsoft.Web/serverFarms."))
            .attribute("actions", attr(strings(), Presence::Optional, "Actions Azure grants the service (read-only in ARM: not sent; when set, compared with what Azure reports).")),
    }
}

/// The settable subnet attributes (shared with inline subnets), without name and parents.
pub(crate) fn subnet_fields(block: BlockSchema) -> BlockSchema {
    block
        .attribute("address_prefixes", attr(strings(), Presence::Required, "Address ranges (CIDR), inside the network's address space and not overlapping a sibling subnet."))
        .attribute("service_endpoints", attr(strings(), Presence::Optional, "Service endpoints, e.g. Microsoft.KeyVault, Microsoft.ContainerRegistry."))
        .attribute("private_endpoint_network_policies", attr(AttrType::String, Presence::Optional, "Network policies for private endpoints in the subnet: Enabled, Disabled (default), NetworkSecurityGroupEnabled or RouteTableEnabled.").default_value(Value::string("Disabled")))
        .block("delegation", delegation_block())
}

/// The ARM `properties` of a subnet from a subnet block or an `azure_subnet` configuration.
pub(crate) fn subnet_properties(block: &Value) -> Json {
    let mut props = Map::new();
    let prefixes = strings_at(block, "address_prefixes").unwrap_or_default();
    props.insert("addressPrefixes".into(), json!(prefixes));
    let endpoints: Vec<Json> = strings_at(block, "service_endpoints")
        .unwrap_or_default()
        .into_iter()
        .map(|s| json!({"service": s}))
        .collect();
    props.insert("serviceEndpoints".into(), Json::Array(endpoints));
    let delegations: Vec<Json> = blocks_at(block, "delegation")
        .into_iter()
        .map(|d| {
            json!({
                "name": str_at(d, "name").unwrap_or_default(),
                "properties": {"serviceName": str_at(d, "service_name").unwrap_or_default()},
            })
        })
        .collect();
    props.insert("delegations".into(), Json::Array(delegations));
    if let Some(p) = str_at(block, "private_endpoint_network_policies") {
        props.insert("privateEndpointNetworkPolicies".into(), json!(p));
    }
    Json::Object(props)
}

/// The address prefixes of subnet `properties` (`addressPrefixes`, or `addressPrefix` alone).
pub(crate) fn prefixes_of(props: &Json) -> Vec<String> {
    let many = json_strings(props.get("addressPrefixes"));
    if !many.is_empty() {
        return many;
    }
    props
        .get("addressPrefix")
        .and_then(Json::as_str)
        .map(|p| vec![p.to_string()])
        .unwrap_or_default()
}

/// Read the settable subnet fields of `props` into `state` (a map), shaped like `config`.
pub(crate) fn read_subnet_fields(state: &mut Value, config: &Value, props: &Json) {
    state.set_or_insert(
        "address_prefixes",
        list_state(config.get("address_prefixes"), prefixes_of(props)),
    );
    let endpoints: Vec<String> = props
        .get("serviceEndpoints")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| e.get("service").and_then(Json::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    state.set_or_insert(
        "service_endpoints",
        list_state(config.get("service_endpoints"), endpoints),
    );
    let configured = blocks_at(config, "delegation");
    let delegations: Vec<Value> = props
        .get("delegations")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let actions = match configured.get(i).and_then(|c| known(c.get("actions"))) {
                Some(_) => Value::List(
                    json_strings(d.pointer("/properties/actions"))
                        .into_iter()
                        .map(Value::String)
                        .collect(),
                ),
                None => Value::Null,
            };
            Value::Map(
                [
                    (
                        "name".to_string(),
                        Value::string(d.get("name").and_then(Json::as_str).unwrap_or_default()),
                    ),
                    (
                        "service_name".to_string(),
                        Value::string(
                            d.pointer("/properties/serviceName")
                                .and_then(Json::as_str)
                                .unwrap_or_default(),
                        ),
                    ),
                    ("actions".to_string(), actions),
                ]
                .into(),
            )
        })
        .collect();
    state.set_or_insert("delegation", Value::List(delegations));
    let policies = props
        .get("privateEndpointNetworkPolicies")
        .and_then(Json::as_str)
        .map(Value::string)
        .or_else(|| config.get("private_endpoint_network_policies").cloned())
        .unwrap_or(Value::Null);
    state.set_or_insert("private_endpoint_network_policies", policies);
}

/// Plan-time checks of one subnet (block or resource); `at` prefixes attribute names.
pub(crate) fn validate_subnet(block: &Value, at: &str) -> Vec<ProviderError> {
    let mut errors = Vec::new();
    let name = str_at(block, "name");
    if let Some(name) = &name {
        errors.extend(name_error(name, &format!("{at}name"), "subnet", 1, 80));
        if name != BASTION_SUBNET && name.eq_ignore_ascii_case(BASTION_SUBNET) {
            errors.push(ProviderError::at_attribute(
                format!(
                    "the Bastion subnet must be named exactly {BASTION_SUBNET}, not \"{name}\""
                ),
                &format!("{at}name"),
            ));
        }
    }
    let prefixes = strings_at(block, "address_prefixes").unwrap_or_default();
    if known(block.get("address_prefixes")).is_some() && prefixes.is_empty() {
        errors.push(ProviderError::at_attribute(
            "a subnet needs at least one address prefix",
            &format!("{at}address_prefixes"),
        ));
    }
    for prefix in &prefixes {
        match parse_prefix(prefix) {
            Err(e) => errors.push(ProviderError::at_attribute(
                e,
                &format!("{at}address_prefixes"),
            )),
            Ok(net) if name.as_deref() == Some(BASTION_SUBNET) && net.prefix_len() > 26 => {
                errors.push(ProviderError::at_attribute(
                    format!("{BASTION_SUBNET} must be /26 or larger, {prefix} is too small"),
                    &format!("{at}address_prefixes"),
                ));
            }
            Ok(_) => {}
        }
    }
    if let Some(p) = str_at(block, "private_endpoint_network_policies") {
        if !ENDPOINT_POLICIES.contains(&p.as_str()) {
            errors.push(ProviderError::at_attribute(
                format!(
                    "private_endpoint_network_policies must be one of {}, not \"{p}\"",
                    ENDPOINT_POLICIES.join(", ")
                ),
                &format!("{at}private_endpoint_network_policies"),
            ));
        }
    }
    for d in blocks_at(block, "delegation") {
        if let Some(s) = str_at(d, "service_name") {
            if s.split('/').count() < 2 {
                errors.push(ProviderError::at_attribute(format!("delegation service_name \"{s}\" is not a resource type such as Microsoft.Web/serverFarms"), &format!("{at}delegation")));
            }
        }
    }
    errors
}

impl AzureResourceType for Subnet {
    fn name(&self) -> &'static str {
        "azure_subnet"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/virtualNetworks/subnets"
    }

    fn api_version(&self) -> &'static str {
        NETWORK_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        let block = BlockSchema::default()
            .attribute("name", attr(AttrType::String, Presence::Required, "Name, 1-80 characters: letters, digits, underscores, periods, hyphens; starts with a letter or digit, ends with a letter, digit or underscore. Azure Bastion needs exactly AzureBastionSubnet (/26 or larger).").force_new())
            .attribute("resource_group_name", attr(AttrType::String, Presence::Required, "Resource group of the virtual network.").force_new())
            .attribute("virtual_network_name", attr(AttrType::String, Presence::Required, "The virtual network the subnet belongs to.").force_new())
            .attribute("id", attr(AttrType::String, Presence::Computed, "ARM resource ID."));
        ResourceSchema {
            version: 0,
            description: "A subnet of a virtual network, managed on its own. A network whose subnets are azure_subnet resources must have no inline subnet blocks (both would fight over the list).".into(),
            block: subnet_fields(block),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors = validate_subnet(config, "");
        if let Some(vnet) = string(config, "virtual_network_name") {
            errors.extend(name_error(
                &vnet,
                "virtual_network_name",
                "virtual network",
                2,
                64,
            ));
        }
        errors
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!(
            "/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{}/subnets/{}",
            string(config, "resource_group_name")?,
            string(config, "virtual_network_name")?,
            string(config, "name")?
        ))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        Ok(json!({"properties": subnet_properties(config)}))
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
        read_subnet_fields(&mut state, config, &props);
        state
    }
}

/// Helpers shared by the network resource types.
pub(crate) mod net {
    use ipnet::IpNet;
    use mesh_engine::provider::ProviderError;
    use mesh_engine::value::Value;
    use serde_json::Value as Json;

    use super::super::config::tags_from;

    /// The value of an attribute when it is set and known (sensitivity stripped).
    pub fn known(v: Option<&Value>) -> Option<&Value> {
        match v.map(|v| v.unmark().0) {
            None | Some(Value::Null) | Some(Value::Unknown) => None,
            Some(v) => Some(v),
        }
    }

    /// A known string attribute of a map value.
    pub fn str_at(v: &Value, key: &str) -> Option<String> {
        known(v.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// A known bool attribute of a map value.
    pub fn bool_at(v: &Value, key: &str) -> Option<bool> {
        match known(v.get(key)) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// The known strings of a list attribute (`None` when the list is unset or unknown).
    pub fn strings_at(v: &Value, key: &str) -> Option<Vec<String>> {
        let items = known(v.get(key))?.as_list()?;
        Some(
            items
                .iter()
                .filter_map(|i| i.unmark().0.as_str().map(str::to_string))
                .collect(),
        )
    }

    /// The blocks of a nested block list (or a single block), unmarked.
    pub fn blocks_at<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
        match known(v.get(key)) {
            Some(Value::List(items)) => items
                .iter()
                .map(|i| i.unmark().0)
                .filter(|i| i.as_map().is_some())
                .collect(),
            Some(m @ Value::Map(_)) => vec![m],
            _ => Vec::new(),
        }
    }

    /// The strings of a JSON array (empty when absent).
    pub fn json_strings(j: Option<&Json>) -> Vec<String> {
        j.and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Json::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A list read from ARM, shaped like the configuration: null stays null while ARM
    /// reports nothing.
    pub fn list_state(configured: Option<&Value>, items: Vec<String>) -> Value {
        if items.is_empty() && configured.is_none_or(Value::is_null) {
            return Value::Null;
        }
        Value::List(items.into_iter().map(Value::String).collect())
    }

    /// Tags read from ARM: null stays null while ARM reports none.
    pub fn tags_state(config: &Value, response: &Json) -> Value {
        let live = tags_from(response);
        let empty = live.as_map().is_some_and(|m| m.is_empty());
        if empty && config.get("tags").is_none_or(Value::is_null) {
            return Value::Null;
        }
        live
    }

    /// A resource ID read from ARM: the configured spelling when it differs only in case.
    pub fn id_state(configured: Option<&Value>, live: Option<&str>) -> Value {
        match (known(configured).and_then(Value::as_str), live) {
            (Some(c), Some(l)) if c.eq_ignore_ascii_case(l) => Value::string(c),
            (_, Some(l)) => Value::string(l),
            (_, None) => configured.cloned().unwrap_or(Value::Null),
        }
    }

    /// The error for a name Azure networking refuses: `min`-`max` characters of letters,
    /// digits, underscores, periods and hyphens, starting with a letter or digit and ending
    /// with a letter, digit or underscore.
    pub fn name_error(
        name: &str,
        attribute: &str,
        kind: &str,
        min: usize,
        max: usize,
    ) -> Option<ProviderError> {
        let chars_ok = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        let first_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        let last_ok = name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let len = name.chars().count();
        if chars_ok && first_ok && last_ok && (min..=max).contains(&len) {
            return None;
        }
        Some(ProviderError::at_attribute(
            format!("\"{name}\" is not a valid {kind} name: use {min}-{max} letters, digits, underscores, periods or hyphens, starting with a letter or digit and ending with a letter, digit or underscore"),
            attribute,
        ))
    }

    /// Parse a CIDR range; host bits must be zero, as Azure requires.
    pub fn parse_prefix(s: &str) -> Result<IpNet, String> {
        let net: IpNet = s
            .parse()
            .map_err(|_| format!("\"{s}\" is not a CIDR range such as 10.0.0.0/16"))?;
        if net.trunc() != net {
            return Err(format!(
                "\"{s}\" has host bits set: the range starts at {}",
                net.trunc()
            ));
        }
        Ok(net)
    }

    /// True when `id` is a well-formed ARM ID whose type path ends with `suffix`
    /// (e.g. `/providers/Microsoft.Network/virtualNetworks/x`).
    pub fn looks_like(id: &str, namespace_type: &str) -> bool {
        let parts: Vec<&str> = id.trim_start_matches('/').split('/').collect();
        let type_parts: Vec<&str> = namespace_type.split('/').collect();
        // subscriptions/S/resourceGroups/R/providers/NS/t1/n1[/t2/n2]
        let expected = 6 + (type_parts.len() - 1) * 2;
        if !id.starts_with('/') || parts.len() != expected || parts.iter().any(|p| p.is_empty()) {
            return false;
        }
        parts[0].eq_ignore_ascii_case("subscriptions")
            && parts[2].eq_ignore_ascii_case("resourceGroups")
            && parts[4].eq_ignore_ascii_case("providers")
            && parts[5].eq_ignore_ascii_case(type_parts[0])
            && type_parts[1..]
                .iter()
                .enumerate()
                .all(|(i, t)| parts[6 + i * 2].eq_ignore_ascii_case(t))
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

    pub(crate) fn config(name: &str, prefix: &str) -> Value {
        Value::Map(BTreeMap::from([
            ("name".into(), s(name)),
            ("resource_group_name".into(), s("rg")),
            ("virtual_network_name".into(), s("vnet-one")),
            ("address_prefixes".into(), list(&[prefix])),
            ("service_endpoints".into(), list(&["Microsoft.KeyVault"])),
            ("private_endpoint_network_policies".into(), s("Disabled")),
            (
                "delegation".into(),
                Value::List(vec![Value::Map(BTreeMap::from([
                    ("name".into(), s("aci")),
                    (
                        "service_name".into(),
                        s("Microsoft.ContainerInstance/containerGroups"),
                    ),
                    ("actions".into(), Value::Null),
                ]))]),
            ),
            ("id".into(), Value::Null),
        ]))
    }

    #[test]
    fn body_follows_the_rest_spec_shape() {
        let body = Subnet
            .to_body(&config("User", "10.1.0.0/16"))
            .expect("body");
        assert_eq!(
            body,
            json!({"properties": {
                "addressPrefixes": ["10.1.0.0/16"],
                "serviceEndpoints": [{"service": "Microsoft.KeyVault"}],
                "delegations": [{"name": "aci", "properties": {"serviceName": "Microsoft.ContainerInstance/containerGroups"}}],
                "privateEndpointNetworkPolicies": "Disabled",
            }})
        );
        assert_eq!(
            Subnet.resource_id("sub", &config("User", "10.1.0.0/16")).as_deref(),
            Some("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-one/subnets/User")
        );
    }

    #[test]
    fn state_round_trips_the_body() {
        let cfg = config("User", "10.1.0.0/16");
        let mut response = Subnet.to_body(&cfg).expect("body");
        response["name"] = json!("User");
        response["properties"]["provisioningState"] = json!("Succeeded");
        response["properties"]["delegations"][0]["properties"]["actions"] =
            json!(["Microsoft.Network/virtualNetworks/subnets/action"]);
        let id = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet-one/subnets/User";
        let state = Subnet.to_state(&cfg, id, &response);
        let mut expected = cfg.clone();
        expected.set_or_insert("id", s(id));
        assert_eq!(state, expected);
        // A single addressPrefix (as ARM returns for older subnets) reads the same.
        response["properties"]["addressPrefixes"] = Json::Null;
        response["properties"]["addressPrefix"] = json!("10.1.0.0/16");
        assert_eq!(Subnet.to_state(&cfg, id, &response), expected);
        // Changes made outside mesh show up.
        response["properties"]["serviceEndpoints"] = json!([]);
        assert_eq!(
            Subnet
                .to_state(&cfg, id, &response)
                .get("service_endpoints"),
            Some(&Value::List(vec![]))
        );
    }

    #[test]
    fn unset_lists_stay_null_when_azure_reports_none() {
        let mut cfg = config("User", "10.1.0.0/16");
        cfg.set_or_insert("service_endpoints", Value::Null);
        cfg.set_or_insert("delegation", Value::List(vec![]));
        let response = json!({"name": "User", "properties": {"addressPrefixes": ["10.1.0.0/16"], "serviceEndpoints": [], "delegations": [], "privateEndpointNetworkPolicies": "Disabled"}});
        let state = Subnet.to_state(&cfg, "id", &response);
        assert_eq!(state.get("service_endpoints"), Some(&Value::Null));
        assert_eq!(state.get("delegation"), Some(&Value::List(vec![])));
    }

    #[test]
    fn validates_names_prefixes_and_bastion_rules() {
        assert!(Subnet.validate(&config("System", "10.0.0.0/16")).is_empty());
        assert!(Subnet
            .validate(&config(BASTION_SUBNET, "10.2.0.0/26"))
            .is_empty());
        assert_eq!(
            Subnet
                .validate(&config(BASTION_SUBNET, "10.2.0.0/27"))
                .len(),
            1
        );
        assert_eq!(
            Subnet
                .validate(&config("azurebastionsubnet", "10.2.0.0/24"))
                .len(),
            1
        );
        assert_eq!(Subnet.validate(&config("-bad", "10.2.0.0/24")).len(), 1);
        assert_eq!(Subnet.validate(&config("bad.", "10.2.0.0/24")).len(), 1);
        assert!(Subnet.validate(&config("ok_", "10.2.0.0/24")).is_empty());
        assert_eq!(Subnet.validate(&config("User", "10.2.0.1/24")).len(), 1);
        assert_eq!(Subnet.validate(&config("User", "10.2.0.0/33")).len(), 1);
        let mut bad_policy = config("User", "10.2.0.0/24");
        bad_policy.set_or_insert("private_endpoint_network_policies", s("On"));
        assert_eq!(Subnet.validate(&bad_policy).len(), 1);
        let mut unknown = config("User", "10.2.0.0/24");
        unknown.set_or_insert("address_prefixes", Value::Unknown);
        unknown.set_or_insert("name", Value::Unknown);
        assert!(Subnet.validate(&unknown).is_empty());
    }
}
