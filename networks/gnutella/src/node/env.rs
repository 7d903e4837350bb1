//! State shared by the node loop, the neighbour connections, the transfers
//! and the downloads, and the messages they send the node loop.

use super::gates::Gates;
use super::shares::ShareIndex;
use crate::magnet::Source;
use crate::proto::descriptor::{Guid, Header};
use crate::proto::handshake::{Negotiated, Refusal};
use crate::proto::huge::Sha1Urn;
use crate::proto::message::Message;
use crate::proto::reader::DecodeError;
use crate::proto::routing::ConnId;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use swarmux_net::RateMeter;
use swarmux_net::{EventSink, Limits, NetEvent, UploadInfo};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// What a neighbour connection's writer is asked to do.
#[derive(Debug)]
pub enum ConnOut {
    /// Send one encoded descriptor.
    Send(Vec<u8>),
    /// Send a Bye with this code and text, then close.
    Bye(u16, String),
}

/// What connections and downloads tell the node loop.
#[derive(Debug)]
pub enum MainMsg {
    /// A handshake succeeded; `tx` feeds the connection's writer.
    Up {
        id: ConnId,
        addr: SocketAddr,
        outcome: Negotiated,
        tx: mpsc::Sender<ConnOut>,
    },
    /// The handshake was refused (by either side).
    Refused { id: ConnId, refusal: Refusal },
    /// The connection failed before the handshake completed.
    Failed { id: ConnId, reason: String },
    /// An established link closed.
    Closed { id: ConnId, reason: String },
    /// A descriptor arrived (`payload` raw, for forwarding unchanged).
    Received {
        id: ConnId,
        header: Header,
        payload: Vec<u8>,
        msg: Result<Message, DecodeError>,
    },
    /// A download wants a firewalled servent to connect to us.
    SendPush { servent: Guid, index: u32 },
    /// A download looks for more sources of this file.
    UrnQuery(Sha1Urn),
}

/// A connection a pushed servent opened to us, after its `GIV` line.
pub type Pushed = (TcpStream, Vec<u8>);

/// Downloads waiting for a GIV from one servent: (file index, where to hand it).
pub type GivWaiters = Vec<(u32, oneshot::Sender<Pushed>)>;

/// Most sources remembered per file, and most files remembered.
const SOURCES_PER_FILE: usize = 16;
const SOURCE_FILES: usize = 2000;

/// Recent sources per file, learned from hits (oldest files forgotten first).
#[derive(Default)]
pub struct SourceMemory {
    map: HashMap<Sha1Urn, Vec<Source>>,
    order: VecDeque<Sha1Urn>,
}

