//! `kubernetes_manifest`: any object, custom resources included, applied with server-side
//! apply. Refresh compares only the fields the manifest declares.

use std::collections::BTreeMap;

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::{PathStep, Value};
use serde_json::Value as Json;

use super::{single_live, wait_block, ObjectSetType};
use crate::objects::{project, ObjectKey};
use crate::wait::Waits;

/// `kubernetes_manifest`.
pub struct Manifest;

/// The parts of a manifest that name its object: a change replaces it.
const IDENTITY: [&[&str]; 4] = [
    &["apiVersion"],
    &["kind"],
    &["metadata", "name"],
    &["metadata", "namespace"],
];

impl ObjectSetType for Manifest {
    fn name(&self) -> &'static str {
        "kubernetes_manifest"
    }

    fn schema(&self) -> ResourceSchema {
        let block = BlockSchema::default()
            .attribute("cluster", super::cluster_attribute())
            .attribute(
                "manifest",
                AttributeSchema::new(
                    AttrType::Any,
                    Presence::Required,
                    "The object: an HCL object or `yamldecode(file(\"x.yaml\"))`. A change of \
                     apiVersion, kind, name or namespace replaces it; other changes are applied \
                     in place.",
                ),
            )
            .attribute(
                "status",
                AttributeSchema::new(
                    AttrType::Any,
                    Presence::Computed,
                    "The object's status right after apply (and after `wait`), e.g. \
                     `status.loadBalancer.ingress[0].ip`. Not refreshed.",
                ),
            )
            .block("wait", wait_block());
        ResourceSchema {
            version: 0,
            description: "Any Kubernetes object, custom resources included, applied with \
                          server-side apply (field manager `mesh`). A custom resource waits for \
                          its CRD to be established."
                .into(),
            block,
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let Some(manifest) = config.get("manifest") else {
            return Vec::new();
        };
        if manifest.is_unknown_deep() || manifest.unmark().0.is_unknown() {
            return Vec::new();
        }
        let json = manifest.to_json();
        if identity_known(manifest) {
            if let Err(e) = ObjectKey::of(&json) {
                return vec![ProviderError::at_attribute(e, "manifest")];
            }
        }
        Vec::new()
    }

    fn objects(&self, attrs: &Value) -> Result<Vec<Json>, ProviderError> {
        let manifest = attrs.get("manifest").cloned().unwrap_or(Value::Null);
        let json = manifest.to_json();
        ObjectKey::of(&json).map_err(|e| ProviderError::at_attribute(e, "manifest"))?;
        Ok(vec![json])
    }

    fn replace_paths(&self, prior: &Value, planned: &Value) -> Vec<Vec<PathStep>> {
        IDENTITY
            .iter()
            .map(|steps| {
                let mut path = vec![PathStep::Key("manifest".into())];
                path.extend(steps.iter().map(|s| PathStep::Key(s.to_string())));
                path
            })
            .filter(|path| prior.get_at(path) != planned.get_at(path))
            .collect()
    }

    fn observed(&self, attrs: &Value, live: &BTreeMap<String, Json>) -> Value {
        let mut attrs = attrs.clone();
        let declared = attrs
            .get("manifest")
            .map(Value::to_json)
            .unwrap_or(Json::Null);
        if let Some(object) = single_live(self.objects(&attrs), live) {
            attrs.set_or_insert("manifest", Value::from_json(&project(object, &declared)));
        }
        attrs
    }

    fn applied(&self, attrs: &Value, live: &BTreeMap<String, Json>) -> Value {
        let mut attrs = self.observed(attrs, live);
        let status = single_live(self.objects(&attrs), live)
            .and_then(|o| o.get("status"))
            .map(Value::from_json)
            .unwrap_or(Value::Null);
        attrs.set_or_insert("status", status);
        attrs
    }

    fn snapshot_attributes(&self) -> &'static [&'static str] {
        &["status"]
    }

    fn waits(&self, attrs: &Value) -> Waits {
        Waits::from_block(attrs.get("wait"))
    }
}

fn identity_known(manifest: &Value) -> bool {
    IDENTITY.iter().all(|steps| {
        let path: Vec<PathStep> = steps.iter().map(|s| PathStep::Key(s.to_string())).collect();
        !manifest.get_at(&path).is_some_and(Value::is_unknown)
    })
}
