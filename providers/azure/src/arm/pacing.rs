//! Adaptive pacing: how many requests are in flight and when the next may leave, driven by
//! what ARM says about its throttling.
//!
//! ARM meters each subscription with token buckets (reads and writes apart): every response
//! carries the tokens left (`x-ms-ratelimit-remaining-subscription-reads` / `-writes`), and an
//! empty bucket answers 429 with the time until the next token. Sending more than the bucket
//! refills only buys 429s, and a request that meets enough of them fails; sending less wastes
//! the quota. So each class of request has a [`Pacer`]:
//!
//! - a concurrency limit, grown by one per limit's worth of answers while the bucket is
//!   comfortably full, halved on a 429 (at most once per [`DECREASE_COOLDOWN`], since the
//!   requests already in flight answer 429 together);
//! - a mirror of the bucket: the remaining count from the last answer, less what was sent since;
//! - when that mirror is empty, one request per *token interval* — learned from the waits of
//!   429s, which name the time to the next token — so that a drained bucket is followed at
//!   the rate it refills rather than by bursts of 429s;
//! - a pause for everyone until the wait a 429 asked for is over.
//!
//! The state machine ([`PacerState`]) takes the time as an argument, so it is tested without
//! clocks; [`Pacer`] wraps it for concurrent async use.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ArmError;

/// The in-flight limit a pacer starts with.
pub const INITIAL_LIMIT: f64 = 16.0;
/// The largest in-flight limit.
pub const MAX_LIMIT: f64 = 64.0;
/// The least time between two halvings of the limit.
pub const DECREASE_COOLDOWN: Duration = Duration::from_millis(500);
/// The longest token interval learned from 429 waits (longer waits pause, but do not pace).
pub const MAX_INTERVAL: Duration = Duration::from_secs(1);

/// What an answer said about throttling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Feedback {
    /// 429: come back after this long.
    Throttled(Duration),
    /// Served; the bucket has this many tokens left, when the answer said.
    Served(Option<u64>),
    /// No answer, or one that says nothing about throttling (transport errors, 5xx).
    Nothing,
}

/// Why a request cannot start yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Until this time (a 429's pause, or the token interval).
    Until(Instant),
    /// Until a request in flight ends.
    Slot,
}

/// The pacing state of one class of requests.
#[derive(Debug, Clone)]
pub struct PacerState {
    limit: f64,
    in_flight: usize,
    /// No request starts before this: a 429 asked everyone to wait.
    paused_until: Option<Instant>,
    /// No request starts before this: the bucket is believed empty until the next token.
    paced_until: Option<Instant>,
    last_decrease: Option<Instant>,
    /// When an answer last said the bucket was empty.
    last_drained: Option<Instant>,
    /// Tokens believed left: the last answer's count less the requests started since.
    remaining: Option<u64>,
    /// The time one token takes to come back, as learned from 429s.
    interval: Option<Duration>,
    /// 429s seen.
    throttled: u64,
}

impl Default for PacerState {
    fn default() -> Self {
        PacerState {
            limit: INITIAL_LIMIT,
            in_flight: 0,
            paused_until: None,
            paced_until: None,
            last_decrease: None,
            last_drained: None,
            remaining: None,
            interval: None,
            throttled: 0,
        }
    }
}

impl PacerState {
    /// Start a request at `now`, or say what it waits for.
    pub fn try_start(&mut self, now: Instant) -> Result<(), Hold> {
        let until = self.paused_until.max(self.paced_until);
        if let Some(t) = until.filter(|t| *t > now) {
            return Err(Hold::Until(t));
        }
        if self.in_flight >= self.allowed() {
            return Err(Hold::Slot);
        }
        self.in_flight += 1;
        match self.remaining {
            Some(0) => {
                // The bucket is believed empty: the next request waits for the next token.
                if let Some(interval) = self.interval {
                    self.paced_until = Some(now + interval);
                }
            }
            Some(n) => self.remaining = Some(n - 1),
            None => {}
        }
        Ok(())
    }

    /// A request started with [`try_start`](Self::try_start) ended at `now`.
    pub fn finish(&mut self, now: Instant, feedback: Feedback) {
        self.in_flight = self.in_flight.saturating_sub(1);
        match feedback {
            Feedback::Throttled(wait) => self.throttle(now, wait),
            Feedback::Served(Some(left)) => {
                // Requests still in flight were sent after this answer was counted, or will be
                // counted before theirs: assume the worse.
                self.remaining = Some(left.saturating_sub(self.in_flight as u64));
                if left == 0 {
                    self.last_drained = Some(now);
                } else {
                    self.paced_until = None;
                }
                if left as f64 >= 2.0 * self.limit {
                    self.grow();
                }
            }
            Feedback::Served(None) => self.grow(),
            Feedback::Nothing => {}
        }
    }

