//! `azure_key_vault_certificate`: a certificate imported into a Key Vault (data plane, api 7.5)
//! from PEM text (certificate and private key) or base64 PKCS#12. The certificate's secret
//! (`secret_id`, `versionless_secret_id`) is what an Application Gateway's SSL certificate
//! points at. The contents and password are write-only and never appear in messages.

use async_trait::async_trait;
use base64::Engine as _;
use mesh_engine::provider::{
    AttrType, AttributeSchema, BlockSchema, NestedBlockSchema, Nesting, PlannedChange, Presence,
    ProviderError, ResourceSchema,
};
use mesh_engine::value::Value;
use serde_json::{json, Value as Json};

use super::config::{string, tags};
use super::key_vault_secret::{
    check_object_name, data_plane, delete_object, kv_error, locate_known, locate_new, object_tags,
    plan_versioned, read_object, response_id, set_versioned_ids, DATA_PLANE_API_VERSION,
};
use super::{AzureResourceType, Context};
use crate::arm::Method;

/// A Key Vault certificate.
pub struct KeyVaultCertificate;

/// The `certificate` block's contents, unmarked: `(contents, password)`.
fn certificate_input(config: &Value) -> (Option<String>, Option<String>) {
    let block = config.get("certificate").map(|b| b.unmark().0);
    let get = |k: &str| match block.and_then(|b| b.get(k)).map(|v| v.unmark().0) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    (get("contents"), get("password"))
}

fn is_pem(contents: &str) -> bool {
    contents.trim_start().starts_with("-----BEGIN")
}

