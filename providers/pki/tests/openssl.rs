//! The provider's chains judged by the openssl CLI: Istio's plug-in CA layout (root, one
//! intermediate per cluster, cert-chain.pem), leaves for TLS servers and MUTUAL clients, and
//! PKCS#12 bundles as Key Vault imports them.
//!
//! These tests need `openssl` on PATH and fail, saying so, without it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use mesh_engine::provider::{ApplyRequest, PlanRequest, Provider};
use mesh_engine::value::Value;
use mesh_provider_pki::{PkiProvider, CERTIFICATE, INTERMEDIATE_CA, ROOT_CA};
use tokio_util::sync::CancellationToken;

fn openssl(args: &[&str]) -> Output {
    match Command::new("openssl").args(args).output() {
        Ok(output) => output,
        Err(e) => panic!(
            "these tests check certificates with the openssl CLI, which could not be run ({e}): \
             install it (Debian: apt-get install openssl)"
        ),
    }
}

/// Run openssl; fail the test with its output unless it succeeds. Returns stdout.
fn openssl_ok(args: &[&str]) -> String {
    let output = openssl(args);
    assert!(
        output.status.success(),
        "openssl {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn s(text: &str) -> Value {
    Value::string(text)
}

/// An evaluated configuration: schema defaults, then `pairs`.
fn config(resource_type: &str, pairs: &[(&str, Value)]) -> Value {
    let schema = PkiProvider::new().schema();
    let mut map: BTreeMap<String, Value> = schema.resources[resource_type]
        .block
        .attributes
        .iter()
        .map(|(name, attr)| (name.clone(), attr.default.clone().unwrap_or(Value::Null)))
        .collect();
    for (name, value) in pairs {
        map.insert(name.to_string(), value.clone());
    }
    Value::Map(map)
}

/// Validate, plan and create one resource, as an apply does.
async fn create(resource_type: &str, pairs: &[(&str, Value)]) -> Value {
    let provider = PkiProvider::new();
    let config = config(resource_type, pairs);
    let errors = provider.validate(resource_type, &config);
    assert!(errors.is_empty(), "{errors:?}");
    let address = format!("{resource_type}.test");
    let change = provider
        .plan(PlanRequest {
            resource_type: resource_type.to_string(),
            address: address.clone(),
            prior: None,
            config,
        })
        .await
        .unwrap();
    provider
        .create(ApplyRequest {
            resource_type: resource_type.to_string(),
            address,
            prior: None,
            planned: change.planned,
            cancel: CancellationToken::new(),
        })
        .await
        .unwrap()
}

fn text(state: &Value, name: &str) -> String {
    match state.get(name).map(|v| v.unmark().0) {
        Some(Value::String(text)) => text.clone(),
        other => panic!("{name} is {other:?}"),
    }
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_string()
}

/// Names as OpenSSL 3.2+ prints them (`O=Istio, CN=Root CA`); older versions space the `=`.
fn normalized_names(text: &str) -> String {
    text.replace(" = ", "=")
}

/// `openssl x509 -text` of a PEM file.
fn x509_text(path: &str) -> String {
    normalized_names(&openssl_ok(&["x509", "-in", path, "-noout", "-text"]))
}

fn signed_by<'a>(
    issuer_cert: &str,
    issuer: &Value,
    rest: &[(&'a str, Value)],
) -> Vec<(&'a str, Value)> {
    let mut pairs = vec![
        ("issuer_cert_pem", s(issuer_cert)),
        (
            "issuer_private_key_pem",
            Value::string(text(issuer, "private_key_pem")).into_sensitive(),
        ),
    ];
    pairs.extend(rest.iter().cloned());
    pairs
}

/// The files Istio's Makefile writes for `root-ca` and `<cluster>-cacerts`, from mesh state.
struct ClusterFiles {
    ca_cert: String,
    ca_key: String,
    cert_chain: String,
    root_cert: String,
}

fn cluster_files(dir: &Path, cluster: &str, intermediate: &Value) -> ClusterFiles {
    let cluster_dir = dir.join(cluster);
    std::fs::create_dir_all(&cluster_dir).unwrap();
    ClusterFiles {
        ca_cert: write(&cluster_dir, "ca-cert.pem", &text(intermediate, "cert_pem")),
        ca_key: write(
            &cluster_dir,
            "ca-key.pem",
            &text(intermediate, "private_key_pem"),
        ),
        cert_chain: write(
            &cluster_dir,
            "cert-chain.pem",
            &text(intermediate, "cert_chain_pem"),
        ),
        root_cert: write(
            &cluster_dir,
            "root-cert.pem",
            &text(intermediate, "root_cert_pem"),
        ),
    }
}

fn public_key_of_cert(path: &str) -> String {
    openssl_ok(&["x509", "-in", path, "-noout", "-pubkey"])
}

fn public_key_of_key(path: &str) -> String {
    openssl_ok(&["pkey", "-in", path, "-pubout"])
}

#[tokio::test]
async fn istio_plug_in_ca_files_for_two_clusters_verify() {
    let dir = tempfile::tempdir().unwrap();
    let root = create(ROOT_CA, &[]).await;
    let root_pem = write(dir.path(), "root-cert.pem", &text(&root, "cert_pem"));
    let root_key = write(dir.path(), "root-key.pem", &text(&root, "private_key_pem"));

    let root_text = x509_text(&root_pem);
    assert!(
        root_text.contains("Subject: O=Istio, CN=Root CA"),
        "{root_text}"
    );
    assert!(
        root_text.contains("Issuer: O=Istio, CN=Root CA"),
        "{root_text}"
    );
    assert!(root_text.contains("Public-Key: (4096 bit)"), "{root_text}");
    assert!(root_text.contains("sha256WithRSAEncryption"), "{root_text}");
    assert!(
        root_text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE\n"),
        "{root_text}"
    );
    assert!(root_text.contains("X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign, CRL Sign"), "{root_text}");
    assert!(
        root_text.contains("X509v3 Subject Key Identifier"),
        "{root_text}"
    );
    assert_eq!(public_key_of_cert(&root_pem), public_key_of_key(&root_key));
    let serial = openssl_ok(&["x509", "-in", &root_pem, "-noout", "-serial"]);
    assert_eq!(
        serial.trim(),
        format!("serial={}", text(&root, "serial_number"))
    );
    let fingerprint = openssl_ok(&[
        "x509",
        "-in",
        &root_pem,
        "-noout",
        "-fingerprint",
        "-sha256",
    ]);
    assert_eq!(
        fingerprint.trim().to_lowercase().replace(':', ""),
        format!("sha256 fingerprint={}", text(&root, "fingerprint_sha256"))
    );

    let mut clusters = Vec::new();
    for cluster in ["cluster1", "cluster2"] {
        let intermediate = create(
            INTERMEDIATE_CA,
            &signed_by(
                &text(&root, "cert_pem"),
                &root,
                &[("cluster_name", s(cluster))],
            ),
        )
        .await;
        let files = cluster_files(dir.path(), cluster, &intermediate);
        let ca_text = x509_text(&files.ca_cert);
        let subject = format!("Subject: O=Istio, CN=Intermediate CA, L={cluster}");
        assert!(ca_text.contains(&subject), "{ca_text}");
        assert!(ca_text.contains("Issuer: O=Istio, CN=Root CA"), "{ca_text}");
        assert!(ca_text.contains("Public-Key: (4096 bit)"), "{ca_text}");
        assert!(
            ca_text
                .contains("X509v3 Basic Constraints: critical\n                CA:TRUE, pathlen:0"),
            "{ca_text}"
        );
        assert!(ca_text.contains("X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign, CRL Sign"), "{ca_text}");
        assert!(ca_text.contains("DNS:istiod.istio-system.svc"), "{ca_text}");
        assert!(
            ca_text.contains("X509v3 Authority Key Identifier"),
            "{ca_text}"
        );
        assert_eq!(
            public_key_of_cert(&files.ca_cert),
            public_key_of_key(&files.ca_key)
        );
        // cert-chain.pem is ca-cert.pem then root-cert.pem; root-cert.pem is the root.
        let chain = std::fs::read_to_string(&files.cert_chain).unwrap();
        assert_eq!(
            chain,
            text(&intermediate, "cert_pem") + &text(&root, "cert_pem")
        );
        assert_eq!(
            std::fs::read_to_string(&files.root_cert).unwrap(),
            text(&root, "cert_pem")
        );
        openssl_ok(&["verify", "-CAfile", &root_pem, &files.ca_cert]);
        openssl_ok(&[
            "verify",
            "-CAfile",
            &files.root_cert,
            "-untrusted",
            &files.cert_chain,
            &files.ca_cert,
        ]);
        clusters.push((intermediate, files));
    }
    assert_ne!(
        text(&clusters[0].0, "cert_pem"),
        text(&clusters[1].0, "cert_pem")
    );

    // A workload-style leaf below each cluster's CA verifies against the shared root, and
    // not through the other cluster's intermediate.
    let mut leaves = Vec::new();
    for (i, (intermediate, files)) in clusters.iter().enumerate() {
        let leaf = create(
            CERTIFICATE,
            &signed_by(
                &text(intermediate, "cert_chain_pem"),
                intermediate,
                &[
                    ("common_name", s("echoserver.echoserver.svc.cluster.local")),
                    (
                        "dns_names",
                        Value::List(vec![s("echoserver.echoserver.svc.cluster.local")]),
                    ),
                    ("usage", s("both")),
                ],
            ),
        )
        .await;
        let leaf_pem = write(
            dir.path(),
            &format!("leaf{i}.pem"),
            &text(&leaf, "cert_pem"),
        );
        let out = openssl_ok(&[
            "verify",
            "-CAfile",
            &root_pem,
            "-untrusted",
            &files.ca_cert,
            &leaf_pem,
        ]);
        assert!(out.contains(": OK"), "{out}");
        leaves.push(leaf_pem);
    }
    let crossed = openssl(&[
        "verify",
        "-CAfile",
        &root_pem,
        "-untrusted",
        &clusters[1].1.ca_cert,
        &leaves[0],
    ]);
    assert!(
        !crossed.status.success(),
        "a leaf verified through the wrong intermediate"
    );
    let leaf_text = x509_text(&leaves[0]);
    assert!(leaf_text.contains("CA:FALSE"), "{leaf_text}");
    assert!(leaf_text.contains("Public-Key: (2048 bit)"), "{leaf_text}");
    assert!(
        leaf_text.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
        "{leaf_text}"
    );
    assert!(
        leaf_text.contains("DNS:echoserver.echoserver.svc.cluster.local"),
        "{leaf_text}"
    );
}

#[tokio::test]
async fn server_and_mutual_tls_client_leaves_have_their_purposes() {
    let dir = tempfile::tempdir().unwrap();
    let root = create(ROOT_CA, &[("key_algorithm", s("ECDSA_P256"))]).await;
    let root_pem = write(dir.path(), "root.pem", &text(&root, "cert_pem"));
    let server = create(
        CERTIFICATE,
        &signed_by(
            &text(&root, "cert_pem"),
            &root,
            &[
                ("common_name", s("httpbin.example.com")),
                ("organization", s("httpbin organization")),
                ("dns_names", Value::List(vec![s("httpbin.example.com")])),
                ("ip_addresses", Value::List(vec![s("10.1.2.3")])),
            ],
        ),
    )
    .await;
    let client = create(
        CERTIFICATE,
        &signed_by(
            &text(&root, "cert_pem"),
            &root,
            &[
                ("common_name", s("client.example.com")),
                ("usage", s("client")),
                (
                    "uris",
                    Value::List(vec![s("spiffe://cluster.local/ns/a/sa/b")]),
                ),
                ("key_algorithm", s("ECDSA_P384")),
            ],
        ),
    )
    .await;
    let server_pem = write(dir.path(), "server.pem", &text(&server, "cert_pem"));
    let client_pem = write(dir.path(), "client.pem", &text(&client, "cert_pem"));
    openssl_ok(&[
        "verify",
        "-CAfile",
        &root_pem,
        "-purpose",
        "sslserver",
        &server_pem,
    ]);
    openssl_ok(&[
        "verify",
        "-CAfile",
        &root_pem,
        "-purpose",
        "sslclient",
        &client_pem,
    ]);
    let wrong = openssl(&[
        "verify",
        "-CAfile",
        &root_pem,
        "-purpose",
        "sslserver",
        &client_pem,
    ]);
    assert!(
        !wrong.status.success(),
        "a client-only certificate passed as a server"
    );

    let server_text = x509_text(&server_pem);
    assert!(
        server_text.contains("Subject: CN=httpbin.example.com, O=httpbin organization")
            || server_text.contains("Subject: O=httpbin organization, CN=httpbin.example.com"),
        "{server_text}"
    );
    assert!(server_text.contains("IP Address:10.1.2.3"), "{server_text}");
    assert!(
        server_text.contains("Digital Signature, Key Encipherment"),
        "{server_text}"
    );
    let client_text = x509_text(&client_pem);
    assert!(
        client_text.contains("URI:spiffe://cluster.local/ns/a/sa/b"),
        "{client_text}"
    );
    assert!(
        client_text.contains("TLS Web Client Authentication"),
        "{client_text}"
    );
    assert!(
        !client_text.contains("TLS Web Server Authentication"),
        "{client_text}"
    );
    assert!(client_text.contains("ASN1 OID: secp384r1"), "{client_text}");
    // The root is the MUTUAL TLS ca.crt.
    assert_eq!(text(&client, "root_cert_pem"), text(&root, "cert_pem"));
}

fn pkcs12_file(dir: &Path, name: &str, state: &Value) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text(state, "pkcs12_base64"))
        .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test]
