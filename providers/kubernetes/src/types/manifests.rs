//! `kubernetes_manifests`: every document of a multi-document YAML file (the Istio samples'
//! style), each tracked as its own object, optionally filtered by labels as
//! `kubectl apply -l` does.

use std::collections::BTreeMap;

use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde::Deserialize;
use serde_json::Value as Json;

use super::{string, string_map, wait_block, ObjectSetType};
use crate::objects::{project, ObjectKey};
use crate::wait::Waits;

/// `kubernetes_manifests`.
pub struct Manifests;

/// Kinds without a namespace: `namespace` is not filled in for them.
const CLUSTER_SCOPED: [&str; 10] = [
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
];

impl ObjectSetType for Manifests {
    fn name(&self) -> &'static str {
        "kubernetes_manifests"
    }

    fn schema(&self) -> ResourceSchema {
        let block = BlockSchema::default()
            .attribute("cluster", super::cluster_attribute())
            .attribute(
                "content",
                string(
                    Presence::Required,
                    "Multi-document YAML, e.g. `file(\"samples/helloworld/helloworld.yaml\")`.",
                ),
            )
            .attribute(
                "namespace",
                string(
                    Presence::Optional,
                    "The namespace of documents that name none (cluster-scoped kinds excepted).",
                ),
            )
            .attribute(
                "selector",
                string_map(
                    Presence::Optional,
                    "Only documents whose labels include all of these (like `kubectl apply -l`).",
                ),
            )
            .attribute(
                "documents",
                AttributeSchema::new(
                    AttrType::Map(Box::new(AttrType::Any)),
                    Presence::Computed,
                    "The selected documents by `apiVersion/kind/namespace/name`; refresh shows \
                     the fields each declares as the cluster has them.",
                ),
            )
            .block("wait", wait_block());
        ResourceSchema {
            version: 0,
            description: "Every document of a multi-document YAML file, each applied with \
                          server-side apply and tracked on its own: a document removed from the \
                          file is deleted from the cluster."
                .into(),
            block,
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        match select(config) {
            Ok(_) | Err(None) => Vec::new(),
            Err(Some(e)) => vec![e],
        }
    }

    fn objects(&self, attrs: &Value) -> Result<Vec<Json>, ProviderError> {
        select(attrs).map_err(|e| e.unwrap_or_else(|| ProviderError::new("content is unknown")))
    }

    fn plan_computed(&self, _config: &Value, planned: &mut Value) -> Result<(), ProviderError> {
        let documents = match select(planned) {
            Ok(docs) => keyed(&docs),
            Err(None) => Value::Unknown,
            Err(Some(e)) => return Err(e),
        };
        planned.set_or_insert("documents", documents);
        Ok(())
    }

    fn observed(&self, attrs: &Value, live: &BTreeMap<String, Json>) -> Value {
        let mut attrs = attrs.clone();
        let Ok(declared) = select(&attrs) else {
            return attrs;
        };
        let observed = declared
            .iter()
            .filter_map(|doc| {
                let key = ObjectKey::of(doc).ok()?.state_key();
                let object = live.get(&key)?;
                Some((key, Value::from_json(&project(object, doc))))
            })
            .collect();
        attrs.set_or_insert("documents", Value::Map(observed));
        attrs
    }

    fn waits(&self, attrs: &Value) -> Waits {
        Waits::from_block(attrs.get("wait"))
    }
}

fn keyed(docs: &[Json]) -> Value {
    Value::Map(
        docs.iter()
            .filter_map(|doc| Some((ObjectKey::of(doc).ok()?.state_key(), Value::from_json(doc))))
            .collect(),
    )
}

