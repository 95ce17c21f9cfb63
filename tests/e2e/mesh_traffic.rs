//! The seeds' own traffic checks on the local cloud: each scenario applied with the embedded
//! cloud, then `mesh local exec CLUSTER NS/WORKLOAD -- curl ...` (in-process on the data
//! directory, no server) answered by the simulated data plane, and `mesh status` read from the
//! emulated clusters. Then the failures: no remote secrets, a second root, no east-west gateway.

use serde_json::Value as Json;

use crate::harness::{ok_local, run_local, scenario_spec, Out, Spec};

const HELLO: &str = "helloworld.sample:5000/hello";

/// The AKS name of a module-made cluster of multi-network or gateway-federation.
fn aks_name(spec: &Spec, key: &str) -> String {
    spec.attr(
        &format!("module.aks[\"{key}\"].azure_kubernetes_cluster.this"),
        "name",
    )
}

/// `mesh local exec CLUSTER WORKLOAD --count N -- curl -sS URL`, asserting exit 0.
fn curl(spec: &Spec, cluster: &str, workload: &str, count: usize, url: &str) -> Out {
    let count = count.to_string();
    ok_local(
        spec,
        &[
            "local", "exec", cluster, workload, "--count", &count, "--", "curl", "-sS", url,
        ],
    )
}

/// The helloworld versions in an output, in order.
fn versions(out: &Out) -> Vec<String> {
    out.stdout
        .lines()
        .map(|l| {
            l.strip_prefix("Hello version: ")
                .and_then(|rest| rest.split(',').next())
                .unwrap_or(l)
                .to_string()
        })
        .collect()
}

/// `mesh status --format json`, with its exit code.
fn status_json(spec: &Spec) -> (i32, Json) {
    let out = run_local(spec, &["status", "--format", "json"]);
    let doc = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("mesh status --format json: {e}\n{}", out.dump()));
    (out.code, doc)
}

/// The status of the cluster named `name`.
fn cluster_status<'a>(doc: &'a Json, name: &str) -> &'a Json {
    doc["clusters"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["cluster"] == name))
        .unwrap_or_else(|| panic!("no cluster {name} in {doc}"))
}

/// Replace `from` (which must be there) in a spec file.
fn edit(spec: &Spec, file: &str, from: &str, to: &str) {
    let text = spec.read(file);
    assert!(text.contains(from), "{file} lacks {from:?}");
    spec.write(file, &text.replacen(from, to, 1));
}

const CLUSTER_LOCAL: &str = r#"resource "kubernetes_manifests" "helloworld_cluster_local" {
  cluster   = module.aks["cluster1"].cluster
  content   = file("${path.module}/apps/helloworld-cluster-local.yaml")
  namespace = kubernetes_namespace.sample["cluster1"].name
}"#;

