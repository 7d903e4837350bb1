//! The DHT node state machine: answers queries, runs lookups and announces, keeps the
//! routing table alive. Datagrams and time go in; datagrams and events come out.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use super::id::NodeId;
use super::krpc::{Body, KrpcError, Message, Query, Response, ERR_PROTOCOL};
use super::lookup::{Lookup, LookupKind};
use super::peer_store::PeerStore;
use super::rate_limit::{Limiter, QueryLimits};
use super::routing::{RoutingTable, K};
use super::tokens::Tokens;

/// A query without a reply after this long has failed.
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(1500);
/// Most queries awaiting a reply at once; further queries wait or fail.
const MAX_TRANSACTIONS: usize = 512;
/// Most user lookups running at once.
const MAX_LOOKUPS: usize = 64;
/// Most bootstrap addresses kept.
const MAX_BOOTSTRAP: usize = 64;
/// First retry of the bootstrap lookup while the table holds fewer than K nodes; the
/// delay doubles on each retry up to [`MAX_REBOOTSTRAP`].
const FIRST_REBOOTSTRAP: Duration = Duration::from_secs(1);
/// Longest delay between bootstrap lookups while the table is small.
const MAX_REBOOTSTRAP: Duration = Duration::from_secs(60);
/// How often a well-connected node refreshes its neighbourhood.
const REFRESH_EVERY: Duration = Duration::from_secs(15 * 60);
/// How often expired announces are dropped.
const EXPIRE_EVERY: Duration = Duration::from_secs(60);
/// An answer is at most this many times the size of the query it answers,
/// so the node amplifies nothing much: a `find_node` answer with its 8 nodes
/// is about 3 times its query, and a `get_peers` answer is cut to fit (BEP 5
/// answers peers *or* nodes: nodes go first, then peers).
pub const MAX_AMPLIFICATION: usize = 4;
/// Bytes one compact node adds to an answer.
const NODE_BYTES: usize = 26;
/// Bytes one peer adds to an answer (`6:` and the compact address).
const PEER_BYTES: usize = 8;

/// Identifies one lookup started by [`Node::get_peers`] or [`Node::announce`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LookupId(pub u64);

/// Something the node finished for its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A get_peers lookup ended with these peers (possibly none).
    Peers {
        /// The lookup.
        id: LookupId,
        /// Peers found, including those stored at this node.
        peers: Vec<SocketAddrV4>,
    },
    /// An announce ended: the lookup's peers and how many nodes accepted the announce.
    Announced {
        /// The lookup.
        id: LookupId,
        /// Peers found on the way.
        peers: Vec<SocketAddrV4>,
        /// Nodes that confirmed storing us.
        stored: usize,
    },
}

/// Counters for status displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeStats {
    /// Our node id.
    pub id: [u8; 20],
    /// Nodes in the routing table.
    pub nodes: usize,
    /// Of which answered recently and missed nothing.
    pub good_nodes: usize,
    /// Info-hashes with peers stored here.
    pub stored_info_hashes: usize,
    /// Peers stored here, over all info-hashes.
    pub stored_peers: usize,
    /// Queries awaiting a reply.
    pub in_flight: usize,
    /// Lookups running.
    pub lookups: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Ping,
    Lookup(LookupId),
    Announce(LookupId),
}

#[derive(Debug)]
struct Transaction {
    addr: SocketAddrV4,
    sent: Instant,
    purpose: Purpose,
}

#[derive(Debug)]
enum Goal {
    /// Internal: fill the routing table.
    Maintenance,
    Peers,
    Announce {
        port: u16,
        pending: usize,
        stored: usize,
        announcing: bool,
    },
}

#[derive(Debug)]
struct Task {
    lookup: Lookup,
    goal: Goal,
}

