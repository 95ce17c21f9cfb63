//! Checks a [`ControlPlaneSpec`] before anything is rendered, reporting every problem at once.

use std::collections::BTreeSet;

use super::spec::{ControlPlaneSpec, EastWestSpec, GatewayPort, GatewaySpec, ServiceType};
use super::versions::{supported_versions, version_info};

/// Environment variables mesh sets on istiod itself; `istiod.env` may not redefine them.
pub(crate) const ISTIOD_RESERVED_ENV: &[&str] = &[
    "REVISION",
    "JWT_POLICY",
    "PILOT_CERT_PROVIDER",
    "POD_NAME",
    "POD_NAMESPACE",
    "SERVICE_ACCOUNT",
    "KUBECONFIG",
    "ISTIOD_ADDR",
    "CLUSTER_ID",
    "INJECTION_WEBHOOK_CONFIG_NAME",
    "VALIDATION_WEBHOOK_CONFIG_NAME",
    "PILOT_ENABLE_ANALYSIS",
    "AUTO_RELOAD_PLUGIN_CERTS",
];

/// Longest revision: `istiod-<revision>` must still be a 63-character Service name.
const MAX_REVISION_LEN: usize = 63 - "istiod-".len();

/// Every problem with `spec`, or `Ok` when it can be rendered.
pub fn validate(spec: &ControlPlaneSpec) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    check_version(spec, &mut problems);
    check_revision(&spec.effective_revision(), &mut problems);
    check_identity(spec, &mut problems);
    check_mesh_options(spec, &mut problems);
    check_istiod(spec, &mut problems);
    if let Some(gateway) = &spec.ingress_gateway {
        check_gateway(gateway, &mut problems);
    }
    if let Some(eastwest) = &spec.eastwest_gateway {
        check_eastwest(spec, eastwest, &mut problems);
    }
    check_gateway_overlap(spec, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn check_version(spec: &ControlPlaneSpec, problems: &mut Vec<String>) {
    if version_info(&spec.version).is_none() {
        problems.push(format!(
            "version {:?} is not supported (supported: {})",
            spec.version,
            supported_versions().join(", ")
        ));
    }
}

fn check_revision(revision: &str, problems: &mut Vec<String>) {
    if !is_dns_label(revision) {
        problems.push(format!(
            "revision {revision:?} must be lowercase letters, digits and '-', starting and \
             ending with a letter or digit (dots are not allowed: use 1-14-1 for 1.14.1)"
        ));
    }
    if revision.len() > MAX_REVISION_LEN {
        problems.push(format!(
            "revision {revision:?} is longer than {MAX_REVISION_LEN} characters"
        ));
    }
    if revision == "default" {
        problems.push(
            "revision \"default\" is reserved by Istio (it names the non-revisioned control \
             plane); set default_revision instead"
                .to_string(),
        );
    }
}

fn check_identity(spec: &ControlPlaneSpec, problems: &mut Vec<String>) {
    if !is_label_value(&spec.mesh_id) || spec.mesh_id.is_empty() {
        problems.push(format!(
            "mesh_id {:?} must be a non-empty label value (letters, digits, '-', '_', '.')",
            spec.mesh_id
        ));
    }
    if !is_dns_label(&spec.cluster_name) {
        problems.push(format!(
            "cluster_name {:?} must be a DNS label: it names the remote secret \
             istio-remote-secret-<cluster_name>",
            spec.cluster_name
        ));
    }
    if let Some(network) = &spec.network {
        if network.is_empty() || !is_label_value(network) {
            problems.push(format!(
                "network {network:?} must be a non-empty label value (it is the \
                 topology.istio.io/network label)"
            ));
        }
    }
    if !is_dns_subdomain(&spec.trust_domain) {
        problems.push(format!(
            "trust_domain {:?} must be a DNS name such as cluster.local",
            spec.trust_domain
        ));
    }
}

fn check_mesh_options(spec: &ControlPlaneSpec, problems: &mut Vec<String>) {
    if let Some(path) = &spec.access_log_file {
        if !path.starts_with('/') || path.chars().any(char::is_whitespace) {
            problems.push(format!(
                "access_log_file {path:?} must be an absolute path such as /dev/stdout"
            ));
        }
    }
    if let super::CaSource::KeyVault {
        secret_provider_class,
    } = &spec.ca
    {
        if !is_dns_subdomain(secret_provider_class) {
            problems.push(format!(
                "ca secret_provider_class {secret_provider_class:?} must be an object name"
            ));
        }
    }
    if let Some(hub) = &spec.hub {
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | ':');
        if hub.is_empty() || hub.ends_with('/') || !hub.chars().all(allowed) {
            problems.push(format!(
                "hub {hub:?} must be a registry/repository such as docker.io/istio"
            ));
        }
    }
}

