//! The local backend: a state file on disk, saved atomically with a backup,
//! and a write-ahead journal of the changes since that snapshot.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Backend, HeldLock, SnapshotInfo, StoredSizes};
use crate::crypto::{self, Encryption};
use crate::document::StateDocument;
use crate::error::StateError;
use crate::journal::{self, JournalBatch, ReplayError};
use crate::lock::{force_unlock, read_lock, LockInfo, StateLock};
use crate::sys::{parent_dir, rfc3339, sync_dir};

/// A state file on the local disk, e.g. `DIR/.mesh/state.json`, with its
/// backup `DIR/.mesh/state.json.backup`, journal `DIR/.mesh/state.json.journal`
/// and lock `DIR/.mesh/state.json.lock`.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    path: PathBuf,
    /// When set, everything written is encrypted (snapshot, backup, journal lines).
    encryption: Option<Arc<Encryption>>,
}

impl LocalBackend {
    /// A backend for the state file at `state_path` (which need not exist).
    pub fn new(state_path: impl Into<PathBuf>) -> Self {
        LocalBackend {
            path: state_path.into(),
            encryption: None,
        }
    }

    /// The same backend, encrypting what it writes with `encryption` (and decrypting what it
    /// reads; plain files are still read, so encryption can be turned on for an existing
    /// state).
    pub fn with_encryption(mut self, encryption: Option<Arc<Encryption>>) -> Self {
        self.encryption = encryption;
        self
    }

