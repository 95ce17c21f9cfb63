//! The ARM client: one place that speaks Azure Resource Manager's REST protocol.
//!
//! A resource's life is PUT/GET/PATCH/DELETE on its ARM ID with a pinned api-version. This
//! module owns the HTTP details: the bearer token, ARM error bodies, following long-running
//! operations, and retrying throttled or failed requests. Resource types never build HTTP
//! requests themselves.

mod data_plane;
mod error;
mod lro;
mod pacing;
mod request_log;
mod retry;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

pub use error::ArmError;
pub use pacing::{Feedback, Hold, Pacer, PacerState, Pacers, Permit};
pub use retry::RetryPolicy;

/// Supplies bearer tokens for a scope (`https://management.azure.com/.default`).
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// A valid access token for `scope`.
    async fn token(&self, scope: &str) -> Result<String, ArmError>;
}

/// A fixed token, for the local cloud (which accepts any bearer token).
pub struct StaticToken(pub String);

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self, _scope: &str) -> Result<String, ArmError> {
        Ok(self.0.clone())
    }
}

/// Where and as whom the client talks.
#[derive(Clone)]
pub struct ArmConfig {
    /// The ARM endpoint, e.g. `https://management.azure.com` or the local cloud's URL.
    pub endpoint: String,
    /// The subscription resources live in.
    pub subscription_id: String,
    /// Token scope for ARM calls.
    pub scope: String,
    /// Credentials.
    pub credential: Arc<dyn TokenSource>,
}

/// The ARM client. Cheap to clone.
#[derive(Clone)]
pub struct ArmClient {
    http: reqwest::Client,
    config: ArmConfig,
    policy: RetryPolicy,
    pacers: Arc<Pacers>,
}

/// An HTTP method, for [`ArmClient::request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// POST.
    Post,
}

impl Method {
    fn as_reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
            Method::Post => reqwest::Method::POST,
        }
    }
}

impl ArmClient {
    /// A client for the given endpoint and credentials, with the default [`RetryPolicy`].
    pub fn new(config: ArmConfig) -> Result<ArmClient, ArmError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("mesh/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| ArmError::transport(format!("cannot build the HTTP client: {e}")))?;
        Ok(ArmClient {
            http,
            config,
            policy: RetryPolicy::default(),
            pacers: Arc::default(),
        })
    }

    /// The same client with another retry and polling policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> ArmClient {
        self.policy = policy;
        self
    }

    /// The retry and polling policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The pacers of this client and its clones (ARM reads, ARM writes, data planes).
    pub fn pacers(&self) -> &Pacers {
        &self.pacers
    }

    /// The subscription.
    pub fn subscription_id(&self) -> &str {
        &self.config.subscription_id
    }

    /// The ARM endpoint.
    pub fn endpoint(&self) -> &str {
        &self.config.endpoint
    }

    fn url(&self, id: &str, api_version: &str) -> String {
        let sep = if id.contains('?') { '&' } else { '?' };
        format!(
            "{}{id}{sep}api-version={api_version}",
            self.config.endpoint.trim_end_matches('/')
        )
    }

    /// GET a resource; `Ok(None)` when ARM says it does not exist (404).
    pub async fn get(
        &self,
        id: &str,
        api_version: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<Json>, ArmError> {
        match self
            .request(Method::Get, &self.url(id, api_version), None, cancel)
            .await
        {
            Ok(body) => Ok(Some(body)),
            Err(e) if e.status == 404 => Ok(None),
            Err(e) => Err(e.with_resource(id)),
        }
    }

    /// PUT a resource and wait for it to finish provisioning; returns the final resource (read
    /// with a GET once the operation is over).
    pub async fn put(
        &self,
        id: &str,
        api_version: &str,
        body: &Json,
        cancel: &CancellationToken,
    ) -> Result<Json, ArmError> {
        self.request(Method::Put, &self.url(id, api_version), Some(body), cancel)
            .await
            .map_err(|e| e.with_resource(id))
    }

    /// PATCH a resource (tags and the few properties ARM lets PATCH change) and wait for it;
    /// returns the final resource.
    pub async fn patch(
        &self,
        id: &str,
        api_version: &str,
        body: &Json,
        cancel: &CancellationToken,
    ) -> Result<Json, ArmError> {
        self.request(
            Method::Patch,
            &self.url(id, api_version),
            Some(body),
            cancel,
        )
        .await
        .map_err(|e| e.with_resource(id))
    }

    /// DELETE a resource and wait until it is gone; a resource already gone is success.
    pub async fn delete(
        &self,
        id: &str,
        api_version: &str,
        cancel: &CancellationToken,
    ) -> Result<(), ArmError> {
        match self
            .request(Method::Delete, &self.url(id, api_version), None, cancel)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.status == 404 => Ok(()),
            Err(e) => Err(e.with_resource(id)),
        }
    }

    /// POST an action such as `listClusterAdminCredential`; returns the response body (or, for
    /// a long-running action, its final result).
    pub async fn post(
        &self,
        id_and_action: &str,
        api_version: &str,
        body: Option<&Json>,
        cancel: &CancellationToken,
    ) -> Result<Json, ArmError> {
        self.request(
            Method::Post,
            &self.url(id_and_action, api_version),
            body,
            cancel,
        )
        .await
        .map_err(|e| e.with_resource(id_and_action))
    }

    /// One ARM operation on a full URL (with its `api-version`): the bearer token, retries
    /// (see [`RetryPolicy`]), and the long-running operation followed to its end. Returns, for
    /// GET, the body; for PUT/PATCH, the resource read back once provisioned; for POST, the
    /// action's result; for DELETE, null. Error statuses become [`ArmError`]s with ARM's code
    /// and message (a 404 keeps status 404).
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<&Json>,
        cancel: &CancellationToken,
    ) -> Result<Json, ArmError> {
        let reply = self
            .send(method, url, body, &self.config.scope, cancel)
            .await?;
        if reply.status >= 400 {
            return Err(reply.error());
        }
        if method == Method::Get {
            return Ok(reply.body);
        }
        self.follow(method, url, reply, cancel).await
    }
}
