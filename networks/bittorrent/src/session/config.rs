//! Settings of the BitTorrent network, as the daemon builds them.

use std::net::SocketAddr;

/// The BitTorrent network's settings.
#[derive(Clone, Debug)]
pub struct BtConfig {
    /// Bind IP and TCP port for peers (port 0 = any free port).
    pub listen: SocketAddr,
    /// The DHT, or `None` to run without it.
    pub dht: Option<DhtSettings>,
    /// Exchange peers with peers (BEP 11); never for private torrents.
    pub pex: bool,
    /// Most peer connections of one torrent (incoming and outgoing).
    pub max_peers_per_torrent: usize,
    /// Most peer connections over every torrent.
    pub max_peers: usize,
}

impl Default for BtConfig {
    fn default() -> Self {
        BtConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 6881)),
            dht: None,
            pex: true,
            max_peers_per_torrent: 50,
            max_peers: 300,
        }
    }
}

/// DHT settings.
#[derive(Clone, Debug)]
pub struct DhtSettings {
    /// UDP address of the DHT node (port 0 = any free port).
    pub bind: SocketAddr,
    /// Nodes to bootstrap from, as `HOST:PORT`, resolved at start.
    pub bootstrap: Vec<String>,
}
