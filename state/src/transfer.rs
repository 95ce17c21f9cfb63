//! Copying state into a backend: `mesh state push` (a document from a file) and
//! `mesh state migrate` (from one backend to another), with the checks that keep a push from
//! silently replacing a different or newer state.

use crate::backend::Backend;
use crate::document::StateDocument;
use crate::error::StateError;

/// What a push or migration did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transferred {
    /// The destination held the very same state: nothing was written.
    AlreadyThere,
    /// The state was written, with this serial.
    Written {
        /// The serial stored.
        serial: u64,
    },
}

/// Whether `incoming` may replace `current` without `force`: same lineage, and not older
/// (a state with the same serial must have the same content).
pub fn check_replace(
    current: Option<&StateDocument>,
    incoming: &StateDocument,
) -> Result<(), StateError> {
    let Some(current) = current else {
        return Ok(());
    };
    let reject = |why: String| {
        Err(StateError::PushRejected(format!(
            "{why}; use -force to replace it anyway"
        )))
    };
    if current.lineage != incoming.lineage {
        return reject(format!(
            "the state to write has lineage {}, but the stored state has lineage {}: they are \
             different states",
            incoming.lineage, current.lineage
        ));
    }
    if incoming.serial < current.serial {
        return reject(format!(
            "the state to write (serial {}) is older than the stored state (serial {})",
            incoming.serial, current.serial
        ));
    }
    if incoming.serial == current.serial && !same_content(current, incoming) {
        return reject(format!(
            "the state to write has the same serial ({}) as the stored state but different \
             content",
            incoming.serial
        ));
    }
    Ok(())
}

fn same_content(a: &StateDocument, b: &StateDocument) -> bool {
    matches!((a.to_json(), b.to_json()), (Ok(x), Ok(y)) if x == y)
}

/// Store `incoming` in `to` (whose lock the caller holds) after [`check_replace`], unless
/// `force`. A forced write never lowers the serial: it gets a serial above the stored one,
/// so that plans made against the replaced state are recognised as stale.
pub fn push(
    to: &dyn Backend,
    mut incoming: StateDocument,
    force: bool,
) -> Result<Transferred, StateError> {
    let current = to.load()?;
    if !force {
        check_replace(current.as_ref(), &incoming)?;
    }
    if let Some(current) = &current {
        if same_content(current, &incoming) {
            return Ok(Transferred::AlreadyThere);
        }
        if force && incoming.serial <= current.serial {
            incoming.serial = current.serial + 1;
        }
    }
    to.save(&incoming)?;
    Ok(Transferred::Written {
        serial: incoming.serial,
    })
}

/// Copy the state of `from` into `to` (the caller holds both locks): the snapshot with its
/// journal replayed, written as one snapshot. Fails when `from` has no state.
pub fn migrate(
    from: &dyn Backend,
    to: &dyn Backend,
    force: bool,
) -> Result<(StateDocument, Transferred), StateError> {
    let doc = from.load()?.ok_or_else(|| {
        StateError::PushRejected(format!(
            "there is no state to migrate in the {}",
            from.describe()
        ))
    })?;
    let done = push(to, doc.clone(), force)?;
    Ok((doc, done))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::tests::instance;
    use crate::LocalBackend;

    fn backend() -> (tempfile::TempDir, LocalBackend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = LocalBackend::new(dir.path().join("state.json"));
        (dir, backend)
    }

    #[test]
    fn push_refuses_other_lineages_and_older_serials() {
        let (_dir, to) = backend();
        let mut stored = StateDocument::new();
        stored.serial = 5;
        stored.upsert(instance("mesh_data.a"));
        assert_eq!(
            push(&to, stored.clone(), false).expect("push"),
            Transferred::Written { serial: 5 }
        );
        assert_eq!(
            push(&to, stored.clone(), false).expect("push"),
            Transferred::AlreadyThere
        );

        let other = StateDocument::new();
        let err = push(&to, other.clone(), false).expect_err("lineage");
        assert!(err.to_string().contains("different states"), "{err}");
        assert!(
            err.to_string().ends_with("use -force to replace it anyway"),
            "{err}"
        );

        let mut older = stored.clone();
        older.serial = 4;
        older.remove("mesh_data.a");
        let err = push(&to, older.clone(), false).expect_err("older");
        assert!(
            err.to_string()
                .contains("older than the stored state (serial 5)"),
            "{err}"
        );

        let mut same_serial = older.clone();
        same_serial.serial = 5;
        let err = push(&to, same_serial, false).expect_err("same serial");
        assert!(err.to_string().contains("same serial (5)"), "{err}");

        let mut newer = older.clone();
        newer.serial = 6;
        assert_eq!(
            push(&to, newer, false).expect("push"),
            Transferred::Written { serial: 6 }
        );

        // Forced: written, with a serial above the stored one.
        assert_eq!(
            push(&to, older, true).expect("forced"),
            Transferred::Written { serial: 7 }
        );
        let loaded = Backend::load(&to).expect("load").expect("present");
        assert_eq!(loaded.serial, 7);
        assert!(loaded.resources.is_empty());
        assert_eq!(
            push(&to, other.clone(), true).expect("forced"),
            Transferred::Written { serial: 8 }
        );
        assert_eq!(
            Backend::load(&to).expect("load").expect("present").lineage,
            other.lineage
        );
    }

    #[test]
    fn migrate_copies_snapshot_and_journal() {
        let (_a, from) = backend();
        let (_b, to) = backend();
        let err = migrate(&from, &to, false).expect_err("nothing to migrate");
        assert!(err.to_string().contains("no state to migrate"), "{err}");

        let mut doc = StateDocument::new();
        doc.serial = 1;
        from.save(&doc).expect("save");
        let batch = crate::JournalBatch {
            lineage: doc.lineage.clone(),
            prior_serial: 1,
            serial: 2,
            entries: vec![crate::JournalEntry::upsert(instance("mesh_data.x"))],
        };
        from.append(&batch).expect("append");
        let (copied, done) = migrate(&from, &to, false).expect("migrate");
        assert_eq!(done, Transferred::Written { serial: 2 });
        assert_eq!(copied.addresses(), ["mesh_data.x"]);
        assert_eq!(Backend::load(&to).expect("load"), Some(copied));
        assert!(!to.journal_path().exists());
    }
}
