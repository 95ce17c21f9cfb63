//! `azure_key_vault_secret`: a secret on the Key Vault data plane (api 7.5), and the data-plane
//! helpers the certificate type shares. The vault's URI comes from ARM (`properties.vaultUri`);
//! the secret lives at `{vaultUri}secrets/{name}`. Secret values never appear in messages.

use std::collections::BTreeMap;

use async_trait::async_trait;
use mesh_engine::provider::{
    default_plan, AttrType, AttributeSchema, BlockSchema, PlannedChange, Presence, ProviderError,
    ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::key_vault::VAULT_API_VERSION;
use super::{provider_error, AzureResourceType, Context};
use crate::arm::{ArmError, Method};

/// A Key Vault secret.
pub struct KeyVaultSecret;

#[async_trait]
impl AzureResourceType for KeyVaultSecret {
    fn name(&self) -> &'static str {
        "azure_key_vault_secret"
    }

    fn arm_type(&self) -> &'static str {
        "Key Vault data plane: secrets"
    }

    fn api_version(&self) -> &'static str {
        DATA_PLANE_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        use Presence::*;
        let a = AttributeSchema::new;
        ResourceSchema {
            version: 0,
            description: "A secret in a Key Vault (data plane). Each change of value, content type or tags writes a new version.".into(),
            block: BlockSchema::default()
                .attribute("name", a(AttrType::String, Required, "Name, 1-127 letters, digits and hyphens.").force_new())
                .attribute("key_vault_id", a(AttrType::String, Required, "ARM ID of the vault.").force_new())
                .attribute("value", a(AttrType::String, Required, "The secret value.").sensitive())
                .attribute("content_type", a(AttrType::String, Optional, "Content type, e.g. text/plain or application/x-pem-file."))
                .attribute("tags", a(AttrType::Map(Box::new(AttrType::String)), Optional, "Tags."))
                .attribute("id", a(AttrType::String, Computed, "The secret's URL with its current version."))
                .attribute("version", a(AttrType::String, Computed, "The current version."))
                .attribute("versionless_id", a(AttrType::String, Computed, "The secret's URL without version (always the latest).")),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        string(config, "name")
            .and_then(|n| check_object_name("secret", &n))
            .into_iter()
            .collect()
    }

    fn resource_id(&self, _subscription_id: &str, _config: &Value) -> Option<String> {
        None // a data-plane URL with a version known only after apply
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let value = match config.get("value").map(|v| v.unmark().0) {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(ProviderError::at_attribute(
                    "the secret value is not known",
                    "value",
                ))
            }
        };
        let mut body = json!({"value": value, "tags": tags(config)});
        if let Some(ct) = string(config, "content_type") {
            body["contentType"] = json!(ct);
        }
        Ok(body)
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        set_versioned_ids(&mut state, id);
        if let Some(v) = response.get("value").and_then(Json::as_str) {
            state.set_or_insert("value", Value::string(v).into_sensitive());
        }
        let ct = response.get("contentType").and_then(Json::as_str);
        state.set_or_insert("content_type", ct.map(Value::string).unwrap_or(Value::Null));
        state.set_or_insert("tags", object_tags(config, response));
        state
    }

    fn plan(&self, _sub: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        plan_versioned(&self.schema().block, prior, config, &["id", "version"])
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        let (uri, path) = locate_new(ctx, config, "secrets").await?;
        self.write(ctx, &uri, &path, config).await
    }

    async fn read(&self, ctx: &Context, state: &Value) -> Result<Option<Value>, ProviderError> {
        let found = read_object(ctx, state, "secrets").await?;
        Ok(found.map(|(r, id)| self.to_state(state, &id, &r)))
    }

    async fn update(
        &self,
        ctx: &Context,
        _prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        let (uri, path) = locate_known(ctx, config, "secrets").await?;
        self.write(ctx, &uri, &path, config).await
    }

    async fn delete(&self, ctx: &Context, state: &Value) -> Result<(), ProviderError> {
        delete_object(ctx, state, "secrets").await
    }
}

