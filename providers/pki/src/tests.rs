//! Unit tests: schema flags, validation, planning rules, key files. Chains checked with the
//! openssl CLI are in `tests/openssl.rs`.

use mesh_engine::value::PathStep;
use tokio_util::sync::CancellationToken;

use super::*;

/// An evaluated configuration as the engine passes it: every attribute present, defaults
/// applied, then `pairs` set.
fn config(resource_type: &str, pairs: &[(&str, Value)]) -> Value {
    let schema = schema::resource_schema(resource_type).unwrap();
    let mut map: BTreeMap<String, Value> = schema
        .block
        .attributes
        .iter()
        .map(|(name, attr)| (name.clone(), attr.default.clone().unwrap_or(Value::Null)))
        .collect();
    for (name, value) in pairs {
        assert!(map.contains_key(*name), "no attribute {name}");
        map.insert(name.to_string(), value.clone());
    }
    Value::Map(map)
}

fn s(text: &str) -> Value {
    Value::string(text)
}

fn n(number: f64) -> Value {
    Value::Number(number)
}

fn text<'a>(state: &'a Value, name: &str) -> &'a str {
    resources::plain(state, name)
        .as_str()
        .unwrap_or_else(|| panic!("{name} is not a string"))
}

fn apply_request(resource_type: &str, prior: Option<Value>, planned: Value) -> ApplyRequest {
    ApplyRequest {
        resource_type: resource_type.to_string(),
        address: format!("{resource_type}.test"),
        prior,
        planned,
        cancel: CancellationToken::new(),
    }
}

async fn plan(resource_type: &str, prior: Option<Value>, config: Value) -> PlannedChange {
    try_plan(resource_type, prior, config).await.unwrap()
}

async fn try_plan(
    resource_type: &str,
    prior: Option<Value>,
    config: Value,
) -> Result<PlannedChange, ProviderError> {
    PkiProvider::new()
        .plan(PlanRequest {
            resource_type: resource_type.to_string(),
            address: format!("{resource_type}.test"),
            prior,
            config,
        })
        .await
}

/// Validate, plan and create.
async fn create(resource_type: &str, pairs: &[(&str, Value)]) -> Value {
    let config = config(resource_type, pairs);
    let errors = PkiProvider::new().validate(resource_type, &config);
    assert!(errors.is_empty(), "{errors:?}");
    let change = plan(resource_type, None, config).await;
    PkiProvider::new()
        .create(apply_request(resource_type, None, change.planned))
        .await
        .unwrap()
}

/// A small, fast root (ECDSA keys keep these tests quick).
async fn ec_root(validity_days: f64) -> Value {
    create(
        ROOT_CA,
        &[
            ("key_algorithm", s("ECDSA_P256")),
            ("validity_days", n(validity_days)),
        ],
    )
    .await
}

fn issued_by(issuer: &Value, pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    let mut out = vec![
        ("issuer_cert_pem".to_string(), s(text(issuer, "cert_pem"))),
        (
            "issuer_private_key_pem".to_string(),
            s(text(issuer, "private_key_pem")).into_sensitive(),
        ),
        ("key_algorithm".to_string(), s("ECDSA_P256")),
    ];
    out.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())));
    out
}

fn pairs_ref(pairs: &[(String, Value)]) -> Vec<(&str, Value)> {
    pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}

fn errors_of(resource_type: &str, pairs: &[(&str, Value)]) -> Vec<ProviderError> {
    PkiProvider::new().validate(resource_type, &config(resource_type, pairs))
}

fn attribute_of(error: &ProviderError) -> String {
    match error.attribute.as_deref() {
        Some([PathStep::Key(name)]) => name.clone(),
        other => panic!("error without one attribute: {other:?}"),
    }
}

fn assert_error(errors: &[ProviderError], attribute: &str, fragment: &str) {
    assert!(
        errors
            .iter()
            .any(|e| attribute_of(e) == attribute && e.message.contains(fragment)),
        "no error on {attribute} containing {fragment:?} in {errors:?}"
    );
}

