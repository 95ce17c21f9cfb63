//! Patches: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and an approximation of
//! strategic merge patch.
//!
//! Strategic merge patch is a merge patch except for lists whose elements carry a merge key
//! (`name`, `mountPath`, `containerPort`, `port`...): those merge element by element, so that
//! kubectl's client-side apply can change one container without restating the others. The
//! directives kubectl sends are honoured where they matter (`$patch: delete|replace`,
//! `$retainKeys`, `$deleteFromPrimitiveList/...`) and otherwise dropped
//! (`$setElementOrder/...`). Which lists merge is decided from their contents, not from the
//! OpenAPI schema as a real server does.

use serde_json::{Map, Value as Json};

/// Candidate merge keys of lists of objects, in order of preference.
const MERGE_KEYS: &[&str] = &[
    "name",
    "mountPath",
    "containerPort",
    "port",
    "devicePath",
    "ip",
];

/// The merge key shared by every element of `lists` (objects only), if any.
pub(crate) fn merge_key(lists: &[&[Json]]) -> Option<&'static str> {
    let elements: Vec<&Json> = lists.iter().flat_map(|l| l.iter()).collect();
    if elements.is_empty() || !elements.iter().all(|e| e.is_object()) {
        return None;
    }
    MERGE_KEYS.iter().copied().find(|k| {
        elements
            .iter()
            .filter(|e| e.get("$patch").is_none())
            .all(|e| e.get(k).is_some_and(|v| !v.is_null()))
    })
}

/// Apply an RFC 7386 merge patch.
pub(crate) fn merge(target: &mut Json, patch: &Json) {
    json_patch::merge(target, patch);
}

/// Apply an RFC 6902 JSON patch (a JSON array of operations).
pub(crate) fn json_patch(target: &mut Json, patch: &Json) -> Result<(), String> {
    let ops: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| format!("invalid JSON patch: {e}"))?;
    json_patch::patch(target, &ops).map_err(|e| e.to_string())
}

/// Apply a strategic merge patch (see the module docs for what is approximated).
pub(crate) fn strategic(target: &mut Json, patch: &Json) {
    let Some(patch) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if patch.get("$patch").and_then(Json::as_str) == Some("replace") {
        let mut replacement = patch.clone();
        replacement.remove("$patch");
        *target = Json::Object(replacement);
        return;
    }
    if !target.is_object() {
        *target = Json::Object(Map::new());
    }
    let Some(map) = target.as_object_mut() else {
        return;
    };
    if let Some(keep) = patch.get("$retainKeys").and_then(Json::as_array) {
        map.retain(|k, _| keep.iter().any(|r| r == k) || patch.contains_key(k));
    }
    for (key, value) in patch {
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Json::Array(items)), Some(drop)) = (map.get_mut(list), value.as_array()) {
                items.retain(|i| !drop.contains(i));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            map.remove(key);
            continue;
        }
        let current = map.entry(key.clone()).or_insert(Json::Null);
        match (current, value) {
            (Json::Array(items), Json::Array(changes)) => merge_list(items, changes),
            (current @ Json::Object(_), Json::Object(_)) => strategic(current, value),
            (current, _) => *current = without_directives(value),
        }
    }
}

/// Merge a patch list into a list: by merge key when the elements have one, else replace.
fn merge_list(items: &mut Vec<Json>, changes: &[Json]) {
    let Some(key) = merge_key(&[items.as_slice(), changes]) else {
        *items = changes.iter().map(without_directives).collect();
        return;
    };
    for change in changes {
        let position = items.iter().position(|i| i.get(key) == change.get(key));
        let delete = change.get("$patch").and_then(Json::as_str) == Some("delete");
        match (position, delete) {
            (Some(at), true) => {
                items.remove(at);
            }
            (None, true) => {}
            (Some(at), false) => strategic(&mut items[at], change),
            (None, false) => items.push(without_directives(change)),
        }
    }
}

/// `value` without `$`-directives.
fn without_directives(value: &Json) -> Json {
    match value {
        Json::Object(map) => Json::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), without_directives(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(without_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strategic_patches_merge_containers_by_name() {
        let mut d = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "b:1"}]}});
        let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "a:2"}, {"name": "b", "$patch": "delete"}]}});
        strategic(&mut d, &patch);
        assert_eq!(
            d,
            json!({"spec": {"containers": [{"name": "a", "image": "a:2", "ports": [{"containerPort": 80}]}]}})
        );
    }

    #[test]
    fn strategic_patches_replace_plain_lists_and_delete_nulls() {
        let mut d = json!({"a": [1, 2], "b": {"c": 1, "d": 2}, "e": ["x", "y"]});
        strategic(
            &mut d,
            &json!({"a": [3], "b": {"c": null}, "$deleteFromPrimitiveList/e": ["x"]}),
        );
        assert_eq!(d, json!({"a": [3], "b": {"d": 2}, "e": ["y"]}));
    }

    #[test]
    fn merge_and_json_patches() {
        let mut d = json!({"a": 1, "b": [1, 2]});
        merge(&mut d, &json!({"a": null, "b": [3]}));
        assert_eq!(d, json!({"b": [3]}));
        json_patch(&mut d, &json!([{"op": "add", "path": "/c", "value": 1}])).unwrap();
        assert_eq!(d, json!({"b": [3], "c": 1}));
        assert!(json_patch(&mut d, &json!([{"op": "remove", "path": "/zz"}])).is_err());
        assert!(json_patch(&mut d, &json!({"op": "x"})).is_err());
    }
}
