//! One operation of an apply: re-evaluate, re-plan, call the provider, produce state updates.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::{InFlightKind, StateSink, StateUpdate};
use crate::address::{InstanceAddress, InstanceKey, ModulePath};
use crate::config::{Repetition, ResourceMode};
use crate::diagnostics::Diagnostics;
use crate::evaluation::{eval_body, keep_ignored_changes, Evaluation, RepetitionBinding, Shape};
use crate::graph::{OpKind, Operation};
use crate::plan::{Plan, ResourceChange};
use crate::provider::{
    mark_data_result, mark_sensitive, ApplyRequest, PlanRequest, ProviderRegistry, ResourceSchema,
};
use crate::state_view::PriorInstance;
use crate::value::Value;

/// What every operation task shares.
pub(super) struct Shared {
    pub(super) evaluation: Arc<Evaluation>,
    pub(super) providers: ProviderRegistry,
    pub(super) changes: HashMap<String, ResourceChange>,
    pub(super) prior: BTreeMap<String, PriorInstance>,
    pub(super) abort: CancellationToken,
    pub(super) sink: Arc<dyn StateSink>,
    pub(super) for_each: ForEachBindings,
}

/// Record durably that an operation is about to call its provider (see
/// [`StateUpdate::Begin`]); without that record the operation must not start.
fn begin(shared: &Shared, kind: InFlightKind, instance: PriorInstance) -> Result<(), String> {
    shared
        .sink
        .record(vec![StateUpdate::Begin { kind, instance }])
        .map_err(|e| format!("cannot record the operation before starting it: {e}"))
}

/// A completed operation.
pub(super) struct Outcome {
    pub(super) updates: Vec<StateUpdate>,
    pub(super) id: Option<String>,
}

/// A failed operation: the message for the user, and what state must still record.
pub(super) struct Failed {
    pub(super) message: String,
    pub(super) updates: Vec<StateUpdate>,
}

impl From<String> for Failed {
    fn from(message: String) -> Failed {
        Failed {
            message,
            updates: Vec::new(),
        }
    }
}

/// Run one operation, logging its start and end (address, action, duration; the error on
/// failure). Never values: they may be sensitive, and a log is made to be shared.
pub(super) async fn run(shared: &Shared, op: &Operation) -> Result<Outcome, Failed> {
    if matches!(op.kind, OpKind::Barrier(_)) {
        return run_kind(shared, op).await;
    }
    let action = action_name(op.kind);
    tracing::debug!(address = %op.address, action, "operation started");
    let started = Instant::now();
    let result = run_kind(shared, op).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(_) => tracing::debug!(address = %op.address, action, duration_ms, "operation done"),
        // The message is the one the user sees on stderr: providers keep secrets out of it.
        Err(failed) => tracing::debug!(
            address = %op.address,
            action,
            duration_ms,
            error = %failed.message,
            "operation failed"
        ),
    }
    result
}

/// The action of an operation, as logged.
fn action_name(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Create => "create",
        OpKind::Update => "update",
        OpKind::Delete => "delete",
        OpKind::DeleteDeposed => "delete-deposed",
        OpKind::Read => "read",
        OpKind::Barrier(_) => "barrier",
    }
}

async fn run_kind(shared: &Shared, op: &Operation) -> Result<Outcome, Failed> {
    let change = shared
        .changes
        .get(&op.address)
        .ok_or_else(|| format!("{} is not in the plan", op.address))?;
    match op.kind {
        OpKind::Delete => Ok(delete(shared, change, op.kind).await?),
        OpKind::DeleteDeposed => delete(shared, change, op.kind)
            .await
            .map_err(|message| Failed {
                message,
                updates: vec![StateUpdate::Deposed(deposed_instance(shared, change))],
            }),
        OpKind::Create | OpKind::Update => Ok(create_or_update(shared, change, op.kind).await?),
        OpKind::Read => Ok(read_data(shared, change).await?),
        OpKind::Barrier(_) => Ok(Outcome {
            updates: Vec::new(),
            id: None,
        }),
    }
}

