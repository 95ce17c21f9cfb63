//! Polling of long-running operations: the `Azure-AsyncOperation` status document and the
//! `Location` result URL.

use serde_json::json;

use crate::arm::Ctx;
use crate::model::ArmErrorBody;
use crate::reply::Reply;
use crate::store::{rfc3339, OpKind, OpStatus};

type Result<T> = std::result::Result<T, ArmErrorBody>;

fn unknown_operation(op: &str) -> ArmErrorBody {
    ArmErrorBody::new(
        404,
        "OperationNotFound",
        format!("The operation '{op}' was not found."),
    )
}

/// Azure-AsyncOperation polling: `{status, error}`.
pub fn operation_status(ctx: &Ctx<'_>, op_id: &str) -> Result<Reply> {
    let op = ctx
        .cloud
        .operations
        .get(op_id)
        .ok_or_else(|| unknown_operation(op_id))?;
    let mut body = json!({
        "id": format!("{}/providers/Microsoft.Resources/operations/{}", op.resource_id, op.id),
        "name": op.id,
        "status": op.status.as_str(),
        "startTime": rfc3339(op.started),
    });
    if let Some(finished) = op.finished {
        body["endTime"] = json!(rfc3339(finished));
    }
    if let (OpStatus::Failed, Some(e)) = (op.status, &op.failure) {
        body["error"] = json!({"code": e.code, "message": e.message});
    }
    if op.status == OpStatus::Canceled {
        body["error"] = json!({"code": "Canceled", "message": "The operation was canceled: the resource was deleted."});
    }
    let reply = Reply::json(200, body);
    Ok(if op.status == OpStatus::InProgress {
        reply.retry_after(op.due - ctx.now)
    } else {
        reply
    })
}

/// Location polling: 202 while running, then 200 with the resource (PUT) or 204 (DELETE),
/// or the operation's error.
pub fn operation_result(ctx: &Ctx<'_>, sub: &str, op_id: &str) -> Result<Reply> {
    let op = ctx
        .cloud
        .operations
        .get(op_id)
        .ok_or_else(|| unknown_operation(op_id))?;
    match op.status {
        OpStatus::InProgress => Ok(Reply::empty(202)
            .header(
                "Location",
                format!(
                    "{}/subscriptions/{sub}/providers/Microsoft.Resources/operationResults/{op_id}?api-version={}",
                    ctx.base_url, ctx.api_version
                ),
            )
            .retry_after(op.due - ctx.now)),
        OpStatus::Failed => Err(op.failure.clone().unwrap_or_else(|| {
            ArmErrorBody::new(500, "InternalServerError", "The operation failed.")
        })),
        OpStatus::Canceled => Err(ArmErrorBody::conflict("Canceled", "The operation was canceled: the resource was deleted.")),
        OpStatus::Succeeded if op.kind == OpKind::Delete => Ok(Reply::empty(204)),
        OpStatus::Succeeded => match ctx.cloud.resources.get(&op.resource_key) {
            Some(e) => Ok(Reply::json(200, crate::arm::shown(ctx, &e.resource))),
            None => Ok(Reply::empty(204)),
        },
    }
}
