//! The task of one torrent: getting its info dictionary, setting up storage
//! and the picker, and the one-second housekeeping (choking, connecting,
//! trackers, DHT, PEX, reports to the engine).
//!
//! Peer tasks share the picker and storage with it through [`Ready`]; it
//! hears from them only about rare things (see [`super::shared`]).

use super::disk::{self, DiskEvent, DiskJob, StorageSlot};
use super::env::Env;
use super::meta::{self, Source, TorrentMeta};
use super::metadata_fetch::MetadataFetch;
use super::peers::Peers;
use super::shared::{PeerCmd, PeerEvent, Ready};
use super::status::MainMsg;
use super::tracker::{self, Counters, TrackerCmd, TrackerEvent};
use crate::core::layout::FileEntry as LayoutFile;
use crate::core::resume::written_blocks;
use crate::core::{
    Bitfield, Choker, ChokerConfig, Layout, PiecePicker, Priority, RateMeter, Storage,
};
use crate::proto::{Handshake, Info};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use swarmux_net::gate::Admission;
use swarmux_net::message::LogLevel;
use swarmux_net::written::{log_path, WrittenLog};
use swarmux_net::{ContentHash, DownloadId, DownloadSpec, FilePriority, NetEvent, ServerInfo};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// How often the housekeeping runs.
const TICK: Duration = Duration::from_millis(500);

/// Messages to a torrent task.
pub(crate) enum TorrentMsg {
    /// A peer connected to us for this torrent (its handshake is read), with
    /// its slot in the listener's gate.
    Incoming(TcpStream, SocketAddr, Handshake, Admission),
    Peer(u64, PeerEvent),
    Disk(DiskEvent),
    Tracker(TrackerEvent),
    DhtPeers(Vec<SocketAddr>),
    DhtAnnounced(bool),
    /// The check of data already on disk ended.
    Checked(Checked),
    Control(Control),
}

/// What the check of a torrent's data found.
pub(crate) struct Checked {
    /// The pieces on disk.
    have: Result<Bitfield, String>,
    /// They were hashed (not trusted from the engine's state): report them.
    report: bool,
    /// A download's written log, read back.
    log: Option<WrittenLog>,
}

/// Commands from the network's main loop.
pub(crate) enum Control {
    /// Stop (pause, cancel or shutdown); answered when stopped.
    Stop(oneshot::Sender<()>),
    SetPriority {
        file: usize,
        priority: FilePriority,
    },
    /// The finished download moved: seed it from there.
    Seed(DownloadSpec),
}

/// The set-up storage and picker of a torrent whose info is known.
pub(crate) struct Loaded {
    pub meta: TorrentMeta,
    pub ready: Arc<Ready>,
    pub layout: Layout,
}

/// The torrent task's state.
pub(crate) struct Torrent {
    pub env: Arc<Env>,
    pub id: DownloadId,
    pub name: String,
    pub info_hash: [u8; 20],
    pub path: PathBuf,
    pub tx: mpsc::UnboundedSender<TorrentMsg>,
    pub main: mpsc::UnboundedSender<MainMsg>,
    /// Started by `Seed`: every piece is trusted to be on disk.
    pub seed_spec: bool,
    pub verified_hint: Vec<bool>,
    pub loaded: Option<Loaded>,
    pub magnet_trackers: Vec<Vec<String>>,
    pub magnet_peers: Vec<SocketAddr>,
    pub private: bool,
    pub checking: bool,
    pub complete: bool,
    pub failed: bool,
    pub peers: Peers,
    pub metadata: Option<MetadataFetch>,
    pub choker: Choker<u64>,
    pub slots: usize,
    pub tracker: Option<mpsc::UnboundedSender<TrackerCmd>>,
    pub counters: Arc<Counters>,
    pub tracker_rows: Vec<ServerInfo>,
    pub pending_verified: Vec<usize>,
    pub down: RateMeter,
    pub up: RateMeter,
    pub next_dht_lookup: Instant,
    pub next_dht_announce: Instant,
    pub dht_busy: bool,
    pub ticks: u64,
}

