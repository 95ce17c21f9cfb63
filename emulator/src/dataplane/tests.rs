//! The data plane on hand-made clusters: the seeds' checks (helloworld alternating, the
//! cluster-local rules, bookinfo across clusters, a weighted split through a gateway).
//! Failures are in `tests_failures.rs`.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::call::{call, Outcome};
use super::caller::{self, Caller};
use super::curl;
use super::draws::Draws;
use super::trust::CaView;
use super::view::{ClusterView, MeshView, RemoteLink};

/// A cluster on `network` with istiod (`CLUSTER_ID` = `id`), a CA from `root`, its node
/// network `vnet`, and namespaces `sample` and `bookinfo` labelled for injection.
pub(super) fn cluster(name: &str, id: &str, network: &str, vnet: &str, root: &str) -> ClusterView {
    let mut c = ClusterView {
        name: name.to_string(),
        vnet: Some(vnet.to_string()),
        ca: Some(CaView {
            trusted: vec![root.to_string()],
            issuer: root.to_string(),
            source: format!("Secret istio-system/cacerts ({root})"),
        }),
        ..ClusterView::default()
    };
    c.objects
        .add(json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "istio-system", "labels": {"topology.istio.io/network": network}}}));
    for ns in ["sample", "bookinfo", "foo"] {
        c.objects
            .add(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"istio-injection": "enabled"}}}));
    }
    c.objects.add(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "istiod-1-19-1", "namespace": "istio-system", "labels": {"app": "istiod"}},
        "spec": {"template": {"spec": {"containers": [{"name": "discovery",
            "env": [{"name": "CLUSTER_ID", "value": id}]}]}}}}));
    c
}

/// A running pod with (or without) a sidecar.
pub(super) fn pod(c: &mut ClusterView, ns: &str, name: &str, labels: Json, sidecar: bool) {
    let mut containers = vec![json!({"name": "app"})];
    if sidecar {
        containers.push(json!({"name": "istio-proxy"}));
    }
    let mut labels = labels;
    labels["istio.io/rev"] = json!("1-19-1");
    c.objects.add(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels,
            "ownerReferences": [{"kind": "ReplicaSet", "name": format!("{}-abc", name.rsplit_once('-').map_or(name, |(d, _)| d))}]},
        "spec": {"containers": containers},
        "status": {"phase": "Running", "podIP": format!("10.9.{}.{}", name.len(), ns.len()),
            "conditions": [{"type": "Ready", "status": "True"}]}}));
}

/// A ClusterIP Service selecting `app`.
pub(super) fn service(c: &mut ClusterView, ns: &str, name: &str, port: u16) {
    c.objects.add(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"app": name}, "clusterIP": format!("172.16.0.{}", name.len()),
            "ports": [{"name": "http", "port": port, "targetPort": port}]}}));
}

/// The east-west gateway of the cluster's network, at `address`, with the cross-network
/// Gateway unless `expose` is false.
pub(super) fn eastwest(c: &mut ClusterView, network: &str, address: &str, expose: bool) {
    let labels = json!({"istio": "eastwestgateway", "app": "istio-eastwestgateway",
        "topology.istio.io/network": network});
    c.objects.add(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "istio-eastwestgateway", "namespace": "istio-system", "labels": labels},
        "spec": {"type": "LoadBalancer", "selector": labels,
            "ports": [{"name": "tls", "port": 15443, "targetPort": 15443}]},
        "status": {"loadBalancer": {"ingress": [{"ip": address}]}}}));
    pod(c, "istio-system", "istio-eastwestgateway-1", labels, true);
    if expose {
        c.objects.add(
            json!({"apiVersion": "networking.istio.io/v1beta1", "kind": "Gateway",
            "metadata": {"name": "cross-network-gateway", "namespace": "istio-system"},
            "spec": {"selector": {"istio": "eastwestgateway"}, "servers": [{
                "port": {"number": 15443, "name": "tls", "protocol": "TLS"},
                "tls": {"mode": "AUTO_PASSTHROUGH"}, "hosts": ["*.local"]}]}}),
        );
    }
}

/// Istio objects from YAML documents.
pub(super) fn istio(c: &mut ClusterView, ns: &str, yaml: &str) {
    for doc in yaml.split("\n---\n") {
        let mut object: Json = serde_yaml::from_str(doc).expect("YAML");
        object["metadata"]["namespace"] = json!(ns);
        c.objects.add(object);
    }
}

