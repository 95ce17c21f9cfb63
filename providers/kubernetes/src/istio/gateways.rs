//! The ingress and east-west gateways (Envoy Deployments with their Services) and the
//! cross-network Gateway that exposes a cluster's services to other networks.
//!
//! Gateways are rendered as complete Deployments running `proxyv2` (not through the
//! injector's gateway template), unprivileged, so their container ports are 1024 or higher.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::injector::CLUSTER_DOMAIN;
use super::istiod::{apply_scheduling, SECRETS_STORE_DRIVER};
use super::spec::{EastWestSpec, GatewayPort, GatewaySpec, RouterMode, Scheduling, ServiceType};
use super::{namespaced_meta, string_map, RenderContext, ISTIO_NAMESPACE, REVISION_LABEL};

/// Label istiod uses to find a network's gateways.
pub(crate) const NETWORK_LABEL: &str = "topology.istio.io/network";
/// Service annotation asking Azure for an internal load balancer.
pub(crate) const AZURE_INTERNAL_LB: &str =
    "service.beta.kubernetes.io/azure-load-balancer-internal";
/// Where an ingress gateway's extra certificates are mounted.
pub(crate) const GATEWAY_CERTS_MOUNT: &str = "/etc/istio/ingressgateway-certs";

/// One gateway, whichever kind, reduced to what the Kubernetes objects need.
struct Gateway {
    name: String,
    namespace: String,
    labels: BTreeMap<String, String>,
    service_type: ServiceType,
    ports: Vec<GatewayPort>,
    replicas: u32,
    service_annotations: BTreeMap<String, String>,
    env: Vec<(String, String)>,
    certs_secret_provider_class: Option<String>,
    scheduling: Scheduling,
}

fn ingress(spec: &GatewaySpec) -> Gateway {
    let mut env = Vec::new();
    if spec.router_mode == RouterMode::SniDnat {
        env.push(("ISTIO_META_ROUTER_MODE".to_string(), "sni-dnat".to_string()));
    }
    let mut annotations = spec.service_annotations.clone();
    if spec.internal_load_balancer {
        annotations.insert(AZURE_INTERNAL_LB.to_string(), "true".to_string());
    }
    Gateway {
        name: spec.name.clone(),
        namespace: spec.namespace.clone(),
        labels: spec.labels.clone(),
        service_type: spec.service_type,
        ports: spec.ports.clone(),
        replicas: spec.replicas,
        service_annotations: annotations,
        env,
        certs_secret_provider_class: spec.certs_secret_provider_class.clone(),
        scheduling: spec.scheduling.clone(),
    }
}

/// The east-west gateway's fixed ports: status, mTLS passthrough, istiod xDS, webhooks.
pub(crate) fn eastwest_ports() -> Vec<GatewayPort> {
    vec![
        GatewayPort::new("status-port", 15021, 15021),
        GatewayPort::new("tls", 15443, 15443),
        GatewayPort::new("tls-istiod", 15012, 15012),
        GatewayPort::new("tls-webhook", 15017, 15017),
    ]
}

fn eastwest(spec: &EastWestSpec, network: &str) -> Gateway {
    let labels = BTreeMap::from([
        ("app".to_string(), "istio-eastwestgateway".to_string()),
        ("istio".to_string(), "eastwestgateway".to_string()),
        (NETWORK_LABEL.to_string(), network.to_string()),
    ]);
    let mut annotations = spec.service_annotations.clone();
    if spec.internal_load_balancer {
        annotations.insert(AZURE_INTERNAL_LB.to_string(), "true".to_string());
    }
    Gateway {
        name: spec.name.clone(),
        namespace: ISTIO_NAMESPACE.to_string(),
        labels,
        service_type: ServiceType::LoadBalancer,
        ports: eastwest_ports(),
        replicas: spec.replicas,
        service_annotations: annotations,
        env: vec![
            // Traffic through this gateway is routed inside its own network.
            (
                "ISTIO_META_REQUESTED_NETWORK_VIEW".to_string(),
                network.to_string(),
            ),
            // Builds the SNI clusters AUTO_PASSTHROUGH needs.
            ("ISTIO_META_ROUTER_MODE".to_string(), "sni-dnat".to_string()),
        ],
        certs_secret_provider_class: None,
        scheduling: spec.scheduling.clone(),
    }
}

