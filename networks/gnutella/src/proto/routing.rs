//! Routing state as plain structs: which broadcast GUIDs were seen (and from
//! which connection, which is also the reverse route for their replies), the
//! servent-GUID routes for pushes, and the flood decision for queries.
//!
//! Every table is bounded in size and entries expire; time is passed in.
//! A reply whose route has expired or whose connection is gone is dropped,
//! as in every servent.

use super::descriptor::{Guid, Header};
use super::handshake::Role;
use super::qrp::QrpTable;
use super::query::Query;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Identifies one neighbour connection.
pub type ConnId = u64;

/// Where a reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// We originated the request: the reply is ours.
    Local,
    /// Forward the reply on this connection.
    Conn(ConnId),
}

/// A bounded map whose entries expire `ttl` after insertion; the oldest entry
/// is evicted when full.
#[derive(Debug, Clone)]
pub struct ExpiringMap<K, V> {
    capacity: usize,
    ttl: Duration,
    map: HashMap<K, (Instant, V)>,
    order: VecDeque<(Instant, K)>,
}

impl<K: Eq + Hash + Clone, V: Clone> ExpiringMap<K, V> {
    /// An empty map of at most `capacity` entries living `ttl` each.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        ExpiringMap {
            capacity: capacity.max(1),
            ttl,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((t, _)) = self.order.front() {
            let expired = now.saturating_duration_since(*t) >= self.ttl;
            if !expired && self.order.len() <= self.capacity {
                break;
            }
            if let Some((t, k)) = self.order.pop_front() {
                if self.map.get(&k).is_some_and(|(mt, _)| *mt == t) {
                    self.map.remove(&k);
                }
            }
        }
    }

    /// Inserts `value` unless a live entry exists; returns the live entry's
    /// value in that case (the key was seen before).
    pub fn insert_new(&mut self, key: K, value: V, now: Instant) -> Option<V> {
        self.expire(now);
        if let Some((_, v)) = self.map.get(&key) {
            return Some(v.clone());
        }
        self.map.insert(key.clone(), (now, value));
        self.order.push_back((now, key));
        self.expire(now);
        None
    }

    /// Inserts or refreshes `value`.
    pub fn upsert(&mut self, key: K, value: V, now: Instant) {
        self.expire(now);
        self.map.insert(key.clone(), (now, value));
        self.order.push_back((now, key));
        self.expire(now);
    }

    /// The live value for `key`.
    pub fn get(&self, key: &K, now: Instant) -> Option<&V> {
        self.map
            .get(key)
            .filter(|(t, _)| now.saturating_duration_since(*t) < self.ttl)
            .map(|(_, v)| v)
    }

    /// Removes every entry whose value matches.
    pub fn remove_values(&mut self, mut pred: impl FnMut(&V) -> bool) {
        self.map.retain(|_, (_, v)| !pred(v));
    }

    /// Number of entries (expired ones may still count until the next insert).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Whether a broadcast was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time: handle and forward it.
    New,
    /// Already handled (from `first_from`): drop it.
    Duplicate { first_from: Route },
}

/// The routing tables of one node.
#[derive(Debug, Clone)]
pub struct Router {
    /// (GUID, payload type) of pings and queries → where they came from.
    seen: ExpiringMap<(Guid, u8), Route>,
    /// Servent GUID → connection its query hits came from.
    push_routes: ExpiringMap<Guid, Route>,
}

/// Default size of the seen and route tables.
pub const DEFAULT_ROUTE_CAPACITY: usize = 100_000;
/// Default lifetime of a route (gtk-gnutella keeps routes about 10 minutes).
pub const DEFAULT_ROUTE_TTL: Duration = Duration::from_secs(600);

impl Default for Router {
    fn default() -> Self {
        Self::new(DEFAULT_ROUTE_CAPACITY, DEFAULT_ROUTE_TTL)
    }
}

