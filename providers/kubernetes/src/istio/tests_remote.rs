//! Remote secrets: the reader objects of the source cluster, the target's Secret.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::tests::{find, has};
use super::*;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.reader-token";

fn remote_spec() -> RemoteSecretSpec {
    RemoteSecretSpec {
        cluster_name: "cluster1".to_string(),
        server: "https://cluster1.hcp.westeurope.azmk8s.io:443".to_string(),
        certificate_authority_data: Some(STANDARD.encode("-----BEGIN CERTIFICATE-----\n")),
        tls_server_name: None,
        token: TOKEN.to_string(),
    }
}

fn kubeconfig(secret: &Value, cluster: &str) -> serde_yaml::Value {
    let text = secret["stringData"][cluster]
        .as_str()
        .expect("kubeconfig under the cluster name");
    serde_yaml::from_str(text).expect("kubeconfig is YAML")
}

#[test]
fn reader_objects_in_the_source_cluster() {
    let objects = render_remote_reader("1-14-1");
    let account = find(&objects, "ServiceAccount", READER_SERVICE_ACCOUNT);
    assert_eq!(account["metadata"]["namespace"], "istio-system");
    let role = find(
        &objects,
        "ClusterRole",
        "istio-reader-clusterrole-1-14-1-istio-system",
    );
    let rules = role["rules"].as_array().expect("rules");
    let grants = |resource: &str, verb: &str| {
        rules.iter().any(|r| {
            r["resources"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|x| x == resource))
                && r["verbs"]
                    .as_array()
                    .is_some_and(|vs| vs.iter().any(|x| x == verb))
        })
    };
    for resource in [
        "pods",
        "services",
        "endpointslices",
        "namespaces",
        "nodes",
        "secrets",
    ] {
        assert!(grants(resource, "watch"), "{resource}");
    }
    assert!(grants("tokenreviews", "create"));
    assert!(!grants("pods", "delete"), "read-only");
    let binding = find(
        &objects,
        "ClusterRoleBinding",
        "istio-reader-clusterrole-1-14-1-istio-system",
    );
    assert_eq!(binding["subjects"][0]["name"], READER_SERVICE_ACCOUNT);
    assert_eq!(binding["subjects"][0]["namespace"], "istio-system");
    let token = find(&objects, "Secret", READER_TOKEN_SECRET);
    assert_eq!(token["type"], "kubernetes.io/service-account-token");
    assert_eq!(
        token["metadata"]["annotations"]["kubernetes.io/service-account.name"],
        READER_SERVICE_ACCOUNT
    );
    assert!(token.get("data").is_none(), "the token controller fills it");
    for object in &objects {
        assert_eq!(object["metadata"]["labels"][MANAGED_BY_LABEL], MANAGED_BY);
    }
    assert!(!has(&objects, "Namespace", "istio-system"));
}

#[test]
fn remote_secret_for_the_target_cluster() {
    let secret = render_remote_secret(&remote_spec());
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["metadata"]["name"], "istio-remote-secret-cluster1");
    assert_eq!(secret["metadata"]["namespace"], "istio-system");
    assert_eq!(secret["metadata"]["labels"]["istio/multiCluster"], "true");
    assert_eq!(
        secret["metadata"]["annotations"]["networking.istio.io/cluster"],
        "cluster1"
    );
    let config = kubeconfig(&secret, "cluster1");
    assert_eq!(config["kind"].as_str(), Some("Config"));
    assert_eq!(config["current-context"].as_str(), Some("cluster1"));
    let cluster = &config["clusters"][0];
    assert_eq!(cluster["name"].as_str(), Some("cluster1"));
    assert_eq!(
        cluster["cluster"]["server"].as_str(),
        Some("https://cluster1.hcp.westeurope.azmk8s.io:443")
    );
    assert_eq!(
        cluster["cluster"]["certificate-authority-data"].as_str(),
        remote_spec().certificate_authority_data.as_deref()
    );
    let context = &config["contexts"][0];
    assert_eq!(context["name"].as_str(), Some("cluster1"));
    assert_eq!(context["context"]["cluster"].as_str(), Some("cluster1"));
    assert_eq!(context["context"]["user"].as_str(), Some("cluster1"));
    assert_eq!(config["users"][0]["name"].as_str(), Some("cluster1"));
    assert_eq!(config["users"][0]["user"]["token"].as_str(), Some(TOKEN));
}

#[test]
fn remote_secret_without_ca_verifies_tls_and_names_the_server() {
    let mut spec = remote_spec();
    spec.certificate_authority_data = None;
    spec.tls_server_name = Some("kubernetes.default.svc".to_string());
    let config = kubeconfig(&render_remote_secret(&spec), "cluster1");
    let cluster = &config["clusters"][0]["cluster"];
    assert_eq!(cluster["insecure-skip-tls-verify"].as_bool(), Some(false));
    assert!(cluster.get("certificate-authority-data").is_none());
    assert_eq!(
        cluster["tls-server-name"].as_str(),
        Some("kubernetes.default.svc")
    );
}

#[test]
fn debug_output_never_shows_the_token() {
    let shown = format!("{:?}", remote_spec());
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("cluster1"));
}

#[test]
fn validate_remote_secret_reports_problems_without_the_token() {
    assert_eq!(validate_remote_secret(&remote_spec()), Ok(()));
    let spec = RemoteSecretSpec {
        cluster_name: "Cluster 1".to_string(),
        server: "http://insecure".to_string(),
        certificate_authority_data: Some("not base64!".to_string()),
        tls_server_name: None,
        token: "has space".to_string(),
    };
    let problems = validate_remote_secret(&spec)
        .expect_err("invalid")
        .join("\n");
    for needle in ["cluster_name", "https://", "token", "base64"] {
        assert!(
            problems.contains(needle),
            "missing {needle:?} in:\n{problems}"
        );
    }
    assert!(!problems.contains("has space"));
}

#[test]
fn reader_token_is_read_from_the_filled_secret() {
    let ca = STANDARD.encode("-----BEGIN CERTIFICATE-----\n");
    let secret = json!({ "data": { "token": STANDARD.encode(TOKEN), "ca.crt": ca } });
    let reader = read_reader_token(&secret).expect("filled secret");
    assert_eq!(reader.token, TOKEN);
    assert_eq!(
        reader.certificate_authority_data.as_deref(),
        Some(ca.as_str())
    );
    assert!(!format!("{reader:?}").contains(TOKEN));
}

#[test]
fn reader_token_not_yet_filled_or_corrupt_is_an_error() {
    let empty = json!({ "metadata": { "name": READER_TOKEN_SECRET } });
    assert!(matches!(
        read_reader_token(&empty),
        Err(IstioError::ReaderToken(_))
    ));
    let corrupt = json!({ "data": { "token": "%%%" } });
    let error = read_reader_token(&corrupt)
        .expect_err("corrupt")
        .to_string();
    assert!(error.contains("base64"));
    assert!(!error.contains("%%%"));
}