fn gateways(ctx: &RenderContext) -> Vec<Gateway> {
    let mut gateways = Vec::new();
    if let Some(spec) = &ctx.spec.ingress_gateway {
        gateways.push(ingress(spec));
    }
    if let (Some(spec), Some(network)) = (&ctx.spec.eastwest_gateway, &ctx.spec.network) {
        gateways.push(eastwest(spec, network));
    }
    gateways
}

/// ServiceAccount, Role and RoleBinding of each gateway (they read TLS secrets of their
/// namespace for SDS).
pub(crate) fn render_identities(ctx: &RenderContext) -> Vec<Value> {
    let mut objects = Vec::new();
    for gateway in gateways(ctx) {
        let labels = ctx.labels(&[]);
        let account = service_account_name(&gateway);
        let role = format!("{}-sds", gateway.name);
        objects.push(json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": namespaced_meta(&account, &gateway.namespace, labels.clone()),
        }));
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": namespaced_meta(&role, &gateway.namespace, labels.clone()),
            "rules": [{ "apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "watch", "list"] }],
        }));
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": namespaced_meta(&role, &gateway.namespace, labels),
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role },
            "subjects": [{ "kind": "ServiceAccount", "name": account, "namespace": gateway.namespace }],
        }));
    }
    objects
}

fn service_account_name(gateway: &Gateway) -> String {
    format!("{}-service-account", gateway.name)
}

/// Deployment and Service of each gateway.
pub(crate) fn render_workloads(ctx: &RenderContext) -> Vec<Value> {
    let mut objects = Vec::new();
    for gateway in gateways(ctx) {
        objects.push(deployment(ctx, &gateway));
        objects.push(service(ctx, &gateway));
    }
    objects
}

/// The cross-network Gateway: every `*.local` host reachable through the east-west
/// gateway's port 15443 with AUTO_PASSTHROUGH (mTLS end to end, routed by SNI).
pub(crate) fn render_istio_config(ctx: &RenderContext) -> Vec<Value> {
    let Some(eastwest) = &ctx.spec.eastwest_gateway else {
        return Vec::new();
    };
    if !eastwest.expose_services || ctx.spec.network.is_none() {
        return Vec::new();
    }
    vec![json!({
        "apiVersion": ctx.version.networking_api_version,
        "kind": "Gateway",
        "metadata": namespaced_meta("cross-network-gateway", ISTIO_NAMESPACE, ctx.labels(&[])),
        "spec": {
            "selector": { "istio": "eastwestgateway" },
            "servers": [{
                "port": { "number": 15443, "name": "tls", "protocol": "TLS" },
                "tls": { "mode": "AUTO_PASSTHROUGH" },
                "hosts": ["*.local"],
            }],
        },
    })]
}

fn object_labels(ctx: &RenderContext, gateway: &Gateway) -> Value {
    let mut labels = ctx.labels(&[]);
    if let Value::Object(map) = &mut labels {
        for (key, value) in &gateway.labels {
            map.insert(key.clone(), json!(value));
        }
    }
    labels
}

fn service(ctx: &RenderContext, gateway: &Gateway) -> Value {
    let ports: Vec<Value> = gateway
        .ports
        .iter()
        .map(|port| {
            let mut value = json!({
                "name": port.name, "port": port.port, "targetPort": port.target_port, "protocol": "TCP",
            });
            if let (Some(node_port), Value::Object(map)) = (port.node_port, &mut value) {
                map.insert("nodePort".to_string(), json!(node_port));
            }
            value
        })
        .collect();
    let mut metadata = namespaced_meta(
        &gateway.name,
        &gateway.namespace,
        object_labels(ctx, gateway),
    );
    if let (false, Value::Object(map)) = (gateway.service_annotations.is_empty(), &mut metadata) {
        map.insert(
            "annotations".to_string(),
            string_map(&gateway.service_annotations),
        );
    }
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "type": gateway.service_type.as_kubernetes(),
            "selector": string_map(&gateway.labels),
            "ports": ports,
        },
    })
}

