//! The one error type of the crate. Messages are shown to users as they are.

use std::path::PathBuf;

use crate::lock::{LockInfo, UNREADABLE_LOCK_ID};

/// Everything that can go wrong while reading, writing, editing or locking state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file system operation failed.
    #[error("could not {action} {}: {error}", path.display())]
    Io {
        /// What was being done, e.g. "read the state file".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },

    /// The state file is not valid JSON or does not have the expected shape.
    #[error("{}:{line}:{column}: the state file is not valid: {message}", path.display())]
    Malformed {
        /// The state file.
        path: PathBuf,
        /// 1-based line reported by the JSON parser.
        line: usize,
        /// 1-based column reported by the JSON parser.
        column: usize,
        /// The parser's message, without its position.
        message: String,
    },

    /// A line of the state journal is malformed, or the journal does not
    /// belong to the state file next to it.
    #[error("{}:{line}: {message}", path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// The state file has a format version this build does not understand.
    #[error("{}", unsupported_message(path, *found, *supported))]
    UnsupportedFormat {
        /// The state file.
        path: PathBuf,
        /// The `format_version` found in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },

    /// The state could not be encoded as JSON.
    #[error("could not encode the state as JSON: {0}")]
    Encode(serde_json::Error),

    /// No resource instance matches the given address.
    #[error("no resource instance in the state matches the address {address}")]
    NoMatch {
        /// The address that matched nothing.
        address: String,
    },

    /// The destination of a move is already used in the state.
    #[error("cannot move to {to}: {existing} already exists in the state")]
    DestinationExists {
        /// The requested destination.
        to: String,
        /// The existing instance that is in the way.
        existing: String,
    },

    /// A move between incompatible addresses.
    #[error("cannot move {from} to {to}: {reason}")]
    InvalidMove {
        /// The requested source.
        from: String,
        /// The requested destination.
        to: String,
        /// Why the move is refused.
        reason: String,
    },

    /// The state is locked by someone else.
    #[error("{}", locked_message(info, *stale))]
    Locked {
        /// The current holder, as recorded in the lock file.
        info: LockInfo,
        /// True when the holder is known to be gone (dead process on this
        /// host, or a lock file left incomplete for more than a few seconds).
        stale: bool,
    },

    /// `force_unlock` found no lock.
    #[error("the state is not locked (there is no lock file {})", path.display())]
    NotLocked {
        /// The lock file that does not exist.
        path: PathBuf,
    },

    /// `force_unlock` was given an ID that is not the current lock's.
    #[error(
        "lock ID {requested} does not match the current lock: {}; nothing was unlocked",
        holder_description(holder)
    )]
    LockIdMismatch {
        /// The ID given by the user.
        requested: String,
        /// The actual holder.
        holder: LockInfo,
    },

    /// A held lock was removed or replaced by someone else (force-unlock?).
    #[error(
        "the state lock {id} was removed while this operation held it (force-unlock?){}; \
         another mesh may have changed the state meanwhile",
        lost_suffix(holder.as_ref())
    )]
    LockLost {
        /// The ID of the lock this process held.
        id: String,
        /// Who holds the lock now, if anyone.
        holder: Option<LockInfo>,
    },

    /// The state is locked by someone else through a remote lease.
    #[error("{}", lease_message(info, *stale, *lease_seconds))]
    LeaseHeld {
        /// The current holder, as recorded with the lease.
        info: LockInfo,
        /// True when the holder is known to be gone (a dead process on this host).
        stale: bool,
        /// How long the lease lasts without renewal.
        lease_seconds: u32,
    },

    /// A past version asked for is not kept.
    #[error("there is no snapshot {id} in the history of the {backend}; `mesh state history` lists them")]
    NoSnapshot {
        /// The snapshot ID asked for.
        id: String,
        /// The backend's description.
        backend: String,
    },

    /// A remote storage service refused a request.
    #[error("could not {action} ({target}): HTTP {status} {code}: {message}")]
    Remote {
        /// What was being done, e.g. "read the state".
        action: String,
        /// The blob or container involved, e.g. `azure_blob://acct/container/key`.
        target: String,
        /// The HTTP status.
        status: u16,
        /// The service's error code, e.g. `AuthorizationFailure`.
        code: String,
        /// The service's message (first line).
        message: String,
    },

    /// A remote storage service could not be reached.
    #[error("could not {action} ({target}): {message}")]
    Network {
        /// What was being done.
        action: String,
        /// The blob or container involved.
        target: String,
        /// What went wrong.
        message: String,
    },

    /// A backend's settings are invalid.
    #[error("{0}")]
    Config(String),

    /// `mesh state push` refused to replace the stored state.
    #[error("{0}")]
    PushRejected(String),

    /// An encrypted file could not be decrypted.
    #[error("{}: cannot decrypt: {reason}", path.display())]
    Decrypt {
        /// The file (or blob).
        path: PathBuf,
        /// Why: wrong key, damaged data, unknown format.
        reason: String,
    },

    /// An encrypted file was read without any key configured.
    #[error(
        "{} is encrypted, but no encryption key is configured: add an encryption block to the \
         spec's mesh block and set its passphrase (see docs/state.md, Encryption at rest)",
        path.display()
    )]
    Encrypted {
        /// The file (or blob).
        path: PathBuf,
    },
}

