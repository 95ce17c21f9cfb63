//! Objects that are all metadata — `kubernetes_namespace` (with the labels Istio reads:
//! istio-injection, istio.io/rev, topology.istio.io/network) and `kubernetes_service_account`:
//! one type definition, two instances.

use std::collections::BTreeMap;

use mesh_engine::provider::{BlockSchema, ProviderError, ResourceSchema};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::{metadata_attributes, metadata_of, observe_metadata, single_live, ObjectSetType};

/// A v1 object with only name, namespace, labels and annotations.
pub struct MetadataOnly {
    name: &'static str,
    kind: &'static str,
    namespaced: bool,
    description: &'static str,
}

/// `kubernetes_namespace`.
pub const NAMESPACE: MetadataOnly = MetadataOnly {
    name: "kubernetes_namespace",
    kind: "Namespace",
    namespaced: false,
    description: "A namespace. Label it `istio-injection = \"enabled\"` or \
                  `\"istio.io/rev\" = \"1-14-1\"` for sidecar injection, and \
                  `\"topology.istio.io/network\"` on istio-system for multi-network meshes. \
                  Deleting it deletes everything in it.",
};

/// `kubernetes_service_account`.
pub const SERVICE_ACCOUNT: MetadataOnly = MetadataOnly {
    name: "kubernetes_service_account",
    kind: "ServiceAccount",
    namespaced: true,
    description: "A ServiceAccount (for example one annotated for workload identity).",
};

impl ObjectSetType for MetadataOnly {
    fn name(&self) -> &'static str {
        self.name
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema {
            version: 0,
            description: self.description.into(),
            block: metadata_attributes(
                BlockSchema::default().attribute("cluster", super::cluster_attribute()),
                self.namespaced,
            ),
        }
    }

    fn objects(&self, attrs: &Value) -> Result<Vec<Json>, ProviderError> {
        Ok(vec![json!({
            "apiVersion": "v1",
            "kind": self.kind,
            "metadata": metadata_of(attrs, self.namespaced),
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
