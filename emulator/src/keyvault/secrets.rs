//! Secrets: set (each write is a new version), get, list versions, list, delete. A secret that
//! backs a certificate is managed by the certificate.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::{
    attributes, error, named_body, new_version, pick, push_version, required_value, Vault,
};
use crate::reply::Reply;

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

    pub(super) fn set_secret(&mut self, name: &str, body: &[u8]) -> Reply {
        let body = match named_body("secret", name, body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        let value = match required_value("secret", &body) {
            Ok(v) => v,
            Err(r) => return r,
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
        push_version(&mut self.data.secrets, name, version);
        self.changed = true;
        Reply::json(200, out)
    }

    pub(super) fn get_secret(&self, name: &str, version: Option<&str>) -> Reply {
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

    pub(super) fn secret_versions(&self, name: &str) -> Reply {
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

    pub(super) fn list_secrets(&self) -> Reply {
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

    pub(super) fn delete_secret(&mut self, name: &str) -> Reply {
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
}

pub(super) fn secret_not_found(name: &str) -> Reply {
    error(
        404,
        "SecretNotFound",
        format!("A secret with (name/id) {name} was not found in this key vault."),
    )
}
