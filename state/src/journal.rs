//! The write-ahead journal: changes recorded since the last snapshot.
//!
//! Saving the whole state after every apply operation costs O(all resources)
//! per operation. Instead, apply appends each batch of changes to a journal
//! beside the state file (`state.json.journal`), one JSON line per batch, and
//! writes a full snapshot (which empties the journal) only now and then and at
//! the end. Loading reads the snapshot and replays the journal on top of it.
//!
//! Every batch names the state it applies to: its `lineage`, the serial it
//! starts from (`prior_serial`) and the serial it leads to (`serial`). Replay
//! skips batches the snapshot already contains (`serial` not above the
//! snapshot's: a snapshot was written but the journal not yet removed), applies
//! those that continue the state, and refuses anything else, so a journal is
//! never applied to a state it does not belong to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::document::{OutputState, ResourceInstanceState, StateDocument};
use crate::error::StateError;

/// One change to a state document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JournalEntry {
    /// Insert the object, or replace the one with the same address and
    /// deposed key.
    Upsert {
        /// The object as it is now.
        instance: Box<ResourceInstanceState>,
    },
    /// Remove the current object at `address`, or the deposed one `deposed`.
    Remove {
        /// The instance address.
        address: String,
        /// The deposed key, `None` for the current object.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deposed: Option<String>,
    },
    /// Replace all root module outputs.
    Outputs {
        /// The outputs by name.
        outputs: BTreeMap<String, OutputState>,
    },
    /// An operation is about to start (see [`crate::PendingOperation`]).
    Begin {
        /// What is about to happen.
        pending: Box<crate::PendingOperation>,
    },
    /// An operation in flight was looked up after a crash and is dealt with.
    Settle {
        /// The instance address.
        address: String,
        /// The deposed key, `None` for the current object.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deposed: Option<String>,
    },
}

impl JournalEntry {
    /// An [`Upsert`](JournalEntry::Upsert) of `instance`, normalized (see
    /// [`ResourceInstanceState::normalize`]) as the document would store it.
    pub fn upsert(mut instance: ResourceInstanceState) -> Self {
        instance.normalize();
        JournalEntry::Upsert {
            instance: Box::new(instance),
        }
    }
}

/// One line of the journal: entries that take the state with `lineage` from
/// serial `prior_serial` to serial `serial` (which must be greater).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalBatch {
    /// The lineage of the state this batch belongs to.
    pub lineage: String,
    /// The serial of the state the entries apply to.
    pub prior_serial: u64,
    /// The serial of the state after the entries.
    pub serial: u64,
    /// The changes, applied in order.
    pub entries: Vec<JournalEntry>,
}

impl StateDocument {
    /// Apply a batch: its entries in order, then its serial. Does not check
    /// that the batch belongs to this state; [`LocalBackend::load`] does.
    ///
    /// [`LocalBackend::load`]: crate::LocalBackend::load
    pub fn apply_batch(&mut self, batch: JournalBatch) {
        for entry in batch.entries {
            self.apply(entry);
        }
        self.serial = batch.serial;
    }
}

/// Why a journal could not be replayed.
#[derive(Debug)]
pub(crate) enum ReplayError {
    /// The journal continues a newer snapshot than the one read: a reader
    /// raced a compaction. Reading both files again resolves it.
    Gap(StateError),
    /// Anything else.
    Fatal(StateError),
}

/// The complete lines of a journal (1-based numbers), without blank lines and
/// without a torn last line: text after the final newline is what a crash in
/// the middle of an append leaves, and that append never completed.
fn complete_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => &bytes[..end],
        None => &[][..],
    };
    complete
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(index, line)| (index + 1, line))
}

/// Whether a journal holds at least one complete batch.
pub(crate) fn has_batches(bytes: &[u8]) -> bool {
    complete_lines(bytes).next().is_some()
}

