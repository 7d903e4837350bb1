//! The typed messages between the engine and a network task.

use crate::search::{SearchHit, SearchId, SearchRequest};
use crate::share::SharedFile;
use crate::ContentHash;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Identifies a download in the engine's queue.
pub type DownloadId = u64;

/// Everything a network needs to start or resume one download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadSpec {
    pub id: DownloadId,
    pub name: String,
    pub size: u64,
    pub hash: ContentHash,
    /// The link the download was added from (e.g. an `ed2k://` link).
    pub link: String,
    /// Where the partial data lives. The network writes only here.
    pub temp_path: PathBuf,
    /// Which parts are already verified (the network defines the part size).
    /// Empty when nothing is verified yet.
    pub verified: Vec<bool>,
    /// Network-specific state persisted by the engine (e.g. the ed2k hashset),
    /// as last sent in [`NetEvent::DownloadMeta`].
    pub meta: Option<Vec<u8>>,
}

/// Commands from the engine to a network.
#[derive(Clone, Debug)]
pub enum NetCommand {
    Search(Arc<SearchRequest>),
    CancelSearch(SearchId),
    /// Start (or resume) transferring a download.
    StartDownload(DownloadSpec),
    /// Stop transferring; keep the partial data.
    PauseDownload(DownloadId),
    /// Stop transferring; the engine deletes the partial data afterwards.
    CancelDownload(DownloadId),
    /// The full set of shared files, sent at start and whenever it changes.
    SharesChanged(Arc<Vec<SharedFile>>),
    /// Serve a finished download from where it now lives (`temp_path` is the
    /// final path; every part is verified). Networks that share finished
    /// files by scanning folders (ed2k) ignore it; BitTorrent seeds it.
    Seed(DownloadSpec),
    /// Choose how much a file inside a multi-file download matters.
    SetFilePriority {
        id: DownloadId,
        file: usize,
        priority: FilePriority,
    },
    /// Add and connect a server or neighbour, given as `HOST:PORT`.
    AddServer(String),
    /// Forget a server or neighbour.
    RemoveServer(String),
    /// Close connections and end the task.
    Shutdown,
}

/// Severity of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// One source of a download, as the Downloads pane details it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    pub addr: String,
    pub client: String,
    /// What the peer is doing for us: `downloading`, `queued #12`, `no needed parts`...
    pub state: String,
    /// Bytes received from this peer in this run.
    pub received: u64,
    pub rate: u64,
}

/// Live statistics of one download, sent about once a second while active.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadStats {
    /// Payload bytes received from the network in this run of the daemon.
    pub received: u64,
    /// Bytes per second over the last few seconds.
    pub rate: u64,
    /// Sources known.
    pub sources: u32,
    /// Sources currently sending data.
    pub active_sources: u32,
    /// Why the download is not moving, or what it waits for (empty when it moves).
    pub note: String,
    pub peers: Vec<PeerInfo>,
}

/// One running upload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadInfo {
    pub peer: String,
    pub client: String,
    pub file: String,
    /// Bytes sent to this peer in this run.
    pub sent: u64,
    pub rate: u64,
}

/// How much a file inside a multi-file download matters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilePriority {
    /// Not downloaded.
    Skip,
    #[default]
    Normal,
    /// Its pieces are fetched first.
    High,
}

/// One file inside a multi-file download.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The path inside the download, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Verified bytes of this file.
    pub done: u64,
    pub priority: FilePriority,
}

/// A download the network serves as a whole (a seeded torrent).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedInfo {
    pub id: DownloadId,
    pub name: String,
    pub size: u64,
    /// Bytes uploaded for it, over all runs when the network keeps that.
    pub uploaded: u64,
    /// Bytes downloaded for it (the ratio is `uploaded / size` when 0).
    pub downloaded: u64,
    /// Upload rate in bytes per second.
    pub rate: u64,
    /// Connected peers.
    pub peers: u32,
    /// Tracker or other state worth a line, e.g. `tracker: 2 seeds, 1 leech`.
    pub note: String,
}

/// A server (ed2k) or neighbour (Gnutella) and its state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub addr: String,
    pub name: String,
    /// `connecting`, `connected`, `disconnected`, or an error.
    pub state: String,
    /// Our identity on it (e.g. `high ID 16777343` or `low ID 12`).
    pub identity: String,
    pub users: u32,
    pub files: u32,
    /// The last message the server sent.
    pub message: String,
}

/// Events from a network to the engine.
#[derive(Clone, Debug)]
pub enum NetEvent {
    /// The network bound a listening socket; the engine records it in `ports.json`.
    Listening {
        name: String,
        addr: SocketAddr,
    },
    Hit(SearchHit),
    /// The network has nothing more for this search.
    SearchDone {
        search: SearchId,
    },
    /// The network learned how many parts the file has and state worth persisting.
    DownloadMeta {
        id: DownloadId,
        parts: usize,
        meta: Vec<u8>,
    },
    /// A part passed verification and is on disk in the temp file.
    PartVerified {
        id: DownloadId,
        part: usize,
    },
    /// Several parts passed verification (networks with many small parts
    /// batch them, so the engine stores them in one write).
    PartsVerified {
        id: DownloadId,
        parts: Vec<usize>,
    },
    /// The network learnt the download's real name and size (a magnet link's
    /// metadata arrived).
    Described {
        id: DownloadId,
        name: String,
        size: u64,
    },
    /// A part failed verification; the data is dropped and fetched again.
    PartCorrupt {
        id: DownloadId,
        part: usize,
        blamed: Vec<String>,
    },
    Progress {
        id: DownloadId,
        stats: DownloadStats,
    },
    /// All parts verified; the temp file holds the whole file.
    Completed {
        id: DownloadId,
    },
    Failed {
        id: DownloadId,
        reason: String,
    },
    /// The full list of this network's running uploads (replaces the last one).
    Uploads(Vec<UploadInfo>),
    /// The files inside a multi-file download, with their progress.
    Files {
        id: DownloadId,
        files: Vec<FileInfo>,
    },
    /// The full list of this network's seeded downloads (replaces the last one).
    Seeding(Vec<SeedInfo>),
    /// The full list of this network's servers or neighbours (replaces the last one).
    Servers(Vec<ServerInfo>),
    /// Total payload bytes this network uploaded in this run.
    Uploaded(u64),
    Log {
        level: LogLevel,
        message: String,
    },
}
