//! Fixtures for the mesh rules (a two-cluster mesh built from planned resources, as a plan of
//! the scenarios has them before anything exists), and the trust, identity and discovery
//! rules.

use std::collections::BTreeMap;

use mesh_engine::provider::{
    Deployment, DeploymentResource, FindingSeverity, Origins, PlanFinding,
};
use mesh_engine::value::Value;
use time::macros::datetime;
use time::OffsetDateTime;

pub(super) const NOW: OffsetDateTime = datetime!(2025-06-01 00:00 UTC);

pub(super) fn s(text: &str) -> Value {
    Value::string(text)
}

pub(super) fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

pub(super) fn aks_id(cluster: &str) -> String {
    format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-{cluster}")
}

pub(super) const VNET: &str =
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks";

/// A deployment under construction.
pub(super) struct Fixture {
    pub resources: Vec<DeploymentResource>,
    origins: Origins,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture {
            resources: Vec::new(),
            origins: Origins::new(),
        }
    }

    /// A placeholder for `address.attribute`, known only after apply.
    pub fn later(&mut self, address: &str, attribute: &str) -> Value {
        let symbolic = self
            .origins
            .symbolize(address, &map(&[(attribute, Value::Unknown)]));
        symbolic.get(attribute).cloned().unwrap_or(Value::Null)
    }

    pub fn add(&mut self, address: &str, resource_type: &str, planned: Value, config: Value) {
        self.resources.retain(|r| r.address != address);
        self.resources.push(DeploymentResource {
            address: address.into(),
            resource_type: resource_type.into(),
            planned,
            config,
        });
    }

    pub fn remove(&mut self, address: &str) {
        self.resources.retain(|r| r.address != address);
    }

    /// An AKS cluster in subnet `subnet` of network `vnet`.
    pub fn aks(&mut self, cluster: &str, vnet: &str, subnet: &str) {
        let value = map(&[
            ("id", s(&aks_id(cluster))),
            ("name", s(&format!("aks-{cluster}"))),
            ("fqdn", Value::Unknown),
            (
                "default_node_pool",
                Value::List(vec![map(&[(
                    "vnet_subnet_id",
                    s(&format!("{VNET}/{vnet}/subnets/{subnet}")),
                )])]),
            ),
            (
                "network_profile",
                Value::List(vec![map(&[
                    ("network_plugin", s("azure")),
                    ("service_cidr", s("172.16.0.0/16")),
                ])]),
            ),
        ]);
        self.add(
            &aks_address(cluster),
            "azure_kubernetes_cluster",
            value.clone(),
            value,
        );
    }

    /// The `cluster` attribute's configuration: the AKS object, FQDN known after apply.
    pub fn cluster_value(&mut self, cluster: &str) -> Value {
        let fqdn = self.later(&aks_address(cluster), "fqdn");
        map(&[
            ("id", s(&aks_id(cluster))),
            ("name", s(&format!("aks-{cluster}"))),
            ("fqdn", fqdn),
        ])
    }

    /// A Kubernetes or Istio resource in a new cluster: `cluster` unknown when planned.
    pub fn in_cluster(&mut self, address: &str, resource_type: &str, cluster: &str, attrs: Value) {
        let cluster_value = self.cluster_value(cluster);
        let mut planned = attrs.clone();
        planned.set_or_insert("cluster", Value::Unknown);
        let mut config = attrs;
        config.set_or_insert("cluster", cluster_value);
        self.add(address, resource_type, planned, config);
    }

    pub fn control_plane(&mut self, cluster: &str, network: &str, extra: &[(&str, Value)]) {
        let mut attrs = map(&[
            ("version", s("1.19.1")),
            ("revision", s("1-19-1")),
            ("mesh_id", s("mesh1")),
            ("cluster_name", s(cluster)),
            ("network", s(network)),
            ("ca_source", s("cacerts")),
            ("outbound_traffic_policy", s("ALLOW_ANY")),
            ("default_revision", Value::Bool(true)),
            ("dns_capture", Value::Bool(false)),
            ("eastwest_gateway", map(&[])),
        ]);
        for (k, v) in extra {
            attrs.set_or_insert(k, v.clone());
        }
        self.in_cluster(
            &control_plane_address(cluster),
            "istio_control_plane",
            cluster,
            attrs,
        );
    }

    pub fn root(&mut self, address: &str) {
        let value = map(&[("common_name", s("Root CA")), ("cert_pem", Value::Unknown)]);
        self.add(address, "pki_root_ca", value.clone(), value);
    }

    /// The cluster's intermediate (signed by `root`) and its `cacerts` Secret.
    pub fn plug_in_ca(&mut self, cluster: &str, root: &str) {
        let intermediate = intermediate_address(cluster);
        let issuer = self.later(root, "cert_pem");
        let planned = map(&[
            ("cluster_name", s(cluster)),
            ("issuer_cert_pem", Value::Unknown),
            ("cert_pem", Value::Unknown),
        ]);
        let config = map(&[
            ("cluster_name", s(cluster)),
            ("issuer_cert_pem", issuer.into_sensitive()),
        ]);
        self.add(&intermediate, "pki_intermediate_ca", planned, config);
        let data = map(&[
            ("ca-cert.pem", self.later(&intermediate, "cert_pem")),
            ("ca-key.pem", self.later(&intermediate, "private_key_pem")),
            ("root-cert.pem", self.later(&intermediate, "root_cert_pem")),
            (
                "cert-chain.pem",
                self.later(&intermediate, "cert_chain_pem"),
            ),
        ]);
        let attrs = map(&[
            ("name", s("cacerts")),
            ("namespace", s("istio-system")),
            ("type", s("Opaque")),
            ("data", data.into_sensitive()),
        ]);
        let address = format!("module.istio[\"{cluster}\"].kubernetes_secret.cacerts[0]");
        self.in_cluster(&address, "kubernetes_secret", cluster, attrs);
    }

    pub fn namespace(&mut self, cluster: &str, name: &str, labels: &[(&str, &str)]) {
        let labels = map(&labels.iter().map(|(k, v)| (*k, s(v))).collect::<Vec<_>>());
        let attrs = map(&[("name", s(name)), ("labels", labels)]);
        let address = namespace_address(cluster, name);
        self.in_cluster(&address, "kubernetes_namespace", cluster, attrs);
    }

    pub fn manifests(&mut self, address: &str, cluster: &str, namespace: &str, yaml: &str) {
        let attrs = map(&[
            ("content", s(yaml)),
            ("namespace", s(namespace)),
            ("documents", Value::Unknown),
        ]);
        self.in_cluster(address, "kubernetes_manifests", cluster, attrs);
    }

    pub fn remote_secret(&mut self, target: &str, source: &str, name: &str) {
        let address = format!("istio_remote_secret.discovery[\"{source}-in-{target}\"]");
        let config = map(&[
            ("cluster", self.cluster_value(target)),
            ("source_cluster", self.cluster_value(source)),
            ("cluster_name", s(name)),
        ]);
        let planned = map(&[
            ("cluster", Value::Unknown),
            ("source_cluster", Value::Unknown),
            ("cluster_name", s(name)),
        ]);
        self.add(&address, "istio_remote_secret", planned, config);
    }

    pub fn check(&self) -> Vec<PlanFinding> {
        let deployment = Deployment::new(self.resources.clone(), self.origins.clone());
        super::check(&deployment, NOW)
    }
}

