//! `istio_control_plane`: one revision of Istio in one cluster — CRDs, istiod, webhooks and
//! the gateways — rendered by [`crate::istio::render_control_plane`] and applied like any other
//! object set. Refresh keeps a digest per object of the fields mesh declares, so a changed or
//! deleted object shows as drift by name without putting whole objects in state.

use std::collections::BTreeMap;

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::Value as Json;

use super::{string, ObjectSetType};
use crate::istio::{
    self, CaSource, ControlPlaneSpec, EastWestSpec, GatewayPort, GatewaySpec, OutboundPolicy,
    RouterMode, Scheduling, ServiceType, Toleration,
};
use crate::object_digests::{declared_digests, observed_digests};
use crate::wait::Waits;

/// `istio_control_plane`.
pub struct IstioControlPlane;

impl ObjectSetType for IstioControlPlane {
    fn name(&self) -> &'static str {
        "istio_control_plane"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema {
            version: 0,
            description: "One revision of Istio's control plane in one cluster (profile \
                          minimal), with optional ingress and east-west gateways. mesh renders \
                          every object itself (docs/istio-install.md); a new version installs a \
                          new revision beside the old one."
                .into(),
            block: schema_block(),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let errors = unknown_keys(config);
        let mut settings = config.clone();
        settings.set_or_insert("cluster", Value::Null);
        if !errors.is_empty() || settings.is_unknown_deep() {
            return errors;
        }
        match spec_of(&settings) {
            Ok(spec) => istio::validate(&spec)
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(ProviderError::new)
                .collect(),
            Err(e) => vec![e],
        }
    }

    fn objects(&self, attrs: &Value) -> Result<Vec<Json>, ProviderError> {
        let spec = spec_of(attrs)?;
        istio::render_control_plane(&spec).map_err(|e| ProviderError::new(e.to_string()))
    }

    fn plan_computed(&self, config: &Value, planned: &mut Value) -> Result<(), ProviderError> {
        if let Some(Value::String(version)) = planned.get("version").map(|v| v.unmark().0) {
            // Derived from the version whenever the configuration names no revision, so a new
            // version plans a new revision rather than keeping the prior one.
            let unset = config.get("revision").is_none_or(Value::is_null);
            if unset {
                let revision = istio::revision_of(version);
                planned.set_or_insert("revision", Value::string(revision));
            }
        }
        let digests = match spec_of(planned) {
            Ok(spec) => match istio::render_control_plane(&spec) {
                Ok(objects) => declared_digests(&objects),
                Err(e) => return Err(ProviderError::new(e.to_string())),
            },
            Err(_) => Value::Unknown,
        };
        planned.set_or_insert("objects", digests);
        Ok(())
    }

    fn observed(&self, attrs: &Value, live: &BTreeMap<String, Json>) -> Value {
        let mut attrs = attrs.clone();
        if let Ok(objects) = self.objects(&attrs) {
            attrs.set_or_insert("objects", observed_digests(&objects, live));
        }
        attrs
    }

    fn applied(&self, attrs: &Value, live: &BTreeMap<String, Json>) -> Value {
        let mut attrs = self.observed(attrs, live);
        for (attribute, block, default_name) in [
            (
                "ingress_gateway_address",
                "ingress_gateway",
                "istio-ingressgateway",
            ),
            (
                "eastwest_gateway_address",
                "eastwest_gateway",
                "istio-eastwestgateway",
            ),
        ] {
            let address = gateway_address(&attrs, block, default_name, live);
            attrs.set_or_insert(attribute, address);
        }
        attrs
    }

    fn snapshot_attributes(&self) -> &'static [&'static str] {
        &["ingress_gateway_address", "eastwest_gateway_address"]
    }

    fn may_delete(&self, declared: &Json, live: &Json) -> bool {
        istio::may_delete(declared, live)
    }

    fn waits(&self, attrs: &Value) -> Waits {
        let _ = attrs;
        Waits {
            rollout: true,
            load_balancer: true,
            ..Waits::default()
        }
    }
}

