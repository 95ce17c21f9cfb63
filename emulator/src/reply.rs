//! A response before it becomes HTTP: status, extra headers, JSON body.

use serde_json::Value as Json;

use crate::model::ArmErrorBody;

/// A response of the ARM or Key Vault handlers.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// JSON body; none for 202/204 without content.
    pub body: Option<Json>,
}

impl Reply {
    /// A JSON response.
    pub fn json(status: u16, body: Json) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    /// A response without a body.
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    /// Add a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// `Retry-After` (whole seconds, at least 1) and `retry-after-ms` (the exact wait, which
    /// Azure SDKs prefer) for a wait of `seconds`.
    pub fn retry_after(self, seconds: f64) -> Reply {
        let seconds = seconds.max(0.01);
        let whole = seconds.ceil().clamp(1.0, 3600.0) as u64;
        let ms = (seconds * 1000.0).ceil() as u64;
        self.header("Retry-After", whole.to_string())
            .header("retry-after-ms", ms.to_string())
    }
}

impl From<ArmErrorBody> for Reply {
    fn from(e: ArmErrorBody) -> Reply {
        Reply::json(e.status, e.to_json())
    }
}