pub(super) fn aks_address(cluster: &str) -> String {
    format!("module.aks[\"{cluster}\"].azure_kubernetes_cluster.this")
}

pub(super) fn control_plane_address(cluster: &str) -> String {
    format!("module.istio[\"{cluster}\"].istio_control_plane.this")
}

pub(super) fn intermediate_address(cluster: &str) -> String {
    format!("module.istio[\"{cluster}\"].pki_intermediate_ca.this")
}

pub(super) fn namespace_address(cluster: &str, name: &str) -> String {
    format!("kubernetes_namespace.{name}[\"{cluster}\"]")
}

/// The multi-network scenario's mesh: two clusters on two networks in one virtual network,
/// one root, east-west gateways, remote secrets both ways.
pub(super) fn mesh() -> Fixture {
    let mut f = Fixture::new();
    f.root("pki_root_ca.mesh");
    for (cluster, network, subnet) in [
        ("cluster1", "network1", "one"),
        ("cluster2", "network2", "two"),
    ] {
        f.aks(cluster, "vnet", subnet);
        f.namespace(
            cluster,
            "istio-system",
            &[("topology.istio.io/network", network)],
        );
        f.plug_in_ca(cluster, "pki_root_ca.mesh");
        f.control_plane(cluster, network, &[]);
    }
    f.remote_secret("cluster1", "cluster2", "cluster2");
    f.remote_secret("cluster2", "cluster1", "cluster1");
    f
}

