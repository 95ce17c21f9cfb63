//! The verbs on resource paths: get, list (selectors, all namespaces, Table for kubectl),
//! create, replace, patch (server-side apply, merge, JSON and strategic merge patches),
//! delete and deletecollection, the `/status` subresource, and TokenRequests.

use serde_json::{json, Value as Json};

use super::apply::apply;
use super::cluster::ClusterCtx;
use super::controllers::issue_token;
use super::kinds::{self, Kind};
use super::objects::{key, meta_str, timestamp, ClusterObjects};
use super::patch;
use super::path::{ObjectPath, Query};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::KubeError;
use super::table;
use super::writes::{check_type, Part, Writer};
use crate::reply::Reply;

/// A request on a resource path.
pub(crate) struct Request<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The path.
    pub path: &'a ObjectPath,
    /// Query parameters.
    pub query: &'a Query,
    /// `Content-Type`.
    pub content_type: &'a str,
    /// `Accept`.
    pub accept: &'a str,
    /// The body.
    pub body: &'a [u8],
}

type Result<T> = std::result::Result<T, KubeError>;

/// Parse a JSON or YAML body (protobuf, which kubectl's imperative commands send, is not
/// taken: 415).
pub(crate) fn parse_body(body: &[u8]) -> Result<Json> {
    if body.starts_with(b"k8s\0") {
        return Err(KubeError::protobuf());
    }
    if let Ok(v) = serde_json::from_slice::<Json>(body) {
        return Ok(v);
    }
    serde_yaml::from_slice::<Json>(body).map_err(|e| {
        KubeError::bad_request(format!("the request body is neither JSON nor YAML: {e}"))
    })
}

/// An object as served at `kind`'s version.
pub(crate) fn present(kind: &Kind, mut object: Json) -> Json {
    if let Some(o) = object.as_object_mut() {
        o.insert("apiVersion".into(), json!(kind.api_version()));
        o.insert("kind".into(), json!(kind.kind));
    }
    object
}

/// The selectors of a request.
pub(crate) fn selectors(query: &Query) -> Result<(LabelSelector, FieldSelector)> {
    let labels = LabelSelector::parse(query.label_selector.as_deref().unwrap_or(""))
        .map_err(KubeError::bad_request)?;
    let fields = FieldSelector::parse(query.field_selector.as_deref().unwrap_or(""))
        .map_err(KubeError::bad_request)?;
    Ok((labels, fields))
}

/// The kind a path names, checked against the path's scope.
pub(crate) fn resolve(
    objects: &ClusterObjects,
    path: &ObjectPath,
    request_path: &str,
) -> Result<Kind> {
    let kind = kinds::resolve(objects, &path.group, &path.version, &path.plural)
        .ok_or_else(|| KubeError::no_route(request_path))?;
    let scoped_wrong = match (&path.namespace, &path.name) {
        (Some(_), _) => !kind.namespaced,
        // Namespaced kinds are listed across namespaces without one; objects need it.
        (None, Some(_)) => kind.namespaced,
        (None, None) => false,
    };
    if scoped_wrong {
        return Err(KubeError::no_route(request_path));
    }
    Ok(kind)
}

fn object_key(kind: &Kind, path: &ObjectPath) -> String {
    key(
        &kind.group,
        &kind.plural,
        path.namespace.as_deref().unwrap_or(""),
        path.name.as_deref().unwrap_or(""),
    )
}

fn part(path: &ObjectPath, kind: &Kind, request_path: &str) -> Result<Part> {
    match path.sub.as_deref() {
        None => Ok(Part::Main),
        Some("status") if kind.has_status => Ok(Part::Status),
        Some(_) => Err(KubeError::no_route(request_path)),
    }
}

/// Serve a request on a resource path.
pub(crate) fn handle(
    objects: &mut ClusterObjects,
    cluster: &ClusterCtx,
    req: &Request<'_>,
    request_path: &str,
) -> Result<Reply> {
    let kind = resolve(objects, req.path, request_path)?;
    let mut w = Writer {
        objects,
        cluster,
        dry_run: req.query.dry_run,
    };
    let p = req.path;
    match (req.method, &p.name, p.sub.as_deref()) {
        ("GET", None, _) => list(&w, &kind, req),
        ("GET", Some(_), _) => {
            part(p, &kind, request_path)?;
            get(&w, &kind, req)
        }
        ("POST", None, _) => {
            let body = parse_body(req.body)?;
            let created = w.create(&kind, p.namespace.as_deref(), body, Default::default())?;
            Ok(Reply::json(201, present(&kind, created)))
        }
        ("POST", Some(name), Some("token"))
            if kind.plural == "serviceaccounts" && kind.group.is_empty() =>
        {
            token_request(&w, p.namespace.as_deref().unwrap_or(""), name, req.body)
        }
        ("PUT", Some(_), _) => {
            let part = part(p, &kind, request_path)?;
            let body = parse_body(req.body)?;
            let updated = w.update(&kind, &object_key(&kind, p), body, part, None)?;
            Ok(Reply::json(200, present(&kind, updated)))
        }
        ("PATCH", Some(_), _) => {
            let part = part(p, &kind, request_path)?;
            patch_object(&mut w, &kind, req, part)
        }
        ("DELETE", Some(name), None) => {
            let options = DeleteOptions::read(req)?;
            w.dry_run |= options.dry_run;
            let key = object_key(&kind, p);
            if let Some(stored) = w.objects.get(&key) {
                if !options.allows(&stored.object) {
                    return Err(KubeError::conflict(&kind, name));
                }
            }
            let deleted = w.delete(&kind, &key, options.orphan)?;
            Ok(Reply::json(200, present(&kind, deleted)))
        }
        ("DELETE", None, _) => delete_collection(&mut w, &kind, req),
        (method, _, _) => Err(KubeError::method_not_allowed(method)),
    }
}

