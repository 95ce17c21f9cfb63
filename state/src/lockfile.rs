//! The lock file: its format, reading it back, judging whether its holder
//! is gone, and removing it on request (`mesh force-unlock`).

use std::fs;
use std::io::ErrorKind;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::error::StateError;
use crate::sys::{hostname, parent_dir, process_alive, rfc3339, sync_dir};

/// The lock ID reported for a lock file that is empty or unreadable (left by
/// a crash between creating and writing it); `force_unlock` accepts it.
pub const UNREADABLE_LOCK_ID: &str = "unreadable";

/// An unreadable lock file older than this is considered stale.
const UNREADABLE_STALE_AFTER: Duration = Duration::from_secs(5);

/// Who holds a lock, as recorded in the lock file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    /// A UUID identifying this lock (the argument of `mesh force-unlock`).
    pub id: String,
    /// The operation holding the lock, e.g. "apply".
    pub operation: String,
    /// `user@host`.
    pub who: String,
    /// The holder's process ID on its host.
    pub pid: u32,
    /// When the lock was taken, RFC 3339 UTC.
    pub created: String,
    /// The holder's mesh version.
    pub version: String,
}

/// The lock file's contents: [`LockInfo`] plus the host name on its own.
#[derive(Serialize, Deserialize)]
struct LockRecord {
    id: String,
    operation: String,
    who: String,
    pid: u32,
    created: String,
    version: String,
    #[serde(default)]
    host: Option<String>,
}

/// A lock as found on disk, and whether its holder is known to be gone.
pub(crate) struct Observed {
    pub(crate) info: LockInfo,
    pub(crate) stale: bool,
}

