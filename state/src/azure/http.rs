//! Sending Blob service requests: a private async runtime behind a blocking call (the
//! [`Backend`](crate::Backend) API is synchronous and is called from inside the CLI's own
//! runtime), authorization, and retries of what is worth retrying.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use reqwest::header::HeaderMap;
use reqwest::Method;

use super::signing::{authorization, encode_path, encode_query, SignedParts};
use crate::error::StateError;

/// The Blob service API version mesh speaks.
pub(crate) const API_VERSION: &str = "2021-12-02";

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts per request when the service is busy or unreachable.
const ATTEMPTS: u32 = 4;

/// A source of OAuth bearer tokens for Azure Storage (scope `https://storage.azure.com/`):
/// the CLI plugs in the same credentials the azure provider uses.
#[async_trait]
pub trait AccessTokens: Send + Sync {
    /// A valid access token. Errors are shown to the user and must not contain secrets.
    async fn token(&self) -> Result<String, String>;
}

/// How requests are authorized.
#[derive(Clone)]
pub enum BlobCredential {
    /// Shared Key: the storage account's access key (base64, as the portal shows it).
    SharedKey(String),
    /// Microsoft Entra ID bearer tokens (needs HTTPS on the real service).
    Bearer(Arc<dyn AccessTokens>),
}

impl std::fmt::Debug for BlobCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never printed.
        match self {
            BlobCredential::SharedKey(_) => f.write_str("SharedKey(<redacted>)"),
            BlobCredential::Bearer(_) => f.write_str("Bearer"),
        }
    }
}

