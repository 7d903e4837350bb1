//! The three-step Gnutella 0.6 handshake as a state machine for both sides.
//!
//! ```text
//! initiator: GNUTELLA CONNECT/0.6 + headers        (step 1)
//! acceptor:  GNUTELLA/0.6 200 OK + headers         (step 2, or a refusal)
//! initiator: GNUTELLA/0.6 200 OK + headers         (step 3, or a refusal)
//! ```
//!
//! Compression is negotiated per direction: a side that can inflate says
//! `Accept-Encoding: deflate`, the other side answers `Content-Encoding:
//! deflate` when it will compress. Everything after the last block is the
//! message stream, compressed from the first byte where negotiated.
//!
//! Roles: a leaf only keeps ultrapeers; an ultrapeer takes leaves and other
//! ultrapeers while it has slots. A peer without `X-Ultrapeer` (a 0.4-era
//! "normal node") is refused, as gtk-gnutella does. We never advertise
//! `Vendor-Message`: we do not implement vendor messages.
//!
//! What we announce, as gtk-gnutella 1.2 reads it (`src/core/nodes.c`):
//! `Pong-Caching: 0.1` (we never relay pings and answer from a pong cache;
//! without it gtk-gnutella treats us as an "old" servent), `Bye-Packet: 0.1`
//! (we understand Bye, so gtk-gnutella sends one before closing), and as an
//! ultrapeer `X-Degree` (our ultrapeer slots; gtk-gnutella assumes 8 without
//! it), `X-Max-TTL` (the most TTL we forward; 7 is assumed without it) and
//! `X-Ultrapeer-Query-Routing: 0.1` (we exchange QRP tables between
//! ultrapeers and use them for the last hop) and `X-Dynamic-Querying: 0.1`
//! (we query dynamically, [`super::dq`]). A gtk-gnutella leaf refuses an
//! ultrapeer with an `X-Degree` below 16 or without `X-Dynamic-Querying`
//! ("403 High Outdegree and Dynamic Querying Required").

use super::descriptor::DEFAULT_MAX_TTL;
use super::headers::{format_try_hosts, parse_try_hosts, Block, HeaderError, Headers, StartLine};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The protocol version we speak.
pub const VERSION: &str = "0.6";
/// The QRP version we announce in `X-Query-Routing`.
pub const QUERY_ROUTING_VERSION: &str = "0.2";
/// The inter-ultrapeer QRP version we announce in `X-Ultrapeer-Query-Routing`.
pub const ULTRAPEER_QUERY_ROUTING_VERSION: &str = "0.1";
/// The dynamic querying version we announce in `X-Dynamic-Querying`.
pub const DYNAMIC_QUERYING_VERSION: &str = "0.1";
/// The least `X-Degree` a gtk-gnutella leaf accepts from an ultrapeer
/// (twice its legacy degree of 8).
pub const HIGH_DEGREE: u32 = 16;

/// A node's role on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Ultrapeer,
    Leaf,
}

/// What we say about ourselves and how much we can take.
#[derive(Debug, Clone)]
pub struct HandshakeConfig {
    /// `User-Agent` (see [`user_agent`]).
    pub user_agent: String,
    /// Our current role.
    pub role: Role,
    /// In "auto" mode: an ultrapeer answering `X-Ultrapeer-Needed: False` may
    /// make us its leaf on that connection.
    pub accept_leaf_guidance: bool,
    /// Our listening address for `Listen-IP`, when known.
    pub listen: Option<SocketAddrV4>,
    /// We can inflate a compressed stream (`Accept-Encoding: deflate`).
    pub accept_deflate: bool,
    /// We compress toward a peer that accepts it.
    pub send_deflate: bool,
    /// As an ultrapeer, `X-Ultrapeer-Needed` to send (None: not sent).
    pub ultrapeer_needed: Option<bool>,
    /// As an ultrapeer accepting: a leaf slot is free.
    pub leaf_slots_free: bool,
    /// As an ultrapeer accepting: an ultrapeer slot is free.
    pub ultrapeer_slots_free: bool,
    /// Hosts offered in `X-Try-Ultrapeers`.
    pub try_ultrapeers: Vec<SocketAddrV4>,
    /// As an ultrapeer, `X-Degree`: how many ultrapeers we keep.
    pub degree: u32,
    /// As an ultrapeer, announce `X-Ultrapeer-Query-Routing`.
    pub ultrapeer_qrp: bool,
}

