//! Starting the engine headless: config, store, control socket, networks.

use crate::config::Config;
use crate::engine::Engine;
use crate::store::Store;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use swarmux_bittorrent::{BitTorrentNetwork, BtConfig, DhtSettings, TorznabIndexer};
use swarmux_ed2k::client::{Ed2kConfig, Ed2kNetwork};
use swarmux_gnutella::{GnutellaConfig, GnutellaNetwork, Mode};
use swarmux_net::Network;

/// Command-line overrides of the config file for `swarmux daemon`.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct DaemonOverrides {
    /// TCP port for ed2k peers (0 = any free port; see ports.json).
    #[arg(long, value_name = "PORT")]
    pub ed2k_port: Option<u16>,
    /// Address for ed2k to listen on and connect from (default: every address).
    #[arg(long, value_name = "IP")]
    pub ed2k_bind: Option<std::net::IpAddr>,
    /// TCP port for BitTorrent peers (0 = any free port; see ports.json).
    #[arg(long, value_name = "PORT")]
    pub bt_port: Option<u16>,
    /// Address for BitTorrent to listen on and connect from.
    #[arg(long, value_name = "IP")]
    pub bt_bind: Option<std::net::IpAddr>,
    /// UDP port of the BitTorrent DHT (0 = any free port; see ports.json).
    #[arg(long, value_name = "PORT")]
    pub dht_port: Option<u16>,
    /// A DHT node to bootstrap from, HOST:PORT (repeatable).
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    pub dht_bootstrap: Vec<String>,
    /// A folder watched for .torrent files.
    #[arg(long, value_name = "DIR")]
    pub watch_dir: Option<PathBuf>,
    /// TCP port for Gnutella (0 = any free port; see ports.json).
    #[arg(long, value_name = "PORT")]
    pub gnutella_port: Option<u16>,
    /// Address for Gnutella to listen on and connect from.
    #[arg(long, value_name = "IP")]
    pub gnutella_bind: Option<std::net::IpAddr>,
    /// Gnutella mode.
    #[arg(long, value_name = "MODE", value_parser = ["ultrapeer", "leaf", "auto"])]
    pub gnutella_mode: Option<String>,
    /// A Gnutella neighbour to connect to, HOST:PORT (repeatable).
    #[arg(long = "gnutella-peer", value_name = "HOST:PORT")]
    pub gnutella_peers: Vec<String>,
    /// An ed2k server to connect to, HOST:PORT (repeatable).
    #[arg(long = "server", value_name = "HOST:PORT")]
    pub servers: Vec<String>,
    /// Where finished files go.
    #[arg(long, value_name = "DIR")]
    pub download_dir: Option<PathBuf>,
    /// A folder to share (repeatable).
    #[arg(long = "share", value_name = "DIR")]
    pub shares: Vec<PathBuf>,
    /// Global download limit in KiB/s (0 = unlimited).
    #[arg(long, value_name = "KIB")]
    pub max_download_rate: Option<u64>,
    /// Global upload limit in KiB/s (0 = unlimited).
    #[arg(long, value_name = "KIB")]
    pub max_upload_rate: Option<u64>,
    /// Number of upload slots.
    #[arg(long, value_name = "N")]
    pub upload_slots: Option<usize>,
}

impl DaemonOverrides {
    fn apply(&self, c: &mut Config) {
        if let Some(p) = self.ed2k_port {
            c.ed2k.port = p;
        }
        if let Some(ip) = self.ed2k_bind {
            c.ed2k.bind = ip;
        }
        c.ed2k.servers.extend(self.servers.iter().cloned());
        if let Some(p) = self.bt_port {
            c.bittorrent.port = p;
        }
        if let Some(ip) = self.bt_bind {
            c.bittorrent.bind = ip;
        }
        if let Some(p) = self.dht_port {
            c.bittorrent.dht_port = p;
        }
        c.bittorrent
            .dht_bootstrap
            .extend(self.dht_bootstrap.iter().cloned());
        if let Some(p) = self.gnutella_port {
            c.gnutella.port = p;
        }
        if let Some(ip) = self.gnutella_bind {
            c.gnutella.bind = ip;
        }
        if let Some(m) = &self.gnutella_mode {
            c.gnutella.mode = m.clone();
        }
        c.gnutella.peers.extend(self.gnutella_peers.iter().cloned());
        if let Some(d) = &self.watch_dir {
            c.bittorrent.watch_dir = std::path::absolute(d).unwrap_or_else(|_| d.clone());
        }
        if let Some(d) = &self.download_dir {
            c.download_dir = d.clone();
        }
        c.shared_dirs.extend(self.shares.iter().cloned());
        if let Some(r) = self.max_download_rate {
            c.limits.download_kib = r;
        }
        if let Some(r) = self.max_upload_rate {
            c.limits.upload_kib = r;
        }
        if let Some(n) = self.upload_slots {
            c.limits.upload_slots = n;
        }
    }
}

