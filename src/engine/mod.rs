//! The engine: owns the queue, the search hub, the shares and the network
//! tasks. Everything reaches it as an [`EngineMsg`] on one channel, and it
//! publishes a fresh [`Snapshot`] whenever its state changed.

mod fetch;
mod files;
mod net_events;
pub mod queue;
mod requests;
pub mod search_hub;
mod snapshot;
mod user_file;
mod watch_dir;

use crate::config::Config;
use crate::store::Store;
use queue::Queue;
use search_hub::SearchHub;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use swarmux_api::{HashingView, LogLine, Request, Response, Snapshot};
use swarmux_net::message::LogLevel;
use swarmux_net::{Limits, NetCommand, NetEvent, Network, NetworkContext, SharedFile};
use tokio::sync::{mpsc, oneshot, watch};

/// Log lines kept in memory (the snapshot carries the newest of them).
const LOG_KEPT: usize = 500;
/// How often the watch folder is looked at for new .torrent files.
const WATCH_EVERY: Duration = Duration::from_secs(3);
/// How often shared folders are rescanned for new or changed files.
const RESCAN_EVERY: Duration = Duration::from_secs(600);

/// Messages into the engine.
pub enum EngineMsg {
    /// A client request and where to send the answer.
    Request(Request, oneshot::Sender<Response>),
    /// An event from network number `.0`.
    Net(usize, NetEvent),
    /// Hashing progress of the share scanner (`None` when idle).
    Hashing(Option<HashingView>),
    /// A finished share scan.
    Scanned(Vec<SharedFile>),
    /// A completed download was moved (or failed to move) to the download folder.
    Moved {
        id: u64,
        result: Result<PathBuf, String>,
    },
    /// A server list file (`servers import`), read off the engine's task.
    ServerListRead {
        path: String,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Response>,
    },
    /// A .torrent from the watch folder, read and kept (or why not).
    Watched {
        path: PathBuf,
        kept: Result<PathBuf, String>,
    },
    /// The watch folder scan that sent [`EngineMsg::Watched`] is over.
    WatchScanned,
    /// A line for the log from work done off the engine's task.
    Log {
        level: LogLevel,
        source: &'static str,
        message: String,
    },
}

/// How clients reach a running engine.
#[derive(Clone)]
pub struct EngineHandle {
    /// Requests and events into the engine.
    pub tx: mpsc::UnboundedSender<EngineMsg>,
    /// The newest published snapshot.
    pub snapshots: watch::Receiver<Arc<Published>>,
}

/// A published snapshot and its JSON line for subscribers, encoded once on
/// first use however many clients are subscribed.
#[derive(Default)]
pub struct Published {
    snapshot: Snapshot,
    line: std::sync::OnceLock<Arc<Vec<u8>>>,
}

impl Published {
    /// The snapshot as it was published.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The snapshot as a `{"reply":"snapshot",…}` line.
    pub fn line(&self) -> Arc<Vec<u8>> {
        self.line
            .get_or_init(|| {
                /// Encodes like `Response::Snapshot` without copying the snapshot.
                #[derive(serde::Serialize)]
                #[serde(tag = "reply", rename_all = "snake_case")]
                enum Line<'a> {
                    Snapshot(&'a Snapshot),
                }
                let mut v =
                    serde_json::to_vec(&Line::Snapshot(&self.snapshot)).unwrap_or_else(|e| {
                        format!("{{\"reply\":\"error\",\"message\":\"encoding: {e}\"}}")
                            .into_bytes()
                    });
                v.push(b'\n');
                Arc::new(v)
            })
            .clone()
    }
}

/// A started network: its name and command channel, and its per-network state.
struct NetSlot {
    network: Box<dyn Network>,
    commands: mpsc::UnboundedSender<NetCommand>,
    servers: Vec<swarmux_net::ServerInfo>,
    uploads: Vec<swarmux_net::UploadInfo>,
    seeding: Vec<swarmux_net::SeedInfo>,
    uploaded: u64,
    listening: BTreeMap<String, std::net::SocketAddr>,
}

