//! The services rules: DNS where a host is called, destinations and subsets, workload
//! labels, REGISTRY_ONLY, ServiceEntry VIPs.

use mesh_engine::provider::FindingSeverity;

use super::tests::{mesh, only, problems, s, Fixture};

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: helloworld\nspec:\n  selector:\n    app: helloworld\n  ports:\n  - port: 5000\n";

fn deployment(version: &str) -> String {
    format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: helloworld-{version}\nspec:\n  template:\n    metadata:\n      labels:\n        app: helloworld\n        version: {version}\n")
}

const PER_CLUSTER: &str = "apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata:\n  name: helloworld\nspec:\n  host: helloworld.sample.svc.cluster.local\n  subsets:\n  - name: cluster1\n    labels:\n      topology.istio.io/cluster: cluster1\n  - name: cluster2\n    labels:\n      topology.istio.io/cluster: cluster2\n---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: helloworld\nspec:\n  hosts:\n  - helloworld.sample.svc.cluster.local\n  http:\n  - match:\n    - sourceLabels:\n        topology.istio.io/cluster: cluster1\n    route:\n    - destination:\n        host: helloworld.sample.svc.cluster.local\n        subset: cluster1\n  - route:\n    - destination:\n        host: helloworld\n        subset: cluster2\n";

/// helloworld v1 in cluster1 and v2 in cluster2, its Service in both, sleep's namespace
/// labelled, and the per-cluster routing rules in cluster1.
fn helloworld() -> Fixture {
    let mut f = mesh();
    for (cluster, version) in [("cluster1", "v1"), ("cluster2", "v2")] {
        f.namespace(cluster, "sample", &[("istio-injection", "enabled")]);
        f.manifests(
            &format!("kubernetes_manifests.service[\"{cluster}\"]"),
            cluster,
            "sample",
            SERVICE,
        );
        f.manifests(
            &format!("kubernetes_manifests.helloworld[\"{cluster}\"]"),
            cluster,
            "sample",
            &deployment(version),
        );
    }
    f.manifests(
        "kubernetes_manifests.routing",
        "cluster1",
        "sample",
        PER_CLUSTER,
    );
    f
}

#[test]
fn per_cluster_subsets_select_the_topology_labels_istio_adds() {
    let findings = helloworld().check();
    assert!(problems(&findings).is_empty(), "{findings:#?}");
}

#[test]
fn a_subset_no_destination_rule_defines_is_an_error() {
    let mut f = helloworld();
    f.manifests(
        "kubernetes_manifests.routing",
        "cluster1",
        "sample",
        &PER_CLUSTER.replace("subset: cluster2", "subset: cluster3"),
    );
    let finding = only(&f.check(), "services");
    assert_eq!(finding.address, "kubernetes_manifests.routing");
    assert!(
        finding.message.contains("subset \"cluster3\""),
        "{}",
        finding.message
    );
    assert!(
        finding.message.contains("cluster1, cluster2"),
        "{}",
        finding.message
    );
}

#[test]
fn a_subset_whose_labels_no_workload_has_is_an_error() {
    let mut f = helloworld();
    f.manifests(
        "kubernetes_manifests.routing",
        "cluster1",
        "sample",
        &PER_CLUSTER.replace("topology.istio.io/cluster: cluster2", "version: v3"),
    );
    let finding = only(&f.check(), "services");
    assert!(
        finding.message.contains("version=v3"),
        "{}",
        finding.message
    );
    assert!(
        finding
            .related
            .contains(&"kubernetes_manifests.helloworld[\"cluster2\"]".to_string()),
        "{finding:#?}"
    );
}

#[test]
fn a_called_service_that_exists_only_in_another_cluster_fails_dns() {
    let mut f = helloworld();
    f.remove("kubernetes_manifests.service[\"cluster1\"]");
    let findings = f.check();
    let dns: Vec<_> = problems(&findings)
        .into_iter()
        .filter(|f| f.message.contains("does not resolve"))
        .collect();
    assert!(!dns.is_empty(), "{findings:#?}");
    assert!(dns[0]
        .fix
        .clone()
        .unwrap_or_default()
        .contains("dns_capture"));
    let mut f = helloworld();
    f.remove("kubernetes_manifests.service[\"cluster1\"]");
    f.control_plane(
        "cluster1",
        "network1",
        &[("dns_capture", mesh_engine::value::Value::Bool(true))],
    );
    let findings = f.check();
    assert!(
        !findings
            .iter()
            .any(|f| f.message.contains("does not resolve")),
        "{findings:#?}"
    );
}

#[test]
fn a_destination_outside_the_registry_is_an_error() {
    let mut f = helloworld();
    f.manifests(
        "kubernetes_manifests.routing",
        "cluster1",
        "sample",
        &PER_CLUSTER.replace("host: helloworld\n", "host: goodbye\n"),
    );
    let finding = only(&f.check(), "services");
    assert!(
        finding.message.contains("goodbye.sample.svc.cluster.local"),
        "{}",
        finding.message
    );
    assert!(
        finding.message.contains("not in the registry"),
        "{}",
        finding.message
    );
}