fn gateway_address(
    attrs: &Value,
    block: &str,
    default_name: &str,
    live: &BTreeMap<String, Json>,
) -> Value {
    let Some(gateway) = attrs.get(block).filter(|g| !g.is_null()) else {
        return Value::Null;
    };
    let name = text(gateway, "name").unwrap_or_else(|| default_name.to_string());
    let namespace = text(gateway, "namespace").unwrap_or_else(|| istio::ISTIO_NAMESPACE.into());
    let key = format!("v1/Service/{namespace}/{name}");
    let Some(service) = live.get(&key) else {
        return Value::Null;
    };
    let ingress = service.pointer("/status/loadBalancer/ingress/0");
    let address = ingress
        .and_then(|i| i.get("ip").or_else(|| i.get("hostname")))
        .or_else(|| service.pointer("/spec/clusterIP"))
        .and_then(Json::as_str);
    address.map(Value::string).unwrap_or(Value::Null)
}

fn schema_block() -> BlockSchema {
    use Presence::{Computed, Optional, OptionalComputed, Required};
    let bool_attr = |description: &str, default: bool| {
        AttributeSchema::new(AttrType::Bool, Optional, description)
            .default_value(Value::Bool(default))
    };
    BlockSchema::default()
        .attribute("cluster", super::cluster_attribute())
        .attribute("version", string(Required, "Istio release, e.g. `1.14.1` (see docs/istio-install.md for the supported ones)."))
        .attribute("revision", string(OptionalComputed, "Revision name; default derived from the version (`1.14.1` → `1-14-1`). Namespaces opt in with `istio.io/rev`."))
        .attribute("hub", string(Optional, "Image registry/repository of the pilot and proxyv2 images (default docker.io/istio)."))
        .attribute("mesh_id", string(Required, "The mesh ID, the same in every cluster of the mesh."))
        .attribute("cluster_name", string(Required, "This cluster's name in the mesh (istiod's CLUSTER_ID); unique per cluster."))
        .attribute("network", string(Optional, "This cluster's network; clusters on different networks need east-west gateways."))
        .attribute("trust_domain", string(Optional, "SPIFFE trust domain.").default_value(Value::string("cluster.local")))
        .attribute("access_log_file", string(Optional, "Envoy access log path, e.g. `/dev/stdout`."))
        .attribute("outbound_traffic_policy", string(Optional, "`ALLOW_ANY` or `REGISTRY_ONLY`.").default_value(Value::string("ALLOW_ANY")))
        .attribute("dns_capture", bool_attr("Let sidecars answer DNS (ISTIO_META_DNS_CAPTURE, auto-allocated VIPs for ServiceEntries).", false))
        .attribute("default_revision", bool_attr("Also serve namespaces labelled `istio-injection=enabled`.", true))
        .attribute("ca_source", string(Optional, "Where istiod's intermediate CA comes from: `self_signed`, `cacerts` (the Secret istio-system/cacerts) or `key_vault` (a SecretProviderClass mounted into istiod).").default_value(Value::string("self_signed")))
        .attribute("ca_secret_provider_class", string(Optional, "The SecretProviderClass in istio-system, with `ca_source = \"key_vault\"`."))
        .attribute("objects", AttributeSchema::new(AttrType::Map(Box::new(AttrType::String)), Computed, "A digest of each rendered object's declared fields, by `apiVersion/kind/namespace/name`; refresh shows which object changed outside mesh."))
        .attribute("ingress_gateway_address", string(Computed, "The ingress gateway Service's address after apply (load balancer IP, or cluster IP)."))
        .attribute("eastwest_gateway_address", string(Computed, "The east-west gateway's load balancer address after apply."))
        .attribute("istiod", object_attr("istiod's Deployment: `{ replicas, node_selector, env }`."))
        .attribute("ingress_gateway", object_attr("A north-south ingress gateway: `{ name, namespace, labels, service_type (ClusterIP | NodePort | LoadBalancer), router_mode (standard | sni-dnat), ports = [{ name, port, target_port, node_port }], internal_load_balancer, service_annotations, certs_secret_provider_class, replicas, node_selector }`; null for none."))
        .attribute("eastwest_gateway", object_attr("The east-west gateway of a multi-network mesh (ports 15021, 15443, 15012, 15017) and the cross-network Gateway: `{ name, internal_load_balancer, expose_services, service_annotations, replicas, node_selector }`; null for none."))
        .attribute("tolerations_all", bool_attr("Shorthand: istiod and gateways tolerate every taint (AKS system pools tainted CriticalAddonsOnly).", false))
}

fn object_attr(description: &str) -> AttributeSchema {
    AttributeSchema::new(AttrType::Any, Presence::Optional, description)
}

