//! Which cluster a resource lives in, and the clients that reach it.
//!
//! A Kubernetes resource names its cluster with `cluster = azure_kubernetes_cluster.one` (any
//! object with the cluster's ARM `id`) or `cluster = { kubeconfig_path = "...", context = "..." }`.
//! Plans keep only a small reference ([`ClusterRef`]), so a change to some other attribute of the
//! AKS cluster does not touch the objects in it, while a new cluster (a new FQDN) replaces them.
//! Credentials are fetched when a client is first needed and kept in memory only.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};
use mesh_engine::provider::ProviderError;
use mesh_engine::value::Value;
use tokio::sync::{Mutex, OnceCell};

use crate::objects::{ClusterObjects, ClusterShare};

/// Fetches an AKS cluster's admin kubeconfig (the Azure provider implements it).
#[async_trait]
pub trait ClusterCredentials: Send + Sync {
    /// The admin kubeconfig (YAML) of the cluster with this ARM ID; `None` when the cluster
    /// does not exist. Implementations MUST NOT log or persist it.
    async fn admin_kubeconfig(&self, cluster_id: &str) -> Result<Option<String>, ProviderError>;
}

/// The reference to a cluster that plans and state keep.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClusterRef {
    /// An AKS cluster: its ARM ID, and its FQDN when known (a recreated cluster gets a new one).
    Aks {
        /// ARM resource ID.
        id: String,
        /// API server FQDN.
        fqdn: Option<String>,
    },
    /// A kubeconfig file and a context in it (the current context when `None`).
    Kubeconfig {
        /// Path of the kubeconfig file.
        path: String,
        /// Context name.
        context: Option<String>,
    },
}

/// What the `cluster` attribute of a configuration means.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterValue {
    /// Enough is known to name the cluster.
    Known(ClusterRef),
    /// The cluster is created in this apply: its reference is known only then.
    Unknown,
}

const CLUSTER_HELP: &str =
    "`cluster` must be an AKS cluster (e.g. `azure_kubernetes_cluster.one`, \
     any object with its ARM `id`) or `{ kubeconfig_path = \"...\", context = \"...\" }`";

impl ClusterValue {
    /// Read the `cluster` attribute (as configured, or as planned and stored).
    pub fn from_attribute(value: &Value) -> Result<ClusterValue, ProviderError> {
        let value = value.unmark().0;
        if value.is_unknown() {
            return Ok(ClusterValue::Unknown);
        }
        let Some(map) = value.as_map() else {
            return Err(ProviderError::at_attribute(CLUSTER_HELP, "cluster"));
        };
        let text = |key: &str| -> Result<Option<String>, ()> {
            match map.get(key).map(|v| v.unmark().0) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(()),
            }
        };
        let unknown = |key: &str| map.get(key).is_some_and(|v| v.unmark().0.is_unknown());
        if map.contains_key("kubeconfig_path") {
            if unknown("kubeconfig_path") || unknown("context") {
                return Ok(ClusterValue::Unknown);
            }
            let path = text("kubeconfig_path").ok().flatten();
            let context = text("context").map_err(|_| bad_cluster())?;
            let path = path.ok_or_else(bad_cluster)?;
            return Ok(ClusterValue::Known(ClusterRef::Kubeconfig {
                path,
                context,
            }));
        }
        if unknown("id") || unknown("fqdn") {
            return Ok(ClusterValue::Unknown);
        }
        let id = text("id").ok().flatten().ok_or_else(bad_cluster)?;
        if !is_aks_id(&id) {
            return Err(ProviderError::at_attribute(
                format!("{CLUSTER_HELP}; \"{id}\" is not the ID of a Microsoft.ContainerService/managedClusters resource"),
                "cluster",
            ));
        }
        let fqdn = text("fqdn").ok().flatten();
        Ok(ClusterValue::Known(ClusterRef::Aks { id, fqdn }))
    }

    /// The value plans and state keep for the `cluster` attribute.
    pub fn to_attribute(&self) -> Value {
        match self {
            ClusterValue::Unknown => Value::Unknown,
            ClusterValue::Known(r) => r.to_attribute(),
        }
    }
}

fn bad_cluster() -> ProviderError {
    ProviderError::at_attribute(CLUSTER_HELP, "cluster")
}

