//! Multi-cluster wiring: what `istioctl create-remote-secret` produces, split in its two
//! halves. In the SOURCE cluster, a reader ServiceAccount with read-only permissions and a
//! long-lived token Secret the API server fills in; in the TARGET cluster, a Secret
//! labelled `istio/multiCluster=true` holding a kubeconfig for the source cluster, which
//! the target's istiod uses to discover the source's endpoints.
//!
//! Unlike istioctl, which gives every remote secret of a source cluster the same reader, each
//! remote secret gets reader objects of its own ([`ReaderNames`]): deleting one remote secret
//! must not invalidate the token another target's istiod still uses.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::rbac::{cluster_role_binding, cluster_role_object, reader_rules, service_account};
use super::validate::is_dns_label;
use super::{namespaced_meta, revision_labels, shared_labels, IstioError, ISTIO_NAMESPACE};

/// The ServiceAccount istioctl (and mesh before per-remote readers) shares between all
/// remote secrets of a source cluster. mesh no longer creates it and never deletes it:
/// clusters wired by an earlier mesh may still have it, and remote secrets made then may
/// still hold its token.
pub const READER_SERVICE_ACCOUNT: &str = "istio-reader-service-account";
/// The token Secret of [`READER_SERVICE_ACCOUNT`] (same history: left alone).
pub const READER_TOKEN_SECRET: &str = "istio-reader-service-account-istio-remote-secret-token";

/// Longest part of the reader names taken from the target cluster's name (for people
/// reading `kubectl get serviceaccounts`; the hash is what makes them unique).
const HINT_LEN: usize = 24;
/// Bytes of the SHA-256 of the remote secret's identity in the reader names (8 hex digits).
const HASH_BYTES: usize = 4;

/// The names of the reader objects ONE remote secret owns in its source cluster:
/// ServiceAccount, ClusterRole and ClusterRoleBinding `istio-reader-<target>-<hash>`, and
/// the token Secret `istio-reader-<target>-<hash>-token`. The hash covers the target
/// cluster's identity and the `cluster_name` the source is registered as, so two remote
/// secrets of one source never share an object, and every name stays a DNS label
/// (at most 52 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderNames {
    /// Name of the ServiceAccount, its ClusterRole and its ClusterRoleBinding.
    pub account: String,
    /// Name of the `kubernetes.io/service-account-token` Secret of the account.
    pub token_secret: String,
}

impl ReaderNames {
    /// The names for the remote secret that puts the source, as `cluster_name`, into the
    /// target cluster. `target_identity` names the target the same way for as long as it
    /// exists (its ARM ID, lowercased, or its kubeconfig path and context); `target_hint` is a
    /// readable name of it, kept (shortened, as a DNS label) in the names.
    pub fn for_remote(target_hint: &str, target_identity: &str, cluster_name: &str) -> Self {
        let digest = Sha256::new()
            .chain_update(target_identity.as_bytes())
            // A separator no identity contains, so ("a", "bc") and ("ab", "c") differ.
            .chain_update([0u8])
            .chain_update(cluster_name.as_bytes())
            .finalize();
        let hash = hex::encode(&digest[..HASH_BYTES]);
        let hint = dns_fragment(target_hint, HINT_LEN);
        let account = if hint.is_empty() {
            format!("istio-reader-{hash}")
        } else {
            format!("istio-reader-{hint}-{hash}")
        };
        ReaderNames {
            token_secret: format!("{account}-token"),
            account,
        }
    }
}

/// `text` lowercased, every run of other characters than `[a-z0-9]` made one `-`, cut to
/// `max` characters, without a leading or trailing `-`.
fn dns_fragment(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().map(|c| c.to_ascii_lowercase()) {
        if out.len() >= max {
            break;
        }
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// What the target cluster's Secret needs to reach the source cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteSecretSpec {
    /// The SOURCE cluster's `clusterName` (its istiod `CLUSTER_ID`): names the Secret,
    /// its data key and the kubeconfig's cluster, context and user.
    pub cluster_name: String,
    /// API server URL of the source cluster, reachable from the target's istiod.
    pub server: String,
    /// Base64 PEM bundle of the source API server's CA (the reader token Secret's
    /// `data["ca.crt"]` as stored); `None` trusts the system roots.
    pub certificate_authority_data: Option<String>,
    /// TLS server name to verify when `server` is an address the certificate does not name.
    pub tls_server_name: Option<String>,
    /// Bearer token of the reader ServiceAccount.
    pub token: String,
}

impl fmt::Debug for RemoteSecretSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSecretSpec")
            .field("cluster_name", &self.cluster_name)
            .field("server", &self.server)
            .field(
                "certificate_authority_data",
                &self.certificate_authority_data.as_ref().map(|_| "<set>"),
            )
            .field("tls_server_name", &self.tls_server_name)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Objects for the SOURCE cluster, all named by `names`: the reader ServiceAccount, a
/// ClusterRole with the read-only rules of Istio's `istio-reader-clusterrole` and its
/// binding, and the token Secret.
///
/// The ClusterRole is per remote secret too rather than one per revision shared by all:
/// it is small, and a shared one would either outlive every remote secret (never deleted)
/// or be deleted under the others. Its revision is only a label, so a new revision updates
/// the objects in place.
pub fn render_remote_reader(names: &ReaderNames, revision: &str) -> Vec<Value> {
    let reader = [("app", "istio-reader")];
    let role_labels = revision_labels(revision, &reader);
    let account = names.account.as_str();
    vec![
        service_account(account, shared_labels(&reader)),
        cluster_role_object(account, role_labels.clone(), reader_rules()),
        cluster_role_binding(account, role_labels, account),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": names.token_secret,
                "namespace": ISTIO_NAMESPACE,
                "labels": shared_labels(&reader),
                "annotations": { "kubernetes.io/service-account.name": account },
            },
        }),
    ]
}

