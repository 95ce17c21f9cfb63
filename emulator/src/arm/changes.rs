//! The changes a PUT makes besides storing its resource ([`Change`]): children written or
//! deleted with it, server-set properties of related resources. They are all checked first,
//! then applied in the same step as the resource itself (the store is locked meanwhile).

use serde_json::Value as Json;

use super::{behavior, in_progress, merge_patch, stored_body, Ctx, Result};
use crate::model::{ArmErrorBody, ArmId, StoredResource};
use crate::store::{Cloud, Entry};
use crate::types::Change;

/// Changes that passed every check, ready to apply.
#[derive(Default)]
pub(super) struct Planned {
    /// Keys of children to remove with everything below them.
    deletes: Vec<String>,
    /// Children to store, by key.
    writes: Vec<(String, StoredResource)>,
    /// Merge patches for other resources' stored bodies, by key.
    patches: Vec<(String, Json)>,
}

impl Planned {
    /// The keys of the children the PUT's operation holds (and completes).
    pub(super) fn held_keys(&self) -> Vec<String> {
        self.writes.iter().map(|(k, _)| k.clone()).collect()
    }

    /// Apply everything; the written children share the parent's operation `op`.
    pub(super) fn apply(self, cloud: &mut Cloud, op: &str) {
        for key in &self.deletes {
            cloud.remove_tree(key);
        }
        for (key, resource) in self.writes {
            cloud.resources.insert(
                key,
                Entry {
                    resource,
                    operation: Some(op.to_string()),
                },
            );
        }
        for (key, patch) in self.patches {
            if let Some(entry) = cloud.resources.get_mut(&key) {
                merge_patch(&mut entry.resource.body, &patch);
            }
        }
        cloud.dirty = true;
    }
}

/// Check the changes a PUT of `parent` asks for: children must be below `parent` and of
/// served types, none may be in the middle of an operation, and a deleted child (and what is
/// below it) must pass its type's `check_delete`.
pub(super) fn plan(ctx: &Ctx<'_>, parent: &ArmId, changes: Vec<Change>) -> Result<Planned> {
    let prefix = format!("{}/", parent.key());
    let below = |id: &ArmId| -> Result<String> {
        let key = id.key();
        if key.starts_with(&prefix) {
            Ok(key)
        } else {
            Err(ArmErrorBody::new(
                500,
                "InternalServerError",
                format!(
                    "The local cloud's behaviour of {} tried to write {} as a child of {}.",
                    parent.arm_type(),
                    id.to_id(),
                    parent.to_id()
                ),
            ))
        }
    };
    let view = ctx.cloud.view(ctx.base_url);
    let mut planned = Planned::default();
    for change in changes {
        match change {
            Change::PutChild { id, body } => {
                let key = below(&id)?;
                let ty = behavior(ctx, &id)?;
                let existing = ctx.cloud.resources.get(&key);
                if existing.is_some_and(|e| e.operation.is_some()) {
                    return Err(in_progress(&id));
                }
                let stored_id = existing
                    .map(|e| e.resource.id.clone())
                    .unwrap_or_else(|| id.to_id());
                let body = stored_body(&stored_id, &id, ty.arm_type(), body, existing.is_none());
                planned.writes.push((
                    key,
                    StoredResource {
                        id: stored_id,
                        body,
                    },
                ));
            }
            Change::DeleteChild { id } => {
                let key = below(&id)?;
                if !ctx.cloud.resources.contains_key(&key) {
                    continue;
                }
                for k in std::iter::once(key.clone()).chain(ctx.cloud.descendants(&key)) {
                    let (Some(entry), Some(rid)) = (ctx.cloud.resources.get(&k), ArmId::parse(&k))
                    else {
                        continue;
                    };
                    if entry.operation.is_some() {
                        return Err(in_progress(&rid));
                    }
                    if let Some(t) = ctx.types.get(&rid.arm_type().to_ascii_lowercase()) {
                        t.check_delete(&view, &rid, &entry.resource)?;
                    }
                }
                planned.deletes.push(key);
            }
            Change::Patch { id, patch } => {
                let key = id.key();
                if ctx.cloud.resources.contains_key(&key) {
                    planned.patches.push((key, patch));
                }
            }
        }
    }
    Ok(planned)
}
