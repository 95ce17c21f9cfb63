//! The Key Vault data plane: bearer challenge, secrets, certificate import.

mod common;

use base64::Engine;
use common::*;
use serde_json::json;

const CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBfzCCASWgAwIBAgIUMyEsSvT2kRJHbFbL2Ru/T2exW8IwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbWVzaC10ZXN0MCAXDTI2MTEyMjA2MDk1N1oYDzIxMjYxMDI5
MDYwOTU3WjAUMRIwEAYDVQQDDAltZXNoLXRlc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASCmMHqs1lXJ8v/XjkMhTs8l9To9ZXXTsC3QWWBu6dOOw8rzbG6OP4f
6dA+DwNFkVLqkIomBbYuR10891TrA8lko1MwUTAdBgNVHQ4EFgQUh51gLh4WGg4d
tx1ZhM4pKsIbrYkwHwYDVR0jBBgwFoAUh51gLh4WGg4dtx1ZhM4pKsIbrYkwDwYD
VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiBgM1lR/sVOFwMTe8WqJqqj
/J1DiGWX+muCSqiIEgFhXwIhAMBW7rWW+EO8yyUB4q2aguER0yd8gnR3SHqUhc6E
DBrr
-----END CERTIFICATE-----
";
/// `openssl x509 -fingerprint -sha1` of CERT, base64url.
const CERT_X5T: &str = "q_hgGDwnjeIc8zBJ1FYsqQ1_UUk";
/// Not a real key: the local cloud only checks that a key block is there.
const KEY: &str =
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
const KV: &str = "api-version=7.5";

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
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn bearer_challenge_and_secret_round_trip() {
    let cloud = cloud(0.0).await;
    let c = Client::new(&cloud);
    let uri = vault(&c, "kv1").await;
    assert_eq!(uri, format!("{}/keyvault/kv1/", cloud.url()));

    // Without a token: 401 and the challenge.
    let anonymous = Client {
        token: None,
        ..Client::new(&cloud)
    };
    let r = anonymous
        .send("GET", &format!("{uri}secrets/s1?{KV}"), None)
        .await;
    assert_eq!(r.status, 401);
    let challenge = r.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("Bearer authorization=\"https://login.microsoftonline.com/"));
    assert!(challenge.contains("resource=\"https://vault.azure.net\""));

    let r = c.send("GET", &format!("{uri}secrets/s1?{KV}"), None).await;
    assert_eq!((r.status, r.code()), (404, "SecretNotFound"));
    let set = c
        .send(
            "PUT",
            &format!("{uri}secrets/s1?{KV}"),
            Some(json!({"value": "hunter2", "contentType": "text/plain"})),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    let id = set.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with(&format!("{uri}secrets/s1/")));
    assert_eq!(set.body["attributes"]["enabled"], true);
    let got = c.send("GET", &format!("{uri}secrets/S1?{KV}"), None).await;
    assert_eq!(
        (got.body["value"].clone(), got.body["id"].clone()),
        (json!("hunter2"), json!(id))
    );
    assert_eq!(got.body["contentType"], "text/plain");
    // A new version; the old one stays readable by its ID.
    c.send(
        "PUT",
        &format!("{uri}secrets/s1?{KV}"),
        Some(json!({"value": "v2"})),
    )
    .await;
    assert_eq!(
        c.send("GET", &format!("{uri}secrets/s1?{KV}"), None)
            .await
            .body["value"],
        "v2"
    );
    assert_eq!(
        c.send("GET", &format!("{id}?{KV}"), None).await.body["value"],
        "hunter2"
    );
    let versions = c
        .send("GET", &format!("{uri}secrets/s1/versions?{KV}"), None)
        .await;
    assert_eq!(versions.body["value"].as_array().unwrap().len(), 2);
    assert!(versions.body["value"][0].get("value").is_none());
    // Delete.
    let del = c
        .send("DELETE", &format!("{uri}secrets/s1?{KV}"), None)
        .await;
    assert_eq!(del.status, 200);
    assert!(
        del.body.get("value").is_none(),
        "a deleted secret bundle has no value"
    );
    assert_eq!(
        c.send("GET", &format!("{uri}secrets/s1?{KV}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        c.send("DELETE", &format!("{uri}secrets/s1?{KV}"), None)
            .await
            .code(),
        "SecretNotFound"
    );
    // Bad requests.
    let r = c
        .send(
            "PUT",
            &format!("{uri}secrets/bad_name?{KV}"),
            Some(json!({"value": "x"})),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c.send("GET", &format!("{uri}secrets/s1"), None).await;
    assert_eq!(r.status, 400, "api-version is required");
    let r = c
        .send(
            "GET",
            &format!("{}/keyvault/nokv/secrets/s1?{KV}", cloud.url()),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "VaultNotFound"));
    cloud.shutdown().await;
}

#[tokio::test]
async fn certificate_import_from_pem_and_pkcs12() {
    let cloud = cloud(0.0).await;
    let c = Client::new(&cloud);
    let uri = vault(&c, "kv2").await;
    let r = c
        .send("GET", &format!("{uri}certificates/tls?{KV}"), None)
        .await;
    assert_eq!((r.status, r.code()), (404, "CertificateNotFound"));

    let pem = format!("{CERT}{KEY}");
    let imported = c
        .send(
            "POST",
            &format!("{uri}certificates/tls/import?{KV}"),
            Some(json!({"value": pem})),
        )
        .await;
    assert_eq!(imported.status, 200, "{:?}", imported.body);
    let b = &imported.body;
    let id = b["id"].as_str().unwrap();
    let version = id.rsplit('/').next().unwrap();
    assert_eq!(id, format!("{uri}certificates/tls/{version}"));
    assert_eq!(b["kid"], format!("{uri}keys/tls/{version}"));
    assert_eq!(b["sid"], format!("{uri}secrets/tls/{version}"));
    assert_eq!(b["x5t"], CERT_X5T);
    let der: String = CERT.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(b["cer"], der);
    assert_eq!(
        b["policy"]["secret_props"]["contentType"],
        "application/x-pem-file"
    );
    let got = c
        .send("GET", &format!("{uri}certificates/tls?{KV}"), None)
        .await;
    assert_eq!(got.body["x5t"], CERT_X5T);
    // The certificate's secret (what Application Gateway reads) holds the PEM.
    let secret = c.send("GET", &format!("{uri}secrets/tls?{KV}"), None).await;
    assert_eq!(secret.body["value"], pem);
    assert_eq!(secret.body["managed"], true);
    assert_eq!(
        c.send("DELETE", &format!("{uri}secrets/tls?{KV}"), None)
            .await
            .status,
        403
    );

    // A PEM without a key, and junk, are refused.
    let r = c
        .send(
            "POST",
            &format!("{uri}certificates/nokey/import?{KV}"),
            Some(json!({"value": CERT})),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BadParameter"));
    let r = c
        .send(
            "POST",
            &format!("{uri}certificates/junk/import?{KV}"),
            Some(json!({"value": "not a certificate"})),
        )
        .await;
    assert_eq!(r.status, 400);
    // PKCS#12 (base64): stored as given.
    let pfx = base64::engine::general_purpose::STANDARD.encode([0x30, 0x82, 0x01, 0x00, 1, 2, 3]);
    let r = c
        .send(
            "POST",
            &format!("{uri}certificates/pfx/import?{KV}"),
            Some(json!({"value": pfx, "pwd": ""})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["policy"]["secret_props"]["contentType"],
        "application/x-pkcs12"
    );
    assert_eq!(r.body["cer"], pfx);

    let del = c
        .send("DELETE", &format!("{uri}certificates/tls?{KV}"), None)
        .await;
    assert_eq!(del.status, 200);
    assert_eq!(
        c.send("GET", &format!("{uri}certificates/tls?{KV}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        c.send("GET", &format!("{uri}secrets/tls?{KV}"), None)
            .await
            .status,
        404
    );

    // Deleting the vault drops its contents.
    let vault_id = format!("{}/providers/Microsoft.KeyVault/vaults/kv2", rg_id("rg"));
    let d = c.arm("DELETE", &vault_id, None).await;
    assert_eq!(d.status, 202);
    c.send("GET", d.header("location").unwrap(), None).await;
    let r = c
        .send("GET", &format!("{uri}certificates/pfx?{KV}"), None)
        .await;
    assert_eq!((r.status, r.code()), (404, "VaultNotFound"));
    vault(&c, "kv2").await;
    let r = c
        .send("GET", &format!("{uri}certificates/pfx?{KV}"), None)
        .await;
    assert_eq!(r.code(), "CertificateNotFound");
    cloud.shutdown().await;
}