#[test]
fn multi_network_helloworld_and_bookinfo_cross_the_networks() {
    let spec = scenario_spec("multi-network");
    ok_local(&spec, &["apply", "-auto-approve"]);
    let (one, two) = (aks_name(&spec, "cluster1"), aks_name(&spec, "cluster2"));

    // The seed's cluster-local rules are in cluster1 only: cluster1 always gets v1, cluster2
    // still alternates.
    assert_eq!(
        versions(&curl(&spec, &one, "sample/sleep", 4, HELLO)),
        ["v1"; 4]
    );
    let from_two = curl(&spec, &two, "sample/sleep", 4, HELLO);
    let seen = versions(&from_two);
    assert!(
        seen == ["v1", "v2", "v1", "v2"] || seen == ["v2", "v1", "v2", "v1"],
        "{}",
        from_two.dump()
    );
    from_two
        .stdout_has(&format!("(cluster {one})"))
        .stdout_has(&format!("(cluster {two})"));

    // Without the rules, cluster1 alternates too.
    ok_local(
        &spec,
        &[
            "local",
            "kube-delete",
            &one,
            "VirtualService/helloworld-cluster-local-vs",
            "-n",
            "sample",
        ],
    );
    let seen = versions(&curl(&spec, &one, "sample/sleep", 4, HELLO));
    assert!(
        seen == ["v1", "v2", "v1", "v2"] || seen == ["v2", "v1", "v2", "v1"],
        "{seen:?}"
    );

    // productpage in cluster1 reaches reviews, which run in cluster2 only.
    let reviews = curl(
        &spec,
        &one,
        "bookinfo/productpage-v1",
        3,
        "reviews:9080/reviews/0",
    );
    assert_eq!(reviews.lines().len(), 3, "{}", reviews.dump());
    for line in reviews.lines() {
        assert!(
            line.starts_with("GET /reviews/0 served by reviews-v"),
            "{}",
            reviews.dump()
        );
        assert!(
            line.ends_with(&format!("namespace bookinfo, cluster {two}")),
            "{}",
            reviews.dump()
        );
    }

    // mesh status: each istiod has the other cluster, synced.
    let status = ok_local(&spec, &["status"]);
    status
        .stdout_has(&format!("{one} (mesh cluster cluster1, network network1)"))
        .stdout_has("cluster2  istio-system/istio-remote-secret-cluster2  synced  ")
        .stdout_has("1-19-1  istiod-1-19-1  1/1 ready  default")
        .stdout_has("1-19-1  bookinfo, sample")
        .stdout_has("istio-system/istio-eastwestgateway  LoadBalancer");
    let (code, doc) = status_json(&spec);
    assert_eq!(code, 0, "{doc}");
    let remote = &cluster_status(&doc, &two)["remote_clusters"][0];
    assert_eq!(
        (remote["name"].as_str(), remote["status"].as_str()),
        (Some("cluster1"), Some("synced"))
    );
    assert_eq!(remote["server_cluster"], one.as_str());
    let gateway = &cluster_status(&doc, &two)["gateways"][0];
    assert_eq!(gateway["network"], "network2");
    assert!(gateway["address"].is_string(), "{doc}");

    // The reader account deleted behind mesh's back: cluster1's secret for cluster2 stops
    // working, mesh status says so, and the reviews are out of reach.
    let reader = format!("ServiceAccount/{}", reader_account_of(&spec, "cluster2"));
    ok_local(
        &spec,
        &["local", "kube-delete", &two, &reader, "-n", "istio-system"],
    );
    let status = run_local(&spec, &["status"]);
    assert_eq!(status.code, 2, "{}", status.dump());
    status.stdout_has("cluster2  istio-system/istio-remote-secret-cluster2  not synced: its API does not accept the secret's token (401)");
    let reviews = curl(
        &spec,
        &one,
        "bookinfo/productpage-v1",
        1,
        "reviews:9080/reviews/0",
    );
    assert_eq!(reviews.stdout, "no healthy upstream", "{}", reviews.dump());
}

#[test]
fn multi_network_cluster_local_rules_in_both_clusters_keep_each_to_its_version() {
    let spec = scenario_spec("multi-network");
    let both = CLUSTER_LOCAL
        .replacen(
            "{\n  cluster",
            "{\n  for_each  = var.clusters\n  cluster",
            1,
        )
        .replace("module.aks[\"cluster1\"]", "module.aks[each.key]")
        .replace("sample[\"cluster1\"]", "sample[each.key]");
    edit(&spec, "main.hcl", CLUSTER_LOCAL, &both);
    ok_local(&spec, &["apply", "-auto-approve"]);
    let (one, two) = (aks_name(&spec, "cluster1"), aks_name(&spec, "cluster2"));
    assert_eq!(
        versions(&curl(&spec, &one, "sample/sleep", 4, HELLO)),
        ["v1"; 4]
    );
    assert_eq!(
        versions(&curl(&spec, &two, "sample/sleep", 4, HELLO)),
        ["v2"; 4]
    );
}

