//! HTTPS: a CA generated in the data directory and reused, a server certificate that clients
//! trusting only that CA accept, plain HTTP on the same port, and ARM's metadata endpoint.

mod common;

use common::{cloud_with, rg_id, Client};
use mesh_emulator::{EmulatorError, LocalCloud, LocalCloudOptions, TlsConfig};
use serde_json::json;

fn options(data_dir: &std::path::Path, tls: bool) -> LocalCloudOptions {
    LocalCloudOptions {
        data_dir: Some(data_dir.to_path_buf()),
        time_factor: 0.0,
        tls: tls.then(|| TlsConfig::in_data_dir(data_dir)),
        ..LocalCloudOptions::default()
    }
}

/// A client that trusts only the CA in `ca_pem`.
fn trusting(ca_pem: &[u8]) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem).expect("a PEM certificate");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .expect("a client")
}

fn client(base: &str, http: reqwest::Client) -> Client {
    Client {
        base: base.to_string(),
        http,
        token: Some("test".into()),
    }
}

fn vault_id() -> String {
    format!("{}/providers/Microsoft.KeyVault/vaults/kv", rg_id("rg"))
}

#[tokio::test]
async fn https_with_a_generated_ca_that_is_reused_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud_with(options(dir.path(), true)).await;
    let url = cloud.url();
    let port = url.rsplit(':').next().unwrap().to_string();
    assert_eq!(url, format!("https://127.0.0.1:{port}"));
    assert_eq!(cloud.http_url(), format!("http://127.0.0.1:{port}"));
    let ca_file = dir.path().join("tls").join("ca.pem");
    assert_eq!(cloud.ca_file(), Some(ca_file.as_path()));
    let ca_pem = std::fs::read(&ca_file).unwrap();
    assert!(String::from_utf8_lossy(&ca_pem).starts_with("-----BEGIN CERTIFICATE-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.path().join("tls").join("ca-key.pem");
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A client trusting only the generated CA creates resources over HTTPS; the operation
    // URLs and the vault's URI it gets back are HTTPS too.
    let c = client(&url, trusting(&ca_pem));
    let rg = c
        .create(&rg_id("rg"), json!({"location": "westeurope"}))
        .await;
    assert_eq!(rg.status, 200);
    assert_eq!(rg.state(), "Succeeded");
    let put = c
        .arm(
            "PUT",
            &format!("{}/providers/Test.Widgets/widgets/w", rg_id("rg")),
            Some(json!({"properties": {"color": "red"}})),
        )
        .await;
    assert!(put
        .header("azure-asyncoperation")
        .unwrap()
        .starts_with(&format!("{url}/subscriptions/")));
    let vault = c
        .create(&vault_id(), json!({"location": "westeurope"}))
        .await;
    assert_eq!(
        vault.body["properties"]["vaultUri"],
        format!("{url}/keyvault/kv/")
    );

    // The certificate names localhost too.
    let local = client(&format!("https://localhost:{port}"), trusting(&ca_pem));
    assert_eq!(local.arm("GET", &rg_id("rg"), None).await.status, 200);

    // ARM's metadata endpoint points clients at this server.
    let meta = c
        .send("GET", "/metadata/endpoints?api-version=2022-09-01", None)
        .await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.body["resourceManager"], format!("{url}/"));
    assert!(meta.body["authentication"]["audiences"][0].is_string());

    // A client without the CA refuses the server.
    let untrusting = reqwest::Client::new();
    let refused = untrusting
        .get(format!("{url}/metadata/endpoints?api-version=2022-09-01"))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");

    // Plain HTTP on the same port sees the same cloud under http:// URLs.
    let plain = client(&cloud.http_url(), reqwest::Client::new());
    let v = plain.arm("GET", &vault_id(), None).await;
    assert_eq!(v.status, 200);
    assert_eq!(
        v.body["properties"]["vaultUri"],
        format!("http://127.0.0.1:{port}/keyvault/kv/")
    );
    let meta = plain
        .send("GET", "/metadata/endpoints?api-version=2019-05-01", None)
        .await;
    assert_eq!(
        meta.body[0]["resourceManager"],
        format!("http://127.0.0.1:{port}/")
    );
    cloud.shutdown().await;

    // Restarted, the cloud keeps its CA: the same file, and a client trusting the CA it
    // had before still connects (the new server certificate is issued by the same key).
    let cloud = cloud_with(options(dir.path(), true)).await;
    assert_eq!(std::fs::read(&ca_file).unwrap(), ca_pem);
    let c = client(&cloud.url(), trusting(&ca_pem));
    assert_eq!(c.arm("GET", &rg_id("rg"), None).await.status, 200);
    let vault = c.arm("GET", &vault_id(), None).await;
    assert_eq!(
        vault.body["properties"]["vaultUri"],
        format!("{}/keyvault/kv/", cloud.url())
    );
    cloud.shutdown().await;

    // Another CA is another trust: the first CA's client refuses a cloud with its own CA.
    let other = tempfile::tempdir().unwrap();
    let stranger = cloud_with(options(other.path(), true)).await;
    let other_pem = std::fs::read(other.path().join("tls").join("ca.pem")).unwrap();
    assert_ne!(other_pem, ca_pem);
    let refused = trusting(&ca_pem)
        .get(format!(
            "{}/metadata/endpoints?api-version=2022-09-01",
            stranger.url()
        ))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    stranger.shutdown().await;

    // Served over plain HTTP again, the stored URLs follow.
    let cloud = cloud_with(options(dir.path(), false)).await;
    assert!(cloud.url().starts_with("http://"));
    assert_eq!(cloud.ca_file(), None);
    let c = client(&cloud.url(), reqwest::Client::new());
    let vault = c.arm("GET", &vault_id(), None).await;
    assert_eq!(
        vault.body["properties"]["vaultUri"],
        format!("{}/keyvault/kv/", cloud.url())
    );
    cloud.shutdown().await;
}

