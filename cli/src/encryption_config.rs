//! The spec's `mesh { encryption { ... } }` block turned into the state's [`Encryption`].
//!
//! Two kinds of key, combinable:
//! - `key_vault_key_id`: an Azure Key Vault key (versionless or versioned URL) wraps a random
//!   data key per writer; the vault does the wrapping, so no secret is kept anywhere else. A
//!   key on this machine is the local cloud's, which is then started (if not yet running).
//! - a passphrase from an environment variable (never from a spec file), and an old one that
//!   still decrypts what was written before a rotation.
//!
//! Sources are tried in this order: the Key Vault key, the passphrase, the old passphrase. The
//! first one present encrypts everything written; all of them decrypt. So adding
//! `key_vault_key_id` to a passphrase-encrypted state (with the passphrase still set) moves it
//! to the key at the next write.

use std::sync::{Arc, OnceLock};

use mesh_engine::config::{LiteralBlock, MeshSettings};
use mesh_engine::diagnostics::{Diagnostic, Diagnostics};
use mesh_provider_azure::key_wrapping::{KeyVaultKeyId, KeyVaultKeyWrapper};
use mesh_state::{Encryption, KdfParams, KeySource, KeyWrapper};

/// Where the passphrase is read from by default.
pub const PASSPHRASE_ENV: &str = "MESH_STATE_PASSPHRASE";

/// Where the previous passphrase is read from by default, during a rotation.
pub const OLD_PASSPHRASE_ENV: &str = "MESH_STATE_OLD_PASSPHRASE";

const SETTINGS: &[&str] = &["passphrase_env", "old_passphrase_env", "key_vault_key_id"];

/// The encryption the spec asks for: `None` without an encryption block. With a Key Vault key,
/// the key is tried once here (a wrap), so that a missing key or an unreachable vault stops the
/// command before it reads or changes anything.
pub fn from_settings(settings: &MeshSettings) -> Result<Option<Arc<Encryption>>, Diagnostics> {
    let Some(block) = &settings.encryption else {
        return Ok(None);
    };
    let mut diags = Diagnostics::new();
    for (name, setting) in &block.attributes {
        if !SETTINGS.contains(&name.as_str()) {
            diags.push(Diagnostic::error(
                "Unsupported argument",
                format!(
                    "an argument named \"{name}\" is not expected in an encryption block; \
                     expected one of: {} (the passphrase itself goes in an environment variable)",
                    SETTINGS.join(", ")
                ),
                Some(setting.location.clone()),
            ));
        }
    }
    let key = key_vault_key(block, &mut diags);
    let passphrase_env = env_name(block, "passphrase_env", PASSPHRASE_ENV, &mut diags);
    let old_env = env_name(block, "old_passphrase_env", OLD_PASSPHRASE_ENV, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    let mut sources = Vec::new();
    let mut described = Vec::new();
    if let Some(key) = &key {
        sources.push(key_vault_source(block, key)?);
        described.push(format!("the Key Vault key {key}"));
    }
    match env(&passphrase_env) {
        Some(passphrase) => {
            sources.push(passphrase_source(passphrase));
            described.push(format!("the passphrase in {passphrase_env}"));
        }
        // With a Key Vault key the passphrase is optional, unless the block names its variable.
        None if key.is_none() || block.get("passphrase_env").is_some() => {
            return Err(missing_passphrase(block, &passphrase_env, key.is_some()).into());
        }
        None => {}
    }
    if let Some(old) = env(&old_env) {
        sources.push(passphrase_source(old));
        described.push(format!("the old passphrase in {old_env}"));
    }
    let description = match described.split_first() {
        Some((first, rest)) if !rest.is_empty() => format!("{first} (or {})", rest.join(", or ")),
        Some((first, _)) => first.clone(),
        None => String::new(),
    };
    let encryption = Encryption::new(sources, description).map_err(|e| {
        Diagnostic::error(
            "Invalid state passphrase",
            e.to_string(),
            Some(block.location.clone()),
        )
    })?;
    if let (Some(_), Some(setting)) = (&key, block.get("key_vault_key_id")) {
        // One wrap now caches the data key for this command's writes.
        encryption.seal(&[]).map_err(|e| {
            Diagnostic::error(
                "Cannot use the state's Key Vault key",
                e.to_string(),
                Some(setting.location.clone()),
            )
        })?;
    }
    Ok(Some(Arc::new(encryption)))
}

fn missing_passphrase(block: &LiteralBlock, passphrase_env: &str, has_key: bool) -> Diagnostic {
    let why = if has_key {
        format!("the encryption block names passphrase_env, but {passphrase_env} is not set")
    } else {
        format!("the spec encrypts state (encryption block), but {passphrase_env} is not set")
    };
    Diagnostic::error(
        "State encryption needs a passphrase",
        format!("{why}: set it to the state's passphrase"),
        Some(block.location.clone()),
    )
}

/// `key_vault_key_id`, checked: a Key Vault key URL.
fn key_vault_key(block: &LiteralBlock, diags: &mut Diagnostics) -> Option<KeyVaultKeyId> {
    let setting = block.get("key_vault_key_id")?;
    let parsed = match setting.value.as_str() {
        Some(text) => KeyVaultKeyId::parse(text),
        None => Err("it must be a string".to_string()),
    };
    match parsed {
        Ok(key) => Some(key),
        Err(why) => {
            diags.push(Diagnostic::error(
                "Invalid value",
                format!(
                    "\"key_vault_key_id\" must be a Key Vault key URL, e.g. \
                     https://my-vault.vault.azure.net/keys/state (with or without a version): {why}"
                ),
                Some(setting.location.clone()),
            ));
            None
        }
    }
}

fn key_vault_source(block: &LiteralBlock, key: &KeyVaultKeyId) -> Result<KeySource, Diagnostic> {
    let wrapper = KeyVaultKeyWrapper::from_environment(key.clone()).map_err(|e| {
        let location = block
            .get("key_vault_key_id")
            .map(|s| s.location.clone())
            .unwrap_or_else(|| block.location.clone());
        Diagnostic::error(
            "Cannot use the state's Key Vault key",
            format!("{key}: {e}"),
            Some(location),
        )
    })?;
    let wrapper: Arc<dyn KeyWrapper> = if key.is_loopback() {
        Arc::new(LocalCloudKey {
            inner: wrapper,
            started: OnceLock::new(),
        })
    } else {
        Arc::new(wrapper)
    };
    Ok(KeySource::KeyVault(wrapper))
}

/// A key of the local cloud's Key Vault: the cloud is started before the first call.
struct LocalCloudKey {
    inner: KeyVaultKeyWrapper,
    started: OnceLock<Result<(), String>>,
}

impl LocalCloudKey {
    fn ready(&self) -> Result<(), String> {
        self.started.get_or_init(start_local_cloud).clone()
    }
}

/// Start the embedded local cloud on mesh's runtime (where it keeps serving after this call).
fn start_local_cloud() -> Result<(), String> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let Ok(handle) = Handle::try_current() else {
        return Ok(()); // no runtime to serve it on: the vault must be served elsewhere
    };
    if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
        return Ok(());
    }
    tokio::task::block_in_place(|| handle.block_on(crate::local_cloud::ensure_running()))
        .map(|_| ())
}

