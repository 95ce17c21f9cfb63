//! `istio_remote_secret`: what `istioctl create-remote-secret --name=X | kubectl apply` does —
//! a reader service account and its token in the source cluster, and in the target cluster a
//! Secret holding a kubeconfig for that reader, so the target's istiod discovers the source's
//! endpoints. The token is read from the source cluster when needed and never stored.

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

use crate::cluster::{ClusterValue, Connection, Endpoint};
use crate::istio::{self, RemoteSecretSpec, ISTIO_NAMESPACE, READER_TOKEN_SECRET};
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
                "The source control plane's revision (names the reader's ClusterRole).",
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
                "A digest of each object (reader objects in the source, the Secret in the \
                 target), so refresh names what changed outside mesh.",
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

/// Plan: both cluster references normalized; a new source or target replaces the secret.
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
    }
    Ok(change)
}

fn text(attrs: &Value, name: &str) -> Option<String> {
    attrs
        .get(name)
        .and_then(|v| v.unmark().0.as_str())
        .map(str::to_string)
}

fn reader_objects(attrs: &Value) -> Vec<Json> {
    istio::render_remote_reader(&text(attrs, "revision").unwrap_or_else(|| "default".into()))
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
    let key = token_secret_key();
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

fn token_secret_key() -> ObjectKey {
    ObjectKey {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(ISTIO_NAMESPACE.into()),
        name: READER_TOKEN_SECRET.into(),
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
    let readers = reader_objects(attrs);
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
    let mut live = BTreeMap::new();
    let mut declared = reader_objects(attrs);
    if let Some((source, endpoint)) = source_of(clusters, attrs).await? {
        for object in &declared {
            let key = ObjectKey::of(object).map_err(ProviderError::new)?;
            if let Some(found) = source.get(&key).await? {
                live.insert(key.state_key(), found);
            }
        }
        let target = target_of(clusters, attrs).await?;
        if let (Some(target), true) = (target, live.contains_key(&token_secret_key().state_key())) {
            let secret =
                target_secret(&source, &endpoint, attrs, &CancellationToken::new()).await?;
            let key = ObjectKey::of(&secret).map_err(ProviderError::new)?;
            if let Some(found) = target.get(&key).await? {
                live.insert(key.state_key(), found);
            }
            declared.push(secret);
        }
    } else if let Some(orphan) = orphaned_secret(clusters, attrs).await? {
        return Ok(Some(orphan));
    }
    if live.is_empty() {
        return Ok(None);
    }
    let mut state = attrs.clone();
    state.set_or_insert("objects", observed_digests(&declared, &live));
    Ok(Some(state))
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

/// Delete the Secret in the target, then the reader objects in the source.
pub async fn delete(clusters: &Clusters, request: &ApplyRequest) -> Result<(), ProviderError> {
    let attrs = request.prior.as_ref().unwrap_or(&request.planned);
    if let Some(target) = target_of(clusters, attrs).await? {
        target
            .delete(&target_secret_key(attrs), &request.cancel)
            .await?;
    }
    if let Some((source, _)) = source_of(clusters, attrs).await? {
        for object in reader_objects(attrs).iter().rev() {
            let key = ObjectKey::of(object).map_err(ProviderError::new)?;
            source.delete(&key, &request.cancel).await?;
        }
    }
    Ok(())
}