/// `swarmux/<crate version>`: our own name, never another vendor's.
pub fn user_agent() -> String {
    format!("swarmux/{}", env!("CARGO_PKG_VERSION"))
}

impl HandshakeConfig {
    /// A configuration for `role` with compression both ways and free slots.
    pub fn new(role: Role) -> Self {
        HandshakeConfig {
            user_agent: user_agent(),
            role,
            accept_leaf_guidance: false,
            listen: None,
            accept_deflate: true,
            send_deflate: true,
            ultrapeer_needed: None,
            leaf_slots_free: true,
            ultrapeer_slots_free: true,
            try_ultrapeers: Vec::new(),
            degree: 4,
            ultrapeer_qrp: true,
        }
    }

    /// The headers we send in step 1 or 2.
    pub fn headers(&self, role: Role, remote_ip: Option<Ipv4Addr>) -> Headers {
        let mut h = Headers::default();
        h.push("User-Agent", self.user_agent.clone());
        h.push("X-Ultrapeer", bool_value(role == Role::Ultrapeer));
        if let (Role::Ultrapeer, Some(needed)) = (role, self.ultrapeer_needed) {
            h.push("X-Ultrapeer-Needed", bool_value(needed));
        }
        h.push("X-Query-Routing", QUERY_ROUTING_VERSION);
        if role == Role::Ultrapeer {
            if self.ultrapeer_qrp {
                h.push("X-Ultrapeer-Query-Routing", ULTRAPEER_QUERY_ROUTING_VERSION);
            }
            h.push("X-Degree", self.degree.max(1).to_string());
            h.push("X-Max-TTL", DEFAULT_MAX_TTL.to_string());
            h.push("X-Dynamic-Querying", DYNAMIC_QUERYING_VERSION);
        }
        h.push("GGEP", "0.5");
        h.push("Pong-Caching", "0.1");
        h.push("Bye-Packet", "0.1");
        if let Some(l) = self.listen {
            h.push("Listen-IP", l.to_string());
        }
        if let Some(ip) = remote_ip {
            h.push("Remote-IP", ip.to_string());
        }
        if self.accept_deflate {
            h.push("Accept-Encoding", "deflate");
        }
        if !self.try_ultrapeers.is_empty() {
            h.push("X-Try-Ultrapeers", format_try_hosts(&self.try_ultrapeers));
        }
        h
    }
}

fn bool_value(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A successful handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub our_role: Role,
    pub peer_role: Role,
    /// We deflate what we send.
    pub compress_out: bool,
    /// The peer deflates what it sends: inflate the stream.
    pub compress_in: bool,
    pub user_agent: Option<String>,
    /// From `X-Try-Ultrapeers` (or `X-Try`).
    pub try_hosts: Vec<SocketAddrV4>,
    /// The peer's `Listen-IP`.
    pub peer_listen: Option<SocketAddrV4>,
    /// Our address as the peer sees it (`Remote-IP`).
    pub our_ip_seen: Option<Ipv4Addr>,
    /// The peer's `X-Query-Routing` version.
    pub query_routing: Option<String>,
    /// The peer is an ultrapeer exchanging QRP tables with ultrapeers
    /// (`X-Ultrapeer-Query-Routing`).
    pub ultrapeer_qrp: bool,
    /// The peer's `X-Degree` (1 to 1000), its ultrapeer slots.
    pub degree: Option<u32>,
    /// The peer's `X-Max-TTL` (1 to 255), the most TTL it takes.
    pub max_ttl: Option<u8>,
    /// The peer is an ultrapeer querying dynamically (`X-Dynamic-Querying`).
    pub dynamic_querying: bool,
}

