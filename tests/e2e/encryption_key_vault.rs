//! State encryption with an Azure Key Vault key on the local cloud (`mesh { encryption {
//! key_vault_key_id = ... } }`): the spec creates the key, then encrypts its own state with it.
//! State, backup and journal become envelopes naming the key, with no secret in clear outside
//! the local cloud's own data; a new key version still reads old state; a different, missing
//! or unreachable key is a clear error that names it and changes nothing.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use mesh_emulator::{LocalCloud, LocalCloudOptions, TlsConfig};
use serde_json::Value as Json;

use crate::harness::{assert_points_at, ok_local, run_local, Out, Spec};

const RESOURCES: &str = r#"
resource "azure_resource_group" "rg" {
  name     = "rg-state-keys"
  location = "westeurope"
}

resource "azure_key_vault" "kv" {
  name                = "kv-state-keys"
  resource_group_name = azure_resource_group.rg.name
  location            = azure_resource_group.rg.location
  tenant_id           = "11111111-1111-1111-1111-111111111111"
  sku_name            = "standard"
}

resource "azure_key_vault_key" "state" {
  name         = "state-key"
  key_vault_id = azure_key_vault.kv.id
  key_type     = "RSA"
  key_size     = 2048
  key_opts     = ["wrapKey", "unwrapKey"]
}

resource "azure_key_vault_key" "other" {
  name         = "other-key"
  key_vault_id = azure_key_vault.kv.id
  key_type     = "RSA"
  key_opts     = ["wrapKey", "unwrapKey"]
}

resource "pki_root_ca" "mesh" {
  common_name  = "Mesh Root CA"
  organization = "mesh"
}
"#;

const ENVELOPE: &str = "{\"mesh_encrypted\":1";

fn encrypt_with(spec: &Spec, key_id: &str) {
    spec.write(
        "encryption.hcl",
        &format!("mesh {{\n  encryption {{\n    key_vault_key_id = \"{key_id}\"\n  }}\n}}\n"),
    );
}

/// The middle lines of the root CA's private key, from the state (decrypted by mesh).
fn ca_key_lines(spec: &Spec) -> Vec<String> {
    let pulled = ok_local(spec, &["state", "pull"]);
    let state: Json = serde_json::from_str(&pulled.stdout).expect("state json");
    let pem = state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["address"] == "pki_root_ca.mesh")
        .and_then(|r| r["attributes"]["private_key_pem"].as_str())
        .expect("the root CA's key")
        .to_string();
    let lines: Vec<String> = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(String::from)
        .collect();
    assert!(!lines.is_empty());
    lines
}

/// Every file under `dir` except the local cloud's own data.
fn files_outside_the_cloud(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.ends_with(".mesh/local-cloud") {
            continue;
        }
        if path.is_dir() {
            out.extend(files_outside_the_cloud(&path));
        } else {
            out.push((
                path.display().to_string(),
                fs::read(&path).unwrap_or_default(),
            ));
        }
    }
    out
}

fn assert_nothing_in_clear(spec: &Spec, secrets: &[String]) {
    for (name, bytes) in files_outside_the_cloud(&spec.join(".mesh")) {
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{name} holds a secret in clear"
            );
        }
        assert!(!text.contains("PRIVATE KEY"), "{name} holds a private key");
    }
}

/// The key-encryption key an envelope names.
fn kek_of(envelope: &str) -> String {
    let first = envelope.lines().next().unwrap_or_default();
    let v: Json = serde_json::from_str(first).expect("an envelope");
    v["key"]["kek"].as_str().expect("a kek").to_string()
}

/// Add a version to a key of the spec's local cloud (a rotation made outside mesh), with the
/// cloud served in this process on its own port; the new version's kid.
fn rotate(spec: &Spec, versionless: &str) -> String {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let data = spec.join(".mesh/local-cloud");
    let options = LocalCloudOptions {
        tls: Some(TlsConfig::in_data_dir(&data)),
        data_dir: Some(data),
        ..LocalCloudOptions::default()
    };
    let cloud = runtime
        .block_on(LocalCloud::start(options))
        .expect("the local cloud starts");
    let url = cloud.http_url();
    let authority = url.trim_start_matches("http://").to_string();
    assert!(
        versionless.starts_with(&url),
        "the cloud is back on its port"
    );
    let path = format!(
        "{}/create?api-version=7.4",
        versionless.trim_start_matches(&url)
    );
    let body = r#"{"kty": "RSA", "key_ops": ["wrapKey", "unwrapKey"]}"#;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer local\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(&authority).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    runtime.block_on(cloud.shutdown());
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let json = &reply[reply.find("\r\n\r\n").expect("a body") + 4..];
    let start = json.find('{').expect("json");
    let end = json.rfind('}').expect("json");
    let bundle: Json = serde_json::from_str(&json[start..=end]).expect("a key bundle");
    bundle["key"]["kid"].as_str().expect("kid").to_string()
}

