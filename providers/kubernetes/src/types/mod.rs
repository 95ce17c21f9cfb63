//! The resource types: one file each. Most are a set of objects in one cluster, rendered from
//! the resource's attributes ([`ObjectSetType`]); the shared lifecycle lives in
//! [`crate::object_set`].

mod config_map;
mod istio_control_plane;
mod manifest;
mod manifests;
mod metadata_only;
mod secret;

use std::collections::BTreeMap;
use std::sync::Arc;

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, NestedBlockSchema, Nesting, Presence, ProviderError,
    ResourceSchema,
};
use mesh_engine::value::{PathStep, Value};
use serde_json::Value as Json;

use crate::wait::Waits;

/// A resource type whose instance is a set of Kubernetes objects in the cluster its `cluster`
/// attribute names.
pub trait ObjectSetType: Send + Sync {
    /// The type name (`kubernetes_namespace`).
    fn name(&self) -> &'static str;

    /// The schema; it MUST have the `cluster` attribute ([`cluster_attribute`]).
    fn schema(&self) -> ResourceSchema;

    /// Checks beyond the schema (no I/O; unknown values accepted).
    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let _ = config;
        Vec::new()
    }

    /// The objects the attributes declare, in apply order. `attrs` is known wherever the
    /// objects' identity is; other unknowns may remain only at plan time.
    fn objects(&self, attrs: &Value) -> Result<Vec<Json>, ProviderError>;

    /// Fill computed attributes that follow from the configuration at plan time (`planned`
    /// starts as the default plan: config values, computed ones from prior or unknown).
    fn plan_computed(&self, config: &Value, planned: &mut Value) -> Result<(), ProviderError> {
        let _ = (config, planned);
        Ok(())
    }

    /// Computed attributes captured from the cluster after apply (a status, an address): they
    /// cannot be predicted when anything else changes.
    fn snapshot_attributes(&self) -> &'static [&'static str] {
        &[]
    }

    /// The attributes as the cluster has them: `attrs` with the managed part of each live
    /// object (keyed by [`crate::objects::ObjectKey::state_key`]) written back.
    fn observed(&self, attrs: &Value, live: &BTreeMap<String, Json>) -> Value;

    /// Attribute paths whose change between `prior` and `planned` replaces the resource,
    /// besides the schema's force-new attributes and the cluster.
    fn replace_paths(&self, prior: &Value, planned: &Value) -> Vec<Vec<PathStep>> {
        let _ = (prior, planned);
        Vec::new()
    }

    /// The state right after apply; by default what [`ObjectSetType::observed`] gives.
    fn applied(&self, attrs: &Value, live: &BTreeMap<String, Json>) -> Value {
        self.observed(attrs, live)
    }

    /// Whether deleting or pruning `declared` may delete the live object (shared objects such
    /// as Istio's CRDs stay).
    fn may_delete(&self, declared: &Json, live: &Json) -> bool {
        let _ = (declared, live);
        true
    }

    /// What to wait for after applying.
    fn waits(&self, attrs: &Value) -> Waits {
        let _ = attrs;
        Waits::default()
    }
}

/// Every Kubernetes resource type.
pub fn all() -> Vec<Arc<dyn ObjectSetType>> {
    vec![
        Arc::new(metadata_only::NAMESPACE),
        Arc::new(secret::Secret),
        Arc::new(config_map::ConfigMap),
        Arc::new(metadata_only::SERVICE_ACCOUNT),
        Arc::new(manifest::Manifest),
        Arc::new(manifests::Manifests),
    ]
}

/// Every Istio resource type.
pub fn istio() -> Vec<Arc<dyn ObjectSetType>> {
    vec![Arc::new(istio_control_plane::IstioControlPlane)]
}

/// The `cluster` attribute every type has.
pub fn cluster_attribute() -> AttributeSchema {
    AttributeSchema::new(
        AttrType::Any,
        Presence::Required,
        "The cluster: an AKS cluster (`azure_kubernetes_cluster.one`; its admin credentials are \
         fetched when needed and never stored) or `{ kubeconfig_path = \"...\", context = \
         \"...\" }`. Plans keep only its ID and FQDN; a new cluster replaces the objects.",
    )
}

/// A string attribute.
pub fn string(presence: Presence, description: &str) -> AttributeSchema {
    AttributeSchema::new(AttrType::String, presence, description)
}