/// A refused handshake, to be shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    pub reason: String,
    /// True when the peer refused us; false when we refused it.
    pub by_peer: bool,
    pub user_agent: Option<String>,
    /// Hosts to try instead (a 503 usually carries some).
    pub try_hosts: Vec<SocketAddrV4>,
}

/// What to do after feeding bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Wait for more bytes.
    NeedMore,
    /// Send these bytes, then call `feed` again (an empty slice is fine).
    Send(Vec<u8>),
    /// Send `send` (may be empty); the link is up. `leftover` are the first
    /// bytes of the message stream, already received.
    Done {
        send: Vec<u8>,
        outcome: Negotiated,
        leftover: Vec<u8>,
    },
    /// Send `send` (may be empty), then close.
    Refused { send: Vec<u8>, refusal: Refusal },
}

/// Why the handshake failed without a proper refusal; close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error("unexpected handshake line: {0}")]
    Unexpected(String),
    #[error("handshake already finished")]
    Finished,
}

/// What a peer's block says about it.
struct PeerInfo {
    role: Option<Role>,
    user_agent: Option<String>,
    try_hosts: Vec<SocketAddrV4>,
    listen: Option<SocketAddrV4>,
    our_ip_seen: Option<Ipv4Addr>,
    query_routing: Option<String>,
    ultrapeer_qrp: bool,
    degree: Option<u32>,
    max_ttl: Option<u8>,
    dynamic_querying: bool,
    accepts_deflate: bool,
    sends_deflate: bool,
    ultrapeer_needed: Option<bool>,
}

impl PeerInfo {
    fn from(h: &Headers) -> Self {
        let try_hosts = h
            .get("X-Try-Ultrapeers")
            .or_else(|| h.get("X-Try"))
            .map(parse_try_hosts)
            .unwrap_or_default();
        PeerInfo {
            role: h
                .is_true("X-Ultrapeer")
                .map(|up| if up { Role::Ultrapeer } else { Role::Leaf }),
            user_agent: h.get("User-Agent").map(str::to_string),
            try_hosts,
            listen: h.get("Listen-IP").and_then(|v| v.trim().parse().ok()),
            our_ip_seen: h.get("Remote-IP").and_then(|v| v.trim().parse().ok()),
            query_routing: h.get("X-Query-Routing").map(str::to_string),
            ultrapeer_qrp: h.get("X-Ultrapeer-Query-Routing").is_some(),
            degree: h
                .get("X-Degree")
                .and_then(|v| v.trim().parse().ok())
                .filter(|d| (1..=1000).contains(d)),
            max_ttl: h
                .get("X-Max-TTL")
                .and_then(|v| v.trim().parse().ok())
                .filter(|t| *t >= 1),
            dynamic_querying: h.get("X-Dynamic-Querying").is_some(),
            accepts_deflate: h.lists("Accept-Encoding", "deflate"),
            sends_deflate: h.lists("Content-Encoding", "deflate"),
            ultrapeer_needed: h.is_true("X-Ultrapeer-Needed"),
        }
    }

    fn refusal(self, code: u16, reason: &str, by_peer: bool) -> Refusal {
        Refusal {
            code,
            reason: reason.to_string(),
            by_peer,
            user_agent: self.user_agent,
            try_hosts: self.try_hosts,
        }
    }

    fn negotiated(self, our_role: Role, peer_role: Role, out: bool, inn: bool) -> Negotiated {
        Negotiated {
            our_role,
            peer_role,
            compress_out: out,
            compress_in: inn,
            user_agent: self.user_agent,
            try_hosts: self.try_hosts,
            peer_listen: self.listen,
            our_ip_seen: self.our_ip_seen,
            query_routing: self.query_routing,
            ultrapeer_qrp: self.ultrapeer_qrp && peer_role == Role::Ultrapeer,
            degree: self.degree,
            max_ttl: self.max_ttl,
            dynamic_querying: self.dynamic_querying && peer_role == Role::Ultrapeer,
        }
    }
}