#[test]
fn multi_network_without_remote_secrets_traffic_stays_local() {
    let spec = scenario_spec("multi-network");
    let text = spec.read("main.hcl");
    let start = text
        .find("resource \"istio_remote_secret\" \"discovery\"")
        .expect("remote secrets");
    let end = start + text[start..].find("\n}\n").expect("block end") + 3;
    spec.write("main.hcl", &format!("{}{}", &text[..start], &text[end..]));
    ok_local(&spec, &["apply", "-auto-approve"]);
    let (one, two) = (aks_name(&spec, "cluster1"), aks_name(&spec, "cluster2"));
    assert_eq!(
        versions(&curl(&spec, &two, "sample/sleep", 4, HELLO)),
        ["v2"; 4]
    );
    let reviews = curl(
        &spec,
        &one,
        "bookinfo/productpage-v1",
        1,
        "reviews:9080/reviews/0",
    );
    assert_eq!(reviews.stdout, "no healthy upstream", "{}", reviews.dump());
    let status = ok_local(&spec, &["status"]);
    status.stdout_has("none: istiod discovers this cluster's endpoints only");
}

#[test]
fn multi_network_with_a_second_root_fails_the_tls_handshake() {
    let spec = scenario_spec("multi-network");
    edit(
        &spec,
        "main.hcl",
        "module \"aks\" {",
        "resource \"pki_root_ca\" \"other\" {\n  common_name  = \"Other Root CA\"\n  organization = \"Istio\"\n}\n\nmodule \"aks\" {",
    );
    edit(
        &spec,
        "main.hcl",
        "root_ca          = pki_root_ca.mesh",
        "root_ca          = each.key == \"cluster2\" ? pki_root_ca.other : pki_root_ca.mesh",
    );
    ok_local(&spec, &["apply", "-auto-approve"]);
    let (one, two) = (aks_name(&spec, "cluster1"), aks_name(&spec, "cluster2"));
    let reviews = curl(
        &spec,
        &one,
        "bookinfo/productpage-v1",
        2,
        "reviews:9080/reviews/0",
    );
    for line in reviews.lines() {
        assert_eq!(
            line,
            "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection failure, transport failure reason: TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
            "{}",
            reviews.dump()
        );
    }
    // cluster2's attempts at v1 fail the handshake and are retried on its own v2.
    assert_eq!(
        versions(&curl(&spec, &two, "sample/sleep", 4, HELLO)),
        ["v2"; 4]
    );
    let verbose = ok_local(
        &spec,
        &[
            "local",
            "exec",
            &two,
            "sample/sleep",
            "--",
            "curl",
            "-sv",
            "-o",
            "/dev/null",
            HELLO,
        ],
    );
    verbose.stderr_has("no shared root");
    // Discovery itself is fine: the remote secrets are synced.
    let (code, _) = status_json(&spec);
    assert_eq!(code, 0);
}

