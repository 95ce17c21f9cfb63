//! Digests of the fields a resource declares in each of its objects: how resources made of
//! many objects (an Istio install) keep drift detection per object without keeping whole
//! objects in state.

use std::collections::BTreeMap;

use mesh_engine::value::Value;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::objects::{project, ObjectKey};

/// The digest of each declared object, by [`ObjectKey::state_key`].
pub fn declared_digests(objects: &[Json]) -> Value {
    Value::Map(
        objects
            .iter()
            .filter_map(|object| {
                let key = ObjectKey::of(object).ok()?;
                Some((key.state_key(), Value::string(digest(&key, object))))
            })
            .collect(),
    )
}

/// The digest of what the cluster has of each declared object; objects that are gone are
/// left out.
pub fn observed_digests(objects: &[Json], live: &BTreeMap<String, Json>) -> Value {
    Value::Map(
        objects
            .iter()
            .filter_map(|object| {
                let key = ObjectKey::of(object).ok()?;
                let found = live.get(&key.state_key())?;
                let managed = project(found, object);
                Some((key.state_key(), Value::string(digest(&key, &managed))))
            })
            .collect(),
    )
}

fn digest(key: &ObjectKey, object: &Json) -> String {
    let mut object = object.clone();
    for (kind, path) in crate::istio::fields_written_by_istiod() {
        if *kind == key.kind {
            let steps: Vec<&str> = path.split('/').collect();
            remove_path(&mut object, &steps);
        }
    }
    let text = serde_json::to_string(&object).unwrap_or_default();
    let hash = Sha256::digest(text.as_bytes());
    hex::encode(&hash[..12])
}

/// Remove a field at `steps`, where `*` stands for every element of a list.
fn remove_path(value: &mut Json, steps: &[&str]) {
    let Some((first, rest)) = steps.split_first() else {
        return;
    };
    if *first == "*" {
        if let Some(items) = value.as_array_mut() {
            for item in items {
                remove_path(item, rest);
            }
        }
        return;
    }
    let Some(map) = value.as_object_mut() else {
        return;
    };
    if rest.is_empty() {
        map.remove(*first);
    } else if let Some(child) = map.get_mut(*first) {
        remove_path(child, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_additions_keep_the_digest_and_managed_changes_alter_it() {
        let declared = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "a", "namespace": "b"}, "spec": {"ports": [{"port": 80}]}});
        let digests = declared_digests(std::slice::from_ref(&declared));
        let key = "v1/Service/b/a".to_string();
        let mut live = declared.clone();
        live["spec"]["clusterIP"] = json!("10.0.0.1");
        live["metadata"]["uid"] = json!("u");
        let map = BTreeMap::from([(key.clone(), live.clone())]);
        assert_eq!(
            observed_digests(std::slice::from_ref(&declared), &map),
            digests
        );
        live["spec"]["ports"][0]["port"] = json!(81);
        let map = BTreeMap::from([(key, live)]);
        assert_ne!(
            observed_digests(std::slice::from_ref(&declared), &map),
            digests
        );
        assert_eq!(
            observed_digests(std::slice::from_ref(&declared), &BTreeMap::new()),
            Value::Map(BTreeMap::new())
        );
    }

    #[test]
    fn fields_istiod_rewrites_do_not_count() {
        let declared = json!({"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration", "metadata": {"name": "v"},
            "webhooks": [{"name": "w", "failurePolicy": "Ignore"}]});
        let mut live = declared.clone();
        live["webhooks"][0]["failurePolicy"] = json!("Fail");
        let key = ObjectKey::of(&declared).unwrap().state_key();
        let map = BTreeMap::from([(key, live)]);
        assert_eq!(
            observed_digests(std::slice::from_ref(&declared), &map),
            declared_digests(std::slice::from_ref(&declared))
        );
    }
}
