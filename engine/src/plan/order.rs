//! The configuration-level dependency graph of one module: in which order its resources and
//! module calls can be planned, and the cycle error when there is none.

use std::collections::BTreeMap;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::config::{Module, RefTarget, Reference};
use crate::diagnostics::{Diagnostic, Diagnostics, SourceLocation};

/// A node of a module's configuration graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigNode {
    /// `var.x`.
    Variable(String),
    /// `local.x`.
    Local(String),
    /// `output.x`.
    Output(String),
    /// A resource or data source, by its module-relative address.
    Resource(String),
    /// `module.x`.
    ModuleCall(String),
}

impl ConfigNode {
    fn label(&self) -> String {
        match self {
            ConfigNode::Variable(n) => format!("var.{n}"),
            ConfigNode::Local(n) => format!("local.{n}"),
            ConfigNode::Output(n) => format!("output.{n}"),
            ConfigNode::Resource(a) => a.clone(),
            ConfigNode::ModuleCall(n) => format!("module.{n}"),
        }
    }
}

/// The node a reference points at, if it is declared in `module`; else a diagnostic.
pub(crate) fn node_of(
    module: &Module,
    reference: &Reference,
) -> Result<Option<ConfigNode>, Diagnostic> {
    let missing = |what: &str, name: &str, candidates: Vec<&str>| {
        let mut d = Diagnostic::error(
            format!("Reference to undeclared {what}"),
            format!(
                "{} is not declared in this module",
                reference.target.address()
            ),
            Some(reference.location.clone()),
        );
        if let Some(h) = crate::diagnostics::did_you_mean(name, candidates) {
            d = d.with_help(h);
        }
        d
    };
    Ok(Some(match &reference.target {
        RefTarget::Variable(n) if module.variables.contains_key(n) => ConfigNode::Variable(n.clone()),
        RefTarget::Variable(n) => return Err(missing("input variable", n, module.variables.keys().map(String::as_str).collect())),
        RefTarget::Local(n) if module.locals.contains_key(n) => ConfigNode::Local(n.clone()),
        RefTarget::Local(n) => return Err(missing("local value", n, module.locals.keys().map(String::as_str).collect())),
        RefTarget::Module(n) if module.module_calls.contains_key(n) => ConfigNode::ModuleCall(n.clone()),
        RefTarget::Module(n) => return Err(missing("module", n, module.module_calls.keys().map(String::as_str).collect())),
        RefTarget::Resource { .. } => {
            let address = reference.target.address();
            if !module.resources.contains_key(&address) {
                return Err(missing("resource", &address, module.resources.keys().map(String::as_str).collect()));
            }
            ConfigNode::Resource(address)
        }
        RefTarget::Count | RefTarget::Each | RefTarget::Path | RefTarget::SelfRef => return Ok(None),
        RefTarget::Unknown(name) => {
            return Err(Diagnostic::error(
                "Unknown reference",
                format!("\"{name}\" is not a valid reference; expected var.NAME, local.NAME, module.NAME, data.TYPE.NAME, TYPE.NAME, each, count or path"),
                Some(reference.location.clone()),
            ))
        }
    }))
}

struct NodeInfo {
    location: SourceLocation,
    references: Vec<Reference>,
}

fn nodes_of(module: &Module) -> BTreeMap<ConfigNode, NodeInfo> {
    let mut nodes = BTreeMap::new();
    for (name, v) in &module.variables {
        let mut references = Vec::new();
        if let Some(d) = &v.default {
            references.extend(d.references());
        }
        nodes.insert(
            ConfigNode::Variable(name.clone()),
            NodeInfo {
                location: v.location.clone(),
                references,
            },
        );
    }
    for (name, l) in &module.locals {
        nodes.insert(
            ConfigNode::Local(name.clone()),
            NodeInfo {
                location: l.location.clone(),
                references: l.value.references(),
            },
        );
    }
    for (name, o) in &module.outputs {
        let mut references = o.value.references();
        references.extend(o.depends_on.iter().cloned());
        nodes.insert(
            ConfigNode::Output(name.clone()),
            NodeInfo {
                location: o.location.clone(),
                references,
            },
        );
    }
    for (address, r) in &module.resources {
        let mut references = r.body.references();
        references.extend(r.depends_on.iter().cloned());
        // Plan what may trigger a replacement first, so its planned action is known.
        references.extend(r.lifecycle.replace_triggered_by.iter().cloned());
        match &r.repetition {
            crate::config::Repetition::Count(e) | crate::config::Repetition::ForEach(e) => {
                references.extend(e.references())
            }
            crate::config::Repetition::Single => {}
        }
        nodes.insert(
            ConfigNode::Resource(address.clone()),
            NodeInfo {
                location: r.location.clone(),
                references,
            },
        );
    }
    for (name, c) in &module.module_calls {
        let mut references: Vec<Reference> =
            c.inputs.values().flat_map(|e| e.references()).collect();
        references.extend(c.depends_on.iter().cloned());
        match &c.repetition {
            crate::config::Repetition::Count(e) | crate::config::Repetition::ForEach(e) => {
                references.extend(e.references())
            }
            crate::config::Repetition::Single => {}
        }
        nodes.insert(
            ConfigNode::ModuleCall(name.clone()),
            NodeInfo {
                location: c.location.clone(),
                references,
            },
        );
    }
    nodes
}

