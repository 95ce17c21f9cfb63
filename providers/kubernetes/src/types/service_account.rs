//! `kubernetes_service_account`.

use std::collections::BTreeMap;

use mesh_engine::provider::{BlockSchema, ProviderError, ResourceSchema};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::{metadata_attributes, metadata_of, observe_metadata, single_live, ObjectSetType};

/// `kubernetes_service_account`.
pub struct ServiceAccount;

impl ObjectSetType for ServiceAccount {
    fn name(&self) -> &'static str {
        "kubernetes_service_account"
    }

    fn schema(&self) -> ResourceSchema {
        ResourceSchema {
            version: 0,
            description: "A ServiceAccount (for example one annotated for workload identity)."
                .into(),
            block: metadata_attributes(
                BlockSchema::default().attribute("cluster", super::cluster_attribute()),
                true,
            ),
        }
    }

    fn objects(&self, attrs: &Value) -> Result<Vec<Json>, ProviderError> {
        Ok(vec![json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata_of(attrs, true),
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
