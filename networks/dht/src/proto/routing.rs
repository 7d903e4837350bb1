//! The routing table: up to [`K`] nodes per bucket, one bucket per shared-prefix length.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use super::id::{NodeId, ID_LEN};

/// Bucket size and the number of closest nodes a lookup converges on (BEP 5's K).
pub const K: usize = 8;
/// Number of buckets: one per possible shared-prefix length with our own id.
const BUCKETS: usize = ID_LEN * 8;
/// A node unheard of for this long may be replaced by a newcomer.
const STALE_AFTER: Duration = Duration::from_secs(15 * 60);
/// A node that missed this many replies in a row is dropped.
const MAX_FAILS: u8 = 3;

/// One known node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The node's id.
    pub id: NodeId,
    /// Where it answers.
    pub addr: SocketAddrV4,
    /// Last time it sent us anything.
    pub last_seen: Instant,
    /// Queries it missed since it last answered.
    pub fails: u8,
}

impl Entry {
    /// Answered recently and missed no reply since.
    pub fn is_good(&self, now: Instant) -> bool {
        self.fails == 0 && now.saturating_duration_since(self.last_seen) < STALE_AFTER
    }
}

/// Known nodes bucketed by distance from our own id; bounded to `160 * K` entries.
#[derive(Debug)]
pub struct RoutingTable {
    own: NodeId,
    buckets: Vec<Vec<Entry>>,
}

impl RoutingTable {
    /// An empty table around our own id.
    pub fn new(own: NodeId) -> RoutingTable {
        RoutingTable {
            own,
            buckets: vec![Vec::new(); BUCKETS],
        }
    }

    /// Number of nodes held.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }

    /// True when no node is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records that `id` at `addr` was heard from. Returns false when it was not kept
    /// (our own id, or a full bucket of good nodes).
    pub fn heard_from(&mut self, id: NodeId, addr: SocketAddrV4, now: Instant) -> bool {
        if id == self.own {
            return false;
        }
        // A node that changed address or id replaces its old entry.
        self.remove_where(|e| (e.addr == addr) != (e.id == id));
        let bucket = &mut self.buckets[self.own.common_prefix_len(&id).min(BUCKETS - 1)];
        if let Some(e) = bucket.iter_mut().find(|e| e.id == id) {
            e.last_seen = now;
            e.fails = 0;
            return true;
        }
        let entry = Entry {
            id,
            addr,
            last_seen: now,
            fails: 0,
        };
        if bucket.len() < K {
            bucket.push(entry);
            return true;
        }
        match bucket.iter_mut().find(|e| !e.is_good(now)) {
            Some(bad) => {
                *bad = entry;
                true
            }
            None => false,
        }
    }

    /// Records a query to `addr` that got no reply; drops the node after repeated misses.
    pub fn failed(&mut self, addr: SocketAddrV4) {
        for bucket in &mut self.buckets {
            if let Some(e) = bucket.iter_mut().find(|e| e.addr == addr) {
                e.fails = e.fails.saturating_add(1);
            }
            bucket.retain(|e| e.fails < MAX_FAILS);
        }
    }

    /// Whether a node at `addr` is in the table.
    pub fn contains_addr(&self, addr: SocketAddrV4) -> bool {
        self.iter().any(|e| e.addr == addr)
    }

    /// Up to `n` nodes closest to `target`, closest first, skipping nodes that missed replies.
    pub fn closest(&self, target: &NodeId, n: usize) -> Vec<(NodeId, SocketAddrV4)> {
        let mut all: Vec<&Entry> = self.iter().filter(|e| e.fails < 2).collect();
        all.sort_by_key(|e| e.id.distance(target));
        all.into_iter().take(n).map(|e| (e.id, e.addr)).collect()
    }

    /// Nodes currently good, for persisting.
    pub fn good_nodes(&self, now: Instant) -> Vec<(NodeId, SocketAddrV4)> {
        self.iter()
            .filter(|e| e.is_good(now))
            .map(|e| (e.id, e.addr))
            .collect()
    }

    fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.buckets.iter().flatten()
    }

    fn remove_where(&mut self, f: impl Fn(&Entry) -> bool) {
        for bucket in &mut self.buckets {
            bucket.retain(|e| !f(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    #[test]
    fn buckets_are_bounded_and_closest_sorted() {
        let own = NodeId([0; 20]);
        let mut t = RoutingTable::new(own);
        let now = Instant::now();
        // All these share no prefix bit with `own`: one bucket, K kept.
        for i in 0..20u8 {
            let mut id = [0xffu8; 20];
            id[19] = i;
            t.heard_from(NodeId(id), addr(1000 + u16::from(i)), now);
        }
        assert_eq!(t.len(), K);
        assert!(!t.heard_from(own, addr(1), now));
        let mut near = [0u8; 20];
        near[19] = 1;
        t.heard_from(NodeId(near), addr(2), now);
        assert_eq!(t.closest(&own, 1), vec![(NodeId(near), addr(2))]);
    }

    #[test]
    fn failing_nodes_are_replaced_then_dropped() {
        let own = NodeId([0; 20]);
        let mut t = RoutingTable::new(own);
        let now = Instant::now();
        for i in 0..K as u8 {
            t.heard_from(NodeId([0x80 | i; 20]), addr(u16::from(i) + 1), now);
        }
        t.failed(addr(1));
        assert!(t.heard_from(NodeId([0x90; 20]), addr(500), now));
        assert!(!t.contains_addr(addr(1)));
        for _ in 0..MAX_FAILS {
            t.failed(addr(2));
        }
        assert!(!t.contains_addr(addr(2)));
        assert_eq!(t.good_nodes(now).len(), K - 1);
    }
}
