//! What the node loop knows about one established neighbour link, and how
//! it is shown in the Networks pane.

use super::env::ConnOut;
use crate::proto::descriptor::Descriptor;
use crate::proto::handshake::{Negotiated, Role};
use crate::proto::qrp::QrpTable;
use crate::proto::qrp_msg::QrpReceiver;
use crate::proto::throttle::{QueryThrottle, ThrottleConfig};
use std::net::{SocketAddr, SocketAddrV4};
use std::time::Instant;
use swarmux_net::ServerInfo;
use tokio::sync::mpsc;

/// Bad descriptors (TTL abuse, undecodable) after which a neighbour is dropped.
pub const MAX_BAD: u32 = 20;

/// Message counters of one link.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub msgs_in: u64,
    pub msgs_out: u64,
    pub queries_in: u64,
    pub queries_out: u64,
    pub hits_in: u64,
    pub hits_out: u64,
    /// Descriptors we could not queue (the peer reads too slowly).
    pub dropped_out: u64,
    /// Duplicate queries and pings received.
    pub duplicates: u64,
}

/// One established link.
pub struct Neighbour {
    /// The socket address.
    pub addr: SocketAddr,
    /// What we dialed (`HOST:PORT`) for outgoing links.
    pub dialed: Option<String>,
    /// Where the peer listens (its `Listen-IP`, or the address we dialed).
    pub listen: Option<SocketAddrV4>,
    pub tx: mpsc::Sender<ConnOut>,
    pub outcome: Negotiated,
    pub counts: Counts,
    /// Its query routing table: a leaf's (we are its ultrapeer), or an
    /// ultrapeer's for the last hop.
    pub qrp_in: QrpReceiver,
    /// The table we last sent it (we are its leaf, or both are ultrapeers).
    pub qrp_sent: Option<QrpTable>,
    pub throttle: QueryThrottle,
    /// Bad descriptors received.
    pub bad: u32,
    /// When a throttling log line was last written for it.
    pub throttle_logged: Option<Instant>,
}

impl Neighbour {
    /// A new link.
    pub fn new(
        addr: SocketAddr,
        dialed: Option<String>,
        outcome: Negotiated,
        tx: mpsc::Sender<ConnOut>,
        now: Instant,
    ) -> Self {
        let listen = outcome
            .peer_listen
            .filter(|l| !l.ip().is_unspecified() && l.port() != 0)
            .or_else(|| dialed.as_deref().and_then(|d| d.parse().ok()));
        Neighbour {
            addr,
            dialed,
            listen,
            tx,
            outcome,
            counts: Counts::default(),
            qrp_in: QrpReceiver::new(),
            qrp_sent: None,
            throttle: QueryThrottle::new(ThrottleConfig::default(), now),
            bad: 0,
            throttle_logged: None,
        }
    }

    /// The peer's role on this link.
    pub fn peer_role(&self) -> Role {
        self.outcome.peer_role
    }

    /// True when both sides are ultrapeers and the peer announced
    /// `X-Ultrapeer-Query-Routing`.
    pub fn is_qrp_ultrapeer(&self) -> bool {
        self.outcome.ultrapeer_qrp && self.outcome.our_role == Role::Ultrapeer
    }

    /// Queues a descriptor; false (and counted) when the queue is full or
    /// the descriptor is too large to send.
    pub fn send(&mut self, d: &Descriptor) -> bool {
        let Ok(bytes) = d.encode() else {
            self.counts.dropped_out += 1;
            return false;
        };
        match self.tx.try_send(ConnOut::Send(bytes)) {
            Ok(()) => {
                self.counts.msgs_out += 1;
                true
            }
            Err(_) => {
                self.counts.dropped_out += 1;
                false
            }
        }
    }

    /// Asks the writer to send a Bye and close.
    pub fn bye(&self, code: u16, text: &str) {
        let _ = self.tx.try_send(ConnOut::Bye(code, text.to_string()));
    }

    /// True when this link goes to `addr`.
    pub fn is(&self, addr: &str) -> bool {
        self.dialed.as_deref() == Some(addr)
            || self.listen.is_some_and(|l| l.to_string() == addr)
            || self.addr.to_string() == addr
    }

    /// The Networks-pane line.
    pub fn info(&self) -> ServerInfo {
        let c = &self.counts;
        let o = &self.outcome;
        let compression = match (o.compress_in, o.compress_out) {
            (true, true) => "deflate",
            (true, false) => "deflate in only",
            (false, true) => "deflate out only",
            (false, false) => "uncompressed",
        };
        ServerInfo {
            addr: self
                .listen
                .map_or_else(|| self.addr.to_string(), |l| l.to_string()),
            name: o.user_agent.clone().unwrap_or_default(),
            state: "connected".into(),
            identity: format!("{} → {}", role_name(o.our_role), role_name(o.peer_role)),
            users: 0,
            files: 0,
            message: format!(
                "in {} / out {} messages, queries {} in / {} out, hits {} in / {} out, {} duplicates, {} dropped, {compression}",
                c.msgs_in, c.msgs_out, c.queries_in, c.queries_out, c.hits_in, c.hits_out, c.duplicates, c.dropped_out
            ),
        }
    }
}

/// `leaf` or `ultrapeer`.
pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Leaf => "leaf",
        Role::Ultrapeer => "ultrapeer",
    }
}
