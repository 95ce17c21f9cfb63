//! Crash safety: `mesh apply` and `mesh destroy` killed with SIGKILL at random moments, on the
//! scenarios, on the local cloud. After every kill: the state loads; every resource the local
//! cloud holds is in state or recorded as in flight (no orphans); the next apply adopts what
//! the killed one left and converges; the plan after it is empty. After a killed destroy, the
//! next destroy finishes and leaves nothing.
//!
//! `MESH_KILL_TRIALS` sets the number of kills per scenario (default 3; docs/reliability.md
//! reports a run with 50), `MESH_KILL_SEED` the random seed (printed, so a failure can be
//! replayed).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::harness::{ok_local, run_local, scenario_spec, Spec};

/// A small deterministic generator (xorshift), seeded per run.
struct Dice(u64);

impl Dice {
    fn from_env() -> Dice {
        let seed = std::env::var("MESH_KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(7)
            });
        eprintln!("crash-safety seed: MESH_KILL_SEED={seed}");
        Dice(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn trials() -> usize {
    std::env::var("MESH_KILL_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

/// The lowercase ARM IDs the local cloud holds.
fn cloud_ids(spec: &Spec) -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(spec.join(".mesh/local-cloud/cloud.json")).unwrap_or_default();
    let doc: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
    doc.get("resources")
        .and_then(Json::as_object)
        .map(|m| {
            m.values()
                .filter_map(|e| e.pointer("/resource/id").and_then(Json::as_str))
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

/// The lowercase ARM IDs state knows: of its objects and of the operations in flight.
fn known_ids(state: &Json) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let objects = state["resources"].as_array().cloned().unwrap_or_default();
    let pending = state["pending"].as_array().cloned().unwrap_or_default();
    let instances = objects
        .iter()
        .chain(pending.iter().filter_map(|p| p.get("instance")));
    for instance in instances {
        if let Some(id) = instance.pointer("/attributes/id").and_then(Json::as_str) {
            if id.starts_with('/') {
                ids.insert(id.to_ascii_lowercase());
            }
        }
    }
    ids
}

/// Every resource of the local cloud is in state, or below one that is (subnets of a
/// network, the default node pool of a cluster), or recorded as in flight.
fn assert_no_orphans(spec: &Spec, when: &str) {
    let state = spec.state().unwrap_or(Json::Null);
    let known = known_ids(&state);
    for id in cloud_ids(spec) {
        let covered = known
            .iter()
            .any(|k| id == *k || id.starts_with(&format!("{k}/")));
        assert!(
            covered,
            "{when}: {id} is in the local cloud but not in state"
        );
    }
}

/// Run `args` in the background and SIGKILL it after `after` (or let it finish first).
fn killed(spec: &Spec, args: &[&str], after: Duration) -> bool {
    let mut run = spec.spawn("killed", args, &[("MESH_LOCAL_TIME_FACTOR", "0.002")]);
    let started = Instant::now();
    while started.elapsed() < after {
        if !run.running() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if !run.running() {
        return false;
    }
    run.signal("KILL");
    let _ = run.finish();
    true
}

/// A killed mesh leaves its lock; the user is told to force-unlock, and does.
fn force_unlock(spec: &Spec, when: &str) {
    let Ok(text) = std::fs::read_to_string(spec.lock_path()) else {
        return;
    };
    let lock: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
    let id = lock["id"].as_str().unwrap_or_default().to_string();
    let refused = run_local(spec, &["plan"]);
    assert_ne!(
        refused.code, 0,
        "{when}: a killed mesh's lock must stop the next command"
    );
    refused.stderr_has(&format!("mesh force-unlock {id}"));
    ok_local(spec, &["force-unlock", &id, "--force"]);
}

fn assert_converges(spec: &Spec, when: &str) {
    force_unlock(spec, when);
    ok_local(spec, &["state", "list"]);
    assert_no_orphans(spec, when);
    let applied = run_local(spec, &["apply", "-auto-approve"]);
    assert_eq!(
        applied.code,
        0,
        "{when}: the next apply failed\n{}",
        applied.dump()
    );
    let plan = run_local(spec, &["plan", "-detailed-exitcode"]);
    assert_eq!(
        plan.code,
        0,
        "{when}: the plan after it is not empty\n{}",
        plan.dump()
    );
    assert_no_orphans(spec, when);
    let pending = spec.state().and_then(|s| s.get("pending").cloned());
    assert!(
        pending.is_none(),
        "{when}: operations still in flight: {pending:?}"
    );
}

fn kill_applies_and_destroys(scenario: &str, longest: Duration) {
    let mut dice = Dice::from_env();
    let spec = scenario_spec(scenario);
    let mut kills = 0;
    for trial in 0..trials() {
        // Kill an apply from empty, or one continuing a half-done state.
        let after = Duration::from_millis(100 + dice.below(longest.as_millis() as u64));
        let when = format!("{scenario} trial {trial}: apply killed after {after:?}");
        kills += usize::from(killed(&spec, &["apply", "-auto-approve"], after));
        assert_converges(&spec, &when);

        let after = Duration::from_millis(100 + dice.below(longest.as_millis() as u64 / 2));
        let when = format!("{scenario} trial {trial}: destroy killed after {after:?}");
        kills += usize::from(killed(&spec, &["destroy", "-auto-approve"], after));
        force_unlock(&spec, &when);
        ok_local(&spec, &["state", "list"]);
        assert_no_orphans(&spec, &when);
        let destroyed = run_local(&spec, &["destroy", "-auto-approve"]);
        assert_eq!(destroyed.code, 0, "{when}\n{}", destroyed.dump());
        assert!(
            spec.addresses().is_empty(),
            "{when}: {:?}",
            spec.addresses()
        );
        assert!(
            cloud_ids(&spec).is_empty(),
            "{when}: {:?}",
            cloud_ids(&spec)
        );
    }
    eprintln!(
        "{scenario}: {kills} kills in {} trials, no orphans, converged every time",
        trials()
    );
}

#[test]
fn multi_network_survives_kills_at_random_moments() {
    kill_applies_and_destroys("multi-network", Duration::from_millis(4000));
}

#[test]
fn the_seed_topology_survives_kills_at_random_moments() {
    kill_applies_and_destroys("multicluster-istio", Duration::from_millis(6000));
}

#[test]
fn gateway_federation_survives_kills_at_random_moments() {
    kill_applies_and_destroys("gateway-federation", Duration::from_millis(5000));
}
