//! Settings of the BitTorrent network, as the daemon builds them.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

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
    /// Most incoming connections from one address (an IPv6 /64), in their
    /// handshake or open, over every torrent: one host cannot take the slots.
    pub max_peers_per_address: usize,
    /// Torznab indexers (Jackett, Prowlarr) asked for every search.
    pub torznab: Vec<TorznabIndexer>,
    /// The watch folder, whose `.torrent` (and `.torrent.added`) files the
    /// search finds; the engine adds them to the queue.
    pub watch_dir: Option<PathBuf>,
}

impl Default for BtConfig {
    fn default() -> Self {
        BtConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 6881)),
            dht: None,
            pex: true,
            max_peers_per_torrent: 50,
            max_peers: 300,
            max_peers_per_address: 4,
            torznab: Vec::new(),
            watch_dir: None,
        }
    }
}

impl BtConfig {
    /// The address every outgoing connection and datagram leaves from
    /// (`None` when bound to every address: the kernel picks).
    pub fn local_ip(&self) -> Option<IpAddr> {
        Some(self.listen.ip()).filter(|ip| !ip.is_unspecified())
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

/// One Torznab indexer: the HTTP API that Jackett and Prowlarr serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorznabIndexer {
    /// Shown in log lines about this indexer.
    pub name: String,
    /// The Torznab API URL, e.g.
    /// `http://127.0.0.1:9117/api/v2.0/indexers/all/results/torznab/`;
    /// the search parameters are appended to its query.
    pub url: String,
    /// Sent as `apikey` (omitted when empty).
    pub api_key: String,
}