#[tokio::test]
async fn a_ca_whose_files_do_not_belong_together_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    for d in [dir.path(), other.path()] {
        let cloud = LocalCloud::start(options(d, true)).await.unwrap();
        cloud.shutdown().await;
    }
    // The first directory's certificate with the second's key.
    std::fs::copy(
        other.path().join("tls").join("ca-key.pem"),
        dir.path().join("tls").join("ca-key.pem"),
    )
    .unwrap();
    let err = match LocalCloud::start(options(dir.path(), true)).await {
        Ok(_) => panic!("a CA with a foreign key was used"),
        Err(e) => e,
    };
    assert!(matches!(err, EmulatorError::Tls { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("cannot be used"), "{message}");
    assert!(!message.contains("PRIVATE KEY"), "{message}");

    // A certificate without its key is not replaced silently (clients may trust it).
    std::fs::remove_file(dir.path().join("tls").join("ca-key.pem")).unwrap();
    let err = match LocalCloud::start(options(dir.path(), true)).await {
        Ok(_) => panic!("a CA without its key was used"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("has no key"), "{err}");
}

#[tokio::test]
async fn metadata_answers_per_api_version() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = cloud_with(options(dir.path(), false)).await;
    let c = client(&cloud.url(), reqwest::Client::new());
    let r = c.send("GET", "/metadata/endpoints", None).await;
    assert_eq!((r.status, r.code()), (400, "MissingApiVersionParameter"));
    let r = c
        .send("GET", "/metadata/endpoints?api-version=2015-01-01", None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["galleryEndpoint"], format!("{}/", cloud.url()));
    // `az cloud register --endpoint-resource-manager URL/` appends the path to the slash.
    let r = c
        .send("GET", "//metadata/endpoints?api-version=2022-09-01", None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["resourceManager"], format!("{}/", cloud.url()));
    cloud.shutdown().await;
}
