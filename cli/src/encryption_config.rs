//! The spec's `mesh { encryption { ... } }` block turned into the state's [`Encryption`]: the
//! passphrase comes from an environment variable (never from a spec file), and an old
//! passphrase, when set, still decrypts what was written before a rotation.

use std::sync::Arc;

use mesh_engine::config::{LiteralBlock, MeshSettings};
use mesh_engine::diagnostics::{Diagnostic, Diagnostics};
use mesh_state::{Encryption, KdfParams, KeySource};

/// Where the passphrase is read from by default.
pub const PASSPHRASE_ENV: &str = "MESH_STATE_PASSPHRASE";

/// Where the previous passphrase is read from by default, during a rotation.
pub const OLD_PASSPHRASE_ENV: &str = "MESH_STATE_OLD_PASSPHRASE";

const SETTINGS: &[&str] = &["passphrase_env", "old_passphrase_env", "key_vault_key_id"];

/// The encryption the spec asks for: `None` without an encryption block.
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
    if let Some(setting) = block.get("key_vault_key_id") {
        diags.push(Diagnostic::error(
            "Not supported yet",
            "Key Vault key wrapping of the state key is not available in this version of mesh; \
             use a passphrase (passphrase_env)",
            Some(setting.location.clone()),
        ));
    }
    let passphrase_env = env_name(block, "passphrase_env", PASSPHRASE_ENV, &mut diags);
    let old_env = env_name(block, "old_passphrase_env", OLD_PASSPHRASE_ENV, &mut diags);
    if diags.has_errors() {
        return Err(diags);
    }
    let Some(passphrase) = env(&passphrase_env) else {
        return Err(Diagnostic::error(
            "State encryption needs a passphrase",
            format!(
                "the spec encrypts state (encryption block), but {passphrase_env} is not set: set \
                 it to the state's passphrase"
            ),
            Some(block.location.clone()),
        )
        .into());
    };
    let mut sources = vec![passphrase_source(passphrase)];
    let mut description = format!("the passphrase in {passphrase_env}");
    if let Some(old) = env(&old_env) {
        sources.push(passphrase_source(old));
        description.push_str(&format!(" (or the old one in {old_env})"));
    }
    Encryption::new(sources, description)
        .map(|e| Some(Arc::new(e)))
        .map_err(|e| {
            Diagnostic::error(
                "Invalid state passphrase",
                e.to_string(),
                Some(block.location.clone()),
            )
            .into()
        })
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
