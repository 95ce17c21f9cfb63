//! Between the stored state document (state crate) and the engine's view of it: loading prior
//! state with its sensitive marks, and persisting apply's updates after every operation (through
//! the state journal, compacted into a snapshot now and then and at the end). Updates recorded
//! by concurrent operations while a journal write is in progress are written together by the
//! next one ([`GroupCommit`]).

use std::sync::{Arc, Mutex, MutexGuard};

use mesh_engine::address::{deposed_address, parse_deposed};
use mesh_engine::apply::{InFlightKind, StateSink, StateUpdate};
use mesh_engine::config::ResourceMode;
use mesh_engine::state_view::{PriorInstance, PriorState};
use mesh_engine::value::{paths_of, MarkKind, PathStep, Value};
use mesh_state::{
    Backend, JournalBatch, JournalEntry, OutputState, PendingKind, PendingOperation,
    ResourceInstanceState, StateDocument, StateError,
};

use crate::group_commit::GroupCommit;

fn to_engine_path(path: &[mesh_state::PathStep]) -> Vec<PathStep> {
    path.iter()
        .map(|s| match s {
            mesh_state::PathStep::Key(k) => PathStep::Key(k.clone()),
            mesh_state::PathStep::Index(i) => PathStep::Index(*i as usize),
        })
        .collect()
}

fn to_state_path(path: &[PathStep]) -> Vec<mesh_state::PathStep> {
    path.iter()
        .map(|s| match s {
            PathStep::Key(k) => mesh_state::PathStep::Key(k.clone()),
            PathStep::Index(i) => mesh_state::PathStep::Index(*i as u64),
        })
        .collect()
}

/// A stored instance's value with its sensitive marks back on.
pub fn instance_value(instance: &ResourceInstanceState) -> Value {
    let mut value = Value::from_json(&instance.attributes);
    for path in &instance.sensitive_paths {
        value.mark_sensitive_at(&to_engine_path(path));
    }
    value
}

/// The engine's view of one stored object (a deposed one gets its pseudo-address).
pub fn prior_instance(r: &ResourceInstanceState) -> PriorInstance {
    let mode = match r.mode {
        mesh_state::ResourceMode::Managed => ResourceMode::Managed,
        mesh_state::ResourceMode::Data => ResourceMode::Data,
    };
    let address = match &r.deposed {
        Some(id) => deposed_address(&r.address, id),
        None => r.address.clone(),
    };
    PriorInstance {
        address,
        mode,
        provider: r.provider.clone(),
        resource_type: r.resource_type.clone(),
        value: instance_value(r),
        dependencies: r.dependencies.clone(),
        create_before_destroy: r.create_before_destroy,
    }
}

/// Apply state updates to a document in memory.
pub fn apply_to_document(doc: &mut StateDocument, updates: Vec<StateUpdate>) {
    for update in updates {
        doc.apply(journal_entry(update));
    }
}

/// The engine's view of a state document.
pub fn prior_state(doc: Option<&StateDocument>) -> PriorState {
    let Some(doc) = doc else {
        return PriorState::default();
    };
    // An old object left by a failed create_before_destroy gets a pseudo-address, so plans
    // see it as an orphan and destroy it.
    let instances = doc
        .resources
        .iter()
        .map(|r| {
            let instance = prior_instance(r);
            (instance.address.clone(), instance)
        })
        .collect();
    let outputs = doc
        .outputs
        .iter()
        .map(|(k, o)| {
            let v = Value::from_json(&o.value);
            (k.clone(), if o.sensitive { v.into_sensitive() } else { v })
        })
        .collect();
    PriorState {
        lineage: Some(doc.lineage.clone()),
        serial: doc.serial,
        instances,
        outputs,
    }
}

