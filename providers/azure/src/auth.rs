//! Credentials: which identity the provider uses, from the provider block and the standard
//! AZURE_* environment variables. Tokens come from `azure_identity` (no hand-written OAuth),
//! cached until five minutes before they expire.
//!
//! `auth` selects the credential:
//! - `none`: a fixed bearer token, for the local cloud (which accepts any token);
//! - `azure_cli`: the account logged in to the Azure CLI (`az login`);
//! - `client_secret`: a service principal (tenant_id, client_id, client_secret, or
//!   AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET);
//! - `managed_identity`: the host's managed identity (App Service or IMDS); with `client_id`,
//!   that user-assigned identity;
//! - `workload_identity`: Entra Workload ID on Kubernetes (AZURE_FEDERATED_TOKEN_FILE with the
//!   tenant and client ID);
//! - `auto` (default): `none` when the endpoint is on this machine (the local cloud), else
//!   the first that applies of client secret, workload identity, managed identity (when
//!   IDENTITY_ENDPOINT or MSI_ENDPOINT is set), and the Azure CLI.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::cloud::CloudConfiguration;
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_core::time::OffsetDateTime;
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use mesh_engine::provider::ProviderError;
use mesh_engine::value::Value;

use crate::arm::{ArmError, StaticToken, TokenSource};

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

/// The valid values of `auth`.
pub const AUTH_MODES: &[&str] = &[
    "auto",
    "azure_cli",
    "client_secret",
    "managed_identity",
    "workload_identity",
    "none",
];

/// A kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A fixed token (the local cloud).
    None,
    /// The Azure CLI's logged-in account.
    AzureCli,
    /// A service principal with a client secret.
    ClientSecret,
    /// The host's managed identity.
    ManagedIdentity,
    /// Entra Workload ID (a federated Kubernetes service account token).
    WorkloadIdentity,
}

/// The environment variables credential selection reads besides those in [`Settings`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthEnv {
    /// AZURE_FEDERATED_TOKEN_FILE.
    pub federated_token_file: Option<String>,
    /// IDENTITY_ENDPOINT (App Service, Arc, ... managed identity).
    pub identity_endpoint: Option<String>,
    /// MSI_ENDPOINT (older managed identity hosts, Cloud Shell).
    pub msi_endpoint: Option<String>,
}

impl AuthEnv {
    /// Read the process environment.
    pub fn from_process() -> AuthEnv {
        let var = |name: &str| std::env::var(name).ok().filter(|s| !s.trim().is_empty());
        AuthEnv {
            federated_token_file: var("AZURE_FEDERATED_TOKEN_FILE"),
            identity_endpoint: var("IDENTITY_ENDPOINT"),
            msi_endpoint: var("MSI_ENDPOINT"),
        }
    }
}

/// True when an endpoint is on this machine (the local cloud).
fn is_loopback(endpoint: &str) -> bool {
    reqwest::Url::parse(endpoint)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        .is_some_and(|h| matches!(h.as_str(), "localhost" | "127.0.0.1" | "[::1]" | "::1"))
}

/// Which credential the settings ask for; a pure function of the settings and environment.
pub fn select(settings: &Settings, env: &AuthEnv) -> Result<CredentialKind, ProviderError> {
    Ok(match settings.auth.as_str() {
        "none" => CredentialKind::None,
        "azure_cli" => CredentialKind::AzureCli,
        "client_secret" => CredentialKind::ClientSecret,
        "managed_identity" => CredentialKind::ManagedIdentity,
        "workload_identity" => CredentialKind::WorkloadIdentity,
        "auto" => {
            let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
            if settings.endpoint.as_deref().is_some_and(is_loopback) {
                CredentialKind::None
            } else if has(&settings.tenant_id)
                && has(&settings.client_id)
                && has(&settings.client_secret)
            {
                CredentialKind::ClientSecret
            } else if has(&env.federated_token_file)
                && has(&settings.tenant_id)
                && has(&settings.client_id)
            {
                CredentialKind::WorkloadIdentity
            } else if has(&env.identity_endpoint) || has(&env.msi_endpoint) {
                CredentialKind::ManagedIdentity
            } else {
                CredentialKind::AzureCli
            }
        }
        other => {
            return Err(ProviderError::new(format!(
                "auth = \"{other}\" is not a valid authentication mode; valid values: {}",
                AUTH_MODES.join(", ")
            )))
        }
    })
}

