//! Sending one request: the bearer token, retries with exponential backoff and full jitter,
//! `Retry-After`, and cancellable waits.
//!
//! What is retried:
//! - GET, PUT, PATCH and DELETE are idempotent in ARM (a PUT carries the whole desired state), so
//!   429, 5xx (except 501 and 505) and transport failures (refused, reset, timed out) are retried.
//! - POST actions are not assumed idempotent: the body is re-sent only when the server said
//!   it did not act on it — 429, or 503 with `Retry-After` — or when the connection was never
//!   established. A 500 or a timed-out POST fails at once.
//! - Other 4xx fail at once.
//! - When polling a `Location` URL, a 500 with an ARM error body is the operation's failure
//!   and is not retried (a 500 without one, 502, 503 and 504 are).
//!
//! Each request makes at most [`RetryPolicy::max_attempts`] attempts and waits at most
//! [`RetryPolicy::max_total_wait`] between them; a wait (e.g. a `Retry-After`) longer than what
//! is left of that budget ends the retries at once with the last response's error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use super::pacing::{remaining_quota, Feedback, Pacer};
use super::request_log::{Attempt, Plane};
use super::{ArmClient, ArmError, Method};

/// How the client retries failed requests and polls long-running operations.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first backoff ceiling; doubles per attempt (full jitter: the wait is uniform in
    /// `0..=ceiling`).
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
    /// The most time one request spends waiting between attempts.
    pub max_total_wait: Duration,
    /// Poll interval of a long-running operation when the server gives no `Retry-After`; it
    /// grows by half after each such poll, up to `max_poll_interval`.
    pub poll_interval: Duration,
    /// The longest wait between two polls (also caps the server's `Retry-After` on polls).
    pub max_poll_interval: Duration,
    /// How long a long-running operation may take before the client gives up.
    pub operation_timeout: Duration,
    /// Timeout of one HTTP attempt (connection, request and response body).
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(60),
            max_total_wait: Duration::from_secs(10 * 60),
            poll_interval: Duration::from_secs(1),
            max_poll_interval: Duration::from_secs(60),
            operation_timeout: Duration::from_secs(3 * 60 * 60),
            request_timeout: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The backoff before attempt `retry + 1` (`retry` ≥ 1) when the server gave no hint:
    /// uniform in `0..=min(max_delay, base_delay · 2^(retry-1))`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(self.max_delay);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=ms))
    }

    /// The next poll interval after `current` when the server gave no `Retry-After`.
    pub(crate) fn next_poll(&self, current: Duration) -> Duration {
        current.mul_f64(1.5).min(self.max_poll_interval)
    }
}

/// One HTTP response, body parsed (non-JSON text becomes a JSON string, empty becomes null).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Json,
    /// Attempts made, the first included.
    pub attempts: u32,
}

impl Reply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// The error for a failed status (ARM's code and message), noting retries if any.
    pub fn error(&self) -> ArmError {
        let mut e = ArmError::from_body(self.status, &self.body);
        if self.attempts > 1 {
            e.message = format!("{} (gave up after {} attempts)", e.message, self.attempts);
        }
        e
    }
}

/// The wait the server asks for: `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds), or
/// `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = text(name).and_then(|v| v.parse::<f64>().ok()) {
            if ms.is_finite() && ms >= 0.0 {
                return Some(Duration::from_secs_f64(ms / 1000.0));
            }
        }
    }
    let value = text("retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = azure_core::time::parse_rfc7231(value).ok()?;
    let delta = date - azure_core::time::OffsetDateTime::now_utc();
    Some(Duration::try_from(delta).unwrap_or(Duration::ZERO))
}

/// Whether a response status is worth another attempt for this method.
pub(crate) fn retryable_status(method: Method, status: u16, has_retry_after: bool) -> bool {
    match method {
        Method::Post => status == 429 || (status == 503 && has_retry_after),
        _ => status == 429 || (status >= 500 && status != 501 && status != 505),
    }
}

