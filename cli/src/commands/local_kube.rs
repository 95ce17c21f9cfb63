//! `mesh local kube-patch|kube-delete`: an object of an AKS cluster's Kubernetes API changed
//! or deleted behind mesh's back, as someone with kubectl would (drift, for tests and demos).
//! The local cloud does the change (`kube-patch`/`kube-delete` of `/_admin/mutate`); this
//! module turns the arguments into its request and prints what changed.

use std::path::Path;

use clap::ValueEnum;
use serde_json::{json, Value as Json};

use crate::workspace::CommandError;

/// How `mesh local kube-patch` applies its patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KubePatchType {
    /// RFC 6902 JSON patch: a list of operations.
    Json,
    /// RFC 7386 JSON merge patch: an object merged in (null removes a field).
    Merge,
}

impl KubePatchType {
    fn as_str(self) -> &'static str {
        match self {
            KubePatchType::Json => "json",
            KubePatchType::Merge => "merge",
        }
    }
}

/// The object a command names: its cluster, `KIND/NAME` and namespace.
pub struct KubeObject<'a> {
    /// The cluster's name (case-insensitive).
    pub cluster: &'a str,
    /// `KIND/NAME`.
    pub object: &'a str,
    /// The namespace, for namespaced kinds (default: `default`).
    pub namespace: Option<&'a str>,
}

impl KubeObject<'_> {
    /// The request fields that name the object.
    fn request(&self, op: &str) -> Result<Json, CommandError> {
        let Some((kind, name)) = self
            .object
            .split_once('/')
            .filter(|(k, n)| !k.is_empty() && !n.is_empty() && !n.contains('/'))
        else {
            return Err(anyhow::anyhow!(
                "name the object as KIND/NAME (e.g. VirtualService/helloworld), not {:?}",
                self.object
            )
            .into());
        };
        let mut request = json!({"op": op, "cluster": self.cluster, "kind": kind, "name": name});
        if let Some(ns) = self.namespace {
            request["namespace"] = json!(ns);
        }
        Ok(request)
    }
}

/// `mesh local kube-patch`: patch the object and print each changed field.
pub async fn patch(
    base: &Path,
    data_dir: Option<&Path>,
    target: &KubeObject<'_>,
    patch_type: Option<KubePatchType>,
    patch: &str,
) -> Result<(), CommandError> {
    let patch: Json = serde_json::from_str(patch).map_err(|e| {
        anyhow::anyhow!(
            "the patch must be JSON (a list of RFC 6902 operations or a merge patch object): {e}"
        )
    })?;
    let mut request = target.request("kube-patch")?;
    request["patch"] = patch;
    if let Some(t) = patch_type {
        request["patchType"] = json!(t.as_str());
    }
    let answer = super::local::mutate(base, data_dir, request).await?;
    for line in patch_lines(&answer) {
        println!("{line}");
    }
    Ok(())
}

/// `mesh local kube-delete`: delete the object and print what went with it.
pub async fn delete(
    base: &Path,
    data_dir: Option<&Path>,
    target: &KubeObject<'_>,
) -> Result<(), CommandError> {
    let request = target.request("kube-delete")?;
    let answer = super::local::mutate(base, data_dir, request).await?;
    for line in delete_lines(&answer) {
        println!("{line}");
    }
    Ok(())
}

fn text<'a>(v: &'a Json, field: &str) -> &'a str {
    v.get(field).and_then(Json::as_str).unwrap_or_default()
}

/// `Kind namespace/name`, or `Kind name` for cluster-scoped objects.
fn object_name(v: &Json) -> String {
    match text(v, "namespace") {
        "" => format!("{} {}", text(v, "kind"), text(v, "name")),
        ns => format!("{} {ns}/{}", text(v, "kind"), text(v, "name")),
    }
}

/// What `kube-patch` prints: each changed field, before and after.
fn patch_lines(answer: &Json) -> Vec<String> {
    let what = object_name(answer);
    let cluster = text(answer, "cluster");
    let changes = answer
        .get("changes")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if changes.is_empty() {
        return vec![format!(
            "The patch changes nothing in {what} of cluster {cluster}."
        )];
    }
    let show = |v: Option<&Json>| v.map_or("(none)".to_string(), Json::to_string);
    let mut lines = vec![format!(
        "Changed {what} ({}) of cluster {cluster} in the local cloud:",
        text(answer, "apiVersion")
    )];
    lines.extend(changes.iter().map(|c| {
        format!(
            "  {}: {} -> {}",
            text(c, "path"),
            show(c.get("before")),
            show(c.get("after"))
        )
    }));
    lines
}

/// What `kube-delete` prints: the object, then what went with it (owned objects, a
/// namespace's contents).
fn delete_lines(answer: &Json) -> Vec<String> {
    let removed = answer
        .get("removed")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut lines = vec![format!(
        "Deleted {} of cluster {} in the local cloud.",
        object_name(answer),
        text(answer, "cluster")
    )];
    if removed.len() > 1 {
        lines.push("Also deleted with it:".to_string());
        lines.extend(removed[1..].iter().map(|r| format!("  {}", object_name(r))));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(object: &str) -> KubeObject<'_> {
        KubeObject {
            cluster: "c1",
            object,
            namespace: Some("sample"),
        }
    }

    #[test]
    fn objects_are_named_kind_slash_name() {
        let request = target("virtualservices.networking.istio.io/helloworld")
            .request("kube-patch")
            .unwrap();
        assert_eq!(
            request,
            json!({"op": "kube-patch", "cluster": "c1", "kind": "virtualservices.networking.istio.io",
                "name": "helloworld", "namespace": "sample"})
        );
        for bad in ["helloworld", "/x", "Deployment/", "a/b/c"] {
            assert!(target(bad).request("kube-delete").is_err(), "{bad}");
        }
    }

    #[test]
    fn changes_print_before_and_after() {
        let answer = json!({"cluster": "cluster1", "kind": "VirtualService", "namespace": "sample",
            "name": "helloworld", "apiVersion": "networking.istio.io/v1",
            "changes": [{"path": "spec.http[0].route[0].weight", "before": 50, "after": 90},
                        {"path": "metadata.labels.by", "after": "hand"}]});
        assert_eq!(
            patch_lines(&answer),
            [
                "Changed VirtualService sample/helloworld (networking.istio.io/v1) of cluster cluster1 in the local cloud:",
                "  spec.http[0].route[0].weight: 50 -> 90",
                "  metadata.labels.by: (none) -> \"hand\"",
            ]
        );
        let nothing = json!({"cluster": "c", "kind": "Namespace", "name": "foo", "changes": []});
        assert_eq!(
            patch_lines(&nothing),
            ["The patch changes nothing in Namespace foo of cluster c."]
        );
    }

    #[test]
    fn deletes_print_what_went_along() {
        let answer = json!({"cluster": "c", "kind": "Deployment", "namespace": "ns", "name": "web",
            "removed": [{"kind": "Deployment", "namespace": "ns", "name": "web"},
                        {"kind": "ReplicaSet", "namespace": "ns", "name": "web-abc"}]});
        assert_eq!(
            delete_lines(&answer),
            [
                "Deleted Deployment ns/web of cluster c in the local cloud.",
                "Also deleted with it:",
                "  ReplicaSet ns/web-abc",
            ]
        );
    }
}
