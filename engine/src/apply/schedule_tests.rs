//! Scheduling order, checked by simulating applies on a virtual clock (no wall time).

use super::*;
use crate::graph::{Barrier, OpKind};

/// A graph of create operations named by `nodes` (name, expected seconds), with `edges`
/// (before, after) between them.
fn graph(nodes: &[(&str, u64)], edges: &[(&str, &str)]) -> (DiGraph<Operation, ()>, Vec<Duration>) {
    let mut g = DiGraph::new();
    let mut index = std::collections::BTreeMap::new();
    let mut expected = Vec::new();
    for (name, seconds) in nodes {
        let n = g.add_node(Operation {
            address: name.to_string(),
            kind: OpKind::Create,
        });
        index.insert(*name, n);
        expected.push(Duration::from_secs(*seconds));
    }
    for (a, b) in edges {
        g.add_edge(index[a], index[b], ());
    }
    (g, expected)
}

/// Run the schedule with `parallelism` workers, each operation taking exactly its expected
/// duration; returns the makespan (seconds) and the order operations started in.
fn simulate(
    g: &DiGraph<Operation, ()>,
    expected: &[Duration],
    parallelism: usize,
    order: SchedulingOrder,
) -> (u64, Vec<String>) {
    let mut schedule = Schedule::new(g, expected, order);
    let mut running: Vec<(u64, NodeIndex)> = Vec::new();
    let mut started = Vec::new();
    let mut now = 0;
    loop {
        while running.len() < parallelism {
            let Some(n) = schedule.next() else { break };
            started.push(g[n].address.clone());
            running.push((now + expected[n.index()].as_secs(), n));
        }
        // Finish the earliest operation (ties: the one started first).
        let Some(i) = (0..running.len()).min_by_key(|i| running[*i].0) else {
            break;
        };
        let (end, n) = running.remove(i);
        now = end;
        schedule.complete(n);
    }
    (now, started)
}

/// The seed topology in miniature: quick network work, a long cluster behind it, and many
/// quick independent tasks that become ready first.
fn seed_like() -> (DiGraph<Operation, ()>, Vec<Duration>) {
    let mut nodes = vec![
        ("rg", 2),
        ("vnet", 5),
        ("subnet", 3),
        ("aks", 300),
        ("istio", 60),
        ("app", 10),
    ];
    let tasks: Vec<String> = (0..8).map(|i| format!("a_dns_{i}")).collect();
    for t in &tasks {
        nodes.push((t.as_str(), 30));
    }
    let mut edges = vec![
        ("rg", "vnet"),
        ("vnet", "subnet"),
        ("subnet", "aks"),
        ("aks", "istio"),
        ("istio", "app"),
    ];
    for t in &tasks {
        edges.push(("rg", t.as_str()));
    }
    graph(&nodes, &edges)
}

#[test]
fn remaining_paths_follow_the_longest_chain() {
    let (g, expected) = seed_like();
    let remaining = remaining_paths(&g, &expected);
    let of = |name: &str| {
        let n = g.node_indices().find(|n| g[*n].address == name).unwrap();
        remaining[n.index()]
    };
    assert_eq!(of("app"), (10_000_000, 1));
    assert_eq!(of("aks"), (370_000_000, 3));
    assert_eq!(of("rg"), (380_000_000, 6));
    assert_eq!(of("a_dns_3"), (30_000_000, 1));
}

#[test]
fn the_critical_path_starts_first_when_workers_are_scarce() {
    let (g, expected) = seed_like();
    let (makespan, started) = simulate(&g, &expected, 1, SchedulingOrder::CriticalPath);
    assert_eq!(&started[..3], ["rg", "vnet", "subnet"]);
    // One worker: everything runs in sequence whatever the order.
    assert_eq!(makespan, 2 + 5 + 3 + 300 + 60 + 10 + 8 * 30);

    let (cp, _) = simulate(&g, &expected, 2, SchedulingOrder::CriticalPath);
    let (fifo, fifo_started) = simulate(&g, &expected, 2, SchedulingOrder::Fifo);
    // Critical path first: the cluster chain never waits, the tasks fill the other worker.
    assert_eq!(cp, 2 + 5 + 3 + 300 + 60 + 10);
    // FIFO: the tasks became ready with the network and go first, delaying the cluster.
    assert_eq!(fifo_started[1], "a_dns_0");
    assert!(fifo > cp, "fifo {fifo} cp {cp}");
}

#[test]
fn enough_workers_reach_the_critical_path_in_any_order() {
    let (g, expected) = seed_like();
    for order in [SchedulingOrder::CriticalPath, SchedulingOrder::Fifo] {
        let (makespan, _) = simulate(&g, &expected, 16, order);
        assert_eq!(makespan, 380);
    }
}

#[test]
fn fifo_starts_in_ready_order_then_address_order() {
    let (g, expected) = graph(&[("c", 1), ("b", 100), ("a", 1), ("d", 1)], &[("a", "d")]);
    let (_, started) = simulate(&g, &expected, 1, SchedulingOrder::Fifo);
    assert_eq!(started, ["a", "b", "c", "d"]);
    let (_, started) = simulate(&g, &expected, 1, SchedulingOrder::CriticalPath);
    assert_eq!(started, ["b", "a", "c", "d"]);
}

#[test]
fn equal_paths_prefer_more_operations_then_the_address() {
    let (g, expected) = graph(&[("x", 4), ("y", 2), ("z", 2), ("w", 4)], &[("y", "z")]);
    let (_, started) = simulate(&g, &expected, 1, SchedulingOrder::CriticalPath);
    assert_eq!(started, ["y", "w", "x", "z"]);
}

#[test]
fn barriers_pass_through_and_count_nothing() {
    let mut g = DiGraph::new();
    let a = g.add_node(Operation {
        address: "a".into(),
        kind: OpKind::Create,
    });
    let ready = g.add_node(Operation {
        address: "a".into(),
        kind: OpKind::Barrier(Barrier::Ready),
    });
    let b = g.add_node(Operation {
        address: "b".into(),
        kind: OpKind::Create,
    });
    g.add_edge(a, ready, ());
    g.add_edge(ready, b, ());
    let expected = vec![
        Duration::from_secs(1),
        Duration::from_secs(99),
        Duration::from_secs(2),
    ];
    assert_eq!(remaining_paths(&g, &expected)[a.index()], (3_000_000, 2));
    let (makespan, started) = simulate(&g, &expected, 4, SchedulingOrder::CriticalPath);
    assert_eq!(
        (makespan, started),
        (3, vec!["a".to_string(), "b".to_string()])
    );
}

#[test]
fn failures_skip_what_depends_on_them() {
    let (g, expected) = seed_like();
    let mut schedule = Schedule::new(&g, &expected, SchedulingOrder::CriticalPath);
    let rg = schedule.next().unwrap();
    schedule.complete(rg);
    let vnet = schedule.next().unwrap();
    assert_eq!(g[vnet].address, "vnet");
    let skipped: Vec<&str> = schedule
        .fail(vnet)
        .into_iter()
        .map(|n| g[n].address.as_str())
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    let mut rest = Vec::new();
    while let Some(n) = schedule.next() {
        rest.push(g[n].address.clone());
    }
    assert_eq!(rest.len(), 8);
    assert!(rest.iter().all(|a| a.starts_with("a_dns_")));
}