fn deployment(ctx: &RenderContext, gateway: &Gateway) -> Value {
    let mut pod_labels = gateway.labels.clone();
    pod_labels.insert(REVISION_LABEL.to_string(), ctx.revision.clone());
    pod_labels.insert("sidecar.istio.io/inject".to_string(), "false".to_string());
    pod_labels.insert(
        "service.istio.io/canonical-name".to_string(),
        gateway.name.clone(),
    );
    pod_labels.insert(
        "service.istio.io/canonical-revision".to_string(),
        ctx.revision.clone(),
    );
    let mut pod_spec = json!({
        "serviceAccountName": service_account_name(gateway),
        "securityContext": { "runAsUser": 1337, "runAsGroup": 1337, "runAsNonRoot": true, "fsGroup": 1337 },
        "containers": [proxy_container(ctx, gateway)],
        "volumes": volumes(ctx, gateway),
    });
    apply_scheduling(&mut pod_spec, &gateway.scheduling);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": namespaced_meta(&gateway.name, &gateway.namespace, object_labels(ctx, gateway)),
        "spec": {
            "replicas": gateway.replicas,
            "selector": { "matchLabels": string_map(&gateway.labels) },
            "strategy": { "rollingUpdate": { "maxSurge": "100%", "maxUnavailable": "25%" } },
            "template": {
                "metadata": {
                    "labels": string_map(&pod_labels),
                    "annotations": {
                        "prometheus.io/port": "15020",
                        "prometheus.io/scrape": "true",
                        "prometheus.io/path": "/stats/prometheus",
                        "sidecar.istio.io/inject": "false",
                        REVISION_LABEL: ctx.revision,
                    },
                },
                "spec": pod_spec,
            },
        },
    })
}

fn proxy_container(ctx: &RenderContext, gateway: &Gateway) -> Value {
    let mut ports: Vec<Value> = gateway
        .ports
        .iter()
        .map(|port| json!({ "containerPort": port.target_port, "protocol": "TCP" }))
        .collect();
    ports.push(json!({ "containerPort": 15090, "protocol": "TCP", "name": "http-envoy-prom" }));
    let mut mounts = vec![
        mount("workload-socket", "/var/run/secrets/workload-spiffe-uds"),
        mount("credential-socket", "/var/run/secrets/credential-uds"),
        mount(
            "workload-certs",
            "/var/run/secrets/workload-spiffe-credentials",
        ),
        mount("istio-envoy", "/etc/istio/proxy"),
        mount("config-volume", "/etc/istio/config"),
        mount("istiod-ca-cert", "/var/run/secrets/istio"),
        json!({ "name": "istio-token", "mountPath": "/var/run/secrets/tokens", "readOnly": true }),
        mount("istio-data", "/var/lib/istio/data"),
        mount("podinfo", "/etc/istio/pod"),
    ];
    if gateway.certs_secret_provider_class.is_some() {
        mounts.push(json!({ "name": "ingressgateway-certs", "mountPath": GATEWAY_CERTS_MOUNT, "readOnly": true }));
    }
    json!({
        "name": "istio-proxy",
        "image": ctx.image("proxyv2"),
        "args": [
            "proxy", "router",
            "--domain", format!("$(POD_NAMESPACE).svc.{CLUSTER_DOMAIN}"),
            "--proxyLogLevel=warning",
            "--proxyComponentLogLevel=misc:error",
            "--log_output_level=default:info",
        ],
        "ports": ports,
        "env": proxy_env(ctx, gateway),
        "readinessProbe": {
            "httpGet": { "path": "/healthz/ready", "port": 15021, "scheme": "HTTP" },
            "initialDelaySeconds": 1, "periodSeconds": 2, "timeoutSeconds": 1,
            "successThreshold": 1, "failureThreshold": 30,
        },
        "resources": {
            "requests": { "cpu": "100m", "memory": "128Mi" },
            "limits": { "cpu": "2000m", "memory": "1024Mi" },
        },
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "privileged": false,
            "readOnlyRootFilesystem": true,
        },
        "volumeMounts": mounts,
    })
}

