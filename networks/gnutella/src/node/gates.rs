//! Socket budgets, one per kind of connection, each with a cap per remote
//! address: what arrives on the listening port is first an unidentified
//! connection, then (after its first bytes) an HTTP request, a neighbour
//! link or a pushed servent's GIV; pushes we answer open outgoing GIV
//! connections. Slow or hostile connections of one kind can never take the
//! sockets another kind needs, and one address holds at most
//! [`crate::GnutellaConfig::per_address`] of each.

use crate::config::GnutellaConfig;
use std::time::Duration;
use swarmux_net::ConnectionGate;

/// Time an incoming connection has, from its accept, to send its whole
/// first head (HTTP request head, Gnutella handshake head or GIV line), and
/// a kept-alive HTTP connection to send the rest of a head once it started.
/// gtk-gnutella gives the whole connection phase 60 s
/// (`incoming_connecting_timeout`); real heads arrive in well under a second.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// Connections that have not said what they are yet.
const UNIDENTIFIED: usize = 128;
/// Incoming HTTP connections (uploads, requests being read or refused).
const HTTP: usize = 192;
/// Incoming neighbour handshakes in progress, beyond the link slots.
const HANDSHAKES: usize = 32;
/// Incoming GIV connections not yet handed to their download.
const GIV_IN: usize = 64;
/// Outgoing connections answering pushes.
const PUSH_OUT: usize = 64;

/// The budgets of one node.
#[derive(Clone, Debug)]
pub struct Gates {
    /// Accepted, first bytes not read yet.
    pub unidentified: ConnectionGate,
    /// Incoming HTTP requests and uploads.
    pub http: ConnectionGate,
    /// Incoming Gnutella handshakes and links.
    pub links: ConnectionGate,
    /// Incoming GIV connections.
    pub giv_in: ConnectionGate,
    /// Outgoing GIV connections we open for pushes, by target address.
    pub push_out: ConnectionGate,
}

/// Incoming neighbour links and handshakes `cfg` allows.
fn link_budget(cfg: &GnutellaConfig) -> usize {
    cfg.max_leaves + cfg.ultrapeer_degree + HANDSHAKES
}

/// The most sockets the budgets of `cfg` let a node hold (the links it dials
/// included), for sizing against the open-file limit.
pub fn most_sockets(cfg: &GnutellaConfig) -> usize {
    UNIDENTIFIED + HTTP + link_budget(cfg) + GIV_IN + PUSH_OUT + cfg.max_ultrapeers
}

impl Gates {
    /// The budgets for `cfg`.
    pub fn new(cfg: &GnutellaConfig) -> Gates {
        let per = cfg.per_address;
        let links = link_budget(cfg);
        Gates {
            unidentified: ConnectionGate::new(UNIDENTIFIED, per),
            http: ConnectionGate::new(HTTP, per),
            links: ConnectionGate::new(links, per),
            giv_in: ConnectionGate::new(GIV_IN, per),
            push_out: ConnectionGate::new(PUSH_OUT, per),
        }
    }
}