/// The keys each object attribute accepts.
const OBJECT_KEYS: [(&str, &[&str]); 3] = [
    ("istiod", &["replicas", "node_selector", "env"]),
    (
        "ingress_gateway",
        &[
            "name",
            "namespace",
            "labels",
            "service_type",
            "router_mode",
            "ports",
            "internal_load_balancer",
            "service_annotations",
            "certs_secret_provider_class",
            "replicas",
            "node_selector",
        ],
    ),
    (
        "eastwest_gateway",
        &[
            "name",
            "internal_load_balancer",
            "expose_services",
            "service_annotations",
            "replicas",
            "node_selector",
        ],
    ),
];

/// Keys of the object attributes that mean nothing: most likely typos.
fn unknown_keys(config: &Value) -> Vec<ProviderError> {
    let mut errors = Vec::new();
    for (attribute, keys) in OBJECT_KEYS {
        let Some(map) = config.get(attribute).and_then(|v| v.unmark().0.as_map()) else {
            continue;
        };
        for key in map.keys().filter(|k| !keys.contains(&k.as_str())) {
            errors.push(ProviderError::at_attribute(
                format!(
                    "{attribute} has no setting \"{key}\"; it takes {}",
                    keys.join(", ")
                ),
                attribute,
            ));
        }
    }
    errors
}

fn text(value: &Value, name: &str) -> Option<String> {
    value
        .get(name)
        .and_then(|v| v.unmark().0.as_str())
        .map(str::to_string)
}

fn flag(value: &Value, name: &str) -> Option<bool> {
    match value.get(name).map(|v| v.unmark().0) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    }
}

fn count(value: &Value, name: &str) -> Result<Option<u32>, ProviderError> {
    match value.get(name).map(|v| v.unmark().0) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if *n >= 0.0 && n.fract() == 0.0 && *n <= f64::from(u32::MAX) => {
            Ok(Some(*n as u32))
        }
        Some(other) => Err(ProviderError::at_attribute(
            format!("{name} must be a whole number, not {}", other.type_name()),
            name,
        )),
    }
}

