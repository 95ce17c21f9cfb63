//! `azure_key_vault_key`: an RSA key on the Key Vault data plane, created in the vault (its
//! private half never leaves it). Like the secret type, the vault's URI comes from ARM; the key
//! lives at `{vaultUri}keys/{name}`.
//!
//! A key's type and size are fixed at creation (a change replaces the key). Its operations
//! (`key_opts`) and tags are updated in place on the current version (`PATCH keys/{name}/`), as
//! Azure's UpdateKey does: no new version, so `id` and `version` stay. A version added outside
//! mesh (a rotation) shows up on refresh as a new `id` and `version`.

use async_trait::async_trait;
use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, PlannedChange, Presence, ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::key_vault::{number, strings};
use super::key_vault_secret::{
    check_object_name, data_plane, delete_object, kv_error, locate, locate_known, locate_new,
    object_tags, plan_versioned, set_versioned_ids, DATA_PLANE_API_VERSION,
};
use super::{AzureResourceType, Context};
use crate::arm::Method;

/// The key types the resource creates.
pub const KEY_TYPES: [&str; 2] = ["RSA", "RSA-HSM"];

/// The RSA key sizes Key Vault creates.
pub const KEY_SIZES: [u64; 3] = [2048, 3072, 4096];

/// The operations a key may permit, as Key Vault spells them.
pub const KEY_OPERATIONS: [&str; 6] = [
    "decrypt",
    "encrypt",
    "sign",
    "unwrapKey",
    "verify",
    "wrapKey",
];

/// A Key Vault key.
pub struct KeyVaultKey;

