//! Credentials: which identity the provider uses, from the provider block and the standard
//! AZURE_* environment variables.

use std::sync::Arc;

use mesh_engine::provider::ProviderError;
use mesh_engine::value::Value;

use crate::arm::{StaticToken, TokenSource};

/// The provider block's settings, with environment fallbacks applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// Subscription.
    pub subscription_id: Option<String>,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Client ID.
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<String>,
    /// ARM endpoint.
    pub endpoint: Option<String>,
    /// auth mode.
    pub auth: String,
}

fn setting(config: &Value, name: &str, env: &str) -> Option<String> {
    match config.get(name).map(|v| v.unmark().0) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => std::env::var(env).ok().filter(|s| !s.is_empty()),
    }
}

impl Settings {
    /// Read the evaluated provider block.
    pub fn from_config(config: &Value) -> Settings {
        Settings {
            subscription_id: setting(config, "subscription_id", "AZURE_SUBSCRIPTION_ID"),
            tenant_id: setting(config, "tenant_id", "AZURE_TENANT_ID"),
            client_id: setting(config, "client_id", "AZURE_CLIENT_ID"),
            client_secret: setting(config, "client_secret", "AZURE_CLIENT_SECRET"),
            endpoint: setting(config, "endpoint", "MESH_AZURE_ENDPOINT"),
            auth: setting(config, "auth", "MESH_AZURE_AUTH").unwrap_or_else(|| "auto".to_string()),
        }
    }
}

/// The token audience of an ARM endpoint (the endpoint itself, as ARM expects).
pub fn audience_of(endpoint: &str) -> String {
    endpoint.trim_end_matches('/').to_string()
}

/// The credential for the settings.
pub fn credential(settings: &Settings) -> Result<Arc<dyn TokenSource>, ProviderError> {
    match settings.auth.as_str() {
        "none" => Ok(Arc::new(StaticToken("local-cloud".to_string()))),
        other => Err(ProviderError::new(format!(
            "auth = \"{other}\" is not available yet in this build; use auth = \"none\" with the local cloud"
        ))),
    }
}
