//! `istio_remote_secret`: what `istioctl create-remote-secret --name=X | kubectl apply` does —
//! a reader service account and its token in the source cluster, and in the target cluster a
//! Secret holding a kubeconfig for that reader, so the target's istiod discovers the source's
//! endpoints. The token is read from the source cluster when needed and never stored.
//!
//! Each remote secret has reader objects of its own in the source cluster
//! ([`istio::ReaderNames`], named after the target cluster and `cluster_name`), so that
//! deleting the remote secret of one target deletes only the reader whose token that target
//! held. Before that, all remote secrets of a source shared `istio-reader-service-account`
//! and deleting one cut every other target off. State from then refreshes without error (the
//! target's Secret is still tracked) and the next apply creates the new reader and rewrites
//! the Secret with its token; the old shared objects are left in place, since remote secrets
//! not yet updated may still use them.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use mesh_engine::provider::{
    default_plan, ApplyRequest, AttrType, AttributeSchema, BlockSchema, PlanRequest, PlannedChange,
    Presence, ProviderError, ReadRequest, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use crate::cluster::{ClusterRef, ClusterValue, Connection, Endpoint};
use crate::istio::{self, ReaderNames, RemoteSecretSpec, ISTIO_NAMESPACE};
use crate::object_digests::{declared_digests, observed_digests};
use crate::object_set::{known_cluster, Clusters, FIELD_MANAGER};
use crate::objects::{poll, ClusterObjects, ObjectKey};
use crate::types::{attribute_path, cluster_attribute, string};

/// The resource type name.
pub const TYPE_NAME: &str = "istio_remote_secret";

/// How long the token controller may take to fill the reader's token.
const TOKEN_WAIT: Duration = Duration::from_secs(120);

/// The schema.
pub fn schema() -> ResourceSchema {
    let block = BlockSchema::default()
        .attribute("cluster", cluster_attribute())
        .attribute(
            "source_cluster",
            AttributeSchema::new(
                AttrType::Any,
                Presence::Required,
                "The cluster whose endpoints the target's istiod will discover (the \
                 `--context` of istioctl create-remote-secret); same forms as `cluster`.",
            ),
        )
        .attribute(
            "cluster_name",
            string(
                Presence::Required,
                "The source cluster's clusterName in the mesh (istioctl's `--name`).",
            )
            .force_new(),
        )
        .attribute(
            "revision",
            string(
                Presence::Optional,
                "The source control plane's revision (the `istio.io/rev` label of the \
                 reader's ClusterRole and binding).",
            )
            .default_value(Value::string("default")),
        )
        .attribute(
            "server",
            string(
                Presence::Optional,
                "The source API server URL the target reaches (default: the one in the \
                 source cluster's kubeconfig).",
            ),
        )
        .attribute(
            "objects",
            AttributeSchema::new(
                AttrType::Map(Box::new(AttrType::String)),
                Presence::Computed,
                "A digest of each object (this remote secret's reader objects in the source, \
                 the Secret in the target), so refresh names what changed outside mesh.",
            ),
        );
    ResourceSchema {
        version: 0,
        description: "A remote secret: the target cluster's istiod reads the source cluster's \
                      services and endpoints (multi-primary discovery). Put `cluster` = the \
                      target and `source_cluster` = the cluster it reads."
            .into(),
        block,
    }
}

/// Plan: both cluster references normalized; a new source or target replaces the secret; an
/// update plans the reader objects as rendered now (see [`planned_objects`]).
pub fn plan(request: &PlanRequest) -> Result<PlannedChange, ProviderError> {
    let mut config = request.config.clone();
    for attribute in ["cluster", "source_cluster"] {
        let value = config.get(attribute).cloned().unwrap_or(Value::Null);
        let cluster = ClusterValue::from_attribute(&value)
            .map_err(|e| ProviderError::at_attribute(e.message, attribute))?;
        config.set_or_insert(attribute, cluster.to_attribute());
    }
    let mut change = default_plan(&schema().block, request.prior.as_ref(), &config);
    if let Some(prior) = &request.prior {
        for attribute in ["cluster", "source_cluster"] {
            if change.planned.get(attribute) != prior.get(attribute) {
                change.requires_replace.push(attribute_path(attribute));
            }
        }
        if change.requires_replace.is_empty() {
            let objects = planned_objects(&change.planned, prior);
            change.planned.set_or_insert("objects", objects);
        }
    }
    Ok(change)
}