/// Cluster `from` holds a remote secret for `to`, registered as `id`.
pub(super) fn link(view: &mut MeshView, from: usize, to: usize, id: &str) {
    view.clusters[from].remotes.push(RemoteLink {
        secret: format!("istio-system/istio-remote-secret-{id}"),
        cluster_id: id.to_string(),
        target: Ok(to),
    });
}

/// The seed-002 mesh: two clusters in one VNet on networks network1/network2, one root,
/// east-west gateways, remote secrets both ways, helloworld v1 in cluster1 and v2 in cluster2
/// (the Service in both), sleep in both, bookinfo with reviews only in cluster2.
pub(super) fn multi_network() -> MeshView {
    let mut one = cluster("aks-one", "cluster1", "network1", "vnet", "root");
    let mut two = cluster("aks-two", "cluster2", "network2", "vnet", "root");
    for (c, version, address) in [(&mut one, "v1", "20.0.0.1"), (&mut two, "v2", "20.0.0.2")] {
        service(c, "sample", "helloworld", 5000);
        pod(
            c,
            "sample",
            &format!("helloworld-{version}-x"),
            json!({"app": "helloworld", "version": version}),
            true,
        );
        service(c, "sample", "sleep", 80);
        pod(c, "sample", "sleep-x", json!({"app": "sleep"}), true);
        service(c, "bookinfo", "reviews", 9080);
        let network = if version == "v1" {
            "network1"
        } else {
            "network2"
        };
        eastwest(c, network, address, true);
    }
    service(&mut one, "bookinfo", "productpage", 9080);
    pod(
        &mut one,
        "bookinfo",
        "productpage-v1-x",
        json!({"app": "productpage", "version": "v1"}),
        true,
    );
    for v in ["v1", "v2", "v3"] {
        pod(
            &mut two,
            "bookinfo",
            &format!("reviews-{v}-x"),
            json!({"app": "reviews", "version": v}),
            true,
        );
    }
    let mut view = MeshView {
        clusters: vec![one, two],
        ..MeshView::default()
    };
    link(&mut view, 0, 1, "cluster2");
    link(&mut view, 1, 0, "cluster1");
    view
}

/// Run `curl ARGS` from `namespace/workload` of cluster `cluster` `times` times: each run's
/// stdout (or stderr when empty) and exit code.
pub(super) fn curl_from(
    view: &MeshView,
    counters: &mut BTreeMap<String, u64>,
    (cluster, namespace, workload): (usize, &str, &str),
    args: &str,
    times: usize,
) -> Vec<(String, i32)> {
    let caller: Caller = caller::find(view, cluster, namespace, workload).expect("caller");
    let command: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    let curl = curl::parse(&command).expect("curl");
    let mut draws = Draws::new(counters);
    (0..times)
        .map(|_| {
            let printed = curl.print(&call(view, &caller, &curl.call, &mut draws));
            let text = if printed.stdout.is_empty() {
                printed.stderr
            } else {
                printed.stdout
            };
            (text, printed.exit_code)
        })
        .collect()
}

/// The versions helloworld answered with, in order ("-" for anything else).
pub(super) fn versions(answers: &[(String, i32)]) -> Vec<String> {
    answers
        .iter()
        .map(|(text, _)| {
            text.strip_prefix("Hello version: ")
                .and_then(|rest| rest.split(',').next())
                .unwrap_or("-")
                .to_string()
        })
        .collect()
}

const HELLO: &str = "curl -sS helloworld.sample:5000/hello";

#[test]
fn helloworld_alternates_between_the_clusters_from_both() {
    let view = multi_network();
    let mut counters = BTreeMap::new();
    for from in [0, 1] {
        let answers = curl_from(&view, &mut counters, (from, "sample", "sleep-x"), HELLO, 4);
        assert_eq!(versions(&answers), ["v1", "v2", "v1", "v2"], "{answers:?}");
    }
    let answers = curl_from(&view, &mut counters, (1, "sample", "sleep-x"), HELLO, 1);
    assert_eq!(
        answers[0].0,
        "Hello version: v1, instance: helloworld-v1-x (cluster aks-one)\n"
    );
}