    fn throttle(&mut self, now: Instant, wait: Duration) {
        self.throttled += 1;
        let allowed_before = self.allowed();
        self.remaining = Some(0);
        let next_token = now + wait;
        self.paused_until = self.paused_until.max(Some(next_token));
        // The bucket was empty when last drained and has a token again at `next_token`: that
        // is at most one token interval (less when the drain left a fraction of a token).
        let estimate = self
            .last_drained
            .map_or(wait, |t| next_token.duration_since(t))
            .max(wait);
        let estimate = if estimate <= MAX_INTERVAL {
            estimate
        } else {
            wait
        };
        if estimate <= MAX_INTERVAL && self.interval.is_none_or(|i| estimate > i) {
            self.interval = Some(estimate);
        }
        let cooled = self
            .last_decrease
            .is_none_or(|t| now >= t + DECREASE_COOLDOWN);
        if cooled {
            self.limit = (self.limit / 2.0).max(1.0);
            self.last_decrease = Some(now);
        }
        tracing::debug!(
            wait_ms = wait.as_millis() as u64,
            allowed_before,
            allowed = self.allowed(),
            token_interval_ms = self.interval.map(|i| i.as_millis() as u64),
            "throttled (429): everyone pauses"
        );
    }

    fn grow(&mut self) {
        self.limit = (self.limit + 1.0 / self.limit).min(MAX_LIMIT);
    }

    /// Requests allowed in flight now.
    pub fn allowed(&self) -> usize {
        (self.limit.floor() as usize).max(1)
    }

    /// 429s seen so far.
    pub fn throttled(&self) -> u64 {
        self.throttled
    }
}

/// A [`PacerState`] shared by concurrent requests.
#[derive(Debug, Default)]
pub struct Pacer {
    state: Mutex<PacerState>,
    released: Notify,
}

impl Pacer {
    fn state(&self) -> std::sync::MutexGuard<'_, PacerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait until a request may start; the permit ends it (with [`Permit::finish`], or on drop
    /// as [`Feedback::Nothing`]).
    pub async fn start(self: &Arc<Self>, cancel: &CancellationToken) -> Result<Permit, ArmError> {
        let mut held_before = false;
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let now = Instant::now();
            let hold = match self.state().try_start(now) {
                Ok(()) => {
                    return Ok(Permit {
                        pacer: Some(self.clone()),
                    })
                }
                Err(hold) => hold,
            };
            // Once per request: a request may be woken several times before its turn.
            if !held_before {
                held_before = true;
                self.log_hold(hold, now);
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err(ArmError::cancelled()),
                _ = async {
                    match hold {
                        Hold::Until(t) => tokio::time::sleep_until(t).await,
                        Hold::Slot => released.await,
                    }
                } => {}
            }
        }
    }

    fn log_hold(&self, hold: Hold, now: Instant) {
        let state = self.snapshot();
        let (reason, wait_ms) = match hold {
            Hold::Until(t) => (
                "throttled",
                t.saturating_duration_since(now).as_millis() as u64,
            ),
            Hold::Slot => ("in-flight limit", 0),
        };
        tracing::debug!(
            reason,
            wait_ms,
            allowed = state.allowed(),
            throttled_so_far = state.throttled(),
            "request held by the pacer"
        );
    }

    /// A copy of the state, for tests and reports.
    pub fn snapshot(&self) -> PacerState {
        self.state().clone()
    }
}

/// A request in flight.
#[derive(Debug)]
pub struct Permit {
    pacer: Option<Arc<Pacer>>,
}

impl Permit {
    /// The request ended with this answer.
    pub fn finish(mut self, feedback: Feedback) {
        if let Some(pacer) = self.pacer.take() {
            pacer.state().finish(Instant::now(), feedback);
            pacer.released.notify_waiters();
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(pacer) = self.pacer.take() {
            pacer.state().finish(Instant::now(), Feedback::Nothing);
            pacer.released.notify_waiters();
        }
    }
}

/// The remaining-quota headers of an answer, for reads or writes: the smallest count given.
pub fn remaining_quota(headers: &reqwest::header::HeaderMap, write: bool) -> Option<u64> {
    let names: &[&str] = if write {
        &[
            "x-ms-ratelimit-remaining-subscription-writes",
            "x-ms-ratelimit-remaining-subscription-global-writes",
            "x-ms-ratelimit-remaining-subscription-deletes",
        ]
    } else {
        &[
            "x-ms-ratelimit-remaining-subscription-reads",
            "x-ms-ratelimit-remaining-subscription-global-reads",
        ]
    };
    names
        .iter()
        .filter_map(|name| {
            headers
                .get(*name)?
                .to_str()
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .min()
}

/// The pacers of one client: ARM reads, ARM writes, and data-plane requests (Key Vault),
/// which ARM's buckets do not meter.
#[derive(Debug, Default)]
pub struct Pacers {
    /// GETs to ARM.
    pub reads: Arc<Pacer>,
    /// PUT, PATCH, DELETE and POST to ARM.
    pub writes: Arc<Pacer>,
    /// Requests to data planes.
    pub data_plane: Arc<Pacer>,
}

#[cfg(test)]
#[path = "pacing_tests.rs"]
mod tests;