fn strings(value: &Value, name: &str) -> BTreeMap<String, String> {
    value
        .get(name)
        .and_then(|v| v.unmark().0.as_map())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.unmark().0.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn required(value: &Value, name: &str) -> Result<String, ProviderError> {
    text(value, name)
        .ok_or_else(|| ProviderError::at_attribute(format!("{name} is required"), name))
}

/// The render spec of a configuration (or stored state).
fn spec_of(attrs: &Value) -> Result<ControlPlaneSpec, ProviderError> {
    let mut spec = ControlPlaneSpec::new(
        &required(attrs, "version")?,
        &required(attrs, "mesh_id")?,
        &required(attrs, "cluster_name")?,
    );
    spec.revision = text(attrs, "revision");
    spec.hub = text(attrs, "hub");
    spec.network = text(attrs, "network");
    if let Some(domain) = text(attrs, "trust_domain") {
        spec.trust_domain = domain;
    }
    spec.access_log_file = text(attrs, "access_log_file");
    spec.outbound_traffic_policy = match text(attrs, "outbound_traffic_policy").as_deref() {
        None | Some("ALLOW_ANY") => OutboundPolicy::AllowAny,
        Some("REGISTRY_ONLY") => OutboundPolicy::RegistryOnly,
        Some(other) => {
            return Err(ProviderError::at_attribute(
                format!(
                    "outbound_traffic_policy must be ALLOW_ANY or REGISTRY_ONLY, not \"{other}\""
                ),
                "outbound_traffic_policy",
            ))
        }
    };
    spec.dns_capture = flag(attrs, "dns_capture").unwrap_or(false);
    spec.default_revision = flag(attrs, "default_revision").unwrap_or(true);
    spec.ca = ca_of(attrs)?;
    let tolerate_all = flag(attrs, "tolerations_all").unwrap_or(false);
    if let Some(istiod) = attrs.get("istiod").filter(|b| !b.is_null()) {
        spec.istiod.replicas = count(istiod, "replicas")?.unwrap_or(1);
        spec.istiod.env = strings(istiod, "env");
        spec.istiod.scheduling = scheduling_of(istiod, tolerate_all);
    } else {
        spec.istiod.scheduling = scheduling_of(&Value::Null, tolerate_all);
    }
    if let Some(block) = attrs.get("ingress_gateway").filter(|b| !b.is_null()) {
        spec.ingress_gateway = Some(ingress_of(block, tolerate_all)?);
    }
    if let Some(block) = attrs.get("eastwest_gateway").filter(|b| !b.is_null()) {
        spec.eastwest_gateway = Some(eastwest_of(block, tolerate_all)?);
    }
    Ok(spec)
}

fn ca_of(attrs: &Value) -> Result<CaSource, ProviderError> {
    match text(attrs, "ca_source").as_deref() {
        None | Some("self_signed") => Ok(CaSource::SelfSigned),
        Some("cacerts") => Ok(CaSource::CacertsSecret),
        Some("key_vault") => {
            let class = text(attrs, "ca_secret_provider_class").ok_or_else(|| {
                ProviderError::at_attribute(
                    "ca_source = \"key_vault\" needs ca_secret_provider_class (the SecretProviderClass in istio-system)",
                    "ca_secret_provider_class",
                )
            })?;
            Ok(CaSource::KeyVault {
                secret_provider_class: class,
            })
        }
        Some(other) => Err(ProviderError::at_attribute(
            format!("ca_source must be self_signed, cacerts or key_vault, not \"{other}\""),
            "ca_source",
        )),
    }
}

fn scheduling_of(block: &Value, tolerate_all: bool) -> Scheduling {
    let tolerations = if tolerate_all {
        vec![Toleration {
            key: None,
            operator: "Exists".into(),
            value: None,
            effect: None,
        }]
    } else {
        Vec::new()
    };
    Scheduling {
        node_selector: strings(block, "node_selector"),
        tolerations,
    }
}

fn ingress_of(block: &Value, tolerate_all: bool) -> Result<GatewaySpec, ProviderError> {
    let mut gateway = GatewaySpec::default();
    if let Some(name) = text(block, "name") {
        gateway.name = name;
    }
    if let Some(namespace) = text(block, "namespace") {
        gateway.namespace = namespace;
    }
    let labels = strings(block, "labels");
    if !labels.is_empty() {
        gateway.labels = labels;
    }
    gateway.service_type = match text(block, "service_type").as_deref() {
        None | Some("LoadBalancer") => ServiceType::LoadBalancer,
        Some("ClusterIP") => ServiceType::ClusterIp,
        Some("NodePort") => ServiceType::NodePort,
        Some(other) => {
            return Err(ProviderError::at_attribute(
                format!(
                    "service_type must be ClusterIP, NodePort or LoadBalancer, not \"{other}\""
                ),
                "ingress_gateway",
            ))
        }
    };
    gateway.router_mode = match text(block, "router_mode").as_deref() {
        None | Some("standard") => RouterMode::Standard,
        Some("sni-dnat") => RouterMode::SniDnat,
        Some(other) => {
            return Err(ProviderError::at_attribute(
                format!("router_mode must be standard or sni-dnat, not \"{other}\""),
                "ingress_gateway",
            ))
        }
    };
    if let Some(ports) = block.get("ports").and_then(|p| p.unmark().0.as_list()) {
        gateway.ports = ports.iter().map(port_of).collect::<Result<_, _>>()?;
    }
    gateway.replicas = count(block, "replicas")?.unwrap_or(1);
    gateway.internal_load_balancer = flag(block, "internal_load_balancer").unwrap_or(false);
    gateway.service_annotations = strings(block, "service_annotations");
    gateway.certs_secret_provider_class = text(block, "certs_secret_provider_class");
    gateway.scheduling = scheduling_of(block, tolerate_all);
    Ok(gateway)
}

fn port_of(port: &Value) -> Result<GatewayPort, ProviderError> {
    let name = text(port, "name").ok_or_else(|| {
        ProviderError::at_attribute("each ingress gateway port needs a name", "ingress_gateway")
    })?;
    let number = count(port, "port")?.ok_or_else(|| {
        ProviderError::at_attribute(
            format!("port {name} needs a port number"),
            "ingress_gateway",
        )
    })?;
    let mut gateway_port =
        GatewayPort::new(&name, number, count(port, "target_port")?.unwrap_or(number));
    gateway_port.node_port = count(port, "node_port")?;
    Ok(gateway_port)
}

fn eastwest_of(block: &Value, tolerate_all: bool) -> Result<EastWestSpec, ProviderError> {
    let mut gateway = EastWestSpec::default();
    if let Some(name) = text(block, "name") {
        gateway.name = name;
    }
    gateway.replicas = count(block, "replicas")?.unwrap_or(1);
    gateway.internal_load_balancer = flag(block, "internal_load_balancer").unwrap_or(false);
    gateway.service_annotations = strings(block, "service_annotations");
    gateway.expose_services = flag(block, "expose_services").unwrap_or(true);
    gateway.scheduling = scheduling_of(block, tolerate_all);
    Ok(gateway)
}
