//! Operations a crashed mesh left in flight (`pending` in the state): looked up before
//! planning, so the plan adopts what a create left behind and forgets what a delete removed;
//! apply then writes the same findings into state. See docs/reliability.md.

use mesh_engine::apply::{recover, InFlight, InFlightKind, StateUpdate};
use mesh_engine::provider::ProviderRegistry;
use mesh_state::{PendingKind, StateDocument};

use crate::state_bridge::{apply_to_document, prior_instance};

/// What the interrupted operations of `doc` amount to now (none when there are none). Tells
/// the user, on stderr, what was found.
pub async fn interrupted(doc: &StateDocument, providers: &ProviderRegistry) -> Vec<StateUpdate> {
    if doc.pending.is_empty() {
        return Vec::new();
    }
    let in_flight: Vec<InFlight> = doc
        .pending
        .iter()
        .map(|p| InFlight {
            kind: match p.operation {
                PendingKind::Create => InFlightKind::Create,
                PendingKind::Update => InFlightKind::Update,
                PendingKind::Delete => InFlightKind::Delete,
            },
            instance: prior_instance(&p.instance),
        })
        .collect();
    let (updates, errors) = recover(providers, &in_flight).await;
    let adopted = count(&updates, |u| matches!(u, StateUpdate::Upsert(_)));
    let removed = count(&updates, |u| matches!(u, StateUpdate::Remove(_)));
    eprintln!(
        "mesh was interrupted during {} operation(s) last time: {adopted} object(s) found and kept, {removed} deletion(s) completed.",
        in_flight.len()
    );
    for e in errors {
        eprintln!("Warning: {e}");
    }
    updates
}

fn count(updates: &[StateUpdate], pick: impl Fn(&StateUpdate) -> bool) -> usize {
    updates.iter().filter(|u| pick(u)).count()
}

/// `doc` with the findings of [`interrupted`] applied (for a plan, which writes nothing).
pub async fn recovered(
    doc: Option<StateDocument>,
    providers: &ProviderRegistry,
) -> Option<StateDocument> {
    let mut doc = doc?;
    let updates = interrupted(&doc, providers).await;
    apply_to_document(&mut doc, updates);
    Some(doc)
}