fn get(w: &Writer<'_>, kind: &Kind, req: &Request<'_>) -> Result<Reply> {
    let name = req.path.name.as_deref().unwrap_or("");
    let stored = w
        .objects
        .get(&object_key(kind, req.path))
        .ok_or_else(|| KubeError::not_found(kind, name))?;
    let object = present(kind, stored.object.clone());
    if table::wanted(req.accept) {
        let revision = meta_str(&object, "resourceVersion").to_string();
        return Ok(Reply::json(
            200,
            table::render(kind, &[object], &revision, w.cluster.now),
        ));
    }
    Ok(Reply::json(200, object))
}

/// The objects of `kind` a list or watch request covers, in key order.
pub(crate) fn matching(
    objects: &ClusterObjects,
    kind: &Kind,
    namespace: Option<&str>,
    query: &Query,
) -> Result<Vec<(String, Json)>> {
    let (labels, fields) = selectors(query)?;
    let prefix = match namespace {
        Some(ns) => format!("{}{ns}/", kind.key_prefix()),
        None => kind.key_prefix(),
    };
    Ok(objects
        .with_prefix(&prefix)
        .filter(|(_, s)| labels.matches(&s.object) && fields.matches(&s.object))
        .map(|(k, s)| (k.clone(), present(kind, s.object.clone())))
        .collect())
}

fn list(w: &Writer<'_>, kind: &Kind, req: &Request<'_>) -> Result<Reply> {
    let items: Vec<Json> = matching(w.objects, kind, req.path.namespace.as_deref(), req.query)?
        .into_iter()
        .map(|(_, o)| o)
        .collect();
    let revision = w.objects.revision.to_string();
    if table::wanted(req.accept) {
        return Ok(Reply::json(
            200,
            table::render(kind, &items, &revision, w.cluster.now),
        ));
    }
    Ok(Reply::json(
        200,
        json!({
            "apiVersion": kind.api_version(),
            "kind": format!("{}List", kind.kind),
            "metadata": {"resourceVersion": revision},
            "items": items,
        }),
    ))
}

/// DeleteOptions, from the query and the body (where kube-rs and kubectl put them).
struct DeleteOptions {
    orphan: bool,
    dry_run: bool,
    uid: Option<String>,
    resource_version: Option<String>,
}

impl DeleteOptions {
    fn read(req: &Request<'_>) -> Result<DeleteOptions> {
        let body = if req.body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            parse_body(req.body)?
        };
        let policy = body["propagationPolicy"]
            .as_str()
            .or(req.query.propagation_policy.as_deref());
        let text = |p: &str| body.pointer(p).and_then(Json::as_str).map(str::to_string);
        Ok(DeleteOptions {
            orphan: policy == Some("Orphan") || body["orphanDependents"] == json!(true),
            dry_run: req.query.dry_run
                || body["dryRun"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|v| v == "All")),
            uid: text("/preconditions/uid"),
            resource_version: text("/preconditions/resourceVersion"),
        })
    }

    /// Whether the preconditions hold for `object`.
    fn allows(&self, object: &Json) -> bool {
        let holds = |want: &Option<String>, field: &str| {
            want.as_deref().is_none_or(|w| w == meta_str(object, field))
        };
        holds(&self.uid, "uid") && holds(&self.resource_version, "resourceVersion")
    }
}

fn delete_collection(w: &mut Writer<'_>, kind: &Kind, req: &Request<'_>) -> Result<Reply> {
    let options = DeleteOptions::read(req)?;
    w.dry_run |= options.dry_run;
    let orphan = options.orphan;
    let mut deleted = Vec::new();
    for (k, _) in matching(w.objects, kind, req.path.namespace.as_deref(), req.query)? {
        if let Ok(object) = w.delete(kind, &k, orphan) {
            deleted.push(present(kind, object));
        }
    }
    Ok(Reply::json(
        200,
        json!({"apiVersion": kind.api_version(), "kind": format!("{}List", kind.kind),
            "metadata": {"resourceVersion": w.objects.revision.to_string()}, "items": deleted}),
    ))
}

fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn patch_object(w: &mut Writer<'_>, kind: &Kind, req: &Request<'_>, part: Part) -> Result<Reply> {
    let media = media_type(req.content_type);
    if media == "application/apply-patch+yaml" {
        return server_side_apply(w, kind, req, part);
    }
    let key = object_key(kind, req.path);
    let name = req.path.name.as_deref().unwrap_or("");
    let patch_body = parse_body(req.body)?;
    let current = w
        .objects
        .get(&key)
        .map(|s| present(kind, s.object.clone()))
        .ok_or_else(|| KubeError::not_found(kind, name))?;
    let mut object = current.clone();
    match media.as_str() {
        "application/merge-patch+json" => patch::merge(&mut object, &patch_body),
        "application/strategic-merge-patch+json" => patch::strategic(&mut object, &patch_body),
        "application/json-patch+json" => patch::json_patch(&mut object, &patch_body)
            .map_err(|e| KubeError::invalid(kind, name, "patch", &e))?,
        _ => return Err(KubeError::unsupported_media_type(req.content_type)),
    }
    // A patch that names no resourceVersion is not a precondition.
    if patch_body.pointer("/metadata/resourceVersion").is_none() {
        if let Some(rv) = current.pointer("/metadata/resourceVersion") {
            object["metadata"]["resourceVersion"] = rv.clone();
        }
    }
    let updated = w.update(kind, &key, object, part, None)?;
    Ok(Reply::json(200, present(kind, updated)))
}

/// The configuration an apply request sends, reduced to what it may set.
fn apply_config(kind: &Kind, mut config: Json, part: Part) -> Result<Json> {
    check_type(kind, &mut config)?;
    if let Some(meta) = config.get_mut("metadata").and_then(Json::as_object_mut) {
        for field in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
            "selfLink",
        ] {
            meta.remove(field);
        }
    }
    let Some(obj) = config.as_object_mut() else {
        return Err(KubeError::bad_request(
            "the apply configuration must be an object",
        ));
    };
    match part {
        Part::Main if kind.has_status => {
            obj.remove("status");
        }
        Part::Main => {}
        Part::Status => {
            obj.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"))
        }
    }
    Ok(config)
}

fn server_side_apply(
    w: &mut Writer<'_>,
    kind: &Kind,
    req: &Request<'_>,
    part: Part,
) -> Result<Reply> {
    let Some(manager) = req.query.field_manager.clone() else {
        return Err(KubeError::bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"));
    };
    let name = req.path.name.clone().unwrap_or_default();
    let raw = parse_body(req.body)?;
    let precondition = raw
        .pointer("/metadata/resourceVersion")
        .and_then(Json::as_str)
        .map(str::to_string);
    let config = apply_config(kind, raw, part)?;
    let given = meta_str(&config, "name");
    if given != name {
        return Err(KubeError::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        )));
    }
    let manager = match part {
        Part::Main => manager,
        Part::Status => format!("{manager}|status"),
    };
    let key = object_key(kind, req.path);
    let current = w.objects.get(&key).cloned().map(|mut s| {
        s.object = present(kind, s.object);
        s
    });
    if let (Some(expected), Some(stored)) = (&precondition, &current) {
        if meta_str(&stored.object, "resourceVersion") != expected {
            return Err(KubeError::conflict(kind, &name));
        }
    }
    let current_ref = current.as_ref().map(|s| (&s.object, &s.applied));
    let result = apply(current_ref, &manager, &config, req.query.force)
        .map_err(|conflicts| KubeError::apply_conflict(kind, &name, &conflicts))?;
    if current.is_none() {
        if part == Part::Status {
            return Err(KubeError::not_found(kind, &name));
        }
        let created = w.create(
            kind,
            req.path.namespace.as_deref(),
            result.object,
            result.applied,
        )?;
        return Ok(Reply::json(201, present(kind, created)));
    }
    let updated = w.update(kind, &key, result.object, part, Some(result.applied))?;
    Ok(Reply::json(200, present(kind, updated)))
}

/// `POST serviceaccounts/{name}/token`: a TokenRequest answered with a token.
fn token_request(w: &Writer<'_>, namespace: &str, name: &str, body: &[u8]) -> Result<Reply> {
    let sa_kind = kinds::builtin("", "serviceaccounts")
        .ok_or_else(|| KubeError::internal("no service accounts"))?;
    let sa = w
        .objects
        .get(&key("", "serviceaccounts", namespace, name))
        .ok_or_else(|| KubeError::not_found(&sa_kind, name))?;
    let request = if body.is_empty() {
        json!({})
    } else {
        parse_body(body)?
    };
    let audiences: Vec<String> = request
        .pointer("/spec/audiences")
        .and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let seconds = request
        .pointer("/spec/expirationSeconds")
        .and_then(Json::as_i64)
        .unwrap_or(3600)
        .max(600);
    // Expiry is in wall-clock time: clients compare it with their clock.
    let expires = w.cluster.now + seconds as f64;
    let token = issue_token(w.objects, w.cluster, &sa.object, &audiences, Some(expires));
    Ok(Reply::json(
        201,
        json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": null},
            "spec": {"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": request.pointer("/spec/boundObjectRef").cloned()},
            "status": {"token": token, "expirationTimestamp": timestamp(expires)},
        }),
    ))
}
