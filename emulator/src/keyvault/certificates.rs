//! Certificates: import (PEM with its key, or PKCS#12), get, list, delete. Importing also
//! writes the managed secret that holds the certificate and its key, as Key Vault does.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::secrets::SecretVersion;
use super::{
    attributes, error, named_body, new_version, pick, push_version, required_value, Vault,
};
use crate::pem;
use crate::reply::Reply;

/// One version of a certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateVersion {
    /// Version ID.
    pub version: String,
    /// Base64 DER of the leaf certificate (for PKCS#12, the imported bytes).
    pub cer: String,
    /// Thumbprint.
    pub x5t: String,
    /// Content type of the backing secret.
    pub content_type: String,
    /// Tags.
    pub tags: Json,
    /// `enabled`, `nbf`, `exp`.
    pub attributes: Json,
    /// Creation time (Unix seconds).
    pub created: i64,
}

impl Vault<'_> {
    fn certificate_json(&self, name: &str, v: &CertificateVersion) -> Json {
        json!({
            "id": format!("{}certificates/{name}/{}", self.uri, v.version),
            "kid": format!("{}keys/{name}/{}", self.uri, v.version),
            "sid": format!("{}secrets/{name}/{}", self.uri, v.version),
            "x5t": v.x5t,
            "cer": v.cer,
            "attributes": v.attributes,
            "tags": v.tags,
            "policy": {
                "id": format!("{}certificates/{name}/policy", self.uri),
                "key_props": {"exportable": true, "kty": "RSA", "reuse_key": false},
                "secret_props": {"contentType": v.content_type},
                "issuer": {"name": "Unknown"},
                "attributes": {"enabled": true, "created": v.created, "updated": v.created},
            },
        })
    }

    pub(super) fn import_certificate(&mut self, name: &str, body: &[u8]) -> Reply {
        let body = match named_body("certificate", name, body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let value = match required_value("certificate", &body) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let (der, detected) = if value.contains("-----BEGIN") {
            let Some(der) = pem::first_certificate(value) else {
                return error(400, "BadParameter", "The specified PEM X.509 certificate content can not be read. Please check if certificate is in valid PEM format.");
            };
            if !pem::has_private_key(value) {
                return error(400, "BadParameter", "Private key is not specified in the specified X.509 PEM certificate content. Please specify private key in the X.509 PEM certificate content.");
            }
            (der, "application/x-pem-file")
        } else {
            match base64::engine::general_purpose::STANDARD.decode(value.trim()) {
                Ok(bytes) if bytes.first() == Some(&0x30) => (bytes, "application/x-pkcs12"),
                _ => return error(
                    400,
                    "BadParameter",
                    "The specified certificate content is neither PEM nor base64-encoded PKCS#12.",
                ),
            }
        };
        let content_type = body
            .pointer("/policy/secret_props/contentType")
            .and_then(Json::as_str)
            .unwrap_or(detected)
            .to_string();
        let key = name.to_ascii_lowercase();
        if self
            .data
            .secrets
            .get(&key)
            .is_some_and(|s| s.versions.last().is_some_and(|v| !v.managed))
        {
            return error(
                409,
                "Conflict",
                format!("A secret named '{name}' exists and is not backed by a certificate."),
            );
        }
        let version = new_version();
        let attrs = attributes(body.get("attributes"), self.now, self.now);
        let tags = body.get("tags").cloned().unwrap_or_else(|| json!({}));
        let cert = CertificateVersion {
            version: version.clone(),
            cer: base64::engine::general_purpose::STANDARD.encode(&der),
            x5t: pem::thumbprint(&der),
            content_type: content_type.clone(),
            tags: tags.clone(),
            attributes: attrs.clone(),
            created: self.now,
        };
        let secret = SecretVersion {
            version,
            value: value.to_string(),
            content_type: Some(content_type),
            tags,
            attributes: attrs,
            created: self.now,
            managed: true,
        };
        let out = self.certificate_json(name, &cert);
        push_version(&mut self.data.certificates, name, cert);
        push_version(&mut self.data.secrets, name, secret);
        self.changed = true;
        Reply::json(200, out)
    }

    pub(super) fn get_certificate(&self, name: &str, version: Option<&str>) -> Reply {
        let found = self
            .data
            .certificates
            .get(&name.to_ascii_lowercase())
            .and_then(|item| Some((item, pick(item, version, |v| &v.version)?)));
        match found {
            Some((item, v)) => Reply::json(200, self.certificate_json(&item.name, v)),
            None => certificate_not_found(name),
        }
    }

    pub(super) fn list_certificates(&self) -> Reply {
        let value: Vec<Json> = self
            .data
            .certificates
            .values()
            .filter_map(|item| {
                let v = item.versions.last()?;
                Some(json!({
                    "id": format!("{}certificates/{}", self.uri, item.name),
                    "x5t": v.x5t,
                    "attributes": v.attributes,
                    "tags": v.tags,
                }))
            })
            .collect();
        Reply::json(200, json!({ "value": value, "nextLink": null }))
    }

    pub(super) fn delete_certificate(&mut self, name: &str) -> Reply {
        let key = name.to_ascii_lowercase();
        let Some(item) = self.data.certificates.remove(&key) else {
            return certificate_not_found(name);
        };
        self.data.secrets.remove(&key);
        self.changed = true;
        let Some(last) = item.versions.last() else {
            return certificate_not_found(name);
        };
        let mut out = self.certificate_json(&item.name, last);
        out["recoveryId"] = json!(format!("{}deletedcertificates/{}", self.uri, item.name));
        out["deletedDate"] = json!(self.now);
        out["scheduledPurgeDate"] = json!(self.now + 90 * 86400);
        Reply::json(200, out)
    }
}

fn certificate_not_found(name: &str) -> Reply {
    error(
        404,
        "CertificateNotFound",
        format!("A certificate with (name/id) {name} was not found in this key vault."),
    )
}
