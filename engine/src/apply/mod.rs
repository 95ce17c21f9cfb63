//! Executing a plan: a tokio walk of the operation graph with bounded parallelism.
//!
//! An operation starts as soon as everything it waits for is done. Before a create or update it
//! re-evaluates the resource's configuration with the values applied so far, so that values
//! "known after apply" are known. A failure skips everything that depends on it while
//! independent branches finish. Every completed operation is handed to a [`StateSink`] at once,
//! so state is saved as work completes, not only at the end.

mod operation;
pub mod recovery;
mod schedule;

pub use schedule::{SchedulingOrder, DEFAULT_EXPECTED};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use petgraph::graph::NodeIndex;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::evaluation::Evaluation;
use crate::graph::{OpKind, OperationGraph};
use crate::plan::{Action, Plan};
use crate::provider::ProviderRegistry;
use crate::state_view::{PriorInstance, PriorState};
use crate::value::Value;

/// A change to stored state produced by apply.
#[derive(Debug, Clone, PartialEq)]
pub enum StateUpdate {
    /// Write this instance.
    Upsert(PriorInstance),
    /// Remove the instance at this address (a deposed pseudo-address removes that old object).
    Remove(String),
    /// Keep an old object whose deletion failed after its replacement was created, under
    /// [`crate::address::deposed_address`], so that the next plan destroys it.
    Deposed(PriorInstance),
    /// Replace the root outputs (value, sensitive).
    Outputs(BTreeMap<String, (Value, bool)>),
    /// An operation is about to call its provider: recorded durably first, so that after a
    /// crash the next command looks the object up ([`recovery`]). The outcome (an upsert or
    /// removal of the address) clears it; a failure leaves it for the next command to check.
    Begin {
        /// Create, update or delete.
        kind: InFlightKind,
        /// The planned object (create, update) or the object being deleted.
        instance: PriorInstance,
    },
    /// An operation found in flight was looked up and dealt with.
    Settle(String),
}

pub use recovery::{recover, InFlight, InFlightKind};

/// Where apply sends state changes.
pub trait StateSink: Send + Sync {
    /// Persist these updates durably before returning.
    fn record(&self, updates: Vec<StateUpdate>) -> Result<(), String>;
}

/// What apply reports while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressEvent {
    /// An operation started.
    Started {
        /// Instance.
        address: String,
        /// Operation.
        kind: OpKind,
    },
    /// An operation is still running.
    StillRunning {
        /// Instance.
        address: String,
        /// Operation.
        kind: OpKind,
        /// Time so far.
        elapsed: Duration,
    },
    /// An operation finished.
    Completed {
        /// Instance.
        address: String,
        /// Operation.
        kind: OpKind,
        /// Time taken.
        elapsed: Duration,
        /// The object's `id` attribute, when it has one.
        id: Option<String>,
    },
    /// An operation failed.
    Failed {
        /// Instance.
        address: String,
        /// Operation.
        kind: OpKind,
        /// The error.
        message: String,
    },
}

/// Receives progress events.
pub trait Progress: Send + Sync {
    /// One event.
    fn event(&self, event: ProgressEvent);
}

/// How an apply is interrupted.
#[derive(Clone, Default)]
pub struct Interrupt {
    /// Cancelled on the first Ctrl-C: start nothing new, let running operations finish.
    pub stop_scheduling: CancellationToken,
    /// Cancelled on the second: providers should stop waiting.
    pub abort: CancellationToken,
}

/// Everything an apply needs.
pub struct ApplyInput {
    /// The plan to execute exactly.
    pub plan: Plan,
    /// The configuration and root variables, unmemoized.
    pub evaluation: Arc<Evaluation>,
    /// Configured providers.
    pub providers: ProviderRegistry,
    /// The state the plan was made from (for prior values of each instance).
    pub prior: PriorState,
    /// At most this many operations at once.
    pub parallelism: usize,
    /// Which ready operations start first when they cannot all start at once.
    pub order: SchedulingOrder,
    /// Interrupt tokens.
    pub interrupt: Interrupt,
    /// State persistence.
    pub sink: Arc<dyn StateSink>,
    /// Progress reporting.
    pub progress: Arc<dyn Progress>,
    /// How often to report "Still creating...".
    pub progress_interval: Duration,
}

/// One failed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Instance.
    pub address: String,
    /// Operation.
    pub kind: OpKind,
    /// Message.
    pub message: String,
}

