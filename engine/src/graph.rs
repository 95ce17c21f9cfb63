//! Graphs over resource instances: the operation graph apply walks, and the dependency graph
//! `mesh graph` prints as DOT or Mermaid.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use petgraph::algo::{is_cyclic_directed, tarjan_scc};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::plan::{Action, Plan, ResourceChange};

/// One provider call of an apply, or a barrier between resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    /// Create a new object (also the create half of a replacement).
    Create,
    /// Update in place.
    Update,
    /// Delete the object (also the delete half of a destroy-then-create replacement).
    Delete,
    /// Delete the old object after its replacement was created.
    DeleteDeposed,
    /// Read a data source.
    Read,
    /// No work: a point in the order, one per resource and rule (see [`Barrier`]). Barriers
    /// keep the graph linear in size: N instances depending on M instances of another
    /// resource need N + M edges through a barrier, not N × M.
    Barrier(Barrier),
}

/// The ordering points of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Barrier {
    /// Every create, update and read of the resource's instances is done.
    Ready,
    /// Every dependent that is being deleted has been deleted.
    DependentsDeleted,
    /// Every dependent has been created or updated away from the old objects.
    DependentsMoved,
}

impl OpKind {
    /// "creating", "destroying"... for progress lines.
    pub fn progressive(self) -> &'static str {
        match self {
            OpKind::Create => "Creating",
            OpKind::Update => "Modifying",
            OpKind::Delete | OpKind::DeleteDeposed => "Destroying",
            OpKind::Read => "Reading",
            OpKind::Barrier(_) => "Waiting",
        }
    }

    /// "creation", "destruction"... for completion lines.
    pub fn noun(self) -> &'static str {
        match self {
            OpKind::Create => "Creation",
            OpKind::Update => "Modifications",
            OpKind::Delete | OpKind::DeleteDeposed => "Destruction",
            OpKind::Read => "Read",
            OpKind::Barrier(_) => "Barrier",
        }
    }

    /// True for barriers, which involve no provider.
    pub fn is_barrier(self) -> bool {
        matches!(self, OpKind::Barrier(_))
    }
}

/// An operation on one instance (or, for barriers, on a resource address).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Operation {
    /// The instance (the resource, for barriers).
    pub address: String,
    /// What is done.
    pub kind: OpKind,
}

/// Operations and the order constraints between them (edge a → b: a before b).
pub struct OperationGraph {
    /// The graph.
    pub graph: DiGraph<Operation, ()>,
}

/// The resource address of a change: its module path and `type.name`, without key.
fn resource_of(change: &ResourceChange) -> String {
    change.resource_address()
}

struct Builder {
    graph: DiGraph<Operation, ()>,
    nodes: BTreeMap<(String, OpKind), NodeIndex>,
    edges: BTreeSet<(NodeIndex, NodeIndex)>,
}

impl Builder {
    fn node(&mut self, address: &str, kind: OpKind) -> NodeIndex {
        if let Some(n) = self.nodes.get(&(address.to_string(), kind)) {
            return *n;
        }
        let n = self.graph.add_node(Operation {
            address: address.to_string(),
            kind,
        });
        self.nodes.insert((address.to_string(), kind), n);
        n
    }

    fn op(&self, address: &str, kind: OpKind) -> Option<NodeIndex> {
        self.nodes.get(&(address.to_string(), kind)).copied()
    }

    fn edge(&mut self, from: NodeIndex, to: NodeIndex) {
        if from != to {
            self.edges.insert((from, to));
        }
    }
}