#[test]
fn secrets_are_sensitive_and_shaping_inputs_force_new() {
    let provider = PkiProvider::new();
    let schema = provider.schema();
    assert_eq!(schema.resources.len(), 3);
    for (name, resource) in &schema.resources {
        let attrs = &resource.block.attributes;
        assert!(attrs["private_key_pem"].sensitive, "{name}");
        assert!(attrs["private_key_pem"].is_computed(), "{name}");
        assert!(!attrs["cert_pem"].sensitive, "{name}");
        for (attr_name, attr) in attrs {
            let in_place = ["early_renewal_days", "pkcs12_password"].contains(&attr_name.as_str());
            if attr.is_settable() {
                assert_eq!(attr.force_new, !in_place, "{name}.{attr_name}");
            } else {
                assert!(!attr.force_new, "{name}.{attr_name}");
            }
        }
    }
    for name in [INTERMEDIATE_CA, CERTIFICATE] {
        let attrs = &schema.resources[name].block.attributes;
        assert!(attrs["issuer_private_key_pem"].sensitive);
        assert!(attrs["pkcs12_password"].sensitive);
        assert!(attrs["pkcs12_base64"].sensitive);
        assert!(!attrs["issuer_private_key_file"].sensitive);
    }
    let root = &schema.resources[ROOT_CA].block.attributes;
    assert_eq!(root["validity_days"].default, Some(n(3650.0)));
    assert_eq!(root["key_algorithm"].default, Some(s("RSA_4096")));
    let intermediate = &schema.resources[INTERMEDIATE_CA].block.attributes;
    assert_eq!(intermediate["validity_days"].default, Some(n(730.0)));
    assert_eq!(
        intermediate["dns_names"].default,
        Some(Value::List(vec![s(ISTIOD_SAN)]))
    );
}

#[test]
fn bad_inputs_are_reported_together_with_their_attribute() {
    let errors = errors_of(
        ROOT_CA,
        &[
            ("key_algorithm", s("RSA_1024")),
            ("validity_days", n(-1.0)),
            ("common_name", s("")),
        ],
    );
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_error(&errors, "key_algorithm", "RSA_2048, RSA_3072, RSA_4096");
    assert_error(&errors, "validity_days", "not -1");
    assert_error(&errors, "common_name", "must not be empty");
    let errors = errors_of(
        ROOT_CA,
        &[("validity_days", n(30.0)), ("early_renewal_days", n(30.0))],
    );
    assert_error(&errors, "early_renewal_days", "less than validity_days");
    assert_error(
        &errors_of(ROOT_CA, &[("validity_days", n(1.5))]),
        "validity_days",
        "whole number",
    );
}

#[test]
fn unknown_values_are_accepted() {
    for resource_type in schema::RESOURCE_TYPES {
        let schema = schema::resource_schema(resource_type).unwrap();
        let unknown: Vec<(String, Value)> = schema
            .block
            .attributes
            .iter()
            .filter(|(_, a)| a.is_settable())
            .map(|(name, _)| (name.clone(), Value::Unknown))
            .collect();
        let errors = errors_of(resource_type, &pairs_ref(&unknown));
        assert!(errors.is_empty(), "{resource_type}: {errors:?}");
    }
}

