//! The tokio driver: one UDP socket, one task owning the sans-IO [`Node`], and a cheap
//! cloneable [`Dht`] handle that talks to it over a channel.

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::proto::id::NodeId;
use crate::proto::krpc::MAX_DATAGRAM;
use crate::proto::node::{Event, LookupId, Node, NodeStats};
use crate::proto::state::{SavedState, MAX_SAVED_NODES, MAX_STATE_BYTES};

/// How often timers run (query timeouts are checked at this granularity).
const TICK: Duration = Duration::from_millis(250);
/// How often the state file is rewritten while running.
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// How to start a DHT node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhtConfig {
    /// UDP address to bind (IPv4; port 0 picks a free port).
    pub bind: SocketAddr,
    /// The only nodes contacted to join the network; empty means none (no public routers).
    pub bootstrap: Vec<SocketAddr>,
    /// Where the node id and good nodes are kept across restarts.
    pub state_file: Option<PathBuf>,
}

impl DhtConfig {
    /// A config binding `bind`, with no bootstrap nodes and no state file.
    pub fn new(bind: SocketAddr) -> DhtConfig {
        DhtConfig {
            bind,
            bootstrap: Vec::new(),
            state_file: None,
        }
    }
}

/// Why a DHT operation failed.
#[derive(Debug, Error)]
pub enum DhtError {
    /// The bind address is IPv6; this DHT speaks BEP 5 over IPv4 only.
    #[error("dht: IPv6 address {0} is not supported (IPv4 only)")]
    Ipv6Unsupported(SocketAddr),
    /// The UDP socket could not be bound.
    #[error("dht: cannot bind {addr}: {source}")]
    Bind {
        /// Address we tried.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The node was shut down.
    #[error("dht: stopped")]
    Stopped,
    /// Too many lookups are running; try again later.
    #[error("dht: too many lookups running")]
    Busy,
}

/// Counters for the Networks pane: the node's own, published by the driver.
pub type DhtStats = NodeStats;

enum Command {
    GetPeers([u8; 20], oneshot::Sender<Vec<SocketAddr>>),
    Announce([u8; 20], u16, oneshot::Sender<Result<usize, DhtError>>),
    AddNode(SocketAddrV4),
    Shutdown(oneshot::Sender<()>),
}

enum Waiter {
    Peers(oneshot::Sender<Vec<SocketAddr>>),
    Announce(oneshot::Sender<Result<usize, DhtError>>),
}

struct Shared {
    commands: mpsc::UnboundedSender<Command>,
    local_addr: SocketAddr,
    stats: Arc<Mutex<DhtStats>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A running DHT node; clones share it. It stops on [`Dht::shutdown`] or when the last
/// handle is dropped, saving its state file either way.
#[derive(Clone)]
pub struct Dht {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Dht {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dht")
            .field("local_addr", &self.shared.local_addr)
            .finish()
    }
}

impl Dht {
    /// Binds the socket, loads the state file if any, and starts bootstrapping.
    pub async fn start(cfg: DhtConfig) -> Result<Dht, DhtError> {
        if cfg.bind.is_ipv6() {
            return Err(DhtError::Ipv6Unsupported(cfg.bind));
        }
        let socket = UdpSocket::bind(cfg.bind)
            .await
            .map_err(|source| DhtError::Bind {
                addr: cfg.bind,
                source,
            })?;
        let local_addr = socket.local_addr().map_err(|source| DhtError::Bind {
            addr: cfg.bind,
            source,
        })?;
        let saved = cfg.state_file.as_deref().and_then(load_state);
        let (id, known) = match saved {
            Some(s) => (s.id, s.nodes),
            None => (NodeId::random(), Vec::new()),
        };
        let bootstrap = cfg
            .bootstrap
            .iter()
            .filter_map(|a| match a {
                SocketAddr::V4(a) if !is_self(*a, local_addr) => Some(*a),
                SocketAddr::V4(_) => None,
                SocketAddr::V6(a) => {
                    tracing::warn!(addr = %a, "dht: IPv6 bootstrap node ignored");
                    None
                }
            })
            .collect();
        let node = Node::new(id, bootstrap, known, Instant::now());
        let stats = Arc::new(Mutex::new(node.stats(Instant::now())));
        let (tx, rx) = mpsc::unbounded_channel();
        let driver = Driver {
            socket,
            node,
            commands: rx,
            stats: stats.clone(),
            state_file: cfg.state_file,
            waiters: HashMap::new(),
        };
        let task = tokio::spawn(driver.run());
        tracing::info!(%local_addr, id = ?id, "dht: listening");
        Ok(Dht {
            shared: Arc::new(Shared {
                commands: tx,
                local_addr,
                stats,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// One get_peers lookup for `info_hash`: the peers found (empty when stopped or busy).
    /// Takes at most a few seconds.
    pub async fn get_peers(&self, info_hash: [u8; 20]) -> Vec<SocketAddr> {
        let (tx, rx) = oneshot::channel();
        if self
            .shared
            .commands
            .send(Command::GetPeers(info_hash, tx))
            .is_err()
        {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Announces that we serve `info_hash` on TCP `port`: a get_peers lookup, then
    /// announce_peer to the closest nodes. Returns how many nodes stored the announce.
    pub async fn announce(&self, info_hash: [u8; 20], port: u16) -> Result<usize, DhtError> {
        let (tx, rx) = oneshot::channel();
        self.shared
            .commands
            .send(Command::Announce(info_hash, port, tx))
            .map_err(|_| DhtError::Stopped)?;
        rx.await.map_err(|_| DhtError::Stopped)?
    }

    /// Pings a node heard of elsewhere (a peer's BEP 5 PORT message); it joins the
    /// routing table if it answers. IPv6 addresses are ignored.
    pub fn add_node(&self, addr: SocketAddr) {
        if let SocketAddr::V4(a) = addr {
            let _ = self.shared.commands.send(Command::AddNode(a));
        }
    }

    /// Current counters.
    pub fn stats(&self) -> DhtStats {
        *self
            .shared
            .stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stops the node (for every clone), saves the state file and waits for the task.
    pub async fn shutdown(self) {
        let (tx, rx) = oneshot::channel();
        if self.shared.commands.send(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
        let task = self
            .shared
            .task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Whether `a` is our own socket (also when bound to 0.0.0.0).
fn is_self(a: SocketAddrV4, local: SocketAddr) -> bool {
    a.port() == local.port()
        && (SocketAddr::V4(a) == local
            || (local.ip().is_unspecified() && (a.ip().is_loopback() || a.ip().is_unspecified())))
}

fn load_state(path: &Path) -> Option<SavedState> {
    let len = std::fs::metadata(path).ok()?.len();
    if len > MAX_STATE_BYTES as u64 {
        tracing::warn!(path = %path.display(), "dht: state file too large, ignored");
        return None;
    }
    let data = std::fs::read(path).ok()?;
    match SavedState::decode(&data) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "dht: state file ignored");
            None
        }
    }
}

fn save_state(path: &Path, node: &Node) {
    let mut nodes = node.good_nodes(Instant::now());
    nodes.truncate(MAX_SAVED_NODES);
    let data = SavedState {
        id: node.id(),
        nodes,
    }
    .encode();
    let tmp = path.with_extension("tmp");
    let result = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "dht: cannot save state");
    }
}

struct Driver {
    socket: UdpSocket,
    node: Node,
    commands: mpsc::UnboundedReceiver<Command>,
    stats: Arc<Mutex<DhtStats>>,
    state_file: Option<PathBuf>,
    waiters: HashMap<LookupId, Waiter>,
}

impl Driver {
    async fn run(mut self) {
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_save = Instant::now();
        let mut ack = None;
        loop {
            self.flush().await;
            self.deliver_events();
            self.publish_stats();
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, SocketAddr::V4(from))) => {
                        self.node.handle_datagram(from, &buf[..n], Instant::now());
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "dht: recv"),
                },
                command = self.commands.recv() => match command {
                    None => break,
                    Some(Command::Shutdown(tx)) => {
                        ack = Some(tx);
                        break;
                    }
                    Some(c) => self.command(c),
                },
                _ = tick.tick() => {
                    let now = Instant::now();
                    self.node.handle_timeout(now);
                    if now.saturating_duration_since(last_save) >= SAVE_EVERY {
                        self.save();
                        last_save = now;
                    }
                }
            }
        }
        self.save();
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
        tracing::info!("dht: stopped");
    }

    fn command(&mut self, c: Command) {
        let now = Instant::now();
        match c {
            Command::GetPeers(ih, tx) => match self.node.get_peers(NodeId(ih), now) {
                Some(id) => {
                    self.waiters.insert(id, Waiter::Peers(tx));
                }
                None => {
                    let _ = tx.send(Vec::new());
                }
            },
            Command::Announce(ih, port, tx) => match self.node.announce(NodeId(ih), port, now) {
                Some(id) => {
                    self.waiters.insert(id, Waiter::Announce(tx));
                }
                None => {
                    let _ = tx.send(Err(DhtError::Busy));
                }
            },
            Command::AddNode(addr) => self.node.add_node(addr, now),
            Command::Shutdown(_) => {}
        }
    }

    async fn flush(&mut self) {
        while let Some((to, data)) = self.node.poll_transmit() {
            if let Err(e) = self.socket.send_to(&data, to).await {
                tracing::debug!(%to, error = %e, "dht: send");
            }
        }
    }

    fn deliver_events(&mut self) {
        while let Some(event) = self.node.poll_event() {
            let (id, peers, stored) = match event {
                Event::Peers { id, peers } => (id, peers, None),
                Event::Announced { id, peers, stored } => (id, peers, Some(stored)),
            };
            let peers = peers.into_iter().map(SocketAddr::V4).collect();
            match (self.waiters.remove(&id), stored) {
                (Some(Waiter::Peers(tx)), _) => {
                    let _ = tx.send(peers);
                }
                (Some(Waiter::Announce(tx)), Some(n)) => {
                    let _ = tx.send(Ok(n));
                }
                _ => {}
            }
        }
    }

    fn publish_stats(&self) {
        let s = self.node.stats(Instant::now());
        *self
            .stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = s;
    }

    fn save(&self) {
        if let Some(path) = &self.state_file {
            save_state(path, &self.node);
        }
    }
}