const EXTERNAL: &str = "apiVersion: networking.istio.io/v1alpha3\nkind: DestinationRule\nmetadata:\n  name: google\nspec:\n  host: www.google.com\n";

#[test]
fn registry_only_needs_service_entries_for_external_hosts() {
    let mut f = helloworld();
    f.manifests(
        "kubernetes_manifests.external",
        "cluster1",
        "sample",
        EXTERNAL,
    );
    assert!(problems(&f.check()).is_empty(), "ALLOW_ANY lets it out");
    f.control_plane(
        "cluster1",
        "network1",
        &[("outbound_traffic_policy", s("REGISTRY_ONLY"))],
    );
    let finding = only(&f.check(), "services");
    assert!(
        finding.message.contains("REGISTRY_ONLY"),
        "{}",
        finding.message
    );
    let entry = "apiVersion: networking.istio.io/v1alpha3\nkind: ServiceEntry\nmetadata:\n  name: google\nspec:\n  hosts:\n  - www.google.com\n  location: MESH_EXTERNAL\n";
    f.manifests("kubernetes_manifests.entry", "cluster1", "sample", entry);
    assert!(problems(&f.check()).is_empty());
}

#[test]
fn registry_only_warns_about_urls_workloads_name() {
    let mut f = helloworld();
    f.control_plane(
        "cluster1",
        "network1",
        &[("outbound_traffic_policy", s("REGISTRY_ONLY"))],
    );
    let client = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: client\nspec:\n  template:\n    metadata:\n      labels:\n        app: client\n    spec:\n      containers:\n      - name: c\n        env:\n        - name: UPSTREAM\n          value: https://api.example.org/v1\n";
    f.manifests("kubernetes_manifests.client", "cluster1", "sample", client);
    let finding = only(&f.check(), "services");
    assert_eq!(finding.severity, FindingSeverity::Warning);
    assert!(
        finding.message.contains("api.example.org"),
        "{}",
        finding.message
    );
}

#[test]
fn service_entry_vips_are_unique_per_cluster() {
    let mut f = helloworld();
    let entries = "apiVersion: networking.istio.io/v1alpha3\nkind: ServiceEntry\nmetadata:\n  name: a\nspec:\n  hosts:\n  - a.remote\n  addresses:\n  - 240.0.0.2\n---\napiVersion: networking.istio.io/v1alpha3\nkind: ServiceEntry\nmetadata:\n  name: b\nspec:\n  hosts:\n  - b.remote\n  addresses:\n  - 240.0.0.2\n";
    f.manifests(
        "kubernetes_manifests.entries",
        "cluster1",
        "sample",
        entries,
    );
    let finding = only(&f.check(), "services");
    assert!(finding.message.contains("240.0.0.2"), "{}", finding.message);
    f.manifests(
        "kubernetes_manifests.entries",
        "cluster2",
        "sample",
        entries.split("---").next().unwrap_or_default(),
    );
    f.manifests(
        "kubernetes_manifests.other",
        "cluster1",
        "sample",
        entries.split("---").nth(1).unwrap_or_default(),
    );
    assert!(problems(&f.check()).is_empty(), "one per cluster is fine");
}

#[test]
fn routing_rules_in_manifests_not_known_yet_are_not_judged() {
    let mut f = helloworld();
    let content = f.later(
        "module.istio[\"cluster2\"].istio_control_plane.this",
        "ingress_gateway_address",
    );
    let yaml = format!("{}\n---\napiVersion: networking.istio.io/v1alpha3\nkind: ServiceEntry\nmetadata:\n  name: remote\nspec:\n  hosts:\n  - helloworld.sample.cluster2\n  endpoints:\n  - address: {}\n", PER_CLUSTER.replace("host: helloworld\n", "host: helloworld.sample.cluster2\n").replace("subset: cluster2", "subset: cluster1"), content.as_str().unwrap_or_default());
    f.manifests("kubernetes_manifests.routing", "cluster1", "sample", &yaml);
    let findings = f.check();
    assert!(
        problems(&findings)
            .iter()
            .all(|f| !f.message.contains("not in the registry")),
        "{findings:#?}"
    );
}

#[test]
fn a_subset_matched_only_in_an_undiscovered_cluster_names_the_missing_discovery() {
    let mut f = helloworld();
    f.remove("istio_remote_secret.discovery[\"cluster2-in-cluster1\"]");
    let findings = f.check();
    let subset = problems(&findings)
        .into_iter()
        .find(|f| f.rule.as_deref() == Some("services"))
        .cloned()
        .expect("a services finding");
    assert!(
        subset
            .message
            .contains("only workloads in cluster2, which istiod in cluster1 does not discover"),
        "{}",
        subset.message
    );
    assert!(subset.fix.unwrap_or_default().contains("remote secret"));
}
