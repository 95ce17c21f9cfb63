//! The passes that run after the walk over the configuration: orphans and destroy plans,
//! provider-wide checks, prevent_destroy, targeting, and de-duplicated diagnostics.

use std::collections::{BTreeMap, BTreeSet};

use super::{delete_change, find_resource_config, prevent_destroy_error, Walker};
use crate::address::address_matches;
use crate::config::ResourceMode;
use crate::diagnostics::Diagnostic;
use crate::plan::{Action, PlanMode};
use crate::provider::FindingSeverity;
use crate::state_view::PriorInstance;

impl Walker {
    pub(super) fn plan_orphans(&mut self) {
        let orphans: Vec<PriorInstance> = self
            .prior
            .instances
            .values()
            .filter(|p| !self.seen.contains(&p.address))
            .cloned()
            .collect();
        for prior in orphans {
            let mut change = delete_change(&prior);
            change.reason = Some(match crate::address::parse_deposed(&prior.address) {
                Some(_) => {
                    "it is an old object whose deletion failed after its replacement was created"
                        .to_string()
                }
                None => format!("{} is not in the configuration", prior.address),
            });
            self.changes.push(change);
        }
    }

    pub(super) fn plan_destroy(&mut self) {
        let instances: Vec<PriorInstance> = self.prior.instances.values().cloned().collect();
        for prior in instances {
            self.changes.push(delete_change(&prior));
        }
    }

    /// Let each provider check its planned resources together; findings point at the
    /// resource's block in the spec.
    pub(super) fn check_plan_with_providers(&mut self) {
        if self.options.mode == PlanMode::Destroy {
            return;
        }
        let root = self.ev.root().clone();
        let mut by_provider: BTreeMap<String, Vec<crate::provider::PlannedResource>> =
            BTreeMap::new();
        let checking: BTreeSet<&str> = self
            .providers
            .iter()
            .filter(|(_, p)| p.checks_plan())
            .map(|(name, _)| name.as_str())
            .collect();
        for c in &self.changes {
            if c.mode != ResourceMode::Managed
                || c.action == Action::Delete
                || !checking.contains(c.provider.as_str())
            {
                continue;
            }
            by_provider.entry(c.provider.clone()).or_default().push(
                crate::provider::PlannedResource {
                    address: c.address.clone(),
                    resource_type: c.resource_type.clone(),
                    value: c.after.to_value(),
                },
            );
        }
        for (name, resources) in by_provider {
            let Some(provider) = self.providers.get(&name).cloned() else {
                continue;
            };
            for finding in provider.check_plan(&resources) {
                let location =
                    find_resource_config(&root, &finding.address).map(|r| r.location.clone());
                let detail = match &finding.attribute {
                    Some(a) => format!("{}.{a}: {}", finding.address, finding.message),
                    None => format!("{}: {}", finding.address, finding.message),
                };
                let diagnostic = match finding.severity {
                    FindingSeverity::Error => {
                        Diagnostic::error("Invalid configuration", detail, location)
                    }
                    FindingSeverity::Warning => {
                        Diagnostic::warning("Questionable configuration", detail, location)
                    }
                    FindingSeverity::Info => continue,
                };
                self.diags.push(match &finding.fix {
                    Some(fix) => diagnostic.with_help(fix.clone()),
                    None => diagnostic,
                });
            }
        }
    }

    /// The same problem reached by two paths is reported once.
    pub(super) fn dedup_diagnostics(&mut self) {
        let mut seen = Vec::new();
        self.diags.0.retain(|d| {
            if seen.contains(d) {
                return false;
            }
            seen.push(d.clone());
            true
        });
    }

    /// Refuse to destroy (or replace) what lifecycle.prevent_destroy protects. Runs after
    /// targeting, so an untargeted protected resource does not block a targeted plan.
    pub(super) fn check_prevent_destroy(&mut self) {
        let root = self.ev.root().clone();
        for change in &self.changes {
            let destroys = matches!(
                change.action,
                Action::Delete | Action::DeleteThenCreate | Action::CreateThenDelete
            );
            if !destroys || change.mode != ResourceMode::Managed {
                continue;
            }
            if let Some(resource) = find_resource_config(&root, &change.address) {
                if resource.lifecycle.prevent_destroy {
                    self.diags
                        .push(prevent_destroy_error(&change.address, &resource));
                }
            }
        }
    }

    /// With `-target`, keep only targeted instances and their dependencies (dependents when
    /// destroying); everything else becomes a no-op.
    pub(super) fn apply_targets(&mut self) {
        if self.options.targets.is_empty() {
            return;
        }
        let targets = self.options.targets.clone();
        for target in &targets {
            let known = self
                .changes
                .iter()
                .any(|c| address_matches(target, &c.address));
            if !known {
                self.diags.push(Diagnostic::error(
                    "Invalid target",
                    format!("-target {target} matches no resource in the configuration or state"),
                    None,
                ));
            }
        }
        let mut instances_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in &self.changes {
            instances_of
                .entry(c.resource_address())
                .or_default()
                .push(c.address.clone());
        }
        let mut included: BTreeSet<String> = self
            .changes
            .iter()
            .filter(|c| targets.iter().any(|t| address_matches(t, &c.address)))
            .map(|c| c.address.clone())
            .collect();
        let destroy = self.options.mode == PlanMode::Destroy;
        loop {
            let before = included.len();
            let included_resources: BTreeSet<String> = self
                .changes
                .iter()
                .filter(|c| included.contains(&c.address))
                .map(|c| c.resource_address())
                .collect();
            for c in &self.changes {
                if destroy {
                    if c.dependencies
                        .iter()
                        .any(|d| included_resources.contains(d))
                    {
                        included.insert(c.address.clone());
                    }
                } else if included.contains(&c.address) {
                    for d in &c.dependencies {
                        included.extend(instances_of.get(d).into_iter().flatten().cloned());
                    }
                }
            }
            if included.len() == before {
                break;
            }
        }
        self.changes
            .retain(|c| included.contains(&c.address) || !c.before.value.is_null());
        for c in &mut self.changes {
            if !included.contains(&c.address) {
                c.action = Action::NoOp;
                c.after = c.before.clone();
                c.reason = None;
            }
        }
        self.diags.push(Diagnostic::warning(
            "Resource targeting is in effect",
            "the plan may be incomplete: it covers only the targeted resources and what they depend on. Use -target for exceptional situations, not routinely.",
            None,
        ));
    }
}
