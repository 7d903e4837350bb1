//! Peers announced to us, per info-hash, forgotten after [`PEER_TTL`]; bounded in both
//! the number of info-hashes and the peers kept for each.

use std::collections::HashMap;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use super::id::NodeId;

/// How long an announce is kept (BitTorrent clients re-announce every 15–30 minutes).
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);
/// Most info-hashes stored.
const MAX_INFO_HASHES: usize = 2048;
/// Most peers stored per info-hash.
const MAX_PEERS_PER_HASH: usize = 256;
/// Most peers returned in one `get_peers` reply (keeps the datagram small).
pub const MAX_PEERS_PER_REPLY: usize = 50;

/// The announced peers this node stores for others.
#[derive(Debug, Default)]
pub struct PeerStore {
    torrents: HashMap<NodeId, Vec<(SocketAddrV4, Instant)>>,
}

impl PeerStore {
    /// Stores (or refreshes) `peer` for `info_hash`; refused when full.
    pub fn announce(&mut self, info_hash: NodeId, peer: SocketAddrV4, now: Instant) {
        if !self.torrents.contains_key(&info_hash) && self.torrents.len() >= MAX_INFO_HASHES {
            return;
        }
        let peers = self.torrents.entry(info_hash).or_default();
        if let Some(p) = peers.iter_mut().find(|(a, _)| *a == peer) {
            p.1 = now;
        } else if peers.len() < MAX_PEERS_PER_HASH {
            peers.push((peer, now));
        } else if let Some(oldest) = peers.iter_mut().min_by_key(|(_, t)| *t) {
            *oldest = (peer, now);
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
        self.torrents.retain(|_, peers| {
            peers.retain(|(_, t)| now.saturating_duration_since(*t) < PEER_TTL);
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
        for port in 1..=(MAX_PEERS_PER_HASH as u16 + 10) {
            s.announce(ih, SocketAddrV4::new(Ipv4Addr::LOCALHOST, port), now);
        }
        assert_eq!(s.counts().1, MAX_PEERS_PER_HASH);
        assert_eq!(s.peers(&ih, now).len(), MAX_PEERS_PER_REPLY);
    }
}