/// A sans-IO Mainline DHT node (IPv4).
#[derive(Debug)]
pub struct Node {
    id: NodeId,
    table: RoutingTable,
    tokens: Tokens,
    store: PeerStore,
    bootstrap: Vec<SocketAddrV4>,
    transactions: HashMap<u16, Transaction>,
    next_tid: u16,
    tasks: HashMap<LookupId, Task>,
    next_lookup: u64,
    outbox: VecDeque<(SocketAddrV4, Vec<u8>)>,
    events: VecDeque<Event>,
    last_bootstrap: Option<Instant>,
    rebootstrap_after: Duration,
    last_expire: Instant,
    limiter: Limiter,
}

impl Node {
    /// A node with id `id` that bootstraps from `bootstrap` addresses and from
    /// `known` nodes (saved from an earlier run); it starts its bootstrap lookup at once.
    pub fn new(
        id: NodeId,
        bootstrap: Vec<SocketAddrV4>,
        known: Vec<(NodeId, SocketAddrV4)>,
        now: Instant,
    ) -> Node {
        let mut node = Node {
            id,
            table: RoutingTable::new(id),
            tokens: Tokens::new(now),
            store: PeerStore::default(),
            bootstrap: bootstrap.into_iter().take(MAX_BOOTSTRAP).collect(),
            transactions: HashMap::new(),
            next_tid: rand::random(),
            tasks: HashMap::new(),
            next_lookup: 0,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            last_bootstrap: None,
            rebootstrap_after: FIRST_REBOOTSTRAP,
            last_expire: now,
            limiter: Limiter::new(QueryLimits::DEFAULT, now),
        };
        let seeds: Vec<_> = known
            .into_iter()
            .take(MAX_BOOTSTRAP)
            .map(|(id, a)| (Some(id), a))
            .collect();
        node.start_bootstrap(seeds, now);
        node
    }

    /// Our node id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Nodes worth saving for the next run.
    pub fn good_nodes(&self, now: Instant) -> Vec<(NodeId, SocketAddrV4)> {
        self.table.good_nodes(now)
    }