/// Starts the task of a download (or of a seed when `seed` is true).
pub(crate) fn spawn(
    env: Arc<Env>,
    spec: DownloadSpec,
    seed: bool,
    main: mpsc::UnboundedSender<MainMsg>,
) -> mpsc::UnboundedSender<TorrentMsg> {
    let (tx, rx) = mpsc::unbounded_channel();
    let now = Instant::now();
    let slots = env.limits.upload_slots().max(1);
    let info_hash = match spec.hash {
        ContentHash::BtInfo(h) => h,
        _ => [0; 20],
    };
    let t = Torrent {
        id: spec.id,
        name: spec.name.clone(),
        info_hash,
        path: spec.temp_path.clone(),
        tx: tx.clone(),
        main,
        seed_spec: seed,
        verified_hint: spec.verified.clone(),
        loaded: None,
        magnet_trackers: Vec::new(),
        magnet_peers: Vec::new(),
        private: false,
        checking: false,
        complete: false,
        failed: false,
        peers: Peers::default(),
        metadata: None,
        choker: Choker::new(choker_config(slots)),
        slots,
        tracker: None,
        counters: Arc::new(Counters::default()),
        tracker_rows: Vec::new(),
        pending_verified: Vec::new(),
        down: RateMeter::new(Duration::from_secs(5)),
        up: RateMeter::new(Duration::from_secs(5)),
        next_dht_lookup: now,
        next_dht_announce: now,
        dht_busy: false,
        ticks: 0,
        env,
    };
    tokio::spawn(t.run(spec, rx));
    tx
}

pub(crate) fn choker_config(slots: usize) -> ChokerConfig {
    ChokerConfig {
        regular_slots: slots.saturating_sub(1).max(1),
        optimistic_slots: 1,
        ..ChokerConfig::default()
    }
}