fn is_aks_id(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    lower.starts_with("/subscriptions/")
        && lower.contains("/providers/microsoft.containerservice/managedclusters/")
}

impl ClusterRef {
    /// The stored form.
    pub fn to_attribute(&self) -> Value {
        let mut map = std::collections::BTreeMap::new();
        match self {
            ClusterRef::Aks { id, fqdn } => {
                map.insert("id".to_string(), Value::string(id.clone()));
                if let Some(fqdn) = fqdn {
                    map.insert("fqdn".to_string(), Value::string(fqdn.clone()));
                }
            }
            ClusterRef::Kubeconfig { path, context } => {
                map.insert("kubeconfig_path".to_string(), Value::string(path.clone()));
                if let Some(context) = context {
                    map.insert("context".to_string(), Value::string(context.clone()));
                }
            }
        }
        Value::Map(map)
    }

    /// How messages name the cluster.
    pub fn describe(&self) -> String {
        match self {
            ClusterRef::Aks { id, .. } => {
                let name = id.rsplit('/').next().unwrap_or(id);
                format!("AKS cluster {name}")
            }
            ClusterRef::Kubeconfig { path, context } => match context {
                Some(c) => format!("context {c} of {path}"),
                None => format!("the current context of {path}"),
            },
        }
    }
}

/// Where a cluster's API is, as its kubeconfig says (what remote secrets point at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The API server URL.
    pub server: String,
    /// The CA bundle (base64 PEM) clients must trust, when the kubeconfig has one.
    pub certificate_authority_data: Option<String>,
}

/// A connected cluster, or the knowledge that it no longer exists.
#[derive(Clone)]
pub enum Connection {
    /// A client for the cluster's API, and where that API is.
    Client(Client, Endpoint),
    /// The AKS cluster does not exist (deleted outside mesh, or before its objects).
    ClusterGone,
}

/// Clients per cluster, made on first use and shared by every resource of the run, with the
/// kinds discovery found served there.
pub struct ClusterConnections {
    credentials: Option<Arc<dyn ClusterCredentials>>,
    /// One cell per cluster: two clusters connect at the same time, while the resources of one
    /// cluster wait for its single connection rather than each fetching credentials.
    clients: Mutex<HashMap<ClusterRef, Arc<OnceCell<Opened>>>>,
}

/// A connection and what its users share.
#[derive(Clone)]
struct Opened {
    connection: Connection,
    share: ClusterShare,
}

impl ClusterConnections {
    /// Connections that fetch AKS credentials with `credentials` (none: only kubeconfig files).
    pub fn new(credentials: Option<Arc<dyn ClusterCredentials>>) -> ClusterConnections {
        ClusterConnections {
            credentials,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The connection to a cluster.
    pub async fn connect(&self, cluster: &ClusterRef) -> Result<Connection, ProviderError> {
        Ok(self.opened(cluster).await?.connection)
    }

    /// Object operations on a cluster, sharing the cluster's client and discovery cache with
    /// every other resource of the run; `None` when that AKS cluster no longer exists.
    pub async fn objects(
        &self,
        cluster: &ClusterRef,
    ) -> Result<Option<ClusterObjects>, ProviderError> {
        let opened = self.opened(cluster).await?;
        match opened.connection {
            Connection::Client(client, _) => Ok(Some(ClusterObjects::sharing(
                client,
                cluster.describe(),
                opened.share,
            ))),
            Connection::ClusterGone => Ok(None),
        }
    }

    /// Forget a cached connection (after the cluster was found gone, say).
    pub async fn forget(&self, cluster: &ClusterRef) {
        self.clients.lock().await.remove(cluster);
    }

    async fn opened(&self, cluster: &ClusterRef) -> Result<Opened, ProviderError> {
        let cell = self
            .clients
            .lock()
            .await
            .entry(cluster.clone())
            .or_default()
            .clone();
        // A failed open leaves the cell empty: the next use tries again.
        let opened = cell
            .get_or_try_init(|| async {
                let connection = self.open(cluster).await?;
                Ok::<_, ProviderError>(Opened {
                    connection,
                    share: ClusterShare::default(),
                })
            })
            .await?;
        Ok(opened.clone())
    }

    async fn open(&self, cluster: &ClusterRef) -> Result<Connection, ProviderError> {
        let (yaml, context) = match cluster {
            ClusterRef::Aks { id, .. } => {
                let Some(credentials) = &self.credentials else {
                    return Err(ProviderError::new(format!(
                        "cannot reach {}: no Azure credentials are available to fetch its kubeconfig",
                        cluster.describe()
                    )));
                };
                match credentials.admin_kubeconfig(id).await? {
                    Some(yaml) => (yaml, None),
                    None => return Ok(Connection::ClusterGone),
                }
            }
            ClusterRef::Kubeconfig { path, context } => {
                let path = expand_home(path);
                let yaml = std::fs::read_to_string(&path).map_err(|e| {
                    ProviderError::at_attribute(
                        format!("cannot read kubeconfig {path}: {e}"),
                        "cluster",
                    )
                })?;
                (yaml, context.clone())
            }
        };
        random_seeded().await;
        let (client, endpoint) =
            client_from_kubeconfig(&yaml, context, &cluster.describe()).await?;
        Ok(Connection::Client(client, endpoint))
    }
}

/// Wait until the crypto library's random generator is seeded, on a blocking thread. Its first
/// use gathers CPU jitter entropy, tens of milliseconds of work: done by the first TLS
/// handshake, it would hold an async worker (and, with handshakes on every worker, every
/// other request of the run) until it is over.
async fn random_seeded() {
    static SEEDED: OnceCell<()> = OnceCell::const_new();
    SEEDED
        .get_or_init(|| async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut byte = [0u8; 1];
                let _ = aws_lc_rs::rand::fill(&mut byte);
            })
            .await;
        })
        .await;
}

