//! Discovery: `/version`, `/api`, `/apis`, `/apis/{group}`, the resource lists of every group
//! version (legacy discovery documents, also when a client asks for aggregated discovery:
//! clients fall back on the content type), and a minimal OpenAPI v3 that tells kubectl which
//! kinds take server-side field validation (so that it validates on the server rather than
//! fetching the OpenAPI v2 schema, which is not served).

use serde_json::{json, Value as Json};

use super::cluster::ClusterCtx;
use super::kinds::{self, api_version, Kind};
use super::objects::{stable_hash, ClusterObjects};
use super::status::KubeError;

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// `/version`.
pub(crate) fn version(cluster: &ClusterCtx) -> Json {
    let mut parts = cluster.version.split('.');
    let major = parts.next().unwrap_or("1").to_string();
    let minor = parts.next().unwrap_or("33").to_string();
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{}", cluster.version),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn server_address(cluster: &ClusterCtx) -> String {
    cluster
        .server
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
        .to_string()
}

/// `/api`.
pub(crate) fn core_versions(cluster: &ClusterCtx) -> Json {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address(cluster)}],
    })
}

fn group_doc(group: &str, versions: &[String]) -> Json {
    let entries: Vec<Json> = versions
        .iter()
        .map(|v| json!({"groupVersion": api_version(group, v), "version": v}))
        .collect();
    json!({"name": group, "versions": entries, "preferredVersion": entries[0]})
}

/// `/apis`.
pub(crate) fn groups(objects: &ClusterObjects) -> Json {
    let groups: Vec<Json> = kinds::group_versions(&kinds::served(objects))
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, versions)| group_doc(&g, &versions))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`.
pub(crate) fn group(objects: &ClusterObjects, group: &str, path: &str) -> Result<Json, KubeError> {
    let (_, versions) = kinds::group_versions(&kinds::served(objects))
        .into_iter()
        .find(|(g, _)| g == group && !g.is_empty())
        .ok_or_else(|| KubeError::no_route(path))?;
    let mut doc = group_doc(group, &versions);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Ok(doc)
}

fn resource_entry(kind: &Kind) -> Json {
    let mut entry = json!({
        "name": kind.plural,
        "singularName": kind.singular,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": VERBS,
        "storageVersionHash": format!("{:x}", stable_hash(&kind.api_version()) & 0xffff_ffff),
    });
    if !kind.short_names.is_empty() {
        entry["shortNames"] = json!(kind.short_names);
    }
    if kind.in_all {
        entry["categories"] = json!(["all"]);
    }
    entry
}

/// `/api/v1` or `/apis/{group}/{version}`.
pub(crate) fn resources(
    objects: &ClusterObjects,
    group: &str,
    version: &str,
    path: &str,
) -> Result<Json, KubeError> {
    let kinds: Vec<Kind> = kinds::served(objects)
        .into_iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if kinds.is_empty() {
        return Err(KubeError::no_route(path));
    }
    let mut entries = Vec::new();
    for kind in &kinds {
        entries.push(resource_entry(kind));
        if kind.has_status {
            entries.push(json!({"name": format!("{}/status", kind.plural), "singularName": "",
                "namespaced": kind.namespaced, "kind": kind.kind, "verbs": ["get", "patch", "update"]}));
        }
        if kind.group.is_empty() && kind.plural == "serviceaccounts" {
            entries.push(json!({"name": "serviceaccounts/token", "singularName": "", "namespaced": true,
                "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"]}));
        }
    }
    Ok(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version(group, version),
        "resources": entries,
    }))
}

fn openapi_prefix(group: &str) -> String {
    if group.is_empty() {
        "api".to_string()
    } else {
        format!("apis/{group}")
    }
}

/// `/openapi/v3`: the group versions, at URLs relative to the server's root (clients use
/// them as they are, so they carry the cluster's path prefix).
pub(crate) fn openapi_root(objects: &ClusterObjects, cluster: &ClusterCtx) -> Json {
    let prefix = cluster
        .server
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, path)| format!("/{path}"))
        .unwrap_or_default();
    let kinds = kinds::served(objects);
    let mut paths = serde_json::Map::new();
    for (group, versions) in kinds::group_versions(&kinds) {
        for version in versions {
            let gv = format!("{}/{version}", openapi_prefix(&group));
            let doc = openapi_group(&kinds, &group, &version);
            let hash = format!("{:016X}", stable_hash(&doc.to_string()));
            paths.insert(
                gv.clone(),
                json!({"serverRelativeURL": format!("{prefix}/openapi/v3/{gv}?hash={hash}")}),
            );
        }
    }
    json!({"paths": paths})
}

fn openapi_group(kinds: &[Kind], group: &str, version: &str) -> Json {
    let mut paths = serde_json::Map::new();
    for kind in kinds
        .iter()
        .filter(|k| k.group == group && k.version == version)
    {
        let base = format!("/{}/{version}", openapi_prefix(group));
        let path = if kind.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", kind.plural)
        } else {
            format!("{base}/{}/{{name}}", kind.plural)
        };
        let gvk = json!({"group": group, "version": version, "kind": kind.kind});
        let field_validation = json!({"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}});
        let operation = |verb: &str| {
            json!({"operationId": format!("{verb}{}", kind.kind), "parameters": [field_validation],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": verb, "x-kubernetes-group-version-kind": gvk})
        };
        paths.insert(
            path,
            json!({"patch": operation("patch"), "put": operation("put")}),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

/// `/openapi/v3/{api/v1 | apis/group/version}`.
pub(crate) fn openapi_group_doc(
    objects: &ClusterObjects,
    group: &str,
    version: &str,
    path: &str,
) -> Result<Json, KubeError> {
    let kinds = kinds::served(objects);
    if !kinds
        .iter()
        .any(|k| k.group == group && k.version == version)
    {
        return Err(KubeError::no_route(path));
    }
    Ok(openapi_group(&kinds, group, version))
}