#[async_trait]
impl AzureResourceType for KeyVaultKey {
    fn name(&self) -> &'static str {
        "azure_key_vault_key"
    }

    fn arm_type(&self) -> &'static str {
        "Key Vault data plane: keys"
    }

    fn api_version(&self) -> &'static str {
        DATA_PLANE_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        use Presence::*;
        let a = AttributeSchema::new;
        let list = || AttrType::List(Box::new(AttrType::String));
        ResourceSchema {
            version: 0,
            description: "An RSA key in a Key Vault (data plane), generated in the vault: its private half never leaves it. Usable to wrap mesh's state key (mesh { encryption { key_vault_key_id } }).".into(),
            block: BlockSchema::default()
                .attribute("name", a(AttrType::String, Required, "Name, 1-127 letters, digits and hyphens.").force_new())
                .attribute("key_vault_id", a(AttrType::String, Required, "ARM ID of the vault.").force_new())
                .attribute("key_type", a(AttrType::String, Required, "RSA or RSA-HSM.").force_new())
                .attribute("key_size", a(AttrType::Number, Optional, "Modulus size in bits: 2048, 3072 or 4096.").default_value(Value::Number(2048.0)).force_new())
                .attribute("key_opts", a(list(), Required, "Permitted operations: decrypt, encrypt, sign, unwrapKey, verify, wrapKey (state encryption needs wrapKey and unwrapKey)."))
                .attribute("tags", a(AttrType::Map(Box::new(AttrType::String)), Optional, "Tags."))
                .attribute("id", a(AttrType::String, Computed, "The key's URL with its current version (the kid)."))
                .attribute("version", a(AttrType::String, Computed, "The current version."))
                .attribute("versionless_id", a(AttrType::String, Computed, "The key's URL without version (always the current version)."))
                .attribute("n", a(AttrType::String, Computed, "The public modulus, base64url."))
                .attribute("e", a(AttrType::String, Computed, "The public exponent, base64url.")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors: Vec<ProviderError> = string(config, "name")
            .and_then(|n| check_object_name("key", &n))
            .into_iter()
            .collect();
        if let Some(kty) = string(config, "key_type") {
            if !KEY_TYPES.contains(&kty.as_str()) {
                errors.push(ProviderError::at_attribute(
                    format!("key_type \"{kty}\" is not supported: use RSA or RSA-HSM"),
                    "key_type",
                ));
            }
        }
        if let Some(size) = number(config, "key_size") {
            if !KEY_SIZES.iter().any(|s| *s as f64 == size) {
                errors.push(ProviderError::at_attribute(
                    format!("key_size {size} is not valid: use 2048, 3072 or 4096"),
                    "key_size",
                ));
            }
        }
        for op in strings(config, "key_opts") {
            if !KEY_OPERATIONS.contains(&op.as_str()) {
                errors.push(ProviderError::at_attribute(
                    format!(
                        "\"{op}\" is not a key operation; valid values: {}",
                        KEY_OPERATIONS.join(", ")
                    ),
                    "key_opts",
                ));
            }
        }
        errors
    }

    fn resource_id(&self, _subscription_id: &str, _config: &Value) -> Option<String> {
        None // a data-plane URL with a version known only after apply
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let kty = string(config, "key_type")
            .ok_or_else(|| ProviderError::at_attribute("key_type is not known", "key_type"))?;
        let mut body = json!({
            "kty": kty,
            "key_ops": strings(config, "key_opts"),
            "tags": tags(config),
        });
        if let Some(size) = number(config, "key_size") {
            body["key_size"] = json!(size as u64);
        }
        Ok(body)
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        set_versioned_ids(&mut state, id);
        let key = response.get("key").cloned().unwrap_or(Json::Null);
        let text = |name: &str| key.get(name).and_then(Json::as_str);
        if let Some(kty) = text("kty") {
            state.set_or_insert("key_type", Value::string(kty));
        }
        if let Some(bits) = text("n").and_then(modulus_bits) {
            state.set_or_insert("key_size", Value::Number(bits as f64));
        }
        if let Some(Json::Array(ops)) = key.get("key_ops") {
            let ops = ops
                .iter()
                .filter_map(Json::as_str)
                .map(Value::string)
                .collect();
            state.set_or_insert("key_opts", Value::List(ops));
        }
        for name in ["n", "e"] {
            state.set_or_insert(name, text(name).map(Value::string).unwrap_or(Value::Null));
        }
        state.set_or_insert("tags", object_tags(config, response));
        state
    }

    fn plan(&self, _sub: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        // Updates keep the version; only a replacement makes the computed values unknown.
        plan_versioned(&self.schema().block, prior, config, &[])
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        let (uri, path) = locate_new(ctx, config, "keys").await?;
        let body = self.to_body(config)?;
        let create = format!("{path}/create");
        let response = data_plane(ctx, Method::Post, &uri, &create, Some(&body))
            .await
            .map_err(|e| kv_error("creating", &path, e))?
            .ok_or_else(|| answered_404("creating", &uri, &path))?;
        Ok(self.to_state(config, &kid(&response, &uri, &path), &response))
    }

    async fn read(&self, ctx: &Context, state: &Value) -> Result<Option<Value>, ProviderError> {
        let (Some(uri), path) = locate(ctx, state, "keys").await? else {
            return Ok(None);
        };
        let response = data_plane(ctx, Method::Get, &uri, &path, None)
            .await
            .map_err(|e| kv_error("reading", &path, e))?;
        Ok(response.map(|r| self.to_state(state, &kid(&r, &uri, &path), &r)))
    }

    async fn update(
        &self,
        ctx: &Context,
        _prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        let (uri, path) = locate_known(ctx, config, "keys").await?;
        let body = json!({"key_ops": strings(config, "key_opts"), "tags": tags(config)});
        // An empty version addresses the current one, as the Azure SDKs do.
        let current = format!("{path}/");
        let response = data_plane(ctx, Method::Patch, &uri, &current, Some(&body))
            .await
            .map_err(|e| kv_error("updating", &path, e))?
            .ok_or_else(|| answered_404("updating", &uri, &path))?;
        Ok(self.to_state(config, &kid(&response, &uri, &path), &response))
    }

    async fn delete(&self, ctx: &Context, state: &Value) -> Result<(), ProviderError> {
        delete_object(ctx, state, "keys").await
    }
}

/// The versioned key ID from a KeyBundle (`key.kid`), or the unversioned URL without one.
fn kid(response: &Json, uri: &str, path: &str) -> String {
    response
        .pointer("/key/kid")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{uri}{path}"))
}

fn answered_404(doing: &str, uri: &str, path: &str) -> ProviderError {
    ProviderError::new(format!("{doing} {path} in {uri}: the vault answered 404"))
}

