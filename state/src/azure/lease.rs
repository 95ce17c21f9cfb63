//! The remote lock: a lease on the state blob, of bounded duration, renewed by a background
//! thread while it is held. A holder that dies stops renewing, so its lease lapses by itself
//! within one lease duration: no lock outlives a killed CI job for long, and none is infinite.
//!
//! The holder (who, pid, operation, since when) is recorded in the blob's metadata, so a
//! second mesh can name it. The lease ID is the lock ID, which `mesh force-unlock` takes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::blobs::{header_safe, Blobs, Properties, META_LOCK_PREFIX};
use crate::backend::HeldLock;
use crate::error::StateError;
use crate::lock::{new_lock_info, LockInfo, UNREADABLE_LOCK_ID};
use crate::lockfile::holder_gone;
use crate::sys::hostname;

/// The longest pause between two attempts to take a lease someone else holds.
const MAX_RETRY: Duration = Duration::from_secs(2);

/// How long a signal handler's release may take before the process exits anyway.
const RELEASE_WAIT: Duration = Duration::from_millis(1500);

/// A lease this process took: shared by the lock handle, its renewer and the backend (which
/// writes under it).
#[derive(Debug)]
pub(crate) struct Lease {
    /// The lease ID, equal to the lock ID.
    pub id: String,
    info: LockInfo,
    /// Set once the lease is known lost (not renewed in time, broken, or taken over).
    lost: AtomicBool,
    /// Set once released: writes must no longer use it.
    released: AtomicBool,
}

