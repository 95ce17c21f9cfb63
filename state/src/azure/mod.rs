//! The `azure_blob` backend: state in an Azure Storage blob container.
//!
//! Three kinds of blob per state, named after the configured `key`:
//! - `<key>`, a block blob: the last full snapshot (empty while there is no state yet). Each
//!   save is followed by a blob snapshot of it, so past versions are kept as the blob's
//!   snapshot history (the newest `keep_snapshots`, older ones are deleted).
//! - `<key>.journal`, an append blob: one block per journal batch since the snapshot, so
//!   persisting an apply operation costs one Append Block of the batch's size. A save (the
//!   compaction) deletes it.
//! - The lock is a lease on `<key>` (see [`lease`]): writes to the snapshot are refused by
//!   the service itself without the lease ID, and journal appends are refused by mesh once
//!   the lease is known lost and by the service when the journal's length is not the one
//!   this writer last saw.
//!
//! The service is reached over its REST API with Shared Key or bearer-token authorization.

#[cfg(test)]
mod azurite;
mod blobs;
mod http;
mod lease;
mod signing;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use blobs::{header_safe, Blobs, META_LINEAGE, META_SERIAL};
use lease::{Lease, LeaseLock};

pub use http::{AccessTokens, BlobCredential};

use crate::backend::{Backend, HeldLock, SnapshotInfo, StoredSizes};
use crate::crypto::{self, Encryption};
use crate::document::StateDocument;
use crate::error::StateError;
use crate::journal::{self, JournalBatch, ReplayError};
use crate::lock::LockInfo;
use crate::sys::hostname;

/// The storage emulator's published development account.
pub const DEVELOPMENT_ACCOUNT: &str = "devstoreaccount1";

/// The storage emulator's published development account key (public, for local emulators
/// only).
pub const DEVELOPMENT_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The default lease duration: the longest finite lease the service grants.
pub const DEFAULT_LEASE_SECONDS: u32 = 60;

/// The default number of snapshots kept.
pub const DEFAULT_KEEP_SNAPSHOTS: usize = 20;

/// Where an `azure_blob` state lives and how to reach it.
#[derive(Debug, Clone)]
pub struct AzureBlobConfig {
    /// The storage account's name.
    pub account: String,
    /// The blob container.
    pub container: String,
    /// The state blob's name, e.g. `prod/mesh.state`.
    pub key: String,
    /// The Blob service endpoint: `https://<account>.blob.core.windows.net` by default, or an
    /// emulator's, e.g. `http://127.0.0.1:10000/devstoreaccount1`.
    pub endpoint: String,
    /// How requests are authorized.
    pub credential: BlobCredential,
    /// The lock lease's duration, 15 to 60 seconds; it is renewed every third of it.
    pub lease_seconds: u32,
    /// How many snapshots of past versions to keep (at least 1).
    pub keep_snapshots: usize,
    /// When set, the snapshot and every journal block are encrypted.
    pub encryption: Option<Arc<Encryption>>,
}

impl AzureBlobConfig {
    /// The public cloud's endpoint for `account`.
    pub fn default_endpoint(account: &str) -> String {
        format!("https://{account}.blob.core.windows.net")
    }

    /// Check the names and numbers, with messages that name the setting.
    pub fn validate(&self) -> Result<(), StateError> {
        let bad = |m: String| Err(StateError::Config(m));
        let account_ok = (3..=24).contains(&self.account.len())
            && self
                .account
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !account_ok {
            return bad(format!(
                "account \"{}\" is not a storage account name: 3 to 24 lower-case letters and digits",
                self.account
            ));
        }
        let c = self.container.as_bytes();
        let container_ok = (3..=63).contains(&c.len())
            && c.iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && c[0] != b'-'
            && c[c.len() - 1] != b'-'
            && !self.container.contains("--");
        if !container_ok {
            return bad(format!(
                "container \"{}\" is not a container name: 3 to 63 lower-case letters, digits \
                 and single hyphens, starting and ending with a letter or digit",
                self.container
            ));
        }
        let key_ok = !self.key.is_empty()
            && self.key.len() <= 1000
            && !self.key.starts_with('/')
            && !self.key.ends_with('/')
            && self
                .key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'));
        if !key_ok {
            return bad(format!(
                "key \"{}\" is not a usable blob name: letters, digits, '.', '-', '_' and '/' \
                 (not first or last)",
                self.key
            ));
        }
        if !(15..=60).contains(&self.lease_seconds) {
            return bad(format!(
                "lease_seconds = {} is out of range: a lease lasts 15 to 60 seconds (mesh \
                 renews it while it works)",
                self.lease_seconds
            ));
        }
        if self.keep_snapshots == 0 {
            return bad("keep_snapshots must be at least 1".to_string());
        }
        Ok(())
    }
}

