//! Refresh: read every managed instance in state from its provider, in parallel (bounded), so
//! that plans start from what exists rather than from what was last recorded.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::ResourceMode;
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::plan::{DriftKind, MarkedValue, ResourceDrift};
use crate::provider::{mark_sensitive, ProviderRegistry, ReadRequest, ResourceSchema};
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

/// Receives refresh progress.
pub trait RefreshProgress: Send + Sync {
    /// `done` of `total` instances have been read (called once with `done == 0` before the
    /// first read, then after every read, in order).
    fn refreshed(&self, done: usize, total: usize);
}

/// Progress that goes nowhere.
pub struct NoRefreshProgress;

impl RefreshProgress for NoRefreshProgress {
    fn refreshed(&self, _done: usize, _total: usize) {}
}

/// Refresh `prior` in place; at most `parallelism` reads at once.
pub async fn refresh(
    prior: &mut PriorState,
    providers: &ProviderRegistry,
    parallelism: usize,
) -> Result<RefreshReport, Diagnostics> {
    refresh_with_progress(prior, providers, parallelism, &NoRefreshProgress).await
}

/// [`refresh`], reporting how many instances have been read. Providers pace their own requests
/// (the Azure provider adapts to ARM's throttling), so `parallelism` is only a ceiling.
pub async fn refresh_with_progress(
    prior: &mut PriorState,
    providers: &ProviderRegistry,
    parallelism: usize,
    progress: &dyn RefreshProgress,
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
    // A provider builds its whole schema on every call: look each type up once.
    let mut schemas: HashMap<String, Option<ResourceSchema>> = HashMap::new();
    let total = reads.len();
    let mut done = 0;
    progress.refreshed(done, total);
    while let Some(joined) = reads.join_next().await {
        done += 1;
        progress.refreshed(done, total);
        let Ok((address, result)) = joined else {
            continue;
        };
        let Some(instance) = prior.instances.get_mut(&address) else {
            continue;
        };
        match result {
            Ok(Some(value)) => {
                let schema = schemas
                    .entry(instance.resource_type.clone())
                    .or_insert_with(|| providers.resource_schema(&instance.resource_type));
                let value = remark(&instance.value, value, schema.as_ref());
                let volatile = volatile_attributes(schema.as_ref());
                if without(&value, &volatile) != without(&instance.value, &volatile) {
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

/// The attributes of a type whose changes are not drift.
fn volatile_attributes(schema: Option<&ResourceSchema>) -> Vec<String> {
    schema
        .map(|s| {
            s.block
                .attributes
                .iter()
                .filter(|(_, a)| a.volatile)
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A value without its marks and without the named attributes.
fn without(value: &Value, names: &[String]) -> Value {
    let mut plain = value.strip_sensitive();
    if let Value::Map(map) = &mut plain {
        for name in names {
            map.remove(name);
        }
    }
    plain
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
fn remark(old: &Value, new: Value, schema: Option<&ResourceSchema>) -> Value {
    mark_sensitive(schema.map(|s| &s.block), new, &[old])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(usize, usize)>>);

    impl RefreshProgress for Recorder {
        fn refreshed(&self, done: usize, total: usize) {
            self.0.lock().unwrap().push((done, total));
        }
    }

    fn instance(address: &str, mode: ResourceMode) -> PriorInstance {
        PriorInstance {
            address: address.to_string(),
            mode,
            provider: "mesh".to_string(),
            resource_type: "mesh_data".to_string(),
            value: Value::Map(BTreeMap::from([
                ("id".to_string(), Value::string("1")),
                ("input".to_string(), Value::string(address)),
            ])),
            dependencies: Vec::new(),
            create_before_destroy: false,
        }
    }

    #[tokio::test]
    async fn progress_counts_every_managed_instance_once() {
        let mut providers = ProviderRegistry::new();
        for p in crate::builtin::providers() {
            providers.register(p);
        }
        let mut prior = PriorState::default();
        for a in ["mesh_data.a", "mesh_data.b", "mesh_data.c"] {
            prior
                .instances
                .insert(a.to_string(), instance(a, ResourceMode::Managed));
        }
        prior.instances.insert(
            "data.mesh_data.d".to_string(),
            instance("data.mesh_data.d", ResourceMode::Data),
        );
        let progress = Recorder::default();
        let report = refresh_with_progress(&mut prior, &providers, 2, &progress)
            .await
            .unwrap();
        assert!(report.drift.is_empty());
        assert_eq!(
            *progress.0.lock().unwrap(),
            [(0, 3), (1, 3), (2, 3), (3, 3)]
        );
    }
}