impl Lease {
    /// Whether it may still be written under; [`StateError::LockLost`] once lost.
    pub fn check(&self) -> Result<(), StateError> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(StateError::LockLost {
                id: self.id.clone(),
                holder: None,
            });
        }
        Ok(())
    }

    /// Whether it is still held (neither released nor lost).
    pub fn active(&self) -> bool {
        !self.released.load(Ordering::SeqCst)
    }

    /// The holder's metadata entries.
    pub fn metadata(&self, host: &str) -> BTreeMap<String, String> {
        let info = &self.info;
        [
            ("id", info.id.clone()),
            ("operation", info.operation.clone()),
            ("who", info.who.clone()),
            ("pid", info.pid.to_string()),
            ("created", info.created.clone()),
            ("version", info.version.clone()),
            ("host", host.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{META_LOCK_PREFIX}{k}"), header_safe(&v)))
        .collect()
    }
}

/// A held lease: renewed in the background until released or dropped.
#[derive(Debug)]
pub(crate) struct LeaseLock {
    lease: Arc<Lease>,
    blobs: Arc<Blobs>,
    stop: Mutex<Option<mpsc::Sender<()>>>,
    renewer: Mutex<Option<JoinHandle<()>>>,
}

/// The metadata without any lock holder entries.
pub(crate) fn without_holder(metadata: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    metadata
        .iter()
        .filter(|(k, _)| !k.starts_with(META_LOCK_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The holder recorded in a leased blob's metadata; an unreadable placeholder when a holder
/// has not recorded itself yet. Also says whether it is known to be gone.
pub(crate) fn holder(properties: &Properties) -> (LockInfo, bool) {
    let get = |name: &str| {
        properties
            .metadata
            .get(&format!("{META_LOCK_PREFIX}{name}"))
            .cloned()
    };
    let Some(id) = get("id") else {
        let info = LockInfo {
            id: UNREADABLE_LOCK_ID.to_string(),
            operation: "unknown".to_string(),
            who: "unknown".to_string(),
            pid: 0,
            created: "unknown time".to_string(),
            version: "unknown".to_string(),
        };
        return (info, false);
    };
    let unknown = || "unknown".to_string();
    let pid = get("pid").and_then(|p| p.parse().ok()).unwrap_or(0);
    let host = get("host").unwrap_or_else(unknown);
    let info = LockInfo {
        id,
        operation: get("operation").unwrap_or_else(unknown),
        who: get("who").unwrap_or_else(unknown),
        pid,
        created: get("created").unwrap_or_else(unknown),
        version: get("version").unwrap_or_else(unknown),
    };
    (info, pid != 0 && holder_gone(&host, pid))
}

/// Take the lease on the state blob, waiting up to `timeout` while someone else holds it.
pub(crate) fn acquire(
    blobs: &Arc<Blobs>,
    operation: &str,
    timeout: Duration,
    lease_seconds: u32,
) -> Result<LeaseLock, StateError> {
    blobs.ensure_state()?;
    let host = hostname();
    let info = new_lock_info(operation, &host);
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(250);
    loop {
        let response = blobs.lease(
            "lock the state",
            &[
                ("x-ms-lease-action", "acquire".to_string()),
                ("x-ms-lease-duration", lease_seconds.to_string()),
                ("x-ms-proposed-lease-id", info.id.clone()),
            ],
        )?;
        match response.status {
            201 | 200 => return start(blobs, info, &host, lease_seconds),
            404 => blobs.ensure_state()?,
            409 => {
                let properties = blobs.properties(&blobs.state)?.unwrap_or_default();
                let (holder, stale) = holder(&properties);
                let now = Instant::now();
                if now >= deadline {
                    return Err(StateError::LeaseHeld {
                        info: holder,
                        stale,
                        lease_seconds,
                    });
                }
                std::thread::sleep(delay.min(deadline - now));
                delay = (delay * 2).min(MAX_RETRY);
            }
            _ => return Err(response.error("lock the state", &blobs.describe(&blobs.state))),
        }
    }
}

/// Record the holder in the metadata and start renewing.
fn start(
    blobs: &Arc<Blobs>,
    info: LockInfo,
    host: &str,
    lease_seconds: u32,
) -> Result<LeaseLock, StateError> {
    let lease = Arc::new(Lease {
        id: info.id.clone(),
        info,
        lost: AtomicBool::new(false),
        released: AtomicBool::new(false),
    });
    let (stop, stopped) = mpsc::channel();
    let lock = LeaseLock {
        lease: lease.clone(),
        blobs: blobs.clone(),
        stop: Mutex::new(Some(stop)),
        renewer: Mutex::new(None),
    };
    // From here on, dropping `lock` releases the lease if anything below fails.
    let properties = blobs.properties(&blobs.state)?.unwrap_or_default();
    let mut metadata = without_holder(&properties.metadata);
    metadata.extend(lease.metadata(host));
    blobs.set_metadata(Some(&lease.id), &metadata)?;
    let interval = Duration::from_secs(u64::from(lease_seconds.max(3)) / 3);
    let renewer = {
        let (blobs, lease) = (blobs.clone(), lease.clone());
        let duration = Duration::from_secs(u64::from(lease_seconds));
        std::thread::Builder::new()
            .name("mesh-lease-renewer".to_string())
            .spawn(move || renew_until_stopped(&blobs, &lease, interval, duration, &stopped))
            .map_err(|e| StateError::Config(format!("cannot start the lease renewer: {e}")))?
    };
    *lock.renewer.lock().unwrap_or_else(|e| e.into_inner()) = Some(renewer);
    Ok(lock)
}

/// Renew every `interval` until told to stop; on a failed renewal retry every two seconds,
/// and give the lease up for lost once it has not been renewed for a whole `duration`.
fn renew_until_stopped(
    blobs: &Blobs,
    lease: &Lease,
    interval: Duration,
    duration: Duration,
    stopped: &mpsc::Receiver<()>,
) {
    let mut renewed = Instant::now();
    let mut wait = interval;
    loop {
        match stopped.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let response = blobs.lease(
            "renew the state lock",
            &[
                ("x-ms-lease-action", "renew".to_string()),
                ("x-ms-lease-id", lease.id.clone()),
            ],
        );
        match response {
            Ok(r) if r.status == 200 => {
                renewed = Instant::now();
                wait = interval;
            }
            // Broken, taken over, or the blob is gone: the lease will not come back.
            Ok(r) if matches!(r.status, 404 | 409 | 412) => {
                lease.lost.store(true, Ordering::SeqCst);
                return;
            }
            _ if renewed.elapsed() >= duration => {
                lease.lost.store(true, Ordering::SeqCst);
                return;
            }
            _ => wait = interval.min(Duration::from_secs(2)),
        }
    }
}

/// Stop renewing, clear the holder from the metadata and release the lease.
fn release_lease(blobs: &Blobs, lease: &Lease) -> Result<(), StateError> {
    if lease.released.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    let lost = || StateError::LockLost {
        id: lease.id.clone(),
        holder: None,
    };
    if let Ok(Some(properties)) = blobs.properties(&blobs.state) {
        // Best effort: a stale holder in the metadata of a free blob is ignored anyway.
        let _ = blobs.set_metadata(Some(&lease.id), &without_holder(&properties.metadata));
    }
    let response = blobs.lease(
        "unlock the state",
        &[
            ("x-ms-lease-action", "release".to_string()),
            ("x-ms-lease-id", lease.id.clone()),
        ],
    )?;
    match response.status {
        200 if !lease.lost.load(Ordering::SeqCst) => Ok(()),
        200 | 404 | 409 | 412 => Err(lost()),
        _ => Err(response.error("unlock the state", &blobs.describe(&blobs.state))),
    }
}

impl LeaseLock {
    /// The lease, for writes made under it.
    pub fn lease(&self) -> &Arc<Lease> {
        &self.lease
    }

    fn stop_renewing(&self) {
        self.stop.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = self
            .renewer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = handle.join();
        }
    }

    /// Stop renewing without releasing: what a killed holder leaves (tests only).
    #[cfg(test)]
    pub fn abandon(self) {
        self.stop_renewing();
        self.lease.released.store(true, Ordering::SeqCst);
    }
}

impl HeldLock for LeaseLock {
    fn info(&self) -> &LockInfo {
        &self.lease.info
    }

    fn check(&self) -> Result<(), StateError> {
        self.lease.check()
    }

    fn release(self: Box<Self>) -> Result<(), StateError> {
        self.stop_renewing();
        release_lease(&self.blobs, &self.lease)
    }

    /// The release is bounded: a process exiting on a signal waits for it at most
    /// [`RELEASE_WAIT`]; a lease not released by then lapses by itself.
    fn releaser(&self) -> Box<dyn Fn() + Send + Sync> {
        let (blobs, lease) = (self.blobs.clone(), self.lease.clone());
        Box::new(move || {
            let (blobs, lease) = (blobs.clone(), lease.clone());
            let (done, finished) = mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("mesh-lease-release".to_string())
                .spawn(move || {
                    let _ = release_lease(&blobs, &lease);
                    let _ = done.send(());
                });
            if spawned.is_ok() {
                let _ = finished.recv_timeout(RELEASE_WAIT);
            }
        })
    }
}

impl Drop for LeaseLock {
    fn drop(&mut self) {
        self.stop_renewing();
        let _ = release_lease(&self.blobs, &self.lease);
    }
}

/// Break the lease whose lock ID is `id` (`mesh force-unlock`), returning who held it.
pub(crate) fn force_unlock(blobs: &Blobs, id: &str) -> Result<LockInfo, StateError> {
    let not_locked = || StateError::NotLocked {
        path: blobs.describe(&blobs.state).into(),
    };
    let properties = blobs.properties(&blobs.state)?.ok_or_else(not_locked)?;
    if !properties.leased {
        return Err(not_locked());
    }
    let (holder, _) = holder(&properties);
    if holder.id != id {
        return Err(StateError::LockIdMismatch {
            requested: id.to_string(),
            holder,
        });
    }
    let response = blobs.lease(
        "break the state lock",
        &[
            ("x-ms-lease-action", "break".to_string()),
            ("x-ms-lease-break-period", "0".to_string()),
        ],
    )?;
    if response.status != 202 {
        return Err(response.error("break the state lock", &blobs.describe(&blobs.state)));
    }
    blobs.set_metadata(None, &without_holder(&properties.metadata))?;
    Ok(holder)
}

/// Who holds the lease now, if anyone.
pub(crate) fn read_lock(blobs: &Blobs) -> Result<Option<LockInfo>, StateError> {
    Ok(blobs
        .properties(&blobs.state)?
        .filter(|p| p.leased)
        .map(|p| holder(&p).0))
}