/// The digests an update leaves: the reader objects as rendered from the planned attributes,
/// and the target's Secret as last read (its digest depends on the token, which only the
/// apply reads), unknown when the Secret is missing. So reader objects deleted or changed
/// outside mesh, or named as before per-remote readers, plan an update that puts them back.
fn planned_objects(planned: &Value, prior: &Value) -> Value {
    let unknown = ["revision", "cluster_name"]
        .iter()
        .any(|name| planned.get(name).is_some_and(Value::is_unknown));
    if unknown {
        return Value::Unknown;
    }
    let Ok(readers) = reader_objects(planned) else {
        return Value::Unknown;
    };
    let Value::Map(mut digests) = declared_digests(&readers) else {
        return Value::Unknown;
    };
    let key = target_secret_key(planned).state_key();
    let secret = prior
        .get("objects")
        .and_then(|objects| objects.get(&key))
        .cloned()
        .unwrap_or(Value::Unknown);
    digests.insert(key, secret);
    Value::Map(digests)
}

fn text(attrs: &Value, name: &str) -> Option<String> {
    attrs
        .get(name)
        .and_then(|v| v.unmark().0.as_str())
        .map(str::to_string)
}

/// The names of the reader objects, in the source cluster, of the remote secret that puts the
/// source into `target` as `cluster_name` (what `kubectl` users and tests look for).
pub fn reader_names_of(target: &ClusterRef, cluster_name: &str) -> ReaderNames {
    let (hint, identity) = target_identity(target);
    ReaderNames::for_remote(&hint, &identity, cluster_name)
}

/// The names of this remote secret's reader objects in the source cluster.
fn reader_names(attrs: &Value) -> Result<ReaderNames, ProviderError> {
    let target = known_cluster(attrs)?;
    let cluster_name = text(attrs, "cluster_name").unwrap_or_default();
    Ok(reader_names_of(&target, &cluster_name))
}

/// A readable name of the target cluster, and a text naming it the same way for as long as it
/// exists: ARM IDs compare case-insensitively, and a recreated cluster's new FQDN does not
/// count (a new cluster reference replaces the remote secret anyway). The reader names are
/// hashed from this text: changing its format renames every reader.
fn target_identity(target: &ClusterRef) -> (String, String) {
    match target {
        ClusterRef::Aks { id, .. } => {
            let name = id.rsplit('/').next().unwrap_or(id);
            (name.to_string(), format!("aks:{}", id.to_ascii_lowercase()))
        }
        ClusterRef::Kubeconfig { path, context } => {
            let file = std::path::Path::new(path)
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_default();
            let context = context.as_deref().unwrap_or_default();
            let hint = if context.is_empty() {
                file
            } else {
                context.to_string()
            };
            (hint, format!("kubeconfig:{path}\n{context}"))
        }
    }
}

fn reader_objects(attrs: &Value) -> Result<Vec<Json>, ProviderError> {
    let revision = text(attrs, "revision").unwrap_or_else(|| "default".into());
    Ok(istio::render_remote_reader(
        &reader_names(attrs)?,
        &revision,
    ))
}

/// The source cluster's objects and endpoint; `None` when it no longer exists.
async fn source_of(
    clusters: &Clusters,
    attrs: &Value,
) -> Result<Option<(ClusterObjects, Endpoint)>, ProviderError> {
    let value = attrs.get("source_cluster").cloned().unwrap_or(Value::Null);
    let ClusterValue::Known(reference) = ClusterValue::from_attribute(&value)? else {
        return Err(ProviderError::at_attribute(
            "the source cluster is still unknown at apply time",
            "source_cluster",
        ));
    };
    match clusters.connections.connect(&reference).await? {
        Connection::Client(client, endpoint) => Ok(Some((
            ClusterObjects::new(client, reference.describe()),
            endpoint,
        ))),
        Connection::ClusterGone => Ok(None),
    }
}

