//! One iterative Kademlia lookup (find_node or get_peers) as a state machine: it says
//! whom to query next, takes replies and failures, and knows when it has converged.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use super::id::NodeId;
use super::krpc::Response;
use super::routing::K;

/// Queries in flight at once for one lookup.
pub const ALPHA: usize = 3;
/// A lookup gives up after this long, whatever it has found.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(6);
/// Most candidate nodes tracked by one lookup.
const MAX_CANDIDATES: usize = 128;
/// Most peers collected by one get_peers lookup.
pub const MAX_FOUND_PEERS: usize = 1024;

/// What a lookup asks each node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    /// `find_node`: only nodes closest to the target.
    FindNode,
    /// `get_peers`: peers for the target info-hash, and tokens to announce with.
    GetPeers,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Waiting,
    InFlight,
    Responded(Option<Vec<u8>>),
    Failed,
}

#[derive(Debug, Clone)]
struct Candidate {
    /// Unknown for bootstrap addresses until they answer.
    id: Option<NodeId>,
    addr: SocketAddrV4,
    state: State,
}

/// An iterative lookup towards one target.
#[derive(Debug)]
pub struct Lookup {
    kind: LookupKind,
    target: NodeId,
    own: NodeId,
    candidates: Vec<Candidate>,
    peers: Vec<SocketAddrV4>,
    deadline: Instant,
}

impl Lookup {
    /// A lookup for `target` starting from `seeds` (id unknown for bootstrap addresses).
    pub fn new(
        kind: LookupKind,
        target: NodeId,
        own: NodeId,
        seeds: impl IntoIterator<Item = (Option<NodeId>, SocketAddrV4)>,
        now: Instant,
    ) -> Lookup {
        let mut l = Lookup {
            kind,
            target,
            own,
            candidates: Vec::new(),
            peers: Vec::new(),
            deadline: now + LOOKUP_TIMEOUT,
        };
        for (id, addr) in seeds {
            l.add_candidate(id, addr);
        }
        l.sort_and_bound();
        l
    }

    /// What this lookup asks.
    pub fn kind(&self) -> LookupKind {
        self.kind
    }

    /// The id looked up.
    pub fn target(&self) -> NodeId {
        self.target
    }

    /// Addresses to query now (each is then in flight until a reply or a failure).
    pub fn next_queries(&mut self) -> Vec<SocketAddrV4> {
        let mut in_flight = self.count(|s| *s == State::InFlight);
        let mut out = Vec::new();
        for c in self.live_mut().take(K) {
            if in_flight >= ALPHA {
                break;
            }
            if c.state == State::Waiting {
                c.state = State::InFlight;
                in_flight += 1;
                out.push(c.addr);
            }
        }
        out
    }

    /// A reply from `addr`: learns its id, the nodes and peers it returned, and its token.
    pub fn on_response(&mut self, addr: SocketAddrV4, r: &Response) {
        let Some(c) = self.candidates.iter_mut().find(|c| c.addr == addr) else {
            return;
        };
        c.id = Some(r.id);
        c.state = State::Responded(r.token.clone());
        for (id, a) in &r.nodes {
            self.add_candidate(Some(*id), *a);
        }
        for p in &r.values {
            if self.peers.len() < MAX_FOUND_PEERS && !self.peers.contains(p) {
                self.peers.push(*p);
            }
        }
        self.sort_and_bound();
    }

    /// `addr` did not answer (timeout or error reply).
    pub fn on_failure(&mut self, addr: SocketAddrV4) {
        if let Some(c) = self.candidates.iter_mut().find(|c| c.addr == addr) {
            c.state = State::Failed;
        }
    }

    /// True once the K closest live nodes have all answered, nothing is left to ask,
    /// or the deadline has passed.
    pub fn is_done(&self, now: Instant) -> bool {
        now >= self.deadline
            || !self
                .candidates
                .iter()
                .filter(|c| c.state != State::Failed)
                .take(K)
                .any(|c| matches!(c.state, State::Waiting | State::InFlight))
    }

    /// Peers found so far (get_peers).
    pub fn peers(&self) -> &[SocketAddrV4] {
        &self.peers
    }

