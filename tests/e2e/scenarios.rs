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
    assert_eq!(plan.code, 0, "a plan right after apply must be empty\n{}", plan.dump());
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
        assert!(!out.contains("PRIVATE KEY"), "a private key in output\n{out}");
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
