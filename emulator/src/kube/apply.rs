//! Server-side apply, approximated.
//!
//! A real API server tracks, per field, which manager owns it (`managedFields`). Here each
//! object keeps, per field manager, the configuration it last applied; that is enough for what
//! appliers rely on:
//! - applying merges the configuration into the object (maps field by field, lists of objects
//!   with a merge key element by element, other lists whole);
//! - a field the manager applied before and no longer applies is removed, unless another
//!   manager's applied configuration still holds it;
//! - applying a value that another manager applied differently is a 409 Conflict naming the
//!   manager and field, unless `force` is set (then the field is taken over: the other
//!   manager's configuration forgets it).
//!
//! Not modelled: ownership taken by plain updates (PUT, merge patches): such fields are never
//! conflicts, and are removed when their last applier stops applying them. Objects carry no
//! `managedFields`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::patch::merge_key;

/// The object after an apply, and every manager's applied configuration.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Applied {
    /// The object.
    pub object: Json,
    /// Applied configuration per manager.
    pub applied: BTreeMap<String, Json>,
}

/// A field another manager holds with another value: (manager, field path).
pub(crate) type Conflict = (String, String);

/// Apply `config` as `manager` to `current` (the object and what managers applied), or to
/// nothing (create).
pub(crate) fn apply(
    current: Option<(&Json, &BTreeMap<String, Json>)>,
    manager: &str,
    config: &Json,
    force: bool,
) -> Result<Applied, Vec<Conflict>> {
    let Some((object, applied)) = current else {
        let mut applied = BTreeMap::new();
        applied.insert(manager.to_string(), config.clone());
        return Ok(Applied {
            object: config.clone(),
            applied,
        });
    };
    let mut applied = applied.clone();
    let mut conflicts = Vec::new();
    for (other, theirs) in applied.iter_mut().filter(|(m, _)| *m != manager) {
        let mut fields = Vec::new();
        find_conflicts(config, theirs, String::new(), &mut fields);
        if force {
            forget_fields(theirs, config);
        } else {
            conflicts.extend(fields.into_iter().map(|f| (other.clone(), f)));
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }
    let mut object = object.clone();
    if let Some(before) = applied.get(manager) {
        let others: Vec<&Json> = applied
            .iter()
            .filter(|(m, _)| *m != manager)
            .map(|(_, c)| c)
            .collect();
        prune(&mut object, before, Some(config), &others);
    }
    merge_config(&mut object, config);
    applied.insert(manager.to_string(), config.clone());
    Ok(Applied { object, applied })
}

fn key_text(value: Option<&Json>) -> String {
    match value {
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Where `config` and `theirs` set the same field to different values.
fn find_conflicts(config: &Json, theirs: &Json, path: String, out: &mut Vec<String>) {
    match (config, theirs) {
        (Json::Object(mine), Json::Object(other)) => {
            for (k, v) in mine {
                if let Some(w) = other.get(k) {
                    find_conflicts(v, w, format!("{path}.{k}"), out);
                }
            }
        }
        (Json::Array(mine), Json::Array(other)) => match merge_key(&[mine, other]) {
            Some(key) => {
                for element in mine {
                    let id = element.get(key);
                    if let Some(theirs) = other.iter().find(|e| e.get(key) == id) {
                        let at = format!("{path}[{key}=\"{}\"]", key_text(id));
                        find_conflicts(element, theirs, at, out);
                    }
                }
            }
            None if mine != other => out.push(path),
            None => {}
        },
        (a, b) if a != b => out.push(path),
        _ => {}
    }
}

/// Remove from `theirs` the fields `config` sets differently (taken over by a forced apply).
fn forget_fields(theirs: &mut Json, config: &Json) {
    match (theirs, config) {
        (Json::Object(other), Json::Object(mine)) => {
            let mut gone = Vec::new();
            for (k, v) in mine {
                let Some(w) = other.get_mut(k) else {
                    continue;
                };
                let nested = (w.is_object() && v.is_object()) || (w.is_array() && v.is_array());
                if nested {
                    forget_fields(w, v);
                } else if w != v {
                    gone.push(k.clone());
                }
            }
            for k in gone {
                other.remove(&k);
            }
        }
        (Json::Array(other), Json::Array(mine)) => {
            let Some(key) = merge_key(&[other.as_slice(), mine]) else {
                if other != mine {
                    other.clear();
                }
                return;
            };
            for element in mine {
                if let Some(w) = other.iter_mut().find(|e| e.get(key) == element.get(key)) {
                    forget_fields(w, element);
                }
            }
        }
        _ => {}
    }
}

/// Remove from `target` what `before` held and neither `config` nor any of `others` holds.
fn prune(target: &mut Json, before: &Json, config: Option<&Json>, others: &[&Json]) {
    match before {
        Json::Object(fields) => {
            let Some(t) = target.as_object_mut() else {
                return;
            };
            for (k, was) in fields {
                let mine = config.and_then(|c| c.get(k));
                let theirs: Vec<&Json> = others.iter().filter_map(|o| o.get(k)).collect();
                if mine.is_none() && theirs.is_empty() {
                    t.remove(k);
                    continue;
                }
                if let Some(now) = t.get_mut(k) {
                    prune(now, was, mine, &theirs);
                }
            }
        }
        Json::Array(elements) => {
            let Some(items) = target.as_array_mut() else {
                return;
            };
            let mine: &[Json] = config.and_then(Json::as_array).map_or(&[], Vec::as_slice);
            let Some(key) = merge_key(&[elements, mine, items.as_slice()]) else {
                return;
            };
            for element in elements {
                let id = element.get(key);
                let kept = mine.iter().find(|e| e.get(key) == id);
                let theirs: Vec<&Json> = others
                    .iter()
                    .filter_map(|o| o.as_array())
                    .filter_map(|l| l.iter().find(|e| e.get(key) == id))
                    .collect();
                let at = items.iter().position(|e| e.get(key) == id);
                match (at, kept.is_none() && theirs.is_empty()) {
                    (Some(at), true) => {
                        items.remove(at);
                    }
                    (Some(at), false) => prune(&mut items[at], element, kept, &theirs),
                    (None, _) => {}
                }
            }
        }
        _ => {}
    }
}

/// Merge an applied configuration into the object.
fn merge_config(target: &mut Json, config: &Json) {
    match (target, config) {
        (Json::Object(t), Json::Object(c)) => {
            for (k, v) in c {
                match t.get_mut(k) {
                    Some(existing) => merge_config(existing, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Json::Array(t), Json::Array(c)) => match merge_key(&[t.as_slice(), c]) {
            Some(key) => {
                for element in c {
                    match t.iter_mut().find(|e| e.get(key) == element.get(key)) {
                        Some(existing) => merge_config(existing, element),
                        None => t.push(element.clone()),
                    }
                }
            }
            None => *t = c.clone(),
        },
        (t, c) => *t = c.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cm(data: Json) -> Json {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data})
    }

    #[test]
    fn a_field_no_longer_applied_is_removed_unless_another_manager_applies_it() {
        let first = apply(None, "a", &cm(json!({"x": "1", "y": "2"})), false).unwrap();
        let second = apply(
            Some((&first.object, &first.applied)),
            "b",
            &cm(json!({"z": "3", "y": "2"})),
            false,
        )
        .unwrap();
        assert_eq!(second.object["data"], json!({"x": "1", "y": "2", "z": "3"}));
        let third = apply(
            Some((&second.object, &second.applied)),
            "a",
            &cm(json!({})),
            false,
        )
        .unwrap();
        assert_eq!(third.object["data"], json!({"y": "2", "z": "3"}));
    }

    #[test]
    fn conflicts_name_the_manager_and_field_and_force_takes_over() {
        let first = apply(None, "a", &cm(json!({"x": "1"})), false).unwrap();
        let current = Some((&first.object, &first.applied));
        let conflicts = apply(current, "b", &cm(json!({"x": "2"})), false).unwrap_err();
        assert_eq!(conflicts, vec![("a".to_string(), ".data.x".to_string())]);
        let forced = apply(current, "b", &cm(json!({"x": "2"})), true).unwrap();
        assert_eq!(forced.object["data"]["x"], "2");
        // "a" lost the field: applying without it removes nothing of b's.
        let after = apply(
            Some((&forced.object, &forced.applied)),
            "a",
            &cm(json!({})),
            false,
        )
        .unwrap();
        assert_eq!(after.object["data"], json!({"x": "2"}));
    }

    #[test]
    fn containers_merge_by_name_and_removed_ones_go() {
        let dep =
            |containers: Json| json!({"spec": {"template": {"spec": {"containers": containers}}}});
        let first = apply(
            None,
            "m",
            &dep(json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}])),
            false,
        )
        .unwrap();
        let mut object = first.object.clone();
        object["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        let second = apply(
            Some((&object, &first.applied)),
            "m",
            &dep(json!([{"name": "a", "image": "a:2"}])),
            false,
        )
        .unwrap();
        assert_eq!(
            second.object["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "a:2", "imagePullPolicy": "Always"}])
        );
        let conflicts = apply(
            Some((&second.object, &second.applied)),
            "other",
            &dep(json!([{"name": "a", "image": "a:3"}])),
            false,
        )
        .unwrap_err();
        assert_eq!(
            conflicts[0].1,
            ".spec.template.spec.containers[name=\"a\"].image"
        );
    }
}