impl KeyVaultSecret {
    async fn write(
        &self,
        ctx: &Context,
        uri: &str,
        path: &str,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        let body = self.to_body(config)?;
        let response = data_plane(ctx, Method::Put, uri, path, Some(&body))
            .await
            .map_err(|e| kv_error("setting", path, e))?
            .ok_or_else(|| {
                ProviderError::new(format!("setting {path} in {uri}: the vault answered 404"))
            })?;
        Ok(self.to_state(config, &response_id(&response, uri, path), &response))
    }
}

/// The Key Vault data-plane api-version.
pub const DATA_PLANE_API_VERSION: &str = "7.5";
/// The token scope of the Key Vault data plane.
pub const DATA_PLANE_SCOPE: &str = "https://vault.azure.net/.default";

/// Key Vault object (secret, certificate) name rules: 1-127 letters, digits and hyphens.
pub fn check_object_name(kind: &str, name: &str) -> Option<ProviderError> {
    let ok = !name.is_empty()
        && name.len() <= 127
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    (!ok).then(|| {
        ProviderError::at_attribute(
            format!("\"{name}\" is not a valid Key Vault {kind} name: use 1-127 letters, digits and hyphens"),
            "name",
        )
    })
}

/// `id`, `version` and `versionless_id` from an object's versioned URL
/// (`{vaultUri}{collection}/{name}/{version}`).
pub(crate) fn set_versioned_ids(state: &mut Value, id: &str) {
    let (versionless, version) = id.rsplit_once('/').unwrap_or((id, ""));
    state.set_or_insert("id", Value::string(id));
    state.set_or_insert("version", Value::string(version));
    state.set_or_insert("versionless_id", Value::string(versionless));
}

/// Data-plane tags as state: null when the configuration leaves them unset and there are none.
pub(crate) fn object_tags(config: &Value, response: &Json) -> Value {
    match response.get("tags").and_then(Json::as_object) {
        Some(t) if !t.is_empty() => Value::from_json(&Json::Object(t.clone())),
        _ if config.get("tags").is_none_or(Value::is_null) => Value::Null,
        _ => Value::Map(BTreeMap::new()),
    }
}

/// The default plan, where any change of a settable attribute writes a new version: the
/// `versioned` computed attributes become unknown (and every computed one on replacement).
pub(crate) fn plan_versioned(
    schema: &BlockSchema,
    prior: Option<&Value>,
    config: &Value,
    versioned: &[&str],
) -> PlannedChange {
    let mut planned = default_plan(schema, prior, config);
    if let Some(prior) = prior {
        let differs = |name: &str| {
            let a = prior
                .get(name)
                .map(Value::strip_sensitive)
                .unwrap_or(Value::Null);
            let b = planned
                .planned
                .get(name)
                .map(Value::strip_sensitive)
                .unwrap_or(Value::Null);
            a != b
        };
        let changed = schema
            .attributes
            .iter()
            .any(|(n, a)| a.is_settable() && differs(n))
            || schema.blocks.keys().any(|n| differs(n));
        let replaced = !planned.requires_replace.is_empty();
        for (name, attr) in &schema.attributes {
            if attr.presence == Presence::Computed
                && (replaced || (changed && versioned.contains(&name.as_str())))
            {
                planned.planned.set_or_insert(name, Value::Unknown);
            }
        }
    }
    planned
}

/// The vault URI (`None` when the vault is gone) and the object path `{collection}/{name}`.
/// The vault URI and object path for a new object; an error when the vault is unknown or the
/// object already exists (Key Vault would add a version to someone else's object).
pub(crate) async fn locate_new(
    ctx: &Context,
    config: &Value,
    kind: &str,
) -> Result<(String, String), ProviderError> {
    let (uri, path) = locate_known(ctx, config, kind).await?;
    let existing = data_plane(ctx, Method::Get, &uri, &path, None).await;
    if existing
        .map_err(|e| kv_error("reading", &path, e))?
        .is_some()
    {
        return Err(already_exists(&uri, &path));
    }
    Ok((uri, path))
}

