//! Who gets answers, so the node cannot be used as a reflector: a token
//! bucket per source address (a bounded table; the address idle longest is
//! forgotten first) and one bucket for the bytes of every answer, as
//! libtorrent's `dos_blocker` (`dht_block_ratelimit`, 5 queries a second)
//! and `dht_upload_rate_limit` (8000 bytes a second, 3 s of burst) do.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Instant;

/// How many queries and answer bytes the node accepts and sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryLimits {
    /// Queries a second answered per source address, sustained.
    pub per_source_rate: f64,
    /// Queries one source address may send at once after a quiet spell.
    pub per_source_burst: f64,
    /// Answer bytes a second, over all sources.
    pub answer_bytes_rate: f64,
    /// Answer bytes that may go at once after a quiet spell.
    pub answer_bytes_burst: f64,
}

impl QueryLimits {
    /// libtorrent's defaults: 5 queries a second per address (it tolerates
    /// 50 within 10 s) and 8000 answer bytes a second with 3 s of burst.
    pub const DEFAULT: QueryLimits = QueryLimits {
        per_source_rate: 5.0,
        per_source_burst: 20.0,
        answer_bytes_rate: 8000.0,
        answer_bytes_burst: 24_000.0,
    };
}

/// Most source addresses tracked at once.
pub const MAX_SOURCES: usize = 1024;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: burst,
            at: now,
        }
    }

    fn refill(&mut self, rate: f64, burst: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        if elapsed > 0.0 {
            self.tokens = (self.tokens + elapsed * rate).min(burst);
        }
        self.at = self.at.max(now);
    }
}

/// The buckets of one node.
#[derive(Debug)]
pub struct Limiter {
    limits: QueryLimits,
    sources: HashMap<Ipv4Addr, Bucket>,
    answers: Bucket,
}

impl Limiter {
    /// Full buckets under `limits`.
    pub fn new(limits: QueryLimits, now: Instant) -> Limiter {
        Limiter {
            limits,
            sources: HashMap::new(),
            answers: Bucket::full(limits.answer_bytes_burst, now),
        }
    }

    /// Takes one query from `ip`'s bucket; false when it is empty (drop the query).
    pub fn admit(&mut self, ip: Ipv4Addr, now: Instant) -> bool {
        let QueryLimits {
            per_source_rate: rate,
            per_source_burst: burst,
            ..
        } = self.limits;
        if !self.sources.contains_key(&ip) && self.sources.len() >= MAX_SOURCES {
            if let Some(idle) = self
                .sources
                .iter()
                .min_by_key(|(_, b)| b.at)
                .map(|(a, _)| *a)
            {
                self.sources.remove(&idle);
            }
        }
        let bucket = self
            .sources
            .entry(ip)
            .or_insert_with(|| Bucket::full(burst, now));
        bucket.refill(rate, burst, now);
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }

    /// True while answer bytes are left (the next answer may overdraw them,
    /// as libtorrent's quota does).
    pub fn may_answer(&mut self, now: Instant) -> bool {
        let QueryLimits {
            answer_bytes_rate: rate,
            answer_bytes_burst: burst,
            ..
        } = self.limits;
        self.answers.refill(rate, burst, now);
        self.answers.tokens > 0.0
    }

    /// Counts an answer of `bytes` against the answer budget.
    pub fn spend(&mut self, bytes: usize) {
        self.answers.tokens -= bytes as f64;
    }

    /// Source addresses tracked.
    pub fn sources(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_source_gets_its_burst_then_its_rate() {
        let now = Instant::now();
        let mut l = Limiter::new(QueryLimits::DEFAULT, now);
        let a = Ipv4Addr::new(127, 0, 0, 2);
        let burst = (0..100).filter(|_| l.admit(a, now)).count();
        assert_eq!(burst, 20);
        assert!(l.admit(Ipv4Addr::new(127, 0, 0, 3), now));
        let later = now + Duration::from_secs(2);
        assert_eq!((0..100).filter(|_| l.admit(a, later)).count(), 10);
    }

    #[test]
    fn the_table_forgets_the_longest_idle_source() {
        let now = Instant::now();
        let mut l = Limiter::new(QueryLimits::DEFAULT, now);
        let busy = Ipv4Addr::new(127, 0, 0, 2);
        while l.admit(busy, now) {}
        for i in 0..MAX_SOURCES as u32 * 2 {
            l.admit(
                Ipv4Addr::from(0x7f10_0000 + i),
                now + Duration::from_millis(1),
            );
            assert!(l.sources() <= MAX_SOURCES);
        }
        // `busy` was idle longest and was forgotten: it starts again full
        assert!(l.admit(busy, now + Duration::from_millis(2)));
    }

    #[test]
    fn answer_bytes_run_out_and_come_back() {
        let now = Instant::now();
        let mut l = Limiter::new(QueryLimits::DEFAULT, now);
        assert!(l.may_answer(now));
        l.spend(24_000);
        assert!(!l.may_answer(now));
        assert!(l.may_answer(now + Duration::from_millis(10)));
    }
}