async fn pkcs12_bundles_open_with_their_password_and_hold_key_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    let root = create(ROOT_CA, &[("key_algorithm", s("RSA_2048"))]).await;
    let intermediate = create(
        INTERMEDIATE_CA,
        &signed_by(
            &text(&root, "cert_pem"),
            &root,
            &[
                ("cluster_name", s("cluster1")),
                ("key_algorithm", s("RSA_2048")),
            ],
        ),
    )
    .await;
    let leaf = create(
        CERTIFICATE,
        &signed_by(
            &text(&intermediate, "cert_chain_pem"),
            &intermediate,
            &[
                ("common_name", s("echoserver")),
                (
                    "pkcs12_password",
                    Value::string("s3cret pass").into_sensitive(),
                ),
            ],
        ),
    )
    .await;

    let leaf_p12 = pkcs12_file(dir.path(), "echoserver.pfx", &leaf);
    let info = normalized_names(&openssl_ok(&[
        "pkcs12",
        "-in",
        &leaf_p12,
        "-info",
        "-nodes",
        "-passin",
        "pass:s3cret pass",
    ]));
    assert!(info.contains("-----BEGIN PRIVATE KEY-----"), "{info}");
    assert_eq!(
        info.matches("-----BEGIN CERTIFICATE-----").count(),
        3,
        "{info}"
    );
    assert!(info.contains("subject=CN=echoserver"), "{info}");
    assert!(
        info.contains("subject=O=Istio, CN=Intermediate CA, L=cluster1"),
        "{info}"
    );
    // The key in the bundle is the certificate's key.
    let key_path = write(dir.path(), "from-p12.pem", &info);
    let leaf_pem = write(dir.path(), "leaf.pem", &text(&leaf, "cert_pem"));
    assert_eq!(public_key_of_key(&key_path), public_key_of_cert(&leaf_pem));
    let wrong = openssl(&[
        "pkcs12",
        "-in",
        &leaf_p12,
        "-noout",
        "-passin",
        "pass:wrong",
    ]);
    assert!(
        !wrong.status.success(),
        "a wrong password opened the bundle"
    );

    // The intermediate's bundle has the empty password the seed scripts use (`-passout pass:`).
    let ca_p12 = pkcs12_file(dir.path(), "ca-cert-and-key.pfx", &intermediate);
    let info = openssl_ok(&[
        "pkcs12", "-in", &ca_p12, "-info", "-nodes", "-passin", "pass:",
    ]);
    assert!(info.contains("-----BEGIN PRIVATE KEY-----"), "{info}");
    assert_eq!(
        info.matches("-----BEGIN CERTIFICATE-----").count(),
        2,
        "{info}"
    );
}

