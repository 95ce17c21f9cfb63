//! The lifecycle every [`ObjectSetType`] shares: plan with a normalized cluster reference,
//! apply each object with server-side apply and prune the ones a new render dropped, read the
//! managed fields back, delete in reverse order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mesh_engine::provider::{
    default_plan, ApplyRequest, PlanRequest, PlannedChange, ProviderError, ReadRequest,
};
use mesh_engine::value::Value;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use crate::cluster::{ClusterConnections, ClusterRef, ClusterValue};
use crate::objects::{ClusterObjects, ObjectKey};
use crate::types::{attribute_path, ObjectSetType};
use crate::wait::settle;

/// The field manager of everything mesh applies.
pub const FIELD_MANAGER: &str = "mesh";

/// Plan a change of an object-set resource.
pub fn plan(ty: &dyn ObjectSetType, request: &PlanRequest) -> Result<PlannedChange, ProviderError> {
    let cluster_attr = request
        .config
        .get("cluster")
        .cloned()
        .unwrap_or(Value::Null);
    let cluster = ClusterValue::from_attribute(&cluster_attr)?;
    let mut config = request.config.clone();
    config.set_or_insert("cluster", cluster.to_attribute());
    let schema = ty.schema();
    let mut change = default_plan(&schema.block, request.prior.as_ref(), &config);
    ty.plan_computed(&config, &mut change.planned)?;
    let Some(prior) = &request.prior else {
        return Ok(change);
    };
    if change.planned.get("cluster") != prior.get("cluster") {
        change.requires_replace.push(attribute_path("cluster"));
    }
    change
        .requires_replace
        .extend(ty.replace_paths(prior, &change.planned));
    mark_snapshots_unknown_on_change(ty.snapshot_attributes(), prior, &mut change);
    Ok(change)
}

/// Values captured after apply cannot be predicted when anything else changes.
fn mark_snapshots_unknown_on_change(snapshots: &[&str], prior: &Value, change: &mut PlannedChange) {
    if snapshots.is_empty() {
        return;
    }
    let mut others = change.planned.clone();
    for name in snapshots {
        others.set_or_insert(name, prior.get(name).cloned().unwrap_or(Value::Null));
    }
    if &others != prior {
        for name in snapshots {
            change.planned.set_or_insert(name, Value::Unknown);
        }
    }
}

/// Everything an operation needs to reach clusters.
pub struct Clusters {
    /// Shared connections.
    pub connections: Arc<ClusterConnections>,
}

impl Clusters {
    /// The object operations of the cluster an attribute value names; `None` when that AKS
    /// cluster no longer exists.
    pub async fn objects_of(&self, attrs: &Value) -> Result<Option<ClusterObjects>, ProviderError> {
        let reference = known_cluster(attrs)?;
        self.connections.objects(&reference).await
    }
}

/// The cluster of stored or planned attributes, which must be known by now.
pub fn known_cluster(attrs: &Value) -> Result<ClusterRef, ProviderError> {
    let value = attrs.get("cluster").cloned().unwrap_or(Value::Null);
    match ClusterValue::from_attribute(&value)? {
        ClusterValue::Known(reference) => Ok(reference),
        ClusterValue::Unknown => Err(ProviderError::at_attribute(
            "the cluster is still unknown at apply time",
            "cluster",
        )),
    }
}

/// Create or update: apply every object, wait, prune what the prior render had and this one
/// has not.
pub async fn apply(
    ty: &dyn ObjectSetType,
    clusters: &Clusters,
    request: &ApplyRequest,
) -> Result<Value, ProviderError> {
    let Some(cluster) = clusters.objects_of(&request.planned).await? else {
        return Err(ProviderError::new(format!(
            "{}: the cluster {} does not exist",
            request.address,
            known_cluster(&request.planned)?.describe()
        )));
    };
    let objects = ty.objects(&request.planned)?;
    let live = apply_objects(&cluster, &objects, &request.cancel).await?;
    settle(
        &cluster,
        &objects,
        ty.waits(&request.planned),
        &request.cancel,
    )
    .await?;
    let live = refetch(&cluster, &objects, live).await?;
    if let Some(prior) = &request.prior {
        prune(ty, &cluster, prior, &objects, &request.cancel).await?;
    }
    Ok(ty.applied(&request.planned, &live))
}