/// What an apply did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApplyReport {
    /// Completed operations.
    pub succeeded: Vec<(String, OpKind)>,
    /// Failed operations.
    pub failed: Vec<Failure>,
    /// Operations not run: (address, kind, why).
    pub skipped: Vec<(String, OpKind, String)>,
    /// Stopped by an interrupt.
    pub interrupted: bool,
    /// Resources added, changed, destroyed.
    pub added: usize,
    /// Updated in place.
    pub changed: usize,
    /// Destroyed.
    pub destroyed: usize,
    /// Errors saving state (apply stops scheduling after one).
    pub state_errors: Vec<String>,
}

impl ApplyReport {
    /// True when everything planned was done.
    pub fn is_success(&self) -> bool {
        self.failed.is_empty()
            && self.skipped.is_empty()
            && !self.interrupted
            && self.state_errors.is_empty()
    }
}

/// Execute a plan.
pub async fn apply(input: ApplyInput) -> ApplyReport {
    let mut report = ApplyReport::default();
    let graph = match OperationGraph::from_plan(&input.plan) {
        Ok(g) => g,
        Err(message) => {
            report.failed.push(Failure {
                address: String::new(),
                kind: OpKind::Update,
                message,
            });
            return report;
        }
    };
    seed_known_values(&input.evaluation, &input.plan);
    if let Err(e) = input.sink.record(keep_updates(&input.plan, &input.prior)) {
        report.state_errors.push(e);
        return report;
    }
    let shared = Arc::new(operation::Shared {
        evaluation: input.evaluation.clone(),
        providers: input.providers.clone(),
        changes: input
            .plan
            .changes
            .iter()
            .map(|c| (c.address.clone(), c.clone()))
            .collect(),
        prior: input.prior.instances.clone(),
        abort: input.interrupt.abort.clone(),
        sink: input.sink.clone(),
        for_each: Default::default(),
    });
    run_graph(&graph, &input, &shared, &mut report).await;
    if report.is_success() || !report.succeeded.is_empty() {
        let outputs = operation::evaluate_outputs(&input.evaluation, &input.plan);
        if let Err(e) = input.sink.record(vec![StateUpdate::Outputs(outputs)]) {
            report.state_errors.push(e);
        }
    }
    report
}

/// Put every planned value into the evaluation, so references resolve before anything runs.
fn seed_known_values(ev: &Evaluation, plan: &Plan) {
    for c in &plan.changes {
        let Some(parsed) = crate::address::InstanceAddress::parse(&c.address) else {
            continue;
        };
        let resource = parsed.resource.to_string();
        let shape = match parsed.key {
            crate::address::InstanceKey::None => crate::evaluation::Shape::Single,
            crate::address::InstanceKey::Index(_) => crate::evaluation::Shape::Count,
            crate::address::InstanceKey::Key(_) => crate::evaluation::Shape::ForEach,
        };
        match c.action {
            Action::Delete => ev.set_empty(&resource, shape),
            _ => ev.set_instance(&resource, shape, parsed.key, c.after.to_value()),
        }
    }
}

/// State writes for instances with nothing to do: refreshed values, fresh data reads, deps.
fn keep_updates(plan: &Plan, prior: &PriorState) -> Vec<StateUpdate> {
    plan.changes
        .iter()
        .filter(|c| c.action == Action::NoOp)
        .filter_map(|c| {
            let value = match c.mode {
                crate::config::ResourceMode::Data => c.after.to_value(),
                crate::config::ResourceMode::Managed => {
                    prior.instances.get(&c.address)?.value.clone()
                }
            };
            Some(StateUpdate::Upsert(PriorInstance {
                address: c.address.clone(),
                mode: c.mode,
                provider: c.provider.clone(),
                resource_type: c.resource_type.clone(),
                value,
                dependencies: c.dependencies.clone(),
                create_before_destroy: c.create_before_destroy,
            }))
        })
        .collect()
}

type Running = JoinSet<(
    NodeIndex,
    Result<operation::Outcome, operation::Failed>,
    Duration,
)>;

fn start(
    running: &mut Running,
    node: NodeIndex,
    op: crate::graph::Operation,
    input: &ApplyInput,
    shared: &Arc<operation::Shared>,
) {
    input.progress.event(ProgressEvent::Started {
        address: op.address.clone(),
        kind: op.kind,
    });
    let shared = shared.clone();
    let progress = input.progress.clone();
    let interval = input.progress_interval;
    running.spawn(async move {
        let started = Instant::now();
        let work = operation::run(&shared, &op);
        tokio::pin!(work);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        let result = loop {
            tokio::select! {
                r = &mut work => break r,
                _ = ticker.tick() => progress.event(ProgressEvent::StillRunning { address: op.address.clone(), kind: op.kind, elapsed: started.elapsed() }),
            }
        };
        (node, result, started.elapsed())
    });
}