/// One request, relative to the container.
pub(crate) struct BlobRequest {
    pub method: Method,
    /// The blob's name, or `None` for a container-level request.
    pub blob: Option<String>,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl BlobRequest {
    /// A request without query, headers or body.
    pub fn new(method: Method, blob: Option<&str>) -> BlobRequest {
        BlobRequest {
            method,
            blob: blob.map(str::to_string),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Add a query parameter.
    pub fn query(mut self, name: &str, value: &str) -> BlobRequest {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// Add a header (name in lower case).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> BlobRequest {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Set the body.
    pub fn body(mut self, body: Vec<u8>) -> BlobRequest {
        self.body = body;
        self
    }
}

/// A response: status, headers and body.
pub(crate) struct BlobResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl BlobResponse {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The service's error code (`x-ms-error-code`, or `<Code>` in the body).
    pub fn error_code(&self) -> String {
        if let Some(code) = self.header("x-ms-error-code") {
            return code.to_string();
        }
        xml_text(&String::from_utf8_lossy(&self.body), "Code").unwrap_or_default()
    }

    /// The service's message: the first line of `<Message>`, which never holds secrets.
    fn error_message(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let message = xml_text(&body, "Message").unwrap_or_else(|| {
            reqwest::StatusCode::from_u16(self.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no message")
                .to_string()
        });
        message
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    /// The error for an unexpected status.
    pub fn error(&self, action: &str, target: &str) -> StateError {
        StateError::Remote {
            action: action.to_string(),
            target: target.to_string(),
            status: self.status,
            code: self.error_code(),
            message: self.error_message(),
        }
    }
}

/// The text of the first `<tag>...</tag>` in an XML document, entities decoded.
pub(crate) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(xml_unescape(&xml[start..end]))
}

/// Decode the five predefined XML entities.
pub(crate) fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// A runtime of its own for the HTTP client, so that blocking calls work from any thread,
/// including a thread of another runtime.
struct IoRuntime(Option<tokio::runtime::Runtime>);

impl IoRuntime {
    fn new() -> Result<IoRuntime, StateError> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mesh-state-io")
            .enable_all()
            .build()
            .map(|rt| IoRuntime(Some(rt)))
            .map_err(|e| StateError::Config(format!("cannot start the state I/O runtime: {e}")))
    }

    /// Run `future` on this runtime and wait for its output (None if the runtime stopped).
    fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let runtime = self.0.as_ref()?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv().ok()
    }
}

impl Drop for IoRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime: let it go instead.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Where requests go and how they are signed.
#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    /// The endpoint without a trailing slash, e.g. `http://127.0.0.1:10000/devstoreaccount1`.
    endpoint: String,
    /// The endpoint's path part (`/devstoreaccount1`, or empty).
    base_path: String,
    account: String,
    container: String,
    credential: BlobCredential,
}

/// Sends requests to one container.
pub(crate) struct Transport {
    runtime: IoRuntime,
    target: Target,
}

impl Transport {
    /// A transport for `container` in `account` at `endpoint`.
    pub fn new(
        endpoint: &str,
        account: &str,
        container: &str,
        credential: BlobCredential,
    ) -> Result<Transport, StateError> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let url = reqwest::Url::parse(&endpoint).map_err(|e| {
            StateError::Config(format!("endpoint \"{endpoint}\" is not a valid URL: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(StateError::Config(format!(
                "endpoint \"{endpoint}\" must start with https:// (or http:// for a local emulator)"
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| StateError::Config(format!("cannot create an HTTP client: {e}")))?;
        Ok(Transport {
            runtime: IoRuntime::new()?,
            target: Target {
                client,
                base_path: url.path().trim_end_matches('/').to_string(),
                endpoint,
                account: account.to_string(),
                container: container.to_string(),
                credential,
            },
        })
    }

    /// `azure_blob://account/container/blob`, for messages.
    pub fn describe(&self, blob: Option<&str>) -> String {
        let t = &self.target;
        match blob {
            Some(blob) => format!("azure_blob://{}/{}/{blob}", t.account, t.container),
            None => format!("azure_blob://{}/{}", t.account, t.container),
        }
    }

    /// Send a request (retrying busy and unreachable service responses) and return whatever
    /// the service answered; only a failure to get an answer at all is an error.
    pub fn send(&self, action: &str, request: BlobRequest) -> Result<BlobResponse, StateError> {
        let target = self.target.clone();
        let what = self.describe(request.blob.as_deref());
        let result = self
            .runtime
            .run(async move { send_with_retries(&target, &request).await });
        let network = |message: String| StateError::Network {
            action: action.to_string(),
            target: what.clone(),
            message,
        };
        match result {
            Some(Ok(response)) => Ok(response),
            Some(Err(message)) => Err(network(message)),
            None => Err(network("the state I/O runtime has stopped".to_string())),
        }
    }
}

async fn send_with_retries(target: &Target, request: &BlobRequest) -> Result<BlobResponse, String> {
    let mut delay = Duration::from_millis(500);
    let mut attempt = 1;
    loop {
        let outcome = send_once(target, request).await;
        let retry_after = match &outcome {
            Ok(r) if matches!(r.status, 429 | 500 | 502 | 503 | 504) => Some(
                r.header("retry-after")
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .map_or(delay, |s| Duration::from_secs(s.min(30))),
            ),
            Ok(_) => None,
            Err(_) => Some(delay),
        };
        match retry_after {
            Some(wait) if attempt < ATTEMPTS => {
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(Duration::from_secs(8));
                attempt += 1;
            }
            _ => return outcome,
        }
    }
}

async fn send_once(target: &Target, request: &BlobRequest) -> Result<BlobResponse, String> {
    let mut path = format!("{}/{}", target.base_path, target.container);
    if let Some(blob) = &request.blob {
        path.push('/');
        path.push_str(&encode_path(blob));
    }
    let query: Vec<String> = request
        .query
        .iter()
        .map(|(n, v)| format!("{n}={}", encode_query(v)))
        .collect();
    let mut url = format!("{}{}", origin(&target.endpoint, &target.base_path), path);
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    let mut headers = request.headers.clone();
    headers.push(("x-ms-version".into(), API_VERSION.into()));
    headers.push(("x-ms-date".into(), http_date()));
    let authorization = match &target.credential {
        BlobCredential::SharedKey(key) => {
            let key = BASE64
                .decode(key.trim())
                .map_err(|_| "the storage account key is not valid base64".to_string())?;
            let parts = SignedParts {
                method: request.method.as_str(),
                account: &target.account,
                path: &path,
                query: &request.query,
                headers: &headers,
                content_length: request.body.len(),
            };
            authorization(&target.account, &key, &parts)
        }
        BlobCredential::Bearer(tokens) => format!("Bearer {}", tokens.token().await?),
    };
    let mut builder = target
        .client
        .request(request.method.clone(), &url)
        .header("authorization", authorization)
        // Sent even when 0: the service refuses a PUT without it.
        .header("content-length", request.body.len().to_string())
        .body(request.body.clone());
    for (name, value) in &headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let response = builder.send().await.map_err(|e| describe_error(&e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|e| describe_error(&e))?
        .to_vec();
    Ok(BlobResponse {
        status,
        headers,
        body,
    })
}

/// `scheme://host:port` of the endpoint.
fn origin<'a>(endpoint: &'a str, base_path: &str) -> &'a str {
    endpoint.strip_suffix(base_path).unwrap_or(endpoint)
}

/// A transport error with its causes, e.g. "error sending request: connection refused".
fn describe_error(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// The current time as HTTP wants it: `Sun, 22 Nov 2026 05:00:00 GMT`.
fn http_date() -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_code_and_first_line_of_the_message() {
        let body =
            "<?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>Server \
                    failed to authenticate the request.\nRequestId:abc</Message></Error>";
        let response = BlobResponse {
            status: 403,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        };
        let message = response
            .error("read the state", "azure_blob://a/c/k")
            .to_string();
        assert_eq!(
            message,
            "could not read the state (azure_blob://a/c/k): HTTP 403 AuthenticationFailed: \
             Server failed to authenticate the request."
        );
    }

    #[test]
    fn dates_are_rfc_1123() {
        let date = http_date();
        assert!(date.ends_with(" GMT"), "{date}");
        assert_eq!(date.len(), "Sun, 22 Nov 2026 05:00:00 GMT".len(), "{date}");
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let credential = BlobCredential::SharedKey("c2VjcmV0".into());
        assert_eq!(format!("{credential:?}"), "SharedKey(<redacted>)");
    }
}
