//! Which operation starts next.
//!
//! When more operations are ready than the parallelism allows, the order matters: an apply
//! cannot end before its longest chain of dependent operations (the critical path) does, so
//! work on that chain should never wait behind work that has time to spare. By default the
//! ready operation with the longest *remaining* path — its own expected duration plus the
//! longest expected path from it to the end of the graph — starts first; equal paths prefer
//! more operations still to come, then the address (so runs are reproducible). Expected
//! durations come from providers ([`crate::provider::Provider::expected_duration`]); an
//! operation without an estimate counts [`DEFAULT_EXPECTED`]. The FIFO order starts
//! operations in the order they became ready and exists to measure what the priority gains.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, EdgeRef};
use petgraph::Direction;

use crate::graph::Operation;

/// What an operation counts when its provider gives no estimate.
pub const DEFAULT_EXPECTED: Duration = Duration::from_secs(1);

/// The order in which ready operations start when they cannot all start at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchedulingOrder {
    /// The longest remaining expected path first (see the module documentation).
    #[default]
    CriticalPath,
    /// In the order operations became ready (address order among those ready together); for
    /// comparison only.
    Fifo,
}

/// The key of a ready operation: the largest starts first.
type ReadyKey = (u64, u64, Reverse<usize>);

/// Dependency counts, the ready queue, barriers passed through at once, failures' descendants
/// skipped.
pub(super) struct Schedule<'g> {
    graph: &'g DiGraph<Operation, ()>,
    order: SchedulingOrder,
    waiting: Vec<usize>,
    rank: Vec<usize>,
    by_rank: Vec<NodeIndex>,
    /// Per node: remaining expected path in microseconds, and remaining operations.
    remaining: Vec<(u64, u64)>,
    ready: BinaryHeap<ReadyKey>,
    /// How many operations became ready so far (FIFO sequence numbers).
    sequence: u64,
    pub(super) done: Vec<bool>,
    pub(super) skipped: Vec<bool>,
}

impl<'g> Schedule<'g> {
    /// A schedule over `graph`, where operation `n` is expected to take `expected[n]`
    /// (barriers' entries are ignored).
    pub(super) fn new(
        graph: &'g DiGraph<Operation, ()>,
        expected: &[Duration],
        order: SchedulingOrder,
    ) -> Schedule<'g> {
        let mut by_rank: Vec<NodeIndex> = graph.node_indices().collect();
        by_rank.sort_by(|a, b| graph[*a].cmp(&graph[*b]));
        let mut rank = vec![0; graph.node_count()];
        for (r, n) in by_rank.iter().enumerate() {
            rank[n.index()] = r;
        }
        let waiting: Vec<usize> = graph
            .node_indices()
            .map(|n| graph.edges_directed(n, Direction::Incoming).count())
            .collect();
        let mut schedule = Schedule {
            graph,
            order,
            rank,
            remaining: remaining_paths(graph, expected),
            ready: BinaryHeap::new(),
            sequence: 0,
            done: vec![false; graph.node_count()],
            skipped: vec![false; graph.node_count()],
            waiting,
            by_rank,
        };
        let roots: Vec<NodeIndex> = schedule
            .by_rank
            .iter()
            .copied()
            .filter(|n| schedule.waiting[n.index()] == 0)
            .collect();
        for n in roots {
            schedule.make_ready(n);
        }
        schedule
    }

    fn make_ready(&mut self, node: NodeIndex) {
        if self.graph[node].kind.is_barrier() {
            self.complete(node);
            return;
        }
        let rank = Reverse(self.rank[node.index()]);
        let key = match self.order {
            SchedulingOrder::CriticalPath => {
                let (path, operations) = self.remaining[node.index()];
                (path, operations, rank)
            }
            SchedulingOrder::Fifo => (u64::MAX - self.sequence, 0, rank),
        };
        self.sequence += 1;
        self.ready.push(key);
    }

    /// The next operation to start, if any is ready.
    pub(super) fn next(&mut self) -> Option<NodeIndex> {
        while let Some((_, _, Reverse(r))) = self.ready.pop() {
            let node = self.by_rank[r];
            if !self.skipped[node.index()] {
                return Some(node);
            }
        }
        None
    }

    /// Mark `node` done; what waited only for it becomes ready.
    pub(super) fn complete(&mut self, node: NodeIndex) {
        self.done[node.index()] = true;
        let mut next: Vec<NodeIndex> = self
            .graph
            .edges_directed(node, Direction::Outgoing)
            .map(|e| e.target())
            .collect();
        // Address order, so that FIFO sequence numbers do not depend on edge insertion order.
        next.sort_by_key(|n| self.rank[n.index()]);
        for n in next {
            self.waiting[n.index()] -= 1;
            if self.waiting[n.index()] == 0 {
                self.make_ready(n);
            }
        }
    }

    /// Skip everything downstream of a failed operation; returns the skipped operations.
    pub(super) fn fail(&mut self, node: NodeIndex) -> Vec<NodeIndex> {
        let mut out = Vec::new();
        let mut dfs = Dfs::new(self.graph, node);
        while let Some(n) = dfs.next(self.graph) {
            if n != node && !self.skipped[n.index()] {
                self.skipped[n.index()] = true;
                if !self.graph[n].kind.is_barrier() {
                    out.push(n);
                }
            }
        }
        out
    }
}

/// For every node, the longest expected path from its start to the end of the graph
/// (microseconds) and the most operations on any path from it, itself included. Barriers count
/// nothing. A graph with a cycle (which apply refuses before it gets here) gets zeros.
fn remaining_paths(graph: &DiGraph<Operation, ()>, expected: &[Duration]) -> Vec<(u64, u64)> {
    let mut remaining = vec![(0u64, 0u64); graph.node_count()];
    let Ok(order) = petgraph::algo::toposort(graph, None) else {
        return remaining;
    };
    for node in order.into_iter().rev() {
        let (own, count) = if graph[node].kind.is_barrier() {
            (0, 0)
        } else {
            let d = expected
                .get(node.index())
                .copied()
                .unwrap_or(DEFAULT_EXPECTED);
            (u64::try_from(d.as_micros()).unwrap_or(u64::MAX), 1)
        };
        let (path, operations) = graph
            .edges_directed(node, Direction::Outgoing)
            .map(|e| remaining[e.target().index()])
            .fold((0, 0), |(p, o), (q, c)| (p.max(q), o.max(c)));
        remaining[node.index()] = (own.saturating_add(path), count + operations);
    }
    remaining
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