/// The vault URI and object path; an error when the vault is unknown.
pub(crate) async fn locate_known(
    ctx: &Context,
    config: &Value,
    kind: &str,
) -> Result<(String, String), ProviderError> {
    let (uri, path) = locate(ctx, config, kind).await?;
    let uri = uri.ok_or_else(|| missing_vault(config))?;
    Ok((uri, path))
}

/// The live object and its versioned ID; `None` when the vault or the object is gone.
pub(crate) async fn read_object(
    ctx: &Context,
    state: &Value,
    kind: &str,
) -> Result<Option<(Json, String)>, ProviderError> {
    let (Some(uri), path) = locate(ctx, state, kind).await? else {
        return Ok(None);
    };
    let response = data_plane(ctx, Method::Get, &uri, &path, None).await;
    Ok(response
        .map_err(|e| kv_error("reading", &path, e))?
        .map(|r| {
            let id = response_id(&r, &uri, &path);
            (r, id)
        }))
}

pub(crate) async fn locate(
    ctx: &Context,
    config: &Value,
    collection: &str,
) -> Result<(Option<String>, String), ProviderError> {
    let vault_id = string(config, "key_vault_id")
        .ok_or_else(|| ProviderError::at_attribute("key_vault_id is not known", "key_vault_id"))?;
    let name = string(config, "name")
        .ok_or_else(|| ProviderError::at_attribute("name is not known", "name"))?;
    Ok((
        vault_uri(ctx, &vault_id).await?,
        format!("{collection}/{name}"),
    ))
}

/// DELETE `{vaultUri}{collection}/{name}`; gone already (object or vault) is success.
pub(crate) async fn delete_object(
    ctx: &Context,
    state: &Value,
    collection: &str,
) -> Result<(), ProviderError> {
    let (Some(uri), path) = locate(ctx, state, collection).await? else {
        return Ok(());
    };
    data_plane(ctx, Method::Delete, &uri, &path, None)
        .await
        .map(|_| ())
        .map_err(|e| kv_error("deleting", &path, e))
}