/// A state document entry for an engine instance.
pub fn stored_instance(instance: &PriorInstance) -> ResourceInstanceState {
    let (address, deposed) = match parse_deposed(&instance.address) {
        Some((base, id)) => (base.to_string(), Some(id.to_string())),
        None => (instance.address.clone(), None),
    };
    ResourceInstanceState {
        address,
        mode: match instance.mode {
            ResourceMode::Managed => mesh_state::ResourceMode::Managed,
            ResourceMode::Data => mesh_state::ResourceMode::Data,
        },
        provider: instance.provider.clone(),
        resource_type: instance.resource_type.clone(),
        attributes: instance.value.to_json(),
        sensitive_paths: paths_of(&instance.value, MarkKind::Sensitive)
            .iter()
            .map(|p| to_state_path(p))
            .collect(),
        dependencies: instance.dependencies.clone(),
        create_before_destroy: instance.create_before_destroy,
        deposed,
    }
}

/// The journal is compacted into a full snapshot once it exceeds the size of the last snapshot,
/// and at least this many bytes: so snapshots cost, amortized, a constant factor of the bytes
/// journaled, and small states are not rewritten over and over.
const MIN_COMPACTION_BYTES: u64 = 1 << 20;

/// Persists apply's updates: each batch is applied to the in-memory document and appended to the
/// state journal (O(size of the batch), fsynced), and now and then the document is written as a
/// full snapshot, which empties the journal (compaction). Call [`compact`](Self::compact) when the
/// apply is over; dropping the sink also compacts, as a best effort. Works the same on every
/// backend: a local journal file, or an append blob.
///
/// Concurrent [`record`](StateSink::record) calls are group-committed: while one batch is being
/// written, the updates of other callers queue, and the next write takes all of them as one
/// batch (one serial, one journal line, one flush), in arrival order. Each caller still returns
/// only once its own updates are durable, or with the error of the batch that held them.
pub struct BackendStateSink {
    backend: Arc<dyn Backend>,
    inner: Mutex<SinkState>,
    /// The updates of callers waiting for the next write.
    queue: GroupCommit<Vec<StateUpdate>>,
}

struct SinkState {
    doc: StateDocument,
    /// Whether the state file exists: the journal only extends a snapshot.
    has_snapshot: bool,
    /// The document changed but the journal may lack some of it (a failed append): the next
    /// write must be a full snapshot.
    needs_snapshot: bool,
    /// The journal's size in bytes (0 when there is none).
    journal_bytes: u64,
    /// Compact once the journal is larger than this: the last snapshot's size, at least
    /// `min_compaction`.
    compact_at: u64,
    /// [`MIN_COMPACTION_BYTES`], except in tests.
    min_compaction: u64,
}

impl BackendStateSink {
    /// Start from the loaded document (or a new one). `doc` must be what `backend.load()` returns
    /// now (snapshot and journal), since the journal continues from it.
    pub fn new(backend: Arc<dyn Backend>, doc: StateDocument) -> BackendStateSink {
        // Sizes that cannot be read count as no snapshot: the first record then writes one.
        let sizes = backend.stored_sizes().unwrap_or_default();
        let snapshot_bytes = sizes.snapshot;
        let journal_bytes = sizes.journal;
        BackendStateSink {
            inner: Mutex::new(SinkState {
                doc,
                has_snapshot: snapshot_bytes.is_some(),
                needs_snapshot: false,
                journal_bytes,
                compact_at: snapshot_bytes.unwrap_or(0).max(MIN_COMPACTION_BYTES),
                min_compaction: MIN_COMPACTION_BYTES,
            }),
            queue: GroupCommit::default(),
            backend,
        }
    }

    /// The document as it stands.
    pub fn document(&self) -> StateDocument {
        self.state().doc.clone()
    }

    /// Write the document as a full snapshot and remove the journal, if anything was journaled
    /// (or could not be) since the last snapshot. Call it when the apply is over, while still
    /// holding the lock; afterwards `state.json` alone holds the whole state.
    pub fn compact(&self) -> Result<(), StateError> {
        let mut state = self.state();
        if state.journal_bytes > 0 || state.needs_snapshot {
            state.save(self.backend.as_ref())?;
        }
        Ok(())
    }

