//! Which resources a resource depends on: the references of its body, followed through
//! variables, locals and module outputs, plus `depends_on`. Dependencies are resource addresses
//! (`module.net["a"].mesh_data.vnet`), as in Terraform's state: an instance depends on every
//! instance of a resource it refers to, and the operation graph orders them through one
//! barrier per resource, so the graph and the state stay linear in size.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::address::{address_matches, InstanceAddress, ModulePath};
use crate::config::{RefTarget, Reference, Repetition, Resource};
use crate::evaluation::Evaluation;
use crate::value::PathStep;

/// Follows references to the resource instances behind them.
pub(crate) struct DependencyTracker {
    ev: Arc<Evaluation>,
    module_instances: HashMap<String, Vec<ModulePath>>,
    memo: HashMap<String, BTreeSet<String>>,
}

impl DependencyTracker {
    pub(crate) fn new(ev: Arc<Evaluation>) -> DependencyTracker {
        DependencyTracker {
            ev,
            module_instances: HashMap::new(),
            memo: HashMap::new(),
        }
    }

    /// Remember the instances a module call expanded to.
    pub(crate) fn record_module_instances(
        &mut self,
        path: &ModulePath,
        name: &str,
        instances: Vec<ModulePath>,
    ) {
        self.module_instances
            .insert(format!("{}module.{name}", path.prefix()), instances);
    }

    /// Everything a resource's instances depend on.
    pub(crate) fn of_resource(
        &mut self,
        path: &ModulePath,
        resource: &Resource,
    ) -> BTreeSet<String> {
        let mut refs = resource.body.references();
        match &resource.repetition {
            Repetition::Count(e) | Repetition::ForEach(e) => refs.extend(e.references()),
            Repetition::Single => {}
        }
        let mut deps = self.of_references(path, &refs);
        deps.extend(self.depends_on(path, &resource.depends_on));
        deps
    }

    /// The instances named by `depends_on` entries.
    pub(crate) fn depends_on(&mut self, path: &ModulePath, refs: &[Reference]) -> BTreeSet<String> {
        let mut deps = BTreeSet::new();
        for r in refs {
            match &r.target {
                RefTarget::Resource { .. } => {
                    deps.insert(format!("{}{}", path.prefix(), r.target.address()));
                }
                RefTarget::Module(name) => {
                    let call = format!("{}module.{name}", path.prefix());
                    deps.extend(
                        self.ev
                            .instances_under(&call)
                            .into_iter()
                            .filter(|a| address_matches(&call, a))
                            .filter_map(|a| {
                                InstanceAddress::parse(&a).map(|p| p.resource.to_string())
                            }),
                    );
                }
                _ => {}
            }
        }
        deps
    }

    /// The instances behind a set of references.
    pub(crate) fn of_references(
        &mut self,
        path: &ModulePath,
        refs: &[Reference],
    ) -> BTreeSet<String> {
        let mut deps = BTreeSet::new();
        for r in refs {
            deps.extend(self.of_reference(path, r));
        }
        deps
    }

    fn of_reference(&mut self, path: &ModulePath, r: &Reference) -> BTreeSet<String> {
        match &r.target {
            RefTarget::Resource { .. } => {
                BTreeSet::from([format!("{}{}", path.prefix(), r.target.address())])
            }
            RefTarget::Local(name) => self.memoized(format!("{path}|local.{name}"), |t| {
                let module = t.ev.module_at(path);
                match module.locals.get(name) {
                    Some(local) => t.of_references(path, &local.value.references()),
                    None => BTreeSet::new(),
                }
            }),
            RefTarget::Variable(name) => {
                self.memoized(format!("{path}|var.{name}"), |t| t.of_variable(path, name))
            }
            RefTarget::Module(name) => {
                let output = match r.steps.first() {
                    Some(PathStep::Key(k)) => Some(k.clone()),
                    _ => None,
                };
                self.of_module_outputs(path, name, output.as_deref())
            }
            _ => BTreeSet::new(),
        }
    }

    fn of_variable(&mut self, path: &ModulePath, name: &str) -> BTreeSet<String> {
        let Some((parent, (call_name, _))) = path.split_last() else {
            return BTreeSet::new();
        };
        let parent_module = self.ev.module_at(&parent);
        let Some(call) = parent_module.module_calls.get(call_name) else {
            return BTreeSet::new();
        };
        let mut refs = call
            .inputs
            .get(name)
            .map(|e| e.references())
            .unwrap_or_default();
        match &call.repetition {
            Repetition::Count(e) | Repetition::ForEach(e) => refs.extend(e.references()),
            Repetition::Single => {}
        }
        let mut deps = self.of_references(&parent, &refs);
        deps.extend(self.depends_on(&parent, &call.depends_on));
        deps
    }

    fn of_module_outputs(
        &mut self,
        path: &ModulePath,
        name: &str,
        output: Option<&str>,
    ) -> BTreeSet<String> {
        let instances = self
            .module_instances
            .get(&format!("{}module.{name}", path.prefix()))
            .cloned()
            .unwrap_or_default();
        let mut deps = BTreeSet::new();
        for child in instances {
            let module = self.ev.module_at(&child);
            for (out_name, out) in &module.outputs {
                if output.is_some_and(|o| o != out_name && module.outputs.contains_key(o)) {
                    continue;
                }
                let mut refs = out.value.references();
                refs.extend(out.depends_on.iter().cloned());
                let found = self.memoized(format!("{child}|output.{out_name}"), |t| {
                    t.of_references(&child, &refs)
                });
                deps.extend(found);
            }
        }
        deps
    }

    fn memoized(
        &mut self,
        key: String,
        compute: impl FnOnce(&mut Self) -> BTreeSet<String>,
    ) -> BTreeSet<String> {
        if let Some(found) = self.memo.get(&key) {
            return found.clone();
        }
        let found = compute(self);
        self.memo.insert(key, found.clone());
        found
    }
}
