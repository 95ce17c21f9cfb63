//! `kubernetes_namespace`: a namespace with the labels Istio reads (istio-injection,
//! istio.io/rev, topology.istio.io/network).

use std::collections::BTreeMap;

use mesh_engine::provider::{BlockSchema, ProviderError, ResourceSchema};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::{metadata_attributes, metadata_of, observe_metadata, single_live, ObjectSetType};

/// `kubernetes_namespace`.
pub struct Namespace;

impl ObjectSetType for Namespace {
    fn name(&self) -> &'static str {
        "kubernetes_namespace"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema {
            version: 0,
            description: "A namespace. Label it `istio-injection = \"enabled\"` or \
                          `\"istio.io/rev\" = \"1-14-1\"` for sidecar injection, and \
                          `\"topology.istio.io/network\"` on istio-system for multi-network \
                          meshes. Deleting it deletes everything in it."
                .into(),
            block: metadata_attributes(
                BlockSchema::default().attribute("cluster", super::cluster_attribute()),
                false,
            ),
        }
    }

    fn objects(&self, attrs: &Value) -> Result<Vec<Json>, ProviderError> {
        Ok(vec![json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": metadata_of(attrs, false),
        })])
    }

    fn observed(&self, attrs: &Value, live: &BTreeMap<String, Json>) -> Value {
        let mut attrs = attrs.clone();
        if let Some(object) = single_live(self.objects(&attrs), live) {
            observe_metadata(&mut attrs, object);
        }
        attrs
    }
}