    fn decode(&self, bytes: &[u8], path: &Path) -> Result<StateDocument, StateError> {
        let plain = crypto::open_file(self.encryption.as_deref(), bytes, path)?;
        StateDocument::from_json(&plain, path)
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the previous snapshot is kept: `<path>.backup`.
    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".backup")
    }

    /// The lock file guarding this state: `<path>.lock`.
    pub fn lock_path(&self) -> PathBuf {
        with_suffix(&self.path, ".lock")
    }

    /// Take the exclusive lock on this state; see [`StateLock::acquire`].
    pub fn lock(&self, operation: &str, timeout: Duration) -> Result<StateLock, StateError> {
        StateLock::acquire(&self.lock_path(), operation, timeout)
    }

    /// The write-ahead journal of changes since the last snapshot:
    /// `<path>.journal`.
    pub fn journal_path(&self) -> PathBuf {
        with_suffix(&self.path, ".journal")
    }

    /// Read the state, or `None` when there is no state file yet: the last
    /// snapshot with the journal (if any) replayed on top of it.
    ///
    /// A torn last journal line (a crash in the middle of an append) is
    /// ignored; any other unusable line is an error naming the journal and the
    /// line, as is a journal without a state file or of another state.
    pub fn load(&self) -> Result<Option<StateDocument>, StateError> {
        // A reader that races a compaction may pair the old snapshot with the
        // journal that follows the new one; reading both again resolves it.
        let mut attempts = 0;
        loop {
            match self.load_once() {
                Ok(doc) => {
                    tracing::debug!(
                        path = %self.path.display(),
                        found = doc.is_some(),
                        serial = doc.as_ref().map(|d| d.serial),
                        "state loaded"
                    );
                    return Ok(doc);
                }
                Err(ReplayError::Gap(_)) if attempts < 5 => {
                    tracing::debug!(
                        path = %self.path.display(),
                        "state journal raced a compaction; reading again"
                    );
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(20 * attempts));
                }
                Err(ReplayError::Gap(e) | ReplayError::Fatal(e)) => return Err(e),
            }
        }
    }

    fn load_once(&self) -> Result<Option<StateDocument>, ReplayError> {
        let snapshot = match fs::read(&self.path) {
            Ok(bytes) => Some(
                self.decode(&bytes, &self.path)
                    .map_err(ReplayError::Fatal)?,
            ),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => {
                return Err(ReplayError::Fatal(StateError::io(
                    "read the state file",
                    &self.path,
                )(e)))
            }
        };
        let journal_path = self.journal_path();
        let journal = match fs::read(&journal_path) {
            Ok(bytes) => crypto::open_journal(self.encryption.as_deref(), &bytes, &journal_path)
                .map_err(ReplayError::Fatal)?,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(snapshot),
            Err(e) => {
                return Err(ReplayError::Fatal(StateError::io(
                    "read the state journal",
                    &journal_path,
                )(e)))
            }
        };
        match snapshot {
            Some(mut doc) => {
                journal::replay(&mut doc, &journal, &journal_path)?;
                Ok(Some(doc))
            }
            None if journal::has_batches(&journal) => Err(ReplayError::Fatal(
                journal::orphan_journal(journal_path, &self.path),
            )),
            None => Ok(None),
        }
    }

    /// Append `batch` to the journal as one line and flush it to disk
    /// (`fdatasync`) before returning; returns the journal's size in bytes.
    /// Costs O(size of the batch), whatever the size of the state.
    ///
    /// The journal is created (mode `0600`) when missing. A torn line left at
    /// its end by a crash is cut off first. The batch must continue the state
    /// as saved and journaled so far: same lineage, `prior_serial` equal to
    /// the current serial, `serial` greater (otherwise [`load`](Self::load)
    /// refuses the journal). Requires the lock, like [`save`](Self::save).
    pub fn append(&self, batch: &JournalBatch) -> Result<u64, StateError> {
        debug_assert!(batch.serial > batch.prior_serial, "serials must grow");
        let path = self.journal_path();
        let mut line = serde_json::to_vec(batch).map_err(StateError::Encode)?;
        if let Some(encryption) = &self.encryption {
            line = encryption.seal(&line)?;
        }
        line.push(b'\n');
        let (mut file, created) = open_journal(&path)?;
        let mut size = file
            .metadata()
            .map_err(StateError::io("read the size of", &path))?
            .len();
        if size > 0
            && !ends_with_newline(&mut file, size)
                .map_err(StateError::io("read the end of", &path))?
        {
            size = cut_torn_tail(&mut file).map_err(StateError::io("repair", &path))?;
        }
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(StateError::io("append to the state journal", &path))?;
        if created {
            sync_dir(parent_dir(&path));
        }
        let journal_bytes = size + line.len() as u64;
        tracing::debug!(
            path = %path.display(),
            serial = batch.serial,
            entries = batch.entries.len(),
            line_bytes = line.len(),
            journal_bytes,
            "state journal appended"
        );
        Ok(journal_bytes)
    }

    /// Write `doc` as a full snapshot, atomically, and drop the journal
    /// (compaction: `doc` must contain everything journaled).
    ///
    /// The previous state file (if any) is first copied to
    /// [`backup_path`](Self::backup_path) atomically, then the new content is
    /// written to a temporary file in the same directory, fsynced, renamed
    /// over the state file, and the directory is fsynced; then the journal is
    /// removed. A failure at any step leaves a consistent state: until the
    /// rename, the old snapshot and the journal; after it, the new snapshot
    /// and a journal whose batches it already contains (skipped on load).
    /// Creates missing parent directories. Does not change the serial: the
    /// caller sets it.
    /// Returns the size of the snapshot written.
    pub fn save(&self, doc: &StateDocument) -> Result<u64, StateError> {
        let bytes = crypto::seal_file(self.encryption.as_deref(), doc.to_json()?)?;
        let dir = parent_dir(&self.path);
        fs::create_dir_all(dir).map_err(StateError::io("create the state directory", dir))?;
        match fs::read(&self.path) {
            Ok(previous) => write_atomic(&self.backup_path(), &previous)?,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StateError::io("read the previous state file", &self.path)(
                    e,
                ))
            }
        }
        write_atomic(&self.path, &bytes)?;
        let journal = self.journal_path();
        let compacted = match fs::remove_file(&journal) {
            Ok(()) => {
                sync_dir(dir);
                true
            }
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => return Err(StateError::io("remove the state journal", journal)(e)),
        };
        tracing::debug!(
            path = %self.path.display(),
            serial = doc.serial,
            bytes = bytes.len(),
            journal_compacted = compacted,
            "state snapshot saved"
        );
        Ok(bytes.len() as u64)
    }
}

impl Backend for LocalBackend {
    fn describe(&self) -> String {
        format!("local state file {}", self.path.display())
    }