/// The Secret the target gets, with its kubeconfig base64-encoded under `data` (as the API
/// returns it, so refresh can compare).
async fn target_secret(
    source: &ClusterObjects,
    endpoint: &Endpoint,
    attrs: &Value,
    cancel: &CancellationToken,
) -> Result<Json, ProviderError> {
    let key = token_secret_key(&reader_names(attrs)?);
    let waiting = format!("the token of {}", key.describe());
    let filled = poll(TOKEN_WAIT, cancel, &waiting, || async {
        let secret = source.get(&key).await?;
        Ok(secret.is_some_and(|s| istio::read_reader_token(&s).is_ok()))
    })
    .await?;
    let secret = match (filled, source.get(&key).await?) {
        (true, Some(secret)) => secret,
        _ => {
            return Err(ProviderError::new(format!(
                "the token of {} was not filled in by the source cluster within {} s",
                key.describe(),
                TOKEN_WAIT.as_secs()
            )))
        }
    };
    let token = istio::read_reader_token(&secret).map_err(|e| ProviderError::new(e.to_string()))?;
    let spec = RemoteSecretSpec {
        cluster_name: text(attrs, "cluster_name").unwrap_or_default(),
        server: text(attrs, "server").unwrap_or_else(|| endpoint.server.clone()),
        certificate_authority_data: token
            .certificate_authority_data
            .or_else(|| endpoint.certificate_authority_data.clone()),
        tls_server_name: None,
        token: token.token,
    };
    Ok(encode_string_data(istio::render_remote_secret(&spec)))
}

fn token_secret_key(names: &ReaderNames) -> ObjectKey {
    ObjectKey {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(ISTIO_NAMESPACE.into()),
        name: names.token_secret.clone(),
    }
}

/// Move `stringData` into `data`, base64-encoded.
fn encode_string_data(mut secret: Json) -> Json {
    let Some(map) = secret.as_object_mut() else {
        return secret;
    };
    let Some(Json::Object(strings)) = map.remove("stringData") else {
        return secret;
    };
    let engine = base64::engine::general_purpose::STANDARD;
    let data = map
        .entry("data")
        .or_insert_with(|| Json::Object(serde_json::Map::new()));
    if let Some(data) = data.as_object_mut() {
        for (k, v) in strings {
            let text = v.as_str().unwrap_or_default();
            data.insert(k, Json::String(engine.encode(text)));
        }
    }
    secret
}

async fn target_of(
    clusters: &Clusters,
    attrs: &Value,
) -> Result<Option<ClusterObjects>, ProviderError> {
    clusters.objects_of(attrs).await
}

/// Create or update.
pub async fn apply(clusters: &Clusters, request: &ApplyRequest) -> Result<Value, ProviderError> {
    let attrs = &request.planned;
    let cancel = &request.cancel;
    let Some((source, endpoint)) = source_of(clusters, attrs).await? else {
        return Err(ProviderError::at_attribute(
            "the source cluster does not exist",
            "source_cluster",
        ));
    };
    let Some(target) = target_of(clusters, attrs).await? else {
        return Err(ProviderError::at_attribute(
            format!(
                "the cluster {} does not exist",
                known_cluster(attrs)?.describe()
            ),
            "cluster",
        ));
    };
    let readers = reader_objects(attrs)?;
    for object in &readers {
        source.apply(object, FIELD_MANAGER, cancel).await?;
    }
    let secret = target_secret(&source, &endpoint, attrs, cancel).await?;
    target.apply(&secret, FIELD_MANAGER, cancel).await?;
    let mut declared = readers;
    declared.push(secret);
    let mut state = attrs.clone();
    state.set_or_insert("objects", declared_digests(&declared));
    Ok(state)
}