/// A client from a kubeconfig held in memory. Errors never quote the kubeconfig.
pub async fn client_from_kubeconfig(
    yaml: &str,
    context: Option<String>,
    what: &str,
) -> Result<(Client, Endpoint), ProviderError> {
    let kubeconfig = Kubeconfig::from_yaml(yaml).map_err(|e| {
        ProviderError::new(format!(
            "the kubeconfig of {what} is not valid YAML{}",
            yaml_position(&e)
        ))
    })?;
    let endpoint = endpoint_of(&kubeconfig, context.as_deref())
        .map_err(|problem| ProviderError::new(format!("the kubeconfig of {what} {problem}")))?;
    let options = KubeConfigOptions {
        context,
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| ProviderError::new(format!("cannot use the kubeconfig of {what}: {e}")))?;
    let client = Client::try_from(config)
        .map_err(|e| ProviderError::new(format!("cannot make a client for {what}: {e}")))?;
    Ok((client, endpoint))
}

/// Where a kubeconfig failed to parse, as ` (line L, column C)`: only the position, because the
/// parser's message may quote the file's contents, and those can be credentials.
fn yaml_position(error: &KubeconfigError) -> String {
    let KubeconfigError::Parse(parse) = error else {
        return String::new();
    };
    match parse.location() {
        Some(at) if at.line() > 0 => format!(" (line {}, column {})", at.line(), at.column()),
        _ => String::new(),
    }
}