/// The Secret for the TARGET cluster: `istio-remote-secret-<cluster_name>` in istio-system.
pub fn render_remote_secret(spec: &RemoteSecretSpec) -> Value {
    let name = format!("istio-remote-secret-{}", spec.cluster_name);
    let mut metadata = namespaced_meta(
        &name,
        ISTIO_NAMESPACE,
        shared_labels(&[("istio/multiCluster", "true")]),
    );
    if let Value::Object(map) = &mut metadata {
        map.insert(
            "annotations".to_string(),
            json!({ "networking.istio.io/cluster": spec.cluster_name }),
        );
    }
    let mut string_data = Map::new();
    string_data.insert(spec.cluster_name.clone(), json!(kubeconfig_yaml(spec)));
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": metadata,
        "stringData": string_data,
    })
}

/// Every problem with `spec`, or `Ok` when the remote secret can be rendered. Problems
/// never quote the token.
pub fn validate_remote_secret(spec: &RemoteSecretSpec) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if !is_dns_label(&spec.cluster_name) {
        problems.push(format!(
            "cluster_name {:?} must be a DNS label (it names istio-remote-secret-<cluster_name>)",
            spec.cluster_name
        ));
    }
    if !spec.server.starts_with("https://") || spec.server.chars().any(char::is_whitespace) {
        problems.push(format!("server {:?} must be an https:// URL", spec.server));
    }
    if spec.token.is_empty() || spec.token.chars().any(char::is_whitespace) {
        problems.push("token must be a non-empty bearer token without whitespace".to_string());
    }
    if let Some(ca) = &spec.certificate_authority_data {
        if STANDARD.decode(ca).is_err() {
            problems.push("certificate_authority_data is not valid base64".to_string());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A kubeconfig whose cluster, context and user are all named after the source cluster.
fn kubeconfig_yaml(spec: &RemoteSecretSpec) -> String {
    let name = spec.cluster_name.as_str();
    let mut cluster = Map::new();
    match &spec.certificate_authority_data {
        Some(ca) => cluster.insert("certificate-authority-data".to_string(), json!(ca)),
        None => cluster.insert("insecure-skip-tls-verify".to_string(), json!(false)),
    };
    cluster.insert("server".to_string(), json!(spec.server));
    if let Some(server_name) = &spec.tls_server_name {
        cluster.insert("tls-server-name".to_string(), json!(server_name));
    }
    let config = json!({
        "apiVersion": "v1",
        "clusters": [{ "cluster": cluster, "name": name }],
        "contexts": [{ "context": { "cluster": name, "user": name }, "name": name }],
        "current-context": name,
        "kind": "Config",
        "preferences": {},
        "users": [{ "name": name, "user": { "token": spec.token } }],
    });
    // A JSON value with string keys always serializes.
    serde_yaml::to_string(&config).unwrap_or_default()
}

/// The reader's credentials, read from the token Secret of the source cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct ReaderToken {
    /// Bearer token (decoded).
    pub token: String,
    /// `data["ca.crt"]` as stored (base64 of the PEM bundle), ready for a kubeconfig.
    pub certificate_authority_data: Option<String>,
}

impl fmt::Debug for ReaderToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReaderToken")
            .field("token", &"<redacted>")
            .field(
                "certificate_authority_data",
                &self.certificate_authority_data.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

/// Reads the token and CA the API server wrote into the reader token Secret (as returned
/// by a GET: `data` values are base64). Fails while the token controller has not filled it
/// yet, so callers retry.
pub fn read_reader_token(secret: &Value) -> Result<ReaderToken, IstioError> {
    let data = secret.get("data").and_then(Value::as_object);
    let encoded = data
        .and_then(|data| data.get("token"))
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| IstioError::ReaderToken("data.token is not filled in yet".to_string()))?;
    let decoded = STANDARD
        .decode(encoded)
        .map_err(|_| IstioError::ReaderToken("data.token is not valid base64".to_string()))?;
    let token = String::from_utf8(decoded)
        .map_err(|_| IstioError::ReaderToken("data.token is not UTF-8".to_string()))?;
    let certificate_authority_data = data
        .and_then(|data| data.get("ca.crt"))
        .and_then(Value::as_str)
        .filter(|ca| !ca.is_empty())
        .map(str::to_string);
    if let Some(ca) = &certificate_authority_data {
        STANDARD.decode(ca).map_err(|_| {
            IstioError::ReaderToken("data[\"ca.crt\"] is not valid base64".to_string())
        })?;
    }
    Ok(ReaderToken {
        token,
        certificate_authority_data,
    })
}