/// The old object of a create_before_destroy replacement, as it was before.
fn deposed_instance(shared: &Shared, change: &ResourceChange) -> PriorInstance {
    let id = change
        .before
        .value
        .get("id")
        .and_then(|v| v.as_str())
        .map(|s| s.chars().take(8).collect())
        .unwrap_or_else(|| "00000000".to_string());
    PriorInstance {
        address: crate::address::deposed_address(&change.address, &id),
        value: prior_value(shared, change),
        dependencies: change.prior_dependencies.clone(),
        ..instance_state(change, Value::Null)
    }
}

fn prior_value(shared: &Shared, change: &ResourceChange) -> Value {
    shared
        .prior
        .get(&change.address)
        .map(|p| p.value.clone())
        .unwrap_or_else(|| change.before.to_value())
}

async fn delete(shared: &Shared, change: &ResourceChange, kind: OpKind) -> Result<Outcome, String> {
    let prior = prior_value(shared, change);
    if change.mode == ResourceMode::Managed {
        let instance = match kind {
            OpKind::DeleteDeposed => deposed_instance(shared, change),
            _ => PriorInstance {
                value: prior.clone(),
                ..instance_state(change, Value::Null)
            },
        };
        begin(shared, InFlightKind::Delete, instance)?;
        let provider = shared
            .providers
            .for_type(&change.resource_type)
            .ok_or_else(|| format!("no provider for {}", change.resource_type))?;
        provider
            .delete(ApplyRequest {
                resource_type: change.resource_type.clone(),
                address: change.address.clone(),
                prior: Some(prior.strip_sensitive()),
                planned: Value::Null,
                cancel: shared.abort.clone(),
            })
            .await
            .map_err(|e| e.message)?;
    }
    if kind == OpKind::DeleteDeposed {
        // The replacement already took the address; nothing else to record.
        return Ok(Outcome {
            updates: Vec::new(),
            id: None,
        });
    }
    if let Some(parsed) = InstanceAddress::parse(&change.address) {
        shared
            .evaluation
            .remove_instance(&parsed.resource.to_string(), &parsed.key);
    }
    Ok(Outcome {
        updates: vec![StateUpdate::Remove(change.address.clone())],
        id: None,
    })
}

/// Evaluate the instance's configuration now that what it depends on is applied.
fn final_config(
    shared: &Shared,
    change: &ResourceChange,
    schema: &ResourceSchema,
) -> Result<Value, String> {
    let parsed = InstanceAddress::parse(&change.address)
        .ok_or_else(|| format!("invalid address {}", change.address))?;
    let ev = &shared.evaluation;
    let module = ev.module_at(&parsed.resource.module);
    let config_address = match change.mode {
        ResourceMode::Managed => format!("{}.{}", change.resource_type, change.name),
        ResourceMode::Data => format!("data.{}.{}", change.resource_type, change.name),
    };
    let resource = module.resources.get(&config_address).ok_or_else(|| {
        format!(
            "{} is no longer in the configuration; plan again",
            change.address
        )
    })?;
    let binding = binding_for(
        shared,
        &parsed.resource.module,
        &config_address,
        &resource.repetition,
        &parsed.key,
    )?;
    let scope = ev.scope(&parsed.resource.module, binding);
    let mut diags = Diagnostics::new();
    let what = format!("{} \"{}\"", change.resource_type, change.name);
    let config = eval_body(
        &scope,
        &resource.body,
        &schema.block,
        &what,
        &resource.location,
        &mut diags,
    );
    if diags.has_errors() {
        return Err(diags.to_string());
    }
    if config.is_unknown_deep() {
        return Err(format!("the configuration of {} still has unknown values after everything it depends on was applied", change.address));
    }
    Ok(config)
}

