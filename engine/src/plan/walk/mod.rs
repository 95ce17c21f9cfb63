//! The plan walk: evaluate the configuration module instance by module instance, in
//! dependency order, ask providers for planned changes, and collect them into a [`Plan`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

mod deployment;
mod passes;

use super::deps::DependencyTracker;
use super::{
    config_order, Action, ConfigNode, MarkedValue, OutputChange, Plan, PlanMode, ResourceChange,
    StateRef, PLAN_FORMAT_VERSION,
};
use crate::address::{address_matches, InstanceKey, ModulePath};
use crate::config::{Module, Repetition, Resource, ResourceMode};
use crate::diagnostics::{did_you_mean, Diagnostic, Diagnostics};
use crate::evaluation::{eval_body, keep_ignored_changes, Evaluation, RepetitionBinding, Shape};
use crate::provider::{LocatedFinding, PlanRequest, ProviderRegistry, ResourceSchema};
use crate::state_view::{PriorInstance, PriorState};
use crate::value::{PathStep, Value};
use deployment::wants_deployment;

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Normal or destroy.
    pub mode: PlanMode,
    /// `-target` addresses (with their dependencies; dependents for destroy).
    pub targets: Vec<String>,
    /// `-replace` addresses.
    pub replace: Vec<String>,
}

/// Everything a plan is made from.
pub struct PlanInput {
    /// The evaluation holding the configuration and root variables.
    pub evaluation: Arc<Evaluation>,
    /// Providers, configured.
    pub providers: ProviderRegistry,
    /// The refreshed prior state.
    pub prior: PriorState,
    /// Options.
    pub options: PlanOptions,
    /// Digest of spec files and variables, recorded in the plan.
    pub config_digest: String,
    /// Root variables, recorded in the plan.
    pub variables: BTreeMap<String, Value>,
}

type BoxedFuture<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

struct Walker {
    ev: Arc<Evaluation>,
    providers: ProviderRegistry,
    prior: PriorState,
    options: PlanOptions,
    changes: Vec<ResourceChange>,
    diags: Diagnostics,
    seen: BTreeSet<String>,
    deps: DependencyTracker,
    orders: HashMap<std::path::PathBuf, Vec<ConfigNode>>,
    /// Root variables, for the symbolic evaluation of the deployment check.
    variables: BTreeMap<String, Value>,
    /// Whether some provider checks the deployment (it costs a second evaluation of every
    /// instance, so it is skipped when no provider looks at it).
    check_deployment: bool,
    /// Each managed instance's evaluated configuration, for the deployment check.
    configs: HashMap<String, Value>,
    /// What the providers' deployment checks found.
    findings: Vec<LocatedFinding>,
}

/// A plan and what the providers' deployment checks found in it.
#[derive(Debug, Clone)]
pub struct CheckedPlan {
    /// The plan (its warnings include the findings that are not infos).
    pub plan: Plan,
    /// Every finding of [`crate::provider::Provider::check_deployment`], with locations.
    pub findings: Vec<LocatedFinding>,
    /// The prior state the plan was made from, handed back (a large state is not copied).
    pub prior: PriorState,
}

/// Make a plan. Errors are every diagnostic found; warnings travel in the plan.
pub async fn plan(input: PlanInput) -> Result<Plan, Diagnostics> {
    plan_checked(input).await.map(|checked| checked.plan)
}

