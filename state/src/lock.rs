//! The exclusive state lock: a lock file created with `O_CREAT|O_EXCL`,
//! recording who holds it, for what, and since when.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::backend::{HeldLock, FIRST_RETRY, MAX_RETRY};
use crate::document::WRITER_VERSION;
use crate::error::StateError;
use crate::lockfile::{encode, observe};
use crate::sys::{hostname, parent_dir, rfc3339, sync_dir, username};

pub use crate::lockfile::{force_unlock, lock_is_stale, read_lock, LockInfo, UNREADABLE_LOCK_ID};

/// A held state lock. Released (the lock file removed, if it is still ours)
/// by [`release`](Self::release) or on drop.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    info: LockInfo,
    held: bool,
}

impl StateLock {
    /// Acquire the lock by creating `lock_path` exclusively and writing
    /// [`LockInfo`] into it (fsynced). Creates missing parent directories.
    ///
    /// While someone else holds it, retries every 100–250 ms until `timeout`
    /// has passed (`Duration::ZERO`: a single attempt), then fails with
    /// [`StateError::Locked`] naming the holder. A stale lock (its process
    /// is gone) fails at once, since waiting cannot help.
    pub fn acquire(
        lock_path: &Path,
        operation: &str,
        timeout: Duration,
    ) -> Result<StateLock, StateError> {
        let dir = parent_dir(lock_path);
        fs::create_dir_all(dir).map_err(StateError::io("create the lock directory", dir))?;
        let host = hostname();
        let mut info = new_lock_info(operation, &host);
        let deadline = Instant::now() + timeout;
        let mut delay = FIRST_RETRY;
        loop {
            info.created = rfc3339(SystemTime::now());
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(lock_path)
            {
                Ok(mut file) => {
                    let bytes = encode(&info, &host)?;
                    if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_all()) {
                        drop(file);
                        let _ = fs::remove_file(lock_path);
                        return Err(StateError::io("write the lock file", lock_path)(e));
                    }
                    sync_dir(dir);
                    tracing::debug!(
                        path = %lock_path.display(),
                        id = %info.id,
                        operation,
                        "state lock acquired"
                    );
                    return Ok(StateLock {
                        path: lock_path.to_path_buf(),
                        info,
                        held: true,
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    // Gone since we tried: try again at once.
                    let Some(holder) = observe(lock_path)? else {
                        continue;
                    };
                    let now = Instant::now();
                    tracing::debug!(
                        path = %lock_path.display(),
                        holder = %holder.info.id,
                        stale = holder.stale,
                        "state lock held by another process"
                    );
                    if holder.stale || now >= deadline {
                        return Err(StateError::Locked {
                            info: holder.info,
                            stale: holder.stale,
                        });
                    }
                    std::thread::sleep(delay.min(deadline - now));
                    delay = (delay + Duration::from_millis(50)).min(MAX_RETRY);
                }
                Err(e) => return Err(StateError::io("create the lock file", lock_path)(e)),
            }
        }
    }

    /// Who holds this lock (this process).
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Release the lock: remove the lock file if it is still ours. Fails with
    /// [`StateError::LockLost`] (leaving any other holder's file alone) when
    /// someone removed or replaced it meanwhile.
    pub fn release(mut self) -> Result<(), StateError> {
        self.held = false;
        release_file(&self.path, &self.info.id)
    }
}

/// A new lock record for this process (its `created` time is set when the lock is taken).
pub(crate) fn new_lock_info(operation: &str, host: &str) -> LockInfo {
    LockInfo {
        id: uuid::Uuid::new_v4().to_string(),
        operation: operation.to_string(),
        who: format!("{}@{host}", username()),
        pid: std::process::id(),
        created: rfc3339(SystemTime::now()),
        version: WRITER_VERSION.to_string(),
    }
}

impl HeldLock for StateLock {
    fn info(&self) -> &LockInfo {
        &self.info
    }

    fn check(&self) -> Result<(), StateError> {
        match observe(&self.path)? {
            Some(current) if current.info.id == self.info.id => Ok(()),
            other => Err(StateError::LockLost {
                id: self.info.id.clone(),
                holder: other.map(|o| o.info),
            }),
        }
    }

