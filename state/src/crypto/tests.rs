use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::document::tests::instance;
use crate::journal::{JournalBatch, JournalEntry};
use crate::{Backend, LocalBackend, StateDocument};

/// Cheap KDF costs: the format records them, so tests need not pay the defaults.
const FAST: KdfParams = KdfParams {
    m_kib: 64,
    t: 1,
    p: 1,
};

const SECRET: &str = "BEGIN-PRIVATE-KEY-do-not-leak";

fn passphrase(text: &str) -> KeySource {
    KeySource::Passphrase {
        passphrase: text.to_string(),
        params: FAST,
    }
}

fn encryption(sources: Vec<KeySource>) -> Arc<Encryption> {
    Arc::new(Encryption::new(sources, "the passphrase in MESH_STATE_PASSPHRASE").expect("keys"))
}

fn secret_doc() -> StateDocument {
    let mut doc = StateDocument::new();
    doc.serial = 1;
    let mut ca = instance("pki_root_ca.mesh");
    ca.attributes = serde_json::json!({ "private_key_pem": SECRET });
    doc.upsert(ca);
    doc
}

#[test]
fn sealed_data_opens_with_the_key_and_hides_the_plaintext() {
    let e = encryption(vec![passphrase("correct horse battery")]);
    let a = e.seal(SECRET.as_bytes()).expect("seal");
    let b = e.seal(SECRET.as_bytes()).expect("seal");
    assert_ne!(a, b, "a fresh nonce every time");
    let text = String::from_utf8(a.clone()).expect("utf8");
    assert!(
        text.starts_with("{\"mesh_encrypted\":1,\"cipher\":\"AES-256-GCM\""),
        "{text}"
    );
    assert!(!text.contains(SECRET) && !text.contains('\n'));
    assert_eq!(e.open(&a, Path::new("f")).expect("open"), SECRET.as_bytes());
    // Another process with the same passphrase derives the same key from the recorded salt.
    let other = encryption(vec![passphrase("correct horse battery")]);
    assert_eq!(
        other.open(&b, Path::new("f")).expect("open"),
        SECRET.as_bytes()
    );
}

#[test]
fn a_wrong_key_or_tampering_is_an_error_never_empty_data() {
    let e = encryption(vec![passphrase("correct horse battery")]);
    let sealed = e.seal(b"{\"serial\": 1}").expect("seal");
    let wrong = encryption(vec![passphrase("incorrect horse")]);
    let err = wrong
        .open(&sealed, Path::new("/x/state.json"))
        .expect_err("wrong key");
    let message = err.to_string();
    assert!(
        message.starts_with("/x/state.json: cannot decrypt: "),
        "{message}"
    );
    assert!(
        message.contains("MESH_STATE_PASSPHRASE does not decrypt it"),
        "{message}"
    );
    assert!(!message.contains("incorrect horse"), "{message}");

    let mut envelope: serde_json::Value = serde_json::from_slice(&sealed).expect("json");
    let data = envelope["data"].as_str().expect("data").to_string();
    let flipped = if data.starts_with('A') { "B" } else { "A" };
    envelope["data"] = format!("{flipped}{}", &data[1..]).into();
    let tampered = serde_json::to_vec(&envelope).expect("json");
    assert!(e.open(&tampered, Path::new("f")).is_err());

    // The key description is authenticated too.
    let mut envelope: serde_json::Value = serde_json::from_slice(&sealed).expect("json");
    envelope["key"]["t"] = 2.into();
    let edited = serde_json::to_vec(&envelope).expect("json");
    assert!(e.open(&edited, Path::new("f")).is_err());

    let err = e
        .open(&sealed[..sealed.len() / 2], Path::new("f"))
        .expect_err("truncated");
    assert!(err.to_string().contains("damaged"), "{err}");
}

