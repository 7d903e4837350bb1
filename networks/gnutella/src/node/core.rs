//! The node loop's state and handlers: neighbours, routing of every
//! descriptor, our searches, answering queries, pushes, downloads, the host
//! cache and the reports to the engine. Everything here runs on one task and
//! never waits: neighbours get descriptors through bounded queues
//! (dropped when full, as Gnutella servents do).

use super::conn::{self, Dial};
use super::download::{self, DlHandle};
use super::env::{lock, Env, MainMsg};
use super::host_cache::HostCache;
use super::listener;
use super::neighbour::{role_name, Neighbour};
use super::requery::UrnRequeries;
use super::searches::Searches;
use super::shares::ShareIndex;
use crate::config::{GnutellaConfig, Mode};
use crate::magnet::Magnet;
use crate::proto::descriptor::{Descriptor, Guid, DEFAULT_MAX_TTL, TYPE_PUSH};
use crate::proto::handshake::{HandshakeConfig, Negotiated, Refusal, Role};
use crate::proto::huge::Sha1Urn;
use crate::proto::message::Message;
use crate::proto::ping::Ping;
use crate::proto::pong_cache::PongCache;
use crate::proto::push::Push;
use crate::proto::query::{Query, FLAG_FIREWALLED};
use crate::proto::routing::{ConnId, Route, Router};
use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarmux_net::message::LogLevel;
use swarmux_net::{
    ContentHash, DownloadId, NetCommand, NetEvent, SearchRequest, ServerInfo, UploadInfo,
};
use tokio::net::TcpStream;

/// TTL of the queries we originate.
pub const QUERY_TTL: u8 = 5;
/// SHA-1 of the empty file.
const EMPTY_SHA1: [u8; 20] = [
    0xda, 0x39, 0xa3, 0xee, 0x5e, 0x6b, 0x4b, 0x0d, 0x32, 0x55, 0xbf, 0xef, 0x95, 0x60, 0x18, 0x90,
    0xaf, 0xd8, 0x07, 0x09,
];
/// Interval of keep-alive pings.
const PING_EVERY: Duration = Duration::from_secs(30);
/// Interval of host cache saves.
const SAVE_EVERY: Duration = Duration::from_secs(60);
/// Wait before redialing a configured peer.
const PINNED_RETRY: Duration = Duration::from_secs(30);
/// Refusals and failures kept for the Networks pane.
const HISTORY: usize = 16;
/// New outgoing connections per second.
const DIALS_PER_TICK: usize = 2;

/// The node loop's state.
pub struct Node {
    env: Arc<Env>,
    cfg: GnutellaConfig,
    role: Role,
    router: Router,
    pongs: PongCache,
    hosts: HostCache,
    hosts_path: PathBuf,
    /// The instance's data dir (download logs live under it).
    data_dir: PathBuf,
    neighbours: HashMap<ConnId, Neighbour>,
    /// Outgoing connections in their handshake: id → `HOST:PORT`.
    pending: HashMap<ConnId, String>,
    history: VecDeque<ServerInfo>,
    pinned: Vec<String>,
    pinned_retry: HashMap<String, Instant>,
    searches: Searches,
    /// Dynamic queries running, by query GUID.
    dqs: HashMap<Guid, dq::ActiveDq>,
    downloads: HashMap<DownloadId, DlHandle>,
    /// When each file was last queried for a download.
    requeries: UrnRequeries,
    /// The table for ultrapeers changed since it was last sent.
    up_table_dirty: bool,
    /// Earliest time of the next refresh of the table sent to ultrapeers.
    next_up_table: Instant,
    dirty: bool,
    last_uploads: Vec<UploadInfo>,
    last_uploaded: u64,
    next_ping: Instant,
    next_save: Instant,
}

#[path = "core_routing.rs"]
mod routing;

#[path = "core_qrp.rs"]
mod qrp;

#[path = "core_dq.rs"]
mod dq;

