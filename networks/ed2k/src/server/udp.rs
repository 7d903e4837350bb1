//! The server's UDP status answer (OP_GLOBSERVSTATREQ → OP_GLOBSERVSTATRES)
//! on the TCP port + 4, as eMule/aMule expect of a server.
//!
//! aMule 2.3.3 pings every server in its list this way soon after logging in
//! and then every few hours, counting a failure *before* each ping and
//! clearing it on the answer. A server that never answers shows as "Failed"
//! with no users or files in its statistics (seen in tests/amule_interop.rs),
//! and after `DeadServerRetry` (default 3) unanswered pings aMule removes it
//! from its server list.
//!
//! UDP datagrams carry no length field: `protocol(1) opcode(1) payload`.
//!
//! A UDP source address can be forged, so the server must never be a good
//! reflector: an answer is at most [`MAX_AMPLIFICATION`] times the request
//! (the counts that do not fit are left out; eMule and aMule read what is
//! there), and each source address gets a few answers a minute, all of them
//! together a bounded number a second ([`UdpLimiter`]).

use crate::proto::frame::PROTO_EDONKEY;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};
use swarmux_net::gate::AddressKey;

/// An answer is at most this many times the size of its request.
pub const MAX_AMPLIFICATION: usize = 3;
/// Answers one source address may get in a burst...
const SOURCE_BURST: f64 = 4.0;
/// ...and then one per this long (aMule pings each server every few hours).
const SOURCE_EVERY: Duration = Duration::from_secs(15);
/// Answers per second to all sources together.
const GLOBAL_PER_SEC: f64 = 200.0;
/// Source addresses remembered; past it, those whose bucket is full again
/// are forgotten, and if that is not enough, all are (the global bucket
/// still bounds what forged sources can draw).
const MAX_SOURCES: usize = 8192;

/// OP_GLOBSERVSTATREQ: a u32 challenge.
pub const OP_GLOBSERVSTATREQ: u8 = 0x96;
/// OP_GLOBSERVSTATRES: the challenge echoed, then the counts.
pub const OP_GLOBSERVSTATRES: u8 = 0x97;

/// What the status answer reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpStatus {
    pub users: u32,
    pub files: u32,
    pub max_users: u32,
    /// Files a client should offer at most (eMule/aMule limit their offers to it).
    pub soft_files: u32,
    pub hard_files: u32,
}

/// The answer to one datagram, if it is a status request: the challenge,
/// then as many of the counts as fit in [`MAX_AMPLIFICATION`] times the
/// request (users and files always: eMule needs those two). UDP flags are
/// 0: no UDP search or source requests are served.
pub fn answer(datagram: &[u8], status: UdpStatus) -> Option<Vec<u8>> {
    let [PROTO_EDONKEY, OP_GLOBSERVSTATREQ, c0, c1, c2, c3, ..] = *datagram else {
        return None;
    };
    let room = datagram.len() * MAX_AMPLIFICATION;
    let mut out = vec![PROTO_EDONKEY, OP_GLOBSERVSTATRES, c0, c1, c2, c3];
    for v in [
        status.users,
        status.files,
        status.max_users,
        status.soft_files,
        status.hard_files,
        0, // UDP flags
    ] {
        if out.len() + 4 > room {
            break;
        }
        out.extend_from_slice(&v.to_le_bytes());
    }
    Some(out)
}

/// A token bucket.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: capacity,
            at: now,
        }
    }

    /// Refills at `per_sec` up to `capacity`; true when a token is there.
    fn refill(&mut self, capacity: f64, per_sec: f64, now: Instant) -> bool {
        let secs = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + secs * per_sec).min(capacity);
        self.at = now;
        self.tokens >= 1.0
    }
}

/// Decides which datagrams get an answer: a few a minute per source
/// address (an IPv6 /64 counts as one), a bounded number a second in all.
#[derive(Debug)]
pub struct UdpLimiter {
    sources: HashMap<AddressKey, Bucket>,
    global: Bucket,
}

