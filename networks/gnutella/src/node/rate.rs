//! A transfer rate meter: bytes per second over the last [`WINDOW`], counted
//! in fixed time buckets so memory stays constant whatever the traffic.
//! Sans-IO: the caller passes the time in.

use std::time::{Duration, Instant};

/// Length of one bucket.
const BUCKET: Duration = Duration::from_millis(500);
/// Buckets in the window.
const BUCKETS: usize = 10;
/// The window the rate is measured over.
pub const WINDOW: Duration = Duration::from_secs(5);
/// The shortest span a rate is computed over, so that the first bytes of a
/// transfer do not show as a burst of gigabytes per second.
const MIN_SPAN: Duration = Duration::from_secs(1);

/// Bytes per second over the last [`WINDOW`].
#[derive(Debug, Clone, Default)]
pub struct RateMeter {
    /// When the first bytes were counted: bucket 0 starts there.
    origin: Option<Instant>,
    /// Bytes per bucket, bucket `n` at index `n % BUCKETS`.
    buckets: [u64; BUCKETS],
    /// Number of the newest bucket written.
    last: u64,
}

impl RateMeter {
    /// A meter that has counted nothing.
    pub fn new() -> Self {
        Self::default()
    }

    fn bucket_of(origin: Instant, now: Instant) -> u64 {
        let ms = now.saturating_duration_since(origin).as_millis();
        u64::try_from(ms / BUCKET.as_millis()).unwrap_or(u64::MAX)
    }

    /// Counts `bytes` transferred at `now`.
    pub fn record(&mut self, bytes: u64, now: Instant) {
        let origin = *self.origin.get_or_insert(now);
        let cur = Self::bucket_of(origin, now);
        if cur > self.last {
            let stale = (cur - self.last).min(BUCKETS as u64);
            for k in 0..stale {
                self.buckets[((cur - k) % BUCKETS as u64) as usize] = 0;
            }
            self.last = cur;
        }
        let i = (self.last % BUCKETS as u64) as usize;
        self.buckets[i] = self.buckets[i].saturating_add(bytes);
    }

    /// Bytes per second over the last [`WINDOW`] before `now` (0 when idle).
    pub fn rate(&self, now: Instant) -> u64 {
        let Some(origin) = self.origin else {
            return 0;
        };
        let cur = Self::bucket_of(origin, now).max(self.last);
        let first = (cur + 1).saturating_sub(BUCKETS as u64);
        if self.last < first {
            return 0;
        }
        let total: u64 = (first..=self.last)
            .map(|n| self.buckets[(n % BUCKETS as u64) as usize])
            .sum();
        let since = origin + BUCKET * u32::try_from(first).unwrap_or(u32::MAX);
        let span = now.saturating_duration_since(since).max(MIN_SPAN);
        (total as f64 / span.as_secs_f64()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn steady_flow_then_idle() {
        let t0 = Instant::now();
        let mut m = RateMeter::new();
        assert_eq!(m.rate(t0), 0);
        // 10 KiB every 100 ms for 8 s: 100 KiB/s.
        for i in 0..80u32 {
            m.record(10 * 1024, t0 + Duration::from_millis(100) * i);
        }
        let now = t0 + Duration::from_millis(7950);
        let r = m.rate(now);
        assert!((95 * 1024..=110 * 1024).contains(&r), "{r}");
        // Nothing more: the rate decays and reaches 0 after the window.
        assert!(m.rate(now + Duration::from_secs(3)) < r);
        assert_eq!(m.rate(now + WINDOW + BUCKET), 0);
        // A new burst after a long pause counts only itself, spread over
        // the window.
        let later = now + Duration::from_secs(60);
        m.record(1000, later);
        let r = m.rate(later + Duration::from_millis(200));
        assert!((150..=1000).contains(&r), "{r}");
    }

    #[test]
    fn first_bytes_are_not_a_spike() {
        let t0 = Instant::now();
        let mut m = RateMeter::new();
        m.record(64 * 1024, t0);
        assert_eq!(m.rate(t0 + Duration::from_millis(1)), 64 * 1024);
    }

    proptest! {
        #[test]
        fn rate_never_exceeds_bytes_per_min_span(
            steps in proptest::collection::vec((0u64..5_000, 0u64..1_000_000), 0..60)
        ) {
            let t0 = Instant::now();
            let mut m = RateMeter::new();
            let mut t = t0;
            let mut total = 0u64;
            for (dt, n) in steps {
                t += Duration::from_millis(dt);
                m.record(n, t);
                total += n;
                prop_assert!(m.rate(t) <= total);
            }
        }
    }
}
