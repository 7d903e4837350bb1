//! State shared by every task of the network: identity, limits, counters,
//! the DHT and the table that routes incoming connections to torrents.

use super::config::BtConfig;
use super::torrent::TorrentMsg;
use rand::Rng;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use swarmux_dht::Dht;
use swarmux_net::gate::ConnectionGate;
use swarmux_net::message::LogLevel;
use swarmux_net::{CountGuard, EventSink, Limits, NetEvent};
use tokio::sync::mpsc;

/// The shared state.
pub(crate) struct Env {
    pub cfg: BtConfig,
    /// The engine's data folder (written logs live below it).
    pub data_dir: PathBuf,
    /// Our peer id (`-SX0100-` and 12 random characters).
    pub peer_id: [u8; 20],
    /// Our TCP listening port (0 while not listening).
    pub port: AtomicU16,
    pub limits: Arc<Limits>,
    events: EventSink,
    /// Open peer connections over every torrent.
    conns: Arc<AtomicUsize>,
    /// Incoming connections, from their accept to their close.
    pub incoming: ConnectionGate,
    /// Payload bytes uploaded in this run.
    pub uploaded: AtomicU64,
    /// The DHT node, once started.
    pub dht: OnceLock<Dht>,
    /// Running torrents by info-hash, for incoming connections.
    pub torrents: Mutex<HashMap<[u8; 20], mpsc::UnboundedSender<TorrentMsg>>>,
    next_key: AtomicU64,
}

impl Env {
    pub fn new(
        cfg: BtConfig,
        data_dir: PathBuf,
        limits: Arc<Limits>,
        events: mpsc::UnboundedSender<NetEvent>,
    ) -> Self {
        let mut peer_id = *b"-SX0100-000000000000";
        let mut rng = rand::thread_rng();
        for b in &mut peer_id[8..] {
            *b = rng.gen_range(b'0'..=b'z');
            if !b.is_ascii_alphanumeric() {
                *b = b'x';
            }
        }
        let incoming = ConnectionGate::new(cfg.max_peers, cfg.max_peers_per_address);
        Env {
            cfg,
            data_dir,
            peer_id,
            port: AtomicU16::new(0),
            limits,
            events: events.into(),
            conns: Arc::new(AtomicUsize::new(0)),
            incoming,
            uploaded: AtomicU64::new(0),
            dht: OnceLock::new(),
            torrents: Mutex::new(HashMap::new()),
            next_key: AtomicU64::new(1),
        }
    }

    /// Sends an event to the engine (see [`EventSink::emit`]).
    pub fn emit(&self, ev: NetEvent) {
        self.events.emit(ev);
    }

    /// Sends a log line to the engine (see [`EventSink::log`]).
    pub fn log(&self, level: LogLevel, message: impl Into<String>) {
        self.events.log(level, message);
    }

    /// A fresh key for a peer connection (unique in this run).
    pub fn next_key(&self) -> u64 {
        self.next_key.fetch_add(1, Ordering::Relaxed)
    }

    pub fn port(&self) -> u16 {
        self.port.load(Ordering::Relaxed)
    }

    /// Takes one of the global connection slots, if one is free.
    pub fn try_conn(&self) -> Option<CountGuard> {
        CountGuard::try_new(&self.conns, self.cfg.max_peers.max(1))
    }

    /// The torrent task serving `info_hash`, if any.
    pub fn torrent(&self, info_hash: &[u8; 20]) -> Option<mpsc::UnboundedSender<TorrentMsg>> {
        self.lock_torrents().get(info_hash).cloned()
    }

    pub fn lock_torrents(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<[u8; 20], mpsc::UnboundedSender<TorrentMsg>>> {
        self.torrents.lock().unwrap_or_else(|e| e.into_inner())
    }
}