/// State in an Azure Storage blob, locked with a renewed lease.
#[derive(Debug)]
pub struct AzureBlobBackend {
    blobs: Arc<Blobs>,
    lease_seconds: u32,
    keep_snapshots: usize,
    /// The lease this backend's lock holds, for writes made under it.
    lease: Mutex<Weak<Lease>>,
    /// The journal's length as this writer last saw it (`None`: unknown or no journal).
    journal_length: Mutex<Option<u64>>,
    encryption: Option<Arc<Encryption>>,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(&self.state))
    }
}

impl AzureBlobBackend {
    /// A backend for `config` (validated here); nothing is sent until it is used.
    pub fn new(config: AzureBlobConfig) -> Result<AzureBlobBackend, StateError> {
        config.validate()?;
        let transport = http::Transport::new(
            &config.endpoint,
            &config.account,
            &config.container,
            config.credential.clone(),
        )?;
        Ok(AzureBlobBackend {
            blobs: Arc::new(Blobs {
                transport,
                journal: format!("{}.journal", config.key),
                state: config.key,
            }),
            lease_seconds: config.lease_seconds,
            keep_snapshots: config.keep_snapshots,
            lease: Mutex::new(Weak::new()),
            journal_length: Mutex::new(None),
            encryption: config.encryption,
        })
    }

    /// A name for the state blob in messages: `azure_blob://account/container/key`.
    pub fn location(&self) -> PathBuf {
        PathBuf::from(self.blobs.describe(&self.blobs.state))
    }

    fn journal_location(&self) -> PathBuf {
        PathBuf::from(self.blobs.describe(&self.blobs.journal))
    }

    /// The lease to write under: `None` when this backend holds no lock, an error once the
    /// lock it held is lost.
    fn write_lease(&self) -> Result<Option<Arc<Lease>>, StateError> {
        let lease = self
            .lease
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .upgrade();
        match lease {
            Some(lease) if lease.active() => {
                lease.check()?;
                Ok(Some(lease))
            }
            _ => Ok(None),
        }
    }

    fn set_journal_length(&self, length: Option<u64>) {
        *self
            .journal_length
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = length;
    }

    fn journal_length(&self) -> Option<u64> {
        *self
            .journal_length
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn load_once(&self) -> Result<Option<StateDocument>, ReplayError> {
        let fatal = ReplayError::Fatal;
        let location = self.location();
        let snapshot = match self.blobs.get(&self.blobs.state, None).map_err(fatal)? {
            Some(bytes) if !bytes.is_empty() => {
                let plain = crypto::open_file(self.encryption.as_deref(), &bytes, &location)
                    .map_err(fatal)?;
                Some(StateDocument::from_json(&plain, &location).map_err(fatal)?)
            }
            _ => None,
        };
        let journal = self.blobs.get(&self.blobs.journal, None).map_err(fatal)?;
        self.set_journal_length(journal.as_ref().map(|j| j.len() as u64));
        let journal = crypto::open_journal(
            self.encryption.as_deref(),
            &journal.unwrap_or_default(),
            &self.journal_location(),
        )
        .map_err(fatal)?;
        match snapshot {
            Some(mut doc) => {
                journal::replay(&mut doc, &journal, &self.journal_location())?;
                Ok(Some(doc))
            }
            None if journal::has_batches(&journal) => Err(fatal(journal::orphan_journal(
                self.journal_location(),
                &location,
            ))),
            None => Ok(None),
        }
    }

    /// The state blob's metadata for a save of `doc` (the lock holder kept when leased).
    fn metadata_for(&self, doc: &StateDocument, lease: Option<&Lease>) -> BTreeMap<String, String> {
        let mut metadata = BTreeMap::from([
            (META_SERIAL.to_string(), doc.serial.to_string()),
            (META_LINEAGE.to_string(), header_safe(&doc.lineage)),
        ]);
        if let Some(lease) = lease {
            metadata.extend(lease.metadata(&hostname()));
        }
        metadata
    }

    /// A write to the state blob was refused for want of the lease: say who holds it.
    fn refused_write(&self, error: StateError, lease: Option<&Lease>) -> StateError {
        let StateError::Remote {
            status: 409 | 412,
            code,
            ..
        } = &error
        else {
            return error;
        };
        if !code.starts_with("Lease") {
            return error;
        }
        let holder = lease::read_lock(&self.blobs).ok().flatten();
        match (lease, holder) {
            (Some(lease), holder) => StateError::LockLost {
                id: lease.id.clone(),
                holder,
            },
            (None, Some(info)) => StateError::LeaseHeld {
                info,
                stale: false,
                lease_seconds: self.lease_seconds,
            },
            (None, None) => error,
        }
    }

    /// Delete the oldest snapshots beyond the number to keep.
    fn prune_snapshots(&self) -> Result<(), StateError> {
        let snapshots = self.blobs.list_snapshots()?;
        let excess = snapshots.len().saturating_sub(self.keep_snapshots);
        for old in &snapshots[..excess] {
            self.blobs.delete(&self.blobs.state, Some(&old.id))?;
        }
        Ok(())
    }

    /// Append a block at the known journal length; a retried append that the service had
    /// already taken shows up as a journal exactly one block longer, which is success.
    fn append_block(&self, block: Vec<u8>) -> Result<u64, StateError> {
        let position = self.journal_length();
        let size = block.len() as u64;
        let response = self.blobs.append(block, position)?;
        let changed = |found: u64| StateError::Journal {
            path: self.journal_location(),
            line: 0,
            message: format!(
                "the state journal was changed by another writer (length {found}, expected {}); \
                 is another mesh working on this state without the lock?",
                position.unwrap_or(0)
            ),
        };
        match response.status {
            201 => {
                let offset = response
                    .header("x-ms-blob-append-offset")
                    .and_then(|o| o.parse::<u64>().ok())
                    .unwrap_or(position.unwrap_or(0));
                Ok(offset + size)
            }
            412 if response.error_code() == "AppendPositionConditionNotMet" => {
                let found = self
                    .blobs
                    .properties(&self.blobs.journal)?
                    .map_or(0, |p| p.length);
                match position {
                    Some(p) if found == p + size => Ok(found),
                    _ => Err(changed(found)),
                }
            }
            _ => Err(response.error(
                "append to the state journal",
                &self.blobs.describe(&self.blobs.journal),
            )),
        }
    }
}

impl Backend for AzureBlobBackend {
    fn describe(&self) -> String {
        format!(
            "azure_blob state {}",
            self.blobs.describe(&self.blobs.state)
        )
    }

