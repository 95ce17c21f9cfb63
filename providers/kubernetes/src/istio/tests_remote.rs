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

const TARGET: &str = "aks:/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/cluster2";

fn names() -> ReaderNames {
    ReaderNames::for_remote("cluster2", TARGET, "cluster1")
}

#[test]
fn reader_objects_in_the_source_cluster() {
    let names = names();
    let objects = render_remote_reader(&names, "1-14-1");
    let account = find(&objects, "ServiceAccount", &names.account);
    assert_eq!(account["metadata"]["namespace"], "istio-system");
    let role = find(&objects, "ClusterRole", &names.account);
    assert_eq!(role["metadata"]["labels"][REVISION_LABEL], "1-14-1");
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
    let binding = find(&objects, "ClusterRoleBinding", &names.account);
    assert_eq!(binding["roleRef"]["name"], names.account.as_str());
    assert_eq!(binding["subjects"][0]["name"], names.account.as_str());
    assert_eq!(binding["subjects"][0]["namespace"], "istio-system");
    let token = find(&objects, "Secret", &names.token_secret);
    assert_eq!(token["type"], "kubernetes.io/service-account-token");
    assert_eq!(
        token["metadata"]["annotations"]["kubernetes.io/service-account.name"],
        names.account.as_str()
    );
    assert!(token.get("data").is_none(), "the token controller fills it");
    for object in &objects {
        assert_eq!(object["metadata"]["labels"][MANAGED_BY_LABEL], MANAGED_BY);
    }
    assert!(!has(&objects, "Namespace", "istio-system"));
}

#[test]
fn reader_names_are_stable_and_readable_dns_labels() {
    let names = names();
    assert_eq!(
        names,
        ReaderNames::for_remote("cluster2", TARGET, "cluster1")
    );
    let hash = names
        .account
        .strip_prefix("istio-reader-cluster2-")
        .expect("the target's name is in the reader's");
    assert_eq!(hash.len(), 8);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{hash}");
    assert_eq!(names.token_secret, format!("{}-token", names.account));
    assert_ne!(names.account, READER_SERVICE_ACCOUNT);
    assert_ne!(names.token_secret, READER_TOKEN_SECRET);
}

#[test]
fn each_target_and_cluster_name_gets_its_own_reader() {
    let other_target = TARGET.replace("cluster2", "cluster3");
    let others = [
        ReaderNames::for_remote("cluster2", &other_target, "cluster1"),
        ReaderNames::for_remote("cluster2", TARGET, "cluster-1"),
        ReaderNames::for_remote("cluster2", &format!("{TARGET}c"), "luster1"),
    ];
    for other in &others {
        assert_ne!(other.account, names().account, "{other:?}");
        assert_ne!(other.token_secret, names().token_secret, "{other:?}");
    }
}

#[test]
fn reader_names_stay_dns_labels_whatever_the_target_is_called() {
    let long = "Very_Long.Cluster Name--with/Slashes".repeat(4);
    for hint in ["", "---", "UPPER", long.as_str(), "ünïcode-clüster", "a-"] {
        let names = ReaderNames::for_remote(hint, TARGET, "cluster1");
        for name in [&names.account, &names.token_secret] {
            assert!(
                super::validate::is_dns_label(name),
                "{hint:?} gives {name:?}"
            );
        }
        assert!(names.token_secret.len() <= 52, "{names:?}");
    }
    let plain = ReaderNames::for_remote("", TARGET, "cluster1");
    assert_eq!(plain.account.len(), "istio-reader-".len() + 8, "{plain:?}");
    let shortened = ReaderNames::for_remote(&long, TARGET, "cluster1");
    assert!(
        shortened
            .account
            .starts_with("istio-reader-very-long-cluster-name-w-"),
        "{shortened:?}"
    );
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
