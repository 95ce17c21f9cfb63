//! The ARM client: one place that speaks Azure Resource Manager's REST protocol.
//!
//! A resource's life is PUT/GET/PATCH/DELETE on its ARM ID with a pinned api-version. This
//! module owns the HTTP details: the bearer token, ARM error bodies, following long-running
//! operations, and retrying throttled or failed requests. Resource types never build HTTP
//! requests themselves.

mod error;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

pub use error::ArmError;

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

impl ArmClient {
    /// A client for the given endpoint and credentials.
    pub fn new(config: ArmConfig) -> Result<ArmClient, ArmError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("mesh/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ArmError::transport(format!("cannot build the HTTP client: {e}")))?;
        Ok(ArmClient { http, config })
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
            Err(e) => Err(e),
        }
    }

    /// PUT a resource and wait for it to finish provisioning; returns the final resource.
    pub async fn put(
        &self,
        id: &str,
        api_version: &str,
        body: &Json,
        cancel: &CancellationToken,
    ) -> Result<Json, ArmError> {
        self.request(Method::Put, &self.url(id, api_version), Some(body), cancel)
            .await?;
        self.get(id, api_version, cancel).await?.ok_or_else(|| {
            ArmError::new(
                404,
                "ResourceNotFound",
                format!("{id} was not found after it was created"),
            )
        })
    }

    /// PATCH a resource (tags and the few properties ARM lets PATCH change).
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
        .await?;
        self.get(id, api_version, cancel).await?.ok_or_else(|| {
            ArmError::new(
                404,
                "ResourceNotFound",
                format!("{id} was not found after it was updated"),
            )
        })
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
            Err(e) => Err(e),
        }
    }

    /// POST an action such as `listClusterAdminCredential`; returns the response body.
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
    }

    /// One request with the bearer token; ARM error bodies become [`ArmError`]s.
    /// Long-running operations and retries are followed here too (see the submodules).
    pub async fn request(
        &self,
        method: Method,
        url: &str,
        body: Option<&Json>,
        cancel: &CancellationToken,
    ) -> Result<Json, ArmError> {
        let token = self.config.credential.token(&self.config.scope).await?;
        let builder = match method {
            Method::Get => self.http.get(url),
            Method::Put => self.http.put(url),
            Method::Patch => self.http.patch(url),
            Method::Delete => self.http.delete(url),
            Method::Post => self.http.post(url),
        };
        let mut builder = builder.bearer_auth(token);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let send = builder.send();
        let response = tokio::select! {
            r = send => r.map_err(|e| ArmError::transport(e.to_string()))?,
            _ = cancel.cancelled() => return Err(ArmError::cancelled()),
        };
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| ArmError::transport(e.to_string()))?;
        let json: Json = if text.trim().is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Json::String(text))
        };
        if status >= 400 {
            return Err(ArmError::from_body(status, &json));
        }
        Ok(json)
    }
}
