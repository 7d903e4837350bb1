//! A per-neighbour token bucket for incoming queries. Each query takes a
//! token; tokens come back at a steady rate up to a burst. A query without a
//! token is dropped with a reason for the log, and a neighbour that keeps
//! flooding (too many drops in a window) should be disconnected.

use std::time::{Duration, Instant};

/// What to do with an incoming query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Process it.
    Accept,
    /// Drop it and log the reason.
    Drop(&'static str),
    /// Drop it and close the link (Bye 4xx), logging the reason.
    Disconnect(&'static str),
}

/// Limits for [`QueryThrottle`].
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// Sustained queries per second.
    pub rate: f64,
    /// Queries that may arrive at once.
    pub burst: f64,
    /// Drops within `window` after which the neighbour is disconnected.
    pub disconnect_after: u32,
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            rate: 5.0,
            burst: 30.0,
            disconnect_after: 200,
            window: Duration::from_secs(60),
        }
    }
}

/// The bucket of one neighbour.
#[derive(Debug, Clone)]
pub struct QueryThrottle {
    cfg: ThrottleConfig,
    tokens: f64,
    last: Instant,
    drops: u32,
    window_start: Instant,
}

impl QueryThrottle {
    /// A full bucket as of `now`.
    pub fn new(cfg: ThrottleConfig, now: Instant) -> Self {
        QueryThrottle {
            cfg,
            tokens: cfg.burst,
            last: now,
            drops: 0,
            window_start: now,
        }
    }

    /// Judges one incoming query at `now` (times going backwards count as no time).
    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * self.cfg.rate).min(self.cfg.burst);
        if now.saturating_duration_since(self.window_start) >= self.cfg.window {
            self.window_start = now;
            self.drops = 0;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Accept;
        }
        self.drops += 1;
        if self.drops >= self.cfg.disconnect_after {
            Verdict::Disconnect("query flood: too many queries dropped")
        } else {
            Verdict::Drop("query rate above the limit")
        }
    }

    /// Queries dropped in the current window.
    pub fn drops(&self) -> u32 {
        self.drops
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn burst_then_steady_rate_then_disconnect() {
        let t0 = Instant::now();
        let cfg = ThrottleConfig {
            rate: 2.0,
            burst: 5.0,
            disconnect_after: 10,
            window: Duration::from_secs(60),
        };
        let mut t = QueryThrottle::new(cfg, t0);
        for _ in 0..5 {
            assert_eq!(t.check(t0), Verdict::Accept);
        }
        assert!(matches!(t.check(t0), Verdict::Drop(_)));
        assert_eq!(t.check(t0 + Duration::from_millis(500)), Verdict::Accept);
        let mut last = Verdict::Accept;
        for _ in 0..10 {
            last = t.check(t0 + Duration::from_millis(500));
        }
        assert!(matches!(last, Verdict::Disconnect(_)));
        // A new window forgets the drops; the bucket refills with time.
        let later = t0 + Duration::from_secs(120);
        assert_eq!(t.check(later), Verdict::Accept);
        assert_eq!(t.drops(), 0);
    }

    proptest! {
        #[test]
        fn never_panics_and_accepts_at_most_burst_plus_rate(
            steps in proptest::collection::vec(0u64..2000, 1..200)) {
            let t0 = Instant::now();
            let cfg = ThrottleConfig::default();
            let mut t = QueryThrottle::new(cfg, t0);
            let (mut now, mut accepted) = (t0, 0u64);
            for ms in steps {
                now += Duration::from_millis(ms);
                if t.check(now) == Verdict::Accept { accepted += 1; }
            }
            let secs = now.duration_since(t0).as_secs_f64();
            prop_assert!(accepted as f64 <= cfg.burst + secs * cfg.rate + 1.0);
        }
    }
}
