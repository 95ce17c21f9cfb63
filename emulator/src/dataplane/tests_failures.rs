//! The data plane on hand-made clusters: the failures the seeds warn about, each as a real
//! client would see it.

use std::collections::BTreeMap;

use serde_json::json;

use super::tests::{cluster, curl_from, federation, multi_network, pod, service, versions};
use super::trust::CaView;
use super::view::{ClusterView, MeshView};

const HELLO: &str = "curl -sS helloworld.sample:5000/hello";
const REVIEWS: &str = "curl -sS reviews:9080/reviews/0";
const TLS_FAILED: &str = "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection failure, transport failure reason: TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED";

#[test]
fn without_remote_secrets_traffic_stays_local() {
    let mut view = multi_network();
    for c in &mut view.clusters {
        c.remotes.clear();
    }
    let mut counters = BTreeMap::new();
    let one = curl_from(&view, &mut counters, (0, "sample", "sleep-x"), HELLO, 4);
    assert_eq!(versions(&one), ["v1"; 4]);
    let two = curl_from(&view, &mut counters, (1, "sample", "sleep-x"), HELLO, 4);
    assert_eq!(versions(&two), ["v2"; 4]);
    let reviews = curl_from(
        &view,
        &mut counters,
        (0, "bookinfo", "productpage-v1-x"),
        REVIEWS,
        1,
    );
    assert_eq!(reviews[0], ("no healthy upstream".to_string(), 0));
}

#[test]
fn a_remote_secret_istiod_cannot_use_is_no_secret() {
    let mut view = multi_network();
    view.clusters[0].remotes[0].target = Err("the API of aks-two does not accept its token".into());
    let mut counters = BTreeMap::new();
    let one = curl_from(&view, &mut counters, (0, "sample", "sleep-x"), HELLO, 3);
    assert_eq!(versions(&one), ["v1"; 3]);
}

#[test]
fn with_mismatched_roots_the_cross_cluster_call_fails_the_tls_handshake() {
    let mut view = multi_network();
    view.clusters[1].ca = Some(CaView {
        trusted: vec!["other".into()],
        issuer: "other".into(),
        source: "Secret istio-system/cacerts".into(),
    });
    let mut counters = BTreeMap::new();
    let reviews = curl_from(
        &view,
        &mut counters,
        (0, "bookinfo", "productpage-v1-x"),
        REVIEWS,
        2,
    );
    for answer in &reviews {
        assert_eq!(answer, &(TLS_FAILED.to_string(), 0));
    }
    // helloworld's failed attempts at v2 are retried on v1: cluster1 only ever sees v1.
    let one = curl_from(&view, &mut counters, (0, "sample", "sleep-x"), HELLO, 4);
    assert_eq!(versions(&one), ["v1"; 4]);
    let printed = curl_from(
        &view,
        &mut counters,
        (0, "sample", "sleep-x"),
        "curl -sv -o /dev/null helloworld.sample:5000/hello",
        2,
    );
    let traces: String = printed.iter().map(|(t, _)| t.clone()).collect();
    assert!(traces.contains("no shared root"), "{traces}");
}

#[test]
fn without_the_east_west_gateway_the_other_network_is_unreachable() {
    let mut view = multi_network();
    view.clusters[1]
        .objects
        .services
        .retain(|s| s["metadata"]["name"] != "istio-eastwestgateway");
    let mut counters = BTreeMap::new();
    let one = curl_from(&view, &mut counters, (0, "sample", "sleep-x"), HELLO, 3);
    assert_eq!(versions(&one), ["v1"; 3]);
    let reviews = curl_from(
        &view,
        &mut counters,
        (0, "bookinfo", "productpage-v1-x"),
        REVIEWS,
        1,
    );
    assert_eq!(reviews[0], ("no healthy upstream".to_string(), 0));
}

#[test]
fn a_gateway_without_the_cross_network_gateway_refuses_the_connection() {
    let mut view = multi_network();
    view.clusters[1].objects.gateways.clear();
    let mut counters = BTreeMap::new();
    let reviews = curl_from(
        &view,
        &mut counters,
        (0, "bookinfo", "productpage-v1-x"),
        REVIEWS,
        1,
    );
    assert_eq!(
        reviews[0].0,
        "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection failure, transport failure reason: delayed connect error: 111"
    );
}

/// Seed 000: one Istio network over two peered VNets, no gateways.
fn one_network(peered: bool) -> MeshView {
    let mut one = cluster("aks-one", "one", "network1", "vnet-one", "root");
    let mut two = cluster("aks-two", "two", "network1", "vnet-two", "root");
    service(&mut one, "sample", "echoserver", 80);
    pod(
        &mut one,
        "sample",
        "echoserver-x",
        json!({"app": "echoserver"}),
        true,
    );
    service(&mut two, "sample", "echoserver", 80);
    pod(
        &mut two,
        "sample",
        "curlclient",
        json!({"run": "curlclient"}),
        true,
    );
    let mut view = MeshView {
        clusters: vec![one, two],
        ..MeshView::default()
    };
    super::tests::link(&mut view, 1, 0, "one");
    if peered {
        for pair in [("vnet-one", "vnet-two"), ("vnet-two", "vnet-one")] {
            view.peerings.insert((pair.0.into(), pair.1.into()));
        }
    }
    view
}

