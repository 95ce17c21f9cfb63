//! The mesh configuration ConfigMap `istio-<revision>` istiod reads (key `mesh`, YAML).

use serde_json::{json, Map, Value};

use super::{namespaced_meta, RenderContext, ISTIO_NAMESPACE};

/// Proxy metadata that turns on the sidecar agent's DNS proxy and its automatic address
/// allocation for ServiceEntries without addresses.
pub(crate) const DNS_CAPTURE_METADATA: &[(&str, &str)] = &[
    ("ISTIO_META_DNS_CAPTURE", "true"),
    ("ISTIO_META_DNS_AUTO_ALLOCATE", "true"),
];

/// ConfigMap `istio-<revision>` with `mesh` and `meshNetworks`.
pub(crate) fn render_mesh_config_map(ctx: &RenderContext) -> Value {
    let name = format!("istio-{}", ctx.revision);
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": namespaced_meta(&name, ISTIO_NAMESPACE, ctx.labels(&[])),
        "data": {
            "mesh": mesh_config_yaml(ctx),
            // Networks are discovered from the topology.istio.io/network labels of
            // namespaces and gateway Services, so no static network table is needed.
            "meshNetworks": "networks: {}\n",
        },
    })
}

/// The mesh config document (`meshConfig` of an IstioOperator) as YAML.
pub(crate) fn mesh_config_yaml(ctx: &RenderContext) -> String {
    let config = mesh_config(ctx);
    // Serializing a JSON value to YAML cannot fail: every key is a string.
    serde_yaml::to_string(&config).unwrap_or_default()
}

fn mesh_config(ctx: &RenderContext) -> Value {
    let spec = ctx.spec;
    let mut config = Map::new();
    if let Some(path) = &spec.access_log_file {
        config.insert("accessLogFile".to_string(), json!(path));
    }
    config.insert("defaultConfig".to_string(), default_proxy_config(ctx));
    config.insert("enablePrometheusMerge".to_string(), json!(true));
    config.insert("meshId".to_string(), json!(spec.mesh_id));
    config.insert(
        "outboundTrafficPolicy".to_string(),
        json!({ "mode": spec.outbound_traffic_policy.as_mesh_config() }),
    );
    config.insert("rootNamespace".to_string(), json!(ISTIO_NAMESPACE));
    config.insert("trustDomain".to_string(), json!(spec.trust_domain));
    Value::Object(config)
}

/// `defaultConfig`: the ProxyConfig every sidecar and gateway of this revision starts from.
fn default_proxy_config(ctx: &RenderContext) -> Value {
    let mut proxy = Map::new();
    proxy.insert("discoveryAddress".to_string(), json!(ctx.istiod_address()));
    if ctx.spec.dns_capture {
        let metadata: Map<String, Value> = DNS_CAPTURE_METADATA
            .iter()
            .map(|(key, value)| ((*key).to_string(), json!(value)))
            .collect();
        proxy.insert("proxyMetadata".to_string(), Value::Object(metadata));
    }
    Value::Object(proxy)
}
