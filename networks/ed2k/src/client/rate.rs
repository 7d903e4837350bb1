//! A byte-rate meter over the last few seconds.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far back the meter looks.
const WINDOW: Duration = Duration::from_secs(5);

/// Counts bytes and reports bytes per second over the last few seconds.
#[derive(Clone, Debug, Default)]
pub struct RateMeter {
    total: u64,
    samples: VecDeque<(Instant, u64)>,
}

impl RateMeter {
    /// A meter with nothing counted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `n` bytes moved now.
    pub fn add(&mut self, n: u64) {
        self.add_at(Instant::now(), n);
    }

    fn add_at(&mut self, now: Instant, n: u64) {
        self.total += n;
        match self.samples.back_mut() {
            Some((t, c)) if now.duration_since(*t) < Duration::from_millis(250) => *c += n,
            _ => self.samples.push_back((now, n)),
        }
        self.trim(now);
    }

    fn trim(&mut self, now: Instant) {
        while let Some((t, _)) = self.samples.front() {
            if now.duration_since(*t) > WINDOW {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    /// Bytes counted since creation.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes per second over the window.
    pub fn rate(&mut self) -> u64 {
        self.rate_at(Instant::now())
    }

    fn rate_at(&mut self, now: Instant) -> u64 {
        self.trim(now);
        let sum: u64 = self.samples.iter().map(|(_, n)| n).sum();
        (sum as f64 / WINDOW.as_secs_f64()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_decays() {
        let mut m = RateMeter::new();
        let t0 = Instant::now();
        m.add_at(t0, 5000);
        assert_eq!(m.rate_at(t0), 1000);
        assert_eq!(m.rate_at(t0 + Duration::from_secs(6)), 0);
        assert_eq!(m.total(), 5000);
    }
}