impl SourceMemory {
    /// Remembers a source of `urn`.
    pub fn add(&mut self, urn: Sha1Urn, src: Source) {
        if !self.map.contains_key(&urn) {
            self.order.push_back(urn);
            while self.order.len() > SOURCE_FILES {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
        let list = self.map.entry(urn).or_default();
        list.retain(|s| s.addr != src.addr);
        list.insert(0, src);
        list.truncate(SOURCES_PER_FILE);
    }

    /// The sources known for `urn`, newest first.
    pub fn get(&self, urn: &Sha1Urn) -> Vec<Source> {
        self.map.get(urn).cloned().unwrap_or_default()
    }
}

/// Who we are, what we share, and the engine's channel.
pub struct Env {
    /// Our servent GUID (in our hits; pushes for us carry it).
    pub guid: Guid,
    /// The `firewalled` test knob.
    pub firewalled: bool,
    /// Our listening port (set once bound).
    pub port: AtomicU16,
    /// The configured listening IP, when it is a specific IPv4 one.
    pub listen_ip: Option<Ipv4Addr>,
    /// The configured listening IP, when it is a specific one: every
    /// outgoing connection leaves from it.
    pub local_ip: Option<IpAddr>,
    /// Our IP as neighbours see it (`Remote-IP`).
    pub seen_ip: Mutex<Option<Ipv4Addr>>,
    shares: RwLock<Arc<ShareIndex>>,
    pub limits: Arc<Limits>,
    /// The engine's event channel.
    pub events: EventSink,
    /// The node loop's channel.
    pub to_main: mpsc::Sender<MainMsg>,
    next_id: AtomicU64,
    /// Running uploads by id.
    pub uploads: Mutex<BTreeMap<u64, Upload>>,
    /// Payload bytes uploaded in this run.
    pub uploaded: AtomicU64,
    /// Upload slots in use.
    pub upload_slots_used: AtomicUsize,
    /// The socket budgets.
    pub gates: Gates,
    /// Downloads waiting for a pushed servent's GIV, by servent GUID.
    pub push_waiters: Mutex<HashMap<Guid, GivWaiters>>,
    /// Sources learned from hits.
    pub sources: Mutex<SourceMemory>,
}

/// One running upload: its Uploads-pane row and its send rate.
#[derive(Debug, Default)]
pub struct Upload {
    /// The row, its `rate` filled in by [`Upload::row`].
    pub info: UploadInfo,
    pub meter: RateMeter,
}

impl Upload {
    /// Counts `n` bytes sent at `now`.
    pub fn sent(&mut self, n: u64, now: std::time::Instant) {
        self.info.sent += n;
        self.meter.record(n, now);
    }

    /// The Uploads-pane row as of `now`.
    pub fn row(&self, now: std::time::Instant) -> UploadInfo {
        UploadInfo {
            rate: self.meter.rate(now),
            ..self.info.clone()
        }
    }
}

/// Locks a mutex, going on with the data of a poisoned one.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Env {
    /// Fresh state for one run, as servent `guid`.
    pub fn new(
        guid: Guid,
        firewalled: bool,
        bind: IpAddr,
        limits: Arc<Limits>,
        events: mpsc::UnboundedSender<NetEvent>,
        to_main: mpsc::Sender<MainMsg>,
        gates: Gates,
    ) -> Self {
        Env {
            guid,
            firewalled,
            port: AtomicU16::new(0),
            listen_ip: match bind {
                IpAddr::V4(ip) if !ip.is_unspecified() => Some(ip),
                _ => None,
            },
            local_ip: Some(bind).filter(|ip| !ip.is_unspecified()),
            seen_ip: Mutex::new(None),
            shares: RwLock::new(Arc::new(ShareIndex::default())),
            limits,
            events: events.into(),
            to_main,
            next_id: AtomicU64::new(1),
            uploads: Mutex::new(BTreeMap::new()),
            uploaded: AtomicU64::new(0),
            upload_slots_used: AtomicUsize::new(0),
            gates,
            push_waiters: Mutex::new(HashMap::new()),
            sources: Mutex::new(SourceMemory::default()),
        }
    }

    /// A new id for a connection or an upload.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The current share index.
    pub fn shares(&self) -> Arc<ShareIndex> {
        self.shares
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the share index.
    pub fn set_shares(&self, idx: ShareIndex) {
        *self.shares.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(idx);
    }

    /// The address others should reach us at: the configured IP, else the
    /// one neighbours saw, else loopback.
    pub fn our_addr(&self) -> SocketAddrV4 {
        let ip = self
            .listen_ip
            .or(*lock(&self.seen_ip))
            .unwrap_or(Ipv4Addr::LOCALHOST);
        SocketAddrV4::new(ip, self.port.load(Ordering::Relaxed))
    }

    /// Registers a download waiting for `servent` to push file `index` to us.
    pub fn expect_giv(&self, servent: Guid, index: u32) -> oneshot::Receiver<Pushed> {
        let (tx, rx) = oneshot::channel();
        let mut w = lock(&self.push_waiters);
        let list = w.entry(servent).or_default();
        list.retain(|(_, s)| !s.is_closed());
        list.push((index, tx));
        rx
    }

    /// Hands a GIV connection to the download waiting for it; false when none is.
    pub fn deliver_giv(&self, servent: Guid, index: u32, conn: Pushed) -> bool {
        let mut w = lock(&self.push_waiters);
        let Some(list) = w.get_mut(&servent) else {
            return false;
        };
        list.retain(|(_, s)| !s.is_closed());
        let pos = list
            .iter()
            .position(|(i, _)| *i == index)
            .or(if list.is_empty() { None } else { Some(0) });
        let Some(pos) = pos else {
            return false;
        };
        let (_, tx) = list.remove(pos);
        if list.is_empty() {
            w.remove(&servent);
        }
        tx.send(conn).is_ok()
    }
}