impl UdpLimiter {
    /// A limiter with every bucket full at `now`.
    pub fn new(now: Instant) -> Self {
        UdpLimiter {
            sources: HashMap::new(),
            global: Bucket::full(GLOBAL_PER_SEC, now),
        }
    }

    /// True when a datagram from `from` may be answered at `now`.
    pub fn allow(&mut self, from: IpAddr, now: Instant) -> bool {
        let key = AddressKey::of(from);
        let per_sec = 1.0 / SOURCE_EVERY.as_secs_f64();
        if !self.sources.contains_key(&key) && self.sources.len() >= MAX_SOURCES {
            let full_after = SOURCE_EVERY.mul_f64(SOURCE_BURST);
            self.sources
                .retain(|_, b| now.saturating_duration_since(b.at) < full_after);
            if self.sources.len() >= MAX_SOURCES {
                self.sources.clear();
            }
        }
        let source = self
            .sources
            .entry(key)
            .or_insert_with(|| Bucket::full(SOURCE_BURST, now));
        let global = &mut self.global;
        if !source.refill(SOURCE_BURST, per_sec, now)
            || !global.refill(GLOBAL_PER_SEC, GLOBAL_PER_SEC, now)
        {
            return false;
        }
        source.tokens -= 1.0;
        global.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_status_requests_only() {
        let st = UdpStatus {
            users: 2,
            files: 5,
            max_users: 10,
            soft_files: 100,
            hard_files: 100,
        };
        // eMule's 6-byte request: users, files and max users (18 bytes).
        let req = [0xE3, 0x96, 0x34, 0x12, 0xAA, 0x55];
        let a = answer(&req, st).unwrap();
        assert_eq!(&a[..6], &[0xE3, 0x97, 0x34, 0x12, 0xAA, 0x55]);
        assert_eq!(&a[6..10], &2u32.to_le_bytes());
        assert_eq!(&a[10..14], &5u32.to_le_bytes());
        assert_eq!(&a[14..18], &10u32.to_le_bytes());
        assert_eq!(a.len(), 18);
        // A longer request gets every count.
        let mut long = req.to_vec();
        long.extend([0; 4]);
        assert_eq!(answer(&long, st).unwrap().len(), 6 + 6 * 4);
        for n in 6..40 {
            let mut r = req.to_vec();
            r.resize(n, 0);
            assert!(answer(&r, st).unwrap().len() <= MAX_AMPLIFICATION * n);
        }
        assert_eq!(answer(&req[..5], st), None);
        assert_eq!(answer(&[0xE3, 0x98, 0, 0, 0, 0], st), None);
        assert_eq!(answer(&[0xC5, 0x96, 0, 0, 0, 0], st), None);
    }

    #[test]
    fn each_source_gets_a_few_answers_a_minute() {
        let t0 = Instant::now();
        let mut l = UdpLimiter::new(t0);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let burst = (0..20).filter(|_| l.allow(a, t0)).count();
        assert_eq!(burst, SOURCE_BURST as usize);
        assert!(l.allow(b, t0), "another source is still answered");
        assert!(!l.allow(a, t0 + SOURCE_EVERY / 2));
        assert!(l.allow(a, t0 + SOURCE_EVERY));
        // An IPv6 /64 is one source.
        let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
        let n = (0..20)
            .filter(|i| l.allow(v6(&format!("2001:db8::{i:x}")), t0))
            .count();
        assert_eq!(n, SOURCE_BURST as usize);
    }

    #[test]
    fn all_sources_together_are_bounded() {
        let t0 = Instant::now();
        let mut l = UdpLimiter::new(t0);
        let answered = (0..10_000u32)
            .filter(|i| l.allow(IpAddr::from((0x0A00_0000 + i).to_be_bytes()), t0))
            .count();
        assert_eq!(answered, GLOBAL_PER_SEC as usize);
        // A second later, the global budget is back; the table stays bounded.
        let t1 = t0 + Duration::from_secs(1);
        assert!(l.allow("127.0.0.9".parse().unwrap(), t1));
        assert!(l.sources.len() <= MAX_SOURCES);
    }
}
