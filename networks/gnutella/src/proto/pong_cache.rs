//! The pong cache: recent pongs from distinct servents, used to answer pings
//! without flooding them. Bounded in size and age.

use super::pong::Pong;
use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

/// Recent pongs, newest last, one per address.
#[derive(Debug, Clone)]
pub struct PongCache {
    capacity: usize,
    max_age: Duration,
    entries: VecDeque<(Instant, Pong)>,
}

impl PongCache {
    /// A cache of at most `capacity` pongs younger than `max_age`.
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        PongCache {
            capacity,
            max_age,
            entries: VecDeque::new(),
        }
    }

    /// Stores a pong seen at `now`, replacing an older one for the same address.
    pub fn insert(&mut self, pong: Pong, now: Instant) {
        self.entries.retain(|(_, p)| p.addr != pong.addr);
        self.entries.push_back((now, pong));
        while self.entries.len() > self.capacity {
            self.entries.pop_front();
        }
    }

    /// Up to `max` fresh pongs, newest first, leaving out `exclude` (the
    /// servent that pinged us).
    pub fn answer(&mut self, now: Instant, max: usize, exclude: Option<SocketAddrV4>) -> Vec<Pong> {
        self.expire(now);
        self.entries
            .iter()
            .rev()
            .filter(|(_, p)| Some(p.addr) != exclude)
            .take(max)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// Drops pongs older than the maximum age.
    pub fn expire(&mut self, now: Instant) {
        while self
            .entries
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > self.max_age)
        {
            self.entries.pop_front();
        }
    }

    /// Number of cached pongs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no pong is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn pong(last: u8) -> Pong {
        Pong::new(Ipv4Addr::new(127, 0, 0, last), 6346, u32::from(last), 0)
    }

    #[test]
    fn bounded_fresh_and_distinct() {
        let t0 = Instant::now();
        let mut c = PongCache::new(3, Duration::from_secs(10));
        for i in 1..=4 {
            c.insert(pong(i), t0 + Duration::from_secs(u64::from(i)));
        }
        assert_eq!(c.len(), 3);
        c.insert(pong(3), t0 + Duration::from_secs(5));
        assert_eq!(c.len(), 3);
        let got = c.answer(t0 + Duration::from_secs(6), 10, Some(pong(4).addr));
        assert_eq!(got.iter().map(|p| p.files).collect::<Vec<_>>(), vec![3, 2]);
        assert_eq!(c.answer(t0 + Duration::from_secs(14), 10, None).len(), 2);
        assert!(c.answer(t0 + Duration::from_secs(60), 10, None).is_empty());
        assert!(c.is_empty());
    }
}
