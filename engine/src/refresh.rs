//! Refresh: read every managed instance in state from its provider, in parallel (bounded), so
//! that plans start from what exists rather than from what was last recorded.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::ResourceMode;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::plan::{DriftKind, MarkedValue, ResourceDrift};
use crate::provider::{mark_sensitive, ProviderRegistry, ReadRequest};
use crate::state_view::{PriorInstance, PriorState};
use crate::value::Value;

/// What refresh found out.
#[derive(Debug, Default)]
pub struct RefreshReport {
    /// Instances that no longer exist.
    pub vanished: Vec<String>,
    /// Instances whose stored values differ from what the provider reports.
    pub changed: Vec<String>,
    /// What changed outside mesh, instance by instance, sorted by address: the stored value
    /// (`before`) and the live one (`after`, null when deleted), both with sensitive marks.
    pub drift: Vec<ResourceDrift>,
}

/// Refresh `prior` in place; at most `parallelism` reads at once.
pub async fn refresh(
    prior: &mut PriorState,
    providers: &ProviderRegistry,
    parallelism: usize,
) -> Result<RefreshReport, Diagnostics> {
    let limit = Arc::new(Semaphore::new(parallelism.max(1)));
    let mut reads = JoinSet::new();
    for instance in prior
        .instances
        .values()
        .filter(|i| i.mode == ResourceMode::Managed)
    {
        let Some(provider) = providers.for_type(&instance.resource_type).cloned() else {
            continue;
        };
        let request = ReadRequest {
            resource_type: instance.resource_type.clone(),
            address: instance.address.clone(),
            current: instance.value.strip_sensitive(),
        };
        let limit = limit.clone();
        reads.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let address = request.address.clone();
            (address, provider.read(request).await)
        });
    }
    let mut report = RefreshReport::default();
    let mut diags = Diagnostics::new();
    while let Some(joined) = reads.join_next().await {
        let Ok((address, result)) = joined else {
            continue;
        };
        let Some(instance) = prior.instances.get_mut(&address) else {
            continue;
        };
        match result {
            Ok(Some(value)) => {
                let value = remark(&instance.value, value, providers, &instance.resource_type);
                if value.strip_sensitive() != instance.value.strip_sensitive() {
                    report.changed.push(address.clone());
                    report
                        .drift
                        .push(drift_entry(instance, DriftKind::Changed, &value));
                }
                instance.value = value;
            }
            Ok(None) => {
                report
                    .drift
                    .push(drift_entry(instance, DriftKind::Deleted, &Value::Null));
                report.vanished.push(address);
            }
            Err(e) => diags.push(Diagnostic::error(
                format!("Error refreshing {address}"),
                e.message,
                None,
            )),
        }
    }
    for address in &report.vanished {
        prior.instances.remove(address);
    }
    report.vanished.sort();
    report.changed.sort();
    report.drift.sort_by(|a, b| a.address.cmp(&b.address));
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(report)
}

/// One drift entry: what state recorded for `instance` against what the provider reports.
fn drift_entry(instance: &PriorInstance, kind: DriftKind, live: &Value) -> ResourceDrift {
    ResourceDrift {
        address: instance.address.clone(),
        resource_type: instance.resource_type.clone(),
        provider: instance.provider.clone(),
        kind,
        before: MarkedValue::from_value(&instance.value),
        after: MarkedValue::from_value(live),
    }
}

/// Keep the sensitive marks of the stored value and of the schema on a freshly read value.
fn remark(old: &Value, new: Value, providers: &ProviderRegistry, resource_type: &str) -> Value {
    let schema = providers.resource_schema(resource_type);
    mark_sensitive(schema.as_ref().map(|s| &s.block), new, &[old])
}
