//! Service-account tokens: JWTs signed (HMAC-SHA256) with a key of the cluster, naming the
//! service account and its uid, so that a token stops working when its service account is
//! deleted (or recreated). They come from TokenRequests (`serviceaccounts/{name}/token`, with
//! an expiry) and, as the token controller does, from Secrets of type
//! `kubernetes.io/service-account-token` (`token`, `ca.crt` with HTTPS on, `namespace`).
//! Secrets also get `stringData` folded into `data`, as the API server does.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use super::super::cluster::ClusterCtx;
use super::super::kinds::Kind;
use super::super::objects::{annotation, key, meta, meta_str, set_meta, ClusterObjects};
use super::super::status::KubeError;
use super::super::writes::Writer;

const TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
const SA_NAME: &str = "kubernetes.io/service-account.name";
const SA_UID: &str = "kubernetes.io/service-account.uid";

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// A token acting as `service_account` (the ServiceAccount object), expiring at `expires`.
pub(crate) fn issue_token(
    objects: &ClusterObjects,
    cluster: &ClusterCtx,
    service_account: &Json,
    audiences: &[String],
    expires: Option<f64>,
) -> String {
    let namespace = meta_str(service_account, "namespace");
    let name = meta_str(service_account, "name");
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": "mesh-local"});
    let audiences = if audiences.is_empty() {
        vec![cluster.issuer.clone()]
    } else {
        audiences.to_vec()
    };
    let mut claims = json!({
        "iss": cluster.issuer,
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
        "aud": audiences,
        "iat": cluster.now.floor() as i64,
        "nbf": cluster.now.floor() as i64,
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": meta_str(service_account, "uid")}},
    });
    if let Some(exp) = expires {
        claims["exp"] = json!(exp.floor() as i64);
    }
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = hmac_sha256(objects.signing_key.as_bytes(), signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The service account (namespace, name) a token issued by this cluster acts as, when it is
/// valid at `now` and its service account still exists.
pub(crate) fn verify_token(
    objects: &ClusterObjects,
    token: &str,
    now: f64,
) -> Option<(String, String)> {
    let (signed, signature) = token.rsplit_once('.')?;
    let expected = URL_SAFE_NO_PAD.encode(hmac_sha256(
        objects.signing_key.as_bytes(),
        signed.as_bytes(),
    ));
    if expected != signature {
        return None;
    }
    let (_, payload) = signed.split_once('.')?;
    let claims: Json = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    if claims["exp"].as_f64().is_some_and(|exp| exp < now) {
        return None;
    }
    let sa = &claims["kubernetes.io"];
    let namespace = sa["namespace"].as_str()?;
    let name = sa["serviceaccount"]["name"].as_str()?;
    let stored = objects.get(&key("", "serviceaccounts", namespace, name))?;
    (meta_str(&stored.object, "uid") == sa["serviceaccount"]["uid"].as_str()?)
        .then(|| (namespace.to_string(), name.to_string()))
}

/// Fold `stringData` into `data`; fill a service-account token Secret whose service account
/// exists.
pub(crate) fn admit_secret(
    objects: &ClusterObjects,
    cluster: &ClusterCtx,
    kind: &Kind,
    secret: &mut Json,
) -> Result<(), KubeError> {
    if let Some(Json::Object(strings)) = secret.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        if !secret.get("data").is_some_and(Json::is_object) {
            secret["data"] = json!({});
        }
        for (k, v) in strings {
            let text = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            secret["data"][k] = json!(STANDARD.encode(text));
        }
    }
    if secret.get("type").is_none_or(Json::is_null) {
        secret["type"] = json!("Opaque");
    }
    if secret["type"] != TOKEN_TYPE {
        return Ok(());
    }
    let Some(sa_name) = annotation(secret, SA_NAME).map(str::to_string) else {
        let name = meta_str(secret, "name").to_string();
        return Err(KubeError::invalid(
            kind,
            &name,
            &format!("metadata.annotations[{SA_NAME}]"),
            "Required value",
        ));
    };
    let namespace = meta_str(secret, "namespace").to_string();
    if let Some(sa) = objects.get(&key("", "serviceaccounts", &namespace, &sa_name)) {
        fill_token_secret(objects, cluster, &sa.object.clone(), secret);
    }
    Ok(())
}

/// Put a token for `sa` into a token Secret that has none (or one for another uid).
fn fill_token_secret(objects: &ClusterObjects, cluster: &ClusterCtx, sa: &Json, secret: &mut Json) {
    let uid = meta_str(sa, "uid").to_string();
    let filled =
        secret.pointer("/data/token").is_some() && annotation(secret, SA_UID) == Some(uid.as_str());
    if filled {
        return;
    }
    let token = issue_token(objects, cluster, sa, &[], None);
    if !secret.get("data").is_some_and(Json::is_object) {
        secret["data"] = json!({});
    }
    secret["data"]["token"] = json!(STANDARD.encode(token));
    secret["data"]["namespace"] = json!(STANDARD.encode(meta_str(sa, "namespace")));
    if let Some(ca) = &cluster.ca_pem {
        secret["data"]["ca.crt"] = json!(STANDARD.encode(ca));
    }
    let mut annotations = meta(secret, "annotations").cloned().unwrap_or(json!({}));
    annotations[SA_UID] = json!(uid);
    set_meta(secret, "annotations", annotations);
}

/// A service account was written: fill the token Secrets of its namespace that name it.
pub(crate) fn fill_waiting_secrets(w: &mut Writer<'_>, sa_key: &str) {
    let Some(sa) = w.objects.get(sa_key).map(|s| s.object.clone()) else {
        return;
    };
    let namespace = meta_str(&sa, "namespace").to_string();
    let name = meta_str(&sa, "name").to_string();
    let waiting: Vec<String> = w
        .objects
        .with_prefix(&format!("/secrets/{namespace}/"))
        .filter(|(_, s)| {
            s.object["type"] == TOKEN_TYPE && annotation(&s.object, SA_NAME) == Some(name.as_str())
        })
        .map(|(k, _)| k.clone())
        .collect();
    for secret_key in waiting {
        let Some(mut secret) = w.objects.get(&secret_key).map(|s| s.object.clone()) else {
            continue;
        };
        fill_token_secret(w.objects, w.cluster, &sa, &mut secret);
        let changed = w
            .objects
            .get(&secret_key)
            .is_some_and(|s| s.object != secret);
        if changed {
            w.modify(&secret_key, |s| *s = secret);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
