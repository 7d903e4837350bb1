//! Building the snapshot clients render.

use super::Engine;
use swarmux_api::{
    DaemonInfo, NetworkView, SeedView, SharedFileView, SharesView, Snapshot, Totals, UploadView,
};

/// Log lines carried in each snapshot.
const LOG_IN_SNAPSHOT: usize = 200;

impl Engine {
    pub(super) fn snapshot(&self) -> Snapshot {
        let downloads: Vec<_> = self.queue.iter().map(|d| d.view()).collect();
        let uploads: Vec<UploadView> = self
            .nets
            .iter()
            .flat_map(|n| {
                n.uploads.iter().map(|u| UploadView {
                    network: n.network.name().to_string(),
                    info: u.clone(),
                })
            })
            .collect();
        let seeding: Vec<SeedView> = self
            .nets
            .iter()
            .flat_map(|n| {
                n.seeding.iter().map(|s| SeedView {
                    network: n.network.name().to_string(),
                    info: s.clone(),
                })
            })
            .collect();
        let networks = self
            .nets
            .iter()
            .map(|n| NetworkView {
                name: n.network.name().to_string(),
                servers: n.servers.clone(),
                listening: n
                    .listening
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect(),
                uploaded: n.uploaded,
            })
            .collect::<Vec<_>>();
        let totals = Totals {
            down_rate: downloads.iter().map(|d| d.rate).sum(),
            up_rate: uploads.iter().map(|u| u.info.rate).sum(),
            received: downloads.iter().map(|d| d.received).sum(),
            uploaded: self.nets.iter().map(|n| n.uploaded).sum(),
            down_limit: self.limits.download.rate(),
            up_limit: self.limits.upload.rate(),
            upload_slots: self.limits.upload_slots(),
            max_active_downloads: self.config.max_active_downloads,
            connected_servers: networks
                .iter()
                .flat_map(|n| n.servers.iter())
                .filter(|s| s.state == "connected")
                .count(),
        };
        let dirs: Vec<String> = self
            .shared_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let skip = self.log.len().saturating_sub(LOG_IN_SNAPSHOT);
        Snapshot {
            seq: self.seq,
            daemon: DaemonInfo {
                pid: std::process::id(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                data_dir: self.data_dir.display().to_string(),
                download_dir: self.config.download_dir.display().to_string(),
                started: self.started,
            },
            totals,
            searches: self.hub.views(),
            downloads,
            shares: SharesView {
                dirs,
                file_count: self.shares.len(),
                revision: self.shares_revision,
                hashing: self.hashing.clone(),
            },
            uploads,
            seeding,
            networks,
            log: self.log.iter().skip(skip).cloned().collect(),
        }
    }
}

impl Engine {
    /// Every shared file as clients list it.
    pub(super) fn shared_file_views(&self) -> Vec<SharedFileView> {
        self.shares
            .iter()
            .map(|f| SharedFileView {
                path: f.path.display().to_string(),
                size: f.size,
                ed2k: hex_of(&f.ed2k),
            })
            .collect()
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