fn assert_refused(out: &Out, names: &[&str]) {
    assert_ne!(out.code, 0, "{}", out.dump());
    for name in names {
        out.stderr_has(name);
    }
    assert!(!out.stdout.contains("Plan:"), "no plan\n{}", out.dump());
}

#[test]
fn encryption_key_vault_state_round_trip_rotation_and_refusals() {
    let spec = Spec::with_main(RESOURCES);
    ok_local(&spec, &["apply", "-auto-approve"]);
    let key = spec.attr("azure_key_vault_key.state", "versionless_id");
    let first_version = spec.attr("azure_key_vault_key.state", "id");
    let other = spec.attr("azure_key_vault_key.other", "versionless_id");
    assert!(
        key.contains("/keyvault/kv-state-keys/keys/state-key"),
        "{key}"
    );
    let secret = ca_key_lines(&spec);

    // Turn encryption on: state and backup become envelopes naming the key's version.
    encrypt_with(&spec, &key);
    ok_local(&spec, &["state", "rekey"]).stdout_has("backup(s) rewritten");
    ok_local(&spec, &["plan"]).stdout_has("No changes.");
    let state = spec.read(".mesh/state.json");
    assert!(state.starts_with(ENVELOPE), "{state}");
    assert_eq!(kek_of(&state), first_version);
    let backup = spec.read(".mesh/state.json.backup");
    assert!(backup.starts_with(ENVELOPE));
    assert!(kek_of(&backup).starts_with(&format!("{key}/")));
    assert_nothing_in_clear(&spec, &secret);

    // A new key version: the old state still reads; new writes name the new version.
    let second_version = rotate(&spec, &key);
    assert_ne!(second_version, first_version);
    // (The refresh shows the rotation as a change made outside mesh.)
    ok_local(&spec, &["plan"])
        .stdout_has("azure_key_vault_key.state has changed")
        .stdout_has(&second_version);
    spec.write(
        "more.hcl",
        "resource \"test_resource\" \"x\" {\n  name = \"x\"\n}\n",
    );
    ok_local(&spec, &["apply", "-auto-approve"]);
    assert_eq!(kek_of(&spec.read(".mesh/state.json")), second_version);
    assert_eq!(ca_key_lines(&spec), secret);

    // Another key of the same vault, a missing key, an unreachable vault: clear errors that
    // name the keys, and the state is untouched.
    let before = spec.state_bytes();
    encrypt_with(&spec, &other);
    let wrong = run_local(&spec, &["plan"]);
    assert_refused(&wrong, &["cannot decrypt", &second_version, &other]);
    let missing = key.replace("/keys/state-key", "/keys/no-such-key");
    encrypt_with(&spec, &missing);
    let out = run_local(&spec, &["apply", "-auto-approve"]);
    assert_refused(&out, &[&missing, "does not exist"]);
    let unreachable = "http://127.0.0.1:9/keyvault/kv-state-keys/keys/state-key";
    encrypt_with(&spec, unreachable);
    let out = run_local(&spec, &["apply", "-auto-approve"]);
    assert_refused(&out, &[unreachable]);
    encrypt_with(&spec, "https://kv.vault.azure.net/secrets/state-key");
    let out = run_local(&spec, &["plan"]);
    assert_refused(&out, &["key_vault_key_id", "does not name a key"]);
    assert_points_at(&out, "encryption.hcl", 3);
    assert_eq!(spec.state_bytes(), before, "nothing was written");
    assert!(!spec.locked());

    // A killed apply leaves only an encrypted journal naming the key.
    encrypt_with(&spec, &key);
    spec.write(
        "more.hcl",
        "resource \"test_resource\" \"x\" {\n  name = \"x\"\n}\n\n\
         resource \"test_resource\" \"slow\" {\n  name            = \"slow\"\n  \
         create_delay_ms = 60000\n  depends_on      = [test_resource.y]\n}\n\n\
         resource \"test_resource\" \"y\" {\n  name = \"y\"\n}\n",
    );
    let mut apply = spec.spawn(
        "apply",
        &["apply", "-auto-approve"],
        &[("MESH_LOCAL_TIME_FACTOR", "0.001")],
    );
    apply.wait_for_stdout("test_resource.slow: Creating...");
    apply.signal("KILL");
    let _ = apply.finish();
    let journal = spec.read(".mesh/state.json.journal");
    assert!(journal.lines().count() >= 1, "{journal}");
    for line in journal.lines() {
        assert!(line.starts_with(ENVELOPE), "{line}");
        assert_eq!(kek_of(line), second_version);
    }
    assert_nothing_in_clear(&spec, &secret);
}