#[test]
fn echoserver_answers_cluster_two_over_peered_networks_only() {
    let mut counters = BTreeMap::new();
    let view = one_network(true);
    let answers = curl_from(
        &view,
        &mut counters,
        (1, "sample", "curlclient"),
        "curl -s echoserver",
        1,
    );
    assert_eq!(
        answers[0].0,
        "GET / served by echoserver-x: workload echoserver, version latest, namespace sample, cluster aks-one\n"
    );
    let view = one_network(false);
    let answers = curl_from(
        &view,
        &mut counters,
        (1, "sample", "curlclient"),
        "curl -s echoserver",
        1,
    );
    assert_eq!(
        answers[0].0,
        "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection timeout"
    );
}

#[test]
fn names_without_a_service_in_the_calling_cluster_do_not_resolve() {
    let mut view = multi_network();
    view.clusters[0]
        .objects
        .services
        .retain(|s| s["metadata"]["name"] != "reviews");
    let mut counters = BTreeMap::new();
    let answers = curl_from(
        &view,
        &mut counters,
        (0, "bookinfo", "productpage-v1-x"),
        REVIEWS,
        1,
    );
    assert_eq!(
        answers[0],
        ("curl: (6) Could not resolve host: reviews\n".to_string(), 6)
    );
}

#[test]
fn a_missing_subset_and_an_unmatched_rule_are_envoy_errors() {
    let mut view = multi_network();
    super::tests::istio(
        &mut view.clusters[0],
        "sample",
        "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata: {name: hw}\nspec:\n  hosts: [helloworld]\n  http:\n  - match: [{uri: {prefix: /hello}}]\n    route: [{destination: {host: helloworld, subset: v9}}]\n",
    );
    let mut counters = BTreeMap::new();
    let args = "curl -s -o /dev/null -w %{http_code} helloworld.sample:5000";
    let missing = curl_from(
        &view,
        &mut counters,
        (0, "sample", "sleep-x"),
        &format!("{args}/hello"),
        1,
    );
    assert_eq!(missing[0].0, "503");
    let unmatched = curl_from(
        &view,
        &mut counters,
        (0, "sample", "sleep-x"),
        &format!("{args}/other"),
        1,
    );
    assert_eq!(unmatched[0].0, "404");
}

fn registry_only(mut view: MeshView) -> MeshView {
    view.clusters[0]
        .objects
        .add(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "istio-1-19-1", "namespace": "istio-system"},
        "data": {"mesh": "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n"}}));
    view
}

#[test]
fn registry_only_blocks_hosts_without_a_service_entry() {
    let mut view = registry_only(federation());
    let mut counters = BTreeMap::new();
    let from = (0, "sample", "sleep-x");
    let blocked = curl_from(
        &view,
        &mut counters,
        from,
        "curl -s -o /dev/null -w %{http_code} http://www.example.com/",
        1,
    );
    assert_eq!(blocked[0].0, "502");
    let tls = curl_from(
        &view,
        &mut counters,
        from,
        "curl -sS https://www.google.com",
        1,
    );
    assert_eq!(tls[0].1, 35);
    super::tests::istio(
        &mut view.clusters[0],
        "sample",
        "apiVersion: networking.istio.io/v1alpha3\nkind: ServiceEntry\nmetadata: {name: google}\nspec:\n  hosts: [www.google.com]\n  ports: [{number: 443, name: https, protocol: HTTPS}]\n  location: MESH_EXTERNAL\n  resolution: DNS\n",
    );
    let allowed = curl_from(
        &view,
        &mut counters,
        from,
        "curl -sS https://www.google.com",
        1,
    );
    assert_eq!(allowed[0].1, 0, "{allowed:?}");
    assert!(
        allowed[0].0.starts_with("www.google.com answered GET /"),
        "{allowed:?}"
    );
}

#[test]
fn callers_that_do_not_exist_fail_like_kubectl() {
    let view = MeshView {
        clusters: vec![ClusterView::default()],
        ..MeshView::default()
    };
    let err = super::caller::find(&view, 0, "sample", "sleep").unwrap_err();
    assert_eq!(
        err,
        "Error from server (NotFound): namespaces \"sample\" not found"
    );
    let view = multi_network();
    let err = super::caller::find(&view, 0, "sample", "nope").unwrap_err();
    assert!(
        err.starts_with("Error from server (NotFound): pods \"nope\" not found"),
        "{err}"
    );
}
