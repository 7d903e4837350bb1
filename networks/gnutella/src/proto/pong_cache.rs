//! The pong cache: recent pongs from distinct servents, used to answer pings
//! without flooding them. Bounded in size and age, and holding only what is
//! sent again: the fixed fields and the few GGEP metadata extensions
//! gtk-gnutella relays, each cut to the length gtk-gnutella re-sends
//! (`pong_extract_metadata` and `build_pong` in `src/core/pcache.c`). Host
//! lists and anything else a pong carried are left out, so a cached pong
//! is a few dozen bytes whatever arrived.

use super::ggep::Extension;
use super::pong::{Pong, PONG_FIXED_LEN};
use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

/// The GGEP extensions a cached pong keeps, with the most data bytes kept
/// of each: vendor code and version, GUESS version, ultrapeer version and
/// free slots, locale (`ll_CC`), daily uptime, TLS, DHT version and mode.
const RELAYED: [(&str, usize); 7] = [
    ("VC", 5),
    ("GUE", 1),
    ("UP", 3),
    ("LOC", 5),
    ("DU", 4),
    ("TLS", 0),
    ("DHT", 3),
];

/// Longest pong payload a cached pong encodes to: the fixed part, then one
/// GGEP block with every [`RELAYED`] extension at its longest (flags, id,
/// one length byte, data).
pub const MAX_CACHED_PONG: usize = {
    let mut len = PONG_FIXED_LEN + 1;
    let mut i = 0;
    while i < RELAYED.len() {
        len += 1 + RELAYED[i].0.len() + 1 + RELAYED[i].1;
        i += 1;
    }
    len
};

/// What the cache keeps of `pong`: see the module documentation.
fn relayed_part(mut pong: Pong) -> Pong {
    let mut kept: Vec<Extension> = Vec::new();
    for e in std::mem::take(&mut pong.ggep) {
        let Some(&(_, max)) = RELAYED.iter().find(|(id, _)| *id == e.id) else {
            continue;
        };
        if kept.iter().any(|k| k.id == e.id) {
            continue;
        }
        kept.push(Extension::new(&e.id, &e.data[..e.data.len().min(max)]));
    }
    kept.shrink_to_fit();
    pong.ggep = kept;
    pong
}

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

    /// Stores what is relayed of a pong seen at `now`, replacing an older
    /// one for the same address.
    pub fn insert(&mut self, pong: Pong, now: Instant) {
        let pong = relayed_part(pong);
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

    #[test]
    fn only_the_relayed_metadata_is_kept() {
        let mut p = pong(9);
        p.ggep = vec![
            Extension::new("IPP", vec![7u8; 600]),
            Extension::new("UP", [2, 5, 7]),
            Extension::new("VC", *b"GTKG\x01 and much more"),
            Extension::new("XQ", vec![1u8; 4000]),
            Extension::new("UP", [9, 9, 9]),
            Extension::new("DU", vec![0x80, 0x51]),
            Extension::new("PHC", vec![b'x'; 2000]),
        ];
        let mut c = PongCache::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        c.insert(p, t0);
        let got = c.answer(t0, 10, None);
        assert_eq!(
            got[0].ggep,
            vec![
                Extension::new("UP", [2, 5, 7]),
                Extension::new("VC", *b"GTKG\x01"),
                Extension::new("DU", [0x80, 0x51]),
            ]
        );
        assert!(got[0].encode().len() <= MAX_CACHED_PONG);
        // Every relayed extension at its longest still fits.
        let mut full = pong(10);
        full.ggep = RELAYED
            .iter()
            .map(|(id, _)| Extension::new(id, [b'z'; 40]))
            .collect();
        c.insert(full, t0);
        assert_eq!(c.answer(t0, 1, None)[0].encode().len(), MAX_CACHED_PONG);
    }
}