/// Findings other than infos.
pub(super) fn problems(findings: &[PlanFinding]) -> Vec<&PlanFinding> {
    findings
        .iter()
        .filter(|f| f.severity != FindingSeverity::Info)
        .collect()
}

/// The one finding of a rule family, asserting there is exactly one problem.
pub(super) fn only(findings: &[PlanFinding], rule: &str) -> PlanFinding {
    let found = problems(findings);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].rule.as_deref(), Some(rule), "{found:#?}");
    found[0].clone()
}

#[test]
fn a_well_wired_mesh_has_no_findings() {
    let findings = mesh().check();
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn resources_in_new_clusters_are_placed_by_the_aks_id_of_their_configuration() {
    let f = mesh();
    let deployment = Deployment::new(f.resources, f.origins);
    let model = super::MeshModel::build(&deployment);
    let names: Vec<&str> = model.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cluster1", "cluster2"]);
    assert!(model.unplaced.is_empty());
    assert_eq!(
        model.clusters[0].aks.as_deref(),
        Some(aks_address("cluster1").as_str())
    );
    assert_eq!(model.clusters[0].objects.len(), 2, "namespace and cacerts");
}

// --- trust ---

#[test]
fn a_cluster_signed_by_another_root_is_an_error_naming_both_roots() {
    let mut f = mesh();
    f.root("pki_root_ca.other");
    f.plug_in_ca("cluster2", "pki_root_ca.other");
    let finding = only(&f.check(), "trust");
    assert_eq!(finding.severity, FindingSeverity::Error);
    assert_eq!(finding.address, intermediate_address("cluster2"));
    assert!(
        finding.message.contains("pki_root_ca.other"),
        "{}",
        finding.message
    );
    assert!(
        finding.message.contains("pki_root_ca.mesh"),
        "{}",
        finding.message
    );
    assert!(
        finding.message.contains("mTLS handshake"),
        "{}",
        finding.message
    );
    assert!(finding.related.contains(&"pki_root_ca.other".to_string()));
    assert!(finding.fix.unwrap_or_default().contains("pki_root_ca.mesh"));
}

#[test]
fn known_certificates_are_matched_by_their_text() {
    let mut f = mesh();
    let pem = "-----BEGIN CERTIFICATE-----\nroot\n-----END CERTIFICATE-----";
    let root = map(&[("cert_pem", s(pem))]);
    f.add("pki_root_ca.mesh", "pki_root_ca", root.clone(), root);
    let intermediate = intermediate_address("cluster1");
    let value = map(&[
        ("issuer_cert_pem", s(pem)),
        (
            "cert_pem",
            s("-----BEGIN CERTIFICATE-----\nca1\n-----END CERTIFICATE-----"),
        ),
    ]);
    f.add(&intermediate, "pki_intermediate_ca", value.clone(), value);
    assert!(problems(&f.check()).is_empty());
}

#[test]
fn a_cluster_on_the_self_signed_ca_is_an_error() {
    let mut f = mesh();
    f.control_plane("cluster1", "network1", &[("ca_source", s("self_signed"))]);
    let finding = only(&f.check(), "trust");
    assert_eq!(finding.address, control_plane_address("cluster1"));
    assert_eq!(finding.attribute.as_deref(), Some("ca_source"));
    assert!(
        finding.message.contains("self-signed"),
        "{}",
        finding.message
    );
}

#[test]
fn cacerts_without_the_secret_is_an_error() {
    let mut f = mesh();
    f.remove("module.istio[\"cluster2\"].kubernetes_secret.cacerts[0]");
    let finding = only(&f.check(), "trust");
    assert!(
        finding.message.contains("istio-system/cacerts"),
        "{}",
        finding.message
    );
}

#[test]
fn key_vault_files_lead_to_their_root() {
    let mut f = mesh();
    f.root("pki_root_ca.other");
    for (cluster, root) in [
        ("cluster1", "pki_root_ca.mesh"),
        ("cluster2", "pki_root_ca.other"),
    ] {
        f.plug_in_ca(cluster, root);
        f.remove(&format!(
            "module.istio[\"{cluster}\"].kubernetes_secret.cacerts[0]"
        ));
        f.control_plane(
            cluster,
            if cluster == "cluster1" {
                "network1"
            } else {
                "network2"
            },
            &[
                ("ca_source", s("key_vault")),
                ("ca_secret_provider_class", s("istio-ca")),
            ],
        );
        let objects = format!(
            "array:\n  - |\n    objectName: {cluster}-ca-cert\n    objectType: cert\n    objectAlias: ca-cert.pem\n  - |\n    objectName: root-cert-{cluster}\n    objectType: secret\n    objectAlias: root-cert.pem\n"
        );
        let manifest = map(&[
            ("apiVersion", s("secrets-store.csi.x-k8s.io/v1")),
            ("kind", s("SecretProviderClass")),
            (
                "metadata",
                map(&[("name", s("istio-ca")), ("namespace", s("istio-system"))]),
            ),
            (
                "spec",
                map(&[("parameters", map(&[("objects", s(&objects))]))]),
            ),
        ]);
        let address = format!("module.istio[\"{cluster}\"].kubernetes_manifest.spc[0]");
        f.in_cluster(
            &address,
            "kubernetes_manifest",
            cluster,
            map(&[("manifest", manifest)]),
        );
        let contents = f.later(&intermediate_address(cluster), "pkcs12_base64");
        let cert = map(&[
            ("name", s(&format!("{cluster}-ca-cert"))),
            (
                "certificate",
                Value::List(vec![map(&[("contents", contents)])]),
            ),
        ]);
        f.add(
            &format!("azure_key_vault_certificate.{cluster}"),
            "azure_key_vault_certificate",
            cert.clone(),
            cert,
        );
        let value = f.later(root, "cert_pem");
        let secret = map(&[
            ("name", s(&format!("root-cert-{cluster}"))),
            ("value", value),
        ]);
        f.add(
            &format!("azure_key_vault_secret.{cluster}"),
            "azure_key_vault_secret",
            secret.clone(),
            secret,
        );
    }
    let finding = only(&f.check(), "trust");
    assert_eq!(finding.address, intermediate_address("cluster2"));
    assert!(
        finding.message.contains("pki_root_ca.other"),
        "{}",
        finding.message
    );
    assert!(
        finding
            .related
            .contains(&"module.istio[\"cluster2\"].kubernetes_manifest.spc[0]".to_string()),
        "{finding:#?}"
    );
}

#[test]
fn certificates_expiring_within_30_days_are_warnings_and_expired_ones_errors() {
    let mut f = mesh();
    let soon = map(&[
        ("cert_pem", s("x")),
        ("not_after", s("2025-06-11T00:00:00Z")),
    ]);
    f.add(
        "pki_certificate.frontend",
        "pki_certificate",
        soon.clone(),
        soon,
    );
    let past = map(&[
        ("cert_pem", s("y")),
        ("not_after", s("2025-05-01T00:00:00Z")),
    ]);
    f.add("pki_certificate.old", "pki_certificate", past.clone(), past);
    let later = map(&[
        ("cert_pem", s("z")),
        ("not_after", s("2026-06-01T00:00:00Z")),
    ]);
    f.add(
        "pki_certificate.fine",
        "pki_certificate",
        later.clone(),
        later,
    );
    let findings = f.check();
    let found = problems(&findings);
    assert_eq!(found.len(), 2, "{found:#?}");
    let soon = found
        .iter()
        .find(|f| f.address == "pki_certificate.frontend")
        .expect("soon");
    assert_eq!(soon.severity, FindingSeverity::Warning);
    assert!(soon.message.contains("in 10 days"), "{}", soon.message);
    let old = found
        .iter()
        .find(|f| f.address == "pki_certificate.old")
        .expect("old");
    assert_eq!(old.severity, FindingSeverity::Error);
}

// --- identity ---

#[test]
fn a_different_mesh_id_is_an_error_with_the_majority_as_fix() {
    let mut f = mesh();
    f.control_plane("cluster2", "network2", &[("mesh_id", s("mesh2"))]);
    let finding = only(&f.check(), "identity");
    assert_eq!(finding.attribute.as_deref(), Some("mesh_id"));
    assert!(finding.message.contains("mesh2"), "{}", finding.message);
}

#[test]
fn two_clusters_with_one_name_are_an_error() {
    let mut f = mesh();
    f.control_plane("cluster2", "network2", &[("cluster_name", s("cluster1"))]);
    f.remote_secret("cluster1", "cluster2", "cluster1");
    let findings = f.check();
    assert!(
        problems(&findings)
            .iter()
            .any(|f| f.rule.as_deref() == Some("identity")
                && f.message.contains("also used by another cluster")),
        "{findings:#?}"
    );
}

#[test]
fn istio_system_must_carry_the_control_plane_network() {
    let mut f = mesh();
    f.namespace(
        "cluster2",
        "istio-system",
        &[("topology.istio.io/network", "network1")],
    );
    let finding = only(&f.check(), "identity");
    assert_eq!(
        finding.address,
        namespace_address("cluster2", "istio-system")
    );
    assert!(finding.message.contains("network2"), "{}", finding.message);
    let mut f = mesh();
    f.namespace("cluster1", "istio-system", &[]);
    let finding = only(&f.check(), "identity");
    assert!(
        finding
            .message
            .contains("no topology.istio.io/network label"),
        "{}",
        finding.message
    );
}

// --- discovery ---

#[test]
fn a_missing_remote_secret_keeps_traffic_local() {
    let mut f = mesh();
    f.remove("istio_remote_secret.discovery[\"cluster2-in-cluster1\"]");
    let findings = f.check();
    let discovery: Vec<_> = problems(&findings)
        .into_iter()
        .filter(|f| f.rule.as_deref() == Some("discovery"))
        .collect();
    assert_eq!(discovery.len(), 1, "{findings:#?}");
    let finding = discovery[0];
    assert_eq!(finding.address, control_plane_address("cluster1"));
    assert!(
        finding.message.contains("stays in cluster1"),
        "{}",
        finding.message
    );
    let fix = finding.fix.clone().unwrap_or_default();
    assert!(fix.contains("istio_remote_secret"), "{fix}");
    assert!(fix.contains(&aks_address("cluster2")), "{fix}");
}

#[test]
fn a_remote_secret_under_the_wrong_name_is_an_error() {
    let mut f = mesh();
    f.remote_secret("cluster1", "cluster2", "cluster1");
    let findings = f.check();
    let finding = problems(&findings)
        .into_iter()
        .find(|f| f.rule.as_deref() == Some("discovery"))
        .cloned()
        .expect("a discovery finding");
    assert_eq!(finding.attribute.as_deref(), Some("cluster_name"));
    assert!(finding.message.contains("own name"), "{}", finding.message);
}

#[test]
fn independent_control_planes_are_reported_as_information_only() {
    let mut f = mesh();
    for cluster in ["cluster1", "cluster2"] {
        let network = if cluster == "cluster1" {
            "network1"
        } else {
            "network2"
        };
        f.control_plane(cluster, network, &[("eastwest_gateway", Value::Null)]);
    }
    f.remove("istio_remote_secret.discovery[\"cluster2-in-cluster1\"]");
    f.remove("istio_remote_secret.discovery[\"cluster1-in-cluster2\"]");
    let findings = f.check();
    assert!(problems(&findings).is_empty(), "{findings:#?}");
    let info: BTreeMap<_, _> = findings
        .iter()
        .map(|f| (f.rule.clone(), f.message.clone()))
        .collect();
    assert!(info[&Some("discovery".to_string())].contains("independent control planes"));
}
