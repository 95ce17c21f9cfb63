//! Gateways: the seeds' ingress gateways, the east-west gateway and the cross-network Gateway.

use std::collections::BTreeMap;

use serde_json::Value;

use super::tests::{env_value, find, has, render, seed_spec};
use super::*;

fn ports(service: &Value) -> Vec<(String, u64, u64, Option<u64>)> {
    service["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("name").to_string(),
                p["port"].as_u64().expect("port"),
                p["targetPort"].as_u64().expect("targetPort"),
                p["nodePort"].as_u64(),
            )
        })
        .collect()
}

fn proxy(objects: &[Value], name: &str) -> Value {
    find(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0].clone()
}

/// Seed 000: `ingressgateway` in istio-ingress, ClusterIP behind the Application Gateway.
#[test]
fn seed_000_ingress_gateway() {
    let mut spec = seed_spec();
    spec.ingress_gateway = Some(GatewaySpec {
        name: "ingressgateway".to_string(),
        namespace: "istio-ingress".to_string(),
        service_type: ServiceType::ClusterIp,
        ..GatewaySpec::default()
    });
    let objects = render(&spec);
    let service = find(&objects, "Service", "ingressgateway");
    assert_eq!(service["metadata"]["namespace"], "istio-ingress");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert_eq!(service["spec"]["selector"]["app"], "istio-ingressgateway");
    assert_eq!(service["spec"]["selector"]["istio"], "ingressgateway");
    assert_eq!(
        ports(service),
        vec![
            ("status-port".to_string(), 15021, 15021, None),
            ("http2".to_string(), 80, 8080, None),
            ("https".to_string(), 443, 8443, None),
        ]
    );
    let deployment = find(&objects, "Deployment", "ingressgateway");
    assert_eq!(deployment["metadata"]["namespace"], "istio-ingress");
    let pod = &deployment["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["app"], "istio-ingressgateway");
    assert_eq!(
        pod["metadata"]["labels"]["sidecar.istio.io/inject"],
        "false"
    );
    assert_eq!(
        pod["spec"]["serviceAccountName"],
        "ingressgateway-service-account"
    );
    let container = proxy(&objects, "ingressgateway");
    assert_eq!(container["image"], "docker.io/istio/proxyv2:1.14.1");
    assert_eq!(container["args"][1], "router");
    assert_eq!(
        env_value(&container, "CA_ADDR"),
        Some("istiod-1-14-1.istio-system.svc:15012")
    );
    assert_eq!(
        env_value(&container, "ISTIO_META_CLUSTER_ID"),
        Some("aks-cluster-one")
    );
    assert_eq!(env_value(&container, "ISTIO_META_ROUTER_MODE"), None);
    assert!(has(
        &objects,
        "ServiceAccount",
        "ingressgateway-service-account"
    ));
    let binding = find(&objects, "RoleBinding", "ingressgateway-sds");
    assert_eq!(binding["metadata"]["namespace"], "istio-ingress");
    assert_eq!(
        binding["subjects"][0]["name"],
        "ingressgateway-service-account"
    );
}

/// Seed 004: NodePort with a fixed node port for 15443 and the sni-dnat router mode.
#[test]
fn seed_004_sni_dnat_node_port_ingress() {
    let mut spec = seed_spec();
    spec.outbound_traffic_policy = OutboundPolicy::RegistryOnly;
    let mut tls = GatewayPort::new("tls", 15443, 15443);
    tls.node_port = Some(32001);
    spec.ingress_gateway = Some(GatewaySpec {
        service_type: ServiceType::NodePort,
        router_mode: RouterMode::SniDnat,
        ports: vec![
            GatewayPort::new("http2", 80, 8080),
            GatewayPort::new("https", 443, 8443),
            tls,
        ],
        ..GatewaySpec::default()
    });
    let objects = render(&spec);
    let service = find(&objects, "Service", "istio-ingressgateway");
    assert_eq!(service["spec"]["type"], "NodePort");
    assert!(ports(service).contains(&("tls".to_string(), 15443, 15443, Some(32001))));
    let container = proxy(&objects, "istio-ingressgateway");
    assert_eq!(
        env_value(&container, "ISTIO_META_ROUTER_MODE"),
        Some("sni-dnat")
    );
    let container_ports: Vec<u64> = container["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| p["containerPort"].as_u64().expect("port"))
        .collect();
    assert_eq!(container_ports, vec![8080, 8443, 15443, 15090]);
}

#[test]
fn ingress_gateway_certs_from_key_vault_and_internal_lb() {
    let mut spec = seed_spec();
    spec.ingress_gateway = Some(GatewaySpec {
        certs_secret_provider_class: Some("istio-tls".to_string()),
        internal_load_balancer: true,
        ..GatewaySpec::default()
    });
    let objects = render(&spec);
    let service = find(&objects, "Service", "istio-ingressgateway");
    assert_eq!(
        service["metadata"]["annotations"]
            ["service.beta.kubernetes.io/azure-load-balancer-internal"],
        "true"
    );
    let pod = &find(&objects, "Deployment", "istio-ingressgateway")["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == "ingressgateway-certs")
        .expect("certs volume");
    assert_eq!(
        volume["csi"]["volumeAttributes"]["secretProviderClass"],
        "istio-tls"
    );
    let mounted = pod["containers"][0]["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .any(|m| m["mountPath"] == "/etc/istio/ingressgateway-certs");
    assert!(mounted);
}

/// Seed 002: the east-west gateway of network1.
#[test]
fn eastwest_gateway_labels_env_and_ports() {
    let mut spec = seed_spec();
    spec.eastwest_gateway = Some(EastWestSpec::default());
    let objects = render(&spec);
    let service = find(&objects, "Service", "istio-eastwestgateway");
    assert_eq!(service["metadata"]["namespace"], "istio-system");
    assert_eq!(service["spec"]["type"], "LoadBalancer");
    let labels = &service["metadata"]["labels"];
    assert_eq!(labels["istio"], "eastwestgateway");
    assert_eq!(labels["app"], "istio-eastwestgateway");
    assert_eq!(labels["topology.istio.io/network"], "network1");
    assert!(service["metadata"].get("annotations").is_none());
    assert_eq!(
        ports(service),
        vec![
            ("status-port".to_string(), 15021, 15021, None),
            ("tls".to_string(), 15443, 15443, None),
            ("tls-istiod".to_string(), 15012, 15012, None),
            ("tls-webhook".to_string(), 15017, 15017, None),
        ]
    );
    let container = proxy(&objects, "istio-eastwestgateway");
    assert_eq!(
        env_value(&container, "ISTIO_META_REQUESTED_NETWORK_VIEW"),
        Some("network1")
    );
    assert_eq!(
        env_value(&container, "ISTIO_META_ROUTER_MODE"),
        Some("sni-dnat")
    );
    assert_eq!(
        env_value(&container, "ISTIO_META_NETWORK"),
        Some("network1")
    );
    let pod_labels = &find(&objects, "Deployment", "istio-eastwestgateway")["spec"]["template"]
        ["metadata"]["labels"];
    assert_eq!(pod_labels["topology.istio.io/network"], "network1");
    assert_eq!(pod_labels[REVISION_LABEL], "1-14-1");
}

#[test]
fn internal_eastwest_gateway_is_annotated() {
    let mut spec = seed_spec();
    spec.eastwest_gateway = Some(EastWestSpec {
        internal_load_balancer: true,
        ..EastWestSpec::default()
    });
    let objects = render(&spec);
    let annotations =
        &find(&objects, "Service", "istio-eastwestgateway")["metadata"]["annotations"];
    assert_eq!(
        annotations["service.beta.kubernetes.io/azure-load-balancer-internal"],
        "true"
    );
}

#[test]
fn cross_network_gateway_passes_local_hosts_through() {
    let mut spec = seed_spec();
    spec.eastwest_gateway = Some(EastWestSpec::default());
    let objects = render(&spec);
    let gateway = find(&objects, "Gateway", "cross-network-gateway");
    assert_eq!(gateway["apiVersion"], "networking.istio.io/v1alpha3");
    assert_eq!(gateway["metadata"]["namespace"], "istio-system");
    assert_eq!(gateway["spec"]["selector"]["istio"], "eastwestgateway");
    let server = &gateway["spec"]["servers"][0];
    assert_eq!(server["port"]["number"], 15443);
    assert_eq!(server["port"]["protocol"], "TLS");
    assert_eq!(server["tls"]["mode"], "AUTO_PASSTHROUGH");
    assert_eq!(server["hosts"][0], "*.local");

    spec.version = "1.24.2".to_string();
    let objects = render(&spec);
    assert_eq!(
        find(&objects, "Gateway", "cross-network-gateway")["apiVersion"],
        "networking.istio.io/v1"
    );
}

#[test]
fn no_eastwest_no_cross_network_gateway() {
    let objects = render(&seed_spec());
    assert!(!has(&objects, "Gateway", "cross-network-gateway"));
    assert!(!has(&objects, "Deployment", "istio-eastwestgateway"));
    let mut spec = seed_spec();
    spec.eastwest_gateway = Some(EastWestSpec {
        expose_services: false,
        ..EastWestSpec::default()
    });
    let objects = render(&spec);
    assert!(has(&objects, "Deployment", "istio-eastwestgateway"));
    assert!(!has(&objects, "Gateway", "cross-network-gateway"));
}

fn port_problems(gateway: GatewaySpec) -> String {
    let mut spec = seed_spec();
    spec.ingress_gateway = Some(gateway);
    validate(&spec).expect_err("invalid ports").join("\n")
}

#[test]
fn validate_rejects_bad_gateway_ports() {
    let mut node_port = GatewayPort::new("tls", 15443, 15443);
    node_port.node_port = Some(31000);
    let problems = port_problems(GatewaySpec {
        service_type: ServiceType::ClusterIp,
        ports: vec![
            GatewayPort::new("http", 0, 8080),
            GatewayPort::new("http", 70000, 8081),
            GatewayPort::new("low", 81, 80),
            node_port,
        ],
        ..GatewaySpec::default()
    });
    for needle in [
        "port 0",
        "port 70000",
        "target_port 80",
        "duplicate port name",
        "node_port needs",
    ] {
        assert!(
            problems.contains(needle),
            "missing {needle:?} in:\n{problems}"
        );
    }
    let mut out_of_range = GatewayPort::new("tls", 15443, 15443);
    out_of_range.node_port = Some(80);
    let problems = port_problems(GatewaySpec {
        service_type: ServiceType::NodePort,
        ports: vec![out_of_range],
        ..GatewaySpec::default()
    });
    assert!(problems.contains("30000-32767"), "{problems}");
}

#[test]
fn validate_rejects_bad_gateway_identity() {
    let problems = port_problems(GatewaySpec {
        name: "1gateway".to_string(),
        namespace: "Istio".to_string(),
        labels: BTreeMap::new(),
        replicas: 0,
        ports: Vec::new(),
        ..GatewaySpec::default()
    });
    for needle in [
        "starting with a letter",
        "namespace",
        "labels",
        "replicas",
        "at least one port",
    ] {
        assert!(
            problems.contains(needle),
            "missing {needle:?} in:\n{problems}"
        );
    }
}

#[test]
fn validate_rejects_clashing_gateways() {
    let mut spec = seed_spec();
    spec.eastwest_gateway = Some(EastWestSpec::default());
    spec.ingress_gateway = Some(GatewaySpec {
        name: "istio-eastwestgateway".to_string(),
        ..GatewaySpec::default()
    });
    let problems = validate(&spec).expect_err("clash").join("\n");
    assert!(problems.contains("both named"), "{problems}");
}