/// The method whose retry rules a request follows: a POST that only reads (ARM's `list*`
/// actions such as listClusterAdminCredential, which are POSTs because they return secrets) or
/// computes (Key Vault's wrapkey and unwrapkey) can be sent again like a GET; any other POST
/// may have done something the first time.
pub(crate) fn retry_semantics(method: Method, url: &str) -> Method {
    if method != Method::Post {
        return method;
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let action = path.rsplit('/').next().unwrap_or("");
    let repeatable = action.starts_with("list")
        || action.eq_ignore_ascii_case("wrapkey")
        || action.eq_ignore_ascii_case("unwrapkey");
    if repeatable {
        Method::Get
    } else {
        Method::Post
    }
}

/// Sleep for `duration` unless `cancel` fires first.
pub(crate) async fn sleep(duration: Duration, cancel: &CancellationToken) -> Result<(), ArmError> {
    if cancel.is_cancelled() {
        return Err(ArmError::cancelled());
    }
    if duration.is_zero() {
        return Ok(());
    }
    tokio::select! {
        _ = tokio::time::sleep(duration) => Ok(()),
        _ = cancel.cancelled() => Err(ArmError::cancelled()),
    }
}

/// A transport error's message with its causes (reqwest's top-level text is terse).
fn transport_message(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    // reqwest names the URL; its query string can carry signatures (ARM's polling URLs, SAS
    // tokens), and this message reaches the user: name it without the query.
    if let Some(url) = e.url().filter(|u| u.query().is_some()) {
        let mut bare = url.clone();
        bare.set_query(None);
        message = message.replace(url.as_str(), bare.as_str());
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

/// What an answer tells the pacer: a 429 and its wait, or the quota left.
fn feedback(method: Method, status: u16, headers: &HeaderMap, wait: Duration) -> Feedback {
    match status {
        429 => Feedback::Throttled(wait),
        500..=599 => Feedback::Nothing,
        _ => Feedback::Served(remaining_quota(headers, method != Method::Get)),
    }
}

impl ArmClient {
    /// The pacer of a request: data-plane requests (another token scope) apart from ARM's,
    /// ARM reads apart from writes, as ARM meters them.
    fn pacer(&self, method: Method, scope: &str) -> &Arc<Pacer> {
        if scope != self.config.scope {
            &self.pacers.data_plane
        } else if method == Method::Get {
            &self.pacers.reads
        } else {
            &self.pacers.writes
        }
    }

    /// Send a request with a token for `scope`, retrying as the module documentation says.
    /// Returns the last response whatever its status; `Err` only for cancellation, credential
    /// failures and transport failures that were not (or no longer) retried.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Json>,
        scope: &str,
        cancel: &CancellationToken,
    ) -> Result<Reply, ArmError> {
        self.send_with(method, url, body, scope, false, cancel)
            .await
    }

    /// [`send`](Self::send) for a `Location` poll: there a 500 carrying an ARM error body is
    /// the operation's outcome (its failure), not a transient error, so it is not retried.
    pub(crate) async fn send_poll(
        &self,
        url: &str,
        cancel: &CancellationToken,
    ) -> Result<Reply, ArmError> {
        let scope = self.config.scope.clone();
        self.send_with(Method::Get, url, None, &scope, true, cancel)
            .await
    }

    async fn send_with(
        &self,
        method: Method,
        url: &str,
        body: Option<&Json>,
        scope: &str,
        location_poll: bool,
        cancel: &CancellationToken,
    ) -> Result<Reply, ArmError> {
        let policy = &self.policy;
        let plane = if scope == self.config.scope {
            Plane::Arm
        } else {
            Plane::Data
        };
        let retry_as = retry_semantics(method, url);
        let mut waited = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let token = tokio::select! {
                t = self.config.credential.token(scope) => t?,
                _ = cancel.cancelled() => return Err(ArmError::cancelled()),
            };
            // Held for the attempt only, not for the waits between attempts.
            let permit = self.pacer(method, scope).start(cancel).await?;
            let mut builder = self
                .http
                .request(method.as_reqwest(), url)
                .bearer_auth(token)
                .timeout(policy.request_timeout);
            if let Some(body) = body {
                builder = builder.json(body);
            }
            let sent = Instant::now();
            let outcome = tokio::select! {
                r = async {
                    let response = builder.send().await?;
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let text = response.text().await?;
                    Ok::<_, reqwest::Error>((status, headers, text))
                } => r,
                _ = cancel.cancelled() => return Err(ArmError::cancelled()),
            };
            let attempt_log = Attempt {
                plane,
                method,
                url,
                number: attempt,
                elapsed: sent.elapsed(),
            };
            let wait = match outcome {
                Ok((status, headers, text)) => {
                    let hint = retry_after(&headers);
                    let wait = hint.unwrap_or_else(|| policy.backoff(attempt));
                    permit.finish(feedback(method, status, &headers, wait));
                    let body = if text.trim().is_empty() {
                        Json::Null
                    } else {
                        serde_json::from_str(&text).unwrap_or(Json::String(text))
                    };
                    let outcome = location_poll
                        && status == 500
                        && body.pointer("/error/code").is_some_and(Json::is_string);
                    let retryable = retryable_status(retry_as, status, hint.is_some()) && !outcome;
                    let retry = retryable
                        && attempt < policy.max_attempts
                        && waited + wait <= policy.max_total_wait;
                    attempt_log.answered(status, &headers, &body);
                    if retryable && !retry {
                        attempt_log.giving_up(wait);
                    }
                    if !retry {
                        return Ok(Reply {
                            status,
                            headers,
                            body,
                            attempts: attempt,
                        });
                    }
                    let reason = if status == 429 { "throttled" } else { "status" };
                    attempt_log.retrying(wait, reason);
                    wait
                }
                Err(e) => {
                    drop(permit);
                    attempt_log.failed(&e);
                    let wait = policy.backoff(attempt);
                    // A POST is re-sent only if it never reached the server.
                    let retry = (retry_as != Method::Post || e.is_connect())
                        && attempt < policy.max_attempts
                        && waited + wait <= policy.max_total_wait;
                    if !retry {
                        attempt_log.giving_up(wait);
                        let mut message = transport_message(&e);
                        if attempt > 1 {
                            message.push_str(&format!(" (gave up after {attempt} attempts)"));
                        }
                        return Err(ArmError::transport(message));
                    }
                    attempt_log.retrying(wait, "transport");
                    wait
                }
            };
            sleep(wait, cancel).await?;
            waited += wait;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn parses_retry_after_forms() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[("Retry-After", "0")])),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after-ms", "250"), ("retry-after", "9")])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&headers(&[("retry-after", "-3")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
        // An HTTP date in the past means "now"; one in the future, the time until then.
        assert_eq!(
            retry_after(&headers(&[(
                "retry-after",
                "Wed, 21 Oct 2015 07:28:00 GMT"
            )])),
            Some(Duration::ZERO)
        );
        let later = azure_core::time::OffsetDateTime::now_utc() + Duration::from_secs(120);
        let wait = retry_after(&headers(&[(
            "retry-after",
            &azure_core::time::to_rfc7231(&later),
        )]))
        .unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
    }

    #[test]
    fn backoff_is_bounded_full_jitter() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..200 {
            assert!(policy.backoff(1) <= Duration::from_millis(100));
            assert!(policy.backoff(3) <= Duration::from_millis(400));
            assert!(policy.backoff(30) <= Duration::from_millis(1000));
        }
        // Full jitter spreads the waits: not all equal to the ceiling.
        let waits: std::collections::BTreeSet<_> = (0..50).map(|_| policy.backoff(4)).collect();
        assert!(waits.len() > 1);
    }

    #[test]
    fn which_statuses_are_retried() {
        for m in [Method::Get, Method::Put, Method::Patch, Method::Delete] {
            assert!(retryable_status(m, 429, false));
            assert!(retryable_status(m, 500, false));
            assert!(retryable_status(m, 503, false));
            assert!(!retryable_status(m, 501, false));
            assert!(!retryable_status(m, 400, true));
            assert!(!retryable_status(m, 404, false));
            assert!(!retryable_status(m, 409, false));
        }
        assert!(retryable_status(Method::Post, 429, false));
        assert!(retryable_status(Method::Post, 503, true));
        assert!(!retryable_status(Method::Post, 503, false));
        assert!(!retryable_status(Method::Post, 500, true));
    }

    #[test]
    fn poll_intervals_grow_to_the_cap() {
        let policy = RetryPolicy::default();
        let mut d = policy.poll_interval;
        for _ in 0..30 {
            d = policy.next_poll(d);
        }
        assert_eq!(d, policy.max_poll_interval);
    }

    #[tokio::test]
    async fn sleeps_end_when_cancelled() {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            c.cancel();
        });
        let started = std::time::Instant::now();
        let r = sleep(Duration::from_secs(3600), &cancel).await;
        assert!(r.unwrap_err().is_cancelled());
        assert!(started.elapsed() < Duration::from_secs(60));
        assert!(sleep(Duration::ZERO, &cancel).await.is_err());
    }

    #[tokio::test]
    async fn transport_errors_name_the_url_without_its_query() {
        // Nothing listens on a port just released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let url = format!("http://127.0.0.1:{port}/operations/1?sig=SECRET-SIGNATURE&t=1");
        let e = reqwest::Client::new()
            .get(&url)
            .send()
            .await
            .expect_err("nothing listens");
        let message = transport_message(&e);
        assert!(!message.contains("SECRET-SIGNATURE"), "{message}");
        assert!(message.contains("/operations/1"), "{message}");
    }

    #[test]
    fn read_only_posts_are_retried_like_gets() {
        let id = "https://management.azure.com/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/c";
        let list = format!("{id}/listClusterAdminCredential?api-version=2024-05-01");
        assert_eq!(retry_semantics(Method::Post, &list), Method::Get);
        let wrap = "https://v.vault.azure.net/keys/state/abc/wrapkey?api-version=7.4";
        assert_eq!(retry_semantics(Method::Post, wrap), Method::Get);
        let import = "https://v.vault.azure.net/certificates/c/import?api-version=7.4";
        assert_eq!(retry_semantics(Method::Post, import), Method::Post);
        assert_eq!(retry_semantics(Method::Put, import), Method::Put);
        assert!(retryable_status(
            retry_semantics(Method::Post, &list),
            500,
            false
        ));
    }
}
