//! The [`Network`] implementation: the main loop over engine commands, the
//! listener and the DHT, and the network-wide lists (uploads, seeds,
//! trackers) merged from the torrent tasks' reports.

use crate::proto::metainfo::MAX_TORRENT_BYTES;
use crate::proto::Magnet;
use crate::proto::Metainfo;
use crate::search::Searcher;
use crate::session::env::Env;
use crate::session::listener::accept_loop;
use crate::session::meta::read_torrent;
use crate::session::status::{MainMsg, TorrentStatus};
use crate::session::torrent::{self, Control, TorrentMsg};
use crate::session::BtConfig;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use swarmux_dht::{Dht, DhtConfig};
use swarmux_net::magnet::{self, is_magnet};
use swarmux_net::message::LogLevel;
use swarmux_net::network::NetworkTask;
use swarmux_net::{
    ContentHash, DownloadId, LinkFiles, NetCommand, NetEvent, Network, NetworkContext, SeedInfo,
    ServerInfo, UploadInfo,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// The BitTorrent network backend.
pub struct BitTorrentNetwork {
    cfg: BtConfig,
}

impl BitTorrentNetwork {
    /// A network that will run with `cfg`.
    pub fn new(cfg: BtConfig) -> Self {
        BitTorrentNetwork { cfg }
    }
}

impl Network for BitTorrentNetwork {
    fn name(&self) -> &'static str {
        "bittorrent"
    }

    /// Magnet links with a BitTorrent info-hash (v1 `btih` or v2 `btmh`, the
    /// latter refused with a clear error when parsed), and existing
    /// `.torrent` files.
    fn handles_link(&self, link: &str) -> bool {
        let link = link.trim();
        if is_magnet(link) {
            return magnet::topics(link).iter().any(|t| {
                magnet::urn_value(t, "urn:btih:").is_some()
                    || magnet::urn_value(t, "urn:btmh:").is_some()
            });
        }
        link.to_ascii_lowercase().ends_with(".torrent") && Path::new(link).is_file()
    }

    /// `.torrent` files, fetched from the bind address, and the watch folder.
    fn link_files(&self) -> Option<LinkFiles> {
        Some(LinkFiles {
            extension: "torrent",
            max_bytes: MAX_TORRENT_BYTES as u64,
            magic: b"d",
            bind: self.cfg.local_ip(),
            watch_dir: self.cfg.watch_dir.clone(),
        })
    }

    /// Data already in the download folder is checked and seeded there.
    fn checks_data_in_place(&self) -> bool {
        true
    }

    fn parse_link(&self, link: &str) -> Result<(String, u64, ContentHash), String> {
        let link = link.trim();
        if is_magnet(link) {
            let m = Magnet::parse(link).map_err(|e| e.to_string())?;
            let name = m
                .name
                .clone()
                .unwrap_or_else(|| format!("magnet {}", &hex::encode(m.info_hash)[..8]));
            return Ok((name, 0, ContentHash::BtInfo(m.info_hash)));
        }
        let Metainfo { info, .. } = read_torrent(Path::new(link))?;
        Ok((
            info.name,
            info.total_length,
            ContentHash::BtInfo(info.info_hash),
        ))
    }

    fn run(
        &self,
        ctx: NetworkContext,
        commands: mpsc::UnboundedReceiver<NetCommand>,
    ) -> NetworkTask {
        Box::pin(run(self.cfg.clone(), ctx, commands))
    }
}

struct Main {
    env: Arc<Env>,
    main_tx: mpsc::UnboundedSender<MainMsg>,
    torrents: HashMap<DownloadId, mpsc::UnboundedSender<TorrentMsg>>,
    statuses: HashMap<DownloadId, TorrentStatus>,
    last_uploads: Vec<UploadInfo>,
    last_seeding: Vec<SeedInfo>,
    last_servers: Vec<ServerInfo>,
    last_uploaded: u64,
    search: Searcher,
}

