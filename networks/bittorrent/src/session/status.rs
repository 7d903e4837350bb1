//! What torrent tasks report to the network's main loop, which merges them
//! into the engine's Uploads, Seeding and Servers lists.

use swarmux_net::{DownloadId, SeedInfo, ServerInfo, UploadInfo};

/// One torrent's share of the network-wide lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TorrentStatus {
    pub uploads: Vec<UploadInfo>,
    /// Set once the torrent is complete (it is seeded).
    pub seed: Option<SeedInfo>,
    pub trackers: Vec<ServerInfo>,
}

/// Messages from torrent tasks to the main loop.
pub(crate) enum MainMsg {
    Status(DownloadId, TorrentStatus),
    /// The task ended.
    Ended(DownloadId),
}