/// Read: digests of what both clusters have; `None` when the Secret and the reader are gone.
pub async fn read(
    clusters: &Clusters,
    request: &ReadRequest,
) -> Result<Option<Value>, ProviderError> {
    let attrs = &request.current;
    let Some((source, endpoint)) = source_of(clusters, attrs).await? else {
        return orphaned_secret(clusters, attrs).await;
    };
    let readers = reader_objects(attrs)?;
    let mut live = BTreeMap::new();
    for object in &readers {
        let key = ObjectKey::of(object).map_err(ProviderError::new)?;
        if let Some(found) = source.get(&key).await? {
            live.insert(key.state_key(), found);
        }
    }
    let Value::Map(mut digests) = observed_digests(&readers, &live) else {
        return Err(ProviderError::new("object digests are not a map"));
    };
    if let Some(target) = target_of(clusters, attrs).await? {
        let reader = Reader {
            source: &source,
            endpoint: &endpoint,
            live: &live,
        };
        if let Some((key, digest)) = observed_secret(&reader, &target, attrs).await? {
            digests.insert(key, digest);
        }
    }
    if digests.is_empty() {
        return Ok(None);
    }
    let mut state = attrs.clone();
    state.set_or_insert("objects", Value::Map(digests));
    Ok(Some(state))
}

/// The source cluster as read: its objects, its endpoint, and the reader objects found.
struct Reader<'a> {
    source: &'a ClusterObjects,
    endpoint: &'a Endpoint,
    live: &'a BTreeMap<String, Json>,
}

/// The digest of the target's Secret, when it exists: compared with the Secret the reader's
/// token renders; without that token (deleted outside mesh, or state from before per-remote
/// readers) the Secret holds a token mesh cannot check, which the next apply replaces.
async fn observed_secret(
    reader: &Reader<'_>,
    target: &ClusterObjects,
    attrs: &Value,
) -> Result<Option<(String, Value)>, ProviderError> {
    let key = target_secret_key(attrs);
    let Some(found) = target.get(&key).await? else {
        return Ok(None);
    };
    let token_key = token_secret_key(&reader_names(attrs)?).state_key();
    if !reader.live.contains_key(&token_key) {
        let note = Value::string("it holds no token of this remote secret's reader");
        return Ok(Some((key.state_key(), note)));
    }
    let cancel = CancellationToken::new();
    let secret = target_secret(reader.source, reader.endpoint, attrs, &cancel).await?;
    let live = BTreeMap::from([(key.state_key(), found)]);
    let digest = observed_digests(std::slice::from_ref(&secret), &live);
    Ok(digest
        .get(&key.state_key())
        .cloned()
        .map(|d| (key.state_key(), d)))
}

/// With the source cluster gone, the target may still hold the Secret: keep tracking it (its
/// digest marked stale) so that an apply or destroy deals with it.
async fn orphaned_secret(
    clusters: &Clusters,
    attrs: &Value,
) -> Result<Option<Value>, ProviderError> {
    let Some(target) = target_of(clusters, attrs).await? else {
        return Ok(None);
    };
    let key = target_secret_key(attrs);
    if target.get(&key).await?.is_none() {
        return Ok(None);
    }
    let mut state = attrs.clone();
    let stale = BTreeMap::from([(
        key.state_key(),
        Value::string("the source cluster no longer exists"),
    )]);
    state.set_or_insert("objects", Value::Map(stale));
    Ok(Some(state))
}

/// The Secret in the target cluster.
fn target_secret_key(attrs: &Value) -> ObjectKey {
    ObjectKey {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(ISTIO_NAMESPACE.into()),
        name: format!(
            "istio-remote-secret-{}",
            text(attrs, "cluster_name").unwrap_or_default()
        ),
    }
}