#[test]
fn plain_files_pass_and_encrypted_ones_need_a_key() {
    let e = encryption(vec![passphrase("correct horse battery")]);
    let plain = b"{\"format_version\": 1}".to_vec();
    assert_eq!(
        open_file(Some(&e), &plain, Path::new("f")).expect("plain"),
        plain
    );
    let sealed = seal_file(Some(&e), plain.clone()).expect("seal");
    assert!(sealed.ends_with(b"\n"));
    let err = open_file(None, &sealed, Path::new("/s.json")).expect_err("no key");
    assert!(matches!(err, StateError::Encrypted { .. }), "{err}");
    assert!(err.to_string().contains("is encrypted"), "{err}");
    assert_eq!(seal_file(None, plain.clone()).expect("plain"), plain);
}

#[test]
fn rotation_reads_with_the_old_key_and_writes_with_the_new() {
    let old = encryption(vec![passphrase("the old passphrase")]);
    let sealed = old.seal(b"data").expect("seal");
    let rotated = encryption(vec![
        passphrase("the new passphrase"),
        passphrase("the old passphrase"),
    ]);
    assert_eq!(
        rotated.open(&sealed, Path::new("f")).expect("old key"),
        b"data"
    );
    let resealed = rotated.seal(b"data").expect("seal");
    let new_only = encryption(vec![passphrase("the new passphrase")]);
    assert_eq!(
        new_only.open(&resealed, Path::new("f")).expect("new key"),
        b"data"
    );
    assert!(
        old.open(&resealed, Path::new("f")).is_err(),
        "the old key no longer opens it"
    );

    // A renewed write key means a new salt.
    let salt = |bytes: &[u8]| {
        let v: serde_json::Value = serde_json::from_slice(bytes).expect("json");
        v["key"]["salt"].as_str().expect("salt").to_string()
    };
    let before = new_only.seal(b"x").expect("seal");
    new_only.renew_write_key();
    let after = new_only.seal(b"x").expect("seal");
    assert_ne!(salt(&before), salt(&after));
}

#[test]
fn short_passphrases_are_refused() {
    let err = Encryption::new(vec![passphrase("short")], "p").expect_err("short");
    assert!(err.to_string().contains("at least 8 characters"), "{err}");
}

/// A stand-in for Key Vault: "wraps" by XOR with a fixed pad, and knows two key versions.
struct FakeVault;

impl KeyWrapper for FakeVault {
    fn key_id(&self) -> String {
        "https://vault.example/keys/state/v2".into()
    }
    fn algorithm(&self) -> String {
        "RSA-OAEP-256".into()
    }
    fn wrap(&self, key: &[u8]) -> Result<Vec<u8>, String> {
        Ok(key.iter().map(|b| b ^ 0x5a).collect())
    }
    fn unwrap(&self, key_id: &str, wrapped: &[u8]) -> Result<Vec<u8>, String> {
        if !key_id.starts_with("https://vault.example/keys/state/") {
            return Err(format!("unknown key {key_id}"));
        }
        Ok(wrapped.iter().map(|b| b ^ 0x5a).collect())
    }
}