/// Reads the ed2k user hash from the data dir, creating one on first run
/// with eMule's markers (byte 5 = 14, byte 14 = 111).
fn user_hash(data_dir: &Path) -> anyhow::Result<[u8; 16]> {
    let path = data_dir.join("ed2k_userhash");
    if let Ok(bytes) = std::fs::read(&path) {
        if let Ok(h) = <[u8; 16]>::try_from(bytes.as_slice()) {
            return Ok(h);
        }
    }
    let mut h: [u8; 16] = rand::random();
    h[5] = 14;
    h[14] = 111;
    crate::private::write_private(&path, &h)?;
    Ok(h)
}

/// The Gnutella network's settings from the config file's.
fn gnutella_config(g: &crate::config::GnutellaSettings) -> GnutellaConfig {
    GnutellaConfig {
        listen: SocketAddr::new(g.bind, g.port),
        mode: Mode::parse(&g.mode).unwrap_or_default(),
        peers: g.peers.clone(),
        max_leaves: g.max_leaves,
        max_ultrapeers: g.max_ultrapeers,
        ..Default::default()
    }
}

/// Raises the open-file limit and shrinks the connection caps to fit in it.
fn size_connection_caps(config: &mut Config) {
    let limit = match crate::fd_budget::raise_open_file_limit() {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("cannot read the open-file limit: {e}");
            return;
        }
    };
    // Gnutella's budgets are fixed per kind: they come off the top.
    let gnutella = if config.gnutella.enabled {
        swarmux_gnutella::node::gates::most_sockets(&gnutella_config(&config.gnutella))
    } else {
        0
    };
    let wanted = [config.ed2k.max_connections, config.bittorrent.max_peers];
    let fitted = crate::fd_budget::fit_caps(limit.saturating_sub(gnutella as u64), &wanted);
    if fitted != wanted {
        tracing::warn!(
            "the open-file limit is {limit}: ed2k.max_connections lowered from {} to {}, \
             bittorrent.max_peers from {} to {} (raise the limit with `ulimit -n` to keep them)",
            wanted[0],
            fitted[0],
            wanted[1],
            fitted[1]
        );
        config.ed2k.max_connections = fitted[0];
        config.bittorrent.max_peers = fitted[1];
    }
}

/// Runs the engine until `swarmux stop`, SIGINT or SIGTERM.
pub async fn run(data_dir: PathBuf, overrides: DaemonOverrides) -> anyhow::Result<()> {
    let mut config = Config::load_or_create(&data_dir)?;
    overrides.apply(&mut config);
    size_connection_caps(&mut config);
    let store = Arc::new(Store::open(&data_dir.join("swarmux.redb"))?);
    // The database file is created by redb with the default mode.
    crate::private::secure_data_dir(&data_dir)?;
    let socket = data_dir.join(swarmux_api::SOCKET_NAME);
    let listener = crate::control::bind(&socket).await?;
    let mut networks: Vec<Box<dyn Network>> = Vec::new();
    if config.ed2k.enabled {
        networks.push(Box::new(Ed2kNetwork::new(Ed2kConfig {
            listen: SocketAddr::new(config.ed2k.bind, config.ed2k.port),
            // The engine adds the remembered ones at start.
            servers: config.ed2k.servers.clone(),
            nickname: config.ed2k.nickname.clone(),
            user_hash: user_hash(&data_dir)?,
            max_sources_per_download: config.ed2k.max_sources_per_download,
            max_connections: config.ed2k.max_connections,
            max_connections_per_address:
                swarmux_ed2k::client::network::DEFAULT_CONNECTIONS_PER_ADDRESS,
            hello_timeout: swarmux_ed2k::client::network::DEFAULT_HELLO_TIMEOUT,
        })));
    }
    if config.bittorrent.enabled {
        let b = &config.bittorrent;
        networks.push(Box::new(BitTorrentNetwork::new(BtConfig {
            listen: SocketAddr::new(b.bind, b.port),
            dht: b.dht.then(|| DhtSettings {
                bind: SocketAddr::new(b.bind, b.dht_port),
                bootstrap: b.dht_bootstrap.clone(),
            }),
            pex: b.pex,
            max_peers_per_torrent: b.max_peers_per_torrent,
            max_peers: b.max_peers,
            max_peers_per_address: b.max_peers_per_address,
            torznab: b
                .torznab
                .iter()
                .map(|t| TorznabIndexer {
                    name: t.name.clone(),
                    url: t.url.clone(),
                    api_key: t.api_key.clone(),
                })
                .collect(),
            watch_dir: (!b.watch_dir.as_os_str().is_empty()).then(|| b.watch_dir.clone()),
        })));
    }
    if config.gnutella.enabled {
        networks.push(Box::new(GnutellaNetwork::new(gnutella_config(
            &config.gnutella,
        ))));
    }
    let (engine, handle, rx) = Engine::start(config, data_dir.clone(), store, networks)?;
    let server = tokio::spawn(crate::control::serve(listener, handle));
    tracing::info!(
        "swarmux daemon {} running for {}",
        std::process::id(),
        data_dir.display()
    );
    engine.run(rx, shutdown_signal()).await;
    server.abort();
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