/// The credential for the settings (reading AZURE_FEDERATED_TOKEN_FILE, IDENTITY_ENDPOINT and
/// MSI_ENDPOINT from the environment).
pub fn credential(settings: &Settings) -> Result<Arc<dyn TokenSource>, ProviderError> {
    let env = AuthEnv::from_process();
    let kind = select(settings, &env)?;
    build(kind, settings, &env)
}

/// The login authority of a sovereign cloud, from its ARM endpoint (None: public Azure or
/// AZURE_AUTHORITY_HOST).
fn cloud_of(endpoint: Option<&str>) -> Option<Arc<CloudConfiguration>> {
    let host = reqwest::Url::parse(endpoint?)
        .ok()?
        .host_str()?
        .to_ascii_lowercase();
    if host.ends_with(".chinacloudapi.cn") {
        Some(Arc::new(CloudConfiguration::AzureChina))
    } else if host.ends_with(".usgovcloudapi.net") {
        Some(Arc::new(CloudConfiguration::AzureGovernment))
    } else {
        None
    }
}

fn required<'a>(
    value: &'a Option<String>,
    mode: &str,
    setting: &str,
    env: &str,
) -> Result<&'a str, ProviderError> {
    value.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| {
        ProviderError::new(format!(
            "auth = \"{mode}\" needs {setting} in the provider block or {env} in the environment"
        ))
    })
}

fn identity_error(name: &str, e: azure_core::Error) -> ProviderError {
    ProviderError::new(format!("cannot set up {name}: {e}"))
}

fn build(
    kind: CredentialKind,
    settings: &Settings,
    env: &AuthEnv,
) -> Result<Arc<dyn TokenSource>, ProviderError> {
    let client_options = || ClientOptions {
        cloud: cloud_of(settings.endpoint.as_deref()),
        ..ClientOptions::default()
    };
    let (name, credential): (&'static str, Arc<dyn TokenCredential>) = match kind {
        CredentialKind::None => return Ok(Arc::new(StaticToken("local-cloud".to_string()))),
        CredentialKind::AzureCli => {
            let options = AzureCliCredentialOptions {
                tenant_id: settings.tenant_id.clone(),
                subscription: settings.subscription_id.clone(),
                ..AzureCliCredentialOptions::default()
            };
            let name = "the Azure CLI credential";
            let c = AzureCliCredential::new(Some(options)).map_err(|e| identity_error(name, e))?;
            (name, c)
        }
        CredentialKind::ClientSecret => {
            let mode = "client_secret";
            let tenant = required(&settings.tenant_id, mode, "tenant_id", "AZURE_TENANT_ID")?;
            let client = required(&settings.client_id, mode, "client_id", "AZURE_CLIENT_ID")?;
            let secret = required(
                &settings.client_secret,
                mode,
                "client_secret",
                "AZURE_CLIENT_SECRET",
            )?;
            let name = "the client secret credential";
            let options = ClientSecretCredentialOptions {
                client_options: client_options(),
            };
            let c = ClientSecretCredential::new(
                tenant,
                client.to_string(),
                Secret::new(secret.to_string()),
                Some(options),
            )
            .map_err(|e| identity_error(name, e))?;
            (name, c)
        }
        CredentialKind::ManagedIdentity => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: settings.client_id.clone().map(UserAssignedId::ClientId),
                ..ManagedIdentityCredentialOptions::default()
            };
            let name = "the managed identity credential";
            let c = ManagedIdentityCredential::new(Some(options))
                .map_err(|e| identity_error(name, e))?;
            (name, c)
        }
        CredentialKind::WorkloadIdentity => {
            let mode = "workload_identity";
            let tenant = required(&settings.tenant_id, mode, "tenant_id", "AZURE_TENANT_ID")?;
            let client = required(&settings.client_id, mode, "client_id", "AZURE_CLIENT_ID")?;
            let file = env.federated_token_file.as_deref().ok_or_else(|| {
                ProviderError::new(
                    "auth = \"workload_identity\" needs AZURE_FEDERATED_TOKEN_FILE in the environment",
                )
            })?;
            let options = WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: client_options(),
                },
                client_id: Some(client.to_string()),
                tenant_id: Some(tenant.to_string()),
                token_file_path: Some(file.into()),
            };
            let name = "the workload identity credential";
            let c = WorkloadIdentityCredential::new(Some(options))
                .map_err(|e| identity_error(name, e))?;
            (name, c)
        }
    };
    Ok(Arc::new(CachedCredential::new(name, credential)))
}

