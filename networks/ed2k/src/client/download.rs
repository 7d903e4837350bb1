//! The per-download coordinator task: keeps the source list, starts peer
//! connections, verifies finished parts, bans corrupt sources and reports
//! progress.

use super::env::Env;
use super::part_file::{PartFile, SourceId};
use super::peer_conn;
use super::source::DlCore;
use super::storage::{forget_written, lock_log, open_log, DiskFile, Written};
use crate::proto::link::{parse_link, Ed2kLink};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use swarmux_net::hashing::ed2k_part_range;
use swarmux_net::message::LogLevel;
use swarmux_net::written::log_path;
use swarmux_net::RateMeter;
use swarmux_net::{ContentHash, DownloadId, DownloadSpec, DownloadStats, NetEvent, PeerInfo};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Ask the server for sources this often while the download runs.
const SOURCE_REASK: Duration = Duration::from_secs(300);
/// Corrupt parts a source may send before it is banned.
const MAX_FAULTS: u32 = 2;

/// One peer's row in the Downloads pane.
#[derive(Debug, Default)]
pub struct PeerStat {
    pub addr: String,
    pub client: String,
    pub state: String,
    pub downloading: bool,
    pub queue_rank: Option<u32>,
    pub meter: RateMeter,
}

/// Download state shared with the peer connections.
pub struct DlShared {
    pub core: DlCore,
    pub peers: HashMap<SourceId, PeerStat>,
    pub meter: RateMeter,
}

/// What a peer connection holds to work on a download.
#[derive(Clone)]
pub struct DlLink {
    pub id: DownloadId,
    pub hash: [u8; 16],
    pub shared: Arc<Mutex<DlShared>>,
    pub file: DiskFile,
    /// What is written to `file`, kept across restarts.
    pub written: Written,
    pub tx: mpsc::UnboundedSender<DlMsg>,
}