impl Torrent {
    async fn run(mut self, spec: DownloadSpec, mut rx: mpsc::UnboundedReceiver<TorrentMsg>) {
        let source = match meta::source(&spec) {
            Ok(s) => s,
            Err(reason) => return self.fail(reason),
        };
        match source {
            Source::Meta(m) => {
                self.info_hash = m.info.info_hash;
                self.register();
                let persist = spec.meta.is_none();
                if !self.load(m, persist) {
                    return self.unregister();
                }
            }
            Source::Magnet(mg) => {
                self.info_hash = mg.info_hash;
                self.magnet_trackers = mg.trackers.iter().map(|t| vec![t.clone()]).collect();
                self.magnet_peers = mg.peers.clone();
                self.register();
                self.start_tracker(self.magnet_trackers.clone());
                let now = Instant::now();
                for p in mg.peers {
                    self.peers.add_candidate(p, now);
                }
                self.connect_more();
            }
        }
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    None => break,
                    Some(TorrentMsg::Control(Control::Stop(reply))) => {
                        self.stop().await;
                        let _ = reply.send(());
                        break;
                    }
                    Some(msg) => self.on_msg(msg).await,
                },
                _ = tick.tick() => self.on_tick(),
            }
            if self.failed {
                self.stop().await;
                break;
            }
        }
        self.unregister();
    }

    fn register(&self) {
        self.env
            .lock_torrents()
            .insert(self.info_hash, self.tx.clone());
    }

    fn unregister(&self) {
        let mut t = self.env.lock_torrents();
        if t.get(&self.info_hash)
            .is_some_and(|tx| tx.same_channel(&self.tx))
        {
            t.remove(&self.info_hash);
        }
        let _ = self.main.send(MainMsg::Ended(self.id));
    }

    /// Reports a fatal error; the task ends.
    pub fn fail(&mut self, reason: String) {
        self.env.emit(NetEvent::Failed {
            id: self.id,
            reason,
        });
        self.failed = true;
    }

    pub fn start_tracker(&mut self, tiers: Vec<Vec<String>>) {
        if tiers.is_empty() || self.tracker.is_some() {
            return;
        }
        let tx = self.tx.clone();
        self.tracker = Some(tracker::spawn(
            self.env.clone(),
            self.info_hash,
            tiers,
            self.counters.clone(),
            move |ev| {
                let _ = tx.send(TorrentMsg::Tracker(ev));
            },
        ));
    }

    /// Sets up storage, the picker and the disk thread for a known torrent;
    /// false when the download failed.
    pub fn load(&mut self, m: TorrentMeta, persist: bool) -> bool {
        let storage = match storage_for(&m.info, &self.path) {
            Ok(s) => s,
            Err(reason) => {
                self.fail(reason);
                return false;
            }
        };
        self.private = m.info.private;
        self.name = m.info.name.clone();
        let layout = storage.layout().clone();
        let geometry = *layout.geometry();
        let mut picker = PiecePicker::new(geometry);
        picker.set_priorities(&layout.piece_priorities(&m.priorities));
        let slot: StorageSlot = Arc::new(RwLock::new(Arc::new(storage)));
        let tx = self.tx.clone();
        let disk = disk::start(slot.clone(), Arc::new(m.info.pieces.clone()), move |ev| {
            let _ = tx.send(TorrentMsg::Disk(ev));
        });
        let ready = Arc::new(Ready {
            info: m.info.clone(),
            picker: std::sync::Mutex::new(picker),
            storage: slot,
            disk,
        });
        let trackers = m.trackers.clone();
        let now = Instant::now();
        for p in &m.peers {
            self.peers.add_candidate(*p, now);
        }
        self.loaded = Some(Loaded {
            meta: m,
            ready,
            layout,
        });
        if persist {
            self.emit_meta();
        }
        self.emit_files();
        self.start_tracker(trackers);
        self.check_existing();
        true
    }

    /// Decides which pieces are on disk: trusted from the engine's state when
    /// the files are there with the right sizes, else hashed (off the async threads).
    fn check_existing(&mut self) {
        let Some(l) = &self.loaded else { return };
        let storage = disk::current(&l.ready.storage);
        let n = l.meta.info.num_pieces();
        let prio = l.meta.priorities.clone();
        let (any, sizes_ok) = files_present(&storage, &prio);
        let trusted: Option<Bitfield> = if self.seed_spec && sizes_ok {
            Some(Bitfield::full(n as u32))
        } else if sizes_ok && self.verified_hint.len() == n && self.verified_hint.iter().any(|v| *v)
        {
            let mut b = Bitfield::new(n as u32);
            for (i, v) in self.verified_hint.iter().enumerate() {
                if *v {
                    b.set(i as u32);
                }
            }
            Some(b)
        } else if !any {
            Some(Bitfield::new(n as u32))
        } else {
            None
        };
        // a download reads its written log back (off the async threads)
        let log_path = (!self.seed_spec).then(|| log_path(&self.env.data_dir, self.id));
        match trusted {
            Some(have) if log_path.is_none() => self.on_checked(Checked {
                have: Ok(have),
                report: false,
                log: None,
            }),
            trusted => {
                self.checking = true;
                let hashes = l.meta.info.pieces.clone();
                let tx = self.tx.clone();
                let env = self.env.clone();
                tokio::task::spawn_blocking(move || {
                    let report = trusted.is_none();
                    let have = match trusted {
                        Some(have) => Ok(have),
                        None => storage
                            .check_existing(&hashes)
                            .map_err(|e| format!("cannot check the existing data: {e}")),
                    };
                    let log = log_path.and_then(|p| {
                        WrittenLog::open(&p)
                            .map_err(|e| {
                                let what = format!("cannot keep track of written data: {e}");
                                env.log(LogLevel::Warn, what);
                            })
                            .ok()
                    });
                    let _ = tx.send(TorrentMsg::Checked(Checked { have, report, log }));
                });
            }
        }
    }

    /// The pieces on disk are known: the torrent starts transferring, the
    /// blocks its written log records not fetched again.
    fn on_checked(&mut self, checked: Checked) {
        self.checking = false;
        let Checked { have, report, log } = checked;
        let have = match have {
            Ok(h) => h,
            Err(e) => return self.fail(e),
        };
        let Some(l) = &self.loaded else { return };
        let ready = l.ready.clone();
        {
            let mut picker = ready.picker();
            for p in have.iter_ones() {
                picker.piece_verified(p);
            }
            if let Some(log) = log {
                let written = written_blocks(picker.geometry(), log.ranges().iter(), &have);
                let restored = written
                    .into_iter()
                    .map(|(piece, blocks)| (piece, picker.restore_blocks(piece, &blocks)))
                    .filter(|(_, n)| *n > 0)
                    .collect();
                // nothing was written yet: the queue has room
                let _ = ready.disk.try_send(DiskJob::Attach { log, restored });
            }
        }
        if report {
            self.pending_verified
                .extend(have.iter_ones().map(|p| p as usize));
        }
        self.update_left();
        for p in self.peers.all() {
            let _ = p.tx.send(PeerCmd::Ready(ready.clone()));
        }
        if ready.picker().is_finished() {
            self.complete = true;
            if !self.seed_spec {
                self.finish();
            }
        }
        self.connect_more();
    }

    pub fn update_left(&self) {
        let Some(l) = &self.loaded else { return };
        let picker = l.ready.picker();
        let geo = picker.geometry();
        let left: u64 = (0..geo.piece_count())
            .filter(|p| !picker.have().get(*p))
            .map(|p| u64::from(geo.piece_size(p)))
            .sum();
        self.counters.left.store(left, Ordering::Relaxed);
    }

    async fn on_msg(&mut self, msg: TorrentMsg) {
        match msg {
            TorrentMsg::Incoming(stream, addr, hs, admission) => {
                self.accept(stream, addr, hs, admission)
            }
            TorrentMsg::Peer(key, ev) => self.on_peer(key, ev),
            TorrentMsg::Disk(ev) => self.on_disk(ev).await,
            TorrentMsg::Tracker(TrackerEvent::Peers(ps)) => {
                let now = Instant::now();
                for p in ps {
                    self.peers.add_candidate(p, now);
                }
                self.connect_more();
            }
            TorrentMsg::Tracker(TrackerEvent::Rows(rows)) => self.tracker_rows = rows,
            TorrentMsg::DhtPeers(ps) => {
                self.dht_busy = false;
                let now = Instant::now();
                for p in ps {
                    self.peers.add_candidate(p, now);
                }
                self.connect_more();
            }
            TorrentMsg::DhtAnnounced(ok) => {
                let wait = if ok { 15 * 60 } else { 10 };
                self.next_dht_announce = Instant::now() + Duration::from_secs(wait);
            }
            TorrentMsg::Checked(c) => self.on_checked(c),
            TorrentMsg::Control(c) => self.on_control(c),
        }
    }

    fn on_control(&mut self, c: Control) {
        match c {
            Control::Stop(_) => {}
            Control::SetPriority { file, priority } => self.set_priority(file, priority),
            Control::Seed(spec) => {
                self.path = spec.temp_path.clone();
                self.seed_spec = true;
                let Some(l) = &self.loaded else { return };
                match storage_for(&l.meta.info, &self.path) {
                    Ok(s) => {
                        *l.ready.storage.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(s);
                    }
                    Err(e) => self.fail(e),
                }
            }
        }
    }

    /// Sets the priority of the `file`-th file of the list shown (padding
    /// files left out).
    fn set_priority(&mut self, file: usize, priority: FilePriority) {
        let Some(l) = &mut self.loaded else { return };
        let real = l
            .meta
            .info
            .files
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.padding)
            .nth(file)
            .map(|(i, _)| i);
        let Some(slot) = real.and_then(|i| l.meta.priorities.get_mut(i)) else {
            return;
        };
        *slot = meta::to_priority(priority);
        let prios = l.layout.piece_priorities(&l.meta.priorities);
        let finished = {
            let mut picker = l.ready.picker();
            picker.set_priorities(&prios);
            picker.is_finished()
        };
        self.emit_meta();
        self.emit_files();
        for p in self.peers.all() {
            let _ = p.tx.send(PeerCmd::Refill);
        }
        if finished && !self.complete && !self.checking {
            self.complete = true;
            self.finish();
        } else if !finished {
            self.complete = false;
        }
    }

    async fn on_disk(&mut self, ev: DiskEvent) {
        match ev {
            DiskEvent::Verified { piece, senders } => {
                let Some(l) = &self.loaded else { return };
                let finished = {
                    let mut picker = l.ready.picker();
                    picker.piece_verified(piece);
                    picker.is_finished()
                };
                let size = u64::from(l.layout.geometry().piece_size(piece));
                self.counters.left.fetch_sub(
                    size.min(self.counters.left.load(Ordering::Relaxed)),
                    Ordering::Relaxed,
                );
                self.pending_verified.push(piece as usize);
                self.peers.piece_verified(&senders);
                for p in self.peers.all() {
                    let _ = p.tx.send(PeerCmd::Have(piece));
                }
                if finished && !self.complete {
                    self.complete = true;
                    self.finish_synced().await;
                }
            }
            DiskEvent::Failed { piece, senders } => {
                let Some(l) = &self.loaded else { return };
                let blamed = l.ready.picker().piece_failed(piece);
                let addrs = self.peers.piece_failed(&senders, &blamed);
                self.env.emit(NetEvent::PartCorrupt {
                    id: self.id,
                    part: piece as usize,
                    blamed: addrs,
                });
                for addr in self.peers.take_newly_banned() {
                    self.env.log(
                        LogLevel::Warn,
                        format!("{}: banned {addr} for sending corrupt data", self.name),
                    );
                }
                for p in self.peers.all() {
                    let _ = p.tx.send(PeerCmd::Refill);
                }
            }
            DiskEvent::Error(e) => self.fail(e),
        }
    }

    /// Every wanted piece is verified: sync, then report completion.
    async fn finish_synced(&mut self) {
        if let Some(l) = &self.loaded {
            let (tx, rx) = oneshot::channel();
            if l.ready.disk.send(DiskJob::Sync(tx)).await.is_ok() {
                if let Ok(Err(e)) = rx.await {
                    return self.fail(format!("cannot flush the data to disk: {e}"));
                }
            }
        }
        self.finish();
    }

    fn finish(&mut self) {
        // Files are created by their first write; empty wanted files only now.
        if let Some(l) = &self.loaded {
            let storage = disk::current(&l.ready.storage);
            if let Err(e) = storage.create_files(&l.meta.priorities) {
                return self.fail(format!("cannot create the files: {e}"));
            }
        }
        self.flush_verified();
        self.emit_files();
        self.env.emit(NetEvent::Completed { id: self.id });
        if let Some(t) = &self.tracker {
            let _ = t.send(TrackerCmd::Completed);
        }
    }

    /// Stops: `stopped` to the trackers, peers closed, data synced.
    async fn stop(&mut self) {
        self.flush_verified();
        for p in self.peers.all() {
            let _ = p.tx.send(PeerCmd::Close);
        }
        if let Some(t) = self.tracker.take() {
            let (tx, rx) = oneshot::channel();
            if t.send(TrackerCmd::Stop(tx)).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(4), rx).await;
            }
        }
        if let Some(l) = &self.loaded {
            let (tx, rx) = oneshot::channel();
            if l.ready.disk.send(DiskJob::Sync(tx)).await.is_ok() {
                let _ = rx.await;
            }
        }
    }

    pub fn flush_verified(&mut self) {
        if !self.pending_verified.is_empty() {
            let parts = std::mem::take(&mut self.pending_verified);
            self.env
                .emit(NetEvent::PartsVerified { id: self.id, parts });
        }
    }

    pub fn emit_meta(&self) {
        if let Some(l) = &self.loaded {
            self.env.emit(NetEvent::DownloadMeta {
                id: self.id,
                parts: l.meta.info.num_pieces(),
                meta: l.meta.encode(),
            });
        }
    }

    /// The info dictionary of a magnet arrived.
    pub fn on_info(&mut self, info: Info) {
        let mut trackers = self.magnet_trackers.clone();
        trackers.retain(|t| !t.is_empty());
        let m = TorrentMeta::new(info, trackers, self.magnet_peers.clone());
        self.env.emit(NetEvent::Described {
            id: self.id,
            name: m.info.name.clone(),
            size: m.info.total_length,
        });
        self.metadata = None;
        self.load(m, true);
    }
}