async fn run_graph(
    graph: &OperationGraph,
    input: &ApplyInput,
    shared: &Arc<operation::Shared>,
    report: &mut ApplyReport,
) {
    let g = &graph.graph;
    let expected = expected_durations(g, shared);
    let mut schedule = schedule::Schedule::new(g, &expected, input.order);
    let mut running: Running = JoinSet::new();
    let parallelism = input.parallelism.max(1);
    loop {
        let stopping =
            input.interrupt.stop_scheduling.is_cancelled() || !report.state_errors.is_empty();
        while !stopping && running.len() < parallelism {
            let Some(node) = schedule.next() else { break };
            start(&mut running, node, g[node].clone(), input, shared);
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (node, result, elapsed) = match joined {
            Ok(r) => r,
            Err(e) => {
                report.failed.push(Failure {
                    address: String::new(),
                    kind: OpKind::Update,
                    message: format!("internal error: {e}"),
                });
                continue;
            }
        };
        let op = &g[node];
        match result {
            Ok(outcome) => {
                if let Err(e) = input.sink.record(outcome.updates) {
                    report
                        .state_errors
                        .push(format!("saving state after {}: {e}", op.address));
                }
                input.progress.event(ProgressEvent::Completed {
                    address: op.address.clone(),
                    kind: op.kind,
                    elapsed,
                    id: outcome.id,
                });
                count(report, op.kind, shared.changes.get(&op.address));
                report.succeeded.push((op.address.clone(), op.kind));
                schedule.complete(node);
            }
            Err(operation::Failed { message, updates }) => {
                if let Err(e) = input.sink.record(updates) {
                    report
                        .state_errors
                        .push(format!("saving state after {} failed: {e}", op.address));
                }
                input.progress.event(ProgressEvent::Failed {
                    address: op.address.clone(),
                    kind: op.kind,
                    message: message.clone(),
                });
                report.failed.push(Failure {
                    address: op.address.clone(),
                    kind: op.kind,
                    message,
                });
                for n in schedule.fail(node) {
                    report.skipped.push((
                        g[n].address.clone(),
                        g[n].kind,
                        format!("{} failed", op.address),
                    ));
                }
            }
        }
    }
    let failed: BTreeSet<&str> = report.failed.iter().map(|f| f.address.as_str()).collect();
    for n in g.node_indices() {
        let op = &g[n];
        let settled = schedule.done[n.index()]
            || schedule.skipped[n.index()]
            || failed.contains(op.address.as_str());
        if !settled && !op.kind.is_barrier() {
            report.interrupted = true;
            report.skipped.push((
                op.address.clone(),
                op.kind,
                "the apply was interrupted".into(),
            ));
        }
    }
}

/// What each operation is expected to take, by its provider's estimate; [`DEFAULT_EXPECTED`]
/// without one.
fn expected_durations(
    graph: &petgraph::graph::DiGraph<crate::graph::Operation, ()>,
    shared: &operation::Shared,
) -> Vec<Duration> {
    graph
        .node_indices()
        .map(|n| {
            let op = &graph[n];
            if op.kind.is_barrier() {
                return Duration::ZERO;
            }
            let Some(change) = shared.changes.get(&op.address) else {
                return DEFAULT_EXPECTED;
            };
            let value = match op.kind {
                OpKind::Delete | OpKind::DeleteDeposed => change.before.to_value(),
                _ => change.after.to_value(),
            };
            shared
                .providers
                .for_type(&change.resource_type)
                .and_then(|p| p.expected_duration(&change.resource_type, op.kind, &value))
                .unwrap_or(DEFAULT_EXPECTED)
        })
        .collect()
}

/// Count managed resources only, as the closing line reports them.
fn count(report: &mut ApplyReport, kind: OpKind, change: Option<&crate::plan::ResourceChange>) {
    if change.is_none_or(|c| c.mode != crate::config::ResourceMode::Managed) {
        return;
    }
    match kind {
        OpKind::Create => report.added += 1,
        OpKind::Update => report.changed += 1,
        OpKind::Delete | OpKind::DeleteDeposed => report.destroyed += 1,
        OpKind::Read | OpKind::Barrier(_) => {}
    }
}
