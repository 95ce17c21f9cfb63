//! ARM errors: the status, ARM's error code and message.

use serde_json::Value as Json;

/// An error from ARM (or from getting there).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ArmError {
    /// HTTP status; 0 when no response was received.
    pub status: u16,
    /// ARM's error code, e.g. `ResourceNotFound`, `InvalidRequestContent`.
    pub code: String,
    /// ARM's message.
    pub message: String,
}

impl ArmError {
    /// An error with a status, code and message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> ArmError {
        ArmError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// No response: connection refused, reset, timed out.
    pub fn transport(message: impl Into<String>) -> ArmError {
        ArmError::new(0, "ConnectionFailed", message)
    }

    /// The wait was cancelled.
    pub fn cancelled() -> ArmError {
        ArmError::new(0, "Cancelled", "the operation was cancelled")
    }

    /// Parse ARM's `{"error": {"code", "message"}}` body (or anything else) for a status.
    pub fn from_body(status: u16, body: &Json) -> ArmError {
        let error = body.get("error").unwrap_or(body);
        let code = error
            .get("code")
            .and_then(Json::as_str)
            .unwrap_or(match status {
                404 => "NotFound",
                409 => "Conflict",
                429 => "TooManyRequests",
                _ => "HttpError",
            })
            .to_string();
        let message = error
            .get("message")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| format!("HTTP {status}"));
        ArmError::new(status, code, message)
    }

    /// A long-running operation ended in `Failed` or `Canceled`: ARM's code and message from
    /// the operation's `error` object (`status` is the HTTP status of the poll that said so).
    pub fn operation_failed(status: u16, outcome: &str, body: &Json) -> ArmError {
        let error = body
            .get("error")
            .or_else(|| body.pointer("/properties/error"))
            .or_else(|| body.pointer("/properties/provisioningError"))
            .filter(|e| e.is_object());
        let text = |key: &str| error.and_then(|e| e.get(key)).and_then(Json::as_str);
        let code = text("code").unwrap_or(if outcome.eq_ignore_ascii_case("failed") {
            "OperationFailed"
        } else {
            "OperationCanceled"
        });
        let mut message = text("message")
            .map(str::to_string)
            .unwrap_or_else(|| format!("the long-running operation ended with status {outcome}"));
        // ARM nests the root cause in `details` (e.g. a deployment failure wrapping a quota error).
        if let Some(details) = error
            .and_then(|e| e.get("details"))
            .and_then(Json::as_array)
        {
            for d in details.iter().take(5) {
                if let (Some(c), Some(m)) = (
                    d.get("code").and_then(Json::as_str),
                    d.get("message").and_then(Json::as_str),
                ) {
                    message.push_str(&format!("; {c}: {m}"));
                }
            }
        }
        ArmError::new(status, code, message)
    }

    /// The error with the resource (or URL path) it concerns appended to the message, unless
    /// the message names it already or the error is a cancellation.
    pub fn with_resource(mut self, address: &str) -> ArmError {
        if !self.is_cancelled() && !address.is_empty() && !self.message.contains(address) {
            self.message = format!("{} (resource {address})", self.message);
        }
        self
    }

    /// True for [`ArmError::cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.status == 0 && self.code == "Cancelled"
    }

    /// True when the same request may succeed later: throttling, server errors, no response.
    pub fn is_retryable(&self) -> bool {
        self.status == 429
            || self.status >= 500
            || (self.status == 0 && self.code == "ConnectionFailed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arm_error_bodies() {
        let body = serde_json::json!({"error": {"code": "ResourceGroupNotFound", "message": "Resource group 'x' could not be found."}});
        let e = ArmError::from_body(404, &body);
        assert_eq!(e.code, "ResourceGroupNotFound");
        assert_eq!(
            e.to_string(),
            "ResourceGroupNotFound: Resource group 'x' could not be found."
        );
        assert!(!e.is_retryable());
        assert!(ArmError::from_body(429, &Json::Null).is_retryable());
    }

    #[test]
    fn operation_failures_carry_code_message_and_details() {
        let body = serde_json::json!({"status": "Failed", "error": {"code": "DeploymentFailed",
            "message": "At least one resource deployment operation failed.",
            "details": [{"code": "QuotaExceeded", "message": "Not enough cores."}]}});
        let e = ArmError::operation_failed(200, "Failed", &body);
        assert_eq!(e.code, "DeploymentFailed");
        assert!(
            e.message.contains("QuotaExceeded: Not enough cores."),
            "{e}"
        );
        let e =
            ArmError::operation_failed(200, "Canceled", &serde_json::json!({"status": "Canceled"}));
        assert_eq!(e.code, "OperationCanceled");
        assert!(!e.is_retryable());
    }

    #[test]
    fn resource_addresses_are_appended_once() {
        let e = ArmError::new(400, "Bad", "no").with_resource("/subscriptions/s/x");
        assert_eq!(e.message, "no (resource /subscriptions/s/x)");
        let again = e.clone().with_resource("/subscriptions/s/x");
        assert_eq!(again, e);
        assert!(ArmError::cancelled().with_resource("/x").is_cancelled());
        assert_eq!(
            ArmError::cancelled().with_resource("/x"),
            ArmError::cancelled()
        );
    }
}
