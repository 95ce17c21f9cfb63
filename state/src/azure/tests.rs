//! The backend against Azurite, the Azure Storage emulator, started through the project's
//! own script (scripts/azurite.sh installs it with npm on first use).

use std::time::{Duration, Instant};

use super::*;
use crate::document::tests::instance;
use crate::journal::JournalEntry;

/// A configuration for a fresh container (so tests never share state).
fn config(lease_seconds: u32) -> Option<AzureBlobConfig> {
    let container = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
    Some(AzureBlobConfig {
        account: DEVELOPMENT_ACCOUNT.to_string(),
        container,
        key: "env/prod.mesh-state".to_string(),
        endpoint: super::azurite::endpoint()?.to_string(),
        credential: BlobCredential::SharedKey(DEVELOPMENT_ACCOUNT_KEY.to_string()),
        lease_seconds,
        keep_snapshots: 3,
        encryption: None,
    })
}

fn backend(config: &AzureBlobConfig) -> AzureBlobBackend {
    AzureBlobBackend::new(config.clone()).expect("backend")
}

fn batch(doc: &mut StateDocument, address: &str) -> JournalBatch {
    let batch = JournalBatch {
        lineage: doc.lineage.clone(),
        prior_serial: doc.serial,
        serial: doc.serial + 1,
        entries: vec![JournalEntry::upsert(instance(address))],
    };
    doc.apply_batch(batch.clone());
    batch
}

#[test]
fn save_append_load_and_compaction() {
    let Some(config) = config(60) else {
        return;
    };
    let backend = backend(&config);
    assert_eq!(backend.load().expect("load"), None);
    let lock = backend.lock("apply", Duration::ZERO).expect("lock");
    // The lock created the (empty) state blob and the container: still no state.
    assert_eq!(backend.load().expect("load"), None);
    assert_eq!(backend.stored_sizes().expect("sizes").snapshot, None);

    let mut doc = StateDocument::new();
    doc.serial = 1;
    let size = backend.save(&doc).expect("save");
    assert_eq!(backend.stored_sizes().expect("sizes").snapshot, Some(size));
    let mut journal = 0;
    for name in ["a", "b", "c"] {
        let next = backend
            .append(&batch(&mut doc, &format!("mesh_data.{name}")))
            .expect("append");
        assert!(next > journal, "the journal grows");
        journal = next;
    }
    assert_eq!(backend.stored_sizes().expect("sizes").journal, journal);
    // Another reader sees snapshot + journal.
    let reader = self::backend(&config);
    assert_eq!(reader.load().expect("load"), Some(doc.clone()));

    backend.save(&doc).expect("compact");
    assert_eq!(backend.stored_sizes().expect("sizes").journal, 0);
    assert_eq!(reader.load().expect("load"), Some(doc.clone()));
    // Appending after a compaction starts a new journal.
    backend
        .append(&batch(&mut doc, "mesh_data.d"))
        .expect("append");
    assert_eq!(reader.load().expect("load"), Some(doc));
    lock.release().expect("release");
}

#[test]
fn a_second_locker_is_refused_naming_the_holder_and_force_unlock_breaks_the_lease() {
    let Some(config) = config(60) else {
        return;
    };
    let first = backend(&config);
    let second = backend(&config);
    let held = first.lock("apply", Duration::ZERO).expect("lock");
    let started = Instant::now();
    let err = second
        .lock("plan", Duration::from_secs(1))
        .expect_err("held");
    assert!(started.elapsed() >= Duration::from_secs(1));
    match &err {
        StateError::LeaseHeld { info, .. } => assert_eq!(info, held.info()),
        other => panic!("unexpected {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    assert!(message.contains("for \"apply\""), "{message}");
    assert!(message.contains(&held.info().id), "{message}");
    assert_eq!(second.read_lock().expect("read"), Some(held.info().clone()));

    // The second cannot write the snapshot behind the holder's back: the service refuses.
    let err = second.save(&StateDocument::new()).expect_err("refused");
    assert!(matches!(err, StateError::LeaseHeld { .. }), "{err}");

    let err = second.force_unlock("wrong").expect_err("mismatch");
    assert!(matches!(err, StateError::LockIdMismatch { .. }), "{err}");
    let broken = second.force_unlock(&held.info().id).expect("force-unlock");
    assert_eq!(&broken, held.info());
    assert_eq!(second.read_lock().expect("read"), None);
    let theirs = second
        .lock("apply", Duration::ZERO)
        .expect("lock after break");
    // The first holder has lost its lock: its writes and release fail.
    let err = first.save(&StateDocument::new()).expect_err("lost");
    assert!(matches!(err, StateError::LockLost { .. }), "{err}");
    assert!(matches!(held.release(), Err(StateError::LockLost { .. })));
    assert_eq!(
        second.read_lock().expect("read").map(|i| i.id),
        Some(theirs.info().id.clone())
    );
    drop(theirs);
    assert_eq!(second.read_lock().expect("read"), None);
    assert!(matches!(
        second.force_unlock("x"),
        Err(StateError::NotLocked { .. })
    ));
}