#[test]
fn multi_network_without_an_east_west_gateway_cannot_reach_the_other_network() {
    let spec = scenario_spec("multi-network");
    edit(
        &spec,
        "main.hcl",
        "eastwest_gateway = true",
        "eastwest_gateway = each.key == \"cluster1\"",
    );
    ok_local(&spec, &["apply", "-auto-approve"]);
    let (one, two) = (aks_name(&spec, "cluster1"), aks_name(&spec, "cluster2"));
    let reviews = curl(
        &spec,
        &one,
        "bookinfo/productpage-v1",
        1,
        "reviews:9080/reviews/0",
    );
    assert_eq!(reviews.stdout, "no healthy upstream", "{}", reviews.dump());
    let verbose = ok_local(
        &spec,
        &[
            "local",
            "exec",
            &one,
            "bookinfo/productpage-v1",
            "--",
            "curl",
            "-v",
            "reviews:9080/reviews/0",
        ],
    );
    verbose.stderr_has("left out: network network2 has no gateway there");
    // cluster1 keeps its gateway: cluster2 still reaches v1 there.
    let seen = versions(&curl(&spec, &two, "sample/sleep", 2, HELLO));
    assert!(seen.contains(&"v1".to_string()), "{seen:?}");
    let (_, doc) = status_json(&spec);
    assert!(
        cluster_status(&doc, &two)["gateways"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "{doc}"
    );
}

#[test]
fn gateway_federation_splits_the_weighted_route_and_keeps_egress_to_the_registry() {
    let spec = scenario_spec("gateway-federation");
    ok_local(&spec, &["apply", "-auto-approve"]);
    let one = aks_name(&spec, "cluster1");
    let out = ok_local(
        &spec,
        &[
            "local",
            "exec",
            &one,
            "sample/sleep",
            "--count",
            "200",
            "--summary",
            "--",
            "curl",
            "-sS",
            HELLO,
        ],
    );
    let rows: Vec<(usize, &str)> = out
        .lines()
        .iter()
        .map(|l| {
            let (n, rest) = l.trim_start().split_once("  ").expect("count and line");
            (n.parse().expect("a count"), rest)
        })
        .collect();
    assert_eq!(rows.len(), 2, "{}", out.dump());
    for (n, line) in &rows {
        assert!((90..=110).contains(n), "{}", out.dump());
        assert!(line.starts_with("Hello version: v"), "{}", out.dump());
    }
    out.stdout_has(&format!("(cluster {})", aks_name(&spec, "cluster2")));

    // The seed's other checks: httpbin through cluster2's gateway, the allowed external host,
    // and another one REGISTRY_ONLY blocks.
    let headers = ok_local(
        &spec,
        &[
            "local",
            "exec",
            &one,
            "foo/sleep",
            "--",
            "curl",
            "-sI",
            "httpbin.bar.cluster2:8000/headers",
        ],
    );
    headers.stdout_has("HTTP/1.1 200 OK");
    let google = ok_local(
        &spec,
        &[
            "local",
            "exec",
            &one,
            "foo/sleep",
            "--",
            "curl",
            "-sI",
            "https://www.google.com",
        ],
    );
    google.stdout_has("HTTP/1.1 200 OK");
    let blocked = run_local(
        &spec,
        &[
            "local",
            "exec",
            &one,
            "foo/sleep",
            "--",
            "curl",
            "-sSI",
            "https://www.example.com",
        ],
    );
    assert_eq!(blocked.code, 35, "{}", blocked.dump());
    let (code, doc) = status_json(&spec);
    assert_eq!(code, 0, "{doc}");
    assert!(cluster_status(&doc, &one)["remote_clusters"]
        .as_array()
        .is_some_and(Vec::is_empty));
}

#[test]
fn multicluster_istio_echoserver_answers_cluster_two_from_cluster_one() {
    let spec = scenario_spec("multicluster-istio");
    ok_local(&spec, &["apply", "-auto-approve"]);
    let name = |key: &str| {
        spec.attr(
            &format!("module.region[\"{key}\"].azure_kubernetes_cluster.this"),
            "name",
        )
    };
    let (one, two) = (name("one"), name("two"));
    // The seed's 11-call-echoserver-service-from-cluster-two.sh: a throwaway pod in cluster two.
    let out = ok_local(
        &spec,
        &[
            "local",
            "exec",
            &two,
            "echoserver/curlclient",
            "--run",
            "--",
            "curl",
            "-s",
            "echoserver",
        ],
    );
    assert!(
        out.stdout.starts_with("GET / served by echoserver-")
            && out
                .stdout
                .ends_with(&format!("namespace echoserver, cluster {one}\n")),
        "{}",
        out.dump()
    );
    let status = ok_local(&spec, &["status"]);
    status
        .stdout_has("1-14-1  istiod-1-14-1  1/1 ready")
        .stdout_has("1-14-1  echoserver, istio-ingress")
        .stdout_has(&format!("synced  {one}"))
        .stdout_has(&format!("synced  {two}"));
}

/// The reader ServiceAccount (in the source cluster) of the remote secret made for the cluster
/// named `source`, from the `objects` state of its istio_remote_secret.
fn reader_account_of(spec: &Spec, source: &str) -> String {
    let address = spec
        .addresses()
        .into_iter()
        .filter(|a| a.starts_with("istio_remote_secret."))
        .find(|a| spec.attr(a, "cluster_name") == source)
        .unwrap_or_else(|| panic!("no remote secret for {source}"));
    let objects = spec.attrs(&address).expect("attributes")["objects"].clone();
    let key = objects
        .as_object()
        .and_then(|o| {
            o.keys()
                .find(|k| k.starts_with("v1/ServiceAccount/"))
                .cloned()
        })
        .unwrap_or_else(|| panic!("{address} has no reader ServiceAccount: {objects}"));
    key.rsplit('/').next().unwrap_or_default().to_string()
}
