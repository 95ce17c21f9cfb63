//! Keys: create (RSA and RSA-HSM; a create on an existing name adds a version), get, list
//! versions, list, update (key_ops, attributes, tags of one version), delete, and the wrapKey
//! and unwrapKey operations (RSA-OAEP, RSA-OAEP-256). Replies carry the JsonWebKey's public
//! half only.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::key_material::{self, WrapAlgorithm, KEY_SIZES};
use super::{attributes, error, named_body, new_version, parse, pick, push_version, Vault};
use crate::reply::Reply;

/// The operations an RSA key may permit, as Key Vault spells them.
const RSA_KEY_OPS: [&str; 6] = [
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "wrapKey",
    "unwrapKey",
];

/// One version of a key.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyVersion {
    /// Version ID (32 hex digits).
    pub version: String,
    /// `RSA` or `RSA-HSM`.
    pub kty: String,
    /// Modulus size in bits.
    pub key_size: u64,
    /// Permitted operations.
    pub key_ops: Vec<String>,
    /// Public modulus, base64url.
    pub n: String,
    /// Public exponent, base64url.
    pub e: String,
    /// The private key (base64 PKCS#8 DER): the cloud's own data, never in a reply.
    pub private_pkcs8: String,
    /// Tags.
    pub tags: Json,
    /// `enabled`, `nbf`, `exp` and timestamps.
    pub attributes: Json,
    /// Creation time (Unix seconds).
    pub created: i64,
}

impl std::fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("KeyVersion")
            .field("version", &self.version)
            .field("kty", &self.kty)
            .field("key_size", &self.key_size)
            .field("key_ops", &self.key_ops)
            .finish_non_exhaustive()
    }
}

/// What a POST on a key version asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyOperation {
    Wrap,
    Unwrap,
}

impl KeyOperation {
    fn from_path(segment: &str) -> Option<KeyOperation> {
        match segment.to_ascii_lowercase().as_str() {
            "wrapkey" => Some(KeyOperation::Wrap),
            "unwrapkey" => Some(KeyOperation::Unwrap),
            _ => None,
        }
    }

    /// The `key_ops` entry that permits it.
    fn permission(self) -> &'static str {
        match self {
            KeyOperation::Wrap => "wrapKey",
            KeyOperation::Unwrap => "unwrapKey",
        }
    }
}

fn key_not_found(name: &str) -> Reply {
    error(
        404,
        "KeyNotFound",
        format!("A key with (name/id) {name} was not found in this key vault."),
    )
}

fn bad_parameter(message: impl Into<String>) -> Reply {
    error(400, "BadParameter", message)
}

/// `key_ops` from a request: every entry must be an operation RSA keys have.
fn key_ops(given: Option<&Json>) -> Result<Option<Vec<String>>, Reply> {
    let Some(given) = given.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let Some(list) = given.as_array() else {
        return Err(bad_parameter(
            "Property 'key_ops' must be an array of strings.",
        ));
    };
    let mut ops = Vec::new();
    for op in list {
        match op.as_str().filter(|op| RSA_KEY_OPS.contains(op)) {
            Some(op) => ops.push(op.to_string()),
            None => {
                return Err(bad_parameter(format!(
                    "Invalid key operation {op}: RSA keys permit {}.",
                    RSA_KEY_OPS.join(", ")
                )))
            }
        }
    }
    Ok(Some(ops))
}

/// Is the version usable now (enabled, within nbf/exp)? The refusal otherwise.
fn usable(v: &KeyVersion, op: KeyOperation, now: i64) -> Result<(), Reply> {
    let refuse = |why: &str| {
        Err(error(
            403,
            "Forbidden",
            format!("Operation {} is not allowed {why}.", op.permission()),
        ))
    };
    if v.attributes.get("enabled") == Some(&Json::Bool(false)) {
        return refuse("on a disabled key");
    }
    if v.attributes
        .get("exp")
        .and_then(Json::as_i64)
        .is_some_and(|exp| exp <= now)
    {
        return refuse("on an expired key");
    }
    if v.attributes
        .get("nbf")
        .and_then(Json::as_i64)
        .is_some_and(|nbf| nbf > now)
    {
        return refuse("on a key that is not yet valid");
    }
    if !v.key_ops.iter().any(|o| o == op.permission()) {
        return Err(error(
            403,
            "Forbidden",
            format!(
                "Operation {} is not permitted on this key (key_ops: {}).",
                op.permission(),
                v.key_ops.join(", ")
            ),
        ));
    }
    Ok(())
}

