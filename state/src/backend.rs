//! Where state is stored: the [`Backend`] trait that commands use, whatever the storage.
//!
//! A backend keeps three things for one state: the last full snapshot, a journal of the
//! changes made since (so that persisting an apply operation costs O(size of the change), not
//! O(size of the state)), and an exclusive lock naming its holder. [`LocalBackend`] keeps them
//! in files beside each other; [`AzureBlobBackend`] in blobs of one container, with the lock a
//! blob lease that is renewed while it is held.
//!
//! [`LocalBackend`]: crate::LocalBackend
//! [`AzureBlobBackend`]: crate::AzureBlobBackend

use std::fmt::Debug;
use std::time::Duration;

use crate::document::StateDocument;
use crate::error::StateError;
use crate::journal::JournalBatch;
use crate::lock::LockInfo;

/// How much a backend stores now, in bytes: compaction decisions depend on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredSizes {
    /// The last snapshot's size, `None` when there is no snapshot.
    pub snapshot: Option<u64>,
    /// The journal's size (0 when there is none).
    pub journal: u64,
}

/// One past version of the state kept by a backend (`mesh state history`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// What names this version for [`Backend::read_snapshot`]: a blob snapshot's time stamp,
    /// or `backup` for the local backend's previous snapshot.
    pub id: String,
    /// When it was taken (RFC 3339 or the storage's own format).
    pub taken: String,
    /// The state's serial, when the backend recorded it.
    pub serial: Option<u64>,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A held state lock. Dropping it releases it (best effort); [`release`](Self::release)
/// reports failures.
pub trait HeldLock: Send + Sync + Debug {
    /// Who holds it (this process).
    fn info(&self) -> &LockInfo;

    /// Fails with [`StateError::LockLost`] once the lock is known to be lost (removed by
    /// `force-unlock`, or a lease that could not be renewed in time).
    fn check(&self) -> Result<(), StateError>;

    /// Release the lock if it is still ours.
    fn release(self: Box<Self>) -> Result<(), StateError>;

    /// A function that releases the lock if it is still ours, for a signal handler that exits
    /// the process without unwinding. Calling it more than once is harmless.
    fn releaser(&self) -> Box<dyn Fn() + Send + Sync>;
}

/// Storage for one state: snapshot, journal, lock and history.
///
/// Writes ([`save`](Self::save), [`append`](Self::append)) require the caller to hold the lock
/// taken with [`lock`](Self::lock) on the same backend value.
pub trait Backend: Send + Sync + Debug {
    /// A short description for messages, e.g. `local state file .mesh/state.json` or
    /// `azure_blob state mesh/prod.state in storage account acct`.
    fn describe(&self) -> String;

    /// The state, or `None` when there is none yet: the last snapshot with the journal
    /// replayed on top.
    fn load(&self) -> Result<Option<StateDocument>, StateError>;

    /// Write `doc` as the new snapshot and drop the journal (compaction: `doc` must contain
    /// everything journaled); the previous snapshot is kept as history. Returns the size of
    /// the snapshot written.
    fn save(&self, doc: &StateDocument) -> Result<u64, StateError>;

    /// Append one batch to the journal, durably; returns the journal's size afterwards.
    /// Costs O(size of the batch). There must be a snapshot to extend.
    fn append(&self, batch: &JournalBatch) -> Result<u64, StateError>;

    /// The sizes of the snapshot and journal as stored now.
    fn stored_sizes(&self) -> Result<StoredSizes, StateError>;

    /// Take the exclusive lock, waiting up to `timeout` while someone else holds it; fails
    /// with [`StateError::Locked`] naming the holder.
    fn lock(&self, operation: &str, timeout: Duration) -> Result<Box<dyn HeldLock>, StateError>;

    /// Who holds the lock now, if anyone.
    fn read_lock(&self) -> Result<Option<LockInfo>, StateError>;

    /// Remove the lock whose ID is `id` (`mesh force-unlock`), returning who held it.
    fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError>;

    /// The past versions kept, oldest first.
    fn history(&self) -> Result<Vec<SnapshotInfo>, StateError>;

    /// One past version, by the `id` [`history`](Self::history) gave.
    fn read_snapshot(&self, id: &str) -> Result<StateDocument, StateError>;

    /// Write the kept past versions again with the current encryption key, where the storage
    /// allows it; returns how many were rewritten. Blob snapshots are immutable: the default
    /// rewrites nothing.
    fn reencrypt_history(&self) -> Result<usize, StateError> {
        Ok(0)
    }
}

/// Poll intervals while waiting for a lock someone else holds.
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest pause between two attempts to take a lock.
pub(crate) const MAX_RETRY: Duration = Duration::from_millis(250);