/// The size in bits of a base64url modulus (without leading zero bytes).
fn modulus_bits(n: &str) -> Option<usize> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(n.trim_end_matches('='))
        .ok()?;
    let first = bytes.iter().position(|b| *b != 0)?;
    Some((bytes.len() - first) * 8)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const VAULT: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1";
    const KID: &str = "https://kv1.vault.azure.net/keys/state/0123456789abcdef0123456789abcdef";

    fn config(name: &str, ops: &[&str]) -> Value {
        let ops = ops.iter().map(|o| Value::string(*o)).collect();
        Value::Map(BTreeMap::from([
            ("name".to_string(), Value::string(name)),
            ("key_vault_id".to_string(), Value::string(VAULT)),
            ("key_type".to_string(), Value::string("RSA")),
            ("key_size".to_string(), Value::Number(2048.0)),
            ("key_opts".to_string(), Value::List(ops)),
            ("tags".to_string(), Value::Null),
            ("id".to_string(), Value::Null),
            ("version".to_string(), Value::Null),
            ("versionless_id".to_string(), Value::Null),
            ("n".to_string(), Value::Null),
            ("e".to_string(), Value::Null),
        ]))
    }

    fn bundle(ops: &[&str]) -> Json {
        // A 2048-bit modulus: 256 bytes, the first non-zero.
        let n = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            [0xc5u8; 256],
        );
        json!({"key": {"kid": KID, "kty": "RSA", "key_ops": ops, "n": n, "e": "AQAB"},
               "attributes": {"enabled": true}, "tags": {}})
    }

    #[test]
    fn body_and_state_follow_the_key_bundle() {
        let cfg = config("state", &["wrapKey", "unwrapKey"]);
        assert_eq!(
            KeyVaultKey.to_body(&cfg).unwrap(),
            json!({"kty": "RSA", "key_ops": ["wrapKey", "unwrapKey"], "tags": {}, "key_size": 2048})
        );
        let state = KeyVaultKey.to_state(&cfg, KID, &bundle(&["wrapKey", "unwrapKey"]));
        assert_eq!(
            state.get("version"),
            Some(&Value::string("0123456789abcdef0123456789abcdef"))
        );
        assert_eq!(
            state.get("versionless_id"),
            Some(&Value::string("https://kv1.vault.azure.net/keys/state"))
        );
        assert_eq!(state.get("e"), Some(&Value::string("AQAB")));
        assert_eq!(state.get("key_size"), Some(&Value::Number(2048.0)));
        let planned = KeyVaultKey.plan("s", Some(&state), &cfg);
        assert_eq!(planned.planned, state, "no change right after apply");

        // Operations changed outside mesh: drift, updated in place (same version).
        let drifted = KeyVaultKey.to_state(&state, KID, &bundle(&["sign"]));
        let planned = KeyVaultKey.plan("s", Some(&drifted), &cfg);
        assert!(planned.requires_replace.is_empty());
        assert_ne!(planned.planned, drifted);
        assert_eq!(planned.planned.get("version"), state.get("version"));

        // Another size is another key.
        let mut bigger = cfg.clone();
        bigger.set_or_insert("key_size", Value::Number(4096.0));
        let planned = KeyVaultKey.plan("s", Some(&state), &bigger);
        assert_eq!(planned.requires_replace.len(), 1);
        assert_eq!(planned.planned.get("id"), Some(&Value::Unknown));
    }

    #[test]
    fn validates_names_types_sizes_and_operations() {
        assert!(KeyVaultKey
            .validate(&config("state-key", &["wrapKey"]))
            .is_empty());
        assert_eq!(KeyVaultKey.validate(&config("state_key", &[])).len(), 1);
        let errors = KeyVaultKey.validate(&config("k", &["wrapkey", "fly"]));
        assert_eq!(errors.len(), 2, "operations are case-sensitive");
        let mut ec = config("k", &[]);
        ec.set_or_insert("key_type", Value::string("EC"));
        ec.set_or_insert("key_size", Value::Number(1024.0));
        let errors = KeyVaultKey.validate(&ec);
        assert_eq!(errors.len(), 2);
        assert!(
            errors[0].message.contains("key_type"),
            "{}",
            errors[0].message
        );
        assert_eq!(modulus_bits("AQAB"), Some(24));
    }
}