fn binding_for(
    shared: &Shared,
    module: &ModulePath,
    config_address: &str,
    repetition: &Repetition,
    key: &InstanceKey,
) -> Result<RepetitionBinding, String> {
    match (repetition, key) {
        (Repetition::Single, _) => Ok(RepetitionBinding::None),
        (Repetition::Count(_), InstanceKey::Index(i)) => Ok(RepetitionBinding::Count(*i)),
        (Repetition::ForEach(_), InstanceKey::Key(_)) => {
            let bindings =
                shared
                    .for_each
                    .bindings(&shared.evaluation, module, config_address, repetition)?;
            bindings
                .get(key)
                .cloned()
                .ok_or_else(|| format!("for_each no longer has the key {key}"))
        }
        _ => Err(format!(
            "instance key {key} does not match the resource's count/for_each"
        )),
    }
}

/// The `each.key`/`each.value` of every instance of a `for_each` resource, evaluated once per
/// resource and module instance. Evaluating the `for_each` expression again for each instance
/// would make an apply quadratic in the number of instances. Evaluating it once is exact: every
/// instance of a resource waits for the same dependencies, so by the time the first one runs,
/// everything the expression refers to has been applied.
#[derive(Default)]
pub(super) struct ForEachBindings {
    by_resource: Mutex<HashMap<String, Bindings>>,
}

/// The bindings of one resource's instances, by key.
type Bindings = Arc<HashMap<InstanceKey, RepetitionBinding>>;

