//! The Key Vault data plane (REST API 7.5) of every vault in the local cloud, served under
//! `/keyvault/{vault}/`: secrets (set, get, list, delete) and certificates (import, get, list,
//! delete), behind Key Vault's bearer challenge. A vault's contents disappear with the vault.
//! Soft-delete is not modelled: a deleted secret or certificate is gone at once.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::arm::TENANT_ID;
use crate::model::ArmErrorBody;
use crate::pem;
use crate::reply::Reply;
use crate::store::Cloud;

/// What one vault holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VaultData {
    /// Secrets by lowercase name.
    pub secrets: BTreeMap<String, Item<SecretVersion>>,
    /// Certificates by lowercase name.
    pub certificates: BTreeMap<String, Item<CertificateVersion>>,
}

/// A named object and its versions, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item<V> {
    /// The name as first written.
    pub name: String,
    /// Versions, the current one last.
    pub versions: Vec<V>,
}

/// One version of a secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretVersion {
    /// Version ID (32 hex digits).
    pub version: String,
    /// The value.
    pub value: String,
    /// Content type.
    pub content_type: Option<String>,
    /// Tags.
    pub tags: Json,
    /// `enabled`, `nbf`, `exp`.
    pub attributes: Json,
    /// Creation time (Unix seconds).
    pub created: i64,
    /// Backs a certificate.
    pub managed: bool,
}

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

/// The challenge Key Vault answers unauthenticated requests with.
pub fn challenge() -> Reply {
    Reply::json(
        401,
        json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}),
    )
    .header(
        "WWW-Authenticate",
        format!(
            "Bearer authorization=\"https://login.microsoftonline.com/{TENANT_ID}\", resource=\"https://vault.azure.net\""
        ),
    )
}

fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    ArmErrorBody::new(status, code, message).into()
}

/// Serve a data-plane request; `parts` are the path segments after `keyvault`.
pub fn handle(
    cloud: &mut Cloud,
    base_url: &str,
    now: f64,
    method: &str,
    parts: &[&str],
    body: &[u8],
) -> Reply {
    let Some((vault, rest)) = parts.split_first() else {
        return error(404, "NotFound", "No vault name in the request URI.");
    };
    let Some(entry) = cloud.vault(vault) else {
        return error(
            404,
            "VaultNotFound",
            format!("The vault '{vault}' does not exist in the local cloud."),
        );
    };
    let vault_uri = entry
        .resource
        .body
        .pointer("/properties/vaultUri")
        .and_then(Json::as_str)
        .map(|u| format!("{}/", u.trim_end_matches('/')))
        .unwrap_or_else(|| format!("{base_url}/keyvault/{vault}/"));
    let data = cloud.vaults.entry(vault.to_ascii_lowercase()).or_default();
    let mut kv = Vault {
        data,
        uri: vault_uri,
        now: now as i64,
        changed: false,
    };
    let reply = match (method, rest) {
        ("GET", ["secrets"]) => kv.list_secrets(),
        ("PUT", ["secrets", name]) => kv.set_secret(name, body),
        ("GET", ["secrets", name]) | ("GET", ["secrets", name, ""]) => kv.get_secret(name, None),
        ("GET", ["secrets", name, "versions"]) => kv.secret_versions(name),
        ("GET", ["secrets", name, version]) => kv.get_secret(name, Some(version)),
        ("DELETE", ["secrets", name]) => kv.delete_secret(name),
        ("GET", ["certificates"]) => kv.list_certificates(),
        ("POST", ["certificates", name, "import"]) => kv.import_certificate(name, body),
        ("GET", ["certificates", name]) | ("GET", ["certificates", name, ""]) => {
            kv.get_certificate(name, None)
        }
        ("GET", ["certificates", name, version]) => kv.get_certificate(name, Some(version)),
        ("DELETE", ["certificates", name]) => kv.delete_certificate(name),
        _ => error(
            400,
            "BadParameter",
            format!(
                "The local cloud's Key Vault does not serve {method} {}.",
                rest.join("/")
            ),
        ),
    };
    if kv.changed {
        cloud.dirty = true;
    }
    reply
}

struct Vault<'a> {
    data: &'a mut VaultData,
    uri: String,
    now: i64,
    changed: bool,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 127
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn bad_name(kind: &str, name: &str) -> Reply {
    error(
        400,
        "BadParameter",
        format!("The {kind} name '{name}' is invalid: use 1-127 letters, digits and dashes."),
    )
}

fn secret_not_found(name: &str) -> Reply {
    error(
        404,
        "SecretNotFound",
        format!("A secret with (name/id) {name} was not found in this key vault."),
    )
}

fn certificate_not_found(name: &str) -> Reply {
    error(
        404,
        "CertificateNotFound",
        format!("A certificate with (name/id) {name} was not found in this key vault."),
    )
}

fn parse(body: &[u8]) -> Result<Json, Reply> {
    match serde_json::from_slice::<Json>(body) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(error(
            400,
            "BadParameter",
            "The request body must be a JSON object.",
        )),
    }
}

fn attributes(given: Option<&Json>, created: i64, now: i64) -> Json {
    let mut a = json!({
        "enabled": true,
        "created": created,
        "updated": now,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
    });
    if let Some(Json::Object(given)) = given {
        for key in ["enabled", "nbf", "exp"] {
            if let Some(v) = given.get(key) {
                a[key] = v.clone();
            }
        }
    }
    a
}

