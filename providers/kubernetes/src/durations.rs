//! How long the Kubernetes and Istio types usually take, for apply's critical-path-first
//! scheduler: an Istio control plane waits for istiod and its gateways to roll out and get
//! addresses (a minute or more), a manifest with a rollout wait for its Deployment, plain
//! objects only for one API call. Estimates order work; they never limit it.

use std::time::Duration;

use mesh_engine::graph::OpKind;
use mesh_engine::value::Value;

use crate::wait::Waits;

/// Typical (create, update, delete) seconds of `resource_type` with its planned `value`.
fn typical(resource_type: &str, value: &Value) -> Option<(u64, u64, u64)> {
    Some(match resource_type {
        "istio_control_plane" => (90, 60, 30),
        "kubernetes_manifest" | "kubernetes_manifests" if waits(value) => (45, 30, 10),
        "kubernetes_manifest" | "kubernetes_manifests" => (3, 3, 5),
        // A namespace's delete waits for everything in it to go.
        "kubernetes_namespace" => (1, 1, 15),
        "kubernetes_secret" | "kubernetes_config_map" | "kubernetes_service_account" => (1, 1, 1),
        "istio_remote_secret" => (3, 3, 2),
        _ => return None,
    })
}

/// Does a manifest wait for a rollout or a load balancer address?
fn waits(value: &Value) -> bool {
    let waits = Waits::from_block(value.get("wait"));
    waits.rollout || waits.load_balancer
}

/// How long `operation` on an instance of `resource_type` usually takes.
pub fn expected(resource_type: &str, operation: OpKind, value: &Value) -> Option<Duration> {
    let (create, update, delete) = typical(resource_type, value)?;
    let seconds = match operation {
        OpKind::Create => create,
        OpKind::Update => update,
        OpKind::Delete | OpKind::DeleteDeposed => delete,
        OpKind::Read | OpKind::Barrier(_) => return None,
    };
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn every_type_has_an_estimate() {
        let kubernetes = crate::KubernetesProvider::new(None);
        let istio = kubernetes.istio();
        for provider in [&kubernetes, &istio] {
            let schema = mesh_engine::provider::Provider::schema(provider);
            for name in schema.resources.keys() {
                assert!(
                    expected(name, OpKind::Create, &Value::Null).is_some(),
                    "{name} has no expected duration: add it to durations.rs"
                );
            }
        }
    }

    #[test]
    fn waiting_manifests_take_longer() {
        let wait = Value::Map(BTreeMap::from([(
            "wait".to_string(),
            Value::Map(BTreeMap::from([("rollout".to_string(), Value::Bool(true))])),
        )]));
        let plain = expected("kubernetes_manifest", OpKind::Create, &Value::Null);
        let waiting = expected("kubernetes_manifest", OpKind::Create, &wait);
        assert!(waiting > plain, "{waiting:?} vs {plain:?}");
        assert!(
            expected("istio_control_plane", OpKind::Create, &Value::Null)
                > expected("kubernetes_namespace", OpKind::Create, &Value::Null)
        );
    }
}