fn mount(name: &str, path: &str) -> Value {
    json!({ "name": name, "mountPath": path })
}

fn field_env(name: &str, field_path: &str) -> Value {
    json!({ "name": name, "valueFrom": { "fieldRef": { "apiVersion": "v1", "fieldPath": field_path } } })
}

fn proxy_env(ctx: &RenderContext, gateway: &Gateway) -> Vec<Value> {
    let spec = ctx.spec;
    let owner = format!(
        "kubernetes://apis/apps/v1/namespaces/{}/deployments/{}",
        gateway.namespace, gateway.name
    );
    let mut env = vec![
        json!({ "name": "PILOT_CERT_PROVIDER", "value": "istiod" }),
        json!({ "name": "CA_ADDR", "value": ctx.istiod_address() }),
        field_env("NODE_NAME", "spec.nodeName"),
        field_env("POD_NAME", "metadata.name"),
        field_env("POD_NAMESPACE", "metadata.namespace"),
        field_env("INSTANCE_IP", "status.podIP"),
        field_env("HOST_IP", "status.hostIP"),
        field_env("SERVICE_ACCOUNT", "spec.serviceAccountName"),
        json!({ "name": "ISTIO_META_WORKLOAD_NAME", "value": gateway.name }),
        json!({ "name": "ISTIO_META_OWNER", "value": owner }),
        json!({ "name": "ISTIO_META_MESH_ID", "value": spec.mesh_id }),
        json!({ "name": "TRUST_DOMAIN", "value": spec.trust_domain }),
        json!({ "name": "ISTIO_META_UNPRIVILEGED_POD", "value": "true" }),
        json!({ "name": "ISTIO_META_CLUSTER_ID", "value": spec.cluster_name }),
    ];
    if let Some(network) = &spec.network {
        env.push(json!({ "name": "ISTIO_META_NETWORK", "value": network }));
    }
    for (name, value) in &gateway.env {
        env.push(json!({ "name": name, "value": value }));
    }
    env
}

fn volumes(ctx: &RenderContext, gateway: &Gateway) -> Vec<Value> {
    let mut volumes = vec![
        json!({ "name": "workload-socket", "emptyDir": {} }),
        json!({ "name": "credential-socket", "emptyDir": {} }),
        json!({ "name": "workload-certs", "emptyDir": {} }),
        json!({ "name": "istiod-ca-cert", "configMap": { "name": "istio-ca-root-cert" } }),
        json!({ "name": "podinfo", "downwardAPI": { "items": [
            { "path": "labels", "fieldRef": { "fieldPath": "metadata.labels" } },
            { "path": "annotations", "fieldRef": { "fieldPath": "metadata.annotations" } },
        ] } }),
        json!({ "name": "istio-envoy", "emptyDir": {} }),
        json!({ "name": "istio-data", "emptyDir": {} }),
        json!({ "name": "istio-token", "projected": { "sources": [{ "serviceAccountToken": {
            "path": "istio-token", "expirationSeconds": 43200, "audience": "istio-ca" } }] } }),
        // Only present when the gateway runs in istio-system; the proxy reads its
        // configuration from istiod either way.
        json!({ "name": "config-volume", "configMap": { "name": format!("istio-{}", ctx.revision), "optional": true } }),
    ];
    if let Some(class) = &gateway.certs_secret_provider_class {
        volumes.push(json!({
            "name": "ingressgateway-certs",
            "csi": {
                "driver": SECRETS_STORE_DRIVER,
                "readOnly": true,
                "volumeAttributes": { "secretProviderClass": class },
            },
        }));
    }
    volumes
}