/// The engine state. Built by [`Engine::start`], driven by [`Engine::run`].
pub struct Engine {
    config: Config,
    data_dir: PathBuf,
    store: Arc<Store>,
    limits: Arc<Limits>,
    nets: Vec<NetSlot>,
    queue: Queue,
    hub: SearchHub,
    shares: Arc<Vec<SharedFile>>,
    /// Bumped whenever `shares` changes, so clients know to fetch the list again.
    shares_revision: u64,
    /// Folders shared with `swarmux share add`, as stored (read once at start).
    added_share_dirs: Vec<PathBuf>,
    hashing: Option<HashingView>,
    scanning: bool,
    rescan_pending: bool,
    /// A watch-folder scan is running off the engine's task.
    watching: bool,
    log: VecDeque<LogLine>,
    tx: mpsc::UnboundedSender<EngineMsg>,
    snapshot_tx: watch::Sender<Arc<Published>>,
    seq: u64,
    dirty: bool,
    stopping: bool,
    started: u64,
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Engine {
    /// Loads the queue from the store, starts every network task, and returns
    /// the engine with its handle and receiver.
    pub fn start(
        config: Config,
        data_dir: PathBuf,
        store: Arc<Store>,
        networks: Vec<Box<dyn Network>>,
    ) -> anyhow::Result<(Engine, EngineHandle, mpsc::UnboundedReceiver<EngineMsg>)> {
        std::fs::create_dir_all(&config.download_dir)?;
        std::fs::create_dir_all(&config.temp_dir)?;
        let limits = Arc::new(Limits::new(
            config.limits.download_kib * 1024,
            config.limits.upload_kib * 1024,
            config.limits.upload_slots,
        ));
        let (tx, rx) = mpsc::unbounded_channel();
        let (snapshot_tx, snapshots) = watch::channel(Arc::new(Published::default()));
        let mut nets = Vec::new();
        for (index, network) in networks.into_iter().enumerate() {
            let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
            let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
            let ctx = NetworkContext {
                events: ev_tx,
                limits: limits.clone(),
                data_dir: data_dir.clone(),
            };
            tokio::spawn(network.run(ctx, cmd_rx));
            let fwd = tx.clone();
            tokio::spawn(async move {
                while let Some(ev) = ev_rx.recv().await {
                    if fwd.send(EngineMsg::Net(index, ev)).is_err() {
                        break;
                    }
                }
            });
            nets.push(NetSlot {
                network,
                commands: cmd_tx,
                servers: Vec::new(),
                uploads: Vec::new(),
                seeding: Vec::new(),
                uploaded: 0,
                listening: BTreeMap::new(),
            });
        }
        let added_share_dirs = store.share_dirs()?;
        let mut queue = Queue::default();
        for rec in store.downloads()? {
            queue.insert(rec);
        }
        let engine = Engine {
            config,
            data_dir,
            store,
            limits,
            nets,
            queue,
            hub: SearchHub::default(),
            shares: Arc::new(Vec::new()),
            shares_revision: 0,
            added_share_dirs,
            hashing: None,
            scanning: false,
            rescan_pending: false,
            watching: false,
            log: VecDeque::new(),
            tx: tx.clone(),
            snapshot_tx,
            seq: 0,
            dirty: true,
            stopping: false,
            started: now_secs(),
        };
        Ok((engine, EngineHandle { tx, snapshots }, rx))
    }

    /// Runs until a stop request or `shutdown` resolves; then tells every
    /// network to shut down.
    pub async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<EngineMsg>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        self.connect_known_servers();
        self.rescan_shares();
        let complete: Vec<u64> = self
            .queue
            .iter()
            .filter(|d| d.rec.state == swarmux_api::DownloadState::Complete)
            .map(|d| d.rec.id)
            .collect();
        for id in complete {
            self.seed(id);
        }
        self.schedule();
        let mut publish = tokio::time::interval(Duration::from_millis(200));
        let mut rescan = tokio::time::interval(RESCAN_EVERY);
        rescan.tick().await;
        let mut watch = tokio::time::interval(WATCH_EVERY);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => self.handle(msg),
                    None => break,
                },
                _ = publish.tick() => self.publish(),
                _ = rescan.tick() => self.rescan_shares(),
                _ = watch.tick() => self.scan_watch_dir(),
                _ = &mut shutdown => break,
            }
            if self.stopping {
                break;
            }
        }
        self.info("engine", "stopping");
        self.publish();
        for net in &self.nets {
            let _ = net.commands.send(NetCommand::Shutdown);
        }
        // Give networks a moment to say goodbye to servers and peers.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    fn handle(&mut self, msg: EngineMsg) {
        self.dirty = true;
        match msg {
            // A link file's URL (a .torrent's, typed or a Torznab result's
            // link) is fetched off the engine thread first.
            EngineMsg::Request(Request::Get { target }, reply)
                if self.link_of(&target).is_ok_and(|l| fetch::is_url(&l)) =>
            {
                let url = self.link_of(&target).unwrap_or(target);
                match self.link_files().next() {
                    Some(files) => fetch::link_file_then_get(
                        &self.data_dir,
                        files,
                        url,
                        reply,
                        self.tx.clone(),
                    ),
                    None => {
                        let message = format!("no enabled network fetches {url}");
                        let _ = reply.send(Response::Error { message });
                    }
                }
            }
            // So is a link file the user names by path.
            EngineMsg::Request(Request::Get { target }, reply)
                if self.local_link_file(&target).is_some() =>
            {
                if let Some(files) = self.local_link_file(&target) {
                    fetch::link_file_then_get(
                        &self.data_dir,
                        files,
                        target,
                        reply,
                        self.tx.clone(),
                    );
                }
            }
            EngineMsg::Request(Request::ServersImport { path }, reply) => {
                fetch::server_list_then_import(path, reply, self.tx.clone());
            }
            EngineMsg::ServerListRead { path, bytes, reply } => {
                let _ = reply.send(self.servers_import(&path, &bytes));
            }
            EngineMsg::Watched { path, kept } => self.watched(path, kept),
            EngineMsg::WatchScanned => self.watching = false,
            EngineMsg::Log {
                level,
                source,
                message,
            } => self.log_line(level, source, message),
            EngineMsg::Request(req, reply) => {
                let resp = self.request(req);
                let _ = reply.send(resp);
            }
            EngineMsg::Net(index, ev) => self.net_event(index, ev),
            EngineMsg::Hashing(h) => self.hashing = h,
            EngineMsg::Scanned(files) => self.scanned(files),
            EngineMsg::Moved { id, result } => self.moved(id, result),
        }
    }

    /// Adds a log line (also written to the daemon's own log).
    fn log_line(&mut self, level: LogLevel, source: &str, message: String) {
        match level {
            LogLevel::Info => tracing::info!(target: "swarmux", "{source}: {message}"),
            LogLevel::Warn => tracing::warn!(target: "swarmux", "{source}: {message}"),
            LogLevel::Error => tracing::error!(target: "swarmux", "{source}: {message}"),
        }
        if self.log.len() == LOG_KEPT {
            self.log.pop_front();
        }
        self.log.push_back(LogLine {
            time: now_secs(),
            source: source.to_string(),
            level,
            message,
        });
        self.dirty = true;
    }

    fn info(&mut self, source: &str, message: impl Into<String>) {
        self.log_line(LogLevel::Info, source, message.into());
    }

    fn net_index(&self, name: &str) -> Option<usize> {
        self.nets.iter().position(|n| n.network.name() == name)
    }

    /// The link files of every enabled network that takes some.
    fn link_files(&self) -> impl Iterator<Item = swarmux_net::LinkFiles> + '_ {
        self.nets.iter().filter_map(|n| n.network.link_files())
    }

    /// The link files `target` is one of, when it names one by an absolute
    /// path outside the kept copies.
    fn local_link_file(&self, target: &str) -> Option<swarmux_net::LinkFiles> {
        self.link_files().find(|files| {
            let kept = fetch::kept_dir(&self.data_dir, files);
            fetch::is_local_link_file(target, files, &kept)
        })
    }

    fn send_to(&self, network: &str, cmd: NetCommand) {
        if let Some(i) = self.net_index(network) {
            let _ = self.nets[i].commands.send(cmd);
        }
    }

    fn broadcast(&self, cmd: NetCommand) {
        for net in &self.nets {
            let _ = net.commands.send(cmd.clone());
        }
    }

    /// Sends every network that uses servers the ones remembered for it (it
    /// connects to its configured ones by itself); warns when it has none.
    fn connect_known_servers(&mut self) {
        for i in 0..self.nets.len() {
            let network = &self.nets[i].network;
            let (name, configured) = match network.servers() {
                Some(s) => (network.name(), s.configured_servers()),
                None => continue,
            };
            let mut known = match self.store.servers(name) {
                Ok(known) => known,
                Err(e) => {
                    self.log_line(LogLevel::Error, "engine", format!("reading servers: {e}"));
                    Vec::new()
                }
            };
            known.retain(|s| !configured.contains(s));
            if known.is_empty() && configured.is_empty() {
                self.log_line(
                    LogLevel::Warn,
                    name,
                    "no server configured: add one with `swarmux servers add HOST:PORT` or `swarmux servers import FILE`".into(),
                );
            }
            for s in known {
                let _ = self.nets[i].commands.send(NetCommand::AddServer(s));
            }
        }
    }

    /// Starts a share scan, or marks one as wanted if one is running.
    fn rescan_shares(&mut self) {
        if self.scanning {
            self.rescan_pending = true;
            return;
        }
        self.scanning = true;
        let dirs = self.shared_dirs();
        let tx = self.tx.clone();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut last = std::time::Instant::now();
            let files = crate::shares::scan(&dirs, &store, &mut |view| {
                if last.elapsed() > Duration::from_millis(250) {
                    last = std::time::Instant::now();
                    let _ = tx.send(EngineMsg::Hashing(Some(view)));
                }
                true
            });
            let _ = tx.send(EngineMsg::Hashing(None));
            let _ = tx.send(EngineMsg::Scanned(files));
        });
    }

    /// The download folder (finished files are shared where they land, as
    /// aMule and mldonkey do), the configured folders, and those added at runtime.
    fn shared_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.config.download_dir.clone()];
        dirs.extend(self.config.shared_dirs.iter().cloned());
        dirs.extend(self.added_share_dirs.iter().cloned());
        dirs
    }

    fn scanned(&mut self, files: Vec<SharedFile>) {
        self.scanning = false;
        if *self.shares != files {
            self.info("shares", format!("sharing {} files", files.len()));
            self.shares = Arc::new(files);
            self.shares_revision += 1;
            self.broadcast(NetCommand::SharesChanged(self.shares.clone()));
        }
        if std::mem::take(&mut self.rescan_pending) {
            self.rescan_shares();
        }
    }

    /// Runs the scheduler and tells networks to start or stop downloads.
    fn schedule(&mut self) {
        let s = self.queue.schedule(self.config.max_active_downloads);
        for id in s.stop {
            if let Some(d) = self.queue.get(id) {
                let _ = self.store.put_download(&d.rec);
                self.send_to(&d.rec.network, NetCommand::PauseDownload(id));
            }
        }
        for id in s.start {
            if let Some(d) = self.queue.get(id) {
                let _ = self.store.put_download(&d.rec);
                let spec = swarmux_net::DownloadSpec {
                    id,
                    name: d.rec.name.clone(),
                    size: d.rec.size,
                    hash: match d.rec.hash.parse() {
                        Ok(h) => h,
                        Err(_) => continue,
                    },
                    link: d.rec.link.clone(),
                    temp_path: d.rec.temp_path.clone(),
                    verified: d.rec.verified.clone(),
                    meta: d.rec.meta.clone(),
                };
                self.send_to(&d.rec.network, NetCommand::StartDownload(spec));
            }
        }
    }

    /// Tells a finished download's network to serve it from its final path.
    fn seed(&self, id: u64) {
        let Some(d) = self.queue.get(id) else {
            return;
        };
        let (Some(path), Ok(hash)) = (&d.rec.final_path, d.rec.hash.parse()) else {
            return;
        };
        self.send_to(
            &d.rec.network,
            NetCommand::Seed(swarmux_net::DownloadSpec {
                id,
                name: d.rec.name.clone(),
                size: d.rec.size,
                hash,
                link: d.rec.link.clone(),
                temp_path: path.clone(),
                verified: vec![true; d.rec.parts_total],
                meta: d.rec.meta.clone(),
            }),
        );
    }

    /// Publishes a new snapshot if anything changed since the last one.
    fn publish(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.seq += 1;
        let snapshot = self.snapshot();
        self.snapshot_tx.send_replace(Arc::new(Published {
            snapshot,
            line: Default::default(),
        }));
    }
}
