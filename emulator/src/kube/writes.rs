//! Writes with the API server's semantics, shared by requests and controllers: creating
//! (names, namespace existence, uid, creationTimestamp, generation), updating (preconditions,
//! status kept apart, generation bumps, no-op updates that change nothing), deleting
//! (namespaces and CRDs take their contents along; dependents go through ownerReferences),
//! and admission ([`super::controllers::admit`]) on every create and update.
//!
//! Finalizers are not honoured: deleted objects go at once.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::cluster::ClusterCtx;
use super::controllers;
use super::kinds::{Kind, CRDS, CRD_GROUP};
use super::objects::{
    key, meta, meta_str, remove_meta, set_meta, spec_part, split_key, timestamp, ClusterObjects,
    Stored,
};
use super::status::KubeError;

/// Which part of an object an update writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// Everything but the status (of kinds with a status subresource).
    Main,
    /// Only the status (`/status`).
    Status,
}

/// Writes to one cluster's objects.
pub(crate) struct Writer<'a> {
    /// The store.
    pub objects: &'a mut ClusterObjects,
    /// The cluster.
    pub cluster: &'a ClusterCtx,
    /// Check and compute, but store nothing (`dryRun=All`).
    pub dry_run: bool,
}

/// Characters Kubernetes uses for generated name suffixes.
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `n` random characters for generated names.
pub(crate) fn random_suffix(n: usize) -> String {
    (0..n)
        .map(|_| SAFE[fastrand::usize(..SAFE.len())] as char)
        .collect()
}

fn dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// Why `name` cannot name an object of `kind`.
fn name_problem(kind: &Kind, name: &str) -> Option<String> {
    let label_kinds = ["namespaces", "services"];
    if kind.group.is_empty() && label_kinds.contains(&kind.plural.as_str()) {
        return (!dns_label(name)).then(|| format!("Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"));
    }
    let bad =
        name.len() > 253 || name == "." || name == ".." || name.contains('/') || name.contains('%');
    bad.then(|| format!("Invalid value: \"{name}\": may not contain '/' or '%' and must be at most 253 characters"))
}

/// Check `object`'s apiVersion and kind against `kind` (filling them in when missing).
pub(crate) fn check_type(kind: &Kind, object: &mut Json) -> Result<(), KubeError> {
    let name = meta_str(object, "name").to_string();
    let Some(obj) = object.as_object_mut() else {
        return Err(KubeError::bad_request(
            "the request body must be a JSON or YAML object",
        ));
    };
    match obj.get("kind").and_then(Json::as_str) {
        None | Some("") => {
            obj.insert("kind".into(), json!(kind.kind));
        }
        Some(k) if k == kind.kind => {}
        Some(k) => {
            return Err(KubeError::invalid(
                kind,
                &name,
                "kind",
                &format!("Invalid value: \"{k}\": must be {}", kind.kind),
            ))
        }
    }
    match obj.get("apiVersion").and_then(Json::as_str) {
        None | Some("") => {
            obj.insert("apiVersion".into(), json!(kind.api_version()));
        }
        Some(v) if v == kind.api_version() => {}
        Some(v) => {
            return Err(KubeError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({})",
                kind.api_version()
            )))
        }
    }
    Ok(())
}

/// Whether the namespace `name` exists.
pub(crate) fn namespace_exists(objects: &ClusterObjects, name: &str) -> bool {
    objects.get(&key("", "namespaces", "", name)).is_some()
}

