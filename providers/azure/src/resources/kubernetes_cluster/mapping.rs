//! How the cluster's nested blocks map to and from the managedCluster body: add-on profiles,
//! the network profile, the service mesh profile and the cluster identity.

use mesh_engine::value::Value;
use serde_json::{json, Map, Value as Json};

use super::super::config::string;
use super::super::generic_resource::values::{block, flag, jstr, map, same_id, strings};

pub(super) fn addon_body(name: &str, config: Option<&Value>) -> Json {
    let Some(c) = config else {
        return json!({"enabled": false});
    };
    let cfg = match name {
        "key_vault_secrets_provider" => json!({
            "enableSecretRotation": if flag(c, "secret_rotation_enabled").unwrap_or(false) { "true" } else { "false" },
            "rotationPollInterval": string(c, "secret_rotation_interval").unwrap_or_else(|| "2m".into()),
        }),
        "ingress_application_gateway" => json!({"applicationGatewayId": string(c, "gateway_id")}),
        _ => json!({"logAnalyticsWorkspaceResourceID": string(c, "log_analytics_workspace_id")}),
    };
    json!({"enabled": true, "config": cfg})
}

pub(super) fn addon_state(name: &str, config: Option<&Value>, profile: &Json) -> Value {
    let cfg = |k: &str| jstr(profile, &format!("/config/{k}"));
    let id = |attr: &str, k: &str| {
        same_id(
            config.and_then(|c| string(c, attr)),
            &cfg(k).unwrap_or_default(),
        )
    };
    match name {
        "key_vault_secrets_provider" => map([
            (
                "secret_rotation_enabled",
                Value::Bool(cfg("enableSecretRotation").as_deref() == Some("true")),
            ),
            (
                "secret_rotation_interval",
                Value::string(cfg("rotationPollInterval").unwrap_or_else(|| "2m".into())),
            ),
        ]),
        "ingress_application_gateway" => {
            map([("gateway_id", id("gateway_id", "applicationGatewayId"))])
        }
        _ => map([(
            "log_analytics_workspace_id",
            id(
                "log_analytics_workspace_id",
                "logAnalyticsWorkspaceResourceID",
            ),
        )]),
    }
}

/// A key of a JSON object, case-insensitively (ARM returns `omsagent` or `omsAgent`).
pub(super) fn get_ci<'a>(obj: Option<&'a Json>, key: &str) -> Option<&'a Json> {
    obj?.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

pub(super) fn network_body(np: &Value) -> Json {
    let mut n = Map::new();
    for (attr, field) in [
        ("network_plugin", "networkPlugin"),
        ("network_policy", "networkPolicy"),
        ("service_cidr", "serviceCidr"),
        ("dns_service_ip", "dnsServiceIP"),
        ("pod_cidr", "podCidr"),
        ("load_balancer_sku", "loadBalancerSku"),
        ("outbound_type", "outboundType"),
    ] {
        if let Some(v) = string(np, attr) {
            n.insert(field.into(), Json::String(v));
        }
    }
    Json::Object(n)
}

pub(super) fn network_state(config: &Value, resp: &Json) -> Value {
    let mut state = config.clone();
    for (attr, field, always) in [
        ("network_plugin", "networkPlugin", true),
        ("network_policy", "networkPolicy", false),
        ("service_cidr", "serviceCidr", false),
        ("dns_service_ip", "dnsServiceIP", false),
        ("pod_cidr", "podCidr", false),
        ("load_balancer_sku", "loadBalancerSku", true),
        ("outbound_type", "outboundType", true),
    ] {
        // Values Azure fills in when unset (the service range, its DNS address) stay unset.
        if always || string(config, attr).is_some() {
            let v = jstr(resp, &format!("/{field}"))
                .map(Value::String)
                .unwrap_or(Value::Null);
            state.set_or_insert(attr, v);
        }
    }
    state
}

pub(super) fn mesh_body(mesh: Option<&Value>) -> Json {
    let Some(m) = mesh else {
        return json!({"mode": "Disabled"});
    };
    let mut istio = Map::new();
    if let Some(revs) = strings(m, "revisions") {
        istio.insert("revisions".into(), json!(revs));
    }
    if let Some(ca) = block(m, "certificate_authority") {
        istio.insert(
            "certificateAuthority".into(),
            json!({"plugin": {
                "keyVaultId": string(ca, "key_vault_id"),
                "rootCertObjectName": string(ca, "root_cert_object_name"),
                "certObjectName": string(ca, "cert_object_name"),
                "keyObjectName": string(ca, "key_object_name"),
                "certChainObjectName": string(ca, "cert_chain_object_name"),
            }}),
        );
    }
    json!({"mode": string(m, "mode").unwrap_or_else(|| "Istio".into()), "istio": istio})
}

pub(super) fn mesh_state(config: Option<&Value>, resp: &Json) -> Value {
    let mode = jstr(resp, "/mode").unwrap_or_default();
    if mode.is_empty() || mode.eq_ignore_ascii_case("Disabled") {
        return Value::Null;
    }
    let revisions = match (
        config.and_then(|c| strings(c, "revisions")),
        resp.pointer("/istio/revisions"),
    ) {
        (Some(_), Some(r)) => Value::from_json(r),
        _ => Value::Null,
    };
    let ca_config = config.and_then(|c| block(c, "certificate_authority"));
    let ca = match resp.pointer("/istio/certificateAuthority/plugin") {
        Some(p) => {
            let f = |k: &str| {
                jstr(p, &format!("/{k}"))
                    .map(Value::String)
                    .unwrap_or(Value::Null)
            };
            let vault = jstr(p, "/keyVaultId").unwrap_or_default();
            map([
                (
                    "key_vault_id",
                    same_id(ca_config.and_then(|c| string(c, "key_vault_id")), &vault),
                ),
                ("root_cert_object_name", f("rootCertObjectName")),
                ("cert_object_name", f("certObjectName")),
                ("key_object_name", f("keyObjectName")),
                ("cert_chain_object_name", f("certChainObjectName")),
            ])
        }
        None => Value::Null,
    };
    map([
        ("mode", Value::string(mode)),
        ("revisions", revisions),
        ("certificate_authority", ca),
    ])
}

pub(super) fn identity_state(config: Option<&Value>, resp: Option<&Json>) -> Value {
    let Some(resp) = resp else {
        return config.cloned().unwrap_or(Value::Null);
    };
    let configured = config
        .and_then(|c| strings(c, "identity_ids"))
        .unwrap_or_default();
    let ids: Vec<Value> = resp
        .get("userAssignedIdentities")
        .and_then(Json::as_object)
        .map(|m| {
            m.keys()
                .map(|k| {
                    same_id(
                        configured
                            .iter()
                            .find(|c| c.eq_ignore_ascii_case(k))
                            .cloned(),
                        k,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let unset = config.is_none_or(|c| strings(c, "identity_ids").is_none());
    map([
        (
            "type",
            Value::string(jstr(resp, "/type").unwrap_or_default()),
        ),
        (
            "identity_ids",
            if ids.is_empty() && unset {
                Value::Null
            } else {
                Value::List(ids)
            },
        ),
    ])
}
