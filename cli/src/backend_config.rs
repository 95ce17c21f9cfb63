//! The spec's `mesh { backend "TYPE" { ... } }` block turned into a state backend: which
//! backend, where, and with which credentials. Every problem is a diagnostic at the setting.
//!
//! `azure_blob` authorizes like the azure provider: with the storage account's access key
//! (Shared Key, from `AZURE_STORAGE_KEY`; never written in a spec file), or with Microsoft
//! Entra ID tokens from the same credentials the provider uses (`auth`, `tenant_id`,
//! `client_id`, `AZURE_*` variables).

use std::path::Path;
use std::sync::Arc;

use mesh_engine::config::{LiteralBlock, LiteralSetting, MeshSettings};
use mesh_engine::diagnostics::{Diagnostic, Diagnostics, SourceLocation};
use mesh_state::azure::{
    DEFAULT_KEEP_SNAPSHOTS, DEFAULT_LEASE_SECONDS, DEVELOPMENT_ACCOUNT, DEVELOPMENT_ACCOUNT_KEY,
};
use mesh_state::{
    AccessTokens, AzureBlobBackend, AzureBlobConfig, Backend, BlobCredential, Encryption,
};

/// The backend types mesh knows.
const BACKEND_TYPES: &[&str] = &["local", "azure_blob"];

/// The settings of an `azure_blob` backend.
const AZURE_BLOB_SETTINGS: &[&str] = &[
    "account",
    "container",
    "key",
    "endpoint",
    "auth",
    "use_azure_auth",
    "tenant_id",
    "client_id",
    "lease_seconds",
    "keep_snapshots",
];

/// `auth` values: Shared Key, or the azure provider's Entra ID credentials.
const AUTH_MODES: &[&str] = &[
    "auto",
    "shared_key",
    "azure_cli",
    "client_secret",
    "managed_identity",
    "workload_identity",
];

/// The environment variable holding a storage account access key.
pub const ACCESS_KEY_ENV: &str = "AZURE_STORAGE_KEY";

/// The token scope of Azure Storage.
const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// Where state is stored, as the spec says.
pub enum BackendChoice {
    /// `.mesh/state.json` in the spec directory (no backend block, or `backend "local"`).
    Local,
    /// Azure Blob Storage.
    AzureBlob(AzureBlobConfig),
}

/// Read the backend block (if any) of the root module's settings.
pub fn choose(settings: &MeshSettings) -> Result<BackendChoice, Diagnostics> {
    let Some(block) = &settings.backend else {
        return Ok(BackendChoice::Local);
    };
    let mut diags = Diagnostics::new();
    let choice = match block.label.as_deref() {
        Some("local") => {
            refuse_unknown(block, &[], &mut diags);
            BackendChoice::Local
        }
        Some("azure_blob") => match azure_blob(block, &mut diags) {
            Some(config) => BackendChoice::AzureBlob(config),
            None => BackendChoice::Local,
        },
        other => {
            diags.push(Diagnostic::error(
                "Unknown backend type",
                format!(
                    "there is no backend \"{}\"; available: {}",
                    other.unwrap_or_default(),
                    BACKEND_TYPES.join(", ")
                ),
                Some(block.location.clone()),
            ));
            BackendChoice::Local
        }
    };
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(choice)
}

/// The backend for a choice, encrypting with `encryption` when given; `local_path` is the
/// local state file.
pub fn open(
    choice: BackendChoice,
    local_path: &Path,
    encryption: Option<Arc<Encryption>>,
) -> Result<Arc<dyn Backend>, mesh_state::StateError> {
    Ok(match choice {
        BackendChoice::Local => {
            Arc::new(mesh_state::LocalBackend::new(local_path).with_encryption(encryption))
        }
        BackendChoice::AzureBlob(config) => Arc::new(AzureBlobBackend::new(AzureBlobConfig {
            encryption,
            ..config
        })?),
    })
}

fn refuse_unknown(block: &LiteralBlock, allowed: &[&str], diags: &mut Diagnostics) {
    for (name, setting) in &block.attributes {
        if allowed.contains(&name.as_str()) {
            continue;
        }
        let secret_env = match name.as_str() {
            "access_key" => Some(ACCESS_KEY_ENV),
            "client_secret" => Some("AZURE_CLIENT_SECRET"),
            _ => None,
        };
        let d = match secret_env {
            Some(env) => Diagnostic::error(
                "Secret in a spec file",
                format!("\"{name}\" cannot be set in the backend block: the spec file would hold a secret in plain text"),
                // The line holds the secret: point at it without showing it.
                Some(SourceLocation {
                    snippet: String::new(),
                    ..setting.location.clone()
                }),
            )
            .with_help(format!("set the {env} environment variable instead")),
            None => {
                let mut d = Diagnostic::error(
                    "Unsupported argument",
                    format!(
                        "an argument named \"{name}\" is not expected in a {} backend block; expected one of: {}",
                        block.label.as_deref().unwrap_or_default(),
                        if allowed.is_empty() { "(none)".to_string() } else { allowed.join(", ") }
                    ),
                    Some(setting.location.clone()),
                );
                if let Some(help) =
                    mesh_engine::diagnostics::did_you_mean(name, allowed.iter().copied())
                {
                    d = d.with_help(help);
                }
                d
            }
        };
        diags.push(d);
    }
}