    /// Up to `n` of the closest nodes that answered with a token, for announce_peer.
    pub fn closest_with_tokens(&self, n: usize) -> Vec<(SocketAddrV4, Vec<u8>)> {
        self.candidates
            .iter()
            .filter_map(|c| match &c.state {
                State::Responded(Some(t)) => Some((c.addr, t.clone())),
                _ => None,
            })
            .take(n)
            .collect()
    }

    fn live_mut(&mut self) -> impl Iterator<Item = &mut Candidate> {
        self.candidates
            .iter_mut()
            .filter(|c| c.state != State::Failed)
    }

    fn count(&self, f: impl Fn(&State) -> bool) -> usize {
        self.candidates.iter().filter(|c| f(&c.state)).count()
    }

    fn add_candidate(&mut self, id: Option<NodeId>, addr: SocketAddrV4) {
        if id == Some(self.own) {
            return;
        }
        let known = self
            .candidates
            .iter()
            .any(|c| c.addr == addr || (id.is_some() && c.id == id));
        if !known {
            self.candidates.push(Candidate {
                id,
                addr,
                state: State::Waiting,
            });
        }
    }

    /// Unknown ids (bootstrap addresses) first, then by distance; drops the farthest
    /// unqueried candidates beyond the bound.
    fn sort_and_bound(&mut self) {
        let target = self.target;
        self.candidates
            .sort_by_key(|c| c.id.map(|id| id.distance(&target)));
        while self.candidates.len() > MAX_CANDIDATES {
            match self
                .candidates
                .iter()
                .rposition(|c| c.state == State::Waiting)
            {
                Some(i) => {
                    self.candidates.remove(i);
                }
                None => break,
            }
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

    fn id(b: u8) -> NodeId {
        NodeId([b; 20])
    }

    #[test]
    fn converges_through_returned_nodes() {
        let now = Instant::now();
        let target = id(0);
        let mut l = Lookup::new(
            LookupKind::GetPeers,
            target,
            id(0xff),
            [(None, addr(1))],
            now,
        );
        assert_eq!(l.next_queries(), vec![addr(1)]);
        assert!(!l.is_done(now));
        let r = Response {
            id: id(0x40),
            nodes: vec![
                (id(0x10), addr(2)),
                (id(0x20), addr(3)),
                (id(0xff), addr(9)),
            ],
            values: vec![],
            token: Some(b"t1".to_vec()),
        };
        l.on_response(addr(1), &r);
        assert_eq!(l.next_queries(), vec![addr(2), addr(3)]);
        l.on_failure(addr(3));
        let r = Response {
            id: id(0x10),
            values: vec![addr(7000)],
            token: Some(b"t2".to_vec()),
            ..Response::default()
        };
        l.on_response(addr(2), &r);
        assert!(l.is_done(now));
        assert_eq!(l.peers(), &[addr(7000)]);
        assert_eq!(
            l.closest_with_tokens(K),
            vec![(addr(2), b"t2".to_vec()), (addr(1), b"t1".to_vec())]
        );
    }

    #[test]
    fn empty_lookup_is_done_and_deadline_ends_it() {
        let now = Instant::now();
        let l = Lookup::new(LookupKind::FindNode, id(1), id(2), [], now);
        assert!(l.is_done(now));
        let mut l = Lookup::new(LookupKind::FindNode, id(1), id(2), [(None, addr(1))], now);
        l.next_queries();
        assert!(!l.is_done(now));
        assert!(l.is_done(now + LOOKUP_TIMEOUT));
    }

    #[test]
    fn candidates_are_bounded() {
        let now = Instant::now();
        let mut l = Lookup::new(
            LookupKind::FindNode,
            id(0),
            id(0xff),
            [(None, addr(1))],
            now,
        );
        l.next_queries();
        for round in 0..4u16 {
            let nodes = (0..60u16)
                .map(|i| {
                    let mut b = [0x80u8; 20];
                    b[..2].copy_from_slice(&(round * 100 + i).to_be_bytes());
                    (NodeId(b), addr(1000 + round * 100 + i))
                })
                .collect();
            let r = Response {
                id: id(0x40),
                nodes,
                ..Response::default()
            };
            l.on_response(addr(1), &r);
        }
        assert!(l.candidates.len() <= MAX_CANDIDATES);
    }
}
