//! The Key Vault keys data plane over HTTP: create, read, list, update, delete, and wrapping
//! with RSA-OAEP; private key material stays in the cloud.

mod common;

use aws_lc_rs::rsa::{
    OaepPublicEncryptingKey, PublicEncryptingKey, PublicKeyComponents, OAEP_SHA256_MGF1SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use mesh_emulator::LocalCloudOptions;
use serde_json::json;

const KV: &str = "api-version=7.4";

async fn vault(c: &Client, name: &str) -> String {
    c.create(&rg_id("rg"), json!({"location": "westeurope"}))
        .await;
    let v = c
        .create(
            &format!("{}/providers/Microsoft.KeyVault/vaults/{name}", rg_id("rg")),
            json!({"location": "westeurope", "properties": {}}),
        )
        .await;
    v.body["properties"]["vaultUri"]
        .as_str()
        .expect("a vault URI")
        .to_string()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(value: &serde_json::Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(value.as_str().expect("a base64url string"))
        .expect("base64url")
}

/// No reply may carry a private component of a JsonWebKey.
fn assert_public_only(body: &serde_json::Value) {
    let text = body.to_string();
    for field in [
        "\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"dq\"", "\"qi\"", "private",
    ] {
        assert!(!text.contains(field), "{field} in {text}");
    }
}

#[tokio::test]
async fn keys_are_created_versioned_listed_updated_and_deleted() {
    let cloud = cloud(0.0).await;
    let c = Client::new(&cloud);
    let uri = vault(&c, "kv1").await;
    let r = c.send("GET", &format!("{uri}keys/state?{KV}"), None).await;
    assert_eq!((r.status, r.code()), (404, "KeyNotFound"));

    let created = c
        .send(
            "POST",
            &format!("{uri}keys/state/create?{KV}"),
            Some(json!({"kty": "RSA", "key_size": 3072, "key_ops": ["wrapKey", "unwrapKey"], "tags": {"env": "test"}})),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_public_only(&created.body);
    let key = &created.body["key"];
    let kid = key["kid"].as_str().expect("kid").to_string();
    let version = kid.rsplit('/').next().expect("version").to_string();
    assert_eq!(kid, format!("{uri}keys/state/{version}"));
    assert_eq!(version.len(), 32);
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["key_ops"], json!(["wrapKey", "unwrapKey"]));
    assert_eq!(unb64(&key["n"]).len(), 384, "a 3072-bit modulus");
    assert_eq!(unb64(&key["e"]), vec![1, 0, 1]);
    assert_eq!(created.body["attributes"]["enabled"], true);
    assert_eq!(created.body["tags"], json!({"env": "test"}));

    // Versionless and versioned reads; a second create is a new version.
    let got = c.send("GET", &format!("{uri}keys/STATE?{KV}"), None).await;
    assert_eq!(got.body["key"]["kid"], kid.as_str());
    let second = c
        .send(
            "POST",
            &format!("{uri}keys/state/create?{KV}"),
            Some(json!({"kty": "RSA-HSM"})),
        )
        .await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    assert_eq!(second.body["key"]["kty"], "RSA-HSM");
    assert_eq!(
        unb64(&second.body["key"]["n"]).len(),
        256,
        "2048 by default"
    );
    assert_eq!(
        second.body["key"]["key_ops"].as_array().map(Vec::len),
        Some(6),
        "every RSA operation by default"
    );
    let latest = c.send("GET", &format!("{uri}keys/state/?{KV}"), None).await;
    assert_eq!(latest.body["key"]["kid"], second.body["key"]["kid"]);
    let old = c.send("GET", &format!("{kid}?{KV}"), None).await;
    assert_eq!(old.body["key"]["n"], key["n"]);
    let versions = c
        .send("GET", &format!("{uri}keys/state/versions?{KV}"), None)
        .await;
    let versions = versions.body["value"].as_array().expect("versions").clone();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["kid"], kid.as_str());
    let list = c.send("GET", &format!("{uri}keys?{KV}"), None).await;
    assert_eq!(list.body["value"][0]["kid"], format!("{uri}keys/state"));
    assert_public_only(&list.body);

    // Update one version's operations and tags in place.
    let patched = c
        .send(
            "PATCH",
            &format!("{kid}?{KV}"),
            Some(json!({"key_ops": ["unwrapKey"], "tags": {"env": "prod"}})),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["key"]["kid"], kid.as_str());
    assert_eq!(patched.body["key"]["key_ops"], json!(["unwrapKey"]));
    assert_eq!(patched.body["tags"], json!({"env": "prod"}));
    assert_eq!(patched.body["key"]["n"], key["n"], "same key material");

    // Bad requests.
    for (body, what) in [
        (json!({"kty": "EC"}), "EC"),
        (json!({}), "kty"),
        (json!({"kty": "RSA", "key_size": 1024}), "1024"),
        (json!({"kty": "RSA", "key_ops": ["fly"]}), "fly"),
    ] {
        let r = c
            .send("POST", &format!("{uri}keys/other/create?{KV}"), Some(body))
            .await;
        assert_eq!((r.status, r.code()), (400, "BadParameter"), "{what}");
        assert!(r.body.to_string().contains(what), "{:?}", r.body);
    }
    let r = c
        .send(
            "POST",
            &format!("{uri}keys/bad_name/create?{KV}"),
            Some(json!({"kty": "RSA"})),
        )
        .await;
    assert_eq!(r.status, 400);

    // Delete.
    let deleted = c
        .send("DELETE", &format!("{uri}keys/state?{KV}"), None)
        .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(
        deleted.body["recoveryId"],
        format!("{uri}deletedkeys/state")
    );
    assert_public_only(&deleted.body);
    let r = c.send("GET", &format!("{kid}?{KV}"), None).await;
    assert_eq!((r.status, r.code()), (404, "KeyNotFound"));
    let r = c
        .send("DELETE", &format!("{uri}keys/state?{KV}"), None)
        .await;
    assert_eq!(r.code(), "KeyNotFound");
    cloud.shutdown().await;
}

#[tokio::test]
async fn wrap_and_unwrap_with_rsa_oaep_and_refusals() {
    let cloud = cloud(0.0).await;
    let c = Client::new(&cloud);
    let uri = vault(&c, "kv2").await;
    let created = c
        .send(
            "POST",
            &format!("{uri}keys/kek/create?{KV}"),
            Some(json!({"kty": "RSA", "key_size": 2048})),
        )
        .await;
    let kid = created.body["key"]["kid"]
        .as_str()
        .expect("kid")
        .to_string();
    let data_key = [42u8; 32];

    for alg in ["RSA-OAEP", "RSA-OAEP-256"] {
        // Versionless: the current version wraps and says which it is.
        let wrapped = c
            .send(
                "POST",
                &format!("{uri}keys/kek/wrapkey?{KV}"),
                Some(json!({"alg": alg, "value": b64(&data_key)})),
            )
            .await;
        assert_eq!(wrapped.status, 200, "{:?}", wrapped.body);
        assert_eq!(wrapped.body["kid"], kid.as_str());
        assert_eq!(unb64(&wrapped.body["value"]).len(), 256);
        let unwrapped = c
            .send(
                "POST",
                &format!("{kid}/unwrapkey?{KV}"),
                Some(json!({"alg": alg, "value": wrapped.body["value"]})),
            )
            .await;
        assert_eq!(unwrapped.status, 200, "{:?}", unwrapped.body);
        assert_eq!(unb64(&unwrapped.body["value"]), data_key);
    }

    // The JsonWebKey's n and e are the real public key: what a client wraps with them locally
    // the vault unwraps.
    let n = unb64(&created.body["key"]["n"]);
    let e = unb64(&created.body["key"]["e"]);
    let public: PublicEncryptingKey = PublicKeyComponents {
        n: &n[..],
        e: &e[..],
    }
    .try_into()
    .expect("a valid public key");
    let public = OaepPublicEncryptingKey::new(public).expect("OAEP");
    let mut local = vec![0u8; public.ciphertext_size()];
    let local = public
        .encrypt(&OAEP_SHA256_MGF1SHA256, &data_key, &mut local, None)
        .expect("encrypt")
        .to_vec();
    let unwrapped = c
        .send(
            "POST",
            &format!("{kid}/unwrapkey?{KV}"),
            Some(json!({"alg": "RSA-OAEP-256", "value": b64(&local)})),
        )
        .await;
    assert_eq!(unb64(&unwrapped.body["value"]), data_key);

    // A value wrapped with another algorithm, or garbage, does not unwrap.
    let r = c
        .send(
            "POST",
            &format!("{kid}/unwrapkey?{KV}"),
            Some(json!({"alg": "RSA-OAEP", "value": b64(&local)})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BadParameter"));
    let r = c
        .send(
            "POST",
            &format!("{kid}/wrapkey?{KV}"),
            Some(json!({"alg": "RSA1_5", "value": b64(&data_key)})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BadParameter"));
    let r = c
        .send(
            "POST",
            &format!("{kid}/wrapkey?{KV}"),
            Some(json!({"alg": "RSA-OAEP", "value": "***"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BadParameter"));
    let r = c
        .send(
            "POST",
            &format!("{uri}keys/nokey/wrapkey?{KV}"),
            Some(json!({"alg": "RSA-OAEP", "value": b64(&data_key)})),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "KeyNotFound"));

    // key_ops without wrapKey, and a disabled key, are refused.
    let wrap = json!({"alg": "RSA-OAEP-256", "value": b64(&data_key)});
    c.send(
        "PATCH",
        &format!("{kid}?{KV}"),
        Some(json!({"key_ops": ["sign", "verify"]})),
    )
    .await;
    let r = c
        .send("POST", &format!("{kid}/wrapkey?{KV}"), Some(wrap.clone()))
        .await;
    assert_eq!((r.status, r.code()), (403, "Forbidden"));
    assert!(r.body.to_string().contains("wrapKey"), "{:?}", r.body);
    c.send(
        "PATCH",
        &format!("{kid}?{KV}"),
        Some(json!({"key_ops": ["wrapKey"], "attributes": {"enabled": false}})),
    )
    .await;
    let r = c
        .send("POST", &format!("{kid}/wrapkey?{KV}"), Some(wrap))
        .await;
    assert_eq!((r.status, r.code()), (403, "Forbidden"));
    assert!(r.body.to_string().contains("disabled"), "{:?}", r.body);
    cloud.shutdown().await;
}

#[tokio::test]
async fn keys_persist_with_their_private_half_only_in_the_data_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = || LocalCloudOptions {
        data_dir: Some(dir.path().to_path_buf()),
        ..LocalCloudOptions::default()
    };
    let first = cloud_with(options()).await;
    let c = Client::new(&first);
    let uri = vault(&c, "kv3").await;
    let created = c
        .send(
            "POST",
            &format!("{uri}keys/kek/create?{KV}"),
            Some(json!({"kty": "RSA"})),
        )
        .await;
    let kid = created.body["key"]["kid"]
        .as_str()
        .expect("kid")
        .to_string();
    let wrapped = c
        .send(
            "POST",
            &format!("{kid}/wrapkey?{KV}"),
            Some(json!({"alg": "RSA-OAEP-256", "value": b64(b"a data key")})),
        )
        .await;
    first.shutdown().await;
    let data = std::fs::read_to_string(dir.path().join("cloud.json")).expect("data file");
    assert!(data.contains("private_pkcs8"), "the cloud keeps the key");

    let second = cloud_with(options()).await;
    let c = Client::new(&second);
    // The test cloud takes a new port each time: address the same key version on it.
    let version = kid.rsplit('/').next().expect("version");
    let kid = format!("{}/keyvault/kv3/keys/kek/{version}", second.url());
    let unwrapped = c
        .send(
            "POST",
            &format!("{kid}/unwrapkey?{KV}"),
            Some(json!({"alg": "RSA-OAEP-256", "value": wrapped.body["value"]})),
        )
        .await;
    assert_eq!(unwrapped.status, 200, "{:?}", unwrapped.body);
    assert_eq!(unb64(&unwrapped.body["value"]), b"a data key");
    let summary = mesh_emulator::inspect_data(dir.path())
        .expect("inspect")
        .expect("data");
    assert_eq!(summary.vault_objects, 1);
    second.shutdown().await;
}