/// Check every reference of a module and order its nodes so that each comes after what it
/// refers to. Errors: undeclared references, and cycles (naming every node with file:line).
pub fn config_order(module: &Module) -> Result<Vec<ConfigNode>, Diagnostics> {
    let nodes = nodes_of(module);
    let mut graph: DiGraph<ConfigNode, ()> = DiGraph::new();
    let index: BTreeMap<ConfigNode, NodeIndex> = nodes
        .keys()
        .map(|n| (n.clone(), graph.add_node(n.clone())))
        .collect();
    let mut diags = Diagnostics::new();
    for (node, info) in &nodes {
        for reference in &info.references {
            match node_of(module, reference) {
                Ok(Some(target)) => {
                    graph.update_edge(index[&target], index[node], ());
                }
                Ok(None) => {}
                Err(d) => diags.push(d),
            }
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    match toposort(&graph, None) {
        Ok(order) => Ok(order.into_iter().map(|i| graph[i].clone()).collect()),
        Err(_) => Err(cycle_diagnostics(&graph, &nodes)),
    }
}

fn cycle_diagnostics(
    graph: &DiGraph<ConfigNode, ()>,
    nodes: &BTreeMap<ConfigNode, NodeInfo>,
) -> Diagnostics {
    let mut diags = Diagnostics::new();
    for scc in tarjan_scc(graph) {
        let is_cycle = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
        if !is_cycle {
            continue;
        }
        let mut members: Vec<&ConfigNode> = scc.iter().map(|i| &graph[*i]).collect();
        members.sort();
        let lines: Vec<String> = members
            .iter()
            .map(|n| format!("  {} ({})", n.label(), nodes[*n].location))
            .collect();
        diags.push(
            Diagnostic::error(
                "Cycle in the configuration",
                format!("these objects refer to each other, so none of them can be evaluated first:\n{}", lines.join("\n")),
                Some(nodes[members[0]].location.clone()),
            )
            .with_help("break the cycle by removing one of the references (or a depends_on)"),
        );
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(src: &str) -> std::sync::Arc<Module> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.hcl"), src).expect("write");
        crate::config::load_module_tree(dir.path(), dir.path()).expect("loads")
    }

    #[test]
    fn orders_dependencies_first() {
        let m = module("resource \"mesh_data\" \"b\" { input = local.x }\nlocals { x = mesh_data.a.id }\nresource \"mesh_data\" \"a\" {}\n");
        let order = config_order(&m).expect("ordered");
        let pos = |n: &str| order.iter().position(|o| o.label() == n).expect("present");
        assert!(pos("mesh_data.a") < pos("local.x"));
        assert!(pos("local.x") < pos("mesh_data.b"));
    }

    #[test]
    fn cycles_name_every_member_with_location() {
        let m = module("resource \"mesh_data\" \"a\" { input = mesh_data.b.id }\nresource \"mesh_data\" \"b\" { input = local.c }\nlocals { c = mesh_data.a.id }\n");
        let err = config_order(&m).unwrap_err().to_string();
        for member in [
            "mesh_data.a (main.hcl:1:1)",
            "mesh_data.b (main.hcl:2:1)",
            "local.c (main.hcl:3:10)",
        ] {
            assert!(err.contains(member), "{member} missing from:\n{err}");
        }
    }

    #[test]
    fn undeclared_references_are_reported() {
        let m = module("resource \"mesh_data\" \"a\" { input = var.nme }\nvariable \"name\" {}\n");
        let err = config_order(&m).unwrap_err().to_string();
        assert!(err.contains("did you mean \"name\""), "{err}");
    }
}