/// The object's versioned URL from a response, or the unversioned one when it has none.
pub(crate) fn response_id(response: &Json, uri: &str, path: &str) -> String {
    response
        .get("id")
        .and_then(Json::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{uri}{path}"))
}

pub(crate) fn missing_vault(config: &Value) -> ProviderError {
    let id = string(config, "key_vault_id").unwrap_or_default();
    ProviderError::at_attribute(format!("the Key Vault {id} does not exist"), "key_vault_id")
}

pub(crate) fn already_exists(uri: &str, path: &str) -> ProviderError {
    ProviderError::at_attribute(
        format!("{uri}{path} already exists: import it into the state or choose another name"),
        "name",
    )
}

/// A data-plane error with what was being done to which object (never the value).
pub(crate) fn kv_error(doing: &str, path: &str, e: ArmError) -> ProviderError {
    let mut error = provider_error(e);
    error.message = format!("{doing} {path}: {}", error.message);
    error
}

/// A vault's data-plane URI (ending in `/`), read from ARM; `None` when the vault is gone.
pub(crate) async fn vault_uri(
    ctx: &Context,
    key_vault_id: &str,
) -> Result<Option<String>, ProviderError> {
    let vault = ctx
        .client
        .get(key_vault_id, VAULT_API_VERSION, &ctx.cancel)
        .await
        .map_err(provider_error)?;
    let Some(vault) = vault else {
        return Ok(None);
    };
    let uri = vault
        .pointer("/properties/vaultUri")
        .and_then(Json::as_str)
        .ok_or_else(|| {
            ProviderError::new(format!(
                "the Key Vault {key_vault_id} has no properties.vaultUri"
            ))
        })?;
    Ok(Some(if uri.ends_with('/') {
        uri.to_string()
    } else {
        format!("{uri}/")
    }))
}

/// One data-plane call to `{vault_uri}{path}?api-version=7.5`; 404 is `Ok(None)`.
pub(crate) async fn data_plane(
    ctx: &Context,
    method: Method,
    vault_uri: &str,
    path: &str,
    body: Option<&Json>,
) -> Result<Option<Json>, ArmError> {
    let url = format!("{vault_uri}{path}?api-version={DATA_PLANE_API_VERSION}");
    ctx.client
        .data_plane(method, &url, body, DATA_PLANE_SCOPE, &ctx.cancel)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const VAULT: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1";

    fn config(name: &str, value: &str) -> Value {
        Value::Map(BTreeMap::from([
            ("name".to_string(), Value::string(name)),
            ("key_vault_id".to_string(), Value::string(VAULT)),
            ("value".to_string(), Value::string(value).into_sensitive()),
            ("content_type".to_string(), Value::string("text/plain")),
            ("tags".to_string(), Value::Null),
            ("id".to_string(), Value::Null),
            ("version".to_string(), Value::Null),
            ("versionless_id".to_string(), Value::Null),
        ]))
    }

    #[test]
    fn body_and_state_follow_the_data_plane_shapes() {
        let cfg = config("root-cert", "s3cret-value");
        let body = KeyVaultSecret.to_body(&cfg).unwrap();
        assert_eq!(
            body,
            json!({"value": "s3cret-value", "tags": {}, "contentType": "text/plain"})
        );
        // The SecretBundle the vault answers with.
        let id = "https://kv1.vault.azure.net/secrets/root-cert/03bcccc7c8cf4546a0e3e21e52560441";
        let response = json!({"value": "s3cret-value", "id": id, "contentType": "text/plain", "attributes": {"enabled": true}});
        let state = KeyVaultSecret.to_state(&cfg, id, &response);
        assert_eq!(
            state.get("version"),
            Some(&Value::string("03bcccc7c8cf4546a0e3e21e52560441"))
        );
        assert_eq!(
            state.get("versionless_id"),
            Some(&Value::string(
                "https://kv1.vault.azure.net/secrets/root-cert"
            ))
        );
        assert_eq!(
            state.get("value"),
            Some(&Value::string("s3cret-value").into_sensitive())
        );
        let planned = KeyVaultSecret.plan("s", Some(&state), &cfg);
        assert_eq!(
            planned.planned, state,
            "a plan right after apply changes nothing"
        );

        // A value changed outside mesh is drift; the plan writes a new version.
        let drifted = KeyVaultSecret.to_state(
            &state,
            id,
            &json!({"value": "other", "id": id, "contentType": "text/plain"}),
        );
        let planned = KeyVaultSecret.plan("s", Some(&drifted), &cfg);
        assert!(planned.requires_replace.is_empty());
        assert_eq!(planned.planned.get("version"), Some(&Value::Unknown));
        assert_eq!(planned.planned.get("id"), Some(&Value::Unknown));
        assert_eq!(
            planned.planned.get("versionless_id"),
            state.get("versionless_id")
        );

        // A new name is a new secret.
        let renamed = KeyVaultSecret.plan("s", Some(&state), &config("other", "s3cret-value"));
        assert_eq!(renamed.requires_replace.len(), 1);
        assert_eq!(renamed.planned.get("versionless_id"), Some(&Value::Unknown));
    }

    #[test]
    fn checks_names_and_reports_errors_without_values() {
        assert!(KeyVaultSecret
            .validate(&config("root-cert-01", "x"))
            .is_empty());
        assert_eq!(KeyVaultSecret.validate(&config("root_cert", "x")).len(), 1);
        assert_eq!(
            KeyVaultSecret
                .validate(&config(&"a".repeat(128), "x"))
                .len(),
            1
        );
        let mut unknown = config("a", "x");
        unknown.set_or_insert("value", Value::Unknown.into_sensitive());
        let e = KeyVaultSecret.to_body(&unknown).unwrap_err();
        assert_eq!(e.message, "the secret value is not known");
        let e = kv_error(
            "setting",
            "secrets/a",
            ArmError::new(403, "Forbidden", "denied"),
        );
        assert_eq!(e.message, "setting secrets/a: Forbidden: denied");
    }
}
