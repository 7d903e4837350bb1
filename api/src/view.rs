//! The engine's state as clients see it: plain data, cheap to render.

use serde::{Deserialize, Serialize};
use swarmux_net::message::{LogLevel, PeerInfo, SeedInfo, ServerInfo, UploadInfo};
use swarmux_net::FileKind;

/// Download priority: higher ones start first and take sources first.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
}

impl Priority {
    /// Parses `high`, `normal` or `low`.
    pub fn parse(s: &str) -> Option<Priority> {
        match s.to_ascii_lowercase().as_str() {
            "high" => Some(Priority::High),
            "normal" => Some(Priority::Normal),
            "low" => Some(Priority::Low),
            _ => None,
        }
    }

    /// One step up (saturating).
    pub fn raised(self) -> Priority {
        match self {
            Priority::Low => Priority::Normal,
            _ => Priority::High,
        }
    }

    /// One step down (saturating).
    pub fn lowered(self) -> Priority {
        match self {
            Priority::High => Priority::Normal,
            _ => Priority::Low,
        }
    }

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

/// Where a download stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "reason")]
pub enum DownloadState {
    /// Waiting for a free active-download slot.
    Queued,
    Downloading,
    Paused,
    /// All parts are in; checking and moving the file.
    Verifying,
    Complete,
    Error(String),
}

impl DownloadState {
    /// A short label for lists.
    pub fn label(&self) -> &str {
        match self {
            DownloadState::Queued => "queued",
            DownloadState::Downloading => "downloading",
            DownloadState::Paused => "paused",
            DownloadState::Verifying => "verifying",
            DownloadState::Complete => "complete",
            DownloadState::Error(_) => "error",
        }
    }
}

/// One download in the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadView {
    pub id: u64,
    pub name: String,
    pub size: u64,
    pub network: String,
    /// The content hash, as `ed2k:HEX` and the like.
    pub hash: String,
    pub state: DownloadState,
    pub priority: Priority,
    /// Bytes in verified parts.
    pub verified: u64,
    pub parts_total: usize,
    pub parts_verified: usize,
    /// Payload bytes received from the network in this run of the daemon.
    pub received: u64,
    pub rate: u64,
    pub eta_secs: Option<u64>,
    pub sources: u32,
    pub active_sources: u32,
    /// Why it is stalled or what it waits for ("no sources", "queued at rank 4").
    pub note: String,
    pub peers: Vec<PeerInfo>,
    /// Where the finished file is (set once complete).
    pub path: Option<String>,
    /// How many files a multi-file download holds (0 for a single file).
    /// The files themselves are asked for with `Request::Files` only while a
    /// view shows them: a torrent of 100,000 files would otherwise ride along
    /// in every snapshot.
    #[serde(default)]
    pub file_count: usize,
}

impl DownloadView {
    /// Whether the size is known: a magnet link's is not until its metadata
    /// arrives (it shows as 0 until then).
    pub fn size_known(&self) -> bool {
        self.size > 0 || self.state == DownloadState::Complete
    }
}

/// One row of a search: hits with the same content hash merged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Unique in this engine run; `swarmux get ID` downloads the row.
    pub id: u64,
    pub name: String,
    pub size: u64,
    pub kind: FileKind,
    /// Sources summed over the networks and hits merged into this row.
    pub sources: u32,
    pub complete_sources: u32,
    pub networks: Vec<String>,
    pub hashes: Vec<String>,
}

/// One search and its rows so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchView {
    pub id: u64,
    pub text: String,
    pub rows: Vec<ResultRow>,
    /// Networks that have not finished answering yet.
    pub pending: Vec<String>,
}

/// A shared file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFileView {
    pub path: String,
    pub size: u64,
    pub ed2k: String,
}

/// Progress of hashing the shared folders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashingView {
    pub files_left: usize,
    pub bytes_left: u64,
    pub current: String,
}

/// The shared folders, how many files they hold, and the hashing in
/// progress. The files themselves are asked for with `Request::SharedFiles`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharesView {
    pub dirs: Vec<String>,
    /// Shared files, hashed and announced.
    pub file_count: usize,
    /// Changes whenever the list of shared files changes.
    pub revision: u64,
    pub hashing: Option<HashingView>,
}

/// A running upload, with its network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadView {
    pub network: String,
    #[serde(flatten)]
    pub info: UploadInfo,
}

/// A download seeded as a whole (a torrent), with its network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedView {
    pub network: String,
    #[serde(flatten)]
    pub info: SeedInfo,
}

/// One network's servers or neighbours and listening sockets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkView {
    pub name: String,
    pub servers: Vec<ServerInfo>,
    /// (socket name, address) pairs.
    pub listening: Vec<(String, String)>,
    /// Payload bytes uploaded by this network in this run.
    pub uploaded: u64,
}

/// A line of the engine's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub source: String,
    pub level: LogLevel,
    pub message: String,
}

/// Totals for the status bar.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub down_rate: u64,
    pub up_rate: u64,
    pub received: u64,
    pub uploaded: u64,
    pub down_limit: u64,
    pub up_limit: u64,
    pub upload_slots: usize,
    pub max_active_downloads: usize,
    /// Connected servers over all networks.
    pub connected_servers: usize,
}

/// Which daemon this is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonInfo {
    pub pid: u32,
    pub version: String,
    pub data_dir: String,
    pub download_dir: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
}

/// Everything a client shows, sent whole on every change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Increases with every change; equal numbers mean equal state.
    pub seq: u64,
    pub daemon: DaemonInfo,
    pub totals: Totals,
    /// Recent searches, newest last.
    pub searches: Vec<SearchView>,
    pub downloads: Vec<DownloadView>,
    pub shares: SharesView,
    pub uploads: Vec<UploadView>,
    /// Downloads served as a whole (seeded torrents).
    #[serde(default)]
    pub seeding: Vec<SeedView>,
    pub networks: Vec<NetworkView>,
    /// The newest log lines, oldest first.
    pub log: Vec<LogLine>,
}
