//! The seed scenarios as specs (specs/multi-network, specs/gateway-federation,
//! specs/multicluster-istio): each applies on the local cloud — Azure, PKI, Kubernetes and Istio
//! in one apply — plans no changes right after, keeps cluster credentials out of state and
//! output, and destroys to an empty local cloud and an empty state.

use crate::harness::{ok_local, run_local, scenario_spec, Spec};

/// Apply, then a plan that must find nothing to do, then destroy to nothing.
fn round_trip(spec: &Spec) {
    let applied = ok_local(spec, &["apply", "-auto-approve"]);
    applied.stdout_has("Apply complete!");
    let plan = run_local(spec, &["plan", "-detailed-exitcode"]);
    assert_eq!(
        plan.code,
        0,
        "a plan right after apply must be empty\n{}",
        plan.dump()
    );
    plan.stdout_has("No changes.");
    assert_credentials_kept_out(spec, &[&applied.all(), &plan.all()]);
    let destroyed = ok_local(spec, &["destroy", "-auto-approve"]);
    destroyed.stdout_has("Destroy complete!");
    ok_local(spec, &["local", "status"]).stdout_has("0 resources");
    assert!(spec.addresses().is_empty(), "{:?}", spec.addresses());
}

/// No kubeconfig, bearer token or private key in state or output.
fn assert_credentials_kept_out(spec: &Spec, outputs: &[&str]) {
    let state = String::from_utf8(spec.state_bytes().expect("state")).expect("utf-8");
    for needle in ["token:", "clusterAdmin", "client-key-data"] {
        assert!(!state.contains(needle), "{needle} in state");
        for out in outputs {
            assert!(!out.contains(needle), "{needle} in output\n{out}");
        }
    }
    for out in outputs {
        assert!(
            !out.contains("PRIVATE KEY"),
            "a private key in output\n{out}"
        );
    }
}

#[test]
fn multi_network_applies_plans_clean_and_destroys() {
    let spec = scenario_spec("multi-network");
    let addresses_before = spec.addresses();
    assert!(addresses_before.is_empty());
    round_trip(&spec);
}

#[test]
fn multi_network_wires_both_clusters_into_one_mesh() {
    let spec = scenario_spec("multi-network");
    ok_local(&spec, &["apply", "-auto-approve"]);
    let addresses = spec.addresses();
    for expected in [
        "pki_root_ca.mesh",
        "module.istio[\"cluster1\"].istio_control_plane.this",
        "module.istio[\"cluster2\"].kubernetes_secret.cacerts[0]",
        "istio_remote_secret.discovery[\"cluster1-in-cluster2\"]",
        "istio_remote_secret.discovery[\"cluster2-in-cluster1\"]",
        "kubernetes_manifests.helloworld[\"cluster2\"]",
        "kubernetes_manifests.bookinfo_gateway",
    ] {
        assert!(
            addresses.iter().any(|a| a == expected),
            "{expected} missing from {addresses:?}"
        );
    }
    let plane = spec
        .attrs("module.istio[\"cluster2\"].istio_control_plane.this")
        .expect("control plane");
    assert_eq!(plane["revision"], "1-19-1");
    assert_eq!(plane["network"], "network2");
    assert!(plane["eastwest_gateway_address"].is_string(), "{plane}");
    let helloworld = spec
        .attrs("kubernetes_manifests.helloworld[\"cluster1\"]")
        .expect("helloworld v1");
    let documents = helloworld["documents"].as_object().expect("documents");
    assert_eq!(
        documents.keys().collect::<Vec<_>>(),
        ["apps/v1/Deployment/sample/helloworld-v1"],
        "only v1 is selected in cluster1"
    );
    let output = ok_local(&spec, &["output", "-raw", "productpage_url"]);
    assert!(output.stdout.starts_with("http://"), "{}", output.dump());
    ok_local(&spec, &["destroy", "-auto-approve"]);
}

#[test]
fn gateway_federation_applies_plans_clean_and_destroys() {
    let spec = scenario_spec("gateway-federation");
    round_trip(&spec);
}

#[test]
fn gateway_federation_routes_through_the_serving_clusters_gateway() {
    let spec = scenario_spec("gateway-federation");
    ok_local(&spec, &["apply", "-auto-approve"]);
    let planes: Vec<String> = spec
        .addresses()
        .into_iter()
        .filter(|a| a.ends_with("istio_control_plane.this"))
        .collect();
    assert_eq!(planes.len(), 2, "{planes:?}");
    for plane in &planes {
        let attrs = spec.attrs(plane).expect("control plane");
        assert_eq!(attrs["outbound_traffic_policy"], "REGISTRY_ONLY");
        assert_eq!(attrs["dns_capture"], true);
        assert_eq!(attrs["ingress_gateway"]["router_mode"], "sni-dnat");
    }
    ok_local(&spec, &["destroy", "-auto-approve"]);
}

#[test]
fn multicluster_istio_keeps_the_root_key_out_of_azure_and_wires_istiod_to_key_vault() {
    let spec = scenario_spec("multicluster-istio");
    ok_local(&spec, &["apply", "-auto-approve"]);
    let root = spec.attrs("pki_root_ca.mesh").expect("root CA");
    let root_key = root["private_key_pem"].as_str().expect("root key in state");
    let root_key_body: String = root_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .take(3)
        .collect();
    let cloud_dir = spec.join(".mesh/local-cloud");
    for entry in std::fs::read_dir(&cloud_dir).expect("local cloud data") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                !text.contains(&root_key_body),
                "the root key reached Azure: {}",
                path.display()
            );
        }
    }
    for cluster in ["one", "two"] {
        let plane = spec
            .attrs(&format!(
                "module.mesh[\"{cluster}\"].istio_control_plane.this"
            ))
            .expect("control plane");
        assert_eq!(plane["ca_source"], "key_vault");
        assert_eq!(plane["ca_secret_provider_class"], "istio-ca-key-vault");
        assert_eq!(plane["revision"], "1-14-1");
        let class = spec
            .attrs(&format!(
                "module.mesh[\"{cluster}\"].kubernetes_manifest.ca_secret_provider_class[0]"
            ))
            .expect("SecretProviderClass");
        let objects = class["manifest"]["spec"]["parameters"]["objects"]
            .as_str()
            .expect("objects");
        for file in [
            "ca-cert.pem",
            "ca-key.pem",
            "cert-chain.pem",
            "root-cert.pem",
        ] {
            assert!(objects.contains(file), "{file} not mounted: {objects}");
        }
    }
    let secrets: Vec<String> = spec
        .addresses()
        .into_iter()
        .filter(|a| a.starts_with("istio_remote_secret."))
        .collect();
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    ok_local(&spec, &["destroy", "-auto-approve"]);
}
