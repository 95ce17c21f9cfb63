//! `kubernetes_secret`: a Secret whose values are sensitive everywhere mesh shows them.

use std::collections::BTreeMap;

use base64::Engine;
use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::{
    metadata_attributes, metadata_of, observe_metadata, single_live, string, ObjectSetType,
};

/// `kubernetes_secret`.
pub struct Secret;

impl ObjectSetType for Secret {
    fn name(&self) -> &'static str {
        "kubernetes_secret"
    }

    fn schema(&self) -> ResourceSchema {
        let block = BlockSchema::default()
            .attribute("cluster", super::cluster_attribute())
            .attribute(
                "type",
                string(
                    Presence::Optional,
                    "The Secret's type; a change replaces it.",
                )
                .force_new()
                .default_value(Value::string("Opaque")),
            )
            .attribute(
                "data",
                AttributeSchema::new(
                    AttrType::Map(Box::new(AttrType::String)),
                    Presence::Optional,
                    "Values as text (mesh encodes them); sensitive: never shown in plans or \
                     output. Keys others add are left alone.",
                )
                .sensitive(),
            );
        ResourceSchema {
            version: 0,
            description: "A Secret (for example Istio's `cacerts` in istio-system).".into(),
            block: metadata_attributes(block, true),
        }
    }

    fn objects(&self, attrs: &Value) -> Result<Vec<Json>, ProviderError> {
        let engine = base64::engine::general_purpose::STANDARD;
        let data: serde_json::Map<String, Json> = attrs
            .get("data")
            .map(|d| d.unmark().0)
            .and_then(Value::as_map)
            .map(|map| {
                map.iter()
                    .map(|(k, v)| {
                        let text = v.unmark().0.as_str().unwrap_or_default();
                        (k.clone(), Json::String(engine.encode(text)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(vec![json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata_of(attrs, true),
            "type": attrs.get("type").map(Value::to_json).unwrap_or(json!("Opaque")),
            "data": data,
        })])
    }

    fn observed(&self, attrs: &Value, live: &BTreeMap<String, Json>) -> Value {
        let mut attrs = attrs.clone();
        let Some(object) = single_live(self.objects(&attrs), live) else {
            return attrs;
        };
        observe_metadata(&mut attrs, object);
        let declared = attrs.get("data").map(|d| d.unmark().0.clone());
        if let Some(Value::Map(declared)) = declared {
            let engine = base64::engine::general_purpose::STANDARD;
            let live_data = object.get("data").and_then(Json::as_object);
            let observed = declared
                .keys()
                .filter_map(|k| {
                    let encoded = live_data?.get(k)?.as_str()?;
                    let bytes = engine.decode(encoded).ok()?;
                    Some((k.clone(), Value::string(String::from_utf8_lossy(&bytes))))
                })
                .collect();
            attrs.set_or_insert("data", Value::Map(observed));
        }
        attrs
    }
}