impl Node {
    /// A node for `cfg`, keeping its state in `data_dir`.
    pub fn new(cfg: GnutellaConfig, env: Arc<Env>, data_dir: PathBuf) -> Self {
        let hosts_path = data_dir.join("gnutella_hosts");
        let role = match cfg.mode {
            Mode::Ultrapeer => Role::Ultrapeer,
            Mode::Leaf => Role::Leaf,
            Mode::Auto if cfg.firewalled => Role::Leaf,
            Mode::Auto => Role::Ultrapeer,
        };
        let mut hosts = HostCache::load(&hosts_path);
        let ours = Some(env.our_addr());
        for p in cfg.peers.iter().rev() {
            if let Ok(a) = p.parse() {
                hosts.add(a, ours);
            }
        }
        let now = Instant::now();
        Node {
            pinned: cfg.peers.clone(),
            env,
            cfg,
            role,
            router: Router::default(),
            pongs: PongCache::new(100, Duration::from_secs(600)),
            hosts,
            hosts_path,
            data_dir,
            neighbours: HashMap::new(),
            pending: HashMap::new(),
            history: VecDeque::new(),
            pinned_retry: HashMap::new(),
            searches: Searches::default(),
            dqs: HashMap::new(),
            downloads: HashMap::new(),
            requeries: UrnRequeries::default(),
            up_table_dirty: false,
            next_up_table: now,
            dirty: true,
            last_uploads: Vec::new(),
            last_uploaded: 0,
            next_ping: now + PING_EVERY,
            next_save: now + SAVE_EVERY,
        }
    }

    fn log(&self, level: LogLevel, msg: impl Into<String>) {
        self.env.events.log(level, msg);
    }

    /// The handshake settings as of now.
    fn hs_config(&self) -> HandshakeConfig {
        let mut c = HandshakeConfig::new(self.role);
        c.accept_deflate = self.cfg.deflate;
        c.send_deflate = self.cfg.deflate;
        if !self.env.firewalled {
            c.listen = Some(self.env.our_addr());
        }
        let (leaves, ups) = self.role_counts();
        c.leaf_slots_free = leaves < self.cfg.max_leaves;
        c.ultrapeer_slots_free = ups < self.up_slots();
        c.try_ultrapeers = self.try_hosts();
        c.degree = u32::try_from(self.cfg.ultrapeer_degree).unwrap_or(u32::MAX);
        c.ultrapeer_qrp = self.cfg.ultrapeer_qrp;
        c
    }

    /// Most ultrapeer neighbours in our role: a leaf's few, an ultrapeer's
    /// degree.
    fn up_slots(&self) -> usize {
        match self.role {
            Role::Leaf => self.cfg.max_ultrapeers,
            Role::Ultrapeer => self.cfg.ultrapeer_degree,
        }
    }

    /// Leaf and ultrapeer neighbours.
    fn role_counts(&self) -> (usize, usize) {
        let leaves = self
            .neighbours
            .values()
            .filter(|n| n.peer_role() == Role::Leaf)
            .count();
        (leaves, self.neighbours.len() - leaves)
    }

    /// Ultrapeers to offer in `X-Try-Ultrapeers`.
    fn try_hosts(&self) -> Vec<SocketAddrV4> {
        let ours = self.env.our_addr();
        let mut out: Vec<SocketAddrV4> = self
            .neighbours
            .values()
            .filter(|n| n.peer_role() == Role::Ultrapeer)
            .filter_map(|n| n.listen)
            .collect();
        for h in self.hosts.newest(20) {
            if !out.contains(&h) {
                out.push(h);
            }
        }
        out.retain(|h| *h != ours);
        out.truncate(10);
        out
    }

    /// Connects to the configured peers.
    pub fn start(&mut self) {
        for p in self.pinned.clone() {
            self.dial(p);
        }
    }

    fn busy(&self, addr: &str) -> bool {
        self.pending.values().any(|p| p == addr) || self.neighbours.values().any(|n| n.is(addr))
    }

    fn dial(&mut self, addr: String) {
        if self.busy(&addr) {
            return;
        }
        let id = self.env.next_id();
        self.history.retain(|h| h.addr != addr);
        self.pending.insert(id, addr.clone());
        self.dirty = true;
        let dial = Dial::Out(addr);
        tokio::spawn(conn::run(self.env.clone(), id, dial, self.hs_config()));
    }

    /// A connection arrived on the listening port: it is closed at once when
    /// its address holds its share of unidentified connections already, or
    /// all of them are taken.
    pub fn on_accept(&mut self, stream: TcpStream, addr: SocketAddr) {
        if self.env.firewalled {
            return;
        }
        let Ok(admission) = self.env.gates.unidentified.admit(addr.ip()) else {
            return;
        };
        let id = self.env.next_id();
        let cfg = self.hs_config();
        let env = self.env.clone();
        tokio::spawn(listener::handle(env, stream, addr, cfg, id, admission));
    }