    fn release(self: Box<Self>) -> Result<(), StateError> {
        StateLock::release(*self)
    }

    fn releaser(&self) -> Box<dyn Fn() + Send + Sync> {
        let (path, id) = (self.path.clone(), self.info.id.clone());
        Box::new(move || {
            let _ = force_unlock(&path, &id);
        })
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        if self.held {
            let _ = release_file(&self.path, &self.info.id);
        }
    }
}

fn release_file(path: &Path, id: &str) -> Result<(), StateError> {
    let released = remove_if_ours(path, id);
    match &released {
        Ok(()) => tracing::debug!(path = %path.display(), id, "state lock released"),
        Err(e) => {
            tracing::debug!(path = %path.display(), id, error = %e, "state lock not released")
        }
    }
    released
}

fn remove_if_ours(path: &Path, id: &str) -> Result<(), StateError> {
    let lost = |holder| StateError::LockLost {
        id: id.to_string(),
        holder,
    };
    match observe(path)? {
        Some(current) if current.info.id == id => match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(lost(None)),
            Err(e) => Err(StateError::io("remove the lock file", path)(e)),
        },
        Some(other) => Err(lost(Some(other.info))),
        None => Err(lost(None)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::mpsc;

    pub(crate) fn lock_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join(".mesh").join("state.json.lock")
    }

    #[test]
    fn second_acquire_fails_at_once_naming_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(&dir);
        let held = StateLock::acquire(&path, "apply", Duration::ZERO).expect("first");
        assert_eq!(read_lock(&path).expect("read"), Some(held.info().clone()));
        assert_eq!(held.info().pid, std::process::id());

        let started = Instant::now();
        let err = StateLock::acquire(&path, "plan", Duration::ZERO).expect_err("contended");
        assert!(started.elapsed() < Duration::from_millis(100));
        match &err {
            StateError::Locked { info, stale } => {
                assert_eq!(info, held.info());
                assert!(!stale);
            }
            other => panic!("unexpected {other:?}"),
        }
        let message = err.to_string();
        let expected = format!(
            "the state is locked by {} (pid {}) for \"apply\" since {}, lock ID {}",
            held.info().who,
            held.info().pid,
            held.info().created,
            held.info().id
        );
        assert_eq!(message, expected);
        held.release().expect("release");
        assert!(!path.exists());
    }

    #[test]
    fn waiting_succeeds_once_another_thread_releases() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(&dir);
        let held = StateLock::acquire(&path, "apply", Duration::ZERO).expect("first");
        let (tx, rx) = mpsc::channel();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            tx.send(Instant::now()).expect("send");
            held.release()
        });
        let second = StateLock::acquire(&path, "apply", Duration::from_secs(10)).expect("waited");
        let acquired_at = Instant::now();
        let released_at = rx.recv().expect("released");
        assert!(acquired_at >= released_at, "acquired before the release");
        releaser.join().expect("join").expect("release");
        assert_eq!(
            read_lock(&path).expect("read").map(|i| i.id),
            Some(second.info().id.clone())
        );

        // A short timeout expires while the lock is held.
        let started = Instant::now();
        let err = StateLock::acquire(&path, "apply", Duration::from_millis(300)).expect_err("held");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(matches!(err, StateError::Locked { stale: false, .. }));
    }

    #[test]
    fn drop_releases_only_our_own_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path(&dir);
        {
            let _held = StateLock::acquire(&path, "apply", Duration::ZERO).expect("lock");
            assert!(path.exists());
        }
        assert!(!path.exists());
        assert_eq!(read_lock(&path).expect("read"), None);

        // Someone force-unlocked us and took the lock: leave theirs alone.
        let held = StateLock::acquire(&path, "apply", Duration::ZERO).expect("lock");
        force_unlock(&path, &held.info().id).expect("unlock");
        let theirs = StateLock::acquire(&path, "destroy", Duration::ZERO).expect("lock");
        let err = held.release().expect_err("lost");
        assert!(matches!(&err, StateError::LockLost { holder: Some(h), .. } if h == theirs.info()));
        assert!(path.exists());
        drop(theirs);
        assert!(!path.exists());
    }
}
