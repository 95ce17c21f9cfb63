//! The deployment-wide check: every provider sees every planned managed resource, with its
//! configuration evaluated symbolically (values known only after apply replaced by
//! placeholders naming where they come from; see [`crate::provider::Deployment`]).
//!
//! The symbolic evaluation runs after the walk, on a fresh [`Evaluation`] whose resource
//! instances hold the planned values with their unknowns symbolized; each instance's body is
//! then evaluated again in its module instance and repetition. It is only for checks: nothing
//! of it reaches the plan.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{find_resource_config, Walker};
use crate::address::{InstanceAddress, InstanceKey};
use crate::config::{Module, Repetition, Resource, ResourceMode};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::evaluation::{eval_body, Evaluation, RepetitionBinding, Shape};
use crate::plan::{Action, PlanMode};
use crate::provider::{
    Deployment, DeploymentResource, FindingSeverity, LocatedFinding, Origins, PlanFinding,
    ProviderRegistry,
};
use crate::value::Value;

impl Walker {
    /// Run every provider's [`crate::provider::Provider::check_deployment`]; keep the findings
    /// with their locations, and show warnings and errors as plan warnings.
    pub(super) fn check_deployment_with_providers(&mut self) {
        if !self.check_deployment
            || self.options.mode == PlanMode::Destroy
            || self.diags.has_errors()
        {
            return;
        }
        let deployment = self.deployment();
        let root = self.ev.root().clone();
        let providers: Vec<_> = self
            .providers
            .iter()
            .map(|(name, p)| (name.clone(), p.clone()))
            .collect();
        for (name, provider) in providers {
            for finding in provider.check_deployment(&deployment) {
                let mut locations = BTreeMap::new();
                for address in std::iter::once(&finding.address).chain(&finding.related) {
                    if let Some(r) = find_resource_config(&root, address) {
                        locations.insert(address.clone(), r.location.clone());
                    }
                }
                if let Some(warning) = plan_warning(&finding, &locations) {
                    self.diags.push(warning);
                }
                self.findings.push(LocatedFinding {
                    provider: name.clone(),
                    finding,
                    locations,
                });
            }
        }
    }

    /// The planned managed instances with their symbolic configurations.
    fn deployment(&self) -> Deployment {
        let mut origins = Origins::new();
        let symbolic = Evaluation::new(self.ev.root().clone(), self.variables.clone(), true);
        let live: Vec<_> = self
            .changes
            .iter()
            .filter(|c| c.action != Action::Delete)
            .collect();
        for change in &live {
            let Some(parsed) = InstanceAddress::parse(&change.address) else {
                continue;
            };
            let Some(resource) = find_resource_config(self.ev.root(), &change.address) else {
                continue;
            };
            let value = origins.symbolize(&change.address, &change.after.to_value());
            symbolic.set_instance(
                &parsed.resource.to_string(),
                shape_of(&resource.repetition),
                parsed.key,
                value,
            );
        }
        let mut bindings = BindingCache::default();
        let resources = live
            .iter()
            .filter(|c| c.mode == ResourceMode::Managed)
            .map(|c| {
                let config = self
                    .symbolic_config(&symbolic, &mut bindings, &c.address)
                    .or_else(|| self.configs.get(&c.address).cloned())
                    .unwrap_or(Value::Null);
                DeploymentResource {
                    address: c.address.clone(),
                    resource_type: c.resource_type.clone(),
                    planned: c.after.to_value(),
                    config,
                }
            })
            .collect();
        Deployment::new(resources, origins)
    }

    /// One instance's configuration evaluated on the symbolic values; `None` when that fails
    /// (a function that needs a real value, say).
    fn symbolic_config(
        &self,
        symbolic: &Evaluation,
        bindings: &mut BindingCache,
        address: &str,
    ) -> Option<Value> {
        let parsed = InstanceAddress::parse(address)?;
        let resource = find_resource_config(self.ev.root(), address)?;
        let schema = self.providers.resource_schema(&resource.resource_type)?;
        let path = parsed.resource.module.clone();
        let binding = bindings.binding(symbolic, &parsed, &resource)?;
        let scope = symbolic.scope(&path, binding);
        let mut diags = Diagnostics::new();
        let what = format!("{} \"{}\"", resource.resource_type, resource.name);
        let config = eval_body(
            &scope,
            &resource.body,
            &schema.block,
            &what,
            &resource.location,
            &mut diags,
        );
        (!diags.has_errors()).then_some(config)
    }
}

/// Whether any provider checks a deployment made of the module tree's resource types.
pub(super) fn wants_deployment(providers: &ProviderRegistry, evaluation: &Evaluation) -> bool {
    let mut types = BTreeSet::new();
    collect_resource_types(evaluation.root(), &mut types);
    providers
        .iter()
        .any(|(_, provider)| provider.checks_deployment(&types))
}

fn collect_resource_types(module: &Module, types: &mut BTreeSet<String>) {
    for resource in module.resources.values() {
        if !types.contains(&resource.resource_type) {
            types.insert(resource.resource_type.clone());
        }
    }
    for call in module.module_calls.values() {
        collect_resource_types(&call.module, types);
    }
}

/// The repetition bindings of each resource, expanded once per resource and found by key.
#[derive(Default)]
struct BindingCache {
    by_resource: HashMap<String, Option<HashMap<InstanceKey, RepetitionBinding>>>,
}

impl BindingCache {
    fn binding(
        &mut self,
        symbolic: &Evaluation,
        parsed: &InstanceAddress,
        resource: &Resource,
    ) -> Option<RepetitionBinding> {
        let key = parsed.resource.to_string();
        let all = self.by_resource.entry(key).or_insert_with(|| {
            let path = parsed.resource.module.clone();
            let scope = symbolic.scope(&path, RepetitionBinding::None);
            let bindings = symbolic.expand(&resource.repetition, &scope).ok()?;
            Some(bindings.into_iter().map(|b| (b.key(), b)).collect())
        });
        all.as_ref()?.get(&parsed.key).cloned()
    }
}

fn shape_of(repetition: &Repetition) -> Shape {
    match repetition {
        Repetition::Single => Shape::Single,
        Repetition::Count(_) => Shape::Count,
        Repetition::ForEach(_) => Shape::ForEach,
    }
}

/// A deployment finding as a plan warning (infos are for `mesh check` only).
fn plan_warning(
    finding: &PlanFinding,
    locations: &BTreeMap<String, crate::diagnostics::SourceLocation>,
) -> Option<Diagnostic> {
    if finding.severity == FindingSeverity::Info {
        return None;
    }
    let summary = match &finding.rule {
        Some(rule) => format!("Mesh check ({rule})"),
        None => "Deployment check".to_string(),
    };
    let detail = match &finding.attribute {
        Some(a) => format!("{}.{a}: {}", finding.address, finding.message),
        None => format!("{}: {}", finding.address, finding.message),
    };
    let location = locations.get(&finding.address).cloned();
    let warning = Diagnostic::warning(summary, detail, location);
    Some(match &finding.fix {
        Some(fix) => warning.with_help(fix.clone()),
        None => warning,
    })
}