    fn state(&self) -> MutexGuard<'_, SinkState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Persist one batch of updates: one journal line, or a full snapshot when there is no
    /// snapshot to extend or the journal may lack something.
    fn write(&self, updates: Vec<StateUpdate>) -> Result<(), String> {
        let mut state = self.state();
        if updates.is_empty() && state.doc.serial > 0 {
            return Ok(());
        }
        let batch = JournalBatch {
            lineage: state.doc.lineage.clone(),
            prior_serial: state.doc.serial,
            serial: state.doc.serial + 1,
            entries: updates.into_iter().map(journal_entry).collect(),
        };
        // Without a snapshot to extend, or after a failed append, only a full snapshot will do.
        let appended =
            (state.has_snapshot && !state.needs_snapshot).then(|| self.backend.append(&batch));
        state.doc.apply_batch(batch);
        match appended {
            None => state.save(self.backend.as_ref()).map_err(|e| e.to_string()),
            Some(Ok(journal_bytes)) => {
                state.journal_bytes = journal_bytes;
                if journal_bytes > state.compact_at && state.save(self.backend.as_ref()).is_err() {
                    // The changes are safe in the journal; try again once it has doubled, and
                    // report the problem from `compact` at the end.
                    state.compact_at = journal_bytes.saturating_mul(2);
                }
                Ok(())
            }
            Some(Err(e)) => {
                state.needs_snapshot = true;
                Err(e.to_string())
            }
        }
    }
}

impl SinkState {
    /// Write a full snapshot (compaction).
    fn save(&mut self, backend: &dyn Backend) -> Result<(), StateError> {
        let snapshot_bytes = backend.save(&self.doc)?;
        self.has_snapshot = true;
        self.needs_snapshot = false;
        self.journal_bytes = 0;
        self.compact_at = snapshot_bytes.max(self.min_compaction);
        Ok(())
    }
}

impl Drop for BackendStateSink {
    fn drop(&mut self) {
        // Best effort: the journal is durable, and the next load replays it if this fails.
        let _ = self.compact();
    }
}

/// The journal entry for an engine update.
fn journal_entry(update: StateUpdate) -> JournalEntry {
    match update {
        StateUpdate::Upsert(instance) | StateUpdate::Deposed(instance) => {
            JournalEntry::upsert(stored_instance(&instance))
        }
        StateUpdate::Remove(address) => match parse_deposed(&address) {
            Some((base, id)) => JournalEntry::Remove {
                address: base.to_string(),
                deposed: Some(id.to_string()),
            },
            None => JournalEntry::Remove {
                address,
                deposed: None,
            },
        },
        StateUpdate::Begin { kind, instance } => JournalEntry::Begin {
            pending: Box::new(PendingOperation {
                operation: match kind {
                    InFlightKind::Create => PendingKind::Create,
                    InFlightKind::Update => PendingKind::Update,
                    InFlightKind::Delete => PendingKind::Delete,
                },
                instance: stored_instance(&instance),
            }),
        },
        StateUpdate::Settle(address) => match parse_deposed(&address) {
            Some((base, id)) => JournalEntry::Settle {
                address: base.to_string(),
                deposed: Some(id.to_string()),
            },
            None => JournalEntry::Settle {
                address,
                deposed: None,
            },
        },
        StateUpdate::Outputs(outputs) => JournalEntry::Outputs {
            outputs: outputs
                .into_iter()
                .map(|(k, (v, sensitive))| {
                    let sensitive = sensitive || v.deep_marks().sensitive;
                    (
                        k,
                        OutputState {
                            value: v.to_json(),
                            sensitive,
                        },
                    )
                })
                .collect(),
        },
    }
}

impl StateSink for BackendStateSink {
    fn record(&self, updates: Vec<StateUpdate>) -> Result<(), String> {
        off_the_worker(|| {
            self.queue.submit(updates, |queued| {
                self.write(queued.into_iter().flatten().collect())
            })
        })
    }
}

