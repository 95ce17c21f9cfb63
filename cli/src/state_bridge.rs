//! Between the stored state document (state crate) and the engine's view of it: loading prior
//! state with its sensitive marks, and persisting apply's updates after every operation (through
//! the state journal, compacted into a snapshot now and then and at the end).

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
pub struct BackendStateSink {
    backend: Arc<dyn Backend>,
    inner: Mutex<SinkState>,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;

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
}
