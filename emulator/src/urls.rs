//! The URLs the local cloud is known by: its canonical base URL (which stored resources name,
//! e.g. a vault's URI) and the one a client reached it through (plain HTTP on an HTTPS
//! cloud), moving the stored ones when the cloud moves, and ARM's cloud metadata document.

use axum::body::Bytes;
use serde_json::{json, Value as Json};

use crate::reply::Reply;
use crate::store::Cloud;

/// `text` with every `from` replaced by `to`, where `from` is a whole base URL (not followed
/// by another digit of a longer port number).
fn replace_url(text: &str, from: &str, to: &str) -> Option<String> {
    if !text.contains(from) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let after = &rest[at + from.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = after;
    }
    out.push_str(rest);
    (out != text).then_some(out)
}

/// Replace `from` by `to` in every string of `value`; whether anything changed.
fn rewrite_json(value: &mut Json, from: &str, to: &str) -> bool {
    match value {
        Json::String(s) => match replace_url(s, from, to) {
            Some(new) => {
                *s = new;
                true
            }
            None => false,
        },
        Json::Array(items) => {
            let mut changed = false;
            for item in items {
                changed |= rewrite_json(item, from, to);
            }
            changed
        }
        Json::Object(map) => {
            let mut changed = false;
            for item in map.values_mut() {
                changed |= rewrite_json(item, from, to);
            }
            changed
        }
        _ => false,
    }
}

/// Point the stored URLs of `cloud`, last served on port `cloud.port`, at `url` (a new port,
/// or another scheme: HTTPS on or off). The URL the cloud was served on before when its port
/// changed.
pub(crate) fn rebase(cloud: &mut Cloud, url: &str, port: u16) -> Option<String> {
    let old = cloud.port?;
    let mut moved_from = (old != port).then(|| format!("http://127.0.0.1:{old}"));
    for scheme in ["http", "https"] {
        let old_url = format!("{scheme}://127.0.0.1:{old}");
        if old_url == url {
            continue;
        }
        let mut changed = false;
        for entry in cloud.resources.values_mut() {
            changed |= rewrite_json(&mut entry.resource.body, &old_url, url);
        }
        if changed {
            cloud.dirty = true;
            if old != port {
                moved_from = Some(old_url);
            }
        }
    }
    moved_from
}

/// A request body sent by a client that knows the cloud as `here`, with its URLs canonical.
pub(crate) fn to_canonical(body: Bytes, here: &str, canonical: &str) -> Bytes {
    match std::str::from_utf8(&body)
        .ok()
        .and_then(|text| replace_url(text, here, canonical))
    {
        Some(text) => Bytes::from(text),
        None => body,
    }
}

/// A reply for a client that knows the cloud as `here`: canonical URLs in its headers and
/// body become `here`.
pub(crate) fn localize(mut reply: Reply, canonical: &str, here: &str) -> Reply {
    for (_, value) in reply.headers.iter_mut() {
        if let Some(new) = replace_url(value, canonical, here) {
            *value = new;
        }
    }
    if let Some(body) = reply.body.as_mut() {
        rewrite_json(body, canonical, here);
    }
    reply
}

/// ARM's `GET /metadata/endpoints?api-version=...` for a client that knows the cloud as
/// `base`: where its Resource Manager is (here), and where tokens come from (Microsoft Entra
/// ID: the local cloud accepts any bearer token, so a real sign-in works as well as none).
/// Shapes: 2015-01-01 (the legacy document), 2019-05-01 up to 2022-08-31 (a list of clouds),
/// 2022-09-01 and later (this cloud alone, which `az cloud register
/// --endpoint-resource-manager` reads).
pub(crate) fn metadata(base: &str, api_version: &str) -> Result<Json, Reply> {
    let valid = api_version.len() >= 10
        && api_version.as_bytes()[..10]
            .iter()
            .enumerate()
            .all(|(i, b)| {
                if i == 4 || i == 7 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
    if !valid {
        return Err(Reply::json(
            400,
            json!({"error": {"code": "InvalidApiVersionParameter", "message": format!("The api-version '{api_version}' is invalid. Use e.g. 2022-09-01.")}}),
        ));
    }
    let root = format!("{}/", base.trim_end_matches('/'));
    let login = "https://login.microsoftonline.com/";
    let audiences = json!([
        "https://management.core.windows.net/",
        "https://management.azure.com/"
    ]);
    if api_version < "2019-05-01" {
        return Ok(json!({
            "galleryEndpoint": root,
            "graphEndpoint": "https://graph.windows.net/",
            "graphAudience": "https://graph.windows.net/",
            "portalEndpoint": root,
            "authentication": {"loginEndpoint": login, "audiences": audiences},
        }));
    }
    let cloud = json!({
        "name": "MeshLocal",
        "resourceManager": root,
        "portal": root,
        "gallery": root,
        "graph": "https://graph.windows.net/",
        "graphAudience": "https://graph.windows.net/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "authentication": {
            "loginEndpoint": login,
            "audiences": audiences,
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "suffixes": {
            "keyVaultDns": "vault.azure.net",
            "acrLoginServer": "azurecr.io",
            "storage": "core.windows.net",
            "sqlServerHostname": "database.windows.net",
        },
    });
    Ok(if api_version < "2022-09-01" {
        json!([cloud])
    } else {
        cloud
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_replaced_whole() {
        let text = "http://127.0.0.1:2000/a http://127.0.0.1:20001/b";
        assert_eq!(
            replace_url(text, "http://127.0.0.1:2000", "https://127.0.0.1:2000").as_deref(),
            Some("https://127.0.0.1:2000/a http://127.0.0.1:20001/b")
        );
        assert_eq!(replace_url("nothing", "http://x", "y"), None);
    }

    #[test]
    fn replies_and_bodies_move_between_schemes() {
        let canonical = "https://127.0.0.1:4000";
        let here = "http://127.0.0.1:4000";
        let reply = Reply::json(
            201,
            json!({"properties": {"vaultUri": "https://127.0.0.1:4000/keyvault/kv/"}}),
        )
        .header(
            "Azure-AsyncOperation",
            "https://127.0.0.1:4000/subscriptions/s/providers/Microsoft.Resources/operations/1",
        );
        let reply = localize(reply, canonical, here);
        assert_eq!(
            reply.body.unwrap()["properties"]["vaultUri"],
            "http://127.0.0.1:4000/keyvault/kv/"
        );
        assert!(reply.headers[0].1.starts_with("http://127.0.0.1:4000/"));
        let body = to_canonical(
            Bytes::from_static(br#"{"id": "http://127.0.0.1:4000/keyvault/kv/secrets/s"}"#),
            here,
            canonical,
        );
        assert_eq!(
            body,
            Bytes::from_static(br#"{"id": "https://127.0.0.1:4000/keyvault/kv/secrets/s"}"#)
        );
    }

    #[test]
    fn metadata_shapes_follow_the_api_version() {
        let base = "https://127.0.0.1:4000";
        let current = metadata(base, "2022-09-01").unwrap();
        assert_eq!(current["resourceManager"], "https://127.0.0.1:4000/");
        assert_eq!(
            current["authentication"]["audiences"][0],
            "https://management.core.windows.net/"
        );
        let list = metadata(base, "2019-05-01").unwrap();
        assert_eq!(list[0]["resourceManager"], "https://127.0.0.1:4000/");
        let legacy = metadata(base, "2015-01-01").unwrap();
        assert_eq!(
            legacy["authentication"]["loginEndpoint"],
            "https://login.microsoftonline.com/"
        );
        assert_eq!(metadata(base, "latest").unwrap_err().status, 400);
    }
}