/// Run `blocking` (which waits for disk or network I/O, or for another caller's write). Apply
/// records from inside its tasks: on a multi-threaded tokio runtime, the worker's other tasks are
/// first handed to another thread, so that they keep running and their records join the next
/// batch, instead of every worker sitting in a flush while ready operations wait.
fn off_the_worker<R>(blocking: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(blocking)
        }
        // A single-threaded runtime cannot hand its tasks over; outside a runtime nothing waits.
        _ => blocking(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Condvar;
    use std::thread;
    use std::time::Duration;

    use super::*;

    fn instance(address: &str, n: i64) -> PriorInstance {
        PriorInstance {
            address: address.to_string(),
            mode: ResourceMode::Managed,
            provider: "mesh".to_string(),
            resource_type: "mesh_data".to_string(),
            value: Value::from_json(&serde_json::json!({ "id": address, "n": n })),
            dependencies: vec!["mesh_data.z".to_string(), "mesh_data.a".to_string()],
            create_before_destroy: false,
        }
    }

    use mesh_state::LocalBackend;

    fn setup() -> (tempfile::TempDir, LocalBackend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::new(dir.path().join(".mesh/state.json"));
        (dir, backend)
    }

    fn loaded(backend: &LocalBackend) -> StateDocument {
        backend.load().expect("load").expect("present")
    }

    fn snapshot_serial(backend: &LocalBackend) -> u64 {
        let text = fs::read_to_string(backend.path()).expect("state.json");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        value["serial"].as_u64().expect("serial")
    }

    #[test]
    fn operations_are_journaled_and_compacted_at_the_end() {
        let (_dir, backend) = setup();
        let sink = BackendStateSink::new(Arc::new(backend.clone()), StateDocument::new());
        // The first record has no snapshot to extend: it writes one.
        sink.record(Vec::new()).expect("record");
        assert_eq!(snapshot_serial(&backend), 1);
        assert!(!backend.journal_path().exists());

        for i in 0..30 {
            let address = format!("mesh_data.r[{i}]");
            sink.record(vec![StateUpdate::Upsert(instance(&address, i))])
                .expect("record");
        }
        let deposed = deposed_address("mesh_data.r[3]", "d1");
        sink.record(vec![
            StateUpdate::Deposed(instance(&deposed, 99)),
            StateUpdate::Remove("mesh_data.r[4]".to_string()),
        ])
        .expect("record");
        sink.record(vec![StateUpdate::Outputs(BTreeMap::from([(
            "o".to_string(),
            (
                Value::from_json(&serde_json::json!("v")).into_sensitive(),
                false,
            ),
        )]))])
        .expect("record");

        // Only the journal grew; loading replays it.
        assert_eq!(snapshot_serial(&backend), 1);
        assert!(backend.journal_path().exists());
        let document = sink.document();
        assert_eq!(document.serial, 33);
        assert_eq!(loaded(&backend), document);
        assert_eq!(document.objects("mesh_data.r[3]").count(), 2);
        assert!(document.instance("mesh_data.r[4]").is_none());
        assert!(document.outputs["o"].sensitive);
        let prior = prior_state(Some(&document));
        assert!(prior.instances.contains_key(&deposed));

        sink.record(vec![StateUpdate::Remove(deposed)])
            .expect("record");
        assert_eq!(loaded(&backend).objects("mesh_data.r[3]").count(), 1);

        sink.compact().expect("compact");
        assert!(!backend.journal_path().exists());
        assert_eq!(snapshot_serial(&backend), 34);
        assert_eq!(loaded(&backend), sink.document());
        // Nothing new to compact.
        let bytes = fs::read(backend.path()).expect("read");
        sink.compact().expect("compact");
        drop(sink);
        assert_eq!(fs::read(backend.path()).expect("read"), bytes);
    }

    #[test]
    fn the_journal_is_compacted_once_it_outgrows_the_snapshot() {
        let (_dir, backend) = setup();
        let sink = BackendStateSink::new(Arc::new(backend.clone()), StateDocument::new());
        sink.state().min_compaction = 0;
        sink.record(Vec::new()).expect("record");
        let mut compactions = 0;
        let mut last = snapshot_serial(&backend);
        for i in 0..40 {
            sink.record(vec![StateUpdate::Upsert(instance("mesh_data.x", i))])
                .expect("record");
            let serial = snapshot_serial(&backend);
            if serial != last {
                compactions += 1;
                last = serial;
                assert!(!backend.journal_path().exists());
            }
            let journal = fs::metadata(backend.journal_path()).map_or(0, |m| m.len());
            let snapshot = fs::metadata(backend.path()).expect("meta").len();
            assert!(journal <= snapshot, "{journal} > {snapshot}");
            assert_eq!(loaded(&backend), sink.document());
        }
        // A one-object snapshot is about as large as a batch: compaction every few records.
        assert!((5..=25).contains(&compactions), "{compactions}");
    }

    #[test]
    fn dropping_the_sink_compacts() {
        let (_dir, backend) = setup();
        let sink = BackendStateSink::new(Arc::new(backend.clone()), StateDocument::new());
        sink.record(Vec::new()).expect("record");
        sink.record(vec![StateUpdate::Upsert(instance("mesh_data.x", 1))])
            .expect("record");
        let document = sink.document();
        assert!(backend.journal_path().exists());
        drop(sink);
        assert!(!backend.journal_path().exists());
        assert_eq!(snapshot_serial(&backend), 2);
        assert_eq!(loaded(&backend), document);

        // A later apply continues from the loaded state.
        let sink = BackendStateSink::new(Arc::new(backend.clone()), loaded(&backend));
        sink.record(vec![StateUpdate::Remove("mesh_data.x".to_string())])
            .expect("record");
        assert_eq!(loaded(&backend).serial, 3);
        assert!(loaded(&backend).resources.is_empty());
    }

    #[test]
    fn a_failed_append_is_followed_by_a_full_snapshot() {
        let (_dir, backend) = setup();
        let sink = BackendStateSink::new(Arc::new(backend.clone()), StateDocument::new());
        sink.record(Vec::new()).expect("record");
        // Something in the journal's way.
        fs::create_dir_all(backend.journal_path().join("blocker")).expect("mkdir");
        let err = sink
            .record(vec![StateUpdate::Upsert(instance("mesh_data.x", 1))])
            .expect_err("append fails");
        assert!(err.contains("state.json.journal"), "{err}");
        fs::remove_dir_all(backend.journal_path()).expect("rmdir");

        sink.record(vec![StateUpdate::Upsert(instance("mesh_data.y", 2))])
            .expect("record");
        assert!(
            !backend.journal_path().exists(),
            "a snapshot, not an append"
        );
        assert_eq!(snapshot_serial(&backend), 3);
        let state = loaded(&backend);
        assert_eq!(state.addresses(), ["mesh_data.x", "mesh_data.y"]);
        assert_eq!(state, sink.document());
    }

    /// A local backend whose next append can be held at a gate and whose appends can be made
    /// to fail; it keeps every batch appended and counts snapshots.
    #[derive(Debug, Default)]
    struct GatedBackend {
        local: Option<LocalBackend>,
        appended: Mutex<Vec<JournalBatch>>,
        saves: AtomicUsize,
        hold_next: AtomicBool,
        holding: AtomicBool,
        gate_open: Mutex<bool>,
        gate: Condvar,
        fail_appends: AtomicBool,
    }

    impl GatedBackend {
        fn local(&self) -> &LocalBackend {
            self.local.as_ref().expect("a local backend")
        }

        fn open_gate(&self) {
            *self.gate_open.lock().expect("gate") = true;
            self.gate.notify_all();
        }

        fn appends(&self) -> Vec<JournalBatch> {
            self.appended.lock().expect("appended").clone()
        }

        fn wait_at_gate(&self) {
            self.holding.store(true, Ordering::SeqCst);
            let mut open = self.gate_open.lock().expect("gate");
            while !*open {
                open = self.gate.wait(open).expect("gate");
            }
        }
    }

    impl Backend for GatedBackend {
        fn describe(&self) -> String {
            self.local().describe()
        }
        fn load(&self) -> Result<Option<StateDocument>, StateError> {
            self.local().load()
        }
        fn save(&self, doc: &StateDocument) -> Result<u64, StateError> {
            self.saves.fetch_add(1, Ordering::SeqCst);
            self.local().save(doc)
        }
        fn append(&self, batch: &JournalBatch) -> Result<u64, StateError> {
            // Decided before waiting, so a test can make the appends after a held one fail.
            let fail = self.fail_appends.load(Ordering::SeqCst);
            if self.hold_next.swap(false, Ordering::SeqCst) {
                self.wait_at_gate();
            }
            if fail {
                return Err(StateError::Config("journal unavailable".to_string()));
            }
            let bytes = self.local().append(batch)?;
            self.appended.lock().expect("appended").push(batch.clone());
            Ok(bytes)
        }
        fn stored_sizes(&self) -> Result<mesh_state::StoredSizes, StateError> {
            self.local().stored_sizes()
        }
        fn lock(
            &self,
            operation: &str,
            timeout: std::time::Duration,
        ) -> Result<Box<dyn mesh_state::HeldLock>, StateError> {
            Backend::lock(self.local(), operation, timeout)
        }
        fn read_lock(&self) -> Result<Option<mesh_state::LockInfo>, StateError> {
            self.local().read_lock()
        }
        fn force_unlock(&self, id: &str) -> Result<mesh_state::LockInfo, StateError> {
            self.local().force_unlock(id)
        }
        fn history(&self) -> Result<Vec<mesh_state::SnapshotInfo>, StateError> {
            self.local().history()
        }
        fn read_snapshot(&self, id: &str) -> Result<StateDocument, StateError> {
            self.local().read_snapshot(id)
        }
    }

    /// Poll until `done`; the deadline only turns a broken queue into a failure, not a hang.
    fn wait_until(what: &str, done: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "gave up waiting: {what}"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }

    fn gated_sink() -> (tempfile::TempDir, Arc<GatedBackend>, Arc<BackendStateSink>) {
        let (dir, local) = setup();
        let backend = Arc::new(GatedBackend {
            local: Some(local),
            ..GatedBackend::default()
        });
        let sink = Arc::new(BackendStateSink::new(backend.clone(), StateDocument::new()));
        sink.record(Vec::new()).expect("first snapshot");
        (dir, backend, sink)
    }

    /// What an operation records: its start, then its outcome, in one call (so that the order
    /// of a caller's updates within a merged batch shows).
    fn begin_and_finish(i: i64) -> Vec<StateUpdate> {
        let created = instance(&format!("mesh_data.r[{i}]"), i);
        vec![
            StateUpdate::Begin {
                kind: InFlightKind::Create,
                instance: created.clone(),
            },
            StateUpdate::Upsert(created),
        ]
    }

    fn appended_addresses(backend: &GatedBackend) -> Vec<String> {
        let entries = backend.appends().into_iter().flat_map(|b| b.entries);
        entries
            .filter_map(|e| match e {
                JournalEntry::Upsert { instance } => Some(instance.address),
                _ => None,
            })
            .collect()
    }

    /// Record operation 0 and hold its append at the gate; record operations 1..n from other
    /// threads, which queue behind it; open the gate (making the appends after the held one
    /// fail if `fail_later` says so). Returns each caller's result and whether its upsert had
    /// been appended by the time `record` returned.
    fn record_behind_a_held_append(
        backend: &Arc<GatedBackend>,
        sink: &Arc<BackendStateSink>,
        n: i64,
        fail_later: bool,
    ) -> Vec<(Result<(), String>, bool)> {
        backend.hold_next.store(true, Ordering::SeqCst);
        let spawn = |i: i64| {
            let (backend, sink) = (backend.clone(), sink.clone());
            thread::spawn(move || {
                let result = sink.record(begin_and_finish(i));
                let address = format!("mesh_data.r[{i}]");
                (result, appended_addresses(&backend).contains(&address))
            })
        };
        let first = spawn(0);
        wait_until("the first append is held", || {
            backend.holding.load(Ordering::SeqCst)
        });
        let others: Vec<_> = (1..n).map(spawn).collect();
        wait_until("the others queue", || sink.queue.waiting() == others.len());
        backend.fail_appends.store(fail_later, Ordering::SeqCst);
        backend.open_gate();
        std::iter::once(first)
            .chain(others)
            .map(|h| h.join().expect("join"))
            .collect()
    }

    #[test]
    fn concurrent_records_share_one_append() {
        let (_dir, backend, sink) = gated_sink();
        let results = record_behind_a_held_append(&backend, &sink, 8, false);
        for (i, (result, durable)) in results.into_iter().enumerate() {
            assert_eq!(result, Ok(()), "record {i}");
            assert!(durable, "record {i} returned before its batch was appended");
        }
        let appends = backend.appends();
        assert_eq!(
            appends.len(),
            2,
            "one append for the held record, one for the rest"
        );
        assert_eq!(appends[1].entries.len(), 14);
        assert_eq!((appends[1].prior_serial, appends[1].serial), (2, 3));
        // Each caller's updates stay together and in order.
        for pair in appends[1].entries.chunks(2) {
            match pair {
                [JournalEntry::Begin { pending }, JournalEntry::Upsert { instance }] => {
                    assert_eq!(pending.instance.address, instance.address)
                }
                other => panic!("not a begin and its outcome: {other:?}"),
            }
        }
        let state = loaded(backend.local());
        assert_eq!(state, sink.document());
        assert_eq!(state.serial, 3);
        assert_eq!(state.addresses().len(), 8);
        assert!(state.pending.is_empty(), "{:?}", state.pending);
    }

    #[test]
    fn a_failed_group_append_fails_every_caller_in_it_and_a_snapshot_follows() {
        let (_dir, backend, sink) = gated_sink();
        let results = record_behind_a_held_append(&backend, &sink, 5, true);
        assert_eq!(results[0], (Ok(()), true), "the held append succeeded");
        for (i, (result, _)) in results.iter().enumerate().skip(1) {
            let err = result.as_ref().expect_err("the group append failed");
            assert!(err.contains("journal unavailable"), "record {i}: {err}");
        }
        assert_eq!(backend.appends().len(), 1);

        backend.fail_appends.store(false, Ordering::SeqCst);
        sink.record(begin_and_finish(5)).expect("record");
        assert_eq!(backend.appends().len(), 1, "a snapshot, not an append");
        assert_eq!(backend.saves.load(Ordering::SeqCst), 2);
        let state = loaded(backend.local());
        assert_eq!(state, sink.document());
        assert_eq!(state.serial, 4);
        assert_eq!(state.addresses().len(), 6);
        assert!(state.pending.is_empty(), "{:?}", state.pending);
    }

    #[test]
    fn a_lone_caller_appends_once_per_record() {
        let (_dir, backend, sink) = gated_sink();
        for i in 0..5 {
            sink.record(begin_and_finish(i)).expect("record");
            assert_eq!(backend.appends().len(), i as usize + 1);
        }
        assert_eq!(backend.saves.load(Ordering::SeqCst), 1);
        assert_eq!(loaded(backend.local()), sink.document());
    }

    /// Apply records from inside tokio tasks (and from the task that drives them).
    fn record_from_tasks(runtime: tokio::runtime::Runtime) {
        let (_dir, backend, sink) = gated_sink();
        runtime.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..16 {
                let sink = sink.clone();
                tasks.spawn(async move { sink.record(begin_and_finish(i)) });
            }
            sink.record(begin_and_finish(16)).expect("record");
            while let Some(joined) = tasks.join_next().await {
                joined.expect("join").expect("record");
            }
        });
        let state = loaded(backend.local());
        assert_eq!(state, sink.document());
        assert_eq!(state.addresses().len(), 17);
        assert!(state.pending.is_empty(), "{:?}", state.pending);
    }

    #[test]
    fn records_from_a_multi_threaded_runtime_hand_the_worker_over() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("runtime");
        record_from_tasks(runtime);
    }

    #[test]
    fn records_from_a_single_threaded_runtime_just_block() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        record_from_tasks(runtime);
    }
}
