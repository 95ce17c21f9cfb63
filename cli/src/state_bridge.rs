//! Between the stored state document (state crate) and the engine's view of it: loading prior
//! state with its sensitive marks, and persisting apply's updates after every operation.

use std::sync::Mutex;

use mesh_engine::address::{deposed_address, parse_deposed};
use mesh_engine::apply::{StateSink, StateUpdate};
use mesh_engine::config::ResourceMode;
use mesh_engine::state_view::{PriorInstance, PriorState};
use mesh_engine::value::{paths_of, MarkKind, PathStep, Value};
use mesh_state::{LocalBackend, OutputState, ResourceInstanceState, StateDocument};

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

/// The engine's view of a state document.
pub fn prior_state(doc: Option<&StateDocument>) -> PriorState {
    let Some(doc) = doc else {
        return PriorState::default();
    };
    let instances = doc
        .resources
        .iter()
        .map(|r| {
            let mode = match r.mode {
                mesh_state::ResourceMode::Managed => ResourceMode::Managed,
                mesh_state::ResourceMode::Data => ResourceMode::Data,
            };
            // An old object left by a failed create_before_destroy gets a pseudo-address, so
            // plans see it as an orphan and destroy it.
            let address = match &r.deposed {
                Some(id) => deposed_address(&r.address, id),
                None => r.address.clone(),
            };
            let instance = PriorInstance {
                address: address.clone(),
                mode,
                provider: r.provider.clone(),
                resource_type: r.resource_type.clone(),
                value: instance_value(r),
                dependencies: r.dependencies.clone(),
                create_before_destroy: r.create_before_destroy,
            };
            (address, instance)
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

/// Applies updates to the document and saves it atomically after each batch.
pub struct FileStateSink {
    backend: LocalBackend,
    doc: Mutex<StateDocument>,
}

impl FileStateSink {
    /// Start from the loaded document (or a new one).
    pub fn new(backend: LocalBackend, doc: StateDocument) -> FileStateSink {
        FileStateSink {
            backend,
            doc: Mutex::new(doc),
        }
    }

    /// The document as it stands.
    pub fn document(&self) -> StateDocument {
        self.doc.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl StateSink for FileStateSink {
    fn record(&self, updates: Vec<StateUpdate>) -> Result<(), String> {
        let mut doc = self.doc.lock().unwrap_or_else(|e| e.into_inner());
        if updates.is_empty() && doc.serial > 0 {
            return Ok(());
        }
        for update in updates {
            match update {
                StateUpdate::Upsert(instance) => doc.upsert(stored_instance(&instance)),
                StateUpdate::Deposed(instance) => doc.upsert(stored_instance(&instance)),
                StateUpdate::Remove(address) => match parse_deposed(&address) {
                    Some((base, id)) => {
                        doc.remove_deposed(base, id);
                    }
                    None => {
                        doc.remove(&address);
                    }
                },
                StateUpdate::Outputs(outputs) => {
                    doc.outputs = outputs
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
                        .collect();
                }
            }
        }
        doc.serial += 1;
        self.backend.save(&doc).map_err(|e| e.to_string())
    }
}
