//! Global rate limits and upload slots shared by every network, settable at runtime.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket measured in bytes per second; 0 means unlimited.
/// Callers take tokens before moving bytes and sleep off any debt.
#[derive(Debug)]
pub struct RateLimiter {
    rate: AtomicU64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A limiter allowing `rate` bytes per second (0 = unlimited).
    pub fn new(rate: u64) -> Self {
        RateLimiter {
            rate: AtomicU64::new(rate),
            state: Mutex::new(Bucket {
                tokens: rate as f64,
                last: Instant::now(),
            }),
        }
    }

    /// The current limit in bytes per second (0 = unlimited).
    pub fn rate(&self) -> u64 {
        self.rate.load(Ordering::Relaxed)
    }

    /// Changes the limit; takes effect at once.
    pub fn set_rate(&self, rate: u64) {
        self.rate.store(rate, Ordering::Relaxed);
    }

    /// Takes `n` bytes' worth of tokens and says how long to wait before using them.
    pub fn reserve(&self, n: usize) -> Duration {
        let rate = self.rate() as f64;
        if rate == 0.0 {
            return Duration::ZERO;
        }
        let mut b = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(b.last).as_secs_f64();
        b.last = now;
        // At most one second of burst.
        b.tokens = (b.tokens + elapsed * rate).min(rate);
        b.tokens -= n as f64;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / rate)
        }
    }

    /// Waits until `n` bytes may be moved.
    pub async fn acquire(&self, n: usize) {
        let wait = self.reserve(n);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The global limits: download and upload rate, and the number of upload slots.
#[derive(Debug)]
pub struct Limits {
    pub download: RateLimiter,
    pub upload: RateLimiter,
    upload_slots: AtomicUsize,
}

impl Limits {
    /// Limits in bytes per second (0 = unlimited) and a number of upload slots.
    pub fn new(download: u64, upload: u64, upload_slots: usize) -> Self {
        Limits {
            download: RateLimiter::new(download),
            upload: RateLimiter::new(upload),
            upload_slots: AtomicUsize::new(upload_slots),
        }
    }

    /// How many peers may download from us at once, over all networks.
    pub fn upload_slots(&self) -> usize {
        self.upload_slots.load(Ordering::Relaxed)
    }

    /// Changes the number of upload slots; takes effect at once.
    pub fn set_upload_slots(&self, n: usize) {
        self.upload_slots.store(n, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let l = RateLimiter::new(0);
        assert_eq!(l.reserve(1 << 30), Duration::ZERO);
    }

    #[test]
    fn debt_turns_into_wait() {
        let l = RateLimiter::new(1000);
        assert_eq!(l.reserve(1000), Duration::ZERO);
        let w = l.reserve(500);
        assert!(
            w > Duration::from_millis(400) && w <= Duration::from_millis(500),
            "{w:?}"
        );
        l.set_rate(0);
        assert_eq!(l.reserve(10_000), Duration::ZERO);
    }
}