/// [`plan`], also returning the findings of the providers' deployment checks.
pub async fn plan_checked(input: PlanInput) -> Result<CheckedPlan, Diagnostics> {
    let mut walker = Walker {
        variables: input.variables.clone(),
        check_deployment: wants_deployment(&input.providers, &input.evaluation),
        configs: HashMap::new(),
        findings: Vec::new(),
        deps: DependencyTracker::new(input.evaluation.clone()),
        ev: input.evaluation,
        providers: input.providers,
        prior: input.prior,
        options: input.options,
        changes: Vec::new(),
        diags: Diagnostics::new(),
        seen: BTreeSet::new(),
        orders: HashMap::new(),
    };
    walker
        .walk_module(ModulePath::root(), BTreeSet::new())
        .await;
    if walker.options.mode == PlanMode::Destroy {
        walker.changes.clear();
        walker.plan_destroy();
    } else {
        walker.plan_orphans();
    }
    walker.check_plan_with_providers();
    walker.check_deployment_with_providers();
    let outputs = walker.plan_outputs();
    walker.apply_targets();
    walker.check_prevent_destroy();
    walker.dedup_diagnostics();
    if walker.diags.has_errors() {
        return Err(walker.diags);
    }
    walker.changes.sort_by(|a, b| a.address.cmp(&b.address));
    let warnings = walker.diags.warnings().map(|d| d.to_string()).collect();
    let plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        mesh_version: env!("CARGO_PKG_VERSION").to_string(),
        mode: walker.options.mode,
        prior_state: StateRef {
            lineage: walker.prior.lineage.clone(),
            serial: walker.prior.serial,
        },
        config_digest: input.config_digest,
        variables: input
            .variables
            .iter()
            .map(|(k, v)| (k.clone(), MarkedValue::from_value(v)))
            .collect(),
        changes: walker.changes,
        outputs,
        targets: walker.options.targets.clone(),
        warnings,
        drift: Vec::new(),
        ignored_drift: Vec::new(),
    };
    Ok(CheckedPlan {
        plan,
        findings: walker.findings,
        prior: walker.prior,
    })
}