const CLUSTER_LOCAL: &str = r#"apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: helloworld-per-cluster-dr}
spec:
  host: helloworld.sample.svc.cluster.local
  subsets:
  - {name: cluster1, labels: {topology.istio.io/cluster: cluster1}}
  - {name: cluster2, labels: {topology.istio.io/cluster: cluster2}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: helloworld-cluster-local-vs}
spec:
  hosts: [helloworld.sample.svc.cluster.local]
  http:
  - name: cluster-1-local
    match: [{sourceLabels: {topology.istio.io/cluster: cluster1}}]
    route: [{destination: {host: helloworld.sample.svc.cluster.local, subset: cluster1}}]
  - name: cluster-2-local
    match: [{sourceLabels: {topology.istio.io/cluster: cluster2}}]
    route: [{destination: {host: helloworld.sample.svc.cluster.local, subset: cluster2}}]"#;

#[test]
fn the_cluster_local_rules_keep_each_cluster_to_its_own_version() {
    let mut view = multi_network();
    istio(&mut view.clusters[0], "sample", CLUSTER_LOCAL);
    let mut counters = BTreeMap::new();
    let one = curl_from(&view, &mut counters, (0, "sample", "sleep-x"), HELLO, 4);
    assert_eq!(versions(&one), ["v1"; 4]);
    // Only cluster1 has the rules (as in the seed): cluster2 still alternates.
    let two = curl_from(&view, &mut counters, (1, "sample", "sleep-x"), HELLO, 4);
    assert_eq!(versions(&two), ["v1", "v2", "v1", "v2"]);
    istio(&mut view.clusters[1], "sample", CLUSTER_LOCAL);
    let two = curl_from(&view, &mut counters, (1, "sample", "sleep-x"), HELLO, 4);
    assert_eq!(versions(&two), ["v2"; 4]);
}

#[test]
fn productpage_reaches_reviews_in_the_other_cluster() {
    let view = multi_network();
    let mut counters = BTreeMap::new();
    let answers = curl_from(
        &view,
        &mut counters,
        (0, "bookinfo", "productpage-v1-x"),
        "curl -s reviews:9080/reviews/0",
        3,
    );
    for (answer, v) in answers.iter().zip(["v1", "v2", "v3"]) {
        assert_eq!(
            answer.0,
            format!("GET /reviews/0 served by reviews-{v}-x: workload reviews-{v}, version {v}, namespace bookinfo, cluster aks-two\n")
        );
    }
}

#[test]
fn a_pod_without_a_sidecar_stays_in_its_cluster() {
    let mut view = multi_network();
    pod(
        &mut view.clusters[0],
        "sample",
        "plain-x",
        json!({"app": "plain"}),
        false,
    );
    let mut counters = BTreeMap::new();
    let answers = curl_from(&view, &mut counters, (0, "sample", "plain-x"), HELLO, 3);
    assert_eq!(versions(&answers), ["v1"; 3]);
}

const FEDERATION_CALLER: &str = r#"apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: helloworld-sample}
spec:
  hosts: [helloworld.sample.cluster2]
  location: MESH_INTERNAL
  ports: [{name: tcp, number: 5000, protocol: TCP}]
  resolution: DNS
  addresses: [240.0.0.3]
  endpoints: [{address: 20.0.0.9, ports: {tcp: 15443}}]
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: helloworld-sample}
spec:
  host: helloworld.sample.cluster2
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: helloworld}
spec:
  hosts: [helloworld.sample.svc.cluster.local]
  http:
  - route:
    - {destination: {host: helloworld.sample.svc.cluster.local}, weight: 50}
    - {destination: {host: helloworld.sample.cluster2}, weight: 50}"#;

const FEDERATION_SERVER: &str = r#"apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: helloworld-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 15443, name: tls, protocol: TLS}
    tls: {mode: AUTO_PASSTHROUGH}
    hosts: [helloworld.sample.cluster2]
---
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: helloworld-remote}
spec:
  resolution: DNS
  location: MESH_INTERNAL
  ports: [{name: tcp, number: 5000, protocol: TCP}]
  exportTo: ["."]
  hosts: [helloworld.sample.cluster2]
  endpoints: [{address: helloworld.sample.svc.cluster.local}]"#;

