//! Following long-running operations to a terminal state.
//!
//! ARM's patterns (see the `x-ms-long-running-operation-options` of each operation in the REST
//! specs):
//! - `Azure-AsyncOperation: {url}` on a 200/201/202: GET it until `status` is terminal
//!   (`Succeeded`, `Failed`, `Canceled`); anything else (`InProgress`, `Accepted`, ...) means wait.
//! - else `Location: {url}` on a 202: GET it; 202 means still running, 200/201/204 done (its body
//!   is a POST's result), an error status is the failure.
//! - else a PUT/PATCH whose body's `properties.provisioningState` is not terminal, or a DELETE
//!   answered 202 without headers: GET the resource until it settles (or, for DELETE, is gone).
//!
//! After a PUT or PATCH the resource itself is read back with a GET and its
//! `properties.provisioningState` checked (`Failed`/`Canceled` are errors). Waits honour
//! `Retry-After` (capped by [`RetryPolicy::max_poll_interval`](super::RetryPolicy)), default to
//! [`RetryPolicy::poll_interval`](super::RetryPolicy) growing by half per poll, and are cancellable.

use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use super::request_log::path_of;
use super::retry::{retry_after, sleep, Reply};
use super::{ArmClient, ArmError, Method};

/// The terminal provisioning states; anything else (Creating, Updating, Deleting, Accepted...)
/// is still in progress. A body without a provisioning state is settled.
fn provisioning_state(body: &Json) -> Option<&str> {
    body.pointer("/properties/provisioningState")
        .and_then(Json::as_str)
}

fn is_terminal(state: &str) -> bool {
    ["succeeded", "failed", "canceled", "cancelled"]
        .iter()
        .any(|t| state.eq_ignore_ascii_case(t))
}

fn is_failure(state: &str) -> bool {
    !state.eq_ignore_ascii_case("succeeded") && is_terminal(state)
}

/// Pacing of one operation's polls.
struct Pacer<'a> {
    client: &'a ArmClient,
    started: Instant,
    default: Duration,
}

impl Pacer<'_> {
    /// Wait before the next poll: the server's `Retry-After` (capped) or the growing default.
    async fn wait(&mut self, reply: &Reply, cancel: &CancellationToken) -> Result<(), ArmError> {
        let policy = &self.client.policy;
        if self.started.elapsed() > policy.operation_timeout {
            return Err(ArmError::new(
                0,
                "OperationTimedOut",
                format!(
                    "the long-running operation did not finish within {} s",
                    policy.operation_timeout.as_secs()
                ),
            ));
        }
        let (wait, hinted) = match retry_after(&reply.headers) {
            Some(d) => (d.min(policy.max_poll_interval), true),
            None => {
                let d = self.default;
                self.default = policy.next_poll(d);
                (d, false)
            }
        };
        tracing::debug!(
            wait_ms = wait.as_millis() as u64,
            retry_after = hinted,
            elapsed_ms = self.started.elapsed().as_millis() as u64,
            "long-running operation: waiting to poll"
        );
        sleep(wait, cancel).await
    }
}

impl ArmClient {
    /// Follow the operation `first` (the response to `method` on `url`) started; returns the
    /// final body: the resource (PUT/PATCH), the action's result (POST), or null (DELETE).
    pub(crate) async fn follow(
        &self,
        method: Method,
        url: &str,
        first: Reply,
        cancel: &CancellationToken,
    ) -> Result<Json, ArmError> {
        let mut pacer = Pacer {
            client: self,
            started: Instant::now(),
            default: self.policy.poll_interval,
        };
        let async_op = first.header("azure-asyncoperation").map(str::to_string);
        let location = (first.status == 202)
            .then(|| first.header("location").map(str::to_string))
            .flatten();
        let pattern = match (&async_op, &location) {
            (Some(_), _) => "azure-asyncoperation",
            (None, Some(_)) => "location",
            (None, None) => "resource",
        };
        tracing::debug!(
            method = super::request_log::method_name(method),
            path = path_of(url),
            status = first.status,
            pattern,
            "following the operation"
        );
        let mut result = first.body.clone();
        let mut settled = false;
        if let Some(op_url) = async_op {
            let status = self
                .poll_operation(&op_url, &first, &mut pacer, cancel)
                .await?;
            settled = true;
            result = match (method, location) {
                (Method::Post, Some(loc)) => {
                    let reply = self
                        .send(Method::Get, &loc, None, &self.config.scope, cancel)
                        .await?;
                    if reply.status >= 400 {
                        return Err(reply.error());
                    }
                    reply.body
                }
                (Method::Post, None) => status.get("properties").cloned().unwrap_or(Json::Null),
                _ => Json::Null,
            };
        } else if let Some(loc) = location {
            result = self
                .poll_location(method, &loc, &first, &mut pacer, cancel)
                .await?;
            settled = true;
        } else if method == Method::Delete && first.status == 202 {
            self.await_gone(url, &first, &mut pacer, cancel).await?;
            return Ok(Json::Null);
        }
        match method {
            Method::Put | Method::Patch => {
                let pending =
                    !settled && provisioning_state(&first.body).is_some_and(|s| !is_terminal(s));
                if pending {
                    pacer.wait(&first, cancel).await?;
                }
                self.await_provisioned(url, &mut pacer, cancel).await
            }
            Method::Delete => Ok(Json::Null),
            _ => Ok(result),
        }
    }

