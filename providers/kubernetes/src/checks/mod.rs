//! Mesh rules: what `mesh check` (and, as warnings, `mesh plan`) says about a multi-cluster
//! mesh before anything is applied — from the planned values of every resource of the
//! deployment (Azure, PKI, Kubernetes, Istio), grouped per cluster by [`MeshModel`].
//!
//! One file per rule family:
//!
//! | family | file | asks |
//! | --- | --- | --- |
//! | trust | [`trust`] | do all clusters' CAs chain to one root; is any istiod left on its self-signed CA; do certificates expire soon |
//! | identity | [`identity`] | one meshID, unique clusterNames, istio-system labelled with each control plane's network |
//! | discovery | [`discovery`] | does every primary hold a remote secret for every other cluster, pointing at it |
//! | networks | [`networks`] | east-west gateways between networks; routable, disjoint pod ranges within one |
//! | services | [`services`] | hosts resolve where they are called; subsets, destinations, ServiceEntries, VIPs |
//! | injection | [`injection`] | namespaces labelled for a revision that exists in their cluster |
//!
//! Values known only after apply are seen through the deployment's placeholders, which name
//! the attribute they will come from (so "which root signs this intermediate" has an answer
//! before either exists). A rule that still cannot decide says nothing, or — when the answer
//! matters — reports an info finding saying what it waits for. Each finding names the
//! resource it is about, the other resources involved and the fix.

pub mod discovery;
pub mod identity;
pub mod injection;
pub mod model;
pub mod networks;
pub mod registry;
pub mod services;
pub mod trust;
pub mod values;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_routing;
#[cfg(test)]
mod tests_topology;

use mesh_engine::provider::{Deployment, FindingSeverity, PlanFinding};
use time::OffsetDateTime;

pub use model::MeshModel;

/// A family of mesh rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// Certificates and roots of trust.
    Trust,
    /// Mesh ID, cluster names and networks.
    Identity,
    /// Remote secrets.
    Discovery,
    /// East-west gateways and pod ranges.
    Networks,
    /// Services, routing rules and ServiceEntries.
    Services,
    /// Sidecar injection.
    Injection,
}

impl Rule {
    /// The family's name, as findings carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Trust => "trust",
            Rule::Identity => "identity",
            Rule::Discovery => "discovery",
            Rule::Networks => "networks",
            Rule::Services => "services",
            Rule::Injection => "injection",
        }
    }

    /// An error finding of this family about `address`.
    pub fn error(self, address: &str, message: impl Into<String>) -> PlanFinding {
        self.finding(FindingSeverity::Error, address, message)
    }

    /// A warning finding of this family about `address`.
    pub fn warning(self, address: &str, message: impl Into<String>) -> PlanFinding {
        self.finding(FindingSeverity::Warning, address, message)
    }

    /// An info finding of this family about `address`.
    pub fn info(self, address: &str, message: impl Into<String>) -> PlanFinding {
        self.finding(FindingSeverity::Info, address, message)
    }

    fn finding(
        self,
        severity: FindingSeverity,
        address: &str,
        message: impl Into<String>,
    ) -> PlanFinding {
        PlanFinding {
            address: address.to_string(),
            message: message.into(),
            severity,
            rule: Some(self.as_str().to_string()),
            ..PlanFinding::default()
        }
    }
}

/// Builder-style additions to a finding.
pub trait FindingExt {
    /// The fix.
    fn fix(self, fix: impl Into<String>) -> Self;
    /// Other resources involved (empty and repeated addresses are left out).
    fn related<I, S>(self, addresses: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>;
    /// The attribute at fault.
    fn at(self, attribute: &str) -> Self;
}

impl FindingExt for PlanFinding {
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    fn related<I, S>(mut self, addresses: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for address in addresses {
            let address = address.into();
            if address.is_empty() || address == self.address || self.related.contains(&address) {
                continue;
            }
            self.related.push(address);
        }
        self
    }

    fn at(mut self, attribute: &str) -> Self {
        self.attribute = Some(attribute.to_string());
        self
    }
}

/// Every mesh rule over a deployment; `now` decides which certificates expire soon.
pub fn check(deployment: &Deployment, now: OffsetDateTime) -> Vec<PlanFinding> {
    let model = MeshModel::build(deployment);
    let mut findings = Vec::new();
    findings.extend(trust::check(&model, now));
    findings.extend(identity::check(&model));
    findings.extend(discovery::check(&model));
    findings.extend(networks::check(&model));
    findings.extend(services::check(&model));
    findings.extend(injection::check(&model));
    findings.extend(unplaced(&model));
    findings
}

/// Resources no rule could look at, said once.
fn unplaced(model: &MeshModel<'_>) -> Vec<PlanFinding> {
    let Some(first) = model.unplaced.first() else {
        return Vec::new();
    };
    vec![Rule::Identity
        .info(
            first,
            format!(
                "mesh check cannot tell which cluster {} lives in until its cluster is known \
                 (after apply); rules skip it",
                if model.unplaced.len() == 1 {
                    "this resource".to_string()
                } else {
                    format!("this resource and {} others", model.unplaced.len() - 1)
                }
            ),
        )
        .related(model.unplaced.iter().skip(1).cloned())]
}
