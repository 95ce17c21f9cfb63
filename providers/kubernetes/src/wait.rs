//! Waiting for applied objects to become usable: workloads rolled out, load balancers with an
//! address, CRDs established.

use std::time::Duration;

use mesh_engine::provider::ProviderError;
use mesh_engine::value::Value;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use crate::objects::{poll, ClusterObjects, ObjectKey};

/// What to wait for after an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waits {
    /// Deployments, StatefulSets and DaemonSets rolled out.
    pub rollout: bool,
    /// LoadBalancer Services with an address.
    pub load_balancer: bool,
    /// The limit for all of it.
    pub timeout: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Waits {
            rollout: false,
            load_balancer: false,
            timeout: Duration::from_secs(600),
        }
    }
}

impl Waits {
    /// The `wait { ... }` block of a resource.
    pub fn from_block(block: Option<&Value>) -> Waits {
        let Some(block) = block.filter(|b| !b.is_null()) else {
            return Waits::default();
        };
        let flag = |name: &str| matches!(block.get(name), Some(Value::Bool(true)));
        let timeout = match block.get("timeout_seconds") {
            Some(Value::Number(n)) if *n > 0.0 => Duration::from_secs_f64(*n),
            _ => Waits::default().timeout,
        };
        Waits {
            rollout: flag("rollout"),
            load_balancer: flag("load_balancer"),
            timeout,
        }
    }
}

/// Wait for each object that `waits` and its kind call for; CRDs are always waited for, since
/// their custom resources cannot be created before.
pub async fn settle(
    cluster: &ClusterObjects,
    objects: &[Json],
    waits: Waits,
    cancel: &CancellationToken,
) -> Result<(), ProviderError> {
    for object in objects {
        let Ok(key) = ObjectKey::of(object) else {
            continue;
        };
        let Some(condition) = condition_for(&key, object, waits) else {
            continue;
        };
        let limit = if condition == Condition::Established {
            crate::objects::CRD_WAIT
        } else {
            waits.timeout
        };
        let waiting = format!("{} to become {}", key.describe(), condition.describe());
        let ready = poll(limit, cancel, &waiting, || async {
            let live = cluster.get(&key).await?;
            Ok(live.as_ref().is_some_and(|o| condition.holds(o)))
        })
        .await?;
        if !ready {
            return Err(ProviderError::new(format!(
                "{} did not become {} within {} s",
                key.describe(),
                condition.describe(),
                limit.as_secs()
            )));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    RolledOut,
    Addressed,
    Established,
}

fn condition_for(key: &ObjectKey, object: &Json, waits: Waits) -> Option<Condition> {
    match key.kind.as_str() {
        "CustomResourceDefinition" => Some(Condition::Established),
        "Deployment" | "StatefulSet" | "DaemonSet" if waits.rollout => Some(Condition::RolledOut),
        "Service"
            if waits.load_balancer
                && object.pointer("/spec/type").and_then(Json::as_str) == Some("LoadBalancer") =>
        {
            Some(Condition::Addressed)
        }
        _ => None,
    }
}

impl Condition {
    fn describe(self) -> &'static str {
        match self {
            Condition::RolledOut => "rolled out",
            Condition::Addressed => "reachable at a load balancer address",
            Condition::Established => "established",
        }
    }

    fn holds(self, live: &Json) -> bool {
        match self {
            Condition::RolledOut => rolled_out(live),
            Condition::Addressed => live
                .pointer("/status/loadBalancer/ingress/0")
                .is_some_and(|i| i.get("ip").is_some() || i.get("hostname").is_some()),
            Condition::Established => has_condition(live, "Established"),
        }
    }
}

fn number(live: &Json, pointer: &str) -> i64 {
    live.pointer(pointer).and_then(Json::as_i64).unwrap_or(0)
}

fn rolled_out(live: &Json) -> bool {
    let generation = number(live, "/metadata/generation");
    if number(live, "/status/observedGeneration") < generation {
        return false;
    }
    if live.get("kind").and_then(Json::as_str) == Some("DaemonSet") {
        let want = number(live, "/status/desiredNumberScheduled");
        return number(live, "/status/numberReady") >= want;
    }
    let want = live
        .pointer("/spec/replicas")
        .and_then(Json::as_i64)
        .unwrap_or(1);
    number(live, "/status/readyReplicas") >= want && number(live, "/status/updatedReplicas") >= want
}

fn has_condition(live: &Json, kind: &str) -> bool {
    live.pointer("/status/conditions")
        .and_then(Json::as_array)
        .is_some_and(|conditions| {
            conditions.iter().any(|c| {
                c.get("type").and_then(Json::as_str) == Some(kind)
                    && c.get("status").and_then(Json::as_str) == Some("True")
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_deployment_is_rolled_out_when_the_current_generation_is_ready() {
        let mut d = json!({"kind": "Deployment", "metadata": {"generation": 2},
            "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 2}});
        assert!(!rolled_out(&d));
        d["status"]["observedGeneration"] = json!(2);
        assert!(rolled_out(&d));
        d["status"]["readyReplicas"] = json!(1);
        assert!(!rolled_out(&d));
    }

    #[test]
    fn only_asked_for_waits_apply_except_crds() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"},
            "spec": {"type": "LoadBalancer"}});
        let key = ObjectKey::of(&svc).unwrap();
        assert_eq!(condition_for(&key, &svc, Waits::default()), None);
        let waits = Waits {
            load_balancer: true,
            ..Waits::default()
        };
        assert_eq!(condition_for(&key, &svc, waits), Some(Condition::Addressed));
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition", "metadata": {"name": "a.b"}});
        let key = ObjectKey::of(&crd).unwrap();
        assert_eq!(
            condition_for(&key, &crd, Waits::default()),
            Some(Condition::Established)
        );
    }
}
