//! `kubernetes_config_map`.

use std::collections::BTreeMap;

use mesh_engine::provider::{BlockSchema, Presence, ProviderError, ResourceSchema};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::{
    managed_map, metadata_attributes, metadata_of, observe_metadata, single_live, string_map,
    ObjectSetType,
};

/// `kubernetes_config_map`.
pub struct ConfigMap;

impl ObjectSetType for ConfigMap {
    fn name(&self) -> &'static str {
        "kubernetes_config_map"
    }

    fn schema(&self) -> ResourceSchema {
        let block = BlockSchema::default()
            .attribute("cluster", super::cluster_attribute())
            .attribute(
                "data",
                string_map(
                    Presence::Optional,
                    "The ConfigMap's data. Keys others add are left alone.",
                ),
            );
        ResourceSchema {
            version: 0,
            description: "A ConfigMap.".into(),
            block: metadata_attributes(block, true),
        }
    }

    fn objects(&self, attrs: &Value) -> Result<Vec<Json>, ProviderError> {
        let data = attrs
            .get("data")
            .filter(|d| !d.is_null())
            .map(Value::to_json)
            .unwrap_or_else(|| json!({}));
        Ok(vec![json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata_of(attrs, true),
            "data": data,
        })])
    }

    fn observed(&self, attrs: &Value, live: &BTreeMap<String, Json>) -> Value {
        let mut attrs = attrs.clone();
        let Some(object) = single_live(self.objects(&attrs), live) else {
            return attrs;
        };
        observe_metadata(&mut attrs, object);
        let declared = attrs.get("data").cloned().unwrap_or(Value::Null);
        attrs.set_or_insert("data", managed_map(object.get("data"), &declared));
        attrs
    }
}