#[tokio::test]
async fn a_new_password_re_exports_a_bundle_openssl_reads() {
    let dir = tempfile::tempdir().unwrap();
    let root = create(ROOT_CA, &[("key_algorithm", s("ECDSA_P256"))]).await;
    let pairs = signed_by(
        &text(&root, "cert_pem"),
        &root,
        &[
            ("common_name", s("gateway")),
            ("key_algorithm", s("ECDSA_P256")),
        ],
    );
    let leaf = create(CERTIFICATE, &pairs).await;
    let provider = PkiProvider::new();
    let mut new_config = config(CERTIFICATE, &pairs);
    new_config.set_or_insert("pkcs12_password", Value::string("rotated").into_sensitive());
    let change = provider
        .plan(PlanRequest {
            resource_type: CERTIFICATE.to_string(),
            address: "pki_certificate.gateway".to_string(),
            prior: Some(leaf.clone()),
            config: new_config,
        })
        .await
        .unwrap();
    assert!(change.requires_replace.is_empty());
    let updated = provider
        .update(ApplyRequest {
            resource_type: CERTIFICATE.to_string(),
            address: "pki_certificate.gateway".to_string(),
            prior: Some(leaf.clone()),
            planned: change.planned,
            cancel: CancellationToken::new(),
        })
        .await
        .unwrap();
    let p12 = pkcs12_file(dir.path(), "rotated.pfx", &updated);
    openssl_ok(&["pkcs12", "-in", &p12, "-noout", "-passin", "pass:rotated"]);
    assert_eq!(text(&updated, "cert_pem"), text(&leaf, "cert_pem"));
}

