//! `azure_application_gateway`: Microsoft.Network/applicationGateways (api 2024-05-01).
//!
//! The gateway's parts (frontends, pools, settings, probes, listeners, rules, certificates)
//! reference each other by ARM sub-resource ID in the REST body
//! (`{gatewayId}/frontendPorts/{name}`); in mesh they reference each other by name. One table,
//! [`COLLECTIONS`], drives the schema, the body and the state of every part.

use std::collections::BTreeMap;

use async_trait::async_trait;
use mesh_engine::provider::{
    default_plan, AttrType, AttributeSchema, BlockSchema, NestedBlockSchema, Nesting,
    PlannedChange, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Map, Value as Json};

use super::config::{string, tags};
use super::key_vault_secret::object_tags;
use super::{arm_put, AzureResourceType, Context};

/// The applicationGateways api-version.
pub const API_VERSION: &str = "2024-05-01";

/// An Application Gateway.
pub struct ApplicationGateway;

/// How one attribute of a part maps to the part's `properties`.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Num,
    Bool,
    /// A list of strings, kept in order.
    List,
    /// `{"id": value}` (a subnet, a public IP).
    Id,
    /// `{"id": "{gatewayId}/{collection}/{value}"}`: a reference to another part by name.
    Ref(&'static str),
    /// A list of such references.
    Refs(&'static str),
    /// Strings stored as `[{key: value}]` items of the `backendAddresses` list.
    Addr(&'static str),
}

/// One attribute of a part.
struct Field {
    attr: &'static str,
    kind: Kind,
    /// Where under `properties`, `/`-separated.
    path: &'static str,
    presence: Presence,
    default: Option<Def>,
    doc: &'static str,
}

#[derive(Clone, Copy)]
enum Def {
    Str(&'static str),
    Num(f64),
    Bool(bool),
}

/// One kind of part: its block name, ARM collection and fields.
struct Collection {
    block: &'static str,
    json: &'static str,
    required: bool,
    doc: &'static str,
    fields: &'static [Field],
}

#[rustfmt::skip]
const fn f(attr: &'static str, kind: Kind, path: &'static str, presence: Presence, doc: &'static str) -> Field {
    Field { attr, kind, path, presence, default: None, doc }
}

#[rustfmt::skip]
const fn d(attr: &'static str, kind: Kind, path: &'static str, default: Def, doc: &'static str) -> Field {
    Field { attr, kind, path, presence: Presence::Optional, default: Some(default), doc }
}

use Kind::*;
use Presence::{Optional as Opt, OptionalComputed as OptComputed, Required as Req};

const FRONTEND_IPS: &str = "frontendIPConfigurations";
const PORTS: &str = "frontendPorts";
const POOLS: &str = "backendAddressPools";
const SETTINGS: &str = "backendHttpSettingsCollection";
const PROBES: &str = "probes";
const LISTENERS: &str = "httpListeners";
const SSL_CERTS: &str = "sslCertificates";
const ROOT_CERTS: &str = "trustedRootCertificates";

/// Every kind of part, in the order of the REST body.
const COLLECTIONS: &[Collection] = &[
    Collection { block: "gateway_ip_configuration", json: "gatewayIPConfigurations", required: true, doc: "The subnet the gateway's instances run in; it must be dedicated to Application Gateways.", fields: &[
        f("subnet_id", Id, "subnet", Req, "ARM ID of the dedicated subnet."),
    ] },
    Collection { block: "frontend_ip_configuration", json: FRONTEND_IPS, required: true, doc: "A frontend address: public (public_ip_address_id) or private (subnet_id, private_ip_address).", fields: &[
        f("public_ip_address_id", Id, "publicIPAddress", Opt, "ARM ID of a Standard public IP."),
        f("subnet_id", Id, "subnet", Opt, "Subnet of a private frontend."),
        f("private_ip_address", Str, "privateIPAddress", OptComputed, "Private frontend address (static); Azure picks one from the subnet when unset."),
    ] },
    Collection { block: "frontend_port", json: PORTS, required: true, doc: "A listening port.", fields: &[
        f("port", Num, "port", Req, "Port number, 1-65502."),
    ] },
    Collection { block: "backend_address_pool", json: POOLS, required: true, doc: "Backend targets.", fields: &[
        f("fqdns", Addr("fqdn"), "backendAddresses", Opt, "Backend host names."),
        f("ip_addresses", Addr("ipAddress"), "backendAddresses", Opt, "Backend IP addresses."),
    ] },
    Collection { block: "backend_http_settings", json: SETTINGS, required: true, doc: "How the gateway talks to a backend pool.", fields: &[
        f("port", Num, "port", Req, "Backend port."),
        f("protocol", Str, "protocol", Req, "Http or Https."),
        d("cookie_based_affinity", Str, "cookieBasedAffinity", Def::Str("Disabled"), "Enabled or Disabled."),
        d("request_timeout", Num, "requestTimeout", Def::Num(30.0), "Seconds, 1-86400."),
        f("host_name", Str, "hostName", Opt, "Host header sent to the backend."),
        d("pick_host_name_from_backend_address", Bool, "pickHostNameFromBackendAddress", Def::Bool(false), "Send the backend's own host name."),
        f("probe_name", Ref(PROBES), "probe", Opt, "Name of a probe block."),
        f("trusted_root_certificate_names", Refs(ROOT_CERTS), "trustedRootCertificates", Opt, "Names of trusted_root_certificate blocks (Https backends with private CAs)."),
    ] },
    Collection { block: "probe", json: PROBES, required: false, doc: "A health probe.", fields: &[
        f("protocol", Str, "protocol", Req, "Http or Https."),
        f("path", Str, "path", Req, "Path, starting with /."),
        f("host", Str, "host", Opt, "Host header (unset with pick_host_name_from_backend_http_settings)."),
        d("interval", Num, "interval", Def::Num(30.0), "Seconds between probes."),
        d("timeout", Num, "timeout", Def::Num(30.0), "Seconds before a probe fails."),
        d("unhealthy_threshold", Num, "unhealthyThreshold", Def::Num(3.0), "Failures before a backend is unhealthy."),
        d("pick_host_name_from_backend_http_settings", Bool, "pickHostNameFromBackendHttpSettings", Def::Bool(false), "Use the settings' host name."),
        f("match_status_codes", List, "match/statusCodes", Opt, "Healthy status codes or ranges, e.g. [\"200-399\"]."),
    ] },
    Collection { block: "ssl_certificate", json: SSL_CERTS, required: false, doc: "A TLS certificate for HTTPS listeners, from Key Vault (needs a user-assigned identity allowed to read it).", fields: &[
        f("key_vault_secret_id", Str, "keyVaultSecretId", Req, "Key Vault secret URL of the certificate (versionless to follow renewals)."),
    ] },
    Collection { block: "trusted_root_certificate", json: ROOT_CERTS, required: false, doc: "A CA certificate trusted for HTTPS backends.", fields: &[
        f("data", Str, "data", Opt, "Base64 DER (or PEM) certificate."),
        f("key_vault_secret_id", Str, "keyVaultSecretId", Opt, "Key Vault secret URL of the certificate."),
    ] },
    Collection { block: "http_listener", json: LISTENERS, required: true, doc: "A listener: frontend address, port and protocol.", fields: &[
        f("frontend_ip_configuration_name", Ref(FRONTEND_IPS), "frontendIPConfiguration", Req, "Name of a frontend_ip_configuration block."),
        f("frontend_port_name", Ref(PORTS), "frontendPort", Req, "Name of a frontend_port block."),
        f("protocol", Str, "protocol", Req, "Http or Https."),
        f("host_name", Str, "hostName", Opt, "Host name for multi-site listeners."),
        f("ssl_certificate_name", Ref(SSL_CERTS), "sslCertificate", Opt, "Name of an ssl_certificate block (Https listeners)."),
    ] },
    Collection { block: "request_routing_rule", json: "requestRoutingRules", required: true, doc: "Routes a listener's requests to a backend pool.", fields: &[
        f("priority", Num, "priority", Opt, "1-20000, lower first; required by v2 SKUs."),
        d("rule_type", Str, "ruleType", Def::Str("Basic"), "Basic (PathBasedRouting needs URL path maps, not modelled)."),
        f("http_listener_name", Ref(LISTENERS), "httpListener", Req, "Name of an http_listener block."),
        f("backend_address_pool_name", Ref(POOLS), "backendAddressPool", Req, "Name of a backend_address_pool block."),
        f("backend_http_settings_name", Ref(SETTINGS), "backendHttpSettings", Req, "Name of a backend_http_settings block."),
    ] },
];

fn attr_type(kind: Kind) -> AttrType {
    match kind {
        Str | Id | Ref(_) => AttrType::String,
        Num => AttrType::Number,
        Bool => AttrType::Bool,
        List | Refs(_) => AttrType::List(Box::new(AttrType::String)),
        Addr(_) => AttrType::Set(Box::new(AttrType::String)),
    }
}

fn nested(nesting: Nesting, required: bool, doc: &str, block: BlockSchema) -> NestedBlockSchema {
    NestedBlockSchema {
        nesting,
        required,
        force_new: false,
        description: doc.into(),
        block,
    }
}

#[async_trait]
#[rustfmt::skip]
impl AzureResourceType for ApplicationGateway {
    fn name(&self) -> &'static str {
        "azure_application_gateway"
    }

    fn arm_type(&self) -> &'static str {
        "Microsoft.Network/applicationGateways"
    }

    fn api_version(&self) -> &'static str {
        API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        let a = AttributeSchema::new;
        let mut block = BlockSchema::default()
            .attribute("name", a(AttrType::String, Req, "Name, 1-80 characters.").force_new())
            .attribute("resource_group_name", a(AttrType::String, Req, "Resource group.").force_new())
            .attribute("location", a(AttrType::String, Req, "Azure region.").force_new())
            .attribute("tags", a(AttrType::Map(Box::new(AttrType::String)), Opt, "Tags."))
            .attribute("id", a(AttrType::String, Presence::Computed, "ARM resource ID."))
            .block("sku", nested(Nesting::Single, true, "Size and tier.", BlockSchema::default()
                .attribute("name", a(AttrType::String, Req, "Standard_v2, WAF_v2 or Basic."))
                .attribute("tier", a(AttrType::String, Req, "Standard_v2, WAF_v2 or Basic (the same as name for v2)."))
                .attribute("capacity", a(AttrType::Number, Opt, "Instance count, 1-125."))))
            .block("identity", nested(Nesting::Single, false, "Managed identity, used to read Key Vault certificates.", BlockSchema::default()
                .attribute("type", a(AttrType::String, Opt, "UserAssigned.").default_value(Value::string("UserAssigned")))
                .attribute("identity_ids", a(AttrType::Set(Box::new(AttrType::String)), Req, "ARM IDs of user-assigned identities."))));
        for c in COLLECTIONS {
            let mut inner = BlockSchema::default().attribute("name", a(AttrType::String, Req, "Name, unique among its kind."));
            for field in c.fields {
                let mut s = a(attr_type(field.kind), field.presence, field.doc);
                if let Some(def) = field.default {
                    s = s.default_value(match def {
                        Def::Str(v) => Value::string(v),
                        Def::Num(n) => Value::Number(n),
                        Def::Bool(b) => Value::Bool(b),
                    });
                }
                inner = inner.attribute(field.attr, s);
            }
            block = block.block(c.block, nested(Nesting::List, c.required, c.doc, inner));
        }
        ResourceSchema {
            version: 0,
            description: "An Application Gateway (layer-7 load balancer): frontends, listeners (HTTP and HTTPS with Key Vault certificates), routing rules, backend pools and settings, probes.".into(),
            block,
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        validate_gateway(config)
    }

    fn resource_id(&self, subscription_id: &str, config: &Value) -> Option<String> {
        Some(format!("/subscriptions/{subscription_id}/resourceGroups/{}/providers/Microsoft.Network/applicationGateways/{}", string(config, "resource_group_name")?, string(config, "name")?))
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let gateway_id = string(config, "id").ok_or_else(|| ProviderError::new("the application gateway's ID is not known"))?;
        let sku = config.get("sku").map(|v| v.unmark().0).unwrap_or(&Value::Null);
        let mut sku_json = json!({"name": string(sku, "name"), "tier": string(sku, "tier")});
        if let Some(Value::Number(n)) = sku.get("capacity") {
            sku_json["capacity"] = json!(*n as i64);
        }
        let mut properties = Map::new();
        properties.insert("sku".into(), sku_json);
        for c in COLLECTIONS {
            let parts = items(config, c.block).into_iter().map(|item| part_body(&gateway_id, c, item));
            properties.insert(c.json.into(), Json::Array(parts.collect()));
        }
        let mut body = json!({"location": string(config, "location").unwrap_or_default(), "tags": tags(config), "properties": properties});
        if let Some(identity) = config.get("identity").filter(|v| !v.is_null()) {
            let ids: Map<String, Json> = strings(identity, "identity_ids").into_iter().map(|id| (id, json!({}))).collect();
            body["identity"] = json!({"type": string(identity, "type").unwrap_or_else(|| "UserAssigned".into()), "userAssignedIdentities": ids});
        }
        Ok(body)
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        state.set_or_insert("id", Value::string(id));
        for key in ["name", "location"] {
            if let Some(v) = response.get(key).and_then(Json::as_str) {
                state.set_or_insert(key, Value::string(v));
            }
        }
        state.set_or_insert("tags", object_tags(config, response));
        let props = response.get("properties").cloned().unwrap_or(Json::Null);
        let sku = props.get("sku").cloned().unwrap_or(Json::Null);
        let capacity = sku.get("capacity").and_then(Json::as_f64).map(Value::Number).unwrap_or(Value::Null);
        state.set_or_insert("sku", map([("name", json_str(&sku, "name")), ("tier", json_str(&sku, "tier")), ("capacity", capacity)]));
        state.set_or_insert("identity", identity_state(config, response));
        for c in COLLECTIONS {
            let configured = items(config, c.block);
            let own = |p: &Json| configured.iter().position(|c| string(c, "name").as_deref() == p.get("name").and_then(Json::as_str));
            let mut parts: Vec<&Json> = props.get(c.json).and_then(Json::as_array).map(|a| a.iter().collect()).unwrap_or_default();
            // In the configuration's order; parts added outside mesh last.
            parts.sort_by_key(|p| own(p).unwrap_or(usize::MAX));
            let values = parts.into_iter().map(|p| part_state(c, p, own(p).map(|i| configured[i])));
            state.set_or_insert(c.block, Value::List(values.collect()));
        }
        state
    }

    fn plan(&self, subscription_id: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        let mut planned = default_plan(&self.schema().block, prior, config);
        if let Some(id) = self.resource_id(subscription_id, config) {
            planned.planned.set_or_insert("id", Value::String(id));
        }
        // A private frontend's address is Azure's choice when unset: keep the one it chose.
        let before = prior.map(|p| items(p, "frontend_ip_configuration")).unwrap_or_default();
        if let Some(Value::List(frontends)) = planned.planned.get("frontend_ip_configuration").cloned() {
            let filled = frontends.into_iter().map(|mut fe| {
                if fe.get("private_ip_address").is_some_and(Value::is_null) && fe.get("subnet_id").is_some_and(|s| !s.is_null()) {
                    let chosen = before.iter().find(|p| p.get("name") == fe.get("name")).and_then(|p| p.get("private_ip_address")).filter(|v| !v.is_null());
                    fe.set_or_insert("private_ip_address", chosen.cloned().unwrap_or(Value::Unknown));
                }
                fe
            });
            planned.planned.set_or_insert("frontend_ip_configuration", Value::List(filled.collect()));
        }
        planned
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        arm_put(self, ctx, &self.with_id(ctx, config)).await
    }

    async fn update(&self, ctx: &Context, _prior: &Value, config: &Value) -> Result<Value, ProviderError> {
        arm_put(self, ctx, &self.with_id(ctx, config)).await
    }
}

impl ApplicationGateway {
    /// The configuration with its ARM ID, which the body's sub-resource IDs are built from.
    fn with_id(&self, ctx: &Context, config: &Value) -> Value {
        let mut config = config.clone();
        if let Some(id) = self.resource_id(ctx.client.subscription_id(), &config) {
            config.set_or_insert("id", Value::String(id));
        }
        config
    }
}

#[rustfmt::skip]
fn part_body(gateway_id: &str, c: &Collection, item: &Value) -> Json {
    let mut props = json!({});
    for field in c.fields {
        let value = item.get(field.attr).map(Value::strip_sensitive).unwrap_or(Value::Null);
        if value.is_null() || value.is_unknown() {
            continue;
        }
        let sub_id = |coll: &str, name: &Json| json!({"id": format!("{gateway_id}/{coll}/{}", name.as_str().unwrap_or_default())});
        let v = value.to_json();
        let json = match field.kind {
            Str | Bool | List => v,
            Num => v.as_f64().map(|n| if n.fract() == 0.0 { json!(n as i64) } else { json!(n) }).unwrap_or(v),
            Id => json!({"id": v}),
            Ref(coll) => sub_id(coll, &v),
            Refs(coll) => Json::Array(v.as_array().into_iter().flatten().map(|n| sub_id(coll, n)).collect()),
            Addr(key) => {
                let list = props.pointer_mut(&format!("/{}", field.path)).and_then(Json::as_array_mut).map(std::mem::take).unwrap_or_default();
                let added = v.as_array().into_iter().flatten().map(|s| json!({key: s}));
                Json::Array(list.into_iter().chain(added).collect())
            }
        };
        set_path(&mut props, field.path, json);
    }
    if c.json == FRONTEND_IPS && item.get("subnet_id").is_some_and(|s| !s.is_null()) {
        props["privateIPAllocationMethod"] = json!(if props.get("privateIPAddress").is_some() { "Static" } else { "Dynamic" });
    }
    json!({"name": string(item, "name").unwrap_or_default(), "properties": props})
}

#[rustfmt::skip]
fn part_state(c: &Collection, part: &Json, configured: Option<&Value>) -> Value {
    let props = part.get("properties").cloned().unwrap_or(Json::Null);
    let mut out = BTreeMap::from([("name".to_string(), json_str(part, "name"))]);
    for field in c.fields {
        let at = props.pointer(&format!("/{}", field.path));
        let last = |id: &Json| id.as_str().map(|s| Value::string(s.rsplit('/').next().unwrap_or(s)));
        let value = match field.kind {
            Str | Bool | Num => at.filter(|v| !v.is_null()).map(Value::from_json),
            List => at.and_then(Json::as_array).map(|a| Value::List(a.iter().map(Value::from_json).collect())),
            Id => at.and_then(|v| v.get("id")).and_then(Json::as_str).map(Value::string),
            Ref(_) => at.and_then(|v| v.get("id")).and_then(last),
            Refs(_) => at.and_then(Json::as_array).map(|a| Value::List(a.iter().filter_map(|r| r.get("id").and_then(last)).collect())),
            Addr(key) => at.and_then(Json::as_array).map(|a| sorted(a.iter().filter_map(|x| x.get(key)).map(Value::from_json).collect())),
        };
        let unset = configured.and_then(|c| c.get(field.attr)).is_none_or(Value::is_null);
        // An empty list Azure reports for an unset attribute is the same as unset.
        let value = match value {
            Some(Value::List(l)) if l.is_empty() && unset => Value::Null,
            Some(v) => v,
            None => Value::Null,
        };
        out.insert(field.attr.to_string(), value);
    }
    Value::Map(out)
}

#[rustfmt::skip]
fn identity_state(config: &Value, response: &Json) -> Value {
    let Some(identity) = response.get("identity").filter(|i| i.is_object()) else {
        return Value::Null;
    };
    let ty = identity.get("type").and_then(Json::as_str).unwrap_or("None");
    if ty.eq_ignore_ascii_case("None") {
        return Value::Null;
    }
    let configured = config.get("identity").map(|i| strings(i, "identity_ids")).unwrap_or_default();
    let spelled = |k: &String| Value::string(configured.iter().find(|c| c.eq_ignore_ascii_case(k)).unwrap_or(k).clone());
    let ids = identity.get("userAssignedIdentities").and_then(Json::as_object).map(|m| m.keys().map(spelled).collect());
    map([("type", Value::string(ty)), ("identity_ids", sorted(ids.unwrap_or_default()))])
}

#[rustfmt::skip]
fn validate_gateway(config: &Value) -> Vec<ProviderError> {
    let mut errors = Vec::new();
    let mut err = |attr: &str, message: String| errors.push(ProviderError::at_attribute(message, attr));
    let names_of = |block: &str| items(config, block).into_iter().map(|i| string(i, "name")).collect::<Option<Vec<_>>>();
    let name = |v: &Value| string(v, "name").unwrap_or_default();
    for c in COLLECTIONS {
        if let Some(mut names) = names_of(c.block) {
            names.sort();
            if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
                err(c.block, format!("two {} blocks are named \"{}\"", c.block, w[0]));
            }
        }
    }
    let gateway_ips = items(config, "gateway_ip_configuration");
    if gateway_ips.len() != 1 {
        err("gateway_ip_configuration", "an application gateway needs exactly one gateway_ip_configuration".into());
    }
    if gateway_ips.iter().any(|g| g.get("subnet_id").is_some_and(Value::is_null)) {
        err("gateway_ip_configuration", "an application gateway needs a dedicated subnet: set gateway_ip_configuration.subnet_id".into());
    }
    // Every reference by name resolves within the configuration.
    for c in COLLECTIONS {
        for item in items(config, c.block) {
            for field in c.fields {
                let (target, wanted) = match field.kind {
                    Ref(coll) => (coll, string(item, field.attr).into_iter().collect::<Vec<_>>()),
                    Refs(coll) => (coll, strings(item, field.attr)),
                    _ => continue,
                };
                let target_block = COLLECTIONS.iter().find(|t| t.json == target).map(|t| t.block).unwrap_or_default();
                let Some(existing) = names_of(target_block) else { continue };
                for missing in wanted.into_iter().filter(|w| !existing.contains(w)) {
                    err(c.block, format!("{} \"{}\" refers to {target_block} \"{missing}\", which is not defined", c.block, name(item)));
                }
            }
        }
    }
    for listener in items(config, "http_listener") {
        if string(listener, "protocol").as_deref() == Some("Https") && listener.get("ssl_certificate_name").is_some_and(Value::is_null) {
            err("http_listener", format!("the Https http_listener \"{}\" needs an ssl_certificate_name", name(listener)));
        }
    }
    for block in ["http_listener", "backend_http_settings", "probe"] {
        for p in items(config, block).into_iter().filter_map(|i| string(i, "protocol")) {
            if p != "Http" && p != "Https" {
                err(block, format!("{block}.protocol must be Http or Https, not \"{p}\""));
            }
        }
    }
    for fe in items(config, "frontend_ip_configuration") {
        if fe.get("public_ip_address_id").is_some_and(Value::is_null) && fe.get("subnet_id").is_some_and(Value::is_null) {
            err("frontend_ip_configuration", format!("frontend_ip_configuration \"{}\" needs public_ip_address_id or subnet_id", name(fe)));
        }
    }
    for root in items(config, "trusted_root_certificate") {
        if root.get("data").is_some_and(|v| !v.is_null()) == root.get("key_vault_secret_id").is_some_and(|v| !v.is_null()) {
            err("trusted_root_certificate", format!("trusted_root_certificate \"{}\" needs exactly one of data and key_vault_secret_id", name(root)));
        }
    }
    if !items(config, "ssl_certificate").is_empty() && config.get("identity").is_some_and(Value::is_null) {
        err("identity", "ssl_certificate blocks read Key Vault through a user-assigned identity: add an identity block".into());
    }
    let sku = config.get("sku").map(|v| v.unmark().0).unwrap_or(&Value::Null);
    if let Some(tier) = string(sku, "tier") {
        if !["Standard_v2", "WAF_v2", "Basic"].contains(&tier.as_str()) {
            err("sku", format!("sku.tier must be Standard_v2, WAF_v2 or Basic, not \"{tier}\""));
        } else if string(sku, "name").is_some_and(|n| n != tier) {
            err("sku", "sku.name must equal sku.tier".into());
        }
        for rule in items(config, "request_routing_rule") {
            match rule.get("priority").map(|v| v.unmark().0) {
                Some(Value::Null) => err("request_routing_rule", format!("request_routing_rule \"{}\" needs a priority (1-20000) with this SKU", name(rule))),
                Some(Value::Number(p)) if !(1.0..=20000.0).contains(p) => err("request_routing_rule", format!("request_routing_rule priority must be 1-20000, not {p}")),
                _ => {}
            }
        }
    }
    errors
}