fn new_version() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn pick<'v, V>(item: &'v Item<V>, version: Option<&str>, id: impl Fn(&V) -> &str) -> Option<&'v V> {
    match version {
        None => item.versions.last(),
        Some(v) => item.versions.iter().find(|x| id(x).eq_ignore_ascii_case(v)),
    }
}

impl Vault<'_> {
    fn secret_json(&self, name: &str, v: &SecretVersion, with_value: bool) -> Json {
        let mut out = json!({
            "id": format!("{}secrets/{name}/{}", self.uri, v.version),
            "attributes": v.attributes,
            "tags": v.tags,
        });
        if with_value {
            out["value"] = json!(v.value);
        }
        if let Some(ct) = &v.content_type {
            out["contentType"] = json!(ct);
        }
        if v.managed {
            out["managed"] = json!(true);
            out["kid"] = json!(format!("{}keys/{name}/{}", self.uri, v.version));
        }
        out
    }

    fn set_secret(&mut self, name: &str, body: &[u8]) -> Reply {
        if !valid_name(name) {
            return bad_name("secret", name);
        }
        let body = match parse(body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let Some(value) = body.get("value").and_then(Json::as_str) else {
            return error(
                400,
                "BadParameter",
                "The secret's value is required (property 'value').",
            );
        };
        if self
            .data
            .secrets
            .get(&name.to_ascii_lowercase())
            .is_some_and(|s| s.versions.last().is_some_and(|v| v.managed))
        {
            return error(
                409,
                "Conflict",
                format!("The secret '{name}' backs a certificate: set the certificate instead."),
            );
        }
        let version = SecretVersion {
            version: new_version(),
            value: value.to_string(),
            content_type: body
                .get("contentType")
                .and_then(Json::as_str)
                .map(str::to_string),
            tags: body.get("tags").cloned().unwrap_or_else(|| json!({})),
            attributes: attributes(body.get("attributes"), self.now, self.now),
            created: self.now,
            managed: false,
        };
        let out = self.secret_json(name, &version, true);
        self.data
            .secrets
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| Item {
                name: name.to_string(),
                versions: Vec::new(),
            })
            .versions
            .push(version);
        self.changed = true;
        Reply::json(200, out)
    }

    fn get_secret(&self, name: &str, version: Option<&str>) -> Reply {
        let found = self
            .data
            .secrets
            .get(&name.to_ascii_lowercase())
            .and_then(|item| Some((item, pick(item, version, |v| &v.version)?)));
        match found {
            Some((item, v)) => Reply::json(200, self.secret_json(&item.name, v, true)),
            None => secret_not_found(name),
        }
    }

    fn secret_versions(&self, name: &str) -> Reply {
        match self.data.secrets.get(&name.to_ascii_lowercase()) {
            Some(item) => {
                let value: Vec<Json> = item
                    .versions
                    .iter()
                    .map(|v| self.secret_json(&item.name, v, false))
                    .collect();
                Reply::json(200, json!({ "value": value, "nextLink": null }))
            }
            None => secret_not_found(name),
        }
    }

    fn list_secrets(&self) -> Reply {
        let value: Vec<Json> = self
            .data
            .secrets
            .values()
            .filter_map(|item| {
                let v = item.versions.last()?;
                let mut j = self.secret_json(&item.name, v, false);
                j["id"] = json!(format!("{}secrets/{}", self.uri, item.name));
                Some(j)
            })
            .collect();
        Reply::json(200, json!({ "value": value, "nextLink": null }))
    }

    fn delete_secret(&mut self, name: &str) -> Reply {
        let key = name.to_ascii_lowercase();
        let Some(item) = self.data.secrets.get(&key) else {
            return secret_not_found(name);
        };
        let Some(last) = item.versions.last() else {
            return secret_not_found(name);
        };
        if last.managed {
            return error(
                403,
                "Forbidden",
                format!("The secret '{name}' backs a certificate: delete the certificate instead."),
            );
        }
        let mut out = self.secret_json(&item.name, last, false);
        out["recoveryId"] = json!(format!("{}deletedsecrets/{}", self.uri, item.name));
        out["deletedDate"] = json!(self.now);
        out["scheduledPurgeDate"] = json!(self.now + 90 * 86400);
        self.data.secrets.remove(&key);
        self.changed = true;
        Reply::json(200, out)
    }

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

    fn import_certificate(&mut self, name: &str, body: &[u8]) -> Reply {
        if !valid_name(name) {
            return bad_name("certificate", name);
        }
        let body = match parse(body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let Some(value) = body.get("value").and_then(Json::as_str) else {
            return error(
                400,
                "BadParameter",
                "The certificate's value is required (property 'value').",
            );
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
        let item = |versions| Item {
            name: name.to_string(),
            versions,
        };
        self.data
            .certificates
            .entry(key.clone())
            .or_insert_with(|| item(Vec::new()))
            .versions
            .push(cert);
        self.data
            .secrets
            .entry(key)
            .or_insert_with(|| Item {
                name: name.to_string(),
                versions: Vec::new(),
            })
            .versions
            .push(secret);
        self.changed = true;
        Reply::json(200, out)
    }

    fn get_certificate(&self, name: &str, version: Option<&str>) -> Reply {
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

    fn list_certificates(&self) -> Reply {
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

    fn delete_certificate(&mut self, name: &str) -> Reply {
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