/// How long before expiry a cached token is replaced.
const REFRESH_MARGIN: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// An `azure_identity` credential behind [`TokenSource`], caching one token per scope.
pub struct CachedCredential {
    name: &'static str,
    credential: Arc<dyn TokenCredential>,
    cache: tokio::sync::Mutex<HashMap<String, (Secret, OffsetDateTime)>>,
}

impl CachedCredential {
    /// Wrap a credential; `name` appears in error messages.
    pub fn new(name: &'static str, credential: Arc<dyn TokenCredential>) -> CachedCredential {
        CachedCredential {
            name,
            credential,
            cache: tokio::sync::Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl TokenSource for CachedCredential {
    async fn token(&self, scope: &str) -> Result<String, ArmError> {
        // One fetch at a time: concurrent requests wait for the token being fetched.
        let mut cache = self.cache.lock().await;
        let now = OffsetDateTime::now_utc();
        if let Some((token, expires_on)) = cache.get(scope) {
            if *expires_on - REFRESH_MARGIN > now {
                return Ok(token.secret().to_string());
            }
        }
        let token = self
            .credential
            .get_token(&[scope], None)
            .await
            .map_err(|e| {
                ArmError::new(
                    0,
                    "CredentialUnavailable",
                    format!("{} could not get a token for {scope}: {e}", self.name),
                )
            })?;
        let value = token.token.secret().to_string();
        cache.insert(scope.to_string(), (token.token, token.expires_on));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::credentials::{AccessToken, TokenRequestOptions};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn settings(auth: &str) -> Settings {
        Settings {
            subscription_id: Some("sub".into()),
            endpoint: Some("https://management.azure.com".into()),
            auth: auth.into(),
            ..Settings::default()
        }
    }

    fn sp(mut s: Settings) -> Settings {
        s.tenant_id = Some("tenant".into());
        s.client_id = Some("client".into());
        s.client_secret = Some("hunter2".into());
        s
    }

    #[test]
    fn auto_picks_the_first_credential_that_applies() {
        let empty = AuthEnv::default();
        let workload = AuthEnv {
            federated_token_file: Some("/var/run/secrets/azure/tokens/azure-identity-token".into()),
            ..AuthEnv::default()
        };
        let msi = AuthEnv {
            identity_endpoint: Some("http://169.254.169.254/msi".into()),
            ..AuthEnv::default()
        };
        let both = AuthEnv {
            msi_endpoint: Some("http://localhost:50342/oauth2/token".into()),
            ..workload.clone()
        };
        let auto = settings("auto");
        assert_eq!(select(&auto, &empty).unwrap(), CredentialKind::AzureCli);
        assert_eq!(
            select(&sp(auto.clone()), &both).unwrap(),
            CredentialKind::ClientSecret
        );
        let mut ids = sp(auto.clone());
        ids.client_secret = None;
        assert_eq!(
            select(&ids, &both).unwrap(),
            CredentialKind::WorkloadIdentity
        );
        // Workload identity needs the tenant and client ID as well as the token file.
        assert_eq!(select(&auto, &workload).unwrap(), CredentialKind::AzureCli);
        assert_eq!(
            select(&auto, &both).unwrap(),
            CredentialKind::ManagedIdentity
        );
        assert_eq!(
            select(&auto, &msi).unwrap(),
            CredentialKind::ManagedIdentity
        );
        // A partial service principal is not one.
        let mut partial = sp(auto.clone());
        partial.tenant_id = None;
        assert_eq!(select(&partial, &empty).unwrap(), CredentialKind::AzureCli);
        // The local cloud needs no credential.
        let mut local = sp(auto);
        local.endpoint = Some("http://127.0.0.1:41234".into());
        assert_eq!(select(&local, &both).unwrap(), CredentialKind::None);
    }

    #[test]
    fn explicit_modes_and_unknown_values() {
        let env = AuthEnv::default();
        for (mode, kind) in [
            ("none", CredentialKind::None),
            ("azure_cli", CredentialKind::AzureCli),
            ("client_secret", CredentialKind::ClientSecret),
            ("managed_identity", CredentialKind::ManagedIdentity),
            ("workload_identity", CredentialKind::WorkloadIdentity),
        ] {
            assert_eq!(select(&settings(mode), &env).unwrap(), kind);
        }
        let e = select(&settings("password"), &env).unwrap_err();
        assert!(e.message.contains("\"password\""), "{}", e.message);
        for mode in AUTH_MODES {
            assert!(e.message.contains(mode), "{}", e.message);
        }
    }

    #[test]
    fn missing_settings_are_named_and_secrets_never_shown() {
        let env = AuthEnv::default();
        let mut s = sp(settings("client_secret"));
        s.tenant_id = None;
        let e = build(CredentialKind::ClientSecret, &s, &env).err().unwrap();
        assert!(e.message.contains("tenant_id") && e.message.contains("AZURE_TENANT_ID"));
        assert!(!e.message.contains("hunter2"));
        let e = build(CredentialKind::WorkloadIdentity, &sp(settings("x")), &env)
            .err()
            .unwrap();
        assert!(
            e.message.contains("AZURE_FEDERATED_TOKEN_FILE"),
            "{}",
            e.message
        );
        assert!(build(CredentialKind::ClientSecret, &sp(settings("x")), &env).is_ok());
        assert!(build(CredentialKind::None, &settings("none"), &env).is_ok());
    }

    #[test]
    fn sovereign_clouds_use_their_authority() {
        assert!(matches!(
            cloud_of(Some("https://management.chinacloudapi.cn")).as_deref(),
            Some(CloudConfiguration::AzureChina)
        ));
        assert!(matches!(
            cloud_of(Some("https://management.usgovcloudapi.net/")).as_deref(),
            Some(CloudConfiguration::AzureGovernment)
        ));
        assert!(cloud_of(Some("https://management.azure.com")).is_none());
        assert!(cloud_of(None).is_none());
    }

    #[derive(Debug)]
    struct Counting {
        calls: AtomicUsize,
        lifetime: std::time::Duration,
    }

    #[async_trait]
    impl TokenCredential for Counting {
        async fn get_token(
            &self,
            scopes: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(AccessToken::new(
                format!("{}#{n}", scopes.join(" ")),
                OffsetDateTime::now_utc() + self.lifetime,
            ))
        }
    }

    #[tokio::test]
    async fn tokens_are_cached_per_scope_until_near_expiry() {
        let long = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            lifetime: std::time::Duration::from_secs(3600),
        });
        let cached = CachedCredential::new("test", long.clone());
        assert_eq!(cached.token("a/.default").await.unwrap(), "a/.default#0");
        assert_eq!(cached.token("a/.default").await.unwrap(), "a/.default#0");
        assert_eq!(cached.token("b/.default").await.unwrap(), "b/.default#1");
        assert_eq!(long.calls.load(Ordering::SeqCst), 2);

        // A token expiring within the refresh margin is replaced at every use.
        let short = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            lifetime: std::time::Duration::from_secs(60),
        });
        let cached = CachedCredential::new("test", short.clone());
        cached.token("a").await.unwrap();
        assert_eq!(cached.token("a").await.unwrap(), "a#1");
        assert_eq!(short.calls.load(Ordering::SeqCst), 2);
    }
}