/// Replay the journal `bytes` (read from `path`) onto `doc`.
pub(crate) fn replay(
    doc: &mut StateDocument,
    bytes: &[u8],
    path: &Path,
) -> Result<(), ReplayError> {
    let (mut applied, mut skipped) = (0usize, 0usize);
    for (line, text) in complete_lines(bytes) {
        let error = |message: String| StateError::Journal {
            path: path.to_path_buf(),
            line,
            message,
        };
        let batch: JournalBatch = serde_json::from_slice(text).map_err(|e| {
            ReplayError::Fatal(error(format!(
                "the state journal is not valid: {} (column {})",
                strip_position(&e),
                e.column()
            )))
        })?;
        if batch.lineage != doc.lineage {
            return Err(ReplayError::Fatal(error(format!(
                "the state journal belongs to a different state (lineage {}; the state file has \
                 lineage {}); if the state file was replaced by hand, remove the journal",
                batch.lineage, doc.lineage
            ))));
        }
        if batch.serial <= doc.serial {
            // Already part of the snapshot.
            skipped += 1;
            continue;
        }
        if batch.prior_serial != doc.serial {
            return Err(ReplayError::Gap(error(format!(
                "the state journal does not continue the state: it applies to serial {}, the \
                 state is at serial {}; if the state file was replaced by hand, remove the journal",
                batch.prior_serial, doc.serial
            ))));
        }
        if let Some(address) = batch.entries.iter().find_map(bad_address) {
            // Replaying it would save a state that no later load accepts.
            return Err(ReplayError::Fatal(error(format!(
                "the state journal is not valid: {address:?} is not a resource instance address"
            ))));
        }
        doc.apply_batch(batch);
        applied += 1;
    }
    tracing::debug!(
        path = %path.display(),
        bytes = bytes.len(),
        applied,
        skipped,
        serial = doc.serial,
        "state journal replayed"
    );
    Ok(())
}

/// Replay the journal `bytes` (read from `path`) onto `doc`, as
/// [`LocalBackend::load`](crate::LocalBackend::load) does: for tools and fuzzing that hold
/// both in memory.
pub fn replay_journal(
    doc: &mut StateDocument,
    bytes: &[u8],
    path: &Path,
) -> Result<(), StateError> {
    replay(doc, bytes, path).map_err(|(ReplayError::Gap(e) | ReplayError::Fatal(e))| e)
}

/// The address an entry names, when it is not a resource instance address.
fn bad_address(entry: &JournalEntry) -> Option<&str> {
    let address = match entry {
        JournalEntry::Upsert { instance } => &instance.address,
        JournalEntry::Remove { address, .. } | JournalEntry::Settle { address, .. } => address,
        JournalEntry::Begin { pending } => &pending.instance.address,
        JournalEntry::Outputs { .. } => return None,
    };
    (!crate::address::is_instance_address(address)).then_some(address.as_str())
}

/// The error for a journal found without a state file.
pub(crate) fn orphan_journal(path: PathBuf, state: &Path) -> StateError {
    StateError::Journal {
        path,
        line: 1,
        message: format!(
            "there is a state journal but no state file {}; if the state was removed on \
             purpose, remove the journal too",
            state.display()
        ),
    }
}