    /// Current counters.
    pub fn stats(&self, now: Instant) -> NodeStats {
        let (stored_info_hashes, stored_peers) = self.store.counts();
        NodeStats {
            id: self.id.0,
            nodes: self.table.len(),
            good_nodes: self.table.good_nodes(now).len(),
            stored_info_hashes,
            stored_peers,
            in_flight: self.transactions.len(),
            lookups: self.tasks.len(),
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddrV4, Vec<u8>)> {
        self.outbox.pop_front()
    }

    /// The next finished lookup.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Pings `addr` (a peer's DHT port, BEP 5 PORT message); it joins the table if it answers.
    pub fn add_node(&mut self, addr: SocketAddrV4, now: Instant) {
        if addr.port() != 0 && !self.table.contains_addr(addr) {
            self.send_query(addr, Query::Ping { id: self.id }, Purpose::Ping, now);
        }
    }

    /// Starts a get_peers lookup; ends with [`Event::Peers`]. `None` when too many run.
    pub fn get_peers(&mut self, info_hash: NodeId, now: Instant) -> Option<LookupId> {
        self.start_user_lookup(info_hash, Goal::Peers, now)
    }

    /// Starts a get_peers lookup followed by announce_peer to the closest nodes that gave
    /// a token; ends with [`Event::Announced`]. `None` when too many run.
    pub fn announce(&mut self, info_hash: NodeId, port: u16, now: Instant) -> Option<LookupId> {
        let goal = Goal::Announce {
            port,
            pending: 0,
            stored: 0,
            announcing: false,
        };
        self.start_user_lookup(info_hash, goal, now)
    }

    /// Handles one received datagram; malformed ones are dropped (or answered with a
    /// KRPC error when they carry a transaction id). Queries beyond the source's
    /// rate, or beyond the answer bytes left, are dropped unanswered.
    pub fn handle_datagram(&mut self, from: SocketAddrV4, data: &[u8], now: Instant) {
        let message = Message::decode(data);
        let query = matches!(
            message,
            Ok(Message {
                body: Body::Query(_),
                ..
            }) | Err(KrpcError::BadQuery { .. })
        );
        if query && !(self.limiter.admit(*from.ip(), now) && self.limiter.may_answer(now)) {
            return;
        }
        let budget = data.len() * MAX_AMPLIFICATION;
        match message {
            Ok(Message {
                tid,
                body: Body::Query(q),
            }) => self.handle_query(from, tid, q, budget, now),
            Ok(Message {
                tid,
                body: Body::Response(r),
            }) => self.handle_reply(from, &tid, Some(r), now),
            Ok(Message {
                tid,
                body: Body::Error(..),
            }) => self.handle_reply(from, &tid, None, now),
            Err(KrpcError::BadQuery { tid, code, reason }) => {
                self.answer(from, tid, Body::Error(code, reason.to_string()), budget);
            }
            Err(_) => {}
        }
    }

    /// Advances timers: failed queries, lookup deadlines, token rotation, maintenance.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<u16> = self
            .transactions
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(t.sent) >= QUERY_TIMEOUT)
            .map(|(tid, _)| *tid)
            .collect();
        for tid in expired {
            if let Some(t) = self.transactions.remove(&tid) {
                self.table.failed(t.addr);
                self.on_failure(t, now);
            }
        }
        let ids: Vec<LookupId> = self.tasks.keys().copied().collect();
        for id in ids {
            self.advance(id, now);
        }
        self.tokens.tick(now);
        if now.saturating_duration_since(self.last_expire) >= EXPIRE_EVERY {
            self.store.expire(now);
            self.last_expire = now;
        }
        let since = self
            .last_bootstrap
            .map_or(Duration::MAX, |t| now.saturating_duration_since(t));
        let maintaining = self
            .tasks
            .values()
            .any(|t| matches!(t.goal, Goal::Maintenance));
        let due = if self.table.len() < K {
            self.rebootstrap_after
        } else {
            REFRESH_EVERY
        };
        if !maintaining && since >= due {
            if self.table.len() < K {
                self.rebootstrap_after = (self.rebootstrap_after * 2).min(MAX_REBOOTSTRAP);
            }
            self.start_bootstrap(Vec::new(), now);
        }
    }

    fn handle_query(
        &mut self,
        from: SocketAddrV4,
        tid: Vec<u8>,
        q: Query,
        budget: usize,
        now: Instant,
    ) {
        if from.port() != 0 {
            self.table.heard_from(q.sender(), from, now);
        }
        let mut r = Response {
            id: self.id,
            ..Response::default()
        };
        match q {
            Query::Ping { .. } => {}
            Query::FindNode { target, .. } => r.nodes = self.closest_except(&target, from),
            Query::GetPeers { info_hash, .. } => {
                r.nodes = self.closest_except(&info_hash, from);
                r.values = self.store.peers(&info_hash, now);
                r.token = Some(self.tokens.issue(*from.ip()));
            }
            Query::AnnouncePeer {
                info_hash,
                port,
                token,
                implied_port,
                ..
            } => {
                if !self.tokens.verify(*from.ip(), &token) {
                    let error = Body::Error(ERR_PROTOCOL, "bad token".into());
                    return self.answer(from, tid, error, budget);
                }
                let port = if implied_port { from.port() } else { port };
                if port != 0 {
                    self.store
                        .announce(info_hash, SocketAddrV4::new(*from.ip(), port), now);
                }
            }
        }
        self.answer(from, tid, Body::Response(r), budget);
    }

    fn closest_except(&self, target: &NodeId, except: SocketAddrV4) -> Vec<(NodeId, SocketAddrV4)> {
        let mut nodes = self.table.closest(target, K + 1);
        nodes.retain(|(_, a)| *a != except);
        nodes.truncate(K);
        nodes
    }

    fn handle_reply(&mut self, from: SocketAddrV4, tid: &[u8], r: Option<Response>, now: Instant) {
        let Some(tid) = <[u8; 2]>::try_from(tid).ok().map(u16::from_be_bytes) else {
            return;
        };
        // Only the node we asked may answer.
        if self.transactions.get(&tid).map(|t| t.addr) != Some(from) {
            return;
        }
        let Some(t) = self.transactions.remove(&tid) else {
            return;
        };
        let Some(r) = r else {
            return self.on_failure(t, now);
        };
        self.table.heard_from(r.id, from, now);
        match t.purpose {
            Purpose::Ping => {}
            Purpose::Lookup(id) => {
                if let Some(task) = self.tasks.get_mut(&id) {
                    task.lookup.on_response(from, &r);
                    self.advance(id, now);
                }
            }
            Purpose::Announce(id) => self.announce_reply(id, true, now),
        }
    }

    fn on_failure(&mut self, t: Transaction, now: Instant) {
        match t.purpose {
            Purpose::Ping => {}
            Purpose::Lookup(id) => {
                if let Some(task) = self.tasks.get_mut(&id) {
                    task.lookup.on_failure(t.addr);
                    self.advance(id, now);
                }
            }
            Purpose::Announce(id) => self.announce_reply(id, false, now),
        }
    }

    fn announce_reply(&mut self, id: LookupId, ok: bool, now: Instant) {
        if let Some(Task {
            goal: Goal::Announce {
                pending, stored, ..
            },
            ..
        }) = self.tasks.get_mut(&id)
        {
            *pending = pending.saturating_sub(1);
            *stored += usize::from(ok);
            if *pending == 0 {
                self.finish(id, now);
            }
        }
    }

    fn start_user_lookup(&mut self, target: NodeId, goal: Goal, now: Instant) -> Option<LookupId> {
        let user = self
            .tasks
            .values()
            .filter(|t| !matches!(t.goal, Goal::Maintenance))
            .count();
        if user >= MAX_LOOKUPS {
            return None;
        }
        let mut seeds: Vec<_> = self
            .table
            .closest(&target, K * 2)
            .into_iter()
            .map(|(id, a)| (Some(id), a))
            .collect();
        if self.table.len() < K {
            seeds.extend(self.bootstrap.iter().map(|a| (None, *a)));
        }
        Some(self.start_lookup(LookupKind::GetPeers, target, seeds, goal, now))
    }

    fn start_bootstrap(&mut self, mut seeds: Vec<(Option<NodeId>, SocketAddrV4)>, now: Instant) {
        self.last_bootstrap = Some(now);
        seeds.extend(
            self.table
                .closest(&self.id, K * 2)
                .into_iter()
                .map(|(id, a)| (Some(id), a)),
        );
        seeds.extend(self.bootstrap.iter().map(|a| (None, *a)));
        self.start_lookup(LookupKind::FindNode, self.id, seeds, Goal::Maintenance, now);
    }

    fn start_lookup(
        &mut self,
        kind: LookupKind,
        target: NodeId,
        seeds: Vec<(Option<NodeId>, SocketAddrV4)>,
        goal: Goal,
        now: Instant,
    ) -> LookupId {
        let id = LookupId(self.next_lookup);
        self.next_lookup += 1;
        let lookup = Lookup::new(kind, target, self.id, seeds, now);
        self.tasks.insert(id, Task { lookup, goal });
        self.advance(id, now);
        id
    }

    /// Sends the lookup's next queries, or finishes it.
    fn advance(&mut self, id: LookupId, now: Instant) {
        let Some(task) = self.tasks.get_mut(&id) else {
            return;
        };
        if matches!(
            task.goal,
            Goal::Announce {
                announcing: true,
                ..
            }
        ) {
            return;
        }
        if !task.lookup.is_done(now) {
            let target = task.lookup.target();
            let query = match task.lookup.kind() {
                LookupKind::FindNode => Query::FindNode {
                    id: self.id,
                    target,
                },
                LookupKind::GetPeers => Query::GetPeers {
                    id: self.id,
                    info_hash: target,
                },
            };
            for addr in task.lookup.next_queries() {
                if !self.send_query(addr, query.clone(), Purpose::Lookup(id), now) {
                    if let Some(task) = self.tasks.get_mut(&id) {
                        task.lookup.on_failure(addr);
                    }
                }
            }
            return;
        }
        let (info_hash, port, targets) = match &task.goal {
            Goal::Announce { port, .. } => (
                task.lookup.target(),
                *port,
                task.lookup.closest_with_tokens(K),
            ),
            _ => return self.finish(id, now),
        };
        let mut sent = 0;
        for (addr, token) in targets {
            let q = Query::AnnouncePeer {
                id: self.id,
                info_hash,
                port,
                token,
                implied_port: false,
            };
            sent += usize::from(self.send_query(addr, q, Purpose::Announce(id), now));
        }
        match self.tasks.get_mut(&id).map(|t| &mut t.goal) {
            Some(Goal::Announce {
                pending,
                announcing,
                ..
            }) if sent > 0 => {
                *pending = sent;
                *announcing = true;
            }
            _ => self.finish(id, now),
        }
    }

    fn finish(&mut self, id: LookupId, now: Instant) {
        let Some(task) = self.tasks.remove(&id) else {
            return;
        };
        // Drop leftover queries of this lookup: their replies are no longer wanted.
        self.transactions
            .retain(|_, t| t.purpose != Purpose::Lookup(id));
        let mut peers = task.lookup.peers().to_vec();
        for p in self.store.peers(&task.lookup.target(), now) {
            if !peers.contains(&p) {
                peers.push(p);
            }
        }
        match task.goal {
            Goal::Maintenance => {}
            Goal::Peers => self.events.push_back(Event::Peers { id, peers }),
            Goal::Announce { stored, .. } => {
                self.events
                    .push_back(Event::Announced { id, peers, stored })
            }
        }
    }

    /// Queues a query; false when too many are in flight.
    fn send_query(&mut self, addr: SocketAddrV4, q: Query, purpose: Purpose, now: Instant) -> bool {
        if self.transactions.len() >= MAX_TRANSACTIONS {
            return false;
        }
        let mut tid = self.next_tid;
        while self.transactions.contains_key(&tid) {
            tid = tid.wrapping_add(1);
        }
        self.next_tid = tid.wrapping_add(1);
        self.transactions.insert(
            tid,
            Transaction {
                addr,
                sent: now,
                purpose,
            },
        );
        let m = Message {
            tid: tid.to_be_bytes().to_vec(),
            body: Body::Query(q),
        };
        self.outbox.push_back((addr, m.encode()));
        true
    }

    /// Answers a query in at most `budget` bytes where it can: nodes are
    /// dropped first when there are peers, then peers, then nodes.
    fn answer(&mut self, to: SocketAddrV4, tid: Vec<u8>, mut body: Body, budget: usize) {
        let mut data = Message {
            tid: tid.clone(),
            body: body.clone(),
        }
        .encode();
        if let Body::Response(r) = &mut body {
            if data.len() > budget {
                let mut excess = data.len() - budget;
                if !r.values.is_empty() {
                    let drop = excess.div_ceil(NODE_BYTES).min(r.nodes.len());
                    r.nodes.truncate(r.nodes.len() - drop);
                    excess = excess.saturating_sub(drop * NODE_BYTES);
                }
                let drop = excess.div_ceil(PEER_BYTES).min(r.values.len());
                r.values.truncate(r.values.len() - drop);
                excess = excess.saturating_sub(drop * PEER_BYTES);
                let drop = excess.div_ceil(NODE_BYTES).min(r.nodes.len());
                r.nodes.truncate(r.nodes.len() - drop);
                data = Message { tid, body }.encode();
            }
        }
        self.limiter.spend(data.len());
        self.outbox.push_back((to, data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    /// Delivers queued datagrams between in-memory nodes (ports 1..=n) until quiet.
    fn pump(nodes: &mut [Node], now: Instant) {
        loop {
            let mut moved = false;
            for i in 0..nodes.len() {
                while let Some((to, data)) = nodes[i].poll_transmit() {
                    moved = true;
                    let from = addr(i as u16 + 1);
                    if let Some(n) = nodes.get_mut(usize::from(to.port()).wrapping_sub(1)) {
                        n.handle_datagram(from, &data, now);
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    #[test]
    fn announce_then_get_peers_in_memory() {
        let now = Instant::now();
        let mut nodes: Vec<Node> = (0..3u16)
            .map(|i| {
                let boot = if i == 0 { vec![] } else { vec![addr(i)] };
                Node::new(NodeId::random(), boot, vec![], now)
            })
            .collect();
        pump(&mut nodes, now);
        nodes[2].announce(NodeId([1; 20]), 6881, now).unwrap();
        pump(&mut nodes, now);
        let Some(Event::Announced { stored, .. }) = nodes[2].poll_event() else {
            panic!("no announce event")
        };
        assert!(stored >= 1);
        let q = nodes[0].get_peers(NodeId([1; 20]), now).unwrap();
        pump(&mut nodes, now);
        assert_eq!(
            nodes[0].poll_event(),
            Some(Event::Peers {
                id: q,
                peers: vec![addr(6881)]
            })
        );
    }

    #[test]
    fn dead_bootstrap_node_times_out() {
        let now = Instant::now();
        let mut n = Node::new(NodeId::random(), vec![addr(9)], vec![], now);
        assert!(n.poll_transmit().is_some());
        let q = n.get_peers(NodeId([2; 20]), now).unwrap();
        while n.poll_transmit().is_some() {}
        n.handle_timeout(now + QUERY_TIMEOUT);
        assert_eq!(
            n.poll_event(),
            Some(Event::Peers {
                id: q,
                peers: vec![]
            })
        );
    }

    fn ping(tid: &[u8]) -> Vec<u8> {
        Message {
            tid: tid.to_vec(),
            body: Body::Query(Query::Ping {
                id: NodeId([6; 20]),
            }),
        }
        .encode()
    }

    fn from(ip: [u8; 4], port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(ip), port)
    }

    /// The answer to `query` from `asker`, which must be a response.
    fn ask(n: &mut Node, asker: SocketAddrV4, query: &[u8], now: Instant) -> (Vec<u8>, Response) {
        n.handle_datagram(asker, query, now);
        let (to, reply) = n.poll_transmit().expect("an answer");
        assert_eq!(to, asker);
        while n.poll_transmit().is_some() {}
        let Body::Response(r) = Message::decode(&reply).unwrap().body else {
            panic!("not a response")
        };
        (reply, r)
    }

    #[test]
    fn a_flood_from_one_address_is_answered_at_its_rate_only() {
        let start = Instant::now();
        let mut n = Node::new(NodeId([5; 20]), vec![], vec![], start);
        let (flooder, other) = (from([127, 0, 0, 2], 7000), from([127, 0, 0, 3], 7000));
        let mut answered = 0;
        let mut other_answered = 0;
        // 1000 queries a second for 10 s, and one a second from another address
        for ms in 0..10_000u64 {
            let now = start + Duration::from_millis(ms);
            n.handle_datagram(flooder, &ping(b"f"), now);
            if ms % 1000 == 0 {
                n.handle_datagram(other, &ping(b"o"), now);
            }
            while let Some((to, _)) = n.poll_transmit() {
                if to == flooder {
                    answered += 1;
                } else {
                    other_answered += 1;
                }
            }
        }
        // the burst, then the rate: 20 + 5 a second
        assert!(answered <= 20 + 5 * 10, "{answered} answers in 10 s");
        assert!(answered >= 5 * 10, "{answered} answers in 10 s");
        assert_eq!(other_answered, 10);
    }

    #[test]
    fn answers_stay_within_a_small_multiple_of_the_query() {
        let mut now = Instant::now();
        let mut n = Node::new(NodeId([5; 20]), vec![], vec![], now);
        // enough nodes in the table that answers carry 8 of them
        for i in 0..40u8 {
            let mut id = [0x80 ^ i; 20];
            id[19] = i;
            let q = Message {
                tid: vec![i],
                body: Body::Query(Query::Ping { id: NodeId(id) }),
            };
            n.handle_datagram(from([127, 0, 1, i], 6881), &q.encode(), now);
        }
        while n.poll_transmit().is_some() {}
        let info_hash = NodeId([1; 20]);
        let get_peers = |tid: &[u8]| {
            Message {
                tid: tid.to_vec(),
                body: Body::Query(Query::GetPeers {
                    id: NodeId([6; 20]),
                    info_hash,
                }),
            }
            .encode()
        };
        let announce = |port, token| {
            Message {
                tid: b"b".to_vec(),
                body: Body::Query(Query::AnnouncePeer {
                    id: NodeId([6; 20]),
                    info_hash,
                    port,
                    token,
                    implied_port: false,
                }),
            }
            .encode()
        };
        // 1000 announces from one address, one a second, on as many ports
        let attacker = from([127, 0, 0, 2], 7000);
        for port in 1..=1000u16 {
            now += Duration::from_secs(1);
            let (_, r) = ask(&mut n, attacker, &get_peers(b"a"), now);
            ask(&mut n, attacker, &announce(port, r.token.unwrap()), now);
        }
        // and 60 honest peers
        for i in 0..60u8 {
            now += Duration::from_millis(300);
            let peer = from([127, 0, 2, i], 6881);
            let (_, r) = ask(&mut n, peer, &get_peers(b"c"), now);
            ask(&mut n, peer, &announce(6881, r.token.unwrap()), now);
        }
        let asker = from([127, 0, 0, 9], 6881);
        let query = get_peers(b"zz");
        let (reply, r) = ask(&mut n, asker, &query, now);
        assert!(
            reply.len() <= MAX_AMPLIFICATION * query.len(),
            "{} bytes answer {} bytes",
            reply.len(),
            query.len()
        );
        assert!(r.values.len() >= 30, "{} peers", r.values.len());
        let from_attacker = r.values.iter().filter(|p| p.ip() == attacker.ip()).count();
        assert!(from_attacker <= super::super::peer_store::MAX_PORTS_PER_ADDRESS);
        // a find_node answer keeps its 8 nodes within the same bound
        let find = Message {
            tid: b"zz".to_vec(),
            body: Body::Query(Query::FindNode {
                id: NodeId([6; 20]),
                target: info_hash,
            }),
        }
        .encode();
        let (reply, r) = ask(&mut n, asker, &find, now);
        assert!(reply.len() <= MAX_AMPLIFICATION * find.len());
        assert_eq!(r.nodes.len(), K);
    }

    #[test]
    fn bad_token_and_stray_replies_are_refused() {
        let now = Instant::now();
        let mut n = Node::new(NodeId([5; 20]), vec![], vec![], now);
        let announce = Message {
            tid: b"x".to_vec(),
            body: Body::Query(Query::AnnouncePeer {
                id: NodeId([6; 20]),
                info_hash: NodeId([1; 20]),
                port: 1,
                token: b"forged".to_vec(),
                implied_port: false,
            }),
        };
        n.handle_datagram(addr(2), &announce.encode(), now);
        let (_, reply) = n.poll_transmit().unwrap();
        assert!(matches!(
            Message::decode(&reply).unwrap().body,
            Body::Error(ERR_PROTOCOL, _)
        ));
        assert_eq!(n.stats(now).stored_peers, 0);
        let stray = Message {
            tid: vec![0, 0],
            body: Body::Response(Response {
                id: NodeId([6; 20]),
                ..Response::default()
            }),
        };
        n.handle_datagram(addr(3), &stray.encode(), now);
        assert!(n.poll_transmit().is_none());
        assert_eq!(n.stats(now).nodes, 1, "only the querier joined the table");
    }
}