/// A map(string) attribute.
pub fn string_map(presence: Presence, description: &str) -> AttributeSchema {
    AttributeSchema::new(
        AttrType::Map(Box::new(AttrType::String)),
        presence,
        description,
    )
}

/// The `name`, `namespace`, `labels` and `annotations` of a typed object.
pub fn metadata_attributes(block: BlockSchema, namespaced: bool) -> BlockSchema {
    let block = block.attribute(
        "name",
        string(
            Presence::Required,
            "metadata.name; a change replaces the object.",
        )
        .force_new(),
    );
    let block = if namespaced {
        block.attribute(
            "namespace",
            string(
                Presence::Optional,
                "metadata.namespace (default `default`); a change replaces the object.",
            )
            .force_new()
            .default_value(Value::string("default")),
        )
    } else {
        block
    };
    block
        .attribute(
            "labels",
            string_map(
                Presence::Optional,
                "Labels mesh manages; labels others add are left alone and not reported.",
            ),
        )
        .attribute(
            "annotations",
            string_map(
                Presence::Optional,
                "Annotations mesh manages; others are left alone and not reported.",
            ),
        )
}

/// The optional `wait` block.
pub fn wait_block() -> NestedBlockSchema {
    NestedBlockSchema {
        nesting: Nesting::Single,
        required: false,
        force_new: false,
        description: "What to wait for after applying.".into(),
        block: BlockSchema::default()
            .attribute(
                "rollout",
                AttributeSchema::new(
                    AttrType::Bool,
                    Presence::Optional,
                    "Wait until Deployments, StatefulSets and DaemonSets have rolled out.",
                ),
            )
            .attribute(
                "load_balancer",
                AttributeSchema::new(
                    AttrType::Bool,
                    Presence::Optional,
                    "Wait until LoadBalancer Services have an address.",
                ),
            )
            .attribute(
                "timeout_seconds",
                AttributeSchema::new(
                    AttrType::Number,
                    Presence::Optional,
                    "How long to wait (default 600).",
                ),
            ),
    }
}

/// Metadata of a typed object from its attributes.
pub fn metadata_of(attrs: &Value, namespaced: bool) -> Json {
    let mut meta = serde_json::Map::new();
    meta.insert(
        "name".into(),
        attrs.get("name").map(Value::to_json).unwrap_or(Json::Null),
    );
    if namespaced {
        let ns = attrs
            .get("namespace")
            .and_then(|v| v.unmark().0.as_str().map(str::to_string))
            .unwrap_or_else(|| "default".to_string());
        meta.insert("namespace".into(), Json::String(ns));
    }
    for field in ["labels", "annotations"] {
        if let Some(v) = attrs.get(field).filter(|v| !v.is_null()) {
            meta.insert(field.into(), v.to_json());
        }
    }
    Json::Object(meta)
}

/// Write the managed labels and annotations of `live` back into `attrs`.
pub fn observe_metadata(attrs: &mut Value, live: &Json) {
    for field in ["labels", "annotations"] {
        let declared = attrs.get(field).cloned().unwrap_or(Value::Null);
        let observed = managed_map(live.pointer(&format!("/metadata/{field}")), &declared);
        attrs.set_or_insert(field, observed);
    }
}

/// The entries of a live string map whose keys the configuration declares.
pub fn managed_map(live: Option<&Json>, declared: &Value) -> Value {
    let Some(declared) = declared.unmark().0.as_map() else {
        return declared.clone();
    };
    let live = live.and_then(Json::as_object);
    Value::Map(
        declared
            .keys()
            .filter_map(|k| {
                let v = live?.get(k)?;
                Some((k.clone(), Value::from_json(v)))
            })
            .collect(),
    )
}

/// The live object of a type that declares exactly one.
pub fn single_live(
    declared: Result<Vec<Json>, ProviderError>,
    live: &BTreeMap<String, Json>,
) -> Option<&Json> {
    let object = declared.ok()?.pop()?;
    let key = crate::objects::ObjectKey::of(&object).ok()?;
    live.get(&key.state_key())
}

/// A path of one attribute.
pub fn attribute_path(name: &str) -> Vec<PathStep> {
    vec![PathStep::Key(name.to_string())]
}
