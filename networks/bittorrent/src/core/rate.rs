//! A sliding-window transfer rate meter (time passed in).

use std::time::{Duration, Instant};

/// Bytes per second over the last few seconds, in one-second buckets.
#[derive(Debug, Clone)]
pub struct RateMeter {
    start: Instant,
    window: u64,
    /// (second since start, bytes) per ring slot.
    slots: Vec<(u64, u64)>,
    total: u64,
}

impl RateMeter {
    /// A meter averaging over `window` (whole seconds, at least one) from `now`.
    pub fn new(window: Duration, now: Instant) -> Self {
        let window = window.as_secs().max(1);
        RateMeter {
            start: now,
            window,
            slots: vec![(u64::MAX, 0); window as usize],
            total: 0,
        }
    }

    /// Counts `bytes` transferred at `now`.
    pub fn record(&mut self, bytes: u64, now: Instant) {
        let sec = now.saturating_duration_since(self.start).as_secs();
        let slot = &mut self.slots[(sec % self.window) as usize];
        if slot.0 != sec {
            *slot = (sec, 0);
        }
        slot.1 += bytes;
        self.total += bytes;
    }

    /// The average rate in bytes per second over the window ending at `now`
    /// (over the time since the start while that is shorter, and at least one second).
    pub fn rate(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start);
        let sec = elapsed.as_secs();
        let first = (sec + 1).saturating_sub(self.window);
        let bytes: u64 = self
            .slots
            .iter()
            .filter(|(s, _)| *s != u64::MAX && *s >= first && *s <= sec)
            .map(|(_, b)| b)
            .sum();
        // The window: whole seconds before the current one plus its elapsed part.
        let frac = elapsed.as_secs_f64() - sec as f64;
        let span = ((sec - first) as f64 + frac).max(1.0);
        (bytes as f64 / span) as u64
    }

    /// Every byte ever recorded.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_rate_and_decay() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(Duration::from_secs(5), t0);
        for ms in (0..10_000).step_by(100) {
            m.record(10_000, t0 + Duration::from_millis(ms));
        }
        // 100 kB/s steady.
        let r = m.rate(t0 + Duration::from_millis(9_999));
        assert!((95_000..=105_000).contains(&r), "{r}");
        assert_eq!(m.total(), 1_000_000);
        // Silence for longer than the window: zero.
        assert_eq!(m.rate(t0 + Duration::from_secs(16)), 0);
    }

    #[test]
    fn early_burst_is_not_inflated_below_one_second() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(Duration::from_secs(5), t0);
        m.record(1_000, t0 + Duration::from_millis(10));
        assert_eq!(m.rate(t0 + Duration::from_millis(20)), 1_000);
    }
}