fn check_istiod(spec: &ControlPlaneSpec, problems: &mut Vec<String>) {
    if spec.istiod.replicas == 0 {
        problems.push("istiod replicas must be at least 1".to_string());
    }
    for name in spec.istiod.env.keys() {
        if !is_env_name(name) {
            problems.push(format!("istiod env {name:?} is not a valid variable name"));
        } else if ISTIOD_RESERVED_ENV.contains(&name.as_str()) {
            problems.push(format!(
                "istiod env {name} is set by mesh and cannot be overridden"
            ));
        }
    }
    check_scheduling("istiod", &spec.istiod.scheduling, problems);
}

fn check_gateway(gateway: &GatewaySpec, problems: &mut Vec<String>) {
    let what = format!("ingress gateway {:?}", gateway.name);
    check_workload_name(&what, &gateway.name, problems);
    if !is_dns_label(&gateway.namespace) {
        problems.push(format!(
            "{what}: namespace {:?} is not a DNS label",
            gateway.namespace
        ));
    }
    if gateway.replicas == 0 {
        problems.push(format!("{what}: replicas must be at least 1"));
    }
    if gateway.labels.is_empty() {
        problems.push(format!(
            "{what}: labels (the pod selector) must not be empty"
        ));
    }
    for (key, value) in &gateway.labels {
        if !is_label_key(key) || !is_label_value(value) {
            problems.push(format!(
                "{what}: label {key:?}={value:?} is not a valid label"
            ));
        }
    }
    if gateway.ports.is_empty() {
        problems.push(format!("{what}: at least one port is required"));
    }
    check_ports(&what, gateway.service_type, &gateway.ports, problems);
    if let Some(class) = &gateway.certs_secret_provider_class {
        if !is_dns_subdomain(class) {
            problems.push(format!(
                "{what}: certs_secret_provider_class {class:?} must be an object name"
            ));
        }
    }
    check_scheduling(&what, &gateway.scheduling, problems);
}

fn check_eastwest(spec: &ControlPlaneSpec, eastwest: &EastWestSpec, problems: &mut Vec<String>) {
    let what = format!("east-west gateway {:?}", eastwest.name);
    check_workload_name(&what, &eastwest.name, problems);
    if eastwest.replicas == 0 {
        problems.push(format!("{what}: replicas must be at least 1"));
    }
    if spec.network.is_none() {
        problems.push(format!(
            "{what} needs network: it routes traffic between networks"
        ));
    }
    check_scheduling(&what, &eastwest.scheduling, problems);
}

fn check_gateway_overlap(spec: &ControlPlaneSpec, problems: &mut Vec<String>) {
    let (Some(ingress), Some(eastwest)) = (&spec.ingress_gateway, &spec.eastwest_gateway) else {
        return;
    };
    if ingress.namespace == super::ISTIO_NAMESPACE && ingress.name == eastwest.name {
        problems.push(format!(
            "ingress and east-west gateways are both named {:?} in istio-system",
            ingress.name
        ));
    }
    let eastwest_selects_ingress = ingress.namespace == super::ISTIO_NAMESPACE
        && ingress.labels.get("istio").map(String::as_str) == Some("eastwestgateway");
    if eastwest_selects_ingress {
        problems.push(
            "ingress gateway label istio=eastwestgateway would make the cross-network \
             Gateway select it"
                .to_string(),
        );
    }
}