#[tokio::test]
async fn an_ecdsa_chain_signed_from_a_root_key_file_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let key_file: PathBuf = dir.path().join("offline/root-key.pem");
    let key_file_value = s(key_file.to_str().unwrap());
    let root = create(
        ROOT_CA,
        &[
            ("key_algorithm", s("ECDSA_P384")),
            ("private_key_file", key_file_value.clone()),
        ],
    )
    .await;
    assert_eq!(root.get("private_key_pem"), Some(&Value::Null));
    let root_pem = write(dir.path(), "root-cert.pem", &text(&root, "cert_pem"));
    assert_eq!(
        public_key_of_cert(&root_pem),
        public_key_of_key(key_file.to_str().unwrap())
    );
    let intermediate = create(
        INTERMEDIATE_CA,
        &[
            ("issuer_cert_pem", s(&text(&root, "cert_pem"))),
            ("issuer_private_key_file", key_file_value),
            ("cluster_name", s("east")),
            ("key_algorithm", s("ECDSA_P256")),
        ],
    )
    .await;
    let files = cluster_files(dir.path(), "east", &intermediate);
    let ca_text = x509_text(&files.ca_cert);
    assert!(ca_text.contains("ecdsa-with-SHA384"), "{ca_text}");
    assert!(ca_text.contains("Certificate Sign, CRL Sign"), "{ca_text}");
    assert!(!ca_text.contains("Key Encipherment"), "{ca_text}");
    openssl_ok(&["verify", "-CAfile", &files.root_cert, &files.ca_cert]);
}