impl Writer<'_> {
    fn store(&mut self, key: &str, stored: Stored) -> Json {
        if self.dry_run {
            return stored.object;
        }
        self.objects.write(key, stored)
    }

    /// Create an object of `kind` (in `namespace` for namespaced kinds), with the
    /// server-side apply configurations `applied`.
    pub fn create(
        &mut self,
        kind: &Kind,
        namespace: Option<&str>,
        mut object: Json,
        applied: BTreeMap<String, Json>,
    ) -> Result<Json, KubeError> {
        check_type(kind, &mut object)?;
        let mut name = meta_str(&object, "name").to_string();
        if name.is_empty() {
            let prefix = meta_str(&object, "generateName").to_string();
            if prefix.is_empty() {
                return Err(KubeError::invalid(
                    kind,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
            name = format!("{prefix}{}", random_suffix(5));
            set_meta(&mut object, "name", json!(name));
        }
        if let Some(problem) = name_problem(kind, &name) {
            return Err(KubeError::invalid(kind, &name, "metadata.name", &problem));
        }
        let namespace = self.namespace_of(kind, namespace, &mut object)?;
        let key = key(&kind.group, &kind.plural, &namespace, &name);
        if self.objects.get(&key).is_some() {
            return Err(KubeError::already_exists(kind, &name));
        }
        for field in [
            "resourceVersion",
            "managedFields",
            "deletionTimestamp",
            "selfLink",
        ] {
            remove_meta(&mut object, field);
        }
        set_meta(&mut object, "uid", json!(uuid::Uuid::new_v4().to_string()));
        set_meta(
            &mut object,
            "creationTimestamp",
            json!(timestamp(self.cluster.now)),
        );
        set_meta(&mut object, "generation", json!(1));
        if kind.has_status {
            if let Some(o) = object.as_object_mut() {
                o.remove("status");
            }
        }
        let due = controllers::admit(self.objects, self.cluster, kind, None, &mut object)?;
        let stored = self.store(
            &key,
            Stored {
                object,
                applied,
                due,
            },
        );
        if !self.dry_run {
            controllers::after_write(self, kind, &key);
        }
        Ok(stored)
    }

    /// The namespace an object of `kind` is written to (set in the object), checked.
    fn namespace_of(
        &self,
        kind: &Kind,
        namespace: Option<&str>,
        object: &mut Json,
    ) -> Result<String, KubeError> {
        if !kind.namespaced {
            remove_meta(object, "namespace");
            return Ok(String::new());
        }
        let given = meta_str(object, "namespace").to_string();
        let namespace = match namespace {
            Some(ns) if !given.is_empty() && given != ns => {
                return Err(KubeError::bad_request("the namespace of the provided object does not match the namespace sent on the request"))
            }
            Some(ns) => ns.to_string(),
            None if !given.is_empty() => given,
            None => "default".to_string(),
        };
        if !namespace_exists(self.objects, &namespace) {
            return Err(KubeError::namespace_not_found(&namespace));
        }
        set_meta(object, "namespace", json!(namespace));
        Ok(namespace)
    }

    /// Replace the object under `key` with `new` (its `part`); `applied` replaces the
    /// server-side apply configurations when given. A `metadata.resourceVersion` in `new`
    /// must be the current one.
    pub fn update(
        &mut self,
        kind: &Kind,
        key: &str,
        mut new: Json,
        part: Part,
        applied: Option<BTreeMap<String, Json>>,
    ) -> Result<Json, KubeError> {
        let (_, _, namespace, name) = split_key(key).unwrap_or_default();
        let (namespace, name) = (namespace.to_string(), name.to_string());
        let Some(old) = self.objects.get(key).cloned() else {
            return Err(KubeError::not_found(kind, &name));
        };
        check_type(kind, &mut new)?;
        let given_name = meta_str(&new, "name");
        if !given_name.is_empty() && given_name != name {
            return Err(KubeError::bad_request(format!(
                "the name of the object ({given_name}) does not match the name on the URL ({name})"
            )));
        }
        let given_ns = meta_str(&new, "namespace");
        if kind.namespaced && !given_ns.is_empty() && given_ns != namespace {
            return Err(KubeError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
        }
        let expected = meta_str(&old.object, "resourceVersion");
        let given_rv = meta_str(&new, "resourceVersion");
        if !given_rv.is_empty() && given_rv != expected {
            return Err(KubeError::conflict(kind, &name));
        }
        let mut object = match part {
            Part::Status => {
                let mut o = old.object.clone();
                o["status"] = new.get("status").cloned().unwrap_or(Json::Null);
                o
            }
            Part::Main => {
                if kind.has_status {
                    match old.object.get("status") {
                        Some(status) => new["status"] = status.clone(),
                        None => {
                            if let Some(o) = new.as_object_mut() {
                                o.remove("status");
                            }
                        }
                    }
                }
                new
            }
        };
        if object.get("status") == Some(&Json::Null) {
            if let Some(o) = object.as_object_mut() {
                o.remove("status");
            }
        }
        for field in [
            "uid",
            "creationTimestamp",
            "generation",
            "resourceVersion",
            "name",
        ] {
            match meta(&old.object, field) {
                Some(v) => set_meta(&mut object, field, v.clone()),
                None => remove_meta(&mut object, field),
            }
        }
        if kind.namespaced {
            set_meta(&mut object, "namespace", json!(namespace));
        } else {
            remove_meta(&mut object, "namespace");
        }
        remove_meta(&mut object, "managedFields");
        // Objects are stored at the version they were created with and shown at the version
        // asked for: a write through another version changes nothing by itself.
        object["apiVersion"] = old.object["apiVersion"].clone();
        if spec_part(&object) != spec_part(&old.object) {
            let generation = meta(&old.object, "generation")
                .and_then(Json::as_i64)
                .unwrap_or(0);
            set_meta(&mut object, "generation", json!(generation + 1));
        }
        let due = controllers::admit(
            self.objects,
            self.cluster,
            kind,
            Some(&old.object),
            &mut object,
        )?;
        let applied = applied.unwrap_or_else(|| old.applied.clone());
        if object == old.object && applied == old.applied {
            return Ok(old.object);
        }
        let due = due.or(old.due);
        let stored = self.store(
            key,
            Stored {
                object,
                applied,
                due,
            },
        );
        if !self.dry_run {
            controllers::after_write(self, kind, key);
        }
        Ok(stored)
    }

    /// Set the status of the object under `key` as a controller does (no admission); whether
    /// it changed.
    pub fn set_status(&mut self, key: &str, status: Json) -> bool {
        let Some(mut stored) = self.objects.get(key).cloned() else {
            return false;
        };
        if stored.object.get("status") == Some(&status) {
            return false;
        }
        stored.object["status"] = status;
        self.store(key, stored);
        true
    }

    /// Change the object under `key` as a controller does (no admission, same generation
    /// rules); whether it changed.
    pub fn modify(&mut self, key: &str, change: impl FnOnce(&mut Json)) -> bool {
        let Some(mut stored) = self.objects.get(key).cloned() else {
            return false;
        };
        let before = stored.object.clone();
        change(&mut stored.object);
        if stored.object == before {
            return false;
        }
        if spec_part(&stored.object) != spec_part(&before) {
            let generation = meta(&before, "generation")
                .and_then(Json::as_i64)
                .unwrap_or(0);
            set_meta(&mut stored.object, "generation", json!(generation + 1));
        }
        self.store(key, stored);
        true
    }

    /// Delete the object under `key`, what it contains (a namespace's objects, a CRD's custom
    /// resources) and, unless `orphan`, its dependents; the deleted object.
    pub fn delete(&mut self, kind: &Kind, key: &str, orphan: bool) -> Result<Json, KubeError> {
        let (_, _, _, name) = split_key(key).unwrap_or_default();
        let Some(stored) = self.objects.get(key) else {
            return Err(KubeError::not_found(kind, name));
        };
        let mut object = stored.object.clone();
        if self.dry_run {
            return Ok(object);
        }
        let mut contained = Vec::new();
        if kind.group.is_empty() && kind.plural == "namespaces" {
            contained = self
                .objects
                .objects
                .keys()
                .filter(|k| split_key(k).is_some_and(|(_, _, ns, _)| ns == name))
                .cloned()
                .collect();
        }
        if kind.group == CRD_GROUP && kind.plural == CRDS {
            let group = object
                .pointer("/spec/group")
                .and_then(Json::as_str)
                .unwrap_or("");
            let plural = object
                .pointer("/spec/names/plural")
                .and_then(Json::as_str)
                .unwrap_or("");
            contained = self.objects.keys_with_prefix(&format!("{group}/{plural}/"));
        }
        if let Some(deleted) = self.objects.remove(key) {
            object = deleted;
        }
        let mut uids = vec![meta_str(&object, "uid").to_string()];
        for k in contained {
            if let Some(gone) = self.objects.remove(&k) {
                uids.push(meta_str(&gone, "uid").to_string());
            }
        }
        if !orphan {
            self.collect_garbage(uids);
        }
        Ok(object)
    }

    /// Delete, transitively, the objects owned by the objects with these uids.
    fn collect_garbage(&mut self, mut uids: Vec<String>) {
        while let Some(uid) = uids.pop() {
            let owned: Vec<String> = self
                .objects
                .objects
                .iter()
                .filter(|(_, s)| {
                    meta(&s.object, "ownerReferences")
                        .and_then(Json::as_array)
                        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == json!(uid)))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in owned {
                if let Some(gone) = self.objects.remove(&k) {
                    uids.push(meta_str(&gone, "uid").to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::kinds;
    use super::*;

    #[test]
    fn names_follow_the_kinds_rules() {
        let ns = kinds::builtin("", "namespaces").unwrap();
        assert!(name_problem(&ns, "istio-system").is_none());
        assert!(name_problem(&ns, "Bad").is_some());
        let role = kinds::builtin("rbac.authorization.k8s.io", "clusterroles").unwrap();
        assert!(name_problem(&role, "system:reader").is_none());
        assert!(name_problem(&role, "a/b").is_some());
    }

    #[test]
    fn types_are_checked_and_filled_in() {
        let cm = kinds::builtin("", "configmaps").unwrap();
        let mut o = json!({"metadata": {"name": "x"}});
        check_type(&cm, &mut o).unwrap();
        assert_eq!(
            (o["kind"].as_str(), o["apiVersion"].as_str()),
            (Some("ConfigMap"), Some("v1"))
        );
        let mut o = json!({"kind": "Secret", "metadata": {"name": "x"}});
        assert_eq!(check_type(&cm, &mut o).unwrap_err().code, 422);
    }
}