fn decode_value(body: &Json) -> Result<Vec<u8>, Reply> {
    let Some(value) = body.get("value").and_then(Json::as_str) else {
        return Err(bad_parameter("Property 'value' is required."));
    };
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| bad_parameter("Property 'value' must be base64url-encoded."))
}

impl Vault<'_> {
    /// Serve `keys/...`; `rest` is the path after `keys`.
    pub(super) fn serve_keys(&mut self, method: &str, rest: &[&str], body: &[u8]) -> Reply {
        match (method, rest) {
            ("GET", []) | ("GET", [""]) => self.list_keys(),
            ("POST", [name, "create"]) => self.create_key(name, body),
            ("GET", [name]) | ("GET", [name, ""]) => self.get_key(name, None),
            ("GET", [name, "versions"]) => self.key_versions(name),
            ("GET", [name, version]) => self.get_key(name, Some(version)),
            ("PATCH", [name]) | ("PATCH", [name, ""]) => self.update_key(name, None, body),
            ("PATCH", [name, version]) => self.update_key(name, Some(version), body),
            ("DELETE", [name]) => self.delete_key(name),
            ("POST", [name, op]) | ("POST", [name, "", op])
                if KeyOperation::from_path(op).is_some() =>
            {
                self.key_operation(name, None, op, body)
            }
            ("POST", [name, version, op]) if KeyOperation::from_path(op).is_some() => {
                self.key_operation(name, Some(version), op, body)
            }
            _ => super::unsupported(method, "keys", rest),
        }
    }

    fn key_json(&self, name: &str, v: &KeyVersion) -> Json {
        json!({
            "key": {
                "kid": format!("{}keys/{name}/{}", self.uri, v.version),
                "kty": v.kty,
                "key_ops": v.key_ops,
                "n": v.n,
                "e": v.e,
            },
            "attributes": v.attributes,
            "tags": v.tags,
        })
    }

    fn key_item_json(&self, kid: String, v: &KeyVersion) -> Json {
        json!({"kid": kid, "attributes": v.attributes, "tags": v.tags})
    }

    fn create_key(&mut self, name: &str, body: &[u8]) -> Reply {
        let body = match named_body("key", name, body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let kty = match body.get("kty").and_then(Json::as_str) {
            Some(k @ ("RSA" | "RSA-HSM")) => k.to_string(),
            Some(other) => {
                return bad_parameter(format!(
                    "The local cloud's Key Vault creates RSA keys only (kty RSA or RSA-HSM), not {other}."
                ))
            }
            None => return bad_parameter("Property 'kty' is required."),
        };
        let key_size = match body.get("key_size") {
            None | Some(Json::Null) => 2048,
            Some(size) => match size.as_u64().filter(|s| KEY_SIZES.contains(s)) {
                Some(s) => s,
                None => {
                    return bad_parameter(format!(
                        "Invalid key size {size}: RSA keys are 2048, 3072 or 4096 bits."
                    ))
                }
            },
        };
        let ops = match key_ops(body.get("key_ops")) {
            Ok(ops) => ops.unwrap_or_else(|| RSA_KEY_OPS.iter().map(|o| o.to_string()).collect()),
            Err(r) => return r,
        };
        let material = match key_material::generate(key_size) {
            Ok(m) => m,
            Err(e) => return error(500, "InternalError", e),
        };
        let mut attrs = attributes(body.get("attributes"), self.now, self.now);
        attrs["exportable"] = json!(false);
        let version = KeyVersion {
            version: new_version(),
            kty,
            key_size,
            key_ops: ops,
            n: URL_SAFE_NO_PAD.encode(&material.n),
            e: URL_SAFE_NO_PAD.encode(&material.e),
            private_pkcs8: STANDARD.encode(&material.pkcs8),
            tags: body.get("tags").cloned().unwrap_or_else(|| json!({})),
            attributes: attrs,
            created: self.now,
        };
        let out = self.key_json(name, &version);
        push_version(&mut self.data.keys, name, version);
        self.changed = true;
        Reply::json(200, out)
    }

    fn get_key(&self, name: &str, version: Option<&str>) -> Reply {
        let found = self
            .data
            .keys
            .get(&name.to_ascii_lowercase())
            .and_then(|item| Some((item, pick(item, version, |v| &v.version)?)));
        match found {
            Some((item, v)) => Reply::json(200, self.key_json(&item.name, v)),
            None => key_not_found(name),
        }
    }

    fn key_versions(&self, name: &str) -> Reply {
        let Some(item) = self.data.keys.get(&name.to_ascii_lowercase()) else {
            return key_not_found(name);
        };
        let value: Vec<Json> = item
            .versions
            .iter()
            .map(|v| {
                let kid = format!("{}keys/{}/{}", self.uri, item.name, v.version);
                self.key_item_json(kid, v)
            })
            .collect();
        Reply::json(200, json!({ "value": value, "nextLink": null }))
    }

    fn list_keys(&self) -> Reply {
        let value: Vec<Json> = self
            .data
            .keys
            .values()
            .filter_map(|item| {
                let v = item.versions.last()?;
                Some(self.key_item_json(format!("{}keys/{}", self.uri, item.name), v))
            })
            .collect();
        Reply::json(200, json!({ "value": value, "nextLink": null }))
    }

    fn update_key(&mut self, name: &str, version: Option<&str>, body: &[u8]) -> Reply {
        let body = match parse(body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let ops = match key_ops(body.get("key_ops")) {
            Ok(ops) => ops,
            Err(r) => return r,
        };
        let now = self.now;
        let Some(item) = self.data.keys.get_mut(&name.to_ascii_lowercase()) else {
            return key_not_found(name);
        };
        let found = match version {
            None => item.versions.last_mut(),
            Some(wanted) => item
                .versions
                .iter_mut()
                .find(|v| v.version.eq_ignore_ascii_case(wanted)),
        };
        let Some(v) = found else {
            return key_not_found(name);
        };
        if let Some(ops) = ops {
            v.key_ops = ops;
        }
        if let Some(Json::Object(given)) = body.get("attributes") {
            for key in ["enabled", "nbf", "exp"] {
                if let Some(value) = given.get(key) {
                    v.attributes[key] = value.clone();
                }
            }
        }
        if let Some(tags) = body.get("tags").filter(|t| t.is_object()) {
            v.tags = tags.clone();
        }
        v.attributes["updated"] = json!(now);
        let (item_name, v) = (item.name.clone(), v.clone());
        self.changed = true;
        Reply::json(200, self.key_json(&item_name, &v))
    }

    fn delete_key(&mut self, name: &str) -> Reply {
        let Some(item) = self.data.keys.remove(&name.to_ascii_lowercase()) else {
            return key_not_found(name);
        };
        self.changed = true;
        let Some(last) = item.versions.last() else {
            return key_not_found(name);
        };
        let mut out = self.key_json(&item.name, last);
        out["recoveryId"] = json!(format!("{}deletedkeys/{}", self.uri, item.name));
        out["deletedDate"] = json!(self.now);
        out["scheduledPurgeDate"] = json!(self.now + 90 * 86400);
        Reply::json(200, out)
    }

    fn key_operation(&self, name: &str, version: Option<&str>, op: &str, body: &[u8]) -> Reply {
        let Some(op) = KeyOperation::from_path(op) else {
            return super::unsupported("POST", "keys", &[name, op]);
        };
        let body = match parse(body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let found = self
            .data
            .keys
            .get(&name.to_ascii_lowercase())
            .and_then(|item| Some((item, pick(item, version, |v| &v.version)?)));
        let Some((item, v)) = found else {
            return key_not_found(name);
        };
        if let Err(refused) = usable(v, op, self.now) {
            return refused;
        }
        let alg = body.get("alg").and_then(Json::as_str).unwrap_or_default();
        let Some(algorithm) = WrapAlgorithm::parse(alg) else {
            return bad_parameter(format!(
                "Invalid algorithm '{alg}': the local cloud's keys wrap with RSA-OAEP or RSA-OAEP-256."
            ));
        };
        let value = match decode_value(&body) {
            Ok(v) => v,
            Err(r) => return r,
        };
        let Ok(pkcs8) = STANDARD.decode(&v.private_pkcs8) else {
            return error(500, "InternalError", "The stored key is damaged.");
        };
        let result = match op {
            KeyOperation::Wrap => key_material::wrap(&pkcs8, algorithm, &value),
            KeyOperation::Unwrap => key_material::unwrap(&pkcs8, algorithm, &value),
        };
        match result {
            Ok(out) => Reply::json(
                200,
                json!({
                    "kid": format!("{}keys/{}/{}", self.uri, item.name, v.version),
                    "value": URL_SAFE_NO_PAD.encode(out),
                }),
            ),
            Err(why) => bad_parameter(format!("Error during {}: {why}.", op.permission())),
        }
    }
}
