//! Graphs over resource instances: the operation graph apply walks, and the dependency graph
//! `mesh graph` prints as DOT or Mermaid.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use petgraph::algo::{is_cyclic_directed, tarjan_scc};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::plan::{Action, Plan, ResourceChange};

/// One provider call (or state-only step) of an apply.
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
}

impl OpKind {
    /// "creating", "destroying"... for progress lines.
    pub fn progressive(self) -> &'static str {
        match self {
            OpKind::Create => "Creating",
            OpKind::Update => "Modifying",
            OpKind::Delete | OpKind::DeleteDeposed => "Destroying",
            OpKind::Read => "Reading",
        }
    }

    /// "creation", "destruction"... for completion lines.
    pub fn noun(self) -> &'static str {
        match self {
            OpKind::Create => "Creation",
            OpKind::Update => "Modifications",
            OpKind::Delete | OpKind::DeleteDeposed => "Destruction",
            OpKind::Read => "Read",
        }
    }
}

/// An operation on one instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Operation {
    /// The instance.
    pub address: String,
    /// What is done.
    pub kind: OpKind,
}

/// Operations and the order constraints between them (edge a → b: a before b).
pub struct OperationGraph {
    /// The graph.
    pub graph: DiGraph<Operation, ()>,
}

impl OperationGraph {
    /// Build the operations of a plan. Errors name the operations of a cycle.
    pub fn from_plan(plan: &Plan) -> Result<OperationGraph, String> {
        let mut graph = DiGraph::new();
        let mut index: BTreeMap<(String, OpKind), NodeIndex> = BTreeMap::new();
        let changes: BTreeMap<&str, &ResourceChange> = plan
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c))
            .collect();
        for c in &plan.changes {
            for kind in kinds_of(c.action) {
                let node = graph.add_node(Operation {
                    address: c.address.clone(),
                    kind,
                });
                index.insert((c.address.clone(), kind), node);
            }
        }
        let op = |address: &str, kind: OpKind| index.get(&(address.to_string(), kind)).copied();
        let mut edges: BTreeSet<(NodeIndex, NodeIndex)> = BTreeSet::new();
        for c in &plan.changes {
            let a = c.address.as_str();
            // The two halves of a replacement.
            if let (Some(d), Some(cr)) = (op(a, OpKind::Delete), op(a, OpKind::Create)) {
                edges.insert((d, cr));
            }
            if let (Some(cr), Some(d)) = (op(a, OpKind::Create), op(a, OpKind::DeleteDeposed)) {
                edges.insert((cr, d));
            }
            for dep in &c.dependencies {
                // Creates and updates come after those of what they depend on.
                for mine in [OpKind::Create, OpKind::Update, OpKind::Read] {
                    for theirs in [OpKind::Create, OpKind::Update, OpKind::Read] {
                        if let (Some(x), Some(y)) = (op(dep, theirs), op(a, mine)) {
                            edges.insert((x, y));
                        }
                    }
                }
                // Deletes go in reverse: a dependent is deleted before what it depends on.
                if let (Some(x), Some(y)) = (op(a, OpKind::Delete), op(dep, OpKind::Delete)) {
                    edges.insert((x, y));
                }
            }
            // An object that goes away (destroyed, or deposed by create_before_destroy) waits
            // for its dependents, old and new, to stop using it.
            for dep in c.dependencies.iter().chain(&c.prior_dependencies) {
                let Some(dep_change) = changes.get(dep.as_str()) else {
                    continue;
                };
                let dep_goes = op(dep, OpKind::DeleteDeposed).or_else(|| match dep_change.action {
                    Action::Delete => op(dep, OpKind::Delete),
                    _ => None,
                });
                if let Some(gone) = dep_goes {
                    for mine in [OpKind::Create, OpKind::Update, OpKind::DeleteDeposed] {
                        if let Some(y) = op(a, mine) {
                            edges.insert((y, gone));
                        }
                    }
                }
            }
        }
        for (x, y) in edges {
            if x != y {
                graph.add_edge(x, y, ());
            }
        }
        if is_cyclic_directed(&graph) {
            let cycle: Vec<String> = tarjan_scc(&graph)
                .into_iter()
                .filter(|scc| scc.len() > 1)
                .flatten()
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
    let mut edges: BTreeSet<(&str, &str)> = BTreeSet::new();
    for c in &plan.changes {
        for d in &c.dependencies {
            if nodes.contains(d.as_str()) {
                edges.insert((c.address.as_str(), d.as_str()));
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
