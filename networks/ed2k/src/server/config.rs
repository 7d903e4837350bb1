//! Settings of the index server.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// How the index server listens, presents itself and bounds its clients.
#[derive(Clone, Debug)]
pub struct IndexServerConfig {
    /// TCP address to listen on (ed2k servers usually use port 4661).
    pub listen: SocketAddr,
    /// Server name shown in clients' server lists.
    pub name: String,
    pub description: String,
    /// Message of the day sent after login; may span several lines.
    pub message: String,
    /// Largest frame accepted from a client (opcode + payload, also after inflating).
    pub max_packet: usize,
    /// Files kept per client; further offers are ignored.
    pub max_files_per_client: usize,
    /// Most results in one search answer.
    pub max_results: usize,
    /// A client silent for this long is disconnected (eMule pings every few minutes).
    pub idle_timeout: Duration,
    /// How long a new connection may take to send its login.
    pub login_timeout: Duration,
    /// Most simultaneous client connections.
    pub max_connections: usize,
    /// Most connections from one address (an IPv6 /64): one client needs
    /// one, a few may share an address behind NAT.
    pub max_connections_per_address: usize,
    /// How long the connect-back check may take before the client gets a low
    /// id. A busy client answers late: aMule 2.3.3 on a loaded machine took
    /// over 5 s, and it gives a login 25 s (`CONSERVTIMEOUT`), so 15 s here.
    pub port_check_timeout: Duration,
    /// The server's user hash (in its ident and its port-check hello); random
    /// when `None`. Keep it stable across restarts: aMule 2.3.3 gave a low id
    /// (failed port check) after the server at one address had come back
    /// twice with a new hash (seen while writing tests/amule_interop.rs).
    pub hash: Option<[u8; 16]>,
}

impl Default for IndexServerConfig {
    fn default() -> Self {
        IndexServerConfig {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 4661)),
            name: "swarmux index server".into(),
            description: "an ed2k index server run by swarmux".into(),
            message: "Welcome to this swarmux index server.".into(),
            max_packet: 2 * 1024 * 1024,
            max_files_per_client: 10_000,
            max_results: 300,
            idle_timeout: Duration::from_secs(15 * 60),
            login_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_address: 8,
            port_check_timeout: Duration::from_secs(15),
            hash: None,
        }
    }
}