/// Delete the Secret in the target, then this remote secret's reader objects in the source
/// (never those of another remote secret, nor the shared reader of earlier versions).
pub async fn delete(clusters: &Clusters, request: &ApplyRequest) -> Result<(), ProviderError> {
    let attrs = request.prior.as_ref().unwrap_or(&request.planned);
    if let Some(target) = target_of(clusters, attrs).await? {
        target
            .delete(&target_secret_key(attrs), &request.cancel)
            .await?;
    }
    if let Some((source, _)) = source_of(clusters, attrs).await? {
        for object in reader_objects(attrs)?.iter().rev() {
            let key = ObjectKey::of(object).map_err(ProviderError::new)?;
            source.delete(&key, &request.cancel).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AKS: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/\
                       managedClusters/west";

    fn aks(id: &str, fqdn: Option<&str>) -> ClusterRef {
        ClusterRef::Aks {
            id: id.to_string(),
            fqdn: fqdn.map(str::to_string),
        }
    }

    #[test]
    fn the_target_is_identified_by_its_arm_id_whatever_its_case_and_fqdn() {
        let (hint, identity) = target_identity(&aks(AKS, Some("west-1.hcp.example")));
        assert_eq!(hint, "west");
        let recreated = target_identity(&aks(&AKS.to_ascii_uppercase(), Some("west-2.hcp")));
        assert_eq!(identity, recreated.1);
        let other = target_identity(&aks(&AKS.replace("west", "east"), None));
        assert_ne!(identity, other.1);
    }

    #[test]
    fn a_kubeconfig_target_is_identified_by_its_path_and_context() {
        let of = |path: &str, context: Option<&str>| {
            target_identity(&ClusterRef::Kubeconfig {
                path: path.to_string(),
                context: context.map(str::to_string),
            })
        };
        let (hint, identity) = of("/home/me/.kube/config", Some("kind-west"));
        assert_eq!(hint, "kind-west");
        assert_eq!(of("/home/me/.kube/west.yaml", None).0, "west");
        assert_ne!(identity, of("/home/me/.kube/config", Some("kind-east")).1);
        assert_ne!(identity, of("/home/me/.kube/other", Some("kind-west")).1);
    }

    fn attrs(objects: Json) -> Value {
        let source = AKS.replace("west", "east");
        Value::from_json(&json!({
            "cluster": {"id": AKS}, "source_cluster": {"id": source},
            "cluster_name": "east", "revision": "default", "server": null, "objects": objects,
        }))
    }

    fn plan_from(prior: &Value) -> Value {
        let mut config = attrs(Json::Null);
        config.set_or_insert("objects", Value::Null);
        let request = PlanRequest {
            resource_type: TYPE_NAME.into(),
            address: "istio_remote_secret.test".into(),
            prior: Some(prior.clone()),
            config,
        };
        let change = plan(&request).expect("plans");
        assert!(change.requires_replace.is_empty(), "an update");
        change.planned
    }

    const SECRET: &str = "v1/Secret/istio-system/istio-remote-secret-east";

    #[test]
    fn an_update_plans_this_remote_secrets_reader_and_keeps_the_secrets_digest() {
        let names = reader_names(&attrs(Json::Null)).expect("names");
        assert!(names.account.starts_with("istio-reader-west-"), "{names:?}");
        let legacy = attrs(json!({
            "v1/ServiceAccount/istio-system/istio-reader-service-account": "old",
            SECRET: "written-by-an-earlier-mesh",
        }));
        let planned = plan_from(&legacy);
        let objects = planned.get("objects").and_then(Value::as_map).expect("map");
        let account = format!("v1/ServiceAccount/istio-system/{}", names.account);
        let token = format!("v1/Secret/istio-system/{}", names.token_secret);
        for key in [&account, &token] {
            assert!(objects.contains_key(key.as_str()), "{key} in {objects:?}");
        }
        assert!(!objects
            .keys()
            .any(|k| k.contains("istio-reader-service-account")));
        assert_eq!(objects[SECRET], Value::string("written-by-an-earlier-mesh"));
        assert_ne!(planned, legacy, "the legacy state converges by an update");
        assert_eq!(plan_from(&planned), planned, "then nothing more to do");
    }

    #[test]
    fn a_revision_known_only_after_apply_plans_unknown_objects() {
        let request = PlanRequest {
            resource_type: TYPE_NAME.into(),
            address: "istio_remote_secret.test".into(),
            prior: Some(attrs(json!({}))),
            config: {
                let mut config = attrs(Json::Null);
                config.set_or_insert("revision", Value::Unknown);
                config
            },
        };
        let planned = plan(&request).expect("plans").planned;
        assert!(planned.get("objects").is_some_and(Value::is_unknown));
    }

    #[test]
    fn a_missing_target_secret_is_planned_unknown() {
        let planned = plan_from(&attrs(json!({})));
        let objects = planned.get("objects").and_then(Value::as_map).expect("map");
        assert!(objects[SECRET].is_unknown());
    }
}
