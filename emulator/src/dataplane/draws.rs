//! Load-balancing choices that repeat: round robin over endpoints, and weighted choices drawn
//! from a golden-ratio (Weyl) sequence, each counted per caller and per rule or destination in
//! counters the local cloud keeps with its data. Consecutive calls rotate as Envoy's do, a
//! 50/50 split is even to within a call or two over any run of calls, and the same calls give
//! the same answers on every run.

use std::collections::BTreeMap;

/// The fractional part of the golden ratio: successive multiples spread evenly over [0, 1).
const GOLDEN: f64 = 0.618_033_988_749_894_9;

/// Counters of load-balancing choices, by key.
pub(crate) struct Draws<'a> {
    counters: &'a mut BTreeMap<String, u64>,
}

impl<'a> Draws<'a> {
    /// Choices counted in `counters`.
    pub fn new(counters: &'a mut BTreeMap<String, u64>) -> Draws<'a> {
        Draws { counters }
    }

    /// How many choices were made under `key` before this one (and count this one).
    pub fn next(&mut self, key: &str) -> u64 {
        let counter = self.counters.entry(key.to_string()).or_insert(0);
        let n = *counter;
        *counter = n.wrapping_add(1);
        n
    }

    /// The next point in [0, 1) of the sequence of `key`.
    pub fn fraction(&mut self, key: &str) -> f64 {
        let n = self.next(key);
        let offset = (crate::kube::objects::stable_hash(key) % 1_000_003) as f64 / 1_000_003.0;
        ((n % 1_000_000_007) as f64 * GOLDEN + offset).fract()
    }

    /// The next index in a round robin over `len` items (0 when there are none).
    pub fn round_robin(&mut self, key: &str, len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        (self.next(key) % len as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_rotates() {
        let mut counters = BTreeMap::new();
        let mut draws = Draws::new(&mut counters);
        let picks: Vec<usize> = (0..5).map(|_| draws.round_robin("k", 2)).collect();
        assert_eq!(picks, [0, 1, 0, 1, 0]);
        assert_eq!(counters["k"], 5);
    }

    #[test]
    fn fractions_split_evenly_over_any_run() {
        let mut counters = BTreeMap::new();
        let mut draws = Draws::new(&mut counters);
        let low = (0..200).filter(|_| draws.fraction("split") < 0.5).count();
        assert!((98..=102).contains(&low), "{low}");
        let tenth = (0..1000).filter(|_| draws.fraction("other") < 0.1).count();
        assert!((98..=102).contains(&tenth), "{tenth}");
    }
}