#[async_trait]
impl AzureResourceType for KeyVaultCertificate {
    fn name(&self) -> &'static str {
        "azure_key_vault_certificate"
    }

    fn arm_type(&self) -> &'static str {
        "Key Vault data plane: certificates"
    }

    fn api_version(&self) -> &'static str {
        DATA_PLANE_API_VERSION
    }

    fn schema(&self) -> ResourceSchema {
        use Presence::*;
        let a = AttributeSchema::new;
        let certificate = BlockSchema::default()
            .attribute("contents", a(AttrType::String, Required, "PEM text holding the certificate (and chain) and its private key, or a base64-encoded PKCS#12 (.pfx) file.").sensitive())
            .attribute("password", a(AttrType::String, Optional, "Password of the PKCS#12 file or of an encrypted PEM key.").sensitive());
        ResourceSchema {
            version: 0,
            description: "A certificate imported into a Key Vault (data plane); a change of contents or tags imports a new version.".into(),
            block: BlockSchema::default()
                .attribute("name", a(AttrType::String, Required, "Name, 1-127 letters, digits and hyphens.").force_new())
                .attribute("key_vault_id", a(AttrType::String, Required, "ARM ID of the vault.").force_new())
                .attribute("tags", a(AttrType::Map(Box::new(AttrType::String)), Optional, "Tags."))
                .attribute("id", a(AttrType::String, Computed, "The certificate's URL with its current version."))
                .attribute("version", a(AttrType::String, Computed, "The current version."))
                .attribute("versionless_id", a(AttrType::String, Computed, "The certificate's URL without version."))
                .attribute("secret_id", a(AttrType::String, Computed, "URL of the certificate's secret, with version: {vault_uri}secrets/{name}/{version}."))
                .attribute("versionless_secret_id", a(AttrType::String, Computed, "URL of the certificate's secret without version, {vault_uri}secrets/{name}: what an Application Gateway references to follow renewals."))
                .attribute("thumbprint", a(AttrType::String, Computed, "SHA-1 thumbprint of the certificate, upper-case hex."))
                .block("certificate", NestedBlockSchema { nesting: Nesting::Single, required: true, force_new: false, description: "The certificate to import (write-only).".into(), block: certificate }),
        }
    }

    fn validate(&self, config: &Value) -> Vec<ProviderError> {
        let mut errors: Vec<ProviderError> = string(config, "name")
            .and_then(|n| check_object_name("certificate", &n))
            .into_iter()
            .collect();
        if let (Some(contents), _) = certificate_input(config) {
            let problem = if is_pem(&contents) {
                let has_cert = contents.contains("-----BEGIN CERTIFICATE-----");
                let has_key = contents.contains("PRIVATE KEY-----");
                (!has_cert || !has_key)
                    .then_some("PEM contents need a CERTIFICATE block and a PRIVATE KEY block")
            } else {
                let compact: String = contents.split_whitespace().collect();
                let decoded = base64::engine::general_purpose::STANDARD.decode(compact);
                decoded
                    .is_err()
                    .then_some("contents are neither PEM text nor base64 (PKCS#12)")
            };
            if let Some(problem) = problem {
                errors.push(ProviderError::at_attribute(
                    format!("certificate: {problem}"),
                    "certificate",
                ));
            }
        }
        errors
    }

    fn resource_id(&self, _subscription_id: &str, _config: &Value) -> Option<String> {
        None // a data-plane URL with a version known only after apply
    }

    fn to_body(&self, config: &Value) -> Result<Json, ProviderError> {
        let (Some(contents), password) = certificate_input(config) else {
            return Err(ProviderError::at_attribute(
                "the certificate contents are not known",
                "certificate",
            ));
        };
        let (value, content_type) = if is_pem(&contents) {
            (contents, "application/x-pem-file")
        } else {
            (
                contents.split_whitespace().collect(),
                "application/x-pkcs12",
            )
        };
        let mut body = json!({
            "value": value,
            "policy": {"secret_props": {"contentType": content_type}},
            "tags": tags(config),
        });
        if let Some(pwd) = password {
            body["pwd"] = json!(pwd);
        }
        Ok(body)
    }

    fn to_state(&self, config: &Value, id: &str, response: &Json) -> Value {
        let mut state = config.clone();
        set_versioned_ids(&mut state, id);
        if let Some(sid) = response.get("sid").and_then(Json::as_str) {
            state.set_or_insert("secret_id", Value::string(sid));
            let versionless = sid.rsplit_once('/').map(|(v, _)| v).unwrap_or(sid);
            state.set_or_insert("versionless_secret_id", Value::string(versionless));
        }
        let thumbprint = response
            .get("x5t")
            .and_then(Json::as_str)
            .and_then(|t| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t.trim_end_matches('='))
                    .ok()
            })
            .map(|bytes| bytes.iter().map(|b| format!("{b:02X}")).collect::<String>());
        state.set_or_insert(
            "thumbprint",
            thumbprint.map(Value::string).unwrap_or(Value::Null),
        );
        state.set_or_insert("tags", object_tags(config, response));
        state
    }

    fn plan(&self, _sub: &str, prior: Option<&Value>, config: &Value) -> PlannedChange {
        let versioned = ["id", "version", "secret_id", "thumbprint"];
        plan_versioned(&self.schema().block, prior, config, &versioned)
    }

    async fn create(&self, ctx: &Context, config: &Value) -> Result<Value, ProviderError> {
        let (uri, path) = locate_new(ctx, config, "certificates").await?;
        self.import(ctx, &uri, &path, config).await
    }

    async fn read(&self, ctx: &Context, state: &Value) -> Result<Option<Value>, ProviderError> {
        let found = read_object(ctx, state, "certificates").await?;
        Ok(found.map(|(r, id)| self.to_state(state, &id, &r)))
    }

    async fn update(
        &self,
        ctx: &Context,
        _prior: &Value,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        let (uri, path) = locate_known(ctx, config, "certificates").await?;
        self.import(ctx, &uri, &path, config).await
    }

    async fn delete(&self, ctx: &Context, state: &Value) -> Result<(), ProviderError> {
        delete_object(ctx, state, "certificates").await
    }
}

