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
}

impl JournalEntry {
    /// An [`Upsert`](JournalEntry::Upsert) of `instance`.
    pub fn upsert(instance: ResourceInstanceState) -> Self {
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
            continue;
        }
        if batch.prior_serial != doc.serial {
            return Err(ReplayError::Gap(error(format!(
                "the state journal does not continue the state: it applies to serial {}, the \
                 state is at serial {}; if the state file was replaced by hand, remove the journal",
                batch.prior_serial, doc.serial
            ))));
        }
        doc.apply_batch(batch);
    }
    Ok(())
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