    /// Handles an engine command; false on shutdown.
    pub fn on_command(&mut self, cmd: NetCommand) -> bool {
        match cmd {
            NetCommand::Shutdown => return false,
            NetCommand::Search(req) => self.search(req),
            NetCommand::CancelSearch(id) => {
                if self.searches.cancel(id) {
                    self.env.events.emit(NetEvent::SearchDone { search: id });
                }
            }
            NetCommand::StartDownload(spec) => self.start_download(spec),
            NetCommand::PauseDownload(id) | NetCommand::CancelDownload(id) => {
                self.downloads.remove(&id);
            }
            NetCommand::SharesChanged(files) => {
                self.env.set_shares(ShareIndex::new(&files));
                if self.role == Role::Leaf {
                    let ids: Vec<ConnId> = self.neighbours.keys().copied().collect();
                    for id in ids {
                        self.send_qrp(id);
                    }
                } else {
                    self.up_table_dirty = true;
                }
            }
            NetCommand::Seed(_) | NetCommand::SetFilePriority { .. } => {}
            NetCommand::AddServer(addr) => {
                let addr = addr.trim().to_string();
                if let Ok(a) = addr.parse() {
                    self.hosts.add(a, Some(self.env.our_addr()));
                }
                if !self.pinned.contains(&addr) {
                    self.pinned.push(addr.clone());
                }
                self.pinned_retry.remove(&addr);
                self.dial(addr);
            }
            NetCommand::RemoveServer(addr) => {
                let addr = addr.trim().to_string();
                self.pinned.retain(|p| *p != addr);
                if let Ok(a) = addr.parse() {
                    self.hosts.remove(a);
                }
                let ids: Vec<ConnId> = self
                    .neighbours
                    .iter()
                    .filter(|(_, n)| n.is(&addr))
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    if let Some(n) = self.neighbours.get(&id) {
                        n.bye(200, "Closing");
                    }
                    self.forget(id);
                }
                self.history.retain(|h| h.addr != addr);
                self.dirty = true;
            }
        }
        true
    }

    /// Handles a message from a connection or a download.
    pub fn on_msg(&mut self, m: MainMsg) {
        match m {
            MainMsg::Up {
                id,
                addr,
                outcome,
                tx,
            } => self.on_up(id, addr, outcome, tx),
            MainMsg::Refused { id, refusal } => self.on_refused(id, refusal),
            MainMsg::Failed { id, reason } => {
                if let Some(addr) = self.pending.remove(&id) {
                    self.remember(&addr, String::new(), format!("failed: {reason}"));
                }
            }
            MainMsg::Closed { id, reason } => {
                if let Some(n) = self.neighbours.get(&id) {
                    let who = n.info().addr;
                    self.log(LogLevel::Info, format!("neighbour {who} closed: {reason}"));
                    self.forget(id);
                }
            }
            MainMsg::Received {
                id,
                header,
                payload,
                msg,
            } => self.on_descriptor(id, header, payload, msg),
            MainMsg::SendPush { servent, index } => self.send_push(servent, index),
            MainMsg::UrnQuery(urn) => self.query_urn(urn),
        }
    }

    fn remember(&mut self, addr: &str, name: String, state: String) {
        if let Ok(a) = addr.parse() {
            self.hosts.failed(a, Instant::now());
        }
        self.history.retain(|h| h.addr != addr);
        self.history.push_front(ServerInfo {
            addr: addr.to_string(),
            name,
            state,
            ..Default::default()
        });
        self.history.truncate(HISTORY);
        self.dirty = true;
    }

    fn forget(&mut self, id: ConnId) {
        if let Some(n) = self.neighbours.remove(&id) {
            self.router.forget_connection(id);
            self.dq_forget_leaf(id);
            self.dirty = true;
            if n.peer_role() == Role::Leaf && n.qrp_in.table().is_some() {
                self.up_table_dirty = true;
            }
        }
    }

    fn on_up(
        &mut self,
        id: ConnId,
        addr: SocketAddr,
        outcome: Negotiated,
        tx: tokio::sync::mpsc::Sender<super::env::ConnOut>,
    ) {
        let dialed = self.pending.remove(&id);
        if self.env.listen_ip.is_none() {
            if let Some(ip) = outcome.our_ip_seen {
                *lock(&self.env.seen_ip) = Some(ip);
            }
        }
        let ours = Some(self.env.our_addr());
        for h in &outcome.try_hosts {
            self.hosts.add(*h, ours);
        }
        let (leaves, ups) = self.role_counts();
        let full = match outcome.peer_role {
            Role::Leaf => leaves >= self.cfg.max_leaves,
            Role::Ultrapeer => ups >= self.up_slots().max(1) && dialed.is_none(),
        };
        if full {
            let _ = tx.try_send(super::env::ConnOut::Bye(503, "Too many connections".into()));
            return;
        }
        let n = Neighbour::new(addr, dialed, outcome, tx, Instant::now());
        if n.peer_role() == Role::Ultrapeer {
            if let Some(l) = n.listen {
                self.hosts.add(l, ours);
            }
        }
        let o = &n.outcome;
        self.log(
            LogLevel::Info,
            format!(
                "connected to {} ({}), {} → {}{}",
                n.info().addr,
                o.user_agent.as_deref().unwrap_or("?"),
                role_name(o.our_role),
                role_name(o.peer_role),
                if o.compress_in && o.compress_out {
                    ", deflate"
                } else {
                    ""
                }
            ),
        );
        self.neighbours.insert(id, n);
        self.dirty = true;
        let ping = Message::Ping(Ping::default()).to_descriptor(Guid::random(), 2, 0);
        self.router.originate(&ping.header, Instant::now());
        self.send_to(id, &ping);
        self.send_qrp(id);
    }

    fn on_refused(&mut self, id: ConnId, r: Refusal) {
        let ours = Some(self.env.our_addr());
        for h in &r.try_hosts {
            self.hosts.add(*h, ours);
        }
        let Some(addr) = self.pending.remove(&id) else {
            return;
        };
        let who = if r.by_peer { "refused" } else { "we refused" };
        let state = format!("{who}: {} {}", r.code, r.reason);
        self.log(
            LogLevel::Info,
            format!(
                "{addr} {state} ({} hosts to try instead)",
                r.try_hosts.len()
            ),
        );
        self.remember(&addr, r.user_agent.unwrap_or_default(), state);
    }

    fn send_to(&mut self, id: ConnId, d: &Descriptor) -> bool {
        self.neighbours.get_mut(&id).is_some_and(|n| n.send(d))
    }

    fn send_push(&mut self, servent: Guid, index: u32) {
        let push = Push {
            servent,
            file_index: index,
            addr: self.env.our_addr(),
            ggep: Vec::new(),
        };
        let d = Descriptor::new(Guid::random(), TYPE_PUSH, DEFAULT_MAX_TTL, 0, push.encode());
        match self.router.push_route(servent, Instant::now()) {
            Some(Route::Conn(to)) if self.neighbours.contains_key(&to) => {
                self.send_to(to, &d);
            }
            _ => {
                let ups: Vec<ConnId> = self
                    .neighbours
                    .iter()
                    .filter(|(_, n)| n.peer_role() == Role::Ultrapeer)
                    .map(|(id, _)| *id)
                    .collect();
                for id in ups {
                    self.send_to(id, &d);
                }
            }
        }
    }

    /// Sends a query we originate (one of our searches when `search`): to
    /// every ultrapeer neighbour, or as an ultrapeer to the leaves whose QRP
    /// table matches and dynamically to the ultrapeers. Returns its GUID.
    fn send_query(&mut self, q: &Query, search: bool) -> Guid {
        let mut q = q.clone();
        if self.env.firewalled {
            q.flags |= FLAG_FIREWALLED;
        }
        let now = Instant::now();
        let d = Message::Query(q.clone()).to_descriptor(Guid::random(), QUERY_TTL, 0);
        self.router.originate(&d.header, now);
        let dynamic = self.dq_room();
        for n in self.neighbours.values_mut() {
            let send = match n.peer_role() {
                Role::Ultrapeer => !dynamic,
                Role::Leaf => n
                    .qrp_in
                    .table()
                    .is_some_and(|t| t.matches(&q.text, &q.ext.urns)),
            };
            if send && n.send(&d) {
                n.counts.queries_out += 1;
            }
        }
        if dynamic {
            self.start_dq(d.header, d.payload, &q, None, search, now);
        }
        d.header.guid
    }

    fn search(&mut self, req: Arc<SearchRequest>) {
        let text = req.expr.keywords().join(" ");
        if crate::proto::qrp::keywords(&text).is_empty() {
            self.env
                .events
                .emit(NetEvent::SearchDone { search: req.id });
            return;
        }
        let guid = self.send_query(&Query::keywords(&text), true);
        self.searches.add(guid, req, Instant::now());
    }

    fn start_download(&mut self, spec: swarmux_net::DownloadSpec) {
        let magnet = Magnet::parse(&spec.link).ok();
        let urn = match spec.hash {
            ContentHash::Sha1(h) => Some(Sha1Urn(h)),
            _ => magnet.as_ref().map(|m| m.urn),
        };
        let Some(urn) = urn else {
            self.env.events.emit(NetEvent::Failed {
                id: spec.id,
                reason: "not a Gnutella download (no urn:sha1)".into(),
            });
            return;
        };
        if spec.size == 0 && urn != Sha1Urn(EMPTY_SHA1) {
            self.env.events.emit(NetEvent::Failed {
                id: spec.id,
                reason: "unknown size (a magnet without xl=): download it from a search result"
                    .into(),
            });
            return;
        }
        let mut sources = magnet.map(|m| m.sources).unwrap_or_default();
        if let Some(meta) = spec.meta.as_deref() {
            if let Ok(m) = Magnet::parse(&String::from_utf8_lossy(meta)) {
                sources.extend(m.sources);
            }
        }
        sources.extend(lock(&self.env.sources).get(&urn));
        let id = spec.id;
        let log = swarmux_net::written::log_path(&self.data_dir, id);
        let handle = download::start(self.env.clone(), spec, urn, sources, log);
        self.downloads.insert(id, handle);
        self.query_urn(urn);
    }

    /// Asks the network for sources of `urn`, unless that was done too
    /// recently for gtk-gnutella ultrapeers to pass it on again.
    fn query_urn(&mut self, urn: Sha1Urn) {
        if self.requeries.allow(urn, Instant::now()) {
            self.send_query(&Query::by_urn(urn), false);
        }
    }

    /// Once a second: search deadlines, keep-alives, connections, reports.
    pub fn tick(&mut self) {
        let now = Instant::now();
        self.drive_dqs(now);
        let dqs = &self.dqs;
        for id in self.searches.expire(now, |g| dqs.contains_key(g)) {
            self.env.events.emit(NetEvent::SearchDone { search: id });
        }
        if now >= self.next_ping {
            self.next_ping = now + PING_EVERY;
            let ping = Message::Ping(Ping::default()).to_descriptor(Guid::random(), 1, 0);
            for n in self.neighbours.values_mut() {
                n.send(&ping);
            }
        }
        self.maintain(now);
        self.refresh_up_tables(now);
        self.downloads.retain(|_, d| !d.task.is_finished());
        if self.dirty {
            self.dirty = false;
            self.emit_servers();
        }
        let uploads: Vec<UploadInfo> = lock(&self.env.uploads)
            .values()
            .map(|u| u.row(now))
            .collect();
        if uploads != self.last_uploads {
            self.env.events.emit(NetEvent::Uploads(uploads.clone()));
            self.last_uploads = uploads;
        }
        let total = self.env.uploaded.load(Ordering::Relaxed);
        if total != self.last_uploaded {
            self.last_uploaded = total;
            self.env.events.emit(NetEvent::Uploaded(total));
        }
        if now >= self.next_save {
            self.next_save = now + SAVE_EVERY;
            self.save_hosts();
        }
    }

    /// Redials configured peers and fills ultrapeer slots from the host cache.
    fn maintain(&mut self, now: Instant) {
        for p in self.pinned.clone() {
            let due = self.pinned_retry.get(&p).is_none_or(|t| now >= *t);
            if due && !self.busy(&p) {
                self.pinned_retry.insert(p.clone(), now + PINNED_RETRY);
                self.dial(p);
            }
        }
        let ups = self
            .neighbours
            .values()
            .filter(|n| n.peer_role() == Role::Ultrapeer)
            .count()
            + self.pending.len();
        let target = match self.role {
            Role::Leaf => self.cfg.max_ultrapeers,
            Role::Ultrapeer => self.cfg.max_ultrapeers.div_ceil(2),
        };
        let ours = self.env.our_addr();
        for _ in 0..DIALS_PER_TICK.min(target.saturating_sub(ups)) {
            let pick = self
                .hosts
                .pick(now, |h| h == ours || self.busy(&h.to_string()));
            let Some(h) = pick else {
                break;
            };
            self.hosts.failed(h, now);
            self.dial(h.to_string());
        }
    }

    fn emit_servers(&self) {
        let mut list: Vec<ServerInfo> = self.neighbours.values().map(|n| n.info()).collect();
        list.extend(self.pending.values().map(|a| ServerInfo {
            addr: a.clone(),
            state: "connecting".into(),
            ..Default::default()
        }));
        list.extend(self.history.iter().cloned());
        list.sort_by(|a, b| a.addr.cmp(&b.addr));
        self.env.events.emit(NetEvent::Servers(list));
    }

    fn save_hosts(&self) {
        if let Err(e) = self.hosts.save(&self.hosts_path) {
            self.log(
                LogLevel::Warn,
                format!("cannot save {}: {e}", self.hosts_path.display()),
            );
        }
    }

    /// Says Bye to every neighbour and saves the host cache.
    pub fn shutdown(&mut self) {
        for n in self.neighbours.values() {
            n.bye(200, "Shutting down");
        }
        self.neighbours.clear();
        self.save_hosts();
    }
}