fn strip_position(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    full.strip_suffix(&position).unwrap_or(&full).to_string()
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::document::tests::instance;
    use crate::LocalBackend;
    use serde_json::json;

    /// A backend in a fresh directory, with a saved snapshot of `doc`.
    fn saved(doc: &StateDocument) -> (tempfile::TempDir, LocalBackend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::new(dir.path().join(".mesh/state.json"));
        backend.save(doc).expect("save");
        (dir, backend)
    }

    /// Apply `entries` to `doc` as the next batch, and journal them.
    fn record(backend: &LocalBackend, doc: &mut StateDocument, entries: Vec<JournalEntry>) -> u64 {
        let batch = JournalBatch {
            lineage: doc.lineage.clone(),
            prior_serial: doc.serial,
            serial: doc.serial + 1,
            entries,
        };
        let size = backend.append(&batch).expect("append");
        doc.apply_batch(batch);
        size
    }

    fn load(backend: &LocalBackend) -> StateDocument {
        backend.load().expect("load").expect("present")
    }

    fn output(value: serde_json::Value) -> BTreeMap<String, OutputState> {
        BTreeMap::from([(
            "out".to_string(),
            OutputState {
                value,
                sensitive: false,
            },
        )])
    }

    fn deposed(address: &str, key: &str) -> ResourceInstanceState {
        let mut object = instance(address);
        object.deposed = Some(key.to_string());
        object
    }

    #[test]
    fn load_replays_appended_batches_on_the_snapshot() {
        let mut doc = StateDocument::new();
        doc.serial = 1;
        doc.upsert(instance("mesh_data.a"));
        doc.upsert(instance("mesh_data.b"));
        let (_dir, backend) = saved(&doc);
        let snapshot = fs::read(backend.path()).expect("read");

        let mut changed = instance("mesh_data.a");
        changed.attributes = json!({ "id": "changed" });
        changed.dependencies = vec!["mesh_data.z".into(), "mesh_data.c".into()];
        record(
            &backend,
            &mut doc,
            vec![
                JournalEntry::upsert(changed),
                JournalEntry::upsert(instance("mesh_data.c")),
                JournalEntry::upsert(deposed("mesh_data.c", "d1")),
            ],
        );
        record(
            &backend,
            &mut doc,
            vec![
                JournalEntry::Remove {
                    address: "mesh_data.b".into(),
                    deposed: None,
                },
                JournalEntry::Remove {
                    address: "mesh_data.c".into(),
                    deposed: Some("d1".into()),
                },
                JournalEntry::Outputs {
                    outputs: output(json!("v")),
                },
            ],
        );

        let loaded = load(&backend);
        assert_eq!(loaded, doc);
        assert_eq!(loaded.serial, 3);
        assert_eq!(loaded.addresses(), ["mesh_data.a", "mesh_data.c"]);
        assert_eq!(
            loaded.instance("mesh_data.a").expect("a").attributes["id"],
            "changed"
        );
        assert_eq!(loaded.objects("mesh_data.c").count(), 1);
        assert_eq!(loaded.outputs, output(json!("v")));
        // Appending never touches the snapshot.
        assert_eq!(fs::read(backend.path()).expect("read"), snapshot);

        // One JSON line per batch, in the documented shape.
        let text = fs::read_to_string(backend.journal_path()).expect("journal");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("line is JSON"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["prior_serial"], 1);
        assert_eq!(lines[0]["serial"], 2);
        assert_eq!(lines[0]["lineage"], doc.lineage.as_str());
        assert_eq!(lines[0]["entries"][0]["op"], "upsert");
        assert_eq!(
            lines[0]["entries"][0]["instance"]["dependencies"],
            json!(["mesh_data.c", "mesh_data.z"]),
            "journaled objects are normalized"
        );
        assert_eq!(
            lines[1]["entries"][0],
            json!({ "op": "remove", "address": "mesh_data.b" })
        );
        assert_eq!(lines[1]["entries"][1]["deposed"], "d1");
        assert_eq!(lines[1]["entries"][2]["op"], "outputs");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(backend.journal_path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_cut_by_the_next_append() {
        let mut doc = StateDocument::new();
        doc.serial = 1;
        let (_dir, backend) = saved(&doc);
        record(
            &backend,
            &mut doc,
            vec![JournalEntry::upsert(instance("mesh_data.a"))],
        );
        let complete = doc.clone();
        let good = fs::read(backend.journal_path()).expect("journal");

        // A crash in the middle of the second append.
        let mut torn = good.clone();
        torn.extend_from_slice(br#"{"lineage":"x","prior_serial":2,"serial":3,"entr"#);
        fs::write(backend.journal_path(), &torn).expect("write");
        assert_eq!(load(&backend), complete);
        // Even a complete JSON object without its newline was never acknowledged.
        let mut unterminated = good.clone();
        let mut next = serde_json::to_vec(&JournalBatch {
            lineage: doc.lineage.clone(),
            prior_serial: 2,
            serial: 3,
            entries: vec![JournalEntry::upsert(instance("mesh_data.b"))],
        })
        .expect("encode");
        unterminated.append(&mut next);
        fs::write(backend.journal_path(), &unterminated).expect("write");
        assert_eq!(load(&backend), complete);

        // The next append continues after the last complete line.
        fs::write(backend.journal_path(), &torn).expect("write");
        let size = record(
            &backend,
            &mut doc,
            vec![JournalEntry::upsert(instance("mesh_data.c"))],
        );
        assert_eq!(
            size,
            fs::metadata(backend.journal_path()).expect("meta").len()
        );
        assert_eq!(load(&backend), doc);
        assert_eq!(load(&backend).addresses(), ["mesh_data.a", "mesh_data.c"]);

        // A journal holding only a torn line is as good as none.
        fs::write(backend.journal_path(), b"{\"lin").expect("write");
        assert_eq!(load(&backend).serial, 1);
    }

    #[test]
    fn a_corrupt_line_before_the_last_is_an_error_naming_file_and_line() {
        let mut doc = StateDocument::new();
        doc.serial = 1;
        let (_dir, backend) = saved(&doc);
        for name in ["a", "b", "c"] {
            record(
                &backend,
                &mut doc,
                vec![JournalEntry::upsert(instance(&format!("mesh_data.{name}")))],
            );
        }
        let text = fs::read_to_string(backend.journal_path()).expect("journal");
        let mut lines: Vec<&str> = text.lines().collect();
        lines[1] = "{\"lineage\": oops}";
        fs::write(backend.journal_path(), lines.join("\n") + "\n").expect("write");

        let err = backend.load().expect_err("corrupt");
        let prefix = format!("{}:2: ", backend.journal_path().display());
        assert!(err.to_string().starts_with(&prefix), "{err}");
        assert!(err.to_string().contains("not valid"), "{err}");
        assert!(matches!(err, StateError::Journal { line: 2, .. }), "{err}");

        // The complete last line is not "torn" either.
        lines[1] = text.lines().nth(1).expect("line 2");
        lines[2] = "garbage";
        fs::write(backend.journal_path(), lines.join("\n") + "\n").expect("write");
        let err = backend.load().expect_err("corrupt");
        assert!(matches!(err, StateError::Journal { line: 3, .. }), "{err}");
    }

    #[test]
    fn a_journaled_address_that_is_no_address_is_refused_at_its_line() {
        let mut doc = StateDocument::new();
        doc.serial = 1;
        let (_dir, backend) = saved(&doc);
        record(
            &backend,
            &mut doc,
            vec![JournalEntry::upsert(instance("mesh_data.a"))],
        );
        record(
            &backend,
            &mut doc,
            vec![JournalEntry::upsert(instance("mesh data!"))],
        );
        let err = backend.load().expect_err("refused");
        assert!(matches!(err, StateError::Journal { line: 2, .. }), "{err}");
        assert!(err
            .to_string()
            .contains("\"mesh data!\" is not a resource instance address"));

        let journal = fs::read(backend.journal_path()).expect("journal");
        let mut snapshot = StateDocument::new();
        snapshot.lineage = doc.lineage.clone();
        snapshot.serial = 1;
        let err = replay_journal(&mut snapshot, &journal, Path::new("j")).unwrap_err();
        assert!(err.to_string().starts_with("j:2: "), "{err}");
    }

    #[test]
    fn save_compacts_the_journal_into_the_snapshot() {
        let mut doc = StateDocument::new();
        doc.serial = 1;
        let (_dir, backend) = saved(&doc);
        record(
            &backend,
            &mut doc,
            vec![
                JournalEntry::upsert(instance("mesh_data.b")),
                JournalEntry::upsert(instance("mesh_data.a")),
            ],
        );
        let before = load(&backend);
        let snapshot = fs::read(backend.path()).expect("read");
        assert!(backend.journal_path().exists());

        backend.save(&before).expect("compact");
        assert!(!backend.journal_path().exists(), "the journal is gone");
        assert_eq!(load(&backend), before);
        assert_eq!(
            fs::read(backend.backup_path()).expect("backup"),
            snapshot,
            "the backup is the previous snapshot"
        );
        // Saving again gives the same bytes.
        let compacted = fs::read(backend.path()).expect("read");
        backend.save(&before).expect("save");
        assert_eq!(fs::read(backend.path()).expect("read"), compacted);
    }

    #[test]
    fn serials_only_grow_and_batches_already_in_the_snapshot_are_skipped() {
        let mut doc = StateDocument::new();
        doc.serial = 1;
        let (_dir, backend) = saved(&doc);
        let mut serials = vec![load(&backend).serial];
        for name in ["a", "b"] {
            record(
                &backend,
                &mut doc,
                vec![JournalEntry::upsert(instance(&format!("mesh_data.{name}")))],
            );
            serials.push(load(&backend).serial);
        }
        let journal = fs::read(backend.journal_path()).expect("journal");

        // `state rm` after the apply: a snapshot with a higher serial, journal removed.
        let mut removed = load(&backend);
        removed.remove("mesh_data.a");
        removed.serial += 1;
        backend.save(&removed).expect("save");
        serials.push(load(&backend).serial);
        // A crash between the snapshot's rename and the journal's removal leaves the old journal:
        // its batches are in the snapshot already, and replaying them would bring `a` back.
        fs::write(backend.journal_path(), &journal).expect("write");
        assert_eq!(load(&backend), removed);
        // Appends continue from the snapshot.
        let mut doc = removed;
        record(
            &backend,
            &mut doc,
            vec![JournalEntry::upsert(instance("mesh_data.c"))],
        );
        serials.push(load(&backend).serial);
        assert_eq!(load(&backend), doc);
        assert_eq!(load(&backend).addresses(), ["mesh_data.b", "mesh_data.c"]);
        assert_eq!(serials, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_journal_of_another_state_is_refused() {
        let mut doc = StateDocument::new();
        doc.serial = 1;
        let (_dir, backend) = saved(&doc);
        record(
            &backend,
            &mut doc,
            vec![JournalEntry::upsert(instance("mesh_data.a"))],
        );
        let journal = fs::read(backend.journal_path()).expect("journal");

        // The state file was replaced by hand with an older one of the same state: the batch
        // (serial 1 to 2) does not continue it.
        let mut older = doc.clone();
        older.serial = 0;
        backend.save(&older).expect("save");
        fs::write(backend.journal_path(), &journal).expect("write");
        let err = backend.load().expect_err("gap");
        assert!(
            err.to_string()
                .contains("applies to serial 1, the state is at serial 0"),
            "{err}"
        );

        // ... or with another state.
        let other = StateDocument::new();
        backend.save(&other).expect("save");
        fs::write(backend.journal_path(), &journal).expect("write");
        let err = backend.load().expect_err("lineage");
        assert!(err.to_string().contains("different state"), "{err}");
        assert!(matches!(err, StateError::Journal { line: 1, .. }));

        // ... or removed.
        fs::remove_file(backend.path()).expect("rm");
        let err = backend.load().expect_err("orphan");
        assert!(err.to_string().contains("no state file"), "{err}");
        fs::write(backend.journal_path(), b"").expect("write");
        assert!(backend.load().expect("load").is_none());
    }

    /// A small deterministic generator (xorshift), so the test needs no dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn random_changes_replay_to_the_document_in_memory() {
        for seed in [1u64, 7, 42, 1234] {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut doc = StateDocument::new();
            doc.serial = 1;
            let (_dir, backend) = saved(&doc);
            // The obvious model: a map from (address, deposed) to object.
            let mut model: BTreeMap<(String, Option<String>), ResourceInstanceState> =
                BTreeMap::new();
            for step in 0..150 {
                let mut entries = Vec::new();
                for _ in 0..1 + rng.below(4) {
                    let address = match rng.below(3) {
                        0 => format!("mesh_data.r[{}]", rng.below(12)),
                        1 => format!("module.m[\"{}\"].mesh_data.x", rng.below(5)),
                        _ => format!("mesh_data.s{}", rng.below(8)),
                    };
                    let deposed = (rng.below(4) == 0).then(|| format!("d{}", rng.below(2)));
                    let entry = match rng.below(10) {
                        0..=5 => {
                            let mut object = instance(&address);
                            object.deposed = deposed.clone();
                            object.attributes = json!({ "id": address, "step": step });
                            object.dependencies = (0..rng.below(3))
                                .map(|i| format!("mesh_data.dep{}", rng.below(3) + i))
                                .collect();
                            model.insert((address, deposed), object.clone());
                            JournalEntry::upsert(object)
                        }
                        6..=8 => {
                            model.remove(&(address.clone(), deposed.clone()));
                            JournalEntry::Remove { address, deposed }
                        }
                        _ => JournalEntry::Outputs {
                            outputs: output(json!(step)),
                        },
                    };
                    entries.push(entry);
                }
                record(&backend, &mut doc, entries);
                if rng.below(40) == 0 {
                    backend.save(&doc).expect("compact");
                }
                if step % 10 == 0 {
                    assert_eq!(load(&backend), doc, "seed {seed}, step {step}");
                }
            }
            assert_eq!(load(&backend), doc, "seed {seed}");
            // The document agrees with the model, in canonical order.
            let mut expected = StateDocument {
                resources: model
                    .into_values()
                    .map(|mut object| {
                        object.normalize();
                        object
                    })
                    .collect(),
                ..doc.clone()
            };
            assert_eq!(doc, expected, "seed {seed}");
            expected.normalize();
            assert_eq!(doc, expected, "seed {seed}: already canonical");
            backend.save(&doc).expect("compact");
            assert_eq!(load(&backend), doc, "seed {seed}: after compaction");
        }
    }

    #[test]
    fn bytes_per_append_do_not_depend_on_the_size_of_the_state() {
        // The same batches appended to a tiny state and to one of 20,000 objects.
        let mut tiny = StateDocument::new();
        tiny.serial = 1;
        let mut large = tiny.clone();
        for i in 0..20_000 {
            large.upsert(instance(&format!("mesh_data.big[{i:05}]")));
        }
        assert_eq!(large.resources.len(), 20_000);
        let (_tiny_dir, tiny_backend) = saved(&tiny);
        let (_large_dir, large_backend) = saved(&large);
        let large_snapshot = fs::metadata(large_backend.path()).expect("meta").len();
        assert!(large_snapshot > 2_000_000, "{large_snapshot}");

        let batch = |i: u64| {
            vec![
                JournalEntry::upsert(instance(&format!("mesh_data.new[{i:05}]"))),
                JournalEntry::Remove {
                    address: format!("mesh_data.big[{i:05}]"),
                    deposed: None,
                },
            ]
        };
        let (mut tiny_sizes, mut large_sizes) = (vec![0], vec![0]);
        for i in 0..100 {
            tiny_sizes.push(record(&tiny_backend, &mut tiny, batch(i)));
            large_sizes.push(record(&large_backend, &mut large, batch(i)));
        }
        let growth = |sizes: &[u64]| sizes.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>();
        let (tiny_growth, large_growth) = (growth(&tiny_sizes), growth(&large_sizes));
        // Lineages differ in text but not in length, so the lines are the same size.
        assert_eq!(tiny_growth, large_growth);
        // Linear: every append adds a few hundred bytes, whatever it followed (a few more as the
        // two serials gain digits).
        let (min, max) = (
            *large_growth.iter().min().expect("min"),
            *large_growth.iter().max().expect("max"),
        );
        assert!(max < 1_000 && max - min <= 4, "{min}..{max}");
        assert_eq!(
            fs::metadata(large_backend.path()).expect("meta").len(),
            large_snapshot,
            "appends do not rewrite the snapshot"
        );
        assert_eq!(load(&large_backend), large);
        assert_eq!(large.resources.len(), 20_000);
    }
}
