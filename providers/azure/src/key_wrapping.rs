//! State encryption with an Azure Key Vault key: [`KeyVaultKeyWrapper`] wraps and unwraps the
//! state's data keys with a vault's `wrapkey` and `unwrapkey` operations (RSA-OAEP-256), so
//! the key-encryption key never leaves the vault.
//!
//! The same code serves Azure (a bearer token for `https://vault.azure.net` from the provider's
//! credential chain) and the local cloud (a loopback vault, no credential).
//!
//! [`KeyWrapper`] is synchronous and is called from inside mesh's tokio runtime. The wrapper
//! therefore owns one thread with its own current-thread runtime that performs the HTTP calls;
//! a caller sends it a request and waits for the answer. On a multi-threaded runtime the wait
//! is wrapped in `block_in_place`, so the runtime moves its other work (such as an embedded
//! local cloud answering this very request) to another thread instead of stalling it. A
//! current-thread runtime that also serves the vault would deadlock: mesh does not use one.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mesh_engine::value::Value;
use mesh_state::KeyWrapper;
use serde_json::{json, Value as Json};
use tokio_util::sync::CancellationToken;

use crate::arm::{ArmClient, ArmConfig, ArmError, Method, RetryPolicy, StaticToken, TokenSource};
use crate::resources::key_vault_secret::DATA_PLANE_SCOPE;

/// The wrap algorithm mesh uses and records in each envelope.
pub const WRAP_ALGORITHM: &str = "RSA-OAEP-256";

/// The Key Vault api-version of wrap and unwrap calls.
const API_VERSION: &str = "7.4";

/// A Key Vault key's URL: `{vault}/keys/{name}` or `{vault}/keys/{name}/{version}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVaultKeyId {
    /// The vault's URL, ending in `/` (e.g. `https://kv1.vault.azure.net/`).
    vault_url: String,
    name: String,
    version: Option<String>,
}

impl KeyVaultKeyId {
    /// Parse a key URL; the error says what is wrong with it. Vaults off this machine must be
    /// reached over HTTPS.
    pub fn parse(text: &str) -> Result<KeyVaultKeyId, String> {
        let url = reqwest::Url::parse(text.trim())
            .map_err(|e| format!("\"{text}\" is not a URL ({e})"))?;
        let expected = "expected https://<vault>.vault.azure.net/keys/<name>[/<version>]";
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("\"{text}\" has a query or fragment; {expected}"));
        }
        let loopback = is_loopback_host(url.host_str().unwrap_or_default());
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(format!("\"{text}\" must use https; {expected}")),
        }
        let segments: Vec<&str> = url.path().trim_end_matches('/').split('/').collect();
        let Some(keys_at) = segments.iter().rposition(|s| *s == "keys") else {
            return Err(format!("\"{text}\" does not name a key; {expected}"));
        };
        let (name, version) = match &segments[keys_at + 1..] {
            [name] => (*name, None),
            [name, version] => (*name, Some(*version)),
            _ => return Err(format!("\"{text}\" does not name a key; {expected}")),
        };
        let name_ok = !name.is_empty()
            && name.len() <= 127
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !name_ok {
            return Err(format!(
                "\"{name}\" is not a valid key name (1-127 letters, digits and hyphens)"
            ));
        }
        if version.is_some_and(|v| v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric())) {
            return Err(format!("\"{text}\" has an invalid key version; {expected}"));
        }
        let mut vault = url.clone();
        vault.set_path(&format!("{}/", segments[..keys_at].join("/")));
        Ok(KeyVaultKeyId {
            vault_url: vault.to_string(),
            name: name.to_string(),
            version: version.map(str::to_string),
        })
    }

    /// The vault's URL, ending in `/`.
    pub fn vault_url(&self) -> &str {
        &self.vault_url
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version, when the URL names one.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The URL without version (the key's current version).
    pub fn versionless(&self) -> String {
        format!("{}keys/{}", self.vault_url, self.name)
    }

    /// True when the vault is on this machine (the local cloud).
    pub fn is_loopback(&self) -> bool {
        reqwest::Url::parse(&self.vault_url)
            .ok()
            .and_then(|u| u.host_str().map(is_loopback_host))
            .unwrap_or(false)
    }

    /// True when both name the same key (any versions): vault and name, ignoring case.
    pub fn same_key(&self, other: &KeyVaultKeyId) -> bool {
        self.vault_url.eq_ignore_ascii_case(&other.vault_url)
            && self.name.eq_ignore_ascii_case(&other.name)
    }
}

impl std::fmt::Display for KeyVaultKeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}/{v}", self.versionless()),
            None => f.write_str(&self.versionless()),
        }
    }
}

fn is_loopback_host(host: &str) -> bool {
    matches!(
        host.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "[::1]" | "::1"
    )
}

/// One HTTP call for the worker thread.
struct Job {
    url: String,
    body: Json,
    reply: mpsc::Sender<Result<Option<Json>, ArmError>>,
}

/// A Key Vault key that wraps state data keys (a [`KeyWrapper`]).
pub struct KeyVaultKeyWrapper {
    key: KeyVaultKeyId,
    /// The versioned kid of the last wrap: what envelopes record.
    current: Mutex<Option<String>>,
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for KeyVaultKeyWrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyVaultKeyWrapper({})", self.key)
    }
}

