//! The Key Vault data plane (REST API 7.5) of every vault in the local cloud, served under
//! `/keyvault/{vault}/`, behind Key Vault's bearer challenge: secrets (set, get, list, delete),
//! certificates (import, get, list, delete) and RSA keys (create, get, list, update, delete,
//! wrap and unwrap). A vault's contents disappear with the vault. Soft-delete is not modelled:
//! a deleted object is gone at once.
//!
//! This module routes requests and holds what the object kinds share (names, attributes,
//! versions); each kind has its own module. A key's private half is part of the cloud's
//! persisted data (it is the cloud) and never leaves it in a reply.

mod certificates;
mod key_material;
mod keys;
mod secrets;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::arm::TENANT_ID;
use crate::model::ArmErrorBody;
use crate::reply::Reply;
use crate::store::Cloud;

pub use certificates::CertificateVersion;
pub use keys::KeyVersion;
pub use secrets::SecretVersion;

/// What one vault holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VaultData {
    /// Secrets by lowercase name.
    pub secrets: BTreeMap<String, Item<SecretVersion>>,
    /// Certificates by lowercase name.
    pub certificates: BTreeMap<String, Item<CertificateVersion>>,
    /// Keys by lowercase name.
    #[serde(default)]
    pub keys: BTreeMap<String, Item<KeyVersion>>,
}

impl VaultData {
    /// How many named objects (secrets, certificates, keys) the vault holds.
    pub fn object_count(&self) -> usize {
        self.secrets.len() + self.certificates.len() + self.keys.len()
    }
}

/// A named object and its versions, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item<V> {
    /// The name as first written.
    pub name: String,
    /// Versions, the current one last.
    pub versions: Vec<V>,
}

/// Add `version` as the current version of `name` in `items` (names are case-insensitive; the
/// item keeps the spelling it was first written with).
fn push_version<V>(items: &mut BTreeMap<String, Item<V>>, name: &str, version: V) {
    items
        .entry(name.to_ascii_lowercase())
        .or_insert_with(|| Item {
            name: name.to_string(),
            versions: Vec::new(),
        })
        .versions
        .push(version);
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
        (_, ["keys", keys @ ..]) => kv.serve_keys(method, keys, body),
        _ => unsupported(method, "", rest),
    };
    if kv.changed {
        cloud.dirty = true;
    }
    reply
}

/// The reply to a request the local cloud's Key Vault does not serve.
fn unsupported(method: &str, collection: &str, rest: &[&str]) -> Reply {
    let path = match collection {
        "" => rest.join("/"),
        c => format!("{c}/{}", rest.join("/")),
    };
    error(
        400,
        "BadParameter",
        format!("The local cloud's Key Vault does not serve {method} {path}."),
    )
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

/// The body of a write to the object `name` of `kind` (`secret`, `key`...): the name checked,
/// then the body parsed as a JSON object.
fn named_body(kind: &str, name: &str, body: &[u8]) -> Result<Json, Reply> {
    if !valid_name(name) {
        return Err(bad_name(kind, name));
    }
    parse(body)
}

/// The required string `value` of a secret or certificate body.
fn required_value<'b>(kind: &str, body: &'b Json) -> Result<&'b str, Reply> {
    body.get("value").and_then(Json::as_str).ok_or_else(|| {
        error(
            400,
            "BadParameter",
            format!("The {kind}'s value is required (property 'value')."),
        )
    })
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