impl KeyWrapper for LocalCloudKey {
    fn key_id(&self) -> String {
        self.inner.key_id()
    }

    fn algorithm(&self) -> String {
        self.inner.algorithm()
    }

    fn wrap(&self, data_key: &[u8]) -> Result<Vec<u8>, String> {
        self.ready()?;
        self.inner.wrap(data_key)
    }

    fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>, String> {
        self.ready()?;
        self.inner.unwrap(key_id, wrapped)
    }
}

fn passphrase_source(passphrase: String) -> KeySource {
    KeySource::Passphrase {
        passphrase,
        params: KdfParams::DEFAULT,
    }
}

fn env_name(block: &LiteralBlock, name: &str, default: &str, diags: &mut Diagnostics) -> String {
    let Some(setting) = block.get(name) else {
        return default.to_string();
    };
    match setting.value.as_str() {
        Some(v) if is_env_name(v) => v.to_string(),
        _ => {
            diags.push(Diagnostic::error(
                "Invalid value",
                format!(
                    "\"{name}\" must name an environment variable (letters, digits and \
                     underscores), e.g. \"{default}\""
                ),
                Some(setting.location.clone()),
            ));
            default.to_string()
        }
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mesh_engine::config::LiteralSetting;
    use mesh_engine::diagnostics::SourceLocation;

    use super::*;

    fn at(line: usize) -> SourceLocation {
        SourceLocation {
            line,
            ..SourceLocation::synthetic("main.hcl")
        }
    }

    /// A spec's encryption block with string settings, each on its own line (from line 3).
    fn settings(pairs: &[(&str, &str)]) -> MeshSettings {
        let attributes: BTreeMap<String, LiteralSetting> = pairs
            .iter()
            .enumerate()
            .map(|(i, (name, value))| {
                let setting = LiteralSetting {
                    value: serde_json::Value::String(value.to_string()),
                    location: at(3 + i),
                };
                (name.to_string(), setting)
            })
            .collect();
        MeshSettings {
            backend: None,
            encryption: Some(LiteralBlock {
                label: None,
                attributes,
                location: at(2),
            }),
            blocks: Vec::new(),
        }
    }

    fn error_of(settings: &MeshSettings) -> Diagnostic {
        match from_settings(settings) {
            Err(diags) => diags.0.into_iter().next().expect("a diagnostic"),
            Ok(_) => panic!("the settings were accepted"),
        }
    }

    #[test]
    fn an_invalid_key_url_is_located_at_the_setting() {
        let bad = settings(&[("key_vault_key_id", "https://kv.vault.azure.net/secrets/s")]);
        let error = error_of(&bad);
        assert_eq!(error.summary, "Invalid value");
        assert!(
            error.detail.contains("does not name a key"),
            "{}",
            error.detail
        );
        assert_eq!(error.location.map(|l| l.line), Some(3));
    }

    #[test]
    fn a_named_passphrase_variable_must_be_set_even_with_a_key() {
        let both = settings(&[
            ("key_vault_key_id", "https://kv.vault.azure.net/keys/state"),
            ("passphrase_env", "MESH_H1_TEST_UNSET_PASSPHRASE"),
        ]);
        let error = error_of(&both);
        assert_eq!(error.summary, "State encryption needs a passphrase");
        assert!(
            error
                .detail
                .contains("MESH_H1_TEST_UNSET_PASSPHRASE is not set"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn an_unreachable_vault_stops_at_once_naming_the_key() {
        // Nothing listens on port 9 of this machine; without a runtime no local cloud starts.
        let key = "http://127.0.0.1:9/keyvault/kv/keys/state";
        let error = error_of(&settings(&[("key_vault_key_id", key)]));
        assert_eq!(error.summary, "Cannot use the state's Key Vault key");
        assert!(error.detail.contains(key), "{}", error.detail);
        assert_eq!(error.location.map(|l| l.line), Some(3));
    }
}
