//! ARM semantics shared by every resource type: routing of resource IDs, parents,
//! provisioningState, long-running operations, cascading deletes, conflicts and ARM-shaped
//! errors. Type-specific rules come from the [`ResourceBehavior`]s of [`crate::types`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value as Json};

use crate::model::{ArmErrorBody, ArmId, StoredResource};
use crate::operations::{operation_result, operation_status};
use crate::reply::Reply;
use crate::store::{Cloud, Entry, OpKind, OpStatus, Operation};
use crate::types::ResourceBehavior;

mod changes;

/// Resource behaviours by lowercase ARM type.
pub type Types = BTreeMap<String, Arc<dyn ResourceBehavior>>;

/// The tenant the local cloud pretends to belong to.
pub const TENANT_ID: &str = "00000000-0000-0000-0000-000000000000";

/// Everything one ARM request works with.
pub struct Ctx<'a> {
    /// The store (locked).
    pub cloud: &'a mut Cloud,
    /// Resource behaviours.
    pub types: &'a Types,
    /// The server's URL.
    pub base_url: &'a str,
    /// Simulated latency factor.
    pub time_factor: f64,
    /// The request's time.
    pub now: f64,
    /// The request's api-version.
    pub api_version: &'a str,
    /// Whether an operation started by this request fails (fault injection).
    pub fail_operation: bool,
}

type Result<T> = std::result::Result<T, ArmErrorBody>;

/// Serve one ARM request (`path` without the query string).
pub fn handle(ctx: &mut Ctx<'_>, method: &str, path: &str, body: &[u8]) -> Reply {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let result = route(ctx, method, path, &parts, body);
    result.unwrap_or_else(Reply::from)
}

fn route(
    ctx: &mut Ctx<'_>,
    method: &str,
    path: &str,
    parts: &[&str],
    body: &[u8],
) -> Result<Reply> {
    let read = method == "GET" || method == "HEAD";
    // Operation status URLs.
    if parts.len() == 6
        && parts[2].eq_ignore_ascii_case("providers")
        && parts[3].eq_ignore_ascii_case("Microsoft.Resources")
        && read
    {
        if parts[4].eq_ignore_ascii_case("operations") {
            return operation_status(ctx, parts[5]);
        }
        if parts[4].eq_ignore_ascii_case("operationResults") {
            return operation_result(ctx, parts[1], parts[5]);
        }
    }
    if read && parts.len() == 1 {
        let sub = subscription_body(TENANT_ID);
        return Ok(Reply::json(200, json!({ "value": [sub] })));
    }
    if read && parts.len() == 2 {
        return Ok(Reply::json(200, subscription_body(parts[1])));
    }
    if read && parts.len() == 3 && parts[2].eq_ignore_ascii_case("resourceGroups") {
        let prefix = format!("/subscriptions/{}/resourcegroups/", parts[1]).to_ascii_lowercase();
        return Ok(list(ctx, |k, id| {
            k.starts_with(&prefix) && id.is_resource_group()
        }));
    }
    if read && parts.len() == 5 && parts[4].eq_ignore_ascii_case("resources") {
        let rg = ArmId::parse(&parts[..4].join("/")).ok_or_else(|| bad_uri(path))?;
        require_group(ctx, &rg)?;
        let rg_key = rg.key();
        return Ok(list(ctx, |_, id| {
            !id.is_resource_group() && id.parent().is_some_and(|p| p.key() == rg_key)
        }));
    }
    if let Some(id) = ArmId::parse(path) {
        if id.is_subscription() {
            return Err(bad_uri(path));
        }
        return match method {
            "GET" => get(ctx, &id).map(|r| Reply::json(200, r)),
            "HEAD" => get(ctx, &id).map(|_| Reply::empty(204)),
            "PUT" => put(ctx, &id, body, false),
            "PATCH" => put(ctx, &id, body, true),
            "DELETE" => delete(ctx, &id),
            _ => Err(ArmErrorBody::new(
                405,
                "MethodNotAllowed",
                format!("The requested resource does not support http method '{method}'."),
            )),
        };
    }
    let (prefix, last) = path
        .trim_end_matches('/')
        .rsplit_once('/')
        .ok_or_else(|| bad_uri(path))?;
    match method {
        "POST" => {
            let id = ArmId::parse(prefix).ok_or_else(|| bad_uri(path))?;
            action(ctx, &id, last, body)
        }
        "GET" => collection(ctx, prefix, last).ok_or_else(|| bad_uri(path))?,
        _ => Err(bad_uri(path)),
    }
}

fn bad_uri(path: &str) -> ArmErrorBody {
    ArmErrorBody::new(
        400,
        "InvalidRequestUri",
        format!("The request URI '{path}' is not a valid Azure Resource Manager resource URI."),
    )
}

