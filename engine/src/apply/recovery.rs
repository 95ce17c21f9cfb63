//! After a crash: operations that were recorded as started but never finished are looked up,
//! so that the next plan adopts what a create left behind (instead of creating a duplicate or
//! failing on "already exists") and completes the state of a delete that went through.
//!
//! Each in-flight operation carries the object as it was planned (with its deterministic
//! identity: an ARM ID, a Kubernetes object reference); the provider's `read` says whether it
//! exists.

use crate::provider::{mark_sensitive, ProviderRegistry, ReadRequest};
use crate::state_view::PriorInstance;

use super::StateUpdate;

/// What an operation in flight was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InFlightKind {
    /// Creating the object.
    Create,
    /// Updating it.
    Update,
    /// Deleting it.
    Delete,
}

/// An operation recorded as started and not finished.
#[derive(Debug, Clone, PartialEq)]
pub struct InFlight {
    /// What it was doing.
    pub kind: InFlightKind,
    /// The planned object (create, update) or the one being deleted.
    pub instance: PriorInstance,
}

/// Look every operation in flight up and say what state must record: the object a create or
/// update left (adopted as it is now), the removal of an object whose delete went through,
/// and in every case that the operation is settled. Errors name the instance; the operations
/// they concern stay in flight for the next attempt.
pub async fn recover(
    providers: &ProviderRegistry,
    in_flight: &[InFlight],
) -> (Vec<StateUpdate>, Vec<String>) {
    let mut updates = Vec::new();
    let mut errors = Vec::new();
    for op in in_flight {
        match look_up(providers, op).await {
            Ok(found) => {
                updates.extend(found);
                updates.push(StateUpdate::Settle(op.instance.address.clone()));
            }
            Err(e) => errors.push(format!(
                "cannot check {} (interrupted while it was being {}): {e}",
                op.instance.address,
                match op.kind {
                    InFlightKind::Create => "created",
                    InFlightKind::Update => "updated",
                    InFlightKind::Delete => "deleted",
                }
            )),
        }
    }
    (updates, errors)
}

async fn look_up(providers: &ProviderRegistry, op: &InFlight) -> Result<Vec<StateUpdate>, String> {
    let instance = &op.instance;
    let provider = providers
        .for_type(&instance.resource_type)
        .ok_or_else(|| format!("no provider for {}", instance.resource_type))?;
    let found = provider
        .read(ReadRequest {
            resource_type: instance.resource_type.clone(),
            address: instance.address.clone(),
            current: instance.value.strip_sensitive(),
        })
        .await
        .map_err(|e| e.message)?;
    let schema = providers.resource_schema(&instance.resource_type);
    Ok(match (op.kind, found) {
        // A create or update that reached the provider: keep the object as it is now.
        (InFlightKind::Create | InFlightKind::Update, Some(value)) => {
            let value =
                mark_sensitive(schema.as_ref().map(|s| &s.block), value, &[&instance.value]);
            vec![StateUpdate::Upsert(PriorInstance {
                value,
                ..instance.clone()
            })]
        }
        // A create that never happened: nothing to record. An update of an object that is
        // gone: the next refresh reports it.
        (InFlightKind::Create | InFlightKind::Update, None) => Vec::new(),
        // A delete that went through.
        (InFlightKind::Delete, None) => vec![StateUpdate::Remove(instance.address.clone())],
        // A delete that did not: the object stays in state and the next plan deletes it again.
        (InFlightKind::Delete, Some(_)) => Vec::new(),
    })
}