impl Walker {
    fn walk_module(&mut self, path: ModulePath, inherited: BTreeSet<String>) -> BoxedFuture<'_> {
        Box::pin(async move {
            let module = self.ev.module_at(&path);
            let order = match self.orders.get(&module.dir) {
                Some(o) => o.clone(),
                None => match config_order(&module) {
                    Ok(o) => {
                        self.orders.insert(module.dir.clone(), o.clone());
                        o
                    }
                    Err(d) => {
                        self.diags.extend(d.0);
                        return;
                    }
                },
            };
            self.check_variables(&path, &module);
            for node in order {
                match node {
                    ConfigNode::Resource(address) => {
                        let resource = module.resources[&address].clone();
                        self.plan_resource(&path, &resource, &inherited).await;
                    }
                    ConfigNode::ModuleCall(name) => {
                        self.plan_module_call(&path, &module, &name, &inherited)
                            .await
                    }
                    _ => {}
                }
            }
            self.evaluate_unreferenced(&path, &module);
        })
    }

    /// Evaluate every local (and a child module's outputs) once, so that errors in values
    /// nothing refers to are reported too.
    fn evaluate_unreferenced(&mut self, path: &ModulePath, module: &Module) {
        let scope = self.ev.scope(path, RepetitionBinding::None);
        for (name, local) in &module.locals {
            if let Err(d) = scope.local(name, &local.location) {
                self.diags.push(d);
            }
        }
        if !path.is_root() {
            for name in module.outputs.keys() {
                if let Err(d) = scope.output(name) {
                    self.diags.push(d);
                }
            }
        }
    }

    async fn plan_module_call(
        &mut self,
        path: &ModulePath,
        module: &Module,
        name: &str,
        inherited: &BTreeSet<String>,
    ) {
        let call = &module.module_calls[name];
        let scope = self.ev.scope(path, RepetitionBinding::None);
        let bindings = match self.ev.expand(&call.repetition, &scope) {
            Ok(b) => b,
            Err(d) => return self.diags.push(d),
        };
        let mut child_inherited = inherited.clone();
        child_inherited.extend(self.deps.depends_on(path, &call.depends_on));
        let instances: Vec<ModulePath> =
            bindings.iter().map(|b| path.child(name, b.key())).collect();
        self.deps
            .record_module_instances(path, name, instances.clone());
        for child in instances {
            self.walk_module(child, child_inherited.clone()).await;
        }
    }

    /// Evaluate every variable of a module instance once, running its validations.
    fn check_variables(&mut self, path: &ModulePath, module: &Module) {
        let scope = self.ev.scope(path, RepetitionBinding::None);
        for (name, var) in &module.variables {
            let value = match scope.variable(name, &var.location) {
                Ok(v) => v,
                Err(d) => {
                    self.diags.push(d);
                    continue;
                }
            };
            if !var.nullable && value.is_null() {
                self.diags.push(Diagnostic::error(
                    "Invalid value for variable",
                    format!("var.{name} must not be null"),
                    Some(var.location.clone()),
                ));
            }
            for validation in &var.validations {
                match crate::eval::evaluate(&validation.condition, &scope) {
                    Ok(v) if v.is_unknown() => {}
                    Ok(v) if matches!(v.unmark().0, Value::Bool(true)) => {}
                    Ok(v) if matches!(v.unmark().0, Value::Bool(false)) => {
                        let message = crate::eval::evaluate(&validation.error_message, &scope)
                            .ok()
                            .and_then(|m| m.unmark().0.as_str().map(str::to_string))
                            .unwrap_or_else(|| "the validation condition failed".into());
                        let shown = if path.is_root() {
                            format!("var.{name}")
                        } else {
                            format!("{path}.var.{name}")
                        };
                        self.diags.push(Diagnostic::error(
                            "Invalid value for variable",
                            format!(
                                "{message}\n\nThis was checked by the validation rule of {shown}."
                            ),
                            Some(validation.condition.location()),
                        ));
                    }
                    Ok(_) => self.diags.push(Diagnostic::error(
                        "Invalid validation condition",
                        "the condition must be a bool",
                        Some(validation.condition.location()),
                    )),
                    Err(d) => self.diags.push(d),
                }
            }
        }
    }

    fn schema_for(&mut self, resource: &Resource) -> Option<ResourceSchema> {
        let schema = match resource.mode {
            ResourceMode::Managed => self.providers.resource_schema(&resource.resource_type),
            ResourceMode::Data => self.providers.data_schema(&resource.resource_type),
        };
        if schema.is_none() {
            let known: Vec<String> = self
                .providers
                .iter()
                .flat_map(|(_, p)| {
                    let s = p.schema();
                    match resource.mode {
                        ResourceMode::Managed => s.resources.keys().cloned().collect::<Vec<_>>(),
                        ResourceMode::Data => s.data_sources.keys().cloned().collect(),
                    }
                })
                .collect();
            let kind = if resource.mode == ResourceMode::Data {
                "data source"
            } else {
                "resource type"
            };
            let mut d = Diagnostic::error(
                format!("Unknown {kind}"),
                format!(
                    "there is no {kind} named \"{}\"; the available ones are: {}",
                    resource.resource_type,
                    known.join(", ")
                ),
                Some(resource.location.clone()),
            );
            if let Some(h) = did_you_mean(&resource.resource_type, known.iter().map(String::as_str))
            {
                d = d.with_help(h);
            }
            self.diags.push(d);
        }
        schema
    }

    async fn plan_resource(
        &mut self,
        path: &ModulePath,
        resource: &Resource,
        inherited: &BTreeSet<String>,
    ) {
        let resource_address = format!("{}{}", path.prefix(), resource.address());
        let shape = match resource.repetition {
            Repetition::Single => Shape::Single,
            Repetition::Count(_) => Shape::Count,
            Repetition::ForEach(_) => Shape::ForEach,
        };
        self.ev.set_empty(&resource_address, shape);
        let scope = self.ev.scope(path, RepetitionBinding::None);
        let bindings = match self.ev.expand(&resource.repetition, &scope) {
            Ok(b) => b,
            Err(d) => return self.diags.push(d),
        };
        let Some(schema) = self.schema_for(resource) else {
            return;
        };
        let mut dependencies = self.deps.of_resource(path, resource);
        dependencies.extend(inherited.iter().cloned());
        for binding in bindings {
            let key = binding.key();
            let address = format!("{resource_address}{key}");
            self.seen.insert(address.clone());
            let what = format!("{} \"{}\"", resource.resource_type, resource.name);
            let scope = self.ev.scope(path, binding);
            let mut diags = Diagnostics::new();
            let config = eval_body(
                &scope,
                &resource.body,
                &schema.block,
                &what,
                &resource.location,
                &mut diags,
            );
            let failed = diags.has_errors();
            self.diags.extend(diags.0);
            if failed {
                continue;
            }
            let change = match resource.mode {
                ResourceMode::Data => self.plan_data(resource, &address, path, config).await,
                ResourceMode::Managed => {
                    self.plan_managed(resource, &schema, &address, path, config)
                        .await
                }
            };
            let Some(mut change) = change else { continue };
            change.dependencies = dependencies
                .iter()
                .filter(|d| **d != resource_address)
                .cloned()
                .collect();
            let exposed = change.after.to_value();
            self.ev.set_instance(&resource_address, shape, key, exposed);
            self.changes.push(change);
        }
    }

    fn base_change(&self, resource: &Resource, address: &str, path: &ModulePath) -> ResourceChange {
        ResourceChange {
            address: address.to_string(),
            module: path.prefix(),
            mode: resource.mode,
            resource_type: resource.resource_type.clone(),
            name: resource.name.clone(),
            provider: crate::provider::provider_name_of(&resource.resource_type).to_string(),
            action: Action::NoOp,
            reason: None,
            before: MarkedValue::null(),
            after: MarkedValue::null(),
            replace_paths: Vec::new(),
            dependencies: Vec::new(),
            prior_dependencies: self
                .prior
                .instances
                .get(address)
                .map(|p| p.dependencies.clone())
                .unwrap_or_default(),
            create_before_destroy: resource.lifecycle.create_before_destroy,
        }
    }

    async fn plan_data(
        &mut self,
        resource: &Resource,
        address: &str,
        path: &ModulePath,
        config: Value,
    ) -> Option<ResourceChange> {
        let mut change = self.base_change(resource, address, path);
        if let Some(prior) = self.prior.instances.get(address) {
            change.before = MarkedValue::from_value(&prior.value);
        }
        if config.is_unknown_deep() {
            change.action = Action::Read;
            change.reason =
                Some("its configuration depends on values known only after apply".into());
            change.after = MarkedValue::from_value(&Value::Unknown);
            return Some(change);
        }
        let provider = self.providers.for_type(&resource.resource_type)?.clone();
        match provider
            .read_data(&resource.resource_type, config.strip_sensitive())
            .await
        {
            Ok(v) => {
                let v = crate::provider::mark_data_result(
                    self.providers
                        .data_schema(&resource.resource_type)
                        .as_ref()
                        .map(|s| &s.block),
                    v,
                    &config,
                );
                change.after = MarkedValue::from_value(&v);
                Some(change)
            }
            Err(e) => {
                self.diags.push(Diagnostic::error(
                    format!("Error reading {address}"),
                    e.message,
                    Some(resource.location.clone()),
                ));
                None
            }
        }
    }

    async fn plan_managed(
        &mut self,
        resource: &Resource,
        schema: &ResourceSchema,
        address: &str,
        path: &ModulePath,
        config: Value,
    ) -> Option<ResourceChange> {
        let provider = self.providers.for_type(&resource.resource_type)?.clone();
        for problem in provider.validate(&resource.resource_type, &config) {
            let detail = match &problem.attribute {
                Some(p) => format!("{}: {}", crate::value::path_to_string(p), problem.message),
                None => problem.message.clone(),
            };
            self.diags.push(Diagnostic::error(
                format!("Invalid {}", resource.resource_type),
                detail,
                Some(resource.location.clone()),
            ));
        }
        let mut change = self.base_change(resource, address, path);
        let prior: Option<PriorInstance> = self.prior.instances.get(address).cloned();
        let mut config = config;
        if let Some(prior) = &prior {
            change.before = MarkedValue::from_value(&prior.value);
            keep_ignored_changes(
                &resource.lifecycle.ignore_changes,
                &schema.block,
                &prior.value,
                &mut config,
            );
        }
        if self.check_deployment {
            self.configs.insert(address.to_string(), config.clone());
        }
        let request = PlanRequest {
            resource_type: resource.resource_type.clone(),
            address: address.to_string(),
            prior: prior.as_ref().map(|p| p.value.strip_sensitive()),
            config: config.clone(),
        };
        let planned = match provider.plan(request.clone()).await {
            Ok(p) => p,
            Err(e) => {
                self.diags.push(Diagnostic::error(
                    format!("Error planning {address}"),
                    e.message,
                    Some(resource.location.clone()),
                ));
                return None;
            }
        };
        let after =
            crate::provider::mark_sensitive(Some(&schema.block), planned.planned, &[&config]);
        let Some(prior) = prior else {
            change.action = Action::Create;
            change.after = MarkedValue::from_value(&after);
            return Some(change);
        };
        let replace_reason = if self.options.replace.iter().any(|r| r == address) {
            Some("replacement requested with -replace".to_string())
        } else if let Some(trigger) = self.replace_trigger(resource, path) {
            Some(format!("replace_triggered_by {trigger} changed"))
        } else if !planned.requires_replace.is_empty() {
            None
        } else if after.strip_sensitive() == prior.value.strip_sensitive() {
            // `before` is the prior value: share it.
            change.after = change.before.clone();
            return Some(change);
        } else {
            change.action = Action::Update;
            change.after = MarkedValue::from_value(&after);
            return Some(change);
        };
        // A replacement: plan the new object as a create so computed values become unknown.
        let fresh = provider
            .plan(PlanRequest {
                prior: None,
                ..request
            })
            .await
            .map(|p| crate::provider::mark_sensitive(Some(&schema.block), p.planned, &[&config]))
            .unwrap_or(after);
        change.action = if resource.lifecycle.create_before_destroy {
            Action::CreateThenDelete
        } else {
            Action::DeleteThenCreate
        };
        change.replace_paths = planned.requires_replace;
        change.reason = replace_reason;
        change.after = MarkedValue::from_value(&fresh);
        Some(change)
    }

    /// The first `replace_triggered_by` reference whose target changes in this plan.
    fn replace_trigger(&self, resource: &Resource, path: &ModulePath) -> Option<String> {
        for reference in &resource.lifecycle.replace_triggered_by {
            let target = format!("{}{}", path.prefix(), reference.target.address());
            // The first step is an instance key when the referenced resource is repeated.
            let module = self.ev.module_at(path);
            let repeated = module
                .resources
                .get(&reference.target.address())
                .is_some_and(|r| !matches!(r.repetition, Repetition::Single));
            let (instance, attr_steps) = match (repeated, reference.steps.split_first()) {
                (true, Some((PathStep::Index(i), rest))) => {
                    (format!("{target}[{i}]"), rest.to_vec())
                }
                (true, Some((PathStep::Key(k), rest))) => (
                    format!("{target}{}", InstanceKey::Key(k.clone())),
                    rest.to_vec(),
                ),
                _ => (target.clone(), reference.steps.clone()),
            };
            for change in self
                .changes
                .iter()
                .filter(|c| address_matches(&instance, &c.address))
            {
                let triggered = if attr_steps.is_empty() {
                    matches!(
                        change.action,
                        Action::Update | Action::DeleteThenCreate | Action::CreateThenDelete
                    )
                } else {
                    let before = change.before.to_value();
                    let after = change.after.to_value();
                    change.action != Action::NoOp
                        && before.get_at(&attr_steps) != after.get_at(&attr_steps)
                };
                if triggered {
                    return Some(reference.target.address());
                }
            }
        }
        None
    }

    fn plan_outputs(&mut self) -> BTreeMap<String, OutputChange> {
        let root = self.ev.root().clone();
        let path = ModulePath::root();
        let scope = self.ev.scope(&path, RepetitionBinding::None);
        let mut outputs = BTreeMap::new();
        for (name, output) in &root.outputs {
            let before = self
                .prior
                .outputs
                .get(name)
                .map(MarkedValue::from_value)
                .unwrap_or_default();
            if self.options.mode == PlanMode::Destroy {
                outputs.insert(
                    name.clone(),
                    OutputChange {
                        before,
                        after: MarkedValue::null(),
                        sensitive: output.sensitive,
                        removed: true,
                    },
                );
                continue;
            }
            match scope.output(name) {
                Ok(v) => {
                    outputs.insert(
                        name.clone(),
                        OutputChange {
                            before,
                            after: MarkedValue::from_value(&v),
                            sensitive: output.sensitive,
                            removed: false,
                        },
                    );
                }
                Err(d) => self.diags.push(d),
            }
        }
        for (name, value) in &self.prior.outputs {
            if !root.outputs.contains_key(name) {
                outputs.insert(
                    name.clone(),
                    OutputChange {
                        before: MarkedValue::from_value(value),
                        after: MarkedValue::null(),
                        sensitive: false,
                        removed: true,
                    },
                );
            }
        }
        outputs
    }
}