impl OperationGraph {
    /// Build the operations of a plan. Errors name the operations of a cycle.
    ///
    /// Rules, for an instance X whose resource depends on resource R:
    /// - X is created, updated or read after every instance of R is (R's `Ready` barrier);
    /// - when X is deleted, R's instances are deleted after it (`DependentsDeleted`);
    /// - an instance of R that goes away for good (deleted, or deposed by
    ///   create_before_destroy) waits until X has been created or updated away from it
    ///   (`DependentsMoved`) — X's old dependencies count here too;
    /// - a replacement's halves are ordered: delete then create, or create then delete.
    pub fn from_plan(plan: &Plan) -> Result<OperationGraph, String> {
        let mut b = Builder {
            graph: DiGraph::new(),
            nodes: BTreeMap::new(),
            edges: BTreeSet::new(),
        };
        let mut resources: BTreeMap<String, Vec<&ResourceChange>> = BTreeMap::new();
        for c in &plan.changes {
            for kind in kinds_of(c.action) {
                b.node(&c.address, kind);
            }
            if c.action != Action::NoOp {
                resources.entry(resource_of(c)).or_default().push(c);
            }
        }
        // Each resource's own barriers.
        for (resource, changes) in &resources {
            for c in changes {
                let a = c.address.as_str();
                for kind in [OpKind::Create, OpKind::Update, OpKind::Read] {
                    if let Some(x) = b.op(a, kind) {
                        let ready = b.node(resource, OpKind::Barrier(Barrier::Ready));
                        b.edge(x, ready);
                    }
                }
                if let Some(d) = b.op(a, OpKind::Delete) {
                    let deleted = b.node(resource, OpKind::Barrier(Barrier::DependentsDeleted));
                    b.edge(deleted, d);
                    if c.action == Action::Delete {
                        let moved = b.node(resource, OpKind::Barrier(Barrier::DependentsMoved));
                        b.edge(moved, d);
                    }
                }
                if let Some(d) = b.op(a, OpKind::DeleteDeposed) {
                    let moved = b.node(resource, OpKind::Barrier(Barrier::DependentsMoved));
                    b.edge(moved, d);
                }
                if let (Some(d), Some(cr)) = (b.op(a, OpKind::Delete), b.op(a, OpKind::Create)) {
                    b.edge(d, cr);
                }
                if let (Some(cr), Some(d)) =
                    (b.op(a, OpKind::Create), b.op(a, OpKind::DeleteDeposed))
                {
                    b.edge(cr, d);
                }
            }
        }
        // Each instance's relations to the resources it depends on.
        for c in plan.changes.iter().filter(|c| c.action != Action::NoOp) {
            let a = c.address.as_str();
            for dep in &c.dependencies {
                if !resources.contains_key(dep) {
                    continue;
                }
                let ready = b.node(dep, OpKind::Barrier(Barrier::Ready));
                for kind in [OpKind::Create, OpKind::Update, OpKind::Read] {
                    if let Some(x) = b.op(a, kind) {
                        b.edge(ready, x);
                    }
                }
            }
            let all_deps: BTreeSet<&String> =
                c.dependencies.iter().chain(&c.prior_dependencies).collect();
            for dep in all_deps {
                if !resources.contains_key(dep.as_str()) {
                    continue;
                }
                if let Some(d) = b.op(a, OpKind::Delete) {
                    let deleted = b.node(dep, OpKind::Barrier(Barrier::DependentsDeleted));
                    b.edge(d, deleted);
                }
                for kind in [OpKind::Create, OpKind::Update, OpKind::DeleteDeposed] {
                    if let Some(x) = b.op(a, kind) {
                        let moved = b.node(dep, OpKind::Barrier(Barrier::DependentsMoved));
                        b.edge(x, moved);
                    }
                }
            }
        }
        let Builder {
            mut graph, edges, ..
        } = b;
        for (x, y) in edges {
            graph.add_edge(x, y, ());
        }
        if is_cyclic_directed(&graph) {
            let cycle: Vec<String> = tarjan_scc(&graph)
                .into_iter()
                .filter(|scc| scc.len() > 1)
                .flatten()
                .filter(|i| !graph[*i].kind.is_barrier())
                .map(|i| format!("{} ({:?})", graph[i].address, graph[i].kind))
                .collect();
            return Err(format!(
                "the planned operations form a cycle: {}",
                cycle.join(", ")
            ));
        }
        Ok(OperationGraph { graph })
    }
}

fn kinds_of(action: Action) -> Vec<OpKind> {
    match action {
        Action::NoOp => vec![],
        Action::Create => vec![OpKind::Create],
        Action::Read => vec![OpKind::Read],
        Action::Update => vec![OpKind::Update],
        Action::Delete => vec![OpKind::Delete],
        Action::DeleteThenCreate => vec![OpKind::Delete, OpKind::Create],
        Action::CreateThenDelete => vec![OpKind::Create, OpKind::DeleteDeposed],
    }
}

/// Output format of `mesh graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