async fn apply_objects(
    cluster: &ClusterObjects,
    objects: &[Json],
    cancel: &CancellationToken,
) -> Result<BTreeMap<String, Json>, ProviderError> {
    let mut live = BTreeMap::new();
    for object in objects {
        let key = ObjectKey::of(object).map_err(ProviderError::new)?;
        let applied = cluster.apply(object, FIELD_MANAGER, cancel).await?;
        live.insert(key.state_key(), applied);
    }
    Ok(live)
}

/// After waiting, statuses have moved on: read the objects whose status changed again.
async fn refetch(
    cluster: &ClusterObjects,
    objects: &[Json],
    mut live: BTreeMap<String, Json>,
) -> Result<BTreeMap<String, Json>, ProviderError> {
    for object in objects {
        let Ok(key) = ObjectKey::of(object) else {
            continue;
        };
        if !matches!(
            key.kind.as_str(),
            "Service" | "Deployment" | "StatefulSet" | "DaemonSet"
        ) {
            continue;
        }
        if let Some(current) = cluster.get(&key).await? {
            live.insert(key.state_key(), current);
        }
    }
    Ok(live)
}

async fn prune(
    ty: &dyn ObjectSetType,
    cluster: &ClusterObjects,
    prior: &Value,
    objects: &[Json],
    cancel: &CancellationToken,
) -> Result<(), ProviderError> {
    let Ok(before) = ty.objects(prior) else {
        return Ok(());
    };
    let kept: BTreeSet<ObjectKey> = objects
        .iter()
        .filter_map(|o| ObjectKey::of(o).ok())
        .collect();
    for object in before.iter().rev() {
        let Ok(key) = ObjectKey::of(object) else {
            continue;
        };
        if !kept.contains(&key) {
            delete_if_allowed(ty, cluster, object, &key, cancel).await?;
        }
    }
    Ok(())
}

/// Read: the managed fields of every object; `None` when none of them exists (or the cluster
/// is gone).
pub async fn read(
    ty: &dyn ObjectSetType,
    clusters: &Clusters,
    request: &ReadRequest,
) -> Result<Option<Value>, ProviderError> {
    let Some(cluster) = clusters.objects_of(&request.current).await? else {
        return Ok(None);
    };
    let objects = ty.objects(&request.current)?;
    let keys = objects
        .iter()
        .map(|o| ObjectKey::of(o).map_err(ProviderError::new))
        .collect::<Result<Vec<_>, _>>()?;
    // The objects are independent: read them at once rather than one round trip after another.
    let found = cluster.get_all(&keys).await?;
    let live: BTreeMap<String, Json> = keys
        .iter()
        .zip(found)
        .filter_map(|(key, found)| Some((key.state_key(), found?)))
        .collect();
    if live.is_empty() {
        return Ok(None);
    }
    // Snapshots never taken (an apply interrupted before it finished): take them now.
    let missing_snapshot = ty.snapshot_attributes().iter().any(|name| {
        request
            .current
            .get(name)
            .is_none_or(|v| v.is_null() || v.is_unknown())
    });
    if missing_snapshot {
        return Ok(Some(ty.applied(&request.current, &live)));
    }
    Ok(Some(ty.observed(&request.current, &live)))
}

/// Delete every object, last first. Succeeds when the cluster or the objects are gone.
pub async fn delete(
    ty: &dyn ObjectSetType,
    clusters: &Clusters,
    request: &ApplyRequest,
) -> Result<(), ProviderError> {
    let prior = request.prior.as_ref().unwrap_or(&request.planned);
    let Some(cluster) = clusters.objects_of(prior).await? else {
        return Ok(());
    };
    let objects = ty.objects(prior)?;
    for object in objects.iter().rev() {
        let key = ObjectKey::of(object).map_err(ProviderError::new)?;
        delete_if_allowed(ty, &cluster, object, &key, &request.cancel).await?;
    }
    Ok(())
}

async fn delete_if_allowed(
    ty: &dyn ObjectSetType,
    cluster: &ClusterObjects,
    declared: &Json,
    key: &ObjectKey,
    cancel: &CancellationToken,
) -> Result<(), ProviderError> {
    let Some(live) = cluster.get(key).await? else {
        return Ok(());
    };
    if !ty.may_delete(declared, &live) {
        return Ok(());
    }
    cluster.delete(key, cancel).await
}