    fn load(&self) -> Result<Option<StateDocument>, StateError> {
        LocalBackend::load(self)
    }

    fn save(&self, doc: &StateDocument) -> Result<u64, StateError> {
        LocalBackend::save(self, doc)
    }

    fn append(&self, batch: &JournalBatch) -> Result<u64, StateError> {
        LocalBackend::append(self, batch)
    }

    fn stored_sizes(&self) -> Result<StoredSizes, StateError> {
        let size = |path: &Path, what: &'static str| match fs::metadata(path) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StateError::io(what, path)(e)),
        };
        Ok(StoredSizes {
            snapshot: size(&self.path, "read the size of")?,
            journal: size(&self.journal_path(), "read the size of")?.unwrap_or(0),
        })
    }

    fn lock(&self, operation: &str, timeout: Duration) -> Result<Box<dyn HeldLock>, StateError> {
        Ok(Box::new(LocalBackend::lock(self, operation, timeout)?))
    }

    fn read_lock(&self) -> Result<Option<LockInfo>, StateError> {
        read_lock(&self.lock_path())
    }

    fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        force_unlock(&self.lock_path(), id)
    }

    /// The local backend keeps one previous snapshot: `<path>.backup`.
    fn history(&self) -> Result<Vec<SnapshotInfo>, StateError> {
        let path = self.backup_path();
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StateError::io("read", &path)(e)),
        };
        let doc = self.read_snapshot(BACKUP_ID)?;
        Ok(vec![SnapshotInfo {
            id: BACKUP_ID.to_string(),
            taken: meta
                .modified()
                .map_or_else(|_| "unknown time".to_string(), rfc3339),
            serial: Some(doc.serial),
            bytes: meta.len(),
        }])
    }

    fn read_snapshot(&self, id: &str) -> Result<StateDocument, StateError> {
        if id != BACKUP_ID {
            return Err(StateError::NoSnapshot {
                id: id.to_string(),
                backend: Backend::describe(self),
            });
        }
        let path = self.backup_path();
        let bytes = fs::read(&path).map_err(StateError::io("read the state backup", &path))?;
        self.decode(&bytes, &path)
    }

    /// Write the backup again with the current key (after a rotation, or once encryption is
    /// turned on), so that no copy of the state stays under an old key or in clear.
    fn reencrypt_history(&self) -> Result<usize, StateError> {
        let path = self.backup_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StateError::io("read the state backup", &path)(e)),
        };
        let doc = self.decode(&bytes, &path)?;
        let sealed = crypto::seal_file(self.encryption.as_deref(), doc.to_json()?)?;
        write_atomic(&path, &sealed)?;
        Ok(1)
    }
}

/// The name of the local backend's one history entry, its backup.
pub const BACKUP_ID: &str = "backup";

/// Open the journal for appending, creating it (and its directory) when
/// missing; also says whether it was created.
fn open_journal(path: &Path) -> Result<(File, bool), StateError> {
    match OpenOptions::new().read(true).append(true).open(path) {
        Ok(file) => return Ok((file, false)),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(StateError::io("open the state journal", path)(e)),
    }
    let dir = parent_dir(path);
    fs::create_dir_all(dir).map_err(StateError::io("create the state directory", dir))?;
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600); // state may hold secrets
    let file = options
        .open(path)
        .map_err(StateError::io("create the state journal", path))?;
    Ok((file, true))
}