/// The resource-instance dependency graph of a plan: an edge from each instance to what it
/// depends on, sorted for stable output.
pub fn render_dependency_graph(plan: &Plan, format: GraphFormat) -> String {
    let nodes: BTreeSet<&str> = plan.changes.iter().map(|c| c.address.as_str()).collect();
    let mut instances: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for c in &plan.changes {
        instances
            .entry(resource_of(c))
            .or_default()
            .push(c.address.as_str());
    }
    let mut edges: BTreeSet<(&str, &str)> = BTreeSet::new();
    for c in &plan.changes {
        for d in &c.dependencies {
            for target in instances.get(d).into_iter().flatten() {
                edges.insert((c.address.as_str(), target));
            }
        }
    }
    let mut out = String::new();
    match format {
        GraphFormat::Dot => {
            out.push_str("digraph mesh {\n  rankdir = \"RL\";\n  node [shape = box];\n");
            for n in &nodes {
                let _ = writeln!(out, "  {};", dot_id(n));
            }
            for (a, b) in &edges {
                let _ = writeln!(out, "  {} -> {};", dot_id(a), dot_id(b));
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            out.push_str("flowchart RL\n");
            let ids: BTreeMap<&str, String> = nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (*n, format!("n{i}")))
                .collect();
            for n in &nodes {
                let _ = writeln!(out, "  {}[\"{}\"]", ids[n], n.replace('"', "#quot;"));
            }
            for (a, b) in &edges {
                let _ = writeln!(out, "  {} --> {}", ids[a], ids[b]);
            }
        }
    }
    out
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ResourceMode;
    use crate::plan::{MarkedValue, PlanMode, StateRef};

    fn change(address: &str, action: Action, deps: &[&str]) -> ResourceChange {
        ResourceChange {
            address: address.into(),
            module: String::new(),
            mode: ResourceMode::Managed,
            resource_type: "mesh_data".into(),
            name: address.trim_start_matches("mesh_data.").into(),
            provider: "mesh".into(),
            action,
            reason: None,
            before: MarkedValue::null(),
            after: MarkedValue::null(),
            replace_paths: vec![],
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
            prior_dependencies: vec![],
            create_before_destroy: action == Action::CreateThenDelete,
        }
    }

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan {
            format_version: 1,
            mesh_version: "test".into(),
            mode: PlanMode::Normal,
            prior_state: StateRef::default(),
            config_digest: String::new(),
            variables: Default::default(),
            changes,
            outputs: Default::default(),
            targets: vec![],
            warnings: vec![],
            drift: vec![],
            ignored_drift: vec![],
        }
    }

    fn order(p: &Plan) -> Vec<String> {
        let g = OperationGraph::from_plan(p).expect("acyclic");
        petgraph::algo::toposort(&g.graph, None)
            .expect("acyclic")
            .into_iter()
            .map(|i| format!("{}:{:?}", g.graph[i].address, g.graph[i].kind))
            .collect()
    }

    fn before(order: &[String], a: &str, b: &str) -> bool {
        order.iter().position(|x| x == a) < order.iter().position(|x| x == b)
    }

    #[test]
    fn creates_follow_dependencies_and_deletes_reverse_them() {
        let p = plan(vec![
            change("mesh_data.a", Action::Create, &[]),
            change("mesh_data.b", Action::Create, &["mesh_data.a"]),
        ]);
        let o = order(&p);
        assert!(before(&o, "mesh_data.a:Create", "mesh_data.b:Create"));
        let p = plan(vec![
            change("mesh_data.a", Action::Delete, &[]),
            change("mesh_data.b", Action::Delete, &["mesh_data.a"]),
        ]);
        let o = order(&p);
        assert!(before(&o, "mesh_data.b:Delete", "mesh_data.a:Delete"));
    }

    #[test]
    fn create_before_destroy_deletes_after_dependents_move() {
        let p = plan(vec![
            change("mesh_data.a", Action::CreateThenDelete, &[]),
            change("mesh_data.b", Action::Update, &["mesh_data.a"]),
        ]);
        let o = order(&p);
        assert!(before(&o, "mesh_data.a:Create", "mesh_data.b:Update"));
        assert!(before(
            &o,
            "mesh_data.b:Update",
            "mesh_data.a:DeleteDeposed"
        ));
    }

    #[test]
    fn removed_objects_wait_for_former_dependents() {
        let mut user = change("mesh_data.user", Action::Update, &[]);
        user.prior_dependencies = vec!["mesh_data.old".into()];
        let p = plan(vec![change("mesh_data.old", Action::Delete, &[]), user]);
        let o = order(&p);
        assert!(before(&o, "mesh_data.user:Update", "mesh_data.old:Delete"));
    }

    #[test]
    fn renders_dot_and_mermaid() {
        let p = plan(vec![
            change("mesh_data.a", Action::Create, &[]),
            change("mesh_data.b", Action::Create, &["mesh_data.a"]),
        ]);
        assert_eq!(
            render_dependency_graph(&p, GraphFormat::Dot),
            "digraph mesh {\n  rankdir = \"RL\";\n  node [shape = box];\n  \"mesh_data.a\";\n  \"mesh_data.b\";\n  \"mesh_data.b\" -> \"mesh_data.a\";\n}\n"
        );
        assert_eq!(
            render_dependency_graph(&p, GraphFormat::Mermaid),
            "flowchart RL\n  n0[\"mesh_data.a\"]\n  n1[\"mesh_data.b\"]\n  n1 --> n0\n"
        );
    }
}