/// The selected documents; `Err(None)` when the content is not known yet.
fn select(attrs: &Value) -> Result<Vec<Json>, Option<ProviderError>> {
    let content = attrs
        .get("content")
        .map(|c| c.unmark().0)
        .unwrap_or(&Value::Null);
    let namespace = attrs
        .get("namespace")
        .map(|c| c.unmark().0)
        .unwrap_or(&Value::Null);
    let selector = attrs
        .get("selector")
        .map(|c| c.unmark().0)
        .unwrap_or(&Value::Null);
    if content.is_unknown() || namespace.is_unknown() || selector.is_unknown_deep() {
        return Err(None);
    }
    let Some(text) = content.as_str() else {
        return Ok(Vec::new());
    };
    let docs =
        parse_documents(text).map_err(|e| Some(ProviderError::at_attribute(e, "content")))?;
    let selector: BTreeMap<String, String> = selector
        .as_map()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let mut selected = Vec::new();
    for mut doc in docs {
        if !matches_selector(&doc, &selector) {
            continue;
        }
        if let Some(ns) = namespace.as_str() {
            fill_namespace(&mut doc, ns);
        }
        selected.push(doc);
    }
    Ok(selected)
}

/// Every non-empty document, each checked to name its object.
fn parse_documents(text: &str) -> Result<Vec<Json>, String> {
    let mut docs = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = Json::deserialize(document)
            .map_err(|e| format!("document {} is not valid YAML: {e}", index + 1))?;
        if value.is_null() {
            continue;
        }
        if value.get("kind").and_then(Json::as_str) == Some("List") {
            let items = value
                .get("items")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default();
            docs.extend(items);
            continue;
        }
        ObjectKey::of(&value).map_err(|e| format!("document {}: {e}", index + 1))?;
        docs.push(value);
    }
    Ok(docs)
}

fn matches_selector(doc: &Json, selector: &BTreeMap<String, String>) -> bool {
    let labels = doc.pointer("/metadata/labels").and_then(Json::as_object);
    selector.iter().all(|(k, v)| {
        labels
            .and_then(|l| l.get(k))
            .and_then(Json::as_str)
            .is_some_and(|actual| actual == v)
    })
}

fn fill_namespace(doc: &mut Json, namespace: &str) {
    let kind = doc.get("kind").and_then(Json::as_str).unwrap_or_default();
    if CLUSTER_SCOPED.contains(&kind) {
        return;
    }
    if let Some(meta) = doc.get_mut("metadata").and_then(Json::as_object_mut) {
        meta.entry("namespace")
            .or_insert_with(|| Json::String(namespace.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: helloworld\n  labels:\n    app: helloworld\n    service: helloworld\nspec:\n  ports:\n  - port: 5000\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: helloworld-v1\n  labels:\n    app: helloworld\n    version: v1\n---\n# a comment only\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: sample\n";

    fn attrs(selector: Option<(&str, &str)>) -> Value {
        let mut map = BTreeMap::new();
        map.insert("content".to_string(), Value::string(SAMPLE));
        map.insert("namespace".to_string(), Value::string("sample"));
        if let Some((k, v)) = selector {
            let mut sel = BTreeMap::new();
            sel.insert(k.to_string(), Value::string(v));
            map.insert("selector".to_string(), Value::Map(sel));
        }
        Value::Map(map)
    }

    #[test]
    fn documents_are_split_filled_with_the_namespace_and_keyed() {
        let docs = select(&attrs(None)).unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0]["metadata"]["namespace"], "sample");
        assert!(
            docs[2]["metadata"].get("namespace").is_none(),
            "namespaces are cluster-scoped"
        );
        let keyed = keyed(&docs);
        assert!(keyed
            .get("apps/v1/Deployment/sample/helloworld-v1")
            .is_some());
    }

    #[test]
    fn a_selector_keeps_matching_documents_only() {
        let docs = select(&attrs(Some(("service", "helloworld")))).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["kind"], "Service");
    }

    #[test]
    fn a_document_without_a_name_is_reported_with_its_number() {
        let mut a = attrs(None);
        a.set_or_insert(
            "content",
            Value::string("kind: A\napiVersion: v1\nmetadata: {}\n"),
        );
        let err = select(&a).unwrap_err().unwrap();
        assert!(err.message.contains("document 1"), "{}", err.message);
    }
}