/// The server of the chosen context (the current one when `None`), or what is missing: only
/// names appear in the message, never credentials.
fn endpoint_of(kubeconfig: &Kubeconfig, context: Option<&str>) -> Result<Endpoint, String> {
    let context_name = context
        .or(kubeconfig.current_context.as_deref())
        .ok_or("names no context and has no current-context")?;
    let Some(named) = kubeconfig.contexts.iter().find(|c| c.name == context_name) else {
        let known: Vec<&str> = kubeconfig
            .contexts
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        return Err(format!(
            "has no context named \"{context_name}\" (it has: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ));
    };
    let cluster_name = named
        .context
        .as_ref()
        .map(|c| c.cluster.as_str())
        .ok_or_else(|| format!("context \"{context_name}\" names no cluster"))?;
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| {
            format!("context \"{context_name}\" names cluster \"{cluster_name}\", which it does not define")
        })?;
    let server = cluster
        .server
        .clone()
        .ok_or_else(|| format!("cluster \"{cluster_name}\" has no server"))?;
    Ok(Endpoint {
        server,
        certificate_authority_data: cluster.certificate_authority_data.clone(),
    })
}

fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn a_kubeconfig_that_is_not_yaml_is_reported_with_its_line_and_no_contents() {
        let yaml = "apiVersion: v1\nclusters: 5\nusers:\n- name: u\n  user:\n    token: hunter2\n";
        let error = Kubeconfig::from_yaml(yaml).expect_err("clusters must be a list");
        let position = yaml_position(&error);
        assert!(position.starts_with(" (line 2, column"), "{position}");
        let broken = "token: hunter2\n\t- [\n";
        let error = Kubeconfig::from_yaml(broken).expect_err("not YAML");
        let position = yaml_position(&error);
        assert!(position.contains("line"), "{position}");
        assert!(!position.contains("hunter2"));
    }

    #[test]
    fn a_kubeconfig_without_the_context_cluster_or_server_says_which() {
        let base = |contexts: &str, clusters: &str| {
            format!("apiVersion: v1\nkind: Config\ncontexts:\n{contexts}clusters:\n{clusters}")
        };
        let dev = "- name: dev\n  context:\n    cluster: c\n";
        let with_server = "- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n";
        let problem = |yaml: String, context: Option<&str>| {
            let kubeconfig = Kubeconfig::from_yaml(&yaml).expect("parses");
            endpoint_of(&kubeconfig, context).map(|e| e.server)
        };
        assert_eq!(
            problem(base(dev, with_server), Some("dev")),
            Ok("https://127.0.0.1:6443".to_string())
        );
        let missing = problem(base(dev, with_server), Some("prod")).unwrap_err();
        assert_eq!(missing, "has no context named \"prod\" (it has: dev)");
        let other = "- name: other\n  cluster:\n    server: https://127.0.0.1:6443\n";
        let elsewhere = problem(base(dev, other), Some("dev")).unwrap_err();
        assert!(elsewhere.contains("names cluster \"c\", which it does not define"));
        let insecure = "- name: c\n  cluster:\n    insecure-skip-tls-verify: true\n";
        let no_server = problem(base(dev, insecure), Some("dev")).unwrap_err();
        assert_eq!(no_server, "cluster \"c\" has no server");
        assert!(problem(base(dev, with_server), None).is_err());
    }

    const ID: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/one";

    #[test]
    fn an_aks_cluster_object_becomes_its_id_and_fqdn() {
        let cluster = map(&[
            ("id", Value::string(ID)),
            ("fqdn", Value::string("one.example")),
            ("tags", map(&[("a", Value::string("b"))])),
        ]);
        let parsed = ClusterValue::from_attribute(&cluster).unwrap();
        assert_eq!(
            parsed,
            ClusterValue::Known(ClusterRef::Aks {
                id: ID.into(),
                fqdn: Some("one.example".into())
            })
        );
        let stored = parsed.to_attribute();
        assert_eq!(ClusterValue::from_attribute(&stored).unwrap(), parsed);
        assert!(stored.get("tags").is_none());
    }

    #[test]
    fn a_cluster_created_in_this_apply_is_unknown() {
        let cluster = map(&[("id", Value::Unknown), ("fqdn", Value::Unknown)]);
        assert_eq!(
            ClusterValue::from_attribute(&cluster).unwrap(),
            ClusterValue::Unknown
        );
        let fqdn_unknown = map(&[("id", Value::string(ID)), ("fqdn", Value::Unknown)]);
        assert_eq!(
            ClusterValue::from_attribute(&fqdn_unknown).unwrap(),
            ClusterValue::Unknown
        );
    }

    #[test]
    fn a_kubeconfig_reference_keeps_path_and_context() {
        let cluster = map(&[
            ("kubeconfig_path", Value::string("/tmp/k")),
            ("context", Value::string("c1")),
        ]);
        assert_eq!(
            ClusterValue::from_attribute(&cluster).unwrap(),
            ClusterValue::Known(ClusterRef::Kubeconfig {
                path: "/tmp/k".into(),
                context: Some("c1".into())
            })
        );
    }

    #[test]
    fn other_values_are_rejected_with_what_is_expected() {
        for bad in [
            Value::string("one"),
            map(&[("id", Value::string("/subscriptions/s/resourceGroups/rg"))]),
            map(&[("name", Value::string("x"))]),
        ] {
            let err = ClusterValue::from_attribute(&bad).unwrap_err();
            assert!(err.message.contains("azure_kubernetes_cluster"), "{err}");
        }
    }
}