fn subscription_body(sub: &str) -> Json {
    json!({
        "id": format!("/subscriptions/{sub}"),
        "subscriptionId": sub,
        "tenantId": TENANT_ID,
        "displayName": "mesh local cloud",
        "state": "Enabled",
    })
}

fn list(ctx: &Ctx<'_>, keep: impl Fn(&str, &ArmId) -> bool) -> Reply {
    let value: Vec<Json> = ctx
        .cloud
        .resources
        .iter()
        .filter(|(k, _)| ArmId::parse(k).is_some_and(|id| keep(k, &id)))
        .map(|(_, e)| shown(ctx, &e.resource))
        .collect();
    Reply::json(200, json!({ "value": value }))
}

/// GET `{parent}/{childType}` or `{scope}/providers/{ns}/{type}`: the resources of that type.
fn collection(ctx: &Ctx<'_>, prefix: &str, last: &str) -> Option<Result<Reply>> {
    let (scope, arm_type) = match ArmId::parse(prefix) {
        Some(parent) if parent.namespace.is_some() => {
            (parent.clone(), format!("{}/{last}", parent.arm_type()))
        }
        _ => {
            let (scope, ns) = prefix.rsplit_once('/')?;
            let scope = scope
                .strip_suffix("/providers")
                .or(scope.strip_suffix("/Providers"))?;
            (ArmId::parse(scope)?, format!("{ns}/{last}"))
        }
    };
    if let Err(e) = require_group(ctx, &scope) {
        return Some(Err(e));
    }
    let scope_key = scope.key();
    let direct = scope.namespace.is_some();
    Some(Ok(list(ctx, |k, id| {
        id.arm_type().eq_ignore_ascii_case(&arm_type)
            && if direct {
                id.parent().is_some_and(|p| p.key() == scope_key)
            } else {
                k.starts_with(&scope_key)
            }
    })))
}

/// A stored resource as responses show it now: its type's view.
pub(crate) fn shown(ctx: &Ctx<'_>, resource: &StoredResource) -> Json {
    let arm_type = ArmId::parse(&resource.id)
        .map(|id| id.arm_type().to_ascii_lowercase())
        .unwrap_or_default();
    match ctx.types.get(&arm_type) {
        Some(t) => t.view(&ctx.cloud.view(ctx.base_url), resource),
        None => resource.body.clone(),
    }
}

fn behavior(ctx: &Ctx<'_>, id: &ArmId) -> Result<Arc<dyn ResourceBehavior>> {
    let arm_type = id.arm_type();
    ctx.types.get(&arm_type.to_ascii_lowercase()).cloned().ok_or_else(|| {
        ArmErrorBody::new(
            400,
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location 'local' and API version '{}' for type '{}'. The local cloud does not emulate this type.",
                ctx.api_version,
                arm_type
            ),
        )
    })
}

fn group_not_found(rg: &str) -> ArmErrorBody {
    ArmErrorBody::new(
        404,
        "ResourceGroupNotFound",
        format!("Resource group '{rg}' could not be found."),
    )
}

fn not_found(id: &ArmId) -> ArmErrorBody {
    if id.is_resource_group() {
        return group_not_found(id.name());
    }
    ArmErrorBody::new(
        404,
        "ResourceNotFound",
        format!(
            "The Resource '{}/{}' under resource group '{}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            id.arm_type(),
            id.name(),
            id.resource_group.as_deref().unwrap_or("")
        ),
    )
}

fn in_progress(id: &ArmId) -> ArmErrorBody {
    ArmErrorBody::conflict(
        "AnotherOperationInProgress",
        format!(
            "Operation on '{}' is not allowed: another operation on this or a dependent resource is in progress. Retry the request after it completes.",
            id.name()
        ),
    )
}

/// The resource group of `id` must exist (subscription-level IDs have none).
fn require_group(ctx: &Ctx<'_>, id: &ArmId) -> Result<()> {
    match id.resource_group_id() {
        Some(rg) if !ctx.cloud.resources.contains_key(&rg.key()) => {
            Err(group_not_found(id.resource_group.as_deref().unwrap_or("")))
        }
        _ => Ok(()),
    }
}

fn deleting(ctx: &Ctx<'_>, entry: &Entry) -> Option<String> {
    let op = ctx.cloud.operations.get(entry.operation.as_ref()?)?;
    (op.kind == OpKind::Delete && op.status == OpStatus::InProgress).then(|| op.id.clone())
}

fn get(ctx: &Ctx<'_>, id: &ArmId) -> Result<Json> {
    require_group(ctx, id)?;
    if !id.is_resource_group() {
        behavior(ctx, id)?;
    }
    ctx.cloud
        .resources
        .get(&id.key())
        .map(|e| shown(ctx, &e.resource))
        .ok_or_else(|| not_found(id))
}

