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
}