impl DlLink {
    /// Locks the shared state (a poisoned lock is still usable).
    pub fn lock(&self) -> MutexGuard<'_, DlShared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Messages to the coordinator.
#[derive(Debug)]
pub enum DlMsg {
    /// Sources learned from the server (or a link).
    Sources(Vec<SocketAddr>),
    /// A peer connection for this download ended.
    PeerEnded {
        sid: SourceId,
        reason: String,
        no_file: bool,
    },
    /// These parts have all their blocks on disk.
    Verify(Vec<usize>),
    Verified {
        part: usize,
        ok: bool,
    },
    /// A verified hashset arrived.
    Hashset(Vec<[u8; 16]>),
    /// A connection that called us back attached itself as a source.
    Attached {
        sid: SourceId,
        addr: SocketAddr,
    },
    /// A queued source lost its connection but stays in the uploader's
    /// queue: keep it, and ask again at `reask_at` unless it calls us first.
    Parked {
        sid: SourceId,
        reask_at: Instant,
    },
    /// The uploader of a parked source connected to us (it is about to
    /// accept): the source works on that connection now.
    Reconnected {
        sid: SourceId,
    },
    /// Writing the temp file failed (a full disk, a read-only or vanished
    /// folder): the download stops with the reason instead of dropping peer
    /// after peer.
    WriteFailed(String),
    Stop,
}

/// Messages from downloads to the network loop.
#[derive(Debug)]
pub enum MainMsg {
    /// Ask the current server for sources of this file.
    GetSources { id: DownloadId, hash: [u8; 16] },
    /// The download ended (completed or failed) on its own.
    Finished(DownloadId),
}

/// The network loop's handle on a running download.
pub struct DlHandle {
    pub hash: [u8; 16],
    pub tx: mpsc::UnboundedSender<DlMsg>,
    pub task: JoinHandle<()>,
    /// Set once the temp file is open.
    pub link: Arc<Mutex<Option<DlLink>>>,
}

struct Entry {
    next_try: Instant,
    active: Option<SourceId>,
    fails: u32,
    /// Set while we wait in this source's queue without a connection: the
    /// source id to reuse when asking again.
    parked: Option<SourceId>,
}

/// Starts the coordinator for a download.
pub fn spawn(
    spec: DownloadSpec,
    env: Arc<Env>,
    main: mpsc::UnboundedSender<MainMsg>,
    max_sources: usize,
) -> Result<DlHandle, String> {
    let ContentHash::Ed2k(hash) = spec.hash else {
        return Err("not an ed2k download".into());
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let link = Arc::new(Mutex::new(None));
    let c = Coordinator {
        id: spec.id,
        hash,
        env,
        main,
        tx: tx.clone(),
        max_sources: max_sources.max(1),
        sources: HashMap::new(),
        sid_addr: HashMap::new(),
        peers: HashMap::new(),
        faults: HashMap::new(),
        banned: HashSet::new(),
        verifying: HashSet::new(),
        link_slot: link.clone(),
    };
    let task = tokio::spawn(c.run(spec, rx));
    Ok(DlHandle {
        hash,
        tx,
        task,
        link,
    })
}

struct Coordinator {
    id: DownloadId,
    hash: [u8; 16],
    env: Arc<Env>,
    main: mpsc::UnboundedSender<MainMsg>,
    tx: mpsc::UnboundedSender<DlMsg>,
    max_sources: usize,
    sources: HashMap<SocketAddr, Entry>,
    sid_addr: HashMap<SourceId, SocketAddr>,
    peers: HashMap<SourceId, JoinHandle<()>>,
    faults: HashMap<SocketAddr, u32>,
    banned: HashSet<SocketAddr>,
    verifying: HashSet<usize>,
    link_slot: Arc<Mutex<Option<DlLink>>>,
}

/// Decodes persisted meta (the concatenated part hashes).
fn hashset_from_meta(meta: &[u8]) -> Vec<[u8; 16]> {
    meta.chunks_exact(16)
        .filter_map(|c| <[u8; 16]>::try_from(c).ok())
        .collect()
}

impl Coordinator {
    async fn run(mut self, spec: DownloadSpec, mut rx: mpsc::UnboundedReceiver<DlMsg>) {
        let file = match DiskFile::open_temp(spec.temp_path.clone(), spec.size).await {
            Ok(f) => f,
            Err(e) => {
                self.fail(format!("cannot open {}: {e}", spec.temp_path.display()));
                return;
            }
        };
        let log_path = log_path(&self.env.data_dir, self.id);
        let written = match open_log(log_path.clone()).await {
            Ok(w) => w,
            Err(e) => {
                self.fail(format!("cannot open {}: {e}", log_path.display()));
                return;
            }
        };
        let mut core = DlCore {
            hash: self.hash,
            size: spec.size,
            parts: PartFile::new(spec.size, &spec.verified),
            hashset: None,
        };
        // What an earlier run wrote is not fetched again; parts it finished
        // are verified at once.
        let restored = lock_log(&written).ranges().clone();
        let finished = core.parts.restore(&restored);
        let mut link_sources = Vec::new();
        let mut candidates = Vec::new();
        if let Some(m) = &spec.meta {
            candidates.push(hashset_from_meta(m));
        }
        if let Ok(Ed2kLink::File(l)) = parse_link(&spec.link) {
            link_sources = l.sources.iter().map(|a| SocketAddr::V4(*a)).collect();
            if let Some(p) = l.part_hashes {
                candidates.push(p);
            }
        }
        let persisted = spec.meta.is_some();
        if let Some(h) = candidates.into_iter().find(|h| core.hashset_valid(h)) {
            core.hashset = Some(h);
        }
        if !core.needs_hashset() && core.hashset.is_none() {
            core.hashset = Some(vec![self.hash]);
        }
        if let (Some(h), false) = (&core.hashset, persisted) {
            self.emit_meta(core.parts.part_count(), h);
        }
        let link = DlLink {
            id: self.id,
            hash: self.hash,
            shared: Arc::new(Mutex::new(DlShared {
                core,
                peers: HashMap::new(),
                meter: RateMeter::default(),
            })),
            file,
            written,
            tx: self.tx.clone(),
        };
        *self.link_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(link.clone());
        if link.lock().core.parts.is_complete() {
            self.env.events.emit(NetEvent::Completed { id: self.id });
            let _ = self.main.send(MainMsg::Finished(self.id));
            return;
        }
        self.verify(finished, &link);
        self.add_sources(link_sources);
        let _ = self.main.send(MainMsg::GetSources {
            id: self.id,
            hash: self.hash,
        });
        let mut reask = tokio::time::interval_at(Instant::now() + SOURCE_REASK, SOURCE_REASK);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    if matches!(msg, DlMsg::Stop) {
                        break;
                    }
                    if let DlMsg::WriteFailed(e) = msg {
                        self.stop_peers(&link);
                        self.fail(format!(
                            "cannot write the temp file: {e} (verified parts are kept; free some space and resume)"
                        ));
                        return;
                    }
                    if self.on_msg(msg, &link) {
                        // Completed.
                        self.stop_peers(&link);
                        let _ = self.main.send(MainMsg::Finished(self.id));
                        return;
                    }
                }
                _ = reask.tick() => {
                    let _ = self.main.send(MainMsg::GetSources { id: self.id, hash: self.hash });
                }
                _ = tick.tick() => {
                    self.connect_more(&link);
                    self.progress(&link);
                }
            }
        }
        self.stop_peers(&link);
    }

    fn fail(&self, reason: String) {
        self.env.events.emit(NetEvent::Failed {
            id: self.id,
            reason,
        });
        let _ = self.main.send(MainMsg::Finished(self.id));
    }

    fn emit_meta(&self, parts: usize, hashset: &[[u8; 16]]) {
        self.env.events.emit(NetEvent::DownloadMeta {
            id: self.id,
            parts,
            meta: hashset.concat(),
        });
    }

    fn stop_peers(&mut self, link: &DlLink) {
        // An uploader calling back for this download later gets CancelTransfer.
        self.env.queues().forget_where(|l| l.id == self.id);
        let mut g = link.lock();
        for (sid, h) in self.peers.drain() {
            h.abort();
            g.core.parts.remove_source(sid);
            g.peers.remove(&sid);
        }
    }

    fn add_sources(&mut self, addrs: Vec<SocketAddr>) {
        let me = self.env.port.load(std::sync::atomic::Ordering::Relaxed);
        let my_ip = crate::proto::server_msg::u32_to_ip(
            self.env
                .client_id
                .load(std::sync::atomic::Ordering::Relaxed),
        );
        for a in addrs {
            if a.port() == 0 || self.banned.contains(&a) || (a.port() == me && a.ip() == my_ip) {
                continue;
            }
            self.sources.entry(a).or_insert(Entry {
                next_try: Instant::now(),
                active: None,
                fails: 0,
                parked: None,
            });
        }
    }

    /// Handles a message; true when the download is complete.
    fn on_msg(&mut self, msg: DlMsg, link: &DlLink) -> bool {
        match msg {
            DlMsg::Sources(a) => self.add_sources(a),
            DlMsg::Attached { sid, addr } => {
                self.sid_addr.insert(sid, addr);
            }
            DlMsg::Parked { sid, reask_at } => {
                self.peers.remove(&sid);
                if let Some(e) = self.entry_of(sid) {
                    e.active = None;
                    e.parked = Some(sid);
                    e.next_try = reask_at;
                }
            }
            DlMsg::Reconnected { sid } => {
                // A re-ask connection still starting is redundant now.
                if let Some(h) = self.peers.remove(&sid) {
                    h.abort();
                }
                if let Some(e) = self.entry_of(sid) {
                    e.active = Some(sid);
                    e.parked = None;
                }
            }
            DlMsg::PeerEnded {
                sid,
                reason,
                no_file,
            } => self.peer_ended(sid, &reason, no_file, link),
            DlMsg::Verify(parts) => self.verify(parts, link),
            DlMsg::Verified { part, ok } => return self.verified(part, ok, link),
            DlMsg::Hashset(h) => {
                let parts = link.lock().core.parts.part_count();
                self.emit_meta(parts, &h);
                let pending = link.lock().core.parts.unverified_complete();
                self.verify(pending, link);
            }
            DlMsg::Stop | DlMsg::WriteFailed(_) => {}
        }
        false
    }

    fn entry_of(&mut self, sid: SourceId) -> Option<&mut Entry> {
        let addr = self.sid_addr.get(&sid)?;
        self.sources.get_mut(addr)
    }

    fn peer_ended(&mut self, sid: SourceId, reason: &str, no_file: bool, link: &DlLink) {
        self.peers.remove(&sid);
        // A re-ask that could not connect: we are still in that queue as far
        // as we know (the uploader may also call us), so stay parked and try
        // again later, up to the usual number of connection failures.
        let waiting = self.env.queues().contains(sid);
        if waiting && !no_file && reason.starts_with("connect") {
            if let Some(e) = self.entry_of(sid) {
                e.active = None;
                e.fails += 1;
                if e.fails < 5 {
                    e.parked = Some(sid);
                    e.next_try = Instant::now() + Duration::from_secs(60 * u64::from(e.fails));
                    return;
                }
            }
        }
        if waiting {
            self.env.queues().forget(sid);
        }
        {
            let mut g = link.lock();
            g.core.parts.remove_source(sid);
            g.peers.remove(&sid);
        }
        let Some(addr) = self.sid_addr.get(&sid).copied() else {
            return;
        };
        if no_file {
            self.sources.remove(&addr);
            return;
        }
        if let Some(e) = self.sources.get_mut(&addr) {
            e.active = None;
            e.parked = None;
            let wait = if reason.starts_with("connect") {
                e.fails += 1;
                Duration::from_secs(30 * u64::from(e.fails.min(20)))
            } else if reason == peer_conn::NO_HELLO {
                // It took the connection and never answered: a fresh one
                // soon usually works (aMule 2.3.3 can leave a socket unread
                // for good), a peer that never answers is dropped.
                e.fails += 1;
                Duration::from_secs(10 * u64::from(e.fails))
            } else {
                Duration::from_secs(60)
            };
            e.next_try = Instant::now() + wait;
            if e.fails >= 5 {
                self.sources.remove(&addr);
            }
        }
    }

    fn connect_more(&mut self, link: &DlLink) {
        let now = Instant::now();
        let room = self.max_sources.saturating_sub(self.peers.len());
        let ready: Vec<SocketAddr> = self
            .sources
            .iter()
            .filter(|(_, e)| e.active.is_none() && e.next_try <= now)
            .map(|(a, _)| *a)
            .collect();
        for addr in ready.into_iter().take(room) {
            // A parked source is asked again under its id (its row and part
            // availability are kept); the connection claims it.
            let parked = self.sources.get_mut(&addr).and_then(|e| e.parked.take());
            let sid = parked.unwrap_or_else(|| self.env.next_id());
            self.sid_addr.insert(sid, addr);
            if let Some(e) = self.sources.get_mut(&addr) {
                e.active = Some(sid);
            }
            if parked.is_none() {
                link.lock().peers.insert(
                    sid,
                    PeerStat {
                        addr: addr.to_string(),
                        state: "connecting".into(),
                        ..PeerStat::default()
                    },
                );
            }
            let h = tokio::spawn(peer_conn::connect(
                self.env.clone(),
                addr,
                Some((link.clone(), sid)),
            ));
            self.peers.insert(sid, h);
        }
    }

    fn verify(&mut self, parts: Vec<usize>, link: &DlLink) {
        for part in parts {
            if !self.verifying.insert(part) {
                continue;
            }
            let (expected, size) = {
                let g = link.lock();
                (g.core.part_hash(part), g.core.size)
            };
            let Some(expected) = expected else {
                // No hashset yet: verified when it arrives.
                self.verifying.remove(&part);
                continue;
            };
            let (s, e) = ed2k_part_range(size, part);
            let file = link.file.clone();
            let written = link.written.clone();
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let ok = file.md4_range(s, e).await.is_ok_and(|h| h == expected);
                // Forgotten before the part is reset, so no block fetched
                // again can be recorded first and then forgotten.
                if !ok {
                    if let Err(err) = forget_written(written, s..e).await {
                        tracing::warn!("ed2k: cannot update the written log: {err}");
                    }
                }
                let _ = tx.send(DlMsg::Verified { part, ok });
            });
        }
    }

    fn verified(&mut self, part: usize, ok: bool, link: &DlLink) -> bool {
        self.verifying.remove(&part);
        if ok {
            let complete = {
                let mut g = link.lock();
                g.core.parts.mark_verified(part);
                g.core.parts.is_complete()
            };
            self.env
                .events
                .emit(NetEvent::PartVerified { id: self.id, part });
            if complete {
                self.progress(link);
                self.env.events.emit(NetEvent::Completed { id: self.id });
            }
            return complete;
        }
        let sids = link.lock().core.parts.reset_part(part);
        let mut blamed = Vec::new();
        for sid in sids {
            let Some(addr) = self.sid_addr.get(&sid).copied() else {
                continue;
            };
            blamed.push(addr.to_string());
            let f = self.faults.entry(addr).or_insert(0);
            *f += 1;
            if *f >= MAX_FAULTS && self.banned.insert(addr) {
                self.env.events.log(
                    LogLevel::Warn,
                    format!("banned {addr}: sent {f} corrupt parts"),
                );
                self.sources.remove(&addr);
                self.env.queues().forget(sid);
                if let Some(h) = self.peers.remove(&sid) {
                    h.abort();
                    let mut g = link.lock();
                    g.core.parts.remove_source(sid);
                    g.peers.remove(&sid);
                }
            }
        }
        blamed.sort();
        blamed.dedup();
        self.env.events.emit(NetEvent::PartCorrupt {
            id: self.id,
            part,
            blamed,
        });
        false
    }

    fn progress(&mut self, link: &DlLink) {
        let mut g = link.lock();
        let mut peers = Vec::new();
        let (mut active, mut queued, mut best_rank) = (0u32, 0u32, u32::MAX);
        for p in g.peers.values_mut() {
            if p.downloading {
                active += 1;
            }
            if let Some(r) = p.queue_rank {
                queued += 1;
                best_rank = best_rank.min(r);
            }
            peers.push(PeerInfo {
                addr: p.addr.clone(),
                client: p.client.clone(),
                state: p.state.clone(),
                received: p.meter.total(),
                rate: p.meter.rate(std::time::Instant::now()),
            });
        }
        peers.sort_by(|a, b| a.addr.cmp(&b.addr));
        let up = self
            .env
            .server_up
            .load(std::sync::atomic::Ordering::Relaxed);
        let note = if active > 0 {
            String::new()
        } else if queued > 0 {
            let s = if queued == 1 { "" } else { "s" };
            format!("queued at rank {best_rank} on {queued} source{s}")
        } else if !g.peers.is_empty() {
            format!("connecting to {} sources", g.peers.len())
        } else if self.sources.is_empty() && !up {
            "waiting for a server".into()
        } else if self.sources.is_empty() {
            "no sources".into()
        } else {
            "waiting to retry sources".into()
        };
        let stats = DownloadStats {
            received: g.meter.total(),
            rate: g.meter.rate(std::time::Instant::now()),
            sources: self.sources.len() as u32,
            active_sources: active,
            note,
            peers,
        };
        drop(g);
        self.env
            .events
            .emit(NetEvent::Progress { id: self.id, stats });
    }
}