fn check_parent(ctx: &Ctx<'_>, id: &ArmId) -> Result<()> {
    let Some(parent) = id.parent() else {
        return Ok(());
    };
    if parent.is_subscription() {
        return Ok(());
    }
    require_group(ctx, id)?;
    let Some(entry) = ctx.cloud.resources.get(&parent.key()) else {
        return Err(ArmErrorBody::new(
            404,
            "ParentResourceNotFound",
            format!(
                "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                parent.name()
            ),
        ));
    };
    if deleting(ctx, entry).is_some() {
        return Err(if parent.is_resource_group() {
            ArmErrorBody::conflict(
                "ResourceGroupBeingDeleted",
                format!("The resource group '{}' is in deprovisioning state and cannot perform this operation.", parent.name()),
            )
        } else {
            in_progress(&parent)
        });
    }
    Ok(())
}

fn parse_body(body: &[u8]) -> Result<Json> {
    let value: Json = serde_json::from_slice(body).map_err(|e| {
        ArmErrorBody::invalid(format!(
            "The request content was invalid and could not be deserialized: '{e}'."
        ))
    })?;
    if !value.is_object() {
        return Err(ArmErrorBody::invalid(
            "The request content must be a JSON object.",
        ));
    }
    Ok(value)
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Json, patch: &Json) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Json::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

fn put(ctx: &mut Ctx<'_>, id: &ArmId, raw: &[u8], patch: bool) -> Result<Reply> {
    let ty = behavior(ctx, id)?;
    check_parent(ctx, id)?;
    let key = id.key();
    let existing = ctx.cloud.resources.get(&key).cloned();
    if existing.as_ref().is_some_and(|e| e.operation.is_some()) {
        return Err(in_progress(id));
    }
    let mut body = parse_body(raw)?;
    if patch {
        let Some(existing) = &existing else {
            return Err(not_found(id));
        };
        // PATCH applies to the resource as it is now (a network's current subnets).
        let mut merged = shown(ctx, &existing.resource);
        if let Some(tags) = body.as_object_mut().and_then(|b| b.remove("tags")) {
            merged["tags"] = tags;
        }
        merge_patch(&mut merged, &body);
        body = merged;
    }
    let (accepted, changes) = {
        let view = ctx.cloud.view(ctx.base_url);
        let mut accepted =
            ty.accept_put(&view, id, existing.as_ref().map(|e| &e.resource), body)?;
        let changes = ty.changes_after_put(&view, id, &mut accepted)?;
        (accepted, changes)
    };
    // Every change is checked before anything is written: the PUT applies whole or not at all.
    let planned = changes::plan(ctx, id, changes)?;
    let creating = existing.is_none();
    let stored_id = existing
        .as_ref()
        .map(|e| e.resource.id.clone())
        .unwrap_or_else(|| id.to_id());
    let resource_body = stored_body(&stored_id, id, ty.arm_type(), accepted, creating);
    let kind = if creating {
        OpKind::Create
    } else {
        OpKind::Update
    };
    let mut holds = vec![key.clone()];
    holds.extend(planned.held_keys());
    let op = start(ctx, kind, id, &stored_id, holds, ty.provisioning_seconds());
    let resource = StoredResource {
        id: stored_id,
        body: resource_body,
    };
    ctx.cloud.resources.insert(
        key,
        Entry {
            resource: resource.clone(),
            operation: Some(op.clone()),
        },
    );
    planned.apply(ctx.cloud, &op);
    ctx.cloud.dirty = true;
    let status = if creating { 201 } else { 200 };
    Ok(Reply::json(status, shown(ctx, &resource))
        .header("Azure-AsyncOperation", op_url(ctx, id, "operations", &op))
        .retry_after(remaining(ctx, &op)))
}

/// A resource as stored: `id`, `name`, `type`, the accepted fields, and the provisioningState
/// of a create or an update in progress.
fn stored_body(
    stored_id: &str,
    id: &ArmId,
    arm_type: &str,
    accepted: Json,
    creating: bool,
) -> Json {
    let mut out = Map::new();
    out.insert("id".into(), json!(stored_id));
    out.insert("name".into(), json!(id.name()));
    out.insert("type".into(), json!(arm_type));
    if let Json::Object(fields) = accepted {
        for (k, v) in fields {
            if !matches!(k.as_str(), "id" | "name" | "type") {
                out.insert(k, v);
            }
        }
    }
    let mut body = Json::Object(out);
    let state = if creating { "Creating" } else { "Updating" };
    crate::store::set_provisioning_state(&mut body, state);
    body
}

