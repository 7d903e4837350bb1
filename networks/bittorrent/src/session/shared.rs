//! What a torrent task and its peer tasks share, and the messages between them.
//!
//! The hot path avoids messages: a peer task updates the picker (behind a
//! mutex held only for a call) and queues received blocks straight to the
//! disk thread; it counts bytes in atomics the torrent task reads once a
//! second. Messages go only for rare things (a peer's extension handshake,
//! endgame cancels, metadata pieces, PEX, a closed connection).

use super::disk::{DiskJob, StorageSlot};
use crate::core::{BlockRequest, PiecePicker};
use crate::proto::Info;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::mpsc;

/// A torrent whose info dictionary is known: what its peers need.
pub(crate) struct Ready {
    pub info: Arc<Info>,
    pub picker: Mutex<PiecePicker<u64>>,
    pub storage: StorageSlot,
    pub disk: mpsc::Sender<DiskJob>,
}

impl Ready {
    /// The picker (a panic elsewhere leaves it usable).
    pub fn picker(&self) -> MutexGuard<'_, PiecePicker<u64>> {
        self.picker.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counters and flags of one connection, written by its peer task.
pub(crate) struct PeerShared {
    pub downloaded: AtomicU64,
    pub uploaded: AtomicU64,
    /// The peer wants data from us.
    pub peer_interested: AtomicBool,
    /// The peer refuses our requests.
    pub peer_choking: AtomicBool,
    /// We want data from the peer.
    pub am_interested: AtomicBool,
    /// The peer has every piece.
    pub seed: AtomicBool,
    /// Milliseconds after `born` when the last block arrived.
    last_block_ms: AtomicU64,
    born: Instant,
}

impl PeerShared {
    pub fn new() -> Self {
        PeerShared {
            downloaded: AtomicU64::new(0),
            uploaded: AtomicU64::new(0),
            peer_interested: AtomicBool::new(false),
            peer_choking: AtomicBool::new(true),
            am_interested: AtomicBool::new(false),
            seed: AtomicBool::new(false),
            last_block_ms: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    pub fn get(flag: &AtomicBool) -> bool {
        flag.load(Ordering::Relaxed)
    }

    pub fn set(flag: &AtomicBool, v: bool) {
        flag.store(v, Ordering::Relaxed);
    }

    pub fn block_arrived(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.born).as_millis() as u64;
        self.last_block_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the last block (or since the connection opened).
    pub fn since_last_block(&self, now: Instant) -> std::time::Duration {
        let ms = self.last_block_ms.load(Ordering::Relaxed);
        now.saturating_duration_since(self.born + std::time::Duration::from_millis(ms))
    }
}

/// Commands from the torrent task to a peer task.
pub(crate) enum PeerCmd {
    /// We verified a piece.
    Have(u32),
    Choke,
    Unchoke,
    /// Withdraw a request (endgame duplicate or timed out).
    Cancel(BlockRequest),
    /// A ut_pex payload to send, if the peer speaks it.
    Pex(Vec<u8>),
    /// The info dictionary arrived (magnet): the torrent is ready.
    Ready(Arc<Ready>),
    /// Ask the peer for a metadata piece.
    RequestMetadata(u32),
    /// Pieces became wanted again: re-check interest and request.
    Refill,
    /// Stop (true) or resume (false) sending new requests (probation).
    Suspend(bool),
    Close,
}

/// Reports of a peer task to its torrent task.
#[derive(Debug)]
pub(crate) enum PeerEvent {
    /// The handshake went through.
    Handshaked { peer_id: [u8; 20] },
    /// The peer's extension handshake.
    Ext {
        client: Option<String>,
        listen_port: Option<u16>,
        pex: bool,
        metadata_size: Option<u64>,
    },
    /// The peer became interested.
    Interested,
    /// Peers from the peer's PEX.
    Pex(Vec<SocketAddr>),
    /// A ut_metadata piece.
    Metadata { piece: u32, total: u64, data: Bytes },
    /// The peer will not send this metadata piece.
    MetadataReject,
    /// Endgame: these peers were asked for a block that arrived elsewhere.
    Cancel { peers: Vec<u64>, req: BlockRequest },
    /// The peer's DHT node (BEP 5 PORT).
    DhtNode(SocketAddr),
    /// The connection ended.
    Closed(String),
}

/// A client name from an Azureus-style peer id (`-qB4500-...`).
pub(crate) fn client_from_peer_id(id: &[u8; 20]) -> String {
    if id[0] == b'-' && id[7] == b'-' {
        let code = String::from_utf8_lossy(&id[1..3]);
        let name = match &*code {
            "qB" => "qBittorrent",
            "TR" => "Transmission",
            "lt" | "LT" => "libtorrent",
            "UT" => "µTorrent",
            "DE" => "Deluge",
            "AZ" => "Vuze",
            "rQ" | "rq" => "rqbit",
            "SX" => "swarmux",
            _ => "",
        };
        let ver: String = id[3..7]
            .iter()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(|&b| b as char)
            .collect();
        if !name.is_empty() {
            return format!("{name} {ver}");
        }
    }
    if id.starts_with(b"A2-") {
        return "aria2".into();
    }
    id[..8]
        .iter()
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect()
}