fn set_path(target: &mut Json, path: &str, value: Json) {
    match path.split_once('/') {
        None => target[path] = value,
        Some((first, rest)) => {
            if !target.get(first).is_some_and(Json::is_object) {
                target[first] = json!({});
            }
            set_path(&mut target[first], rest, value);
        }
    }
}

fn items<'a>(v: &'a Value, block: &str) -> Vec<&'a Value> {
    match v.get(block).map(|v| v.unmark().0) {
        Some(Value::List(items)) => items
            .iter()
            .map(|i| i.unmark().0)
            .filter(|i| matches!(i, Value::Map(_)))
            .collect(),
        _ => Vec::new(),
    }
}

fn strings(v: &Value, name: &str) -> Vec<String> {
    match v.get(name).map(|v| v.unmark().0) {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|i| i.unmark().0.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn sorted(mut items: Vec<Value>) -> Value {
    items.sort_by_key(|v| v.to_string());
    items.dedup();
    Value::List(items)
}

fn json_str(v: &Json, key: &str) -> Value {
    v.get(key)
        .and_then(Json::as_str)
        .map(Value::string)
        .unwrap_or(Value::Null)
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

#[cfg(test)]
#[rustfmt::skip]
mod tests {
    use super::*;

    const SUB: &str = "/subscriptions/sub/resourceGroups/rg/providers";
    const GW: &str = "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/applicationGateways/agw";

    /// A configuration as the engine hands it over: every attribute present, defaults applied.
    fn complete(block: &BlockSchema, partial: &Json) -> Value {
        let mut out = BTreeMap::new();
        for (name, attr) in &block.attributes {
            let v = partial.get(name).map(Value::from_json);
            out.insert(name.clone(), v.or(attr.default.clone()).unwrap_or(Value::Null));
        }
        for (name, nested) in &block.blocks {
            let v = match (nested.nesting, partial.get(name)) {
                (Nesting::List, Some(Json::Array(a))) => Value::List(a.iter().map(|i| complete(&nested.block, i)).collect()),
                (Nesting::List, _) => Value::List(vec![]),
                (Nesting::Single, Some(o)) => complete(&nested.block, o),
                (Nesting::Single, None) => Value::Null,
            };
            out.insert(name.clone(), v);
        }
        Value::Map(out)
    }

    fn config() -> Value {
        let net = format!("{SUB}/Microsoft.Network");
        complete(&ApplicationGateway.schema().block, &json!({
            "name": "agw", "resource_group_name": "rg", "location": "westeurope",
            "sku": {"name": "Standard_v2", "tier": "Standard_v2", "capacity": 2},
            "identity": {"identity_ids": [format!("{SUB}/Microsoft.ManagedIdentity/userAssignedIdentities/agw-id")]},
            "gateway_ip_configuration": [{"name": "gw-ip", "subnet_id": format!("{net}/virtualNetworks/vnet/subnets/AppGateway")}],
            "frontend_ip_configuration": [
                {"name": "public", "public_ip_address_id": format!("{net}/publicIPAddresses/agw-pip")},
                {"name": "private", "subnet_id": format!("{net}/virtualNetworks/vnet/subnets/AppGateway"), "private_ip_address": "10.0.3.10"},
            ],
            "frontend_port": [{"name": "http", "port": 80}, {"name": "https", "port": 443}],
            "backend_address_pool": [{"name": "pool", "fqdns": ["echo.internal.example.com"], "ip_addresses": ["10.0.4.4"]}],
            "backend_http_settings": [{"name": "tls", "port": 443, "protocol": "Https", "host_name": "echo.internal.example.com", "probe_name": "health", "trusted_root_certificate_names": ["root"]}],
            "probe": [{"name": "health", "protocol": "Https", "path": "/healthz", "host": "echo.internal.example.com", "match_status_codes": ["200-399"]}],
            "ssl_certificate": [{"name": "frontend", "key_vault_secret_id": "https://kv.vault.azure.net/secrets/frontend-certificate"}],
            "trusted_root_certificate": [{"name": "root", "data": "MIIBroot"}],
            "http_listener": [
                {"name": "http", "frontend_ip_configuration_name": "public", "frontend_port_name": "http", "protocol": "Http"},
                {"name": "https", "frontend_ip_configuration_name": "public", "frontend_port_name": "https", "protocol": "Https", "ssl_certificate_name": "frontend", "host_name": "echo.example.com"},
            ],
            "request_routing_rule": [
                {"name": "http", "priority": 100, "http_listener_name": "http", "backend_address_pool_name": "pool", "backend_http_settings_name": "tls"},
                {"name": "https", "priority": 200, "http_listener_name": "https", "backend_address_pool_name": "pool", "backend_http_settings_name": "tls"},
            ],
        }))
    }

    fn with_id(mut c: Value) -> Value {
        c.set_or_insert("id", Value::string(GW));
        c
    }

    #[test]
    fn body_references_parts_by_sub_resource_id() {
        let body = ApplicationGateway.to_body(&with_id(config())).expect("body");
        let p = &body["properties"];
        assert_eq!(p["sku"], json!({"name": "Standard_v2", "tier": "Standard_v2", "capacity": 2}));
        assert_eq!(p["gatewayIPConfigurations"][0]["properties"]["subnet"]["id"], json!(format!("{SUB}/Microsoft.Network/virtualNetworks/vnet/subnets/AppGateway")));
        assert_eq!(p["frontendIPConfigurations"][1]["properties"], json!({
            "subnet": {"id": format!("{SUB}/Microsoft.Network/virtualNetworks/vnet/subnets/AppGateway")},
            "privateIPAddress": "10.0.3.10", "privateIPAllocationMethod": "Static",
        }));
        assert_eq!(p["httpListeners"][1], json!({"name": "https", "properties": {
            "frontendIPConfiguration": {"id": format!("{GW}/frontendIPConfigurations/public")},
            "frontendPort": {"id": format!("{GW}/frontendPorts/https")},
            "protocol": "Https", "hostName": "echo.example.com",
            "sslCertificate": {"id": format!("{GW}/sslCertificates/frontend")},
        }}));
        assert_eq!(p["backendHttpSettingsCollection"][0]["properties"], json!({
            "port": 443, "protocol": "Https", "cookieBasedAffinity": "Disabled", "requestTimeout": 30,
            "hostName": "echo.internal.example.com", "pickHostNameFromBackendAddress": false,
            "probe": {"id": format!("{GW}/probes/health")},
            "trustedRootCertificates": [{"id": format!("{GW}/trustedRootCertificates/root")}],
        }));
        assert_eq!(p["backendAddressPools"][0]["properties"]["backendAddresses"], json!([{"fqdn": "echo.internal.example.com"}, {"ipAddress": "10.0.4.4"}]));
        assert_eq!(p["probes"][0]["properties"]["match"], json!({"statusCodes": ["200-399"]}));
        assert_eq!(p["requestRoutingRules"][0]["properties"], json!({
            "priority": 100, "ruleType": "Basic",
            "httpListener": {"id": format!("{GW}/httpListeners/http")},
            "backendAddressPool": {"id": format!("{GW}/backendAddressPools/pool")},
            "backendHttpSettings": {"id": format!("{GW}/backendHttpSettingsCollection/tls")},
        }));
        assert_eq!(p["sslCertificates"][0]["properties"], json!({"keyVaultSecretId": "https://kv.vault.azure.net/secrets/frontend-certificate"}));
        assert_eq!(body["identity"]["type"], json!("UserAssigned"));
        assert!(ApplicationGateway.to_body(&config()).is_err(), "no ID, no sub-resource IDs");
    }

    #[test]
    fn state_of_the_response_reproduces_the_configuration() {
        let cfg = with_id(config());
        let mut response = ApplicationGateway.to_body(&cfg).unwrap();
        response["id"] = json!(GW);
        response["name"] = json!("agw");
        response["properties"]["provisioningState"] = json!("Succeeded");
        // Azure returns parts in its own order and adds ids and states.
        response["properties"]["frontendPorts"].as_array_mut().unwrap().reverse();
        response["properties"]["frontendPorts"][0]["id"] = json!(format!("{GW}/frontendPorts/https"));
        let state = ApplicationGateway.to_state(&cfg, GW, &response);
        assert_eq!(state, cfg);
        let planned = ApplicationGateway.plan("sub", Some(&state), &config());
        assert_eq!(planned.planned, state, "a plan right after apply changes nothing");
        assert!(planned.requires_replace.is_empty());

        // Changes made outside mesh show up.
        response["properties"]["probes"][0]["properties"]["path"] = json!("/other");
        let drifted = ApplicationGateway.to_state(&cfg, GW, &response);
        assert_eq!(drifted.get("probe").unwrap().as_list().unwrap()[0].get("path"), Some(&Value::string("/other")));
    }

    #[test]
    fn plans_keep_the_address_azure_chose() {
        let mut cfg = config();
        let Some(Value::List(fes)) = cfg.get("frontend_ip_configuration").cloned() else { panic!() };
        let fes: Vec<Value> = fes.into_iter().map(|mut f| { f.set_or_insert("private_ip_address", Value::Null); f }).collect();
        cfg.set_or_insert("frontend_ip_configuration", Value::List(fes));
        let fresh = ApplicationGateway.plan("sub", None, &cfg).planned;
        let private = |v: &Value, i: usize| v.get("frontend_ip_configuration").unwrap().as_list().unwrap()[i].get("private_ip_address").cloned();
        assert_eq!(private(&fresh, 1), Some(Value::Unknown));
        assert_eq!(private(&fresh, 0), Some(Value::Null), "a public frontend has no private address");
        let mut prior = fresh.clone();
        let Some(Value::List(mut fes)) = prior.get("frontend_ip_configuration").cloned() else { panic!() };
        fes[1].set_or_insert("private_ip_address", Value::string("10.0.3.4"));
        prior.set_or_insert("frontend_ip_configuration", Value::List(fes));
        let again = ApplicationGateway.plan("sub", Some(&prior), &cfg).planned;
        assert_eq!(private(&again, 1), Some(Value::string("10.0.3.4")));
    }

    #[test]
    fn checks_references_https_listeners_and_the_subnet() {
        assert!(ApplicationGateway.validate(&config()).is_empty(), "{:?}", ApplicationGateway.validate(&config()));
        let edit = |block: &str, i: usize, attr: &str, v: Value| {
            let mut c = config();
            let Some(Value::List(mut items)) = c.get(block).cloned() else { panic!() };
            items[i].set_or_insert(attr, v);
            c.set_or_insert(block, Value::List(items));
            ApplicationGateway.validate(&c)
        };
        let messages = |e: Vec<ProviderError>| e.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; ");
        assert!(messages(edit("request_routing_rule", 0, "backend_address_pool_name", Value::string("nope"))).contains("backend_address_pool \"nope\", which is not defined"));
        assert!(messages(edit("http_listener", 1, "ssl_certificate_name", Value::Null)).contains("needs an ssl_certificate_name"));
        assert!(messages(edit("gateway_ip_configuration", 0, "subnet_id", Value::Null)).contains("dedicated subnet"));
        assert!(messages(edit("backend_http_settings", 0, "probe_name", Value::string("gone"))).contains("probe \"gone\""));
        assert!(messages(edit("request_routing_rule", 1, "priority", Value::Null)).contains("needs a priority"));
        assert!(edit("request_routing_rule", 0, "backend_address_pool_name", Value::Unknown).is_empty(), "unknowns are accepted");
        let mut no_identity = config();
        no_identity.set_or_insert("identity", Value::Null);
        assert_eq!(ApplicationGateway.validate(&no_identity).len(), 1);
    }
}