fn prevent_destroy_error(address: &str, resource: &Resource) -> Diagnostic {
    Diagnostic::error(
        "Instance cannot be destroyed",
        format!("{address} has lifecycle.prevent_destroy set, but the plan calls for it to be destroyed"),
        Some(resource.location.clone()),
    )
    .with_help("to really destroy it, remove prevent_destroy from its lifecycle block first")
}

fn delete_change(prior: &PriorInstance) -> ResourceChange {
    let base = crate::address::parse_deposed(&prior.address)
        .map(|(b, _)| b)
        .unwrap_or(&prior.address);
    let (module, rest) = split_module(base);
    let name = rest
        .trim_start_matches("data.")
        .split('.')
        .nth(1)
        .unwrap_or_default()
        .split('[')
        .next()
        .unwrap_or_default()
        .to_string();
    ResourceChange {
        address: prior.address.clone(),
        module,
        mode: prior.mode,
        resource_type: prior.resource_type.clone(),
        name,
        provider: prior.provider.clone(),
        action: Action::Delete,
        reason: None,
        before: MarkedValue::from_value(&prior.value),
        after: MarkedValue::null(),
        replace_paths: Vec::new(),
        dependencies: prior.dependencies.clone(),
        prior_dependencies: Vec::new(),
        create_before_destroy: prior.create_before_destroy,
    }
}