impl StateError {
    /// Shorthand for [`StateError::Io`].
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> StateError {
        let path = path.into();
        move |error| StateError::Io {
            action,
            path,
            error,
        }
    }
}

fn unsupported_message(path: &std::path::Path, found: u32, supported: u32) -> String {
    if found > supported {
        format!(
            "{} uses state format version {found}, written by a newer mesh; this mesh \
             understands only version {supported}: upgrade mesh to use this state",
            path.display()
        )
    } else {
        format!(
            "{} uses state format version {found}, which this mesh does not support \
             (it understands version {supported})",
            path.display()
        )
    }
}

fn holder_description(info: &LockInfo) -> String {
    if info.id == UNREADABLE_LOCK_ID {
        format!(
            "the lock file is empty or incomplete (lock ID {UNREADABLE_LOCK_ID}, last written {})",
            info.created
        )
    } else {
        format!(
            "the state is locked by {} (pid {}) for \"{}\" since {}, lock ID {}",
            info.who, info.pid, info.operation, info.created, info.id
        )
    }
}

fn locked_message(info: &LockInfo, stale: bool) -> String {
    let mut message = if info.id == UNREADABLE_LOCK_ID {
        format!(
            "the state is locked, but the lock file is empty or incomplete (a mesh may have \
             died while taking the lock; last written {})",
            info.created
        )
    } else {
        holder_description(info)
    };
    if stale {
        let why = if info.id == UNREADABLE_LOCK_ID {
            "it has not been completed for several seconds"
        } else {
            "that process is no longer running"
        };
        message.push_str(&format!(
            "; {why} — if you are sure no other mesh is working on this state, run: \
             mesh force-unlock {}",
            info.id
        ));
    }
    message
}

fn lease_message(info: &LockInfo, stale: bool, lease_seconds: u32) -> String {
    let mut message = holder_description(info);
    if stale {
        message.push_str(&format!(
            "; that process is no longer running and its lease expires within {lease_seconds} s \
             of its last renewal — wait for it (--lock-timeout {}s), or if you are sure no other \
             mesh is working on this state, run: mesh force-unlock {}",
            lease_seconds + 5,
            info.id
        ));
    } else {
        message.push_str(&format!(
            "; the lock is a {lease_seconds}-second lease that its holder renews while it works, \
             so a holder that was killed lets it go within {lease_seconds} s (wait with \
             --lock-timeout); if you are sure no other mesh is working on this state, run: \
             mesh force-unlock {}",
            info.id
        ));
    }
    message
}

fn lost_suffix(holder: Option<&LockInfo>) -> String {
    match holder {
        Some(info) => format!("; now {}", holder_description(info)),
        None => String::new(),
    }
}