#[test]
fn an_abandoned_lease_expires_and_a_renewed_one_does_not() {
    let Some(config) = config(15) else {
        return;
    };
    let owner = backend(&config);
    let other = backend(&config);

    // Held and renewed (every 5 s) for longer than the lease lasts.
    let renewed = owner.lock("apply", Duration::ZERO).expect("lock");
    std::thread::sleep(Duration::from_secs(20));
    assert!(renewed.check().is_ok());
    let err = other.lock("apply", Duration::ZERO).expect_err("still held");
    assert!(matches!(err, StateError::LeaseHeld { .. }), "{err}");
    renewed.release().expect("release");

    // A holder that stops renewing (killed) loses the lease within its duration.
    let abandoned = lease::acquire(&owner.blobs, "apply", Duration::ZERO, 15).expect("lock");
    abandoned.abandon();
    let started = Instant::now();
    let taken = other
        .lock("apply", Duration::from_secs(40))
        .expect("taken after expiry");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(5),
        "the lease was still held for a while: {waited:?}"
    );
    assert!(waited <= Duration::from_secs(35), "{waited:?}");
    taken.release().expect("release");
}

#[test]
fn snapshots_keep_the_newest_versions() {
    let Some(config) = config(60) else {
        return;
    };
    let backend = backend(&config);
    let _lock = backend.lock("apply", Duration::ZERO).expect("lock");
    let mut doc = StateDocument::new();
    for serial in 1..=5 {
        doc.serial = serial;
        doc.upsert(instance(&format!("mesh_data.v{serial}")));
        backend.save(&doc).expect("save");
    }
    let history = backend.history().expect("history");
    let serials: Vec<Option<u64>> = history.iter().map(|s| s.serial).collect();
    assert_eq!(serials, [Some(3), Some(4), Some(5)], "{history:?}");
    let third = backend.read_snapshot(&history[0].id).expect("read");
    assert_eq!(third.serial, 3);
    assert_eq!(third.resources.len(), 3);
    let err = backend
        .read_snapshot("2001-01-01T00:00:00.0000000Z")
        .expect_err("none");
    assert!(matches!(err, StateError::NoSnapshot { .. }), "{err}");
}

#[test]
fn migration_between_local_and_blob_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = crate::LocalBackend::new(dir.path().join("state.json"));
    let mut doc = StateDocument::new();
    doc.serial = 1;
    doc.upsert(instance("mesh_data.a"));
    local.save(&doc).expect("save");
    local
        .append(&batch(&mut doc, "mesh_data.b"))
        .expect("append");

    let Some(config) = config(60) else {
        return;
    };
    let remote = backend(&config);
    let _remote_lock = remote.lock("state migrate", Duration::ZERO).expect("lock");
    let (copied, _) = crate::transfer::migrate(&local, &remote, false).expect("to blob");
    assert_eq!(copied, doc);
    assert_eq!(remote.load().expect("load"), Some(doc.clone()));

    let back = crate::LocalBackend::new(dir.path().join("back.json"));
    let (_, done) = crate::transfer::migrate(&remote, &back, false).expect("to local");
    assert_eq!(done, crate::transfer::Transferred::Written { serial: 2 });
    assert_eq!(Backend::load(&back).expect("load"), Some(doc.clone()));

    // Pushing a different state is refused unless forced.
    let err = crate::transfer::push(&remote, StateDocument::new(), false).expect_err("lineage");
    assert!(matches!(err, StateError::PushRejected(_)), "{err}");
}

#[test]
fn bad_credentials_are_reported_with_the_service_code() {
    let Some(mut config) = config(60) else {
        return;
    };
    config.credential = BlobCredential::SharedKey(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        b"not the right key at all",
    ));
    let err = backend(&config).load().expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("HTTP 403"), "{message}");
    assert!(
        message.contains("azure_blob://devstoreaccount1/"),
        "{message}"
    );
}

#[test]
fn encrypted_blobs_hold_no_plaintext() {
    let Some(mut config) = config(60) else {
        return;
    };
    let plain_config = config.clone();
    let encryption = crate::Encryption::new(
        vec![crate::KeySource::Passphrase {
            passphrase: "correct horse battery".into(),
            params: crate::KdfParams {
                m_kib: 64,
                t: 1,
                p: 1,
            },
        }],
        "the test passphrase",
    )
    .expect("keys");
    config.encryption = Some(Arc::new(encryption));
    let backend = backend(&config);
    let _lock = backend.lock("apply", Duration::ZERO).expect("lock");
    let mut doc = StateDocument::new();
    doc.serial = 1;
    let mut secret = instance("pki_root_ca.mesh");
    secret.attributes = serde_json::json!({ "private_key_pem": "TOP-SECRET-KEY" });
    doc.upsert(secret);
    backend.save(&doc).expect("save");
    backend
        .append(&batch(&mut doc, "mesh_data.more"))
        .expect("append");
    for blob in [&backend.blobs.state, &backend.blobs.journal] {
        let raw = backend.blobs.get(blob, None).expect("get").expect("exists");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("{\"mesh_encrypted\":1"), "{blob}: {text}");
        assert!(
            !text.contains("TOP-SECRET-KEY") && !text.contains("mesh_data"),
            "{blob}"
        );
    }
    assert_eq!(backend.load().expect("load"), Some(doc));
    let err = self::backend(&plain_config).load().expect_err("no key");
    assert!(matches!(err, StateError::Encrypted { .. }), "{err}");
}
