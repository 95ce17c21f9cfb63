//! The mesh state: what mesh believes exists in the world after the last apply.
//!
//! This crate owns the state model ([`StateDocument`], a versioned JSON
//! document with a serial and a lineage, holding per resource instance its
//! provider, type, attributes, recorded dependencies and sensitive paths) and
//! the local backend ([`LocalBackend`]): loading, atomic saving with a backup of
//! the previous snapshot, a write-ahead journal of the changes made since the
//! last snapshot ([`JournalBatch`], [`LocalBackend::append`]), and an exclusive
//! lock ([`StateLock`]) naming its holder, with stale-lock detection and
//! [`force_unlock`].
//!
//! Commands use state through the [`Backend`] trait, which [`LocalBackend`] and
//! [`AzureBlobBackend`] (a blob container, locked with a renewed blob lease, with the blob's
//! snapshots as history) implement; [`transfer`] copies state between backends.
//!
//! It must not know anything of HCL or providers, and of clouds only where state is
//! stored: attributes are opaque JSON values and provider names are plain strings. Planning, diffing and
//! evaluating belong to the engine; printing and flags belong to the CLI.

#![deny(missing_docs)]
// `StateError::Locked` carries the holder's `LockInfo` by value (part of the
// public API); errors are rare and off the hot path, so their size is fine.
#![allow(clippy::result_large_err)]

mod address;
pub mod azure;
pub mod backend;
pub mod crypto;
pub mod document;
mod error;
pub mod journal;
pub mod local;
pub mod lock;
mod lockfile;
mod sys;
pub mod transfer;

pub use address::address_matches;
pub use azure::{AccessTokens, AzureBlobBackend, AzureBlobConfig, BlobCredential};
pub use backend::{Backend, HeldLock, SnapshotInfo, StoredSizes};
pub use crypto::{Encryption, KdfParams, KeySource, KeyWrapper};
pub use document::{
    OutputState, PathStep, PendingKind, PendingOperation, ResourceInstanceState, ResourceMode,
    StateDocument, FORMAT_VERSION, WRITER_VERSION,
};
pub use error::StateError;
pub use journal::{JournalBatch, JournalEntry};
pub use local::{LocalBackend, BACKUP_ID};
pub use lock::{force_unlock, lock_is_stale, read_lock, LockInfo, StateLock, UNREADABLE_LOCK_ID};
