//! Requests a client sends and the engine's answers.

use crate::view::{DownloadView, Priority, ResultRow, SharedFileView, Snapshot};
use serde::{Deserialize, Serialize};
use swarmux_net::FileKind;

/// A search as a client asks for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchParams {
    pub text: String,
    #[serde(default)]
    pub min_size: Option<u64>,
    #[serde(default)]
    pub max_size: Option<u64>,
    #[serde(default)]
    pub kind: Option<FileKind>,
    #[serde(default)]
    pub extension: Option<String>,
    /// Only these networks (all enabled ones when empty).
    #[serde(default)]
    pub networks: Vec<String>,
}

/// One request line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// The current state, once.
    Snapshot,
    /// The current state now and after every change, until the client hangs up.
    Subscribe,
    Search(SearchParams),
    /// Adds a download from a link (`ed2k://...`) or a search result id.
    Get {
        target: String,
    },
    Pause {
        id: u64,
    },
    Resume {
        id: u64,
    },
    Cancel {
        id: u64,
    },
    Priority {
        id: u64,
        priority: Priority,
    },
    /// The files inside a multi-file download, with their progress.
    Files {
        id: u64,
    },
    /// Every shared file.
    SharedFiles,
    /// Sets how much one file inside a multi-file download matters.
    FilePriority {
        id: u64,
        file: usize,
        priority: swarmux_net::FilePriority,
    },
    ShareAdd {
        dir: String,
    },
    ShareRemove {
        dir: String,
    },
    ServersAdd {
        addr: String,
    },
    /// Connects a network to a peer or neighbour (`gnutella`, `HOST:PORT`).
    Connect {
        network: String,
        addr: String,
    },
    ServersRemove {
        addr: String,
    },
    /// Imports an eMule `server.met` file given by path.
    ServersImport {
        path: String,
    },
    /// Changes the global limits; `None` leaves one as it is. Rates in bytes/s, 0 = unlimited.
    SetLimits {
        #[serde(default)]
        download: Option<u64>,
        #[serde(default)]
        upload: Option<u64>,
        #[serde(default)]
        slots: Option<usize>,
    },
    /// Stops the engine.
    Stop,
}

/// One answer line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Response {
    Ok,
    Error {
        message: String,
    },
    Snapshot(Box<Snapshot>),
    SearchStarted {
        id: u64,
    },
    Added {
        download: Box<DownloadView>,
    },
    Imported {
        count: usize,
    },
    /// The files of download `id` (empty for a single file).
    Files {
        id: u64,
        files: Vec<swarmux_net::FileInfo>,
    },
    /// Every shared file, and the shares revision they belong to.
    SharedFiles {
        revision: u64,
        files: Vec<SharedFileView>,
    },
    /// Rows of one search (used by `search --wait` through the snapshot too).
    Results {
        rows: Vec<ResultRow>,
    },
}