fn check_workload_name(what: &str, name: &str, problems: &mut Vec<String>) {
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    if !is_dns_label(name) || !starts_with_letter {
        problems.push(format!(
            "{what}: name must be a DNS label starting with a letter (it names a Service)"
        ));
    }
}

fn check_ports(
    what: &str,
    service_type: ServiceType,
    ports: &[GatewayPort],
    problems: &mut Vec<String>,
) {
    let mut names = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    let mut targets = BTreeSet::new();
    for port in ports {
        let at = format!("{what}: port {:?}", port.name);
        if !is_dns_label(&port.name) {
            problems.push(format!("{at}: name must be a DNS label"));
        }
        if !(1..=65535).contains(&port.port) {
            problems.push(format!(
                "{at}: port {} is not between 1 and 65535",
                port.port
            ));
        }
        if !(1024..=65535).contains(&port.target_port) {
            problems.push(format!(
                "{at}: target_port {} must be between 1024 and 65535 (the gateway runs \
                 unprivileged and cannot listen below 1024)",
                port.target_port
            ));
        }
        if port.target_port == 15090 {
            problems.push(format!("{at}: target_port 15090 is Envoy's metrics port"));
        }
        check_node_port(&at, service_type, port.node_port, problems);
        if !names.insert(port.name.as_str()) {
            problems.push(format!("{at}: duplicate port name"));
        }
        if !numbers.insert(port.port) {
            problems.push(format!("{at}: duplicate port {}", port.port));
        }
        if !targets.insert(port.target_port) {
            problems.push(format!("{at}: duplicate target_port {}", port.target_port));
        }
    }
}

fn check_node_port(
    at: &str,
    service_type: ServiceType,
    node_port: Option<u32>,
    problems: &mut Vec<String>,
) {
    let Some(node_port) = node_port else {
        return;
    };
    if service_type == ServiceType::ClusterIp {
        problems.push(format!(
            "{at}: node_port needs a NodePort or LoadBalancer Service"
        ));
    }
    if !(30000..=32767).contains(&node_port) {
        problems.push(format!(
            "{at}: node_port {node_port} is outside Kubernetes' default range 30000-32767"
        ));
    }
}

fn check_scheduling(what: &str, scheduling: &super::Scheduling, problems: &mut Vec<String>) {
    for (key, value) in &scheduling.node_selector {
        if !is_label_key(key) || !is_label_value(value) {
            problems.push(format!(
                "{what}: node selector {key:?}={value:?} is not a valid label"
            ));
        }
    }
    for toleration in &scheduling.tolerations {
        match toleration.operator.as_str() {
            "Exists" if toleration.value.is_some() => problems.push(format!(
                "{what}: a toleration with operator Exists cannot have a value"
            )),
            "Exists" | "Equal" => {}
            other => problems.push(format!(
                "{what}: toleration operator {other:?} must be Equal or Exists"
            )),
        }
        let effect_ok = toleration
            .effect
            .as_deref()
            .is_none_or(|effect| matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute"));
        if !effect_ok {
            problems.push(format!(
                "{what}: toleration effect must be NoSchedule, PreferNoSchedule or NoExecute"
            ));
        }
    }
}

/// RFC 1123 label: what Kubernetes requires of most object names.
pub(crate) fn is_dns_label(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| alnum(c) || c == '-')
        && s.starts_with(alnum)
        && s.ends_with(alnum)
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A label value: at most 63 of `[A-Za-z0-9_.-]`, alphanumeric at both ends (or empty).
pub(crate) fn is_label_value(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    s.is_empty()
        || (s.len() <= 63
            && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
            && s.starts_with(alnum)
            && s.ends_with(alnum))
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a non-empty label-value name.
pub(crate) fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