impl Router {
    /// Tables of `capacity` entries each, routes living `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Router {
            seen: ExpiringMap::new(capacity, ttl),
            push_routes: ExpiringMap::new(capacity, ttl),
        }
    }

    /// Records a ping or query we send, so that its replies come to us and
    /// its echoes are dropped.
    pub fn originate(&mut self, header: &Header, now: Instant) {
        self.seen
            .upsert((header.guid, header.payload_type), Route::Local, now);
    }

    /// Records an incoming ping or query from `from`; says if it was new.
    pub fn on_broadcast(&mut self, header: &Header, from: ConnId, now: Instant) -> Seen {
        match self
            .seen
            .insert_new((header.guid, header.payload_type), Route::Conn(from), now)
        {
            None => Seen::New,
            Some(first_from) => Seen::Duplicate { first_from },
        }
    }

    /// Where a reply (pong to a ping, hit to a query) goes: the reverse path
    /// of the request with that GUID and payload type.
    pub fn reply_route(&self, request_guid: Guid, request_type: u8, now: Instant) -> Option<Route> {
        self.seen.get(&(request_guid, request_type), now).copied()
    }

    /// Records that hits from `servent` arrive on `from` (or are ours).
    pub fn on_query_hit(&mut self, servent: Guid, from: Route, now: Instant) {
        self.push_routes.upsert(servent, from, now);
    }

    /// Where a Push for `servent` goes.
    pub fn push_route(&self, servent: Guid, now: Instant) -> Option<Route> {
        self.push_routes.get(&servent, now).copied()
    }

    /// Forgets routes through a closed connection.
    pub fn forget_connection(&mut self, conn: ConnId) {
        self.seen.remove_values(|r| *r == Route::Conn(conn));
        self.push_routes.remove_values(|r| *r == Route::Conn(conn));
    }
}

/// A neighbour as the flood decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct Neighbour<'a> {
    pub id: ConnId,
    /// The neighbour's role on this connection.
    pub role: Role,
    /// Its QRP table, once complete. For a leaf, `None` means: send it
    /// nothing. For an ultrapeer (last-hop QRP), `None` means it sent no
    /// table: send it everything.
    pub qrp: Option<&'a QrpTable>,
}

/// Where a new incoming query goes and with which header.
///
/// Leaves never forward. An ultrapeer forwards to every ultrapeer neighbour
/// but `from` while the TTL lasts (TTL - 1, hops + 1, only when the TTL
/// received is above 1), and to each leaf but `from` whose QRP table matches
/// the query whatever the TTL (the last hop to a leaf is QRP-guarded: the leaf
/// gets TTL - 1, at least 1, and never forwards). A query that would reach an
/// ultrapeer with TTL 1 (its last hop: that ultrapeer only answers and asks
/// its leaves) goes to it only when the table it sent us matches, as
/// gtk-gnutella's `qrt_build_query_target` does; without a table it gets it.
pub fn flood_targets(
    our_role: Role,
    header: &Header,
    query: &Query,
    from: Route,
    neighbours: &[Neighbour<'_>],
) -> Vec<(ConnId, Header)> {
    if our_role == Role::Leaf {
        return Vec::new();
    }
    let to_up = header.forwarded();
    let to_leaf = Header {
        ttl: header.ttl.saturating_sub(1).max(1),
        hops: header.hops.saturating_add(1),
        ..*header
    };
    neighbours
        .iter()
        .filter(|n| Route::Conn(n.id) != from)
        .filter_map(|n| match n.role {
            Role::Ultrapeer => to_up
                .filter(|h| {
                    h.ttl > 1
                        || n.qrp
                            .is_none_or(|t| t.matches(&query.text, &query.ext.urns))
                })
                .map(|h| (n.id, h)),
            Role::Leaf => n
                .qrp
                .filter(|t| t.matches(&query.text, &query.ext.urns))
                .map(|_| (n.id, to_leaf)),
        })
        .collect()
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
