//! The peers of a torrent: connections, addresses to try, and bans.
//!
//! Ban rules (every piece is SHA-1 checked; the disk thread names the
//! peers that sent a piece's blocks):
//! - a peer that alone sent a piece that fails is banned at once;
//! - a peer that sent blocks of a good piece becomes trusted;
//! - when a failed piece had several senders and exactly one of them is not
//!   trusted, that one gets a strike, and is banned at its second;
//! - when several senders are untrusted they go on probation: all but one
//!   stop requesting (and drop blocks still in flight), so the active one's
//!   next pieces are its alone: it is banned or trusted, then the next one
//!   takes its turn.
//!
//! A banned peer is dropped and never dialed or accepted again for this
//! torrent (by address and by peer id).

use super::shared::{PeerCmd, PeerShared};
use crate::core::RateMeter;
use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Most addresses remembered per torrent.
const MAX_KNOWN: usize = 1000;
/// Dial attempts before an address is given up.
const MAX_FAILURES: u32 = 5;
/// Strikes that ban a peer (see the module doc).
const STRIKES_TO_BAN: u32 = 2;

/// One connection.
pub(crate) struct PeerEntry {
    pub addr: SocketAddr,
    pub tx: mpsc::UnboundedSender<PeerCmd>,
    pub shared: Arc<PeerShared>,
    pub outgoing: bool,
    pub peer_id: Option<[u8; 20]>,
    pub client: String,
    pub pex: bool,
    pub metadata_size: Option<u64>,
    /// Where the peer accepts connections (its address when we dialed it).
    pub listen: Option<SocketAddr>,
    pub down: RateMeter,
    pub up: RateMeter,
    pub last_down: u64,
    pub last_up: u64,
    pub pex_sent: HashSet<SocketAddrV4>,
}

impl PeerEntry {
    /// The address that identifies the peer for bans.
    pub fn ident(&self) -> SocketAddr {
        self.listen.unwrap_or(self.addr)
    }
}

struct Candidate {
    failures: u32,
    retry_at: Instant,
    connected: bool,
}

/// The peers of one torrent.
#[derive(Default)]
pub(crate) struct Peers {
    pub map: HashMap<u64, PeerEntry>,
    known: HashMap<SocketAddr, Candidate>,
    banned: HashSet<SocketAddr>,
    banned_ids: HashSet<[u8; 20]>,
    strikes: HashMap<SocketAddr, u32>,
    trusted: HashSet<SocketAddr>,
    /// Peers on probation; the first one may request.
    suspects: Vec<u64>,
    /// Addresses of closed connections, so a piece that fails after its
    /// sender left still names it (bounded: oldest keys go first).
    departed: std::collections::BTreeMap<u64, SocketAddr>,
    /// Bans not yet reported to the user.
    newly_banned: Vec<SocketAddr>,
}

/// Closed connections whose address is remembered for blame.
const MAX_DEPARTED: usize = 1024;

impl Peers {
    pub fn all(&self) -> impl Iterator<Item = &PeerEntry> {
        self.map.values()
    }

    /// Addresses known (connected or not).
    pub fn known_count(&self) -> usize {
        self.known.len().max(self.map.len())
    }

    pub fn add_candidate(&mut self, addr: SocketAddr, now: Instant) {
        if addr.port() == 0 || self.banned.contains(&addr) {
            return;
        }
        if self.known.len() >= MAX_KNOWN && !self.known.contains_key(&addr) {
            return;
        }
        self.known.entry(addr).or_insert(Candidate {
            failures: 0,
            retry_at: now,
            connected: false,
        });
    }

    /// Marks an address as connected (an incoming peer's listen address).
    pub fn mark_connected(&mut self, addr: SocketAddr, now: Instant) {
        self.add_candidate(addr, now);
        if let Some(c) = self.known.get_mut(&addr) {
            c.connected = true;
        }
    }

    pub fn is_banned(&self, addr: &SocketAddr, peer_id: Option<&[u8; 20]>) -> bool {
        self.banned.contains(addr) || peer_id.is_some_and(|id| self.banned_ids.contains(id))
    }