/// The storage of `info` at `path`: the data file itself for a single-file
/// torrent, a directory holding the files (without the torrent's name) otherwise.
pub(crate) fn storage_for(info: &Info, path: &Path) -> Result<Storage, String> {
    let (root, files) = if info.multi_file {
        let files = info
            .files
            .iter()
            .map(|f| LayoutFile {
                path: f.path.clone(),
                length: f.length,
                padding: f.padding,
            })
            .collect();
        (path.to_path_buf(), files)
    } else {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{} is not a usable file path", path.display()))?;
        let root = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let file = LayoutFile {
            path: vec![name.to_string()],
            length: info.total_length,
            padding: false,
        };
        (root, vec![file])
    };
    let piece_len = u32::try_from(info.piece_length).map_err(|_| "piece length too large")?;
    let layout = Layout::new(files, piece_len).map_err(|e| e.to_string())?;
    Storage::new(root, layout).map_err(|e| e.to_string())
}

/// Whether any wanted file exists, and whether all of them have their full size.
fn files_present(storage: &Storage, prio: &[Priority]) -> (bool, bool) {
    let mut any = false;
    let mut all = true;
    for (i, f) in storage.layout().files().iter().enumerate() {
        if prio.get(i).copied().unwrap_or_default() == Priority::Skip {
            continue;
        }
        match std::fs::metadata(storage.file_path(i)) {
            Ok(m) if m.is_file() => {
                any = true;
                all &= m.len() == f.length;
            }
            _ => all &= f.length == 0,
        }
    }
    (any, all)
}
