//! When a download may ask the network for its file again.
//!
//! gtk-gnutella 1.2 remembers every query a leaf sent (by its text, or by its
//! SHA-1 for a URN query) and silently drops the same one from that leaf
//! within its requery threshold (`search_request_preprocess`, `n->qseen` in
//! `src/core/search.c`; about 20 minutes). A URN query repeated sooner is
//! wasted, so we wait [`REQUERY_AFTER`] between two queries for one file.

use crate::proto::huge::Sha1Urn;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Least time between two queries for the same file.
pub const REQUERY_AFTER: Duration = Duration::from_secs(21 * 60);
/// Most files remembered (the oldest entries are dropped beyond).
const CAPACITY: usize = 4096;

/// The last time each file was queried.
#[derive(Debug, Default)]
pub struct UrnRequeries {
    last: HashMap<Sha1Urn, Instant>,
}

impl UrnRequeries {
    /// True (and remembered) when `urn` may be queried at `now`.
    pub fn allow(&mut self, urn: Sha1Urn, now: Instant) -> bool {
        if self
            .last
            .get(&urn)
            .is_some_and(|t| now.saturating_duration_since(*t) < REQUERY_AFTER)
        {
            return false;
        }
        if self.last.len() >= CAPACITY {
            self.last
                .retain(|_, t| now.saturating_duration_since(*t) < REQUERY_AFTER);
            if self.last.len() >= CAPACITY {
                if let Some(oldest) = self.last.iter().min_by_key(|(_, t)| **t).map(|(u, _)| *u) {
                    self.last.remove(&oldest);
                }
            }
        }
        self.last.insert(urn, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_per_file_per_threshold() {
        let t0 = Instant::now();
        let mut r = UrnRequeries::default();
        let (a, b) = (Sha1Urn([1; 20]), Sha1Urn([2; 20]));
        assert!(r.allow(a, t0));
        assert!(r.allow(b, t0), "other files are independent");
        assert!(!r.allow(a, t0 + Duration::from_secs(300)));
        assert!(!r.allow(a, t0 + REQUERY_AFTER - Duration::from_secs(1)));
        assert!(r.allow(a, t0 + REQUERY_AFTER));
    }

    #[test]
    fn bounded() {
        let t0 = Instant::now();
        let mut r = UrnRequeries::default();
        for i in 0..(CAPACITY as u32 + 10) {
            let mut d = [0u8; 20];
            d[..4].copy_from_slice(&i.to_le_bytes());
            assert!(r.allow(Sha1Urn(d), t0 + Duration::from_millis(u64::from(i))));
        }
        assert!(r.last.len() <= CAPACITY);
    }
}