    /// Poll an `Azure-AsyncOperation` URL to a terminal status; the final status body.
    async fn poll_operation(
        &self,
        op_url: &str,
        first: &Reply,
        pacer: &mut Pacer<'_>,
        cancel: &CancellationToken,
    ) -> Result<Json, ArmError> {
        pacer.wait(first, cancel).await?;
        loop {
            let reply = self
                .send(Method::Get, op_url, None, &self.config.scope, cancel)
                .await?;
            if reply.status >= 400 {
                return Err(reply.error());
            }
            let Some(status) = reply.body.get("status").and_then(Json::as_str) else {
                return Err(ArmError::new(
                    reply.status,
                    "InvalidOperationStatus",
                    "the operation status has no `status` field",
                ));
            };
            tracing::debug!(
                path = path_of(op_url),
                status,
                "long-running operation polled"
            );
            if status.eq_ignore_ascii_case("succeeded") {
                return Ok(reply.body);
            }
            if is_failure(status) {
                return Err(ArmError::operation_failed(
                    reply.status,
                    status,
                    &reply.body,
                ));
            }
            pacer.wait(&reply, cancel).await?;
        }
    }

    /// Poll a `Location` URL until it stops answering 202; the final body.
    async fn poll_location(
        &self,
        method: Method,
        location: &str,
        first: &Reply,
        pacer: &mut Pacer<'_>,
        cancel: &CancellationToken,
    ) -> Result<Json, ArmError> {
        pacer.wait(first, cancel).await?;
        loop {
            let reply = self.send_poll(location, cancel).await?;
            tracing::debug!(
                path = path_of(location),
                status = reply.status,
                "long-running operation polled"
            );
            match reply.status {
                202 => pacer.wait(&reply, cancel).await?,
                404 if method == Method::Delete => return Ok(Json::Null),
                s if s >= 400 => return Err(reply.error()),
                _ => return Ok(reply.body),
            }
        }
    }

    /// GET the resource until it is gone (a DELETE answered 202 without a polling URL).
    async fn await_gone(
        &self,
        url: &str,
        first: &Reply,
        pacer: &mut Pacer<'_>,
        cancel: &CancellationToken,
    ) -> Result<(), ArmError> {
        pacer.wait(first, cancel).await?;
        loop {
            let reply = self
                .send(Method::Get, url, None, &self.config.scope, cancel)
                .await?;
            match reply.status {
                404 => return Ok(()),
                s if s >= 400 => return Err(reply.error()),
                _ => {
                    if let Some(state) = provisioning_state(&reply.body) {
                        if is_failure(state) {
                            return Err(ArmError::operation_failed(
                                reply.status,
                                state,
                                &reply.body,
                            ));
                        }
                    }
                    pacer.wait(&reply, cancel).await?
                }
            }
        }
    }

    /// GET the resource until its provisioning state is terminal; the resource.
    async fn await_provisioned(
        &self,
        url: &str,
        pacer: &mut Pacer<'_>,
        cancel: &CancellationToken,
    ) -> Result<Json, ArmError> {
        loop {
            let reply = self
                .send(Method::Get, url, None, &self.config.scope, cancel)
                .await?;
            if reply.status >= 400 {
                let mut e = reply.error();
                if reply.status == 404 {
                    e.message = format!("{} (after the operation completed)", e.message);
                }
                return Err(e);
            }
            match provisioning_state(&reply.body) {
                Some(state) if is_failure(state) => {
                    let mut e = ArmError::operation_failed(reply.status, state, &reply.body);
                    if e.code == "OperationFailed" || e.code == "OperationCanceled" {
                        e.code = "ProvisioningFailed".to_string();
                        e.message = format!("the resource's provisioningState is {state}");
                    }
                    return Err(e);
                }
                Some(state) if !is_terminal(state) => pacer.wait(&reply, cancel).await?,
                _ => return Ok(reply.body),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classifies_provisioning_states() {
        for s in ["Succeeded", "failed", "Canceled", "Cancelled"] {
            assert!(is_terminal(s), "{s}");
        }
        for s in [
            "Creating",
            "Updating",
            "Deleting",
            "Accepted",
            "InProgress",
            "Running",
        ] {
            assert!(!is_terminal(s), "{s}");
        }
        assert!(is_failure("Failed") && is_failure("Canceled") && !is_failure("Succeeded"));
        assert_eq!(
            provisioning_state(&json!({"properties": {"provisioningState": "Creating"}})),
            Some("Creating")
        );
        assert_eq!(provisioning_state(&json!({"properties": {}})), None);
    }
}