#[test]
fn leaf_names_and_usage_are_checked() {
    let errors = errors_of(
        CERTIFICATE,
        &[
            ("common_name", s("x")),
            ("issuer_cert_pem", Value::Unknown),
            ("issuer_private_key_pem", Value::Unknown),
            (
                "dns_names",
                Value::List(vec![s("ok.example"), s("bad name")]),
            ),
            (
                "ip_addresses",
                Value::List(vec![s("10.0.0.1"), s("10.0.0")]),
            ),
            (
                "uris",
                Value::List(vec![s("spiffe://cluster.local/ns/a"), s("nope")]),
            ),
            ("usage", s("serverAuth")),
        ],
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert_error(&errors, "dns_names", "dns_names[1]");
    assert_error(&errors, "ip_addresses", "ip_addresses[1]");
    assert_error(&errors, "uris", "uris[1]");
    assert_error(&errors, "usage", "\"server\", \"client\" or \"both\"");
}

#[tokio::test]
async fn issuer_problems_are_found_before_apply() {
    let root = ec_root(100.0).await;
    let good = issued_by(
        &root,
        &[("cluster_name", s("cluster1")), ("validity_days", n(50.0))],
    );
    assert!(errors_of(INTERMEDIATE_CA, &pairs_ref(&good)).is_empty());

    // Longer than the issuer lives.
    let mut long = good.clone();
    long.push(("validity_days".into(), n(730.0)));
    let errors = errors_of(INTERMEDIATE_CA, &pairs_ref(&long));
    assert_error(
        &errors,
        "validity_days",
        "after the issuer's certificate ends",
    );

    // Not PEM.
    let mut garbage = good.clone();
    garbage.push((
        "issuer_cert_pem".into(),
        s("-----BEGIN CERTIFICATE-----\nnope\n"),
    ));
    assert_error(
        &errors_of(INTERMEDIATE_CA, &pairs_ref(&garbage)),
        "issuer_cert_pem",
        "issuer_cert_pem",
    );
    let mut empty = good.clone();
    empty.push(("issuer_cert_pem".into(), s("hello")));
    assert_error(
        &errors_of(INTERMEDIATE_CA, &pairs_ref(&empty)),
        "issuer_cert_pem",
        "holds no PEM certificate",
    );

    // A key that is not the issuer's, and a key that is not a key.
    let other = ec_root(100.0).await;
    let mut mismatched = good.clone();
    mismatched.push((
        "issuer_private_key_pem".into(),
        s(text(&other, "private_key_pem")),
    ));
    assert_error(
        &errors_of(INTERMEDIATE_CA, &pairs_ref(&mismatched)),
        "issuer_private_key_pem",
        "is not the key of the certificate",
    );
    let mut not_a_key = good.clone();
    not_a_key.push(("issuer_private_key_pem".into(), s("secret-words")));
    let errors = errors_of(INTERMEDIATE_CA, &pairs_ref(&not_a_key));
    assert_error(
        &errors,
        "issuer_private_key_pem",
        "is not a PEM private key",
    );
    assert!(errors.iter().all(|e| !e.message.contains("secret-words")));

    // Neither key, then both.
    let mut neither = good.clone();
    neither.push(("issuer_private_key_pem".into(), Value::Null));
    assert_error(
        &errors_of(INTERMEDIATE_CA, &pairs_ref(&neither)),
        "issuer_private_key_pem",
        "set issuer_private_key_pem or issuer_private_key_file",
    );
    let mut both = good.clone();
    both.push(("issuer_private_key_file".into(), s("root.key")));
    assert_error(
        &errors_of(INTERMEDIATE_CA, &pairs_ref(&both)),
        "issuer_private_key_pem",
        "only one",
    );
}

#[tokio::test]
async fn only_a_ca_may_issue_and_pathlen_zero_stops_a_second_ca() {
    let root = ec_root(100.0).await;
    let intermediate = create(
        INTERMEDIATE_CA,
        &pairs_ref(&issued_by(
            &root,
            &[("cluster_name", s("c1")), ("validity_days", n(50.0))],
        )),
    )
    .await;
    let below = issued_by(
        &intermediate,
        &[("cluster_name", s("c2")), ("validity_days", n(10.0))],
    );
    assert_error(
        &errors_of(INTERMEDIATE_CA, &pairs_ref(&below)),
        "issuer_cert_pem",
        "pathlen:0",
    );
    let leaf = create(
        CERTIFICATE,
        &pairs_ref(&issued_by(
            &intermediate,
            &[("common_name", s("leaf")), ("validity_days", n(10.0))],
        )),
    )
    .await;
    let by_leaf = issued_by(&leaf, &[("common_name", s("x")), ("validity_days", n(1.0))]);
    assert_error(
        &errors_of(CERTIFICATE, &pairs_ref(&by_leaf)),
        "issuer_cert_pem",
        "is not a CA certificate",
    );
}

#[tokio::test]
async fn plan_makes_nothing_and_apply_fills_every_output() {
    let config = config(ROOT_CA, &[("key_algorithm", s("ECDSA_P256"))]);
    let change = plan(ROOT_CA, None, config).await;
    for output in [
        "cert_pem",
        "private_key_pem",
        "not_after",
        "serial_number",
        "id",
    ] {
        assert_eq!(
            change.planned.get(output),
            Some(&Value::Unknown),
            "{output}"
        );
    }
    let root = PkiProvider::new()
        .create(apply_request(ROOT_CA, None, change.planned))
        .await
        .unwrap();
    assert!(!root.is_unknown_deep());
    assert!(text(&root, "cert_pem").starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(text(&root, "private_key_pem").starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert_eq!(text(&root, "id"), text(&root, "serial_number"));
    assert_eq!(text(&root, "fingerprint_sha256").len(), 64);
    assert!(text(&root, "not_after").ends_with('Z'));

    let read = PkiProvider::new()
        .read(ReadRequest {
            resource_type: ROOT_CA.to_string(),
            address: "pki_root_ca.test".to_string(),
            current: root.clone(),
        })
        .await
        .unwrap();
    assert_eq!(read, Some(root));
}

#[tokio::test]
async fn a_certificate_is_renewed_within_early_renewal_days() {
    let root = ec_root(10.0).await;
    let unchanged = config(
        ROOT_CA,
        &[
            ("key_algorithm", s("ECDSA_P256")),
            ("validity_days", n(10.0)),
        ],
    );
    let change = plan(ROOT_CA, Some(root.clone()), unchanged.clone()).await;
    assert!(change.requires_replace.is_empty());
    assert_eq!(change.planned.get("cert_pem"), root.get("cert_pem"));

    let mut soon = unchanged.clone();
    soon.set_or_insert("early_renewal_days", n(9.0));
    let change = plan(ROOT_CA, Some(root.clone()), soon).await;
    assert!(
        change.requires_replace.is_empty(),
        "10 days left, renew at 9"
    );

    let mut due = unchanged.clone();
    due.set_or_insert("early_renewal_days", n(8.0));
    let now = OffsetDateTime::now_utc() + time::Duration::days(3);
    let change = plan::plan(
        &PlanRequest {
            resource_type: ROOT_CA.to_string(),
            address: "pki_root_ca.test".to_string(),
            prior: Some(root.clone()),
            config: due,
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(
        change.requires_replace,
        vec![vec![PathStep::Key("not_after".to_string())]]
    );

    let expired = OffsetDateTime::now_utc() + time::Duration::days(11);
    assert!(plan::renewal_due(&root, &unchanged, expired));
}

#[tokio::test]
async fn changing_an_input_replaces_and_a_new_password_re_exports() {
    let root = ec_root(100.0).await;
    let pairs = issued_by(
        &root,
        &[("common_name", s("echoserver")), ("validity_days", n(30.0))],
    );
    let leaf = create(CERTIFICATE, &pairs_ref(&pairs)).await;
    let same = config(CERTIFICATE, &pairs_ref(&pairs));
    let change = plan(CERTIFICATE, Some(leaf.clone()), same.clone()).await;
    assert!(change.requires_replace.is_empty());

    let mut renamed = same.clone();
    renamed.set_or_insert("common_name", s("httpbin"));
    let change = plan(CERTIFICATE, Some(leaf.clone()), renamed).await;
    assert_eq!(
        change.requires_replace,
        vec![vec![PathStep::Key("common_name".to_string())]]
    );

    let mut new_password = same.clone();
    new_password.set_or_insert("pkcs12_password", s("pw2").into_sensitive());
    let change = plan(CERTIFICATE, Some(leaf.clone()), new_password).await;
    assert!(change.requires_replace.is_empty());
    assert_eq!(change.planned.get("pkcs12_base64"), Some(&Value::Unknown));
    assert_eq!(change.planned.get("cert_pem"), leaf.get("cert_pem"));
    let updated = PkiProvider::new()
        .update(apply_request(
            CERTIFICATE,
            Some(leaf.clone()),
            change.planned,
        ))
        .await
        .unwrap();
    assert_ne!(updated.get("pkcs12_base64"), leaf.get("pkcs12_base64"));
    assert_eq!(updated.get("private_key_pem"), leaf.get("private_key_pem"));
}

#[tokio::test]
async fn a_root_key_file_is_private_kept_out_of_state_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys/root-key.pem");
    let file = s(path.to_str().unwrap());
    let pairs = [
        ("key_algorithm", s("ECDSA_P256")),
        ("private_key_file", file.clone()),
    ];
    let root = create(ROOT_CA, &pairs).await;
    assert_eq!(root.get("private_key_pem"), Some(&Value::Null));
    let key = std::fs::read_to_string(&path).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    let key_body = key.lines().nth(1).unwrap();
    assert!(!root.to_json().to_string().contains(key_body));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A second root at the same path is refused, and the first key survives.
    let change = plan(ROOT_CA, None, config(ROOT_CA, &pairs)).await;
    let error = PkiProvider::new()
        .create(apply_request(ROOT_CA, None, change.planned))
        .await
        .unwrap_err();
    assert!(error.message.contains("already exists"), "{error:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), key);

    // An intermediate signs with the file; a missing file fails the plan, naming it.
    let intermediate = [
        ("issuer_cert_pem", s(text(&root, "cert_pem"))),
        ("issuer_private_key_file", file.clone()),
        ("cluster_name", s("cluster1")),
        ("key_algorithm", s("ECDSA_P256")),
        ("validity_days", n(30.0)),
    ];
    let made = create(INTERMEDIATE_CA, &intermediate).await;
    assert!(text(&made, "cert_chain_pem").ends_with(text(&root, "cert_pem")));

    std::fs::rename(&path, dir.path().join("moved.pem")).unwrap();
    let error = try_plan(
        INTERMEDIATE_CA,
        None,
        config(INTERMEDIATE_CA, &intermediate),
    )
    .await
    .unwrap_err();
    assert!(error.message.contains(path.to_str().unwrap()), "{error:?}");
    assert!(error.message.contains("does not exist"), "{error:?}");
    // Refresh and plans that sign nothing do not need the file.
    let change = plan(
        INTERMEDIATE_CA,
        Some(made.clone()),
        config(INTERMEDIATE_CA, &intermediate),
    )
    .await;
    assert!(change.requires_replace.is_empty());
    std::fs::rename(dir.path().join("moved.pem"), &path).unwrap();

    // Destroying the root removes its key file only while it holds the root's key.
    let other = dir.path().join("other.pem");
    std::fs::write(&other, text(&made, "private_key_pem")).unwrap();
    let mut elsewhere = root.clone();
    elsewhere.set_or_insert("private_key_file", s(other.to_str().unwrap()));
    PkiProvider::new()
        .delete(apply_request(ROOT_CA, Some(elsewhere), Value::Null))
        .await
        .unwrap();
    assert!(other.exists());
    PkiProvider::new()
        .delete(apply_request(ROOT_CA, Some(root), Value::Null))
        .await
        .unwrap();
    assert!(!path.exists());
}

#[tokio::test]
async fn a_chain_bundle_as_issuer_gives_the_full_chain_and_its_root() {
    let root = ec_root(100.0).await;
    let intermediate = create(
        INTERMEDIATE_CA,
        &pairs_ref(&issued_by(
            &root,
            &[("cluster_name", s("c1")), ("validity_days", n(50.0))],
        )),
    )
    .await;
    let chain = text(&intermediate, "cert_chain_pem");
    assert_eq!(
        chain,
        format!(
            "{}{}",
            text(&intermediate, "cert_pem"),
            text(&root, "cert_pem")
        )
    );
    assert_eq!(
        text(&intermediate, "root_cert_pem"),
        text(&root, "cert_pem")
    );

    let mut pairs = issued_by(
        &intermediate,
        &[("common_name", s("leaf")), ("validity_days", n(10.0))],
    );
    pairs[0].1 = s(chain);
    let leaf = create(CERTIFICATE, &pairs_ref(&pairs)).await;
    assert_eq!(
        text(&leaf, "cert_chain_pem"),
        format!("{}{chain}", text(&leaf, "cert_pem"))
    );
    assert_eq!(text(&leaf, "root_cert_pem"), text(&root, "cert_pem"));

    // Only the intermediate as issuer: the chain has no root to name.
    let by_intermediate_only = create(
        CERTIFICATE,
        &pairs_ref(&issued_by(
            &intermediate,
            &[("common_name", s("leaf2")), ("validity_days", n(10.0))],
        )),
    )
    .await;
    assert_eq!(
        by_intermediate_only.get("root_cert_pem"),
        Some(&Value::Null)
    );
}

#[test]
fn key_algorithm_names_round_trip() {
    for algorithm in KeyAlgorithm::ALL {
        assert_eq!(KeyAlgorithm::parse(algorithm.name()), Some(algorithm));
    }
    assert_eq!(KeyAlgorithm::parse("rsa_4096"), None);
}
