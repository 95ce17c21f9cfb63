//! The pacing state machine on a virtual clock, and a simulated ARM token bucket.

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn starts_up_to_the_limit_then_waits_for_a_slot() {
    let t0 = Instant::now();
    let mut s = PacerState::default();
    for _ in 0..16 {
        assert_eq!(s.try_start(t0), Ok(()));
    }
    assert_eq!(s.try_start(t0), Err(Hold::Slot));
    s.finish(t0, Feedback::Served(None));
    assert_eq!(s.try_start(t0), Ok(()));
}

#[test]
fn a_429_pauses_everyone_and_halves_the_limit_once_per_cooldown() {
    let t0 = Instant::now();
    let mut s = PacerState::default();
    for _ in 0..16 {
        s.try_start(t0).unwrap();
    }
    // The whole window answers 429 together: one halving, not four.
    for _ in 0..4 {
        s.finish(t0, Feedback::Throttled(ms(40)));
    }
    assert_eq!(s.allowed(), 8);
    assert_eq!(s.throttled(), 4);
    assert_eq!(s.try_start(t0 + ms(10)), Err(Hold::Until(t0 + ms(40))));
    // After the cooldown, another 429 halves again.
    let later = t0 + DECREASE_COOLDOWN;
    s.finish(later, Feedback::Throttled(ms(40)));
    assert_eq!(s.allowed(), 4);
    // Never below one.
    let mut t = later;
    for _ in 0..10 {
        t += DECREASE_COOLDOWN;
        s.finish(t, Feedback::Throttled(ms(40)));
    }
    assert_eq!(s.allowed(), 1);
}

#[test]
fn a_comfortable_quota_grows_the_limit_a_low_one_does_not() {
    let t0 = Instant::now();
    let mut s = PacerState::default();
    for _ in 0..200 {
        s.try_start(t0).unwrap();
        s.finish(t0, Feedback::Served(Some(10)));
    }
    assert_eq!(s.allowed(), 16);
    for _ in 0..200 {
        s.try_start(t0).unwrap();
        s.finish(t0, Feedback::Served(Some(1000)));
    }
    assert!(
        s.allowed() > 16 && s.allowed() <= MAX_LIMIT as usize,
        "{}",
        s.allowed()
    );
}

#[test]
fn an_empty_bucket_is_followed_one_token_interval_at_a_time() {
    let t0 = Instant::now();
    let mut s = PacerState::default();
    // Learn the interval from a 429.
    s.try_start(t0).unwrap();
    s.finish(t0, Feedback::Throttled(ms(40)));
    let t1 = t0 + ms(40);
    assert_eq!(s.try_start(t1), Ok(()));
    // The bucket is believed empty: the next start waits one interval.
    assert_eq!(s.try_start(t1), Err(Hold::Until(t1 + ms(40))));
    s.finish(t1 + ms(1), Feedback::Served(Some(0)));
    assert_eq!(s.try_start(t1 + ms(2)), Err(Hold::Until(t1 + ms(40))));
    assert_eq!(s.try_start(t1 + ms(40)), Ok(()));
    // Tokens left again: no pacing while they last.
    s.finish(t1 + ms(41), Feedback::Served(Some(3)));
    let t2 = t1 + ms(41);
    for _ in 0..3 {
        assert_eq!(s.try_start(t2), Ok(()));
    }
    assert_eq!(s.try_start(t2), Ok(()));
    assert_eq!(s.try_start(t2), Err(Hold::Until(t2 + ms(40))));
}

/// ARM's bucket: `capacity` tokens, refilled at `rate` per second.
struct Bucket {
    tokens: f64,
    capacity: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant) -> Feedback {
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Feedback::Served(Some(self.tokens.floor() as u64))
        } else {
            Feedback::Throttled(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// Serve `total` requests through the pacer against ARM's read bucket (250, 25/s), `workers`
/// at a time, each answer taking `latency`; returns (seconds taken, 429s).
fn drain(total: usize, workers: usize, latency: Duration) -> (f64, u64) {
    let t0 = Instant::now();
    let mut bucket = Bucket {
        tokens: 250.0,
        capacity: 250.0,
        rate: 25.0,
        last: t0,
    };
    let mut s = PacerState::default();
    let mut now = t0;
    let mut served = 0;
    let mut waiting = total;
    // Requests in flight: when their answer arrives.
    let mut in_flight: Vec<Instant> = Vec::new();
    while served < total {
        let mut next_event = None;
        while waiting > 0 && in_flight.len() < workers {
            match s.try_start(now) {
                Ok(()) => {
                    in_flight.push(now + latency);
                    waiting -= 1;
                }
                Err(Hold::Until(t)) => {
                    next_event = Some(t);
                    break;
                }
                Err(Hold::Slot) => break,
            }
        }
        let answer = in_flight.iter().copied().min();
        let wake = match (answer, next_event) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => unreachable!("nothing in flight and nothing to wait for"),
        };
        now = wake;
        if answer == Some(wake) {
            let i = in_flight.iter().position(|t| *t == wake).unwrap();
            in_flight.swap_remove(i);
            let feedback = bucket.take(now);
            if matches!(feedback, Feedback::Throttled(_)) {
                waiting += 1;
            } else {
                served += 1;
            }
            s.finish(now, feedback);
        }
    }
    (now.duration_since(t0).as_secs_f64(), s.throttled())
}

#[test]
fn a_drained_bucket_is_used_at_nearly_its_refill_rate() {
    for latency in [ms(1), ms(20), ms(100)] {
        let (seconds, throttled) = drain(2000, 10, latency);
        // 250 at once, then 25 a second: 70 s at best.
        let used = 2000.0 / (250.0 + 25.0 * seconds);
        assert!(
            used >= 0.9,
            "latency {latency:?}: {seconds:.1}s, {used:.3} of the quota"
        );
        // 429s teach the interval; they do not become the normal answer.
        assert!(throttled < 200, "latency {latency:?}: {throttled} 429s");
    }
}