#[test]
fn key_vault_wrapped_data_keys() {
    let e = encryption(vec![KeySource::KeyVault(Arc::new(FakeVault))]);
    let sealed = e.seal(SECRET.as_bytes()).expect("seal");
    let v: serde_json::Value = serde_json::from_slice(&sealed).expect("json");
    assert_eq!(v["key"]["kek"], "https://vault.example/keys/state/v2");
    assert_eq!(v["key"]["alg"], "RSA-OAEP-256");
    let other = encryption(vec![KeySource::KeyVault(Arc::new(FakeVault))]);
    assert_eq!(
        other.open(&sealed, Path::new("f")).expect("open"),
        SECRET.as_bytes()
    );
    // A passphrase cannot open a Key Vault envelope, and says why.
    let err = encryption(vec![passphrase("correct horse battery")])
        .open(&sealed, Path::new("f"))
        .expect_err("wrong kind");
    assert!(
        err.to_string()
            .contains("the Key Vault key https://vault.example"),
        "{err}"
    );
}

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn an_encrypted_local_state_keeps_no_plaintext_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = encryption(vec![passphrase("correct horse battery")]);
    let backend = LocalBackend::new(dir.path().join("state.json")).with_encryption(Some(e.clone()));
    let mut doc = secret_doc();
    backend.save(&doc).expect("save");
    let batch = JournalBatch {
        lineage: doc.lineage.clone(),
        prior_serial: 1,
        serial: 2,
        entries: vec![JournalEntry::upsert({
            let mut key = instance("pki_key.cluster");
            key.attributes = serde_json::json!({ "private_key_pem": SECRET });
            key
        })],
    };
    backend.append(&batch).expect("append");
    doc.apply_batch(batch);
    backend.save(&doc).expect("save again (makes a backup)");
    backend
        .append(&JournalBatch {
            lineage: doc.lineage.clone(),
            prior_serial: 2,
            serial: 3,
            entries: vec![JournalEntry::Remove {
                address: "pki_key.cluster".into(),
                deposed: None,
            }],
        })
        .expect("append");
    let files = files_under(dir.path());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"state.json.backup") && names.contains(&"state.json.journal"),
        "{names:?}"
    );
    for (name, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(SECRET), "{name} holds the secret in clear");
        assert!(
            !text.contains("pki_root_ca"),
            "{name} holds addresses in clear"
        );
    }
    let loaded = Backend::load(&backend).expect("load").expect("present");
    assert_eq!(loaded.serial, 3);
    assert_eq!(loaded.addresses(), ["pki_root_ca.mesh"]);

    // Without the key: an error, not an empty state.
    let plain = LocalBackend::new(dir.path().join("state.json"));
    let err = Backend::load(&plain).expect_err("encrypted");
    assert!(matches!(err, StateError::Encrypted { .. }), "{err}");
    let wrong = LocalBackend::new(dir.path().join("state.json"))
        .with_encryption(Some(encryption(vec![passphrase("incorrect horse")])));
    let err = Backend::load(&wrong).expect_err("wrong key");
    assert!(err.to_string().contains("cannot decrypt"), "{err}");
    assert_eq!(
        Backend::history(&backend).expect("history")[0].serial,
        Some(1)
    );
}

#[test]
fn turning_encryption_on_reads_plain_state_and_rewrites_history_encrypted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = LocalBackend::new(dir.path().join("state.json"));
    let doc = secret_doc();
    plain.save(&doc).expect("save");
    plain.save(&doc).expect("save again: a plain backup");
    let e = encryption(vec![passphrase("correct horse battery")]);
    let backend = plain.clone().with_encryption(Some(e));
    assert_eq!(
        Backend::load(&backend).expect("plain still reads"),
        Some(doc.clone())
    );
    backend.save(&doc).expect("save encrypted");
    assert_eq!(backend.reencrypt_history().expect("rewrite"), 1);
    for (name, bytes) in files_under(dir.path()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{name} holds the secret"
        );
    }
    assert_eq!(
        Backend::read_snapshot(&backend, crate::BACKUP_ID).expect("backup"),
        doc
    );
}

#[test]
fn the_default_kdf_is_memory_hard() {
    assert_eq!(KdfParams::DEFAULT.m_kib, 65536);
    let e = Encryption::new(
        vec![KeySource::Passphrase {
            passphrase: "correct horse battery".into(),
            params: KdfParams::DEFAULT,
        }],
        "p",
    )
    .expect("keys");
    let sealed = e.seal(b"x").expect("seal");
    let v: serde_json::Value = serde_json::from_slice(&sealed).expect("json");
    assert_eq!(v["key"]["kdf"], "argon2id");
    assert_eq!(v["key"]["m_kib"], 65536);
    assert_eq!(v["key"]["t"], 3);
}
