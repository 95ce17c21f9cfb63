//! Multi-cluster wiring: what `istioctl create-remote-secret` produces, split in its two
//! halves. In the SOURCE cluster, a reader ServiceAccount with read-only permissions and a
//! long-lived token Secret the API server fills in; in the TARGET cluster, a Secret
//! labelled `istio/multiCluster=true` holding a kubeconfig for the source cluster, which
//! the target's istiod uses to discover the source's endpoints.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::rbac::{cluster_role_binding, cluster_role_object, reader_rules, service_account};
use super::validate::is_dns_label;
use super::{namespaced_meta, revision_labels, shared_labels, IstioError, ISTIO_NAMESPACE};

/// ServiceAccount remote istiods authenticate as.
pub const READER_SERVICE_ACCOUNT: &str = "istio-reader-service-account";
/// Secret whose token the API server's token controller fills for the reader account.
pub const READER_TOKEN_SECRET: &str = "istio-reader-service-account-istio-remote-secret-token";

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

/// Objects for the SOURCE cluster: the reader ServiceAccount, its ClusterRole and binding
/// (`istio-reader-clusterrole-<revision>-istio-system`) and the token Secret.
pub fn render_remote_reader(revision: &str) -> Vec<Value> {
    let role = format!("istio-reader-clusterrole-{revision}-{ISTIO_NAMESPACE}");
    let reader = [("app", "istio-reader")];
    let role_labels = revision_labels(revision, &reader);
    vec![
        service_account(READER_SERVICE_ACCOUNT, shared_labels(&reader)),
        cluster_role_object(&role, role_labels.clone(), reader_rules()),
        cluster_role_binding(&role, role_labels, READER_SERVICE_ACCOUNT),
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/service-account-token",
            "metadata": {
                "name": READER_TOKEN_SECRET,
                "namespace": ISTIO_NAMESPACE,
                "labels": shared_labels(&reader),
                "annotations": { "kubernetes.io/service-account.name": READER_SERVICE_ACCOUNT },
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