fn string(block: &LiteralBlock, name: &str, diags: &mut Diagnostics) -> Option<String> {
    let setting = block.get(name)?;
    match setting.value.as_str() {
        Some(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => {
            invalid(
                setting,
                format!("\"{name}\" must be a non-empty string"),
                diags,
            );
            None
        }
    }
}

fn required(block: &LiteralBlock, name: &str, diags: &mut Diagnostics) -> Option<String> {
    if block.get(name).is_none() {
        diags.push(Diagnostic::error(
            "Missing required argument",
            format!("the azure_blob backend needs \"{name}\""),
            Some(block.location.clone()),
        ));
        return None;
    }
    string(block, name, diags)
}

fn number(block: &LiteralBlock, name: &str, default: u64, diags: &mut Diagnostics) -> u64 {
    let Some(setting) = block.get(name) else {
        return default;
    };
    match setting.value.as_u64() {
        Some(n) => n,
        None => {
            invalid(setting, format!("\"{name}\" must be a whole number"), diags);
            default
        }
    }
}

fn invalid(setting: &LiteralSetting, message: String, diags: &mut Diagnostics) {
    diags.push(Diagnostic::error(
        "Invalid value",
        message,
        Some(setting.location.clone()),
    ));
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn azure_blob(block: &LiteralBlock, diags: &mut Diagnostics) -> Option<AzureBlobConfig> {
    refuse_unknown(block, AZURE_BLOB_SETTINGS, diags);
    let account = required(block, "account", diags);
    let container = required(block, "container", diags);
    let key = required(block, "key", diags);
    let endpoint = string(block, "endpoint", diags);
    let lease_seconds = number(block, "lease_seconds", DEFAULT_LEASE_SECONDS.into(), diags);
    let keep = number(
        block,
        "keep_snapshots",
        DEFAULT_KEEP_SNAPSHOTS as u64,
        diags,
    );
    let credential = credential(block, account.as_deref().unwrap_or_default(), diags);
    let (account, container, key, credential) = (account?, container?, key?, credential?);
    let config = AzureBlobConfig {
        endpoint: endpoint.unwrap_or_else(|| AzureBlobConfig::default_endpoint(&account)),
        account,
        container,
        key,
        credential,
        lease_seconds: u32::try_from(lease_seconds).unwrap_or(u32::MAX),
        keep_snapshots: usize::try_from(keep).unwrap_or(usize::MAX),
        encryption: None,
    };
    if let Err(e) = config.validate() {
        // Point at the setting the message names, else at the block.
        let location = AZURE_BLOB_SETTINGS
            .iter()
            .find(|name| e.to_string().starts_with(*name))
            .and_then(|name| block.get(name))
            .map_or_else(|| block.location.clone(), |s| s.location.clone());
        diags.push(Diagnostic::error(
            "Invalid backend setting",
            e.to_string(),
            Some(location),
        ));
        return None;
    }
    Some(config)
}

/// Shared Key when an access key is at hand (or for the emulator's development account),
/// else Entra ID tokens, as `auth` and `use_azure_auth` say.
fn credential(
    block: &LiteralBlock,
    account: &str,
    diags: &mut Diagnostics,
) -> Option<BlobCredential> {
    let auth = string(block, "auth", diags).unwrap_or_else(|| "auto".to_string());
    if !AUTH_MODES.contains(&auth.as_str()) {
        if let Some(setting) = block.get("auth") {
            invalid(
                setting,
                format!(
                    "auth = \"{auth}\" is not a valid mode; valid values: {}",
                    AUTH_MODES.join(", ")
                ),
                diags,
            );
        }
        return None;
    }
    let use_azure_auth = match block.get("use_azure_auth") {
        None => false,
        Some(setting) => match setting.value.as_bool() {
            Some(b) => b,
            None => {
                invalid(
                    setting,
                    "\"use_azure_auth\" must be true or false".to_string(),
                    diags,
                );
                return None;
            }
        },
    };
    let access_key = env(ACCESS_KEY_ENV)
        .or_else(|| (account == DEVELOPMENT_ACCOUNT).then(|| DEVELOPMENT_ACCOUNT_KEY.to_string()));
    match (auth.as_str(), use_azure_auth, access_key) {
        ("shared_key", _, Some(key)) | ("auto", false, Some(key)) => {
            Some(BlobCredential::SharedKey(key))
        }
        ("shared_key", _, None) => {
            diags.push(Diagnostic::error(
                "Missing access key",
                format!("auth = \"shared_key\" needs the storage account's access key in {ACCESS_KEY_ENV}"),
                block.get("auth").map(|s| s.location.clone()),
            ));
            None
        }
        _ => {
            let mode = if auth == "auto" {
                "auto"
            } else {
                auth.as_str()
            };
            let settings = mesh_provider_azure::auth::Settings {
                subscription_id: None,
                tenant_id: string(block, "tenant_id", diags).or_else(|| env("AZURE_TENANT_ID")),
                client_id: string(block, "client_id", diags).or_else(|| env("AZURE_CLIENT_ID")),
                client_secret: env("AZURE_CLIENT_SECRET"),
                endpoint: None,
                auth: mode.to_string(),
            };
            match mesh_provider_azure::auth::credential(&settings) {
                Ok(source) => Some(BlobCredential::Bearer(Arc::new(ProviderTokens(source)))),
                Err(e) => {
                    diags.push(Diagnostic::error(
                        "Cannot set up the backend's credentials",
                        e.message,
                        Some(block.location.clone()),
                    ));
                    None
                }
            }
        }
    }
}

/// Entra ID tokens for Azure Storage from the azure provider's credentials.
struct ProviderTokens(Arc<dyn mesh_provider_azure::arm::TokenSource>);

#[async_trait::async_trait]
impl AccessTokens for ProviderTokens {
    async fn token(&self) -> Result<String, String> {
        self.0.token(STORAGE_SCOPE).await.map_err(|e| e.to_string())
    }
}