impl KeyVaultCertificate {
    async fn import(
        &self,
        ctx: &Context,
        uri: &str,
        path: &str,
        config: &Value,
    ) -> Result<Value, ProviderError> {
        let body = self.to_body(config)?;
        let import = format!("{path}/import");
        let response = data_plane(ctx, Method::Post, uri, &import, Some(&body))
            .await
            .map_err(|e| kv_error("importing", path, e))?
            .ok_or_else(|| {
                ProviderError::new(format!(
                    "importing {path} into {uri}: the vault answered 404"
                ))
            })?;
        Ok(self.to_state(config, &response_id(&response, uri, path), &response))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

    fn config(contents: &str, password: Option<&str>) -> Value {
        let sensitive = |s: &str| Value::string(s).into_sensitive();
        let mut m = BTreeMap::from([
            ("name".to_string(), Value::string("frontend-certificate")),
            (
                "key_vault_id".to_string(),
                Value::string(
                    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1",
                ),
            ),
            ("tags".to_string(), Value::Null),
            (
                "certificate".to_string(),
                Value::Map(BTreeMap::from([
                    ("contents".to_string(), sensitive(contents)),
                    (
                        "password".to_string(),
                        password.map(sensitive).unwrap_or(Value::Null),
                    ),
                ])),
            ),
        ]);
        for computed in [
            "id",
            "version",
            "versionless_id",
            "secret_id",
            "versionless_secret_id",
            "thumbprint",
        ] {
            m.insert(computed.to_string(), Value::Null);
        }
        Value::Map(m)
    }

    #[test]
    fn imports_pem_and_pkcs12() {
        let body = KeyVaultCertificate.to_body(&config(PEM, None)).unwrap();
        assert_eq!(
            body,
            json!({"value": PEM, "policy": {"secret_props": {"contentType": "application/x-pem-file"}}, "tags": {}})
        );
        let body = KeyVaultCertificate
            .to_body(&config("MIIJ\nqQ==", Some("pw")))
            .unwrap();
        assert_eq!(
            body,
            json!({"value": "MIIJqQ==", "pwd": "pw", "policy": {"secret_props": {"contentType": "application/x-pkcs12"}}, "tags": {}})
        );
    }

    #[test]
    fn state_of_the_certificate_bundle() {
        let cfg = config(PEM, None);
        let id = "https://kv1.vault.azure.net/certificates/frontend-certificate/f00e72f0";
        let response = json!({
            "id": id,
            "sid": "https://kv1.vault.azure.net/secrets/frontend-certificate/f00e72f0",
            "x5t": "fLi3U52HunIVNXubkEnf8tP6Wbo",
            "cer": "MIIB",
        });
        let state = KeyVaultCertificate.to_state(&cfg, id, &response);
        let get = |k: &str| state.get(k).cloned().unwrap();
        assert_eq!(
            get("secret_id"),
            Value::string("https://kv1.vault.azure.net/secrets/frontend-certificate/f00e72f0")
        );
        assert_eq!(
            get("versionless_secret_id"),
            Value::string("https://kv1.vault.azure.net/secrets/frontend-certificate")
        );
        assert_eq!(
            get("versionless_id"),
            Value::string("https://kv1.vault.azure.net/certificates/frontend-certificate")
        );
        assert_eq!(
            get("thumbprint"),
            Value::string("7CB8B7539D87BA7215357B9B9049DFF2D3FA59BA")
        );
        assert_eq!(
            get("certificate"),
            cfg.get("certificate").cloned().unwrap(),
            "write-only contents kept"
        );
        let planned = KeyVaultCertificate.plan("s", Some(&state), &cfg);
        assert_eq!(
            planned.planned, state,
            "a plan right after apply changes nothing"
        );
        let renewed = KeyVaultCertificate.plan(
            "s",
            Some(&state),
            &config(&PEM.replace("MIIB", "MIIC"), None),
        );
        assert!(
            renewed.requires_replace.is_empty(),
            "new contents import a new version"
        );
        assert_eq!(renewed.planned.get("thumbprint"), Some(&Value::Unknown));
        assert_eq!(
            renewed.planned.get("versionless_secret_id"),
            state.get("versionless_secret_id")
        );
    }

    #[test]
    fn checks_contents_without_showing_them() {
        assert!(KeyVaultCertificate.validate(&config(PEM, None)).is_empty());
        assert!(KeyVaultCertificate
            .validate(&config("TUlJSg==", Some("pw")))
            .is_empty());
        let key_only = "-----BEGIN PRIVATE KEY-----\nSECRETKEY\n-----END PRIVATE KEY-----\n";
        let errors = KeyVaultCertificate.validate(&config(key_only, None));
        assert_eq!(errors.len(), 1);
        assert!(!errors[0].message.contains("SECRETKEY"));
        assert_eq!(
            KeyVaultCertificate
                .validate(&config("not base64 !!", None))
                .len(),
            1
        );
    }
}