/// Seed 004: two meshes sharing a root, no remote secrets; cluster1 reaches cluster2's
/// helloworld through cluster2's ingress gateway.
pub(super) fn federation() -> MeshView {
    let mut one = cluster("aks-one", "cluster1", "network1", "vnet", "root");
    let mut two = cluster("aks-two", "cluster2", "network2", "vnet", "root");
    for (c, version) in [(&mut one, "v1"), (&mut two, "v2")] {
        service(c, "sample", "helloworld", 5000);
        pod(
            c,
            "sample",
            &format!("helloworld-{version}-x"),
            json!({"app": "helloworld", "version": version}),
            true,
        );
    }
    pod(&mut one, "sample", "sleep-x", json!({"app": "sleep"}), true);
    let labels = json!({"istio": "ingressgateway", "app": "istio-ingressgateway"});
    two.objects.add(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "istio-ingressgateway", "namespace": "istio-system", "labels": labels},
        "spec": {"type": "LoadBalancer", "selector": labels,
            "ports": [{"name": "tls", "port": 15443, "targetPort": 15443}, {"name": "http2", "port": 80, "targetPort": 8080}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "20.0.0.9"}]}}}));
    pod(
        &mut two,
        "istio-system",
        "istio-ingressgateway-1",
        labels,
        true,
    );
    istio(&mut one, "sample", FEDERATION_CALLER);
    istio(&mut two, "istio-system", FEDERATION_SERVER);
    MeshView {
        clusters: vec![one, two],
        ..MeshView::default()
    }
}

#[test]
fn the_weighted_route_splits_evenly_through_the_other_clusters_gateway() {
    let view = federation();
    let mut counters = BTreeMap::new();
    let answers = curl_from(&view, &mut counters, (0, "sample", "sleep-x"), HELLO, 200);
    let seen = versions(&answers);
    let v1 = seen.iter().filter(|v| *v == "v1").count();
    let v2 = seen.iter().filter(|v| *v == "v2").count();
    assert_eq!(v1 + v2, 200, "{answers:?}");
    assert!((95..=105).contains(&v1), "v1 {v1}, v2 {v2}");
}

#[test]
fn service_entry_hosts_resolve_only_with_dns_capture() {
    let mut view = federation();
    let mut counters = BTreeMap::new();
    let call = "curl -sS helloworld.sample.cluster2:5000/hello";
    let answers = curl_from(&view, &mut counters, (0, "sample", "sleep-x"), call, 1);
    assert_eq!(
        answers[0],
        (
            "curl: (6) Could not resolve host: helloworld.sample.cluster2\n".to_string(),
            6
        )
    );
    view.clusters[0].objects.add(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "istio-1-19-1", "namespace": "istio-system"},
        "data": {"mesh": "defaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: \"true\"\n"}}));
    let answers = curl_from(&view, &mut counters, (0, "sample", "sleep-x"), call, 2);
    assert_eq!(versions(&answers), ["v2", "v2"], "{answers:?}");
}

#[test]
fn the_trace_shows_the_path() {
    let view = multi_network();
    let mut counters = BTreeMap::new();
    counters.insert(
        "aks-one/sample/sleep-x|endpoints|helloworld.sample.svc.cluster.local||5000".into(),
        1,
    );
    let caller = caller::find(&view, 0, "sample", "sleep-x").unwrap();
    let command: Vec<String> = "curl -v helloworld.sample:5000/hello"
        .split(' ')
        .map(str::to_string)
        .collect();
    let curl = curl::parse(&command).unwrap();
    let traced = call(&view, &caller, &curl.call, &mut Draws::new(&mut counters));
    assert!(matches!(
        traced.outcome,
        Outcome::Response { status: 200, .. }
    ));
    let trace = traced.trace.join("\n");
    for needle in [
        "helloworld.sample resolves to Service sample/helloworld (172.16.0.10)",
        "no VirtualService: sent to helloworld.sample.svc.cluster.local",
        "endpoints: helloworld-v1-x:5000 (aks-one), helloworld-v2-x:5000 (aks-two, through gateway 20.0.0.2:15443)",
        "through the east-west gateway istio-system/istio-eastwestgateway of aks-two (Gateway istio-system/cross-network-gateway)",
        "attempt 1: helloworld-v2-x:5000 (aks-two, through gateway 20.0.0.2:15443) answers",
    ] {
        assert!(trace.contains(needle), "{needle}\n{trace}");
    }
}