    /// Addresses worth dialing now, fewest failures first.
    pub fn due(&self, now: Instant, skip: impl Fn(&SocketAddr) -> bool) -> Vec<SocketAddr> {
        let mut v: Vec<(u32, SocketAddr)> = self
            .known
            .iter()
            .filter(|(a, c)| !c.connected && c.retry_at <= now && !skip(a))
            .map(|(a, c)| (c.failures, *a))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, a)| a).collect()
    }

    pub fn dialing(&mut self, addr: SocketAddr) {
        if let Some(c) = self.known.get_mut(&addr) {
            c.connected = true;
        }
    }

    /// A connection ended; `worked` when the handshake went through.
    pub fn closed(&mut self, key: u64, worked: bool, now: Instant) -> Option<PeerEntry> {
        let e = self.map.remove(&key)?;
        self.departed.insert(key, e.addr);
        while self.departed.len() > MAX_DEPARTED {
            self.departed.pop_first();
        }
        self.leave_probation(key);
        let ident = e.ident();
        if let Some(c) = self.known.get_mut(&ident) {
            c.connected = false;
            if worked {
                c.failures = 0;
                c.retry_at = now + Duration::from_secs(60);
            } else {
                c.failures += 1;
                c.retry_at = now + Duration::from_secs(30 << c.failures.min(5));
            }
            if c.failures >= MAX_FAILURES {
                self.known.remove(&ident);
            }
        }
        Some(e)
    }

    fn ban(&mut self, key: u64) {
        let Some(e) = self.map.get(&key) else { return };
        self.banned.insert(e.ident());
        self.banned.insert(e.addr);
        if let Some(id) = e.peer_id {
            self.banned_ids.insert(id);
        }
        self.known.remove(&e.ident());
        let _ = e.tx.send(PeerCmd::Close);
        self.newly_banned.push(e.addr);
    }

    /// Peers banned since the last call, to be logged.
    pub fn take_newly_banned(&mut self) -> Vec<SocketAddr> {
        std::mem::take(&mut self.newly_banned)
    }

    /// A piece passed: its senders are trusted.
    pub fn piece_verified(&mut self, senders: &[u64]) {
        for k in senders {
            if let Some(e) = self.map.get(k) {
                self.trusted.insert(e.ident());
                self.leave_probation(*k);
            }
        }
    }

    /// A piece failed; applies the ban rules and returns the senders' addresses.
    pub fn piece_failed(&mut self, senders: &[u64], blamed: &[u64]) -> Vec<String> {
        let senders: Vec<u64> = if senders.is_empty() {
            blamed.to_vec()
        } else {
            senders.to_vec()
        };
        let addrs = senders
            .iter()
            .filter_map(|k| {
                self.map
                    .get(k)
                    .map(|e| e.addr)
                    .or_else(|| self.departed.get(k).copied())
                    .map(|a| a.to_string())
            })
            .collect();
        let present: Vec<u64> = senders
            .iter()
            .copied()
            .filter(|k| self.map.contains_key(k))
            .collect();
        if senders.len() == 1 {
            if let Some(&k) = present.first() {
                self.ban(k);
            }
            return addrs;
        }
        let untrusted: Vec<u64> = present
            .iter()
            .copied()
            .filter(|k| {
                !self
                    .map
                    .get(k)
                    .is_some_and(|e| self.trusted.contains(&e.ident()))
            })
            .collect();
        match untrusted.as_slice() {
            [] => {}
            [k] => {
                let Some(ident) = self.map.get(k).map(PeerEntry::ident) else {
                    return addrs;
                };
                let s = self.strikes.entry(ident).or_insert(0);
                *s += 1;
                if *s >= STRIKES_TO_BAN {
                    self.ban(*k);
                }
            }
            many => {
                for k in many {
                    if !self.suspects.contains(k) {
                        self.suspects.push(*k);
                    }
                }
                self.apply_probation();
            }
        }
        addrs
    }

    fn leave_probation(&mut self, key: u64) {
        if let Some(i) = self.suspects.iter().position(|k| *k == key) {
            self.suspects.remove(i);
            if let Some(e) = self.map.get(&key) {
                let _ = e.tx.send(PeerCmd::Suspend(false));
            }
            self.apply_probation();
        }
    }

    /// The first suspect requests; the others wait.
    fn apply_probation(&mut self) {
        for (i, k) in self.suspects.iter().enumerate() {
            if let Some(e) = self.map.get(k) {
                let _ = e.tx.send(PeerCmd::Suspend(i > 0));
            }
        }
    }
}