fn ends_with_newline(file: &mut File, size: u64) -> std::io::Result<bool> {
    let mut last = [0u8];
    file.seek(SeekFrom::Start(size - 1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Cut the file after its last newline (an append that never completed);
/// returns the new size.
fn cut_torn_tail(file: &mut File) -> std::io::Result<u64> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let size = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |end| end as u64 + 1);
    file.set_len(size)?;
    file.sync_data()?;
    Ok(size)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Replace `target` with `bytes` so that readers see either the old or the
/// new content, never a mix, even if the process or the machine dies.
fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    let id = uuid::Uuid::new_v4().simple().to_string();
    let temp = dir.join(format!(".{name}.{}.tmp", &id[..12]));

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600); // state may hold secrets
    let mut file = options
        .open(&temp)
        .map_err(StateError::io("create a temporary file", &temp))?;

    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(StateError::io("write the temporary file", &temp))
        .and_then(|()| {
            drop(file);
            fs::rename(&temp, target).map_err(StateError::io("replace", target))
        });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
        return result;
    }
    sync_dir(dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::tests::instance;
    use crate::document::{OutputState, PathStep};

    fn sample() -> StateDocument {
        let mut doc = StateDocument::new();
        doc.serial = 3;
        let mut a = instance("module.net[\"a\"].mesh_data.x[0]");
        a.sensitive_paths = vec![vec![PathStep::Key("secret".into())]];
        a.dependencies = vec!["mesh_data.base".into()];
        a.create_before_destroy = true;
        doc.upsert(a);
        doc.upsert(instance("mesh_data.base"));
        doc.outputs.insert(
            "ip".into(),
            OutputState {
                value: serde_json::json!("10.0.0.1"),
                sensitive: true,
            },
        );
        doc
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .expect("read dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn missing_state_loads_as_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::new(dir.path().join(".mesh/state.json"));
        assert!(backend.load().expect("load").is_none());
    }

    #[test]
    fn round_trip_creates_directories_and_sorts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::new(dir.path().join(".mesh/state.json"));
        let doc = sample();
        backend.save(&doc).expect("save");
        let loaded = backend.load().expect("load").expect("present");
        let mut expected = doc.clone();
        expected.normalize();
        assert_eq!(loaded, expected);
        assert_eq!(loaded.resources[0].address, "mesh_data.base");
        assert!(
            !backend.backup_path().exists(),
            "no backup without a previous state"
        );
        assert!(leftovers(&dir.path().join(".mesh")).is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(backend.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn save_keeps_the_previous_snapshot_as_backup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::new(dir.path().join("state.json"));
        let mut doc = sample();
        backend.save(&doc).expect("first save");
        let first = fs::read(backend.path()).expect("read");

        doc.serial += 1;
        doc.remove("mesh_data.base");
        backend.save(&doc).expect("second save");
        assert_eq!(fs::read(backend.backup_path()).expect("backup"), first);
        assert_eq!(backend.load().expect("load").expect("present").serial, 4);

        doc.serial += 1;
        let second = fs::read(backend.path()).expect("read");
        backend.save(&doc).expect("third save");
        assert_eq!(fs::read(backend.backup_path()).expect("backup"), second);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn failed_save_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::new(dir.path().join("state.json"));
        let doc = sample();
        backend.save(&doc).expect("save");
        let before = fs::read(backend.path()).expect("read");

        // The backup cannot be written: a non-empty directory is in the way.
        fs::create_dir_all(backend.backup_path().join("blocker")).expect("mkdir");
        let mut changed = doc.clone();
        changed.serial = 99;
        let err = backend.save(&changed).expect_err("save must fail");
        assert!(err.to_string().contains("state.json.backup"), "{err}");
        assert_eq!(fs::read(backend.path()).expect("read"), before);
        assert!(
            leftovers(dir.path()).is_empty(),
            "temporary files must be cleaned up"
        );

        // The state path itself is a directory: nothing is replaced.
        let odd = LocalBackend::new(dir.path().join("odd"));
        fs::create_dir_all(odd.path().join("keep")).expect("mkdir");
        assert!(odd.save(&doc).is_err());
        assert!(odd.path().join("keep").is_dir());
    }

    #[test]
    fn load_names_the_file_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::new(dir.path().join("state.json"));
        fs::write(
            backend.path(),
            "{\n  \"format_version\": 1,\n  \"serial\": ,\n}",
        )
        .expect("write");
        let err = backend.load().expect_err("malformed");
        let expected = format!("{}:3:13: ", backend.path().display());
        assert!(err.to_string().starts_with(&expected), "{err}");

        let mut future = serde_json::to_value(sample()).expect("value");
        future["format_version"] = serde_json::json!(99);
        fs::write(backend.path(), future.to_string()).expect("write");
        let err = backend.load().expect_err("future");
        assert!(
            matches!(err, StateError::UnsupportedFormat { found: 99, .. }),
            "{err}"
        );
    }
}