async fn run(
    cfg: BtConfig,
    ctx: NetworkContext,
    mut commands: mpsc::UnboundedReceiver<NetCommand>,
) {
    let env = Arc::new(Env::new(
        cfg.clone(),
        ctx.data_dir.clone(),
        ctx.limits.clone(),
        ctx.events.clone(),
    ));
    match TcpListener::bind(cfg.listen).await {
        Ok(l) => {
            if let Ok(addr) = l.local_addr() {
                env.port
                    .store(addr.port(), std::sync::atomic::Ordering::Relaxed);
                env.emit(NetEvent::Listening {
                    name: "bt_tcp".into(),
                    addr,
                });
            }
            tokio::spawn(accept_loop(env.clone(), l));
        }
        Err(e) => env.log(
            LogLevel::Error,
            format!(
                "BitTorrent cannot listen on {}: {e} (no incoming peers)",
                cfg.listen
            ),
        ),
    }
    if let Some(d) = &cfg.dht {
        let mut bootstrap = Vec::new();
        for b in &d.bootstrap {
            match resolve(b).await {
                Some(a) => bootstrap.push(a),
                None => env.log(
                    LogLevel::Warn,
                    format!("DHT bootstrap node {b} does not resolve"),
                ),
            }
        }
        let dcfg = DhtConfig {
            bind: d.bind,
            bootstrap,
            state_file: Some(ctx.data_dir.join("dht.state")),
        };
        match Dht::start(dcfg).await {
            Ok(dht) => {
                env.emit(NetEvent::Listening {
                    name: "dht_udp".into(),
                    addr: dht.local_addr(),
                });
                let _ = env.dht.set(dht);
            }
            Err(e) => env.log(
                LogLevel::Error,
                format!("DHT cannot start on {}: {e}", d.bind),
            ),
        }
    }
    let (main_tx, mut main_rx) = mpsc::unbounded_channel();
    let mut m = Main {
        env: env.clone(),
        main_tx,
        torrents: HashMap::new(),
        statuses: HashMap::new(),
        last_uploads: Vec::new(),
        last_seeding: Vec::new(),
        last_servers: Vec::new(),
        last_uploaded: 0,
        search: Searcher::new(&cfg, &ctx.data_dir, ctx.events.clone()),
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                None | Some(NetCommand::Shutdown) => break,
                Some(c) => m.on_command(c).await,
            },
            Some(msg) = main_rx.recv() => match msg {
                MainMsg::Status(id, s) => {
                    if m.torrents.contains_key(&id) {
                        m.statuses.insert(id, s);
                    }
                }
                MainMsg::Ended(id) => {
                    if m.torrents.get(&id).is_some_and(|t| t.is_closed()) {
                        m.torrents.remove(&id);
                        m.statuses.remove(&id);
                    }
                }
            },
            _ = tick.tick() => m.report(),
        }
    }
    let stops: Vec<_> = m.torrents.keys().copied().collect();
    let waits: Vec<_> = stops.into_iter().filter_map(|id| m.stop(id)).collect();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        for w in waits {
            let _ = w.await;
        }
    })
    .await;
    if let Some(d) = env.dht.get().cloned() {
        let _ = tokio::time::timeout(Duration::from_secs(2), d.shutdown()).await;
    }
}

async fn resolve(hostport: &str) -> Option<SocketAddr> {
    tokio::net::lookup_host(hostport)
        .await
        .ok()?
        .find(SocketAddr::is_ipv4)
}