/// Retries for wrap calls: a few quick ones, so that an unreachable vault is reported within
/// seconds rather than after ARM's long backoff.
fn wrap_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(300),
        max_delay: Duration::from_secs(2),
        max_total_wait: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
        ..RetryPolicy::default()
    }
}

impl KeyVaultKeyWrapper {
    /// A wrapper for `key` whose calls authenticate with `credential`.
    pub fn new(
        key: KeyVaultKeyId,
        credential: Arc<dyn TokenSource>,
    ) -> Result<KeyVaultKeyWrapper, String> {
        let client = ArmClient::new(ArmConfig {
            endpoint: key.vault_url.clone(),
            subscription_id: String::new(),
            scope: DATA_PLANE_SCOPE.to_string(),
            credential,
        })
        .map_err(|e| e.to_string())?
        .with_policy(wrap_policy());
        let jobs = spawn_worker(client)?;
        Ok(KeyVaultKeyWrapper {
            key,
            current: Mutex::new(None),
            jobs: Mutex::new(jobs),
        })
    }

    /// A wrapper whose credential comes from the environment as the azure provider's does
    /// (`AZURE_*`, `MESH_AZURE_AUTH`; the Azure CLI by default); none for a loopback vault.
    pub fn from_environment(key: KeyVaultKeyId) -> Result<KeyVaultKeyWrapper, String> {
        let credential: Arc<dyn TokenSource> = if key.is_loopback() {
            Arc::new(StaticToken("local-cloud".to_string()))
        } else {
            let settings = crate::auth::Settings::from_config(&Value::Null);
            crate::auth::credential(&settings).map_err(|e| e.message)?
        };
        KeyVaultKeyWrapper::new(key, credential)
    }

    /// The configured key.
    pub fn key(&self) -> &KeyVaultKeyId {
        &self.key
    }

    /// POST `{target}/{operation}` with a value; the answer's `kid` and decoded `value`.
    fn operate(
        &self,
        target: &str,
        operation: &str,
        value: &[u8],
    ) -> Result<(String, Vec<u8>), String> {
        let url = format!("{target}/{operation}?api-version={API_VERSION}");
        let body = json!({"alg": WRAP_ALGORITHM, "value": URL_SAFE_NO_PAD.encode(value)});
        let (reply, answer) = mpsc::channel();
        let job = Job { url, body, reply };
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job);
        let stopped = || format!("Key Vault key {target}: the client thread has stopped");
        if sent.is_err() {
            return Err(stopped());
        }
        let result = wait(|| answer.recv()).map_err(|_| stopped())?;
        let response = match result {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(format!(
                    "the Key Vault key {target} does not exist (the vault answered 404)"
                ))
            }
            Err(e) => return Err(format!("Key Vault key {target}: {}: {}", e.code, e.message)),
        };
        let kid = response
            .get("kid")
            .and_then(Json::as_str)
            .unwrap_or(target)
            .to_string();
        let value = response
            .get("value")
            .and_then(Json::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).ok())
            .ok_or_else(|| {
                format!("the Key Vault key {target} answered {operation} without a value")
            })?;
        Ok((kid, value))
    }
}

impl KeyWrapper for KeyVaultKeyWrapper {
    fn key_id(&self) -> String {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        current.clone().unwrap_or_else(|| self.key.to_string())
    }

    fn algorithm(&self) -> String {
        WRAP_ALGORITHM.to_string()
    }

    fn wrap(&self, data_key: &[u8]) -> Result<Vec<u8>, String> {
        let (kid, wrapped) = self.operate(&self.key.to_string(), "wrapkey", data_key)?;
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(kid);
        Ok(wrapped)
    }

    fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>, String> {
        let recorded = KeyVaultKeyId::parse(key_id)
            .map_err(|e| format!("the envelope's key id is damaged: {e}"))?;
        if !recorded.same_key(&self.key) {
            return Err(format!(
                "{key_id} is not a version of the configured key {}",
                self.key.versionless()
            ));
        }
        // The recorded version: older versions keep unwrapping after a rotation.
        let (_, key) = self.operate(&recorded.to_string(), "unwrapkey", wrapped)?;
        Ok(key)
    }
}

/// Wait for the worker without stalling a multi-threaded runtime (see the module docs).
fn wait<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Start the thread that performs the calls; it ends when the wrapper is dropped.
fn spawn_worker(client: ArmClient) -> Result<mpsc::Sender<Job>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the Key Vault client: {e}"))?;
    let (jobs, incoming) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("mesh-key-vault".into())
        .spawn(move || {
            let cancel = CancellationToken::new();
            while let Ok(job) = incoming.recv() {
                let result = runtime.block_on(client.data_plane(
                    Method::Post,
                    &job.url,
                    Some(&job.body),
                    DATA_PLANE_SCOPE,
                    &cancel,
                ));
                let _ = job.reply.send(result);
            }
        })
        .map_err(|e| format!("cannot start the Key Vault client: {e}"))?;
    Ok(jobs)
}
