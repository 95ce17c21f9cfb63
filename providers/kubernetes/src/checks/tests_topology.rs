//! The networks and injection rules.

use mesh_engine::provider::FindingSeverity;
use mesh_engine::value::Value;

use super::tests::{
    aks_address, control_plane_address, map, mesh, namespace_address, only, problems, s, Fixture,
    VNET,
};

// --- networks ---

#[test]
fn a_cluster_on_another_network_without_an_east_west_gateway_is_unreachable() {
    let mut f = mesh();
    f.control_plane("cluster2", "network2", &[("eastwest_gateway", Value::Null)]);
    let finding = only(&f.check(), "networks");
    assert_eq!(finding.address, control_plane_address("cluster2"));
    assert_eq!(finding.attribute.as_deref(), Some("eastwest_gateway"));
    assert!(
        finding.message.contains("no east-west gateway"),
        "{}",
        finding.message
    );
    assert!(
        finding.message.contains("cluster1 (\"network1\")"),
        "{}",
        finding.message
    );
}

#[test]
fn an_east_west_gateway_must_expose_services_or_have_a_declared_gateway() {
    let mut f = mesh();
    let closed = map(&[("expose_services", Value::Bool(false))]);
    f.control_plane("cluster1", "network1", &[("eastwest_gateway", closed)]);
    let finding = only(&f.check(), "networks");
    assert!(
        finding.message.contains("does not expose"),
        "{}",
        finding.message
    );
    let gateway = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: cross-network-gateway\nspec:\n  selector:\n    istio: eastwestgateway\n  servers:\n  - port:\n      number: 15443\n      name: tls\n      protocol: TLS\n    tls:\n      mode: AUTO_PASSTHROUGH\n    hosts:\n    - \"*.local\"\n";
    f.manifests(
        "kubernetes_manifests.expose",
        "cluster1",
        "istio-system",
        gateway,
    );
    assert!(problems(&f.check()).is_empty());
}

/// Both clusters on one network, in two virtual networks.
fn one_network(peered: &[(&str, &str)]) -> Fixture {
    let mut f = mesh();
    for (cluster, vnet, prefix) in [
        ("cluster1", "vnet1", "10.0.0.0/20"),
        ("cluster2", "vnet2", "10.1.0.0/20"),
    ] {
        f.aks(cluster, vnet, "System");
        f.namespace(
            cluster,
            "istio-system",
            &[("topology.istio.io/network", "network1")],
        );
        f.control_plane(cluster, "network1", &[("eastwest_gateway", Value::Null)]);
        let network = map(&[
            ("id", s(&format!("{VNET}/{vnet}"))),
            (
                "subnet",
                Value::List(vec![map(&[
                    ("name", s("System")),
                    ("address_prefixes", Value::List(vec![s(prefix)])),
                ])]),
            ),
        ]);
        f.add(
            &format!("azure_virtual_network.{vnet}"),
            "azure_virtual_network",
            network.clone(),
            network,
        );
    }
    for (from, to) in peered {
        let peering = map(&[
            ("id", s(&format!("{VNET}/{from}/virtualNetworkPeerings/p"))),
            ("remote_virtual_network_id", s(&format!("{VNET}/{to}"))),
        ]);
        f.add(
            &format!("azure_virtual_network_peering.{from}"),
            "azure_virtual_network_peering",
            peering.clone(),
            peering,
        );
    }
    f
}

#[test]
fn clusters_of_one_network_need_networks_peered_both_ways() {
    let f = one_network(&[("vnet1", "vnet2"), ("vnet2", "vnet1")]);
    let findings = f.check();
    assert!(problems(&findings).is_empty(), "{findings:#?}");
    let f = one_network(&[("vnet1", "vnet2")]);
    let finding = only(&f.check(), "networks");
    assert_eq!(finding.address, aks_address("cluster2"));
    assert!(
        finding
            .message
            .contains("no peering from azure_virtual_network.vnet2 to azure_virtual_network.vnet1"),
        "{}",
        finding.message
    );
    assert!(finding
        .related
        .contains(&"azure_virtual_network.vnet1".to_string()));
}

#[test]
fn clusters_of_one_network_must_not_share_pod_addresses() {
    let mut f = one_network(&[("vnet1", "vnet2"), ("vnet2", "vnet1")]);
    let network = map(&[
        ("id", s(&format!("{VNET}/vnet2"))),
        (
            "subnet",
            Value::List(vec![map(&[
                ("name", s("System")),
                ("address_prefixes", Value::List(vec![s("10.0.8.0/24")])),
            ])]),
        ),
    ]);
    f.add(
        "azure_virtual_network.vnet2",
        "azure_virtual_network",
        network.clone(),
        network,
    );
    let finding = only(&f.check(), "networks");
    assert!(finding.message.contains("overlaps"), "{}", finding.message);
}

#[test]
fn overlay_pod_ranges_cannot_share_a_network() {
    let mut f = one_network(&[("vnet1", "vnet2"), ("vnet2", "vnet1")]);
    let value = map(&[
        ("id", s(&super::tests::aks_id("cluster1"))),
        (
            "network_profile",
            Value::List(vec![map(&[
                ("network_plugin", s("azure")),
                ("pod_cidr", s("192.168.0.0/16")),
            ])]),
        ),
    ]);
    f.add(
        &aks_address("cluster1"),
        "azure_kubernetes_cluster",
        value.clone(),
        value,
    );
    let finding = only(&f.check(), "networks");
    assert!(
        finding.message.contains("192.168.0.0/16"),
        "{}",
        finding.message
    );
}

// --- injection ---

#[test]
fn a_namespace_for_a_revision_that_does_not_exist_is_an_error() {
    let mut f = mesh();
    f.namespace("cluster1", "sample", &[("istio.io/rev", "1-20-0")]);
    let finding = only(&f.check(), "injection");
    assert_eq!(finding.address, namespace_address("cluster1", "sample"));
    assert!(finding.message.contains("1-20-0"), "{}", finding.message);
    assert!(finding.message.contains("1-19-1"), "{}", finding.message);
    assert!(finding
        .fix
        .unwrap_or_default()
        .contains("istio.io/rev=1-19-1"));
    let mut f = mesh();
    f.namespace("cluster1", "sample", &[("istio.io/rev", "1-19-1")]);
    assert!(problems(&f.check()).is_empty());
}

#[test]
fn istio_injection_needs_a_default_revision() {
    let mut f = mesh();
    f.control_plane(
        "cluster1",
        "network1",
        &[("default_revision", Value::Bool(false))],
    );
    f.namespace("cluster1", "sample", &[("istio-injection", "enabled")]);
    let finding = only(&f.check(), "injection");
    assert!(
        finding.message.contains("default revision"),
        "{}",
        finding.message
    );
}

#[test]
fn workloads_in_an_unlabelled_namespace_are_outside_the_mesh() {
    let mut f = mesh();
    f.namespace("cluster1", "sample", &[]);
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: sleep\nspec:\n  template:\n    metadata:\n      labels:\n        app: sleep\n";
    f.manifests(
        "kubernetes_manifests.sleep",
        "cluster1",
        "sample",
        deployment,
    );
    let finding = only(&f.check(), "injection");
    assert_eq!(finding.severity, FindingSeverity::Warning);
    assert!(finding
        .related
        .contains(&"kubernetes_manifests.sleep".to_string()));
}