impl Main {
    async fn on_command(&mut self, c: NetCommand) {
        // the library search finds every torrent the engine gives the network
        match &c {
            NetCommand::StartDownload(spec) | NetCommand::Seed(spec) => {
                self.search.library().remember(spec)
            }
            NetCommand::CancelDownload(id) => self.search.library().forget(*id),
            _ => {}
        }
        match c {
            NetCommand::Search(req) => self.search.start(req),
            NetCommand::CancelSearch(id) => self.search.cancel(id),
            NetCommand::SharesChanged(_) => {}
            NetCommand::RemoveServer(_) | NetCommand::Shutdown => {}
            NetCommand::StartDownload(spec) => {
                if self.torrents.get(&spec.id).is_some_and(|t| !t.is_closed()) {
                    return;
                }
                let id = spec.id;
                let tx = torrent::spawn(self.env.clone(), spec, false, self.main_tx.clone());
                self.torrents.insert(id, tx);
            }
            NetCommand::Seed(spec) => {
                let id = spec.id;
                if let Some(t) = self.torrents.get(&id).filter(|t| !t.is_closed()) {
                    let _ = t.send(TorrentMsg::Control(Control::Seed(spec)));
                    return;
                }
                let tx = torrent::spawn(self.env.clone(), spec, true, self.main_tx.clone());
                self.torrents.insert(id, tx);
            }
            NetCommand::PauseDownload(id) | NetCommand::CancelDownload(id) => {
                if let Some(wait) = self.stop(id) {
                    let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
                }
            }
            NetCommand::SetFilePriority { id, file, priority } => {
                if let Some(t) = self.torrents.get(&id) {
                    let _ = t.send(TorrentMsg::Control(Control::SetPriority { file, priority }));
                }
            }
            NetCommand::AddServer(s) => match (resolve(&s).await, self.env.dht.get()) {
                (Some(a), Some(d)) => d.add_node(a),
                _ => self.env.log(
                    LogLevel::Warn,
                    format!("BitTorrent: {s} is not usable as a DHT node (DHT off or no address)"),
                ),
            },
        }
    }

    /// Asks a torrent task to stop; the receiver fires when it has.
    fn stop(&mut self, id: DownloadId) -> Option<oneshot::Receiver<()>> {
        let t = self.torrents.remove(&id)?;
        self.statuses.remove(&id);
        let (tx, rx) = oneshot::channel();
        t.send(TorrentMsg::Control(Control::Stop(tx))).ok()?;
        Some(rx)
    }

    /// Emits the network-wide lists that changed.
    fn report(&mut self) {
        let mut ids: Vec<_> = self.statuses.keys().copied().collect();
        ids.sort_unstable();
        let mut uploads = Vec::new();
        let mut seeding = Vec::new();
        let mut servers: Vec<ServerInfo> = Vec::new();
        for id in ids {
            let s = &self.statuses[&id];
            uploads.extend(s.uploads.iter().cloned());
            seeding.extend(s.seed.iter().cloned());
            for row in &s.trackers {
                match servers.iter_mut().find(|r| r.addr == row.addr) {
                    Some(r) if r.state != "ok" => *r = row.clone(),
                    Some(_) => {}
                    None => servers.push(row.clone()),
                }
            }
        }
        if let Some(d) = self.env.dht.get() {
            let st = d.stats();
            servers.push(ServerInfo {
                addr: d.local_addr().to_string(),
                name: "DHT".into(),
                state: if st.nodes > 0 { "ok" } else { "no nodes yet" }.into(),
                identity: hex::encode(st.id),
                users: st.nodes as u32,
                files: st.stored_info_hashes as u32,
                message: format!(
                    "{} nodes ({} good), {} lookups running",
                    st.nodes, st.good_nodes, st.lookups
                ),
            });
        }
        if uploads != self.last_uploads {
            self.last_uploads = uploads.clone();
            self.env.emit(NetEvent::Uploads(uploads));
        }
        if seeding != self.last_seeding {
            self.last_seeding = seeding.clone();
            self.env.emit(NetEvent::Seeding(seeding));
        }
        if servers != self.last_servers {
            self.last_servers = servers.clone();
            self.env.emit(NetEvent::Servers(servers));
        }
        let up = self.env.uploaded.load(std::sync::atomic::Ordering::Relaxed);
        if up != self.last_uploaded {
            self.last_uploaded = up;
            self.env.emit(NetEvent::Uploaded(up));
        }
    }
}