/// Remove the lock at `lock_path` if its ID is `id` (like `terraform
/// force-unlock`), returning who held it. Fails with
/// [`StateError::LockIdMismatch`] naming the actual holder, or
/// [`StateError::NotLocked`]. An unreadable lock file has the ID
/// [`UNREADABLE_LOCK_ID`].
pub fn force_unlock(lock_path: &Path, id: &str) -> Result<LockInfo, StateError> {
    let not_locked = || StateError::NotLocked {
        path: lock_path.to_path_buf(),
    };
    let holder = observe(lock_path)?.ok_or_else(not_locked)?;
    if holder.info.id != id {
        return Err(StateError::LockIdMismatch {
            requested: id.to_string(),
            holder: holder.info,
        });
    }
    match fs::remove_file(lock_path) {
        Ok(()) => {
            sync_dir(parent_dir(lock_path));
            Ok(holder.info)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Err(not_locked()),
        Err(e) => Err(StateError::io("remove the lock file", lock_path)(e)),
    }
}

/// Who holds the lock at `lock_path`, or `None` when it is free. An empty or
/// unreadable lock file is reported with the ID [`UNREADABLE_LOCK_ID`].
pub fn read_lock(lock_path: &Path) -> Result<Option<LockInfo>, StateError> {
    Ok(observe(lock_path)?.map(|o| o.info))
}

/// Whether the lock at `lock_path` is held by a process known to be gone.
pub fn lock_is_stale(lock_path: &Path) -> Result<bool, StateError> {
    Ok(observe(lock_path)?.is_some_and(|o| o.stale))
}

/// Whether a lock holder is known to be gone: a process of this host that no longer runs.
pub(crate) fn holder_gone(host: &str, pid: u32) -> bool {
    host != "unknown" && host == hostname() && !process_alive(pid)
}

pub(crate) fn encode(info: &LockInfo, host: &str) -> Result<Vec<u8>, StateError> {
    let record = LockRecord {
        id: info.id.clone(),
        operation: info.operation.clone(),
        who: info.who.clone(),
        pid: info.pid,
        created: info.created.clone(),
        version: info.version.clone(),
        host: Some(host.to_string()),
    };
    let mut bytes = serde_json::to_vec_pretty(&record).map_err(StateError::Encode)?;
    bytes.push(b'\n');
    Ok(bytes)
}

pub(crate) fn observe(path: &Path) -> Result<Option<Observed>, StateError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StateError::io("read the lock file", path)(e)),
    };
    if let Ok(record) = serde_json::from_slice::<LockRecord>(&bytes) {
        let host = record.host.clone().unwrap_or_else(|| {
            let host = record.who.rsplit_once('@').map_or("", |(_, h)| h);
            host.to_string()
        });
        let stale = holder_gone(&host, record.pid);
        let info = LockInfo {
            id: record.id,
            operation: record.operation,
            who: record.who,
            pid: record.pid,
            created: record.created,
            version: record.version,
        };
        return Ok(Some(Observed { info, stale }));
    }
    // Empty or partial: a holder may be between creating and writing it.
    let modified = fs::metadata(path).and_then(|m| m.modified()).ok();
    let age = modified.and_then(|m| SystemTime::now().duration_since(m).ok());
    let info = LockInfo {
        id: UNREADABLE_LOCK_ID.to_string(),
        operation: "unknown".to_string(),
        who: "unknown".to_string(),
        pid: 0,
        created: modified.map_or_else(|| "unknown time".to_string(), rfc3339),
        version: "unknown".to_string(),
    };
    let stale = age.is_some_and(|a| a > UNREADABLE_STALE_AFTER);
    Ok(Some(Observed { info, stale }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::tests::lock_path;
    use crate::lock::StateLock;
    use std::time::Instant;

    fn write_record(path: &Path, id: &str, pid: u32, host: &str) {
        let info = LockInfo {
            id: id.to_string(),
            operation: "apply".to_string(),
            who: format!("someone@{host}"),
            pid,
            created: "2026-11-22T05:00:00Z".to_string(),
            version: "0.0.1".to_string(),
        };
        fs::create_dir_all(parent_dir(path)).expect("mkdir");
        fs::write(path, encode(&info, host).expect("encode")).expect("write lock");
    }

    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        pid
    }

    #[test]
    fn lock_of_a_dead_process_is_stale_and_fails_fast() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(&dir);
        write_record(&path, "dead-id", dead_pid(), &hostname());
        assert!(lock_is_stale(&path).expect("stale"));

        let started = Instant::now();
        let err = StateLock::acquire(&path, "apply", Duration::from_secs(10)).expect_err("stale");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a stale lock must not be waited on"
        );
        assert!(matches!(&err, StateError::Locked { stale: true, info } if info.id == "dead-id"));
        let message = err.to_string();
        assert!(
            message.contains("that process is no longer running"),
            "{message}"
        );
        assert!(
            message.ends_with("run: mesh force-unlock dead-id"),
            "{message}"
        );

        // The same pid on another host cannot be checked: not stale.
        write_record(&path, "remote-id", dead_pid(), "some-other-host");
        assert!(!lock_is_stale(&path).expect("stale"));
    }

    #[test]
    fn unreadable_lock_file_is_held_then_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(&dir);
        fs::create_dir_all(parent_dir(&path)).expect("mkdir");
        fs::write(&path, "{\"id\": \"half").expect("write");

        let err = StateLock::acquire(&path, "apply", Duration::ZERO).expect_err("held");
        assert!(
            matches!(&err, StateError::Locked { stale: false, info } if info.id == UNREADABLE_LOCK_ID)
        );
        assert!(err.to_string().contains("empty or incomplete"), "{err}");

        let old = SystemTime::now() - Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(&path)
            .expect("open")
            .set_modified(old)
            .expect("mtime");
        let err = StateLock::acquire(&path, "apply", Duration::ZERO).expect_err("held");
        assert!(matches!(err, StateError::Locked { stale: true, .. }));
        assert!(
            err.to_string().ends_with("mesh force-unlock unreadable"),
            "{err}"
        );
        assert_eq!(
            force_unlock(&path, UNREADABLE_LOCK_ID).expect("unlock").id,
            UNREADABLE_LOCK_ID
        );
        assert!(!path.exists());
    }

    #[test]
    fn force_unlock_needs_the_right_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(&dir);
        assert!(matches!(
            force_unlock(&path, "x"),
            Err(StateError::NotLocked { .. })
        ));

        let held = StateLock::acquire(&path, "apply", Duration::ZERO).expect("lock");
        let err = force_unlock(&path, "wrong").expect_err("mismatch");
        let message = err.to_string();
        assert!(
            message.starts_with("lock ID wrong does not match"),
            "{message}"
        );
        assert!(
            message.contains(&held.info().id) && message.contains(&held.info().who),
            "{message}"
        );
        assert!(path.exists());

        let removed = force_unlock(&path, &held.info().id).expect("unlock");
        assert_eq!(&removed, held.info());
        assert!(!path.exists());
        assert!(matches!(
            held.release(),
            Err(StateError::LockLost { holder: None, .. })
        ));
    }
}
