//! What the client logs about its HTTP traffic, and what it must leave out.
//!
//! A log line names a request by method and path only: no scheme and host (a data-plane host
//! is enough to say which vault, and the path already names the resource), no query string
//! (ARM's polling URLs carry signatures there), and never a header or a body — the request
//! carries a bearer token, and bodies carry secrets (Key Vault values, kubeconfigs, keys). The
//! response's `x-ms-request-id` is logged, since that is what Azure support asks for. At trace
//! level the api-version and ARM's error code are added: both are fixed vocabulary, not data.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value as Json;

use super::Method;

/// Which service a request went to, as logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plane {
    /// Azure Resource Manager.
    Arm,
    /// A data plane (Key Vault), with its own token scope.
    Data,
}

impl Plane {
    fn name(self) -> &'static str {
        match self {
            Plane::Arm => "arm",
            Plane::Data => "data-plane",
        }
    }
}

/// The method as HTTP spells it.
pub(crate) fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Post => "POST",
    }
}

/// The path of a URL: without scheme, host (and any user info), query or fragment.
pub(crate) fn path_of(url: &str) -> &str {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    match no_query.find("://") {
        Some(i) => {
            let after_scheme = &no_query[i + 3..];
            after_scheme.find('/').map_or("/", |p| &after_scheme[p..])
        }
        None => no_query,
    }
}

/// The `api-version` query parameter of a URL.
pub(crate) fn api_version_of(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("api-version="))
}

/// The request ID Azure gave the response.
pub(crate) fn request_id(headers: &HeaderMap) -> &str {
    headers
        .get("x-ms-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// ARM's error code in an error body (`{"error": {"code": ...}}`), when there is one.
/// Only a code-like string is logged: a service that put data in `code` must not leak it.
fn error_code(body: &Json) -> &str {
    let code = body
        .pointer("/error/code")
        .or_else(|| body.get("code"))
        .and_then(Json::as_str)
        .unwrap_or("");
    let code_like = code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if code_like {
        code
    } else {
        ""
    }
}

/// One attempt of a request and its answer.
pub(crate) struct Attempt<'a> {
    /// The service.
    pub plane: Plane,
    /// The method.
    pub method: Method,
    /// The full URL (only its path is logged).
    pub url: &'a str,
    /// 1 for the first attempt.
    pub number: u32,
    /// How long the attempt took, the body read included.
    pub elapsed: Duration,
}

impl Attempt<'_> {
    /// Log the answer to this attempt (debug; trace adds the api-version and error code).
    pub fn answered(&self, status: u16, headers: &HeaderMap, body: &Json) {
        let method = method_name(self.method);
        let path = path_of(self.url);
        let plane = self.plane.name();
        let duration_ms = self.elapsed.as_millis() as u64;
        let request_id = request_id(headers);
        if tracing::enabled!(tracing::Level::TRACE) {
            let api_version = api_version_of(self.url).unwrap_or("");
            let error_code = if status >= 400 { error_code(body) } else { "" };
            tracing::trace!(
                plane,
                method,
                path,
                status,
                attempt = self.number,
                duration_ms,
                request_id,
                api_version,
                error_code,
                "HTTP response"
            );
            return;
        }
        tracing::debug!(
            plane,
            method,
            path,
            status,
            attempt = self.number,
            duration_ms,
            request_id,
            "HTTP response"
        );
    }

    /// Log an attempt that got no answer. The kind only: reqwest's message names the URL with
    /// its query string.
    pub fn failed(&self, error: &reqwest::Error) {
        let kind = if error.is_timeout() {
            "timeout"
        } else if error.is_connect() {
            "connect"
        } else if error.is_body() || error.is_decode() {
            "body"
        } else {
            "request"
        };
        tracing::debug!(
            plane = self.plane.name(),
            method = method_name(self.method),
            path = path_of(self.url),
            attempt = self.number,
            duration_ms = self.elapsed.as_millis() as u64,
            error = kind,
            "HTTP request failed"
        );
    }

    /// Log the decision to try again after `wait`.
    pub fn retrying(&self, wait: Duration, reason: &str) {
        tracing::debug!(
            method = method_name(self.method),
            path = path_of(self.url),
            attempt = self.number,
            wait_ms = wait.as_millis() as u64,
            reason,
            "retrying"
        );
    }

    /// Log the decision not to try again although the failure was worth it: the attempts or
    /// the waiting budget are spent (or, for a POST, the server may have acted on it).
    pub fn giving_up(&self, wait: Duration) {
        tracing::debug!(
            method = method_name(self.method),
            path = path_of(self.url),
            attempt = self.number,
            next_wait_ms = wait.as_millis() as u64,
            "not retrying"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_host_query_and_user_info() {
        assert_eq!(
            path_of("https://management.azure.com/subscriptions/s/resourceGroups/g?api-version=2021-04-01"),
            "/subscriptions/s/resourceGroups/g"
        );
        assert_eq!(
            path_of("https://user:pw@kv.vault.azure.net/secrets/a?api-version=7.4&sig=x#frag"),
            "/secrets/a"
        );
        assert_eq!(path_of("http://127.0.0.1:8080"), "/");
        assert_eq!(path_of("/subscriptions/s?x=1"), "/subscriptions/s");
    }

    #[test]
    fn api_version_comes_from_the_query() {
        assert_eq!(
            api_version_of("https://h/p?api-version=2023-09-01&t=1"),
            Some("2023-09-01")
        );
        assert_eq!(
            api_version_of("https://h/p?t=1&api-version=7.4#x"),
            Some("7.4")
        );
        assert_eq!(api_version_of("https://h/p"), None);
    }

    #[test]
    fn error_codes_come_from_arm_error_bodies() {
        let body = serde_json::json!({"error": {"code": "Conflict", "message": "m"}});
        assert_eq!(error_code(&body), "Conflict");
        assert_eq!(error_code(&serde_json::json!({"value": "secret"})), "");
        assert_eq!(error_code(&Json::String("text".into())), "");
        let odd = serde_json::json!({"error": {"code": "a value with spaces"}});
        assert_eq!(error_code(&odd), "");
    }
}