/// Split `module.a["x"].mesh_data.b[0]` into (`module.a["x"].`, `mesh_data.b[0]`).
pub(crate) fn split_module(address: &str) -> (String, String) {
    let mut module = String::new();
    let mut rest = address;
    while let Some(after) = rest.strip_prefix("module.") {
        let end = module_step_end(after);
        module.push_str(&rest[..7 + end + 1]);
        rest = &after[end + 1..];
    }
    (module, rest.to_string())
}

fn module_step_end(s: &str) -> usize {
    let mut in_string = false;
    let mut escaped = false;
    for (i, ch) in s.char_indices() {
        match ch {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '.' if !in_string => return i,
            _ => {}
        }
    }
    s.len().saturating_sub(1)
}

/// The configuration of the resource an instance address belongs to, if it still exists.
fn find_resource_config(root: &Arc<Module>, address: &str) -> Option<Resource> {
    let (module_prefix, rest) = split_module(address);
    let mut module = root.clone();
    for step in module_prefix.split("module.").filter(|s| !s.is_empty()) {
        let name = step
            .trim_end_matches('.')
            .split('[')
            .next()
            .unwrap_or_default();
        module = module.module_calls.get(name)?.module.clone();
    }
    let resource_address = rest.split('[').next().unwrap_or_default();
    module.resources.get(resource_address).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_module_prefixes() {
        assert_eq!(
            split_module("module.a[\"x.y\"].module.b.mesh_data.c[0]"),
            (
                "module.a[\"x.y\"].module.b.".to_string(),
                "mesh_data.c[0]".to_string()
            )
        );
        assert_eq!(
            split_module("mesh_data.c"),
            (String::new(), "mesh_data.c".to_string())
        );
    }
}