    fn load(&self) -> Result<Option<StateDocument>, StateError> {
        // A reader racing a compaction may pair the old snapshot with the new journal.
        let mut attempts = 0;
        loop {
            match self.load_once() {
                Ok(doc) => return Ok(doc),
                Err(ReplayError::Gap(_)) if attempts < 5 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(100 * attempts));
                }
                Err(ReplayError::Gap(e) | ReplayError::Fatal(e)) => return Err(e),
            }
        }
    }

    fn save(&self, doc: &StateDocument) -> Result<u64, StateError> {
        let lease = self.write_lease()?;
        let bytes = crypto::seal_file(self.encryption.as_deref(), doc.to_json()?)?;
        let size = bytes.len() as u64;
        let metadata = self.metadata_for(doc, lease.as_deref());
        let lease_id = lease.as_ref().map(|l| l.id.as_str());
        self.blobs
            .put_state(bytes, lease_id, &metadata)
            .map_err(|e| self.refused_write(e, lease.as_deref()))?;
        self.blobs.snapshot(lease_id)?;
        self.prune_snapshots()?;
        self.blobs.delete(&self.blobs.journal, None)?;
        self.set_journal_length(None);
        Ok(size)
    }

    fn append(&self, batch: &JournalBatch) -> Result<u64, StateError> {
        self.write_lease()?;
        let mut line = serde_json::to_vec(batch).map_err(StateError::Encode)?;
        if let Some(encryption) = &self.encryption {
            line = encryption.seal(&line)?;
        }
        line.push(b'\n');
        if self.journal_length().is_none() {
            self.blobs.create_journal()?;
            let length = self
                .blobs
                .properties(&self.blobs.journal)?
                .map_or(0, |p| p.length);
            self.set_journal_length(Some(length));
        }
        let length = self.append_block(line)?;
        self.set_journal_length(Some(length));
        Ok(length)
    }

    fn stored_sizes(&self) -> Result<StoredSizes, StateError> {
        let snapshot = self
            .blobs
            .properties(&self.blobs.state)?
            .map(|p| p.length)
            .filter(|&n| n > 0);
        let journal = self
            .blobs
            .properties(&self.blobs.journal)?
            .map_or(0, |p| p.length);
        Ok(StoredSizes { snapshot, journal })
    }

    fn lock(&self, operation: &str, timeout: Duration) -> Result<Box<dyn HeldLock>, StateError> {
        let lock: LeaseLock = lease::acquire(&self.blobs, operation, timeout, self.lease_seconds)?;
        *self.lease.lock().unwrap_or_else(|e| e.into_inner()) = Arc::downgrade(lock.lease());
        Ok(Box::new(lock))
    }

    fn read_lock(&self) -> Result<Option<LockInfo>, StateError> {
        lease::read_lock(&self.blobs)
    }

    fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        lease::force_unlock(&self.blobs, id)
    }

    fn history(&self) -> Result<Vec<SnapshotInfo>, StateError> {
        self.blobs.list_snapshots()
    }

    fn read_snapshot(&self, id: &str) -> Result<StateDocument, StateError> {
        let bytes = self
            .blobs
            .get(&self.blobs.state, Some(id))?
            .filter(|b| !b.is_empty())
            .ok_or_else(|| StateError::NoSnapshot {
                id: id.to_string(),
                backend: Backend::describe(self),
            })?;
        let location = format!("{}?snapshot={id}", self.location().display());
        let plain = crypto::open_file(self.encryption.as_deref(), &bytes, Path::new(&location))?;
        StateDocument::from_json(&plain, Path::new(&location))
    }
}
