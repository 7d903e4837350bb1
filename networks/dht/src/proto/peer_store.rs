//! Peers announced to us, per info-hash, forgotten after [`PEER_TTL`]; bounded in
//! the number of info-hashes, the peers kept for each, and what one address may
//! store (so one host cannot fill the store or every reply).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::id::NodeId;

/// How long an announce is kept (BitTorrent clients re-announce every 15–30 minutes).
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);
/// Most info-hashes stored.
const MAX_INFO_HASHES: usize = 2048;
/// Most peers stored per info-hash.
const MAX_PEERS_PER_HASH: usize = 256;
/// Most peers returned in one `get_peers` reply (the reply's size is also
/// bounded relative to the query by the node).
pub const MAX_PEERS_PER_REPLY: usize = 50;
/// Most ports one address may store for one info-hash (several clients
/// behind one NAT); a further port replaces that address's oldest.
pub const MAX_PORTS_PER_ADDRESS: usize = 4;
/// Most announces one address may have stored over all info-hashes; further
/// new ones are refused until some expire.
pub const MAX_ANNOUNCES_PER_ADDRESS: usize = 64;

/// The announced peers this node stores for others.
#[derive(Debug, Default)]
pub struct PeerStore {
    torrents: HashMap<NodeId, Vec<(SocketAddrV4, Instant)>>,
    /// Entries stored per address, over all info-hashes.
    per_address: HashMap<Ipv4Addr, usize>,
}

impl PeerStore {
    /// Stores (or refreshes) `peer` for `info_hash`; refused when full.
    pub fn announce(&mut self, info_hash: NodeId, peer: SocketAddrV4, now: Instant) {
        if !self.torrents.contains_key(&info_hash) && self.torrents.len() >= MAX_INFO_HASHES {
            return;
        }
        let ip = *peer.ip();
        let stored = self.per_address.get(&ip).copied().unwrap_or(0);
        let peers = self.torrents.entry(info_hash).or_default();
        if let Some(p) = peers.iter_mut().find(|(a, _)| *a == peer) {
            p.1 = now;
            return;
        }
        let same_address = peers.iter().filter(|(a, _)| a.ip() == &ip).count();
        let slot = if same_address >= MAX_PORTS_PER_ADDRESS {
            peers
                .iter_mut()
                .filter(|(a, _)| a.ip() == &ip)
                .min_by_key(|(_, t)| *t)
        } else if stored >= MAX_ANNOUNCES_PER_ADDRESS {
            None
        } else if peers.len() < MAX_PEERS_PER_HASH {
            peers.push((peer, now));
            *self.per_address.entry(ip).or_default() += 1;
            None
        } else {
            let oldest = peers.iter_mut().min_by_key(|(_, t)| *t);
            if let Some((gone, _)) = &oldest {
                forget(&mut self.per_address, *gone.ip());
                *self.per_address.entry(ip).or_default() += 1;
            }
            oldest
        };
        if let Some(slot) = slot {
            *slot = (peer, now);
        }
        if peers.is_empty() {
            self.torrents.remove(&info_hash);
        }
    }

    /// Up to [`MAX_PEERS_PER_REPLY`] live peers for `info_hash`, most recent first.
    pub fn peers(&self, info_hash: &NodeId, now: Instant) -> Vec<SocketAddrV4> {
        let mut live: Vec<_> = self
            .torrents
            .get(info_hash)
            .into_iter()
            .flatten()
            .filter(|(_, t)| now.saturating_duration_since(*t) < PEER_TTL)
            .collect();
        live.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
        live.into_iter()
            .take(MAX_PEERS_PER_REPLY)
            .map(|(a, _)| *a)
            .collect()
    }

    /// Forgets expired announces.
    pub fn expire(&mut self, now: Instant) {
        let per_address = &mut self.per_address;
        self.torrents.retain(|_, peers| {
            peers.retain(|(a, t)| {
                let live = now.saturating_duration_since(*t) < PEER_TTL;
                if !live {
                    forget(per_address, *a.ip());
                }
                live
            });
            !peers.is_empty()
        });
    }

    /// (info-hashes, peers) currently stored.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.torrents.len(),
            self.torrents.values().map(Vec::len).sum(),
        )
    }
}

/// One entry of `ip` fewer.
fn forget(per_address: &mut HashMap<Ipv4Addr, usize>, ip: Ipv4Addr) {
    if let Some(n) = per_address.get_mut(&ip) {
        *n -= 1;
        if *n == 0 {
            per_address.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn stores_refreshes_and_expires() {
        let now = Instant::now();
        let ih = NodeId([7; 20]);
        let a = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6881);
        let mut s = PeerStore::default();
        s.announce(ih, a, now);
        s.announce(ih, a, now);
        assert_eq!(s.peers(&ih, now), vec![a]);
        assert_eq!(s.counts(), (1, 1));
        assert!(s.peers(&ih, now + PEER_TTL).is_empty());
        s.expire(now + PEER_TTL);
        assert_eq!(s.counts(), (0, 0));
        for i in 1..=(MAX_PEERS_PER_HASH as u32 + 10) {
            s.announce(
                ih,
                SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 + i), 1),
                now,
            );
        }
        assert_eq!(s.counts().1, MAX_PEERS_PER_HASH);
        assert_eq!(s.peers(&ih, now).len(), MAX_PEERS_PER_REPLY);
        assert_eq!(s.per_address.len(), MAX_PEERS_PER_HASH);
    }

    #[test]
    fn one_address_stores_little() {
        let now = Instant::now();
        let mut s = PeerStore::default();
        let ih = NodeId([7; 20]);
        for port in 1..1000 {
            s.announce(ih, SocketAddrV4::new(Ipv4Addr::LOCALHOST, port), now);
        }
        assert_eq!(s.counts(), (1, MAX_PORTS_PER_ADDRESS));
        for i in 0..1000u32 {
            let mut h = [0u8; 20];
            h[..4].copy_from_slice(&i.to_be_bytes());
            s.announce(NodeId(h), SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1), now);
        }
        assert_eq!(s.counts().1, MAX_ANNOUNCES_PER_ADDRESS);
        // another address is still stored
        s.announce(ih, SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 3), 1), now);
        assert_eq!(s.peers(&ih, now).len(), MAX_PORTS_PER_ADDRESS + 1);
        s.expire(now + PEER_TTL);
        assert_eq!(s.counts(), (0, 0));
        assert!(s.per_address.is_empty());
    }
}