fn status_block(code: u16, reason: &str, headers: Headers) -> Vec<u8> {
    Block {
        start: StartLine::Status {
            version: VERSION.to_string(),
            code,
            reason: reason.to_string(),
        },
        headers,
    }
    .encode()
}

fn expect_status(b: &Block) -> Result<(u16, String), HandshakeError> {
    match &b.start {
        StartLine::Status { code, reason, .. } => Ok((*code, reason.clone())),
        StartLine::Connect { .. } => Err(HandshakeError::Unexpected(
            "CONNECT instead of a status".into(),
        )),
    }
}

/// The initiating side: we connected to the peer.
#[derive(Debug)]
pub struct Connector {
    cfg: HandshakeConfig,
    buf: Vec<u8>,
    /// How much of `buf` was searched for the block's end.
    scanned: usize,
    finished: bool,
}

impl Connector {
    /// Starts a handshake toward `remote_ip`; returns the step-1 bytes to send.
    pub fn new(cfg: HandshakeConfig, remote_ip: Ipv4Addr) -> (Connector, Vec<u8>) {
        let block = Block {
            start: StartLine::Connect {
                version: VERSION.to_string(),
            },
            headers: cfg.headers(cfg.role, Some(remote_ip)),
        };
        let c = Connector {
            cfg,
            buf: Vec::new(),
            scanned: 0,
            finished: false,
        };
        (c, block.encode())
    }

    /// Feeds bytes from the peer (its step-2 answer).
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Step, HandshakeError> {
        if self.finished {
            return Err(HandshakeError::Finished);
        }
        self.buf.extend_from_slice(bytes);
        let Some((block, used)) = Block::parse_more(&self.buf, &mut self.scanned)? else {
            return Ok(Step::NeedMore);
        };
        self.finished = true;
        let (code, reason) = expect_status(&block)?;
        let peer = PeerInfo::from(&block.headers);
        if code != 200 {
            return Ok(Step::Refused {
                send: Vec::new(),
                refusal: peer.refusal(code, &reason, true),
            });
        }
        let roles = match (self.cfg.role, peer.role) {
            (_, None) => Err((403, "Normal nodes refused")),
            (Role::Leaf, Some(Role::Ultrapeer)) => Ok((Role::Leaf, Role::Ultrapeer)),
            (Role::Leaf, Some(Role::Leaf)) => Err((503, "Leaf to leaf connections refused")),
            (Role::Ultrapeer, Some(Role::Ultrapeer))
                if self.cfg.accept_leaf_guidance && peer.ultrapeer_needed == Some(false) =>
            {
                Ok((Role::Leaf, Role::Ultrapeer))
            }
            (Role::Ultrapeer, Some(peer_role)) => Ok((Role::Ultrapeer, peer_role)),
        };
        let (our_role, peer_role) = match roles {
            Ok(r) => r,
            Err((code, reason)) => {
                let mut h = Headers::default();
                h.push("User-Agent", self.cfg.user_agent.clone());
                return Ok(Step::Refused {
                    send: status_block(code, reason, h),
                    refusal: peer.refusal(code, reason, false),
                });
            }
        };
        let compress_in = self.cfg.accept_deflate && peer.sends_deflate;
        let compress_out = self.cfg.send_deflate && peer.accepts_deflate;
        let mut h = Headers::default();
        if our_role != self.cfg.role {
            h.push("X-Ultrapeer", bool_value(our_role == Role::Ultrapeer));
        }
        if compress_out {
            h.push("Content-Encoding", "deflate");
        }
        Ok(Step::Done {
            send: status_block(200, "OK", h),
            outcome: peer.negotiated(our_role, peer_role, compress_out, compress_in),
            leftover: self.buf[used..].to_vec(),
        })
    }
}

#[path = "handshake_accept.rs"]
mod accept;
pub use accept::Acceptor;

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
