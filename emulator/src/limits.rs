//! Throttling (ARM's per-subscription token buckets) and fault injection.

use std::collections::HashMap;
use std::time::Duration;

use crate::options::{Faults, Throttle};

/// One token bucket.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: f64,
}

impl Bucket {
    fn take(&mut self, capacity: f64, rate: f64, now: f64) -> Result<f64, f64> {
        let elapsed = (now - self.last).max(0.0);
        self.tokens = (self.tokens + elapsed * rate).min(capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(self.tokens)
        } else if rate > 0.0 {
            Err((1.0 - self.tokens) / rate)
        } else {
            Err(60.0)
        }
    }
}

/// The outcome of taking a token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// Admitted; this many tokens are left.
    Admitted(u64),
    /// Throttled; retry after this many seconds.
    Throttled(f64),
}

/// Read and write buckets for every subscription.
#[derive(Debug)]
pub struct Buckets {
    config: Throttle,
    subscriptions: HashMap<String, (Bucket, Bucket)>,
}

impl Buckets {
    /// Full buckets.
    pub fn new(config: Throttle) -> Buckets {
        Buckets {
            config,
            subscriptions: HashMap::new(),
        }
    }

    /// The rates.
    pub fn config(&self) -> &Throttle {
        &self.config
    }

    /// Take a read or write token of `subscription`.
    pub fn take(&mut self, subscription: &str, write: bool, now: f64) -> Admission {
        let c = &self.config;
        let (reads, writes) = self
            .subscriptions
            .entry(subscription.to_ascii_lowercase())
            .or_insert_with(|| {
                (
                    Bucket {
                        tokens: c.read_capacity,
                        last: now,
                    },
                    Bucket {
                        tokens: c.write_capacity,
                        last: now,
                    },
                )
            });
        let result = if write {
            writes.take(c.write_capacity, c.writes_per_second, now)
        } else {
            reads.take(c.read_capacity, c.reads_per_second, now)
        };
        match result {
            Ok(left) => Admission::Admitted(left.floor() as u64),
            Err(wait) => Admission::Throttled(wait),
        }
    }
}

/// A fault to answer with instead of serving the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429.
    Throttle,
    /// 500.
    ServerError,
    /// 503.
    Unavailable,
    /// Break the connection.
    Drop,
    /// 409 Conflict: the object was modified (Kubernetes writes only).
    Conflict,
}

/// The configured faults and their random sequence.
#[derive(Debug)]
pub struct FaultState {
    faults: Faults,
    rng: fastrand::Rng,
    injected: u64,
}

/// What the fault draw decided for one request.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Draw {
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Answer with this fault.
    pub fault: Option<Fault>,
}

impl FaultState {
    /// Start the sequence from the faults' seed.
    pub fn new(faults: Faults) -> FaultState {
        FaultState {
            rng: fastrand::Rng::with_seed(faults.seed),
            faults,
            injected: 0,
        }
    }

    /// The configuration.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// How many faults were injected since the faults were set.
    pub fn injected(&self) -> u64 {
        self.injected
    }

    fn applies(&self, method: &str, path: &str) -> bool {
        if self.faults.is_none() || self.faults.limit.is_some_and(|l| self.injected >= l) {
            return false;
        }
        if let Some(part) = &self.faults.path_contains {
            if !path
                .to_ascii_lowercase()
                .contains(&part.to_ascii_lowercase())
            {
                return false;
            }
        }
        match &self.faults.methods {
            Some(methods) => methods.iter().any(|m| m.eq_ignore_ascii_case(method)),
            None => true,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.f64() < p && self.count()
    }

    fn count(&mut self) -> bool {
        if self.faults.limit.is_some_and(|l| self.injected >= l) {
            return false;
        }
        self.injected += 1;
        true
    }

    /// Decide the faults of a request.
    pub fn draw(&mut self, method: &str, path: &str) -> Draw {
        self.draw_with(method, path, 0.0)
    }

    /// [`FaultState::draw`] for a cluster's Kubernetes API: writes may also draw a 409
    /// Conflict.
    pub fn draw_kube(&mut self, method: &str, path: &str) -> Draw {
        let write = !method.eq_ignore_ascii_case("GET");
        let conflict = if write { self.faults.conflict } else { 0.0 };
        self.draw_with(method, path, conflict)
    }

    fn draw_with(&mut self, method: &str, path: &str, conflict: f64) -> Draw {
        if !self.applies(method, path) {
            return Draw::default();
        }
        let f = self.faults.clone();
        let delay = self
            .chance(f.slow)
            .then(|| Duration::from_millis(f.slow_ms));
        let fault = [
            (f.throttle, Fault::Throttle),
            (f.server_error, Fault::ServerError),
            (f.unavailable, Fault::Unavailable),
            (f.drop_connection, Fault::Drop),
            (conflict, Fault::Conflict),
        ]
        .into_iter()
        .find_map(|(p, fault)| self.chance(p).then_some(fault));
        Draw { delay, fault }
    }

    /// Whether a long-running operation that starts now ends in failure.
    pub fn fail_operation(&mut self, method: &str, path: &str) -> bool {
        let p = self.faults.failed_operation;
        self.applies(method, path) && self.chance(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_empty_and_refill() {
        let mut b = Buckets::new(Throttle {
            read_capacity: 2.0,
            reads_per_second: 1.0,
            write_capacity: 1.0,
            writes_per_second: 0.5,
        });
        assert_eq!(b.take("s", false, 0.0), Admission::Admitted(1));
        assert_eq!(b.take("s", false, 0.0), Admission::Admitted(0));
        assert_eq!(b.take("s", false, 0.0), Admission::Throttled(1.0));
        assert_eq!(b.take("S", false, 1.0), Admission::Admitted(0));
        assert_eq!(b.take("other", false, 1.0), Admission::Admitted(1));
        assert_eq!(b.take("s", true, 1.0), Admission::Admitted(0));
        assert_eq!(b.take("s", true, 1.0), Admission::Throttled(2.0));
    }

    #[test]
    fn faults_are_reproducible_and_limited() {
        let faults = Faults {
            seed: 7,
            server_error: 0.5,
            ..Faults::default()
        };
        let run = || {
            let mut s = FaultState::new(faults.clone());
            (0..40)
                .map(|_| s.draw("GET", "/x").fault.is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
        let mut limited = FaultState::new(Faults {
            throttle: 1.0,
            limit: Some(2),
            methods: Some(vec!["put".into()]),
            ..Faults::default()
        });
        assert_eq!(limited.draw("GET", "/x").fault, None);
        assert_eq!(limited.draw("PUT", "/x").fault, Some(Fault::Throttle));
        assert_eq!(limited.draw("PUT", "/x").fault, Some(Fault::Throttle));
        assert_eq!(limited.draw("PUT", "/x").fault, None);
        assert_eq!(limited.injected(), 2);
    }
}
