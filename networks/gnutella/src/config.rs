//! Settings of the Gnutella network, as the daemon builds them from its
//! command line and config file.

use std::net::SocketAddr;
use std::time::Duration;

/// Which role the node takes on the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Takes leaves and other ultrapeers, floods queries.
    Ultrapeer,
    /// Keeps a few ultrapeer connections and sends them its QRP table.
    Leaf,
    /// Ultrapeer unless firewalled (a node others cannot reach is a leaf).
    #[default]
    Auto,
}

impl Mode {
    /// Parses `ultrapeer`, `leaf` or `auto` (any case).
    pub fn parse(s: &str) -> Option<Mode> {
        match s.to_ascii_lowercase().as_str() {
            "ultrapeer" | "up" => Some(Mode::Ultrapeer),
            "leaf" => Some(Mode::Leaf),
            "auto" => Some(Mode::Auto),
            _ => None,
        }
    }
}

/// Settings of the Gnutella network.
#[derive(Clone, Debug)]
pub struct GnutellaConfig {
    /// TCP address for Gnutella links and HTTP transfers (port 0 = any free port).
    pub listen: SocketAddr,
    pub mode: Mode,
    /// Neighbours as `HOST:PORT`, connected at start and kept in the host cache.
    pub peers: Vec<String>,
    /// As an ultrapeer: most leaves (more are refused with 503).
    pub max_leaves: usize,
    /// Ultrapeer links a node dials for: a leaf keeps connecting from its
    /// host cache until it has this many (and takes no more), an ultrapeer
    /// until it has half of them.
    pub max_ultrapeers: usize,
    /// As an ultrapeer: most ultrapeer neighbours (dialed or accepted), and
    /// the `X-Degree` announced. gtk-gnutella's leaves want at least 16;
    /// gtk-gnutella itself keeps 32.
    pub ultrapeer_degree: usize,
    /// Test knob for a node that cannot accept connections: every incoming
    /// TCP connection is closed at once, the node says so in its query hits
    /// and queries, and uploads only through Push/GIV.
    pub firewalled: bool,
    /// Offer and accept deflate link compression (on by default; off is a
    /// test knob for an uncompressed link).
    pub deflate: bool,
    /// As an ultrapeer, exchange QRP tables with ultrapeers that announce
    /// `X-Ultrapeer-Query-Routing` (ours merged with our leaves') and send
    /// them last-hop queries only when their table matches.
    pub ultrapeer_qrp: bool,
    /// Least time between two refreshes of the table sent to ultrapeers
    /// (gtk-gnutella waits 5 minutes; a new neighbour gets it at once).
    pub qrp_refresh: Duration,
    /// Most connections of each kind (not yet identified, HTTP, neighbour
    /// links, GIV in, pushes answered) one remote address may hold at once;
    /// an IPv6 address counts by its /64. Tests running many nodes on one
    /// address raise it.
    pub per_address: usize,
}

impl Default for GnutellaConfig {
    fn default() -> Self {
        GnutellaConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 6346)),
            mode: Mode::Auto,
            peers: Vec::new(),
            max_leaves: 32,
            max_ultrapeers: 4,
            ultrapeer_degree: 32,
            firewalled: false,
            deflate: true,
            ultrapeer_qrp: true,
            qrp_refresh: Duration::from_secs(60),
            per_address: 4,
        }
    }
}
