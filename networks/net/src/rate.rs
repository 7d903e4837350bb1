//! A transfer rate meter shared by every network: bytes per second over a
//! sliding window, counted in ten fixed buckets so memory stays constant
//! whatever the traffic. Sans-IO: the caller passes the time in.

use std::time::{Duration, Instant};

/// Buckets in the window.
const BUCKETS: usize = 10;
/// The window of [`RateMeter::default`].
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(5);
/// The shortest span a rate is computed over, so that the first bytes of a
/// transfer do not show as a burst of gigabytes per second.
const MIN_SPAN: Duration = Duration::from_secs(1);

/// Bytes per second over the last `window`, and the total ever counted.
#[derive(Debug, Clone)]
pub struct RateMeter {
    /// Length of one bucket (a tenth of the window).
    bucket: Duration,
    /// When the first bytes were counted: bucket 0 starts there.
    origin: Option<Instant>,
    /// Bytes per bucket, bucket `n` at index `n % BUCKETS`.
    buckets: [u64; BUCKETS],
    /// Number of the newest bucket written.
    last: u64,
    total: u64,
}

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter::new(DEFAULT_WINDOW)
    }
}

impl RateMeter {
    /// A meter averaging over `window` (at least one second).
    pub fn new(window: Duration) -> Self {
        RateMeter {
            bucket: window.max(MIN_SPAN) / BUCKETS as u32,
            origin: None,
            buckets: [0; BUCKETS],
            last: 0,
            total: 0,
        }
    }

    fn bucket_of(&self, origin: Instant, now: Instant) -> u64 {
        let ms = now.saturating_duration_since(origin).as_millis();
        u64::try_from(ms / self.bucket.as_millis().max(1)).unwrap_or(u64::MAX)
    }

    /// Counts `bytes` transferred at `now`.
    pub fn record(&mut self, bytes: u64, now: Instant) {
        let origin = *self.origin.get_or_insert(now);
        let cur = self.bucket_of(origin, now);
        if cur > self.last {
            let stale = (cur - self.last).min(BUCKETS as u64);
            for k in 0..stale {
                self.buckets[((cur - k) % BUCKETS as u64) as usize] = 0;
            }
            self.last = cur;
        }
        let i = (self.last % BUCKETS as u64) as usize;
        self.buckets[i] = self.buckets[i].saturating_add(bytes);
        self.total = self.total.saturating_add(bytes);
    }

    /// Bytes per second over the window before `now` (0 when idle).
    pub fn rate(&self, now: Instant) -> u64 {
        let Some(origin) = self.origin else {
            return 0;
        };
        let cur = self.bucket_of(origin, now).max(self.last);
        let first = (cur + 1).saturating_sub(BUCKETS as u64);
        if self.last < first {
            return 0;
        }
        let total: u64 = (first..=self.last)
            .map(|n| self.buckets[(n % BUCKETS as u64) as usize])
            .sum();
        let since = origin + self.bucket * u32::try_from(first).unwrap_or(u32::MAX);
        let span = now.saturating_duration_since(since).max(MIN_SPAN);
        (total as f64 / span.as_secs_f64()) as u64
    }

    /// Every byte ever counted.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn steady_flow_then_idle() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        assert_eq!(m.rate(t0), 0);
        // 10 KiB every 100 ms for 8 s: 100 KiB/s.
        for i in 0..80u32 {
            m.record(10 * 1024, t0 + Duration::from_millis(100) * i);
        }
        let now = t0 + Duration::from_millis(7950);
        let r = m.rate(now);
        assert!((95 * 1024..=110 * 1024).contains(&r), "{r}");
        assert_eq!(m.total(), 800 * 1024);
        // Nothing more: the rate decays and reaches 0 after the window.
        assert!(m.rate(now + Duration::from_secs(3)) < r);
        assert_eq!(m.rate(now + DEFAULT_WINDOW + Duration::from_millis(500)), 0);
        // A new burst after a long pause counts only itself, spread over
        // the window.
        let later = now + Duration::from_secs(60);
        m.record(1000, later);
        let r = m.rate(later + Duration::from_millis(200));
        assert!((150..=1000).contains(&r), "{r}");
    }

    /// From the BitTorrent meter this one replaced: 100 kB/s steady for
    /// 10 s, then silence.
    #[test]
    fn steady_rate_and_decay() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(Duration::from_secs(5));
        for ms in (0..10_000).step_by(100) {
            m.record(10_000, t0 + Duration::from_millis(ms));
        }
        let r = m.rate(t0 + Duration::from_millis(9_999));
        assert!((95_000..=105_000).contains(&r), "{r}");
        assert_eq!(m.total(), 1_000_000);
        assert_eq!(m.rate(t0 + Duration::from_secs(16)), 0);
    }

    /// From the ed2k meter this one replaced: a lone burst decays to 0 and
    /// is still counted in the total. (That meter divided by the whole
    /// window at once and gave 1000 B/s here; the first second now counts
    /// as a second.)
    #[test]
    fn a_burst_decays() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        m.record(5000, t0);
        assert_eq!(m.rate(t0), 5000);
        assert_eq!(m.rate(t0 + Duration::from_secs(6)), 0);
        assert_eq!(m.total(), 5000);
    }

    #[test]
    fn first_bytes_are_not_a_spike() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        m.record(64 * 1024, t0);
        assert_eq!(m.rate(t0 + Duration::from_millis(1)), 64 * 1024);
        let mut m = RateMeter::new(Duration::from_secs(5));
        m.record(1_000, t0 + Duration::from_millis(10));
        assert_eq!(m.rate(t0 + Duration::from_millis(20)), 1_000);
    }

    proptest! {
        #[test]
        fn rate_never_exceeds_bytes_per_min_span(
            steps in proptest::collection::vec((0u64..5_000, 0u64..1_000_000), 0..60),
            window in 1u64..10,
        ) {
            let t0 = Instant::now();
            let mut m = RateMeter::new(Duration::from_secs(window));
            let mut t = t0;
            let mut total = 0u64;
            for (dt, n) in steps {
                t += Duration::from_millis(dt);
                m.record(n, t);
                total += n;
                prop_assert!(m.rate(t) <= total);
            }
            prop_assert_eq!(m.total(), total);
        }
    }
}