fn start(
    ctx: &mut Ctx<'_>,
    kind: OpKind,
    id: &ArmId,
    stored_id: &str,
    holds: Vec<String>,
    seconds: f64,
) -> String {
    let op_id = uuid::Uuid::new_v4().to_string();
    let failure = ctx.fail_operation.then(|| {
        ArmErrorBody::new(
            500,
            "InternalServerError",
            "The operation failed in the local cloud (injected fault).",
        )
    });
    ctx.cloud.operations.insert(
        op_id.clone(),
        Operation {
            id: op_id.clone(),
            resource_key: id.key(),
            resource_id: stored_id.to_string(),
            kind,
            started: ctx.now,
            due: ctx.now + (seconds * ctx.time_factor).max(0.0),
            finished: None,
            status: OpStatus::InProgress,
            failure,
            holds,
        },
    );
    op_id
}

fn op_url(ctx: &Ctx<'_>, id: &ArmId, kind: &str, op: &str) -> String {
    format!(
        "{}/subscriptions/{}/providers/Microsoft.Resources/{kind}/{op}?api-version={}",
        ctx.base_url, id.subscription, ctx.api_version
    )
}

fn remaining(ctx: &Ctx<'_>, op: &str) -> f64 {
    ctx.cloud
        .operations
        .get(op)
        .map(|o| o.due - ctx.now)
        .unwrap_or(0.0)
}

fn delete(ctx: &mut Ctx<'_>, id: &ArmId) -> Result<Reply> {
    require_group(ctx, id)?;
    let ty = behavior(ctx, id)?;
    let key = id.key();
    let Some(entry) = ctx.cloud.resources.get(&key).cloned() else {
        return Ok(Reply::empty(204));
    };
    if let Some(op) = deleting(ctx, &entry) {
        // A repeated DELETE joins the one in progress.
        return Ok(Reply::empty(202)
            .header("Location", op_url(ctx, id, "operationResults", &op))
            .retry_after(remaining(ctx, &op)));
    }
    if entry.operation.is_some() {
        return Err(in_progress(id));
    }
    let below = ctx.cloud.descendants(&key);
    let mut seconds = ty.provisioning_seconds();
    {
        let view = ctx.cloud.view(ctx.base_url);
        for k in std::iter::once(&key).chain(&below) {
            let (Some(e), Some(rid)) = (ctx.cloud.resources.get(k), ArmId::parse(k)) else {
                continue;
            };
            let Some(t) = ctx.types.get(&rid.arm_type().to_ascii_lowercase()) else {
                continue;
            };
            seconds = seconds.max(t.provisioning_seconds());
            // Deleting a resource group removes everything in it, whatever uses it.
            if !id.is_resource_group() {
                t.check_delete(&view, &rid, &e.resource)?;
            }
        }
    }
    let mut holds = vec![key.clone()];
    holds.extend(below);
    let op = start(
        ctx,
        OpKind::Delete,
        id,
        &entry.resource.id,
        holds.clone(),
        seconds,
    );
    for k in &holds {
        let Some(e) = ctx.cloud.resources.get_mut(k) else {
            continue;
        };
        if let Some(previous) = e.operation.replace(op.clone()) {
            if let Some(p) = ctx.cloud.operations.get_mut(&previous) {
                if p.status == OpStatus::InProgress {
                    p.status = OpStatus::Canceled;
                    p.finished = Some(ctx.now);
                }
            }
        }
        if *k == key {
            crate::store::set_provisioning_state(&mut e.resource.body, "Deleting");
        }
    }
    ctx.cloud.dirty = true;
    Ok(Reply::empty(202)
        .header("Location", op_url(ctx, id, "operationResults", &op))
        .retry_after(remaining(ctx, &op)))
}

fn action(ctx: &mut Ctx<'_>, id: &ArmId, name: &str, raw: &[u8]) -> Result<Reply> {
    let ty = behavior(ctx, id)?;
    require_group(ctx, id)?;
    let Some(entry) = ctx.cloud.resources.get(&id.key()) else {
        return Err(not_found(id));
    };
    let body = if raw.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice::<Json>(raw).map_err(|e| {
            ArmErrorBody::invalid(format!(
                "The request content was invalid and could not be deserialized: '{e}'."
            ))
        })?)
    };
    let view = ctx.cloud.view(ctx.base_url);
    match ty.action(&view, id, &entry.resource, name, body.as_ref()) {
        Some(result) => result.map(|r| Reply::json(200, r)),
        None => Err(ArmErrorBody::new(
            404,
            "ActionNotFound",
            format!(
                "The action '{name}' is not supported for resources of type '{}'.",
                ty.arm_type()
            ),
        )),
    }
}