impl ForEachBindings {
    fn bindings(
        &self,
        ev: &Evaluation,
        module: &ModulePath,
        config_address: &str,
        repetition: &Repetition,
    ) -> Result<Bindings, String> {
        let id = format!("{module} {config_address}");
        if let Some(found) = self.lock().get(&id) {
            return Ok(found.clone());
        }
        let scope = ev.scope(module, RepetitionBinding::None);
        let expanded: HashMap<InstanceKey, RepetitionBinding> = ev
            .expand(repetition, &scope)
            .map_err(|d| d.to_string())?
            .into_iter()
            .map(|b| (b.key(), b))
            .collect();
        let expanded = Arc::new(expanded);
        self.lock().insert(id, expanded.clone());
        Ok(expanded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bindings>> {
        self.by_resource.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Check that the final plan keeps every value the saved plan promised.
fn check_consistent(address: &str, promised: &Value, fin: &Value, at: &str) -> Result<(), String> {
    match (promised.unmark().0, fin.unmark().0) {
        (Value::Unknown, _) => Ok(()),
        (Value::Map(a), Value::Map(b)) => {
            for (k, v) in a {
                let other = b.get(k).cloned().unwrap_or(Value::Null);
                check_consistent(address, v, &other, &format!("{at}.{k}"))?;
            }
            Ok(())
        }
        (Value::List(a), Value::List(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                check_consistent(address, x, y, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        (a, b) if a.strip_sensitive() == b.strip_sensitive() => Ok(()),
        _ => Err(format!(
            "the final configuration of {address} differs from the saved plan at {}; run mesh plan again",
            at.trim_start_matches('.')
        )),
    }
}

async fn create_or_update(
    shared: &Shared,
    change: &ResourceChange,
    kind: OpKind,
) -> Result<Outcome, String> {
    let provider = shared
        .providers
        .for_type(&change.resource_type)
        .ok_or_else(|| format!("no provider for {}", change.resource_type))?
        .clone();
    let schema = shared
        .providers
        .resource_schema(&change.resource_type)
        .ok_or_else(|| format!("unknown resource type {}", change.resource_type))?;
    let config = final_config(shared, change, &schema)?;
    let prior = match kind {
        OpKind::Update => Some(prior_value(shared, change).strip_sensitive()),
        _ => None,
    };
    let mut config_for_plan = config.clone();
    if let (Some(prior), true) = (&prior, kind == OpKind::Update) {
        if let Some(resource) = resource_config(shared, change) {
            keep_ignored_changes(
                &resource.lifecycle.ignore_changes,
                &schema.block,
                prior,
                &mut config_for_plan,
            );
        }
    }
    let planned = provider
        .plan(PlanRequest {
            resource_type: change.resource_type.clone(),
            address: change.address.clone(),
            prior: prior.clone(),
            config: config_for_plan,
        })
        .await
        .map_err(|e| e.message)?;
    check_consistent(
        &change.address,
        &change.after.to_value(),
        &planned.planned,
        "",
    )?;
    let in_flight = match kind {
        OpKind::Update => InFlightKind::Update,
        _ => InFlightKind::Create,
    };
    let planned_value = mark_sensitive(Some(&schema.block), planned.planned.clone(), &[&config]);
    begin(shared, in_flight, instance_state(change, planned_value))?;
    let request = ApplyRequest {
        resource_type: change.resource_type.clone(),
        address: change.address.clone(),
        prior,
        planned: planned.planned.strip_sensitive(),
        cancel: shared.abort.clone(),
    };
    let new_value = match kind {
        OpKind::Update => provider.update(request).await,
        _ => provider.create(request).await,
    }
    .map_err(|e| e.message)?;
    let new_value = mark_sensitive(Some(&schema.block), new_value, &[&config, &planned.planned]);
    let id = new_value
        .get("id")
        .and_then(|v| v.unmark().0.as_str().map(str::to_string));
    record_value(shared, change, &new_value);
    Ok(Outcome {
        updates: vec![StateUpdate::Upsert(instance_state(change, new_value))],
        id,
    })
}

fn resource_config(shared: &Shared, change: &ResourceChange) -> Option<crate::config::Resource> {
    let parsed = InstanceAddress::parse(&change.address)?;
    let module = shared.evaluation.module_at(&parsed.resource.module);
    module
        .resources
        .get(&format!("{}.{}", change.resource_type, change.name))
        .cloned()
}

async fn read_data(shared: &Shared, change: &ResourceChange) -> Result<Outcome, String> {
    let provider = shared
        .providers
        .for_type(&change.resource_type)
        .ok_or_else(|| format!("no provider for {}", change.resource_type))?
        .clone();
    let schema = shared
        .providers
        .data_schema(&change.resource_type)
        .ok_or_else(|| format!("unknown data source {}", change.resource_type))?;
    let config = final_config(shared, change, &schema)?;
    let value = provider
        .read_data(&change.resource_type, config.strip_sensitive())
        .await
        .map_err(|e| e.message)?;
    let value = mark_data_result(Some(&schema.block), value, &config);
    record_value(shared, change, &value);
    Ok(Outcome {
        updates: vec![StateUpdate::Upsert(instance_state(change, value))],
        id: None,
    })
}

fn record_value(shared: &Shared, change: &ResourceChange, value: &Value) {
    let Some(parsed) = InstanceAddress::parse(&change.address) else {
        return;
    };
    let shape = match parsed.key {
        InstanceKey::None => Shape::Single,
        InstanceKey::Index(_) => Shape::Count,
        InstanceKey::Key(_) => Shape::ForEach,
    };
    shared.evaluation.set_instance(
        &parsed.resource.to_string(),
        shape,
        parsed.key,
        value.clone(),
    );
}

fn instance_state(change: &ResourceChange, value: Value) -> PriorInstance {
    PriorInstance {
        address: change.address.clone(),
        mode: change.mode,
        provider: change.provider.clone(),
        resource_type: change.resource_type.clone(),
        value,
        dependencies: change.dependencies.clone(),
        create_before_destroy: change.create_before_destroy,
    }
}

/// Root outputs with applied values.
pub(super) fn evaluate_outputs(ev: &Evaluation, plan: &Plan) -> BTreeMap<String, (Value, bool)> {
    let root = ModulePath::root();
    let scope = ev.scope(&root, RepetitionBinding::None);
    let mut out = BTreeMap::new();
    if plan.mode == crate::plan::PlanMode::Destroy {
        return out;
    }
    for (name, output) in &ev.root().outputs {
        let value = scope.output(name).unwrap_or(Value::Unknown);
        if !value.is_unknown_deep() {
            out.insert(name.clone(), (value, output.sensitive));
        }
    }
    out
}
