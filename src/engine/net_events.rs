//! Handling of events from the network tasks.

use super::files::move_into;
use super::{Engine, EngineMsg};
use std::path::PathBuf;
use swarmux_api::DownloadState;
use swarmux_net::message::LogLevel;
use swarmux_net::NetEvent;

impl Engine {
    pub(super) fn net_event(&mut self, index: usize, ev: NetEvent) {
        let net = self.nets[index].network.name();
        match ev {
            NetEvent::Listening { name, addr } => {
                self.nets[index].listening.insert(name.clone(), addr);
                self.info(net, format!("listening on {addr} ({name})"));
                self.write_ports();
            }
            NetEvent::Hit(hit) => {
                self.hub.add_hit(hit);
            }
            NetEvent::SearchDone { search } => self.hub.network_done(search, net),
            NetEvent::DownloadMeta { id, parts, meta } => {
                if let Some(d) = self.queue.get_mut(id) {
                    d.rec.parts_total = parts;
                    d.rec.verified.resize(parts, false);
                    d.rec.meta = Some(meta.clone());
                    if let Err(e) = self.store.set_meta(id, parts, meta) {
                        self.log_line(LogLevel::Error, "store", format!("saving #{id}: {e}"));
                    }
                }
            }
            NetEvent::PartVerified { id, part } => self.parts_verified(id, &[part]),
            NetEvent::PartsVerified { id, parts } => self.parts_verified(id, &parts),
            NetEvent::Described { id, name, size } => {
                if let Some(d) = self.queue.get_mut(id) {
                    d.rec.name = name;
                    d.rec.size = size;
                    let rec = d.rec.clone();
                    let _ = self.store.put_download(&rec);
                }
            }
            NetEvent::Files { id, files } => {
                if let Some(d) = self.queue.get_mut(id) {
                    d.files = files;
                }
            }
            NetEvent::Seeding(s) => self.nets[index].seeding = s,
            NetEvent::PartCorrupt { id, part, blamed } => {
                let name = self
                    .queue
                    .get(id)
                    .map(|d| d.rec.name.clone())
                    .unwrap_or_default();
                self.log_line(
                    LogLevel::Warn,
                    net,
                    format!(
                        "part {part} of #{id} {name} failed verification and will be fetched again; blamed: {}",
                        blamed.join(", ")
                    ),
                );
            }
            NetEvent::Progress { id, stats } => {
                if let Some(d) = self.queue.get_mut(id) {
                    if d.running {
                        d.stats = stats;
                    }
                }
            }
            NetEvent::Completed { id } => self.completed(id),
            NetEvent::Failed { id, reason } => {
                if let Some(d) = self.queue.get_mut(id) {
                    d.running = false;
                    d.rec.state = DownloadState::Error(reason.clone());
                    let rec = d.rec.clone();
                    let _ = self.store.put_download(&rec);
                    self.log_line(
                        LogLevel::Error,
                        net,
                        format!("#{id} {} failed: {reason}", rec.name),
                    );
                    self.schedule();
                }
            }
            NetEvent::Uploads(u) => self.nets[index].uploads = u,
            NetEvent::Servers(s) => self.nets[index].servers = s,
            NetEvent::Uploaded(total) => self.nets[index].uploaded = total,
            NetEvent::Log { level, message } => self.log_line(level, net, message),
        }
    }

    fn parts_verified(&mut self, id: u64, parts: &[usize]) {
        let Some(d) = self.queue.get_mut(id) else {
            return;
        };
        let top = parts.iter().max().map_or(0, |p| p + 1);
        if d.rec.verified.len() < top {
            d.rec.verified.resize(top, false);
        }
        for &part in parts {
            d.rec.verified[part] = true;
        }
        let total = d.rec.parts_total.max(d.rec.verified.len());
        d.rec.parts_total = total;
        if let Err(e) = self.store.mark_verified(id, parts, total) {
            self.log_line(LogLevel::Error, "store", format!("saving #{id}: {e}"));
        }
    }

    /// All parts are verified: move the file out of `temp/` off the engine
    /// thread (data checked in place in the download folder stays there).
    fn completed(&mut self, id: u64) {
        let Some(d) = self.queue.get_mut(id) else {
            return;
        };
        d.running = false;
        d.rec.state = DownloadState::Verifying;
        // Keep what was received; the peers and rates no longer apply.
        d.stats.peers.clear();
        d.stats.rate = 0;
        d.stats.active_sources = 0;
        d.stats.note.clear();
        let (temp, name) = (d.rec.temp_path.clone(), d.rec.name.clone());
        let rec = d.rec.clone();
        let _ = self.store.put_download(&rec);
        let dir = self.config.download_dir.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let result = if temp.starts_with(&dir) {
                Ok(temp)
            } else {
                move_into(&temp, &dir, &name, id).map_err(|e| e.to_string())
            };
            let _ = tx.send(EngineMsg::Moved { id, result });
        });
        self.schedule();
    }

    pub(super) fn moved(&mut self, id: u64, result: Result<PathBuf, String>) {
        let Some(d) = self.queue.get_mut(id) else {
            return;
        };
        match result {
            Ok(path) => {
                d.rec.state = DownloadState::Complete;
                d.rec.final_path = Some(path.clone());
                d.rec.verified.iter_mut().for_each(|v| *v = true);
                let rec = d.rec.clone();
                if let Err(e) = swarmux_net::written::forget_download(&self.data_dir, id) {
                    self.log_line(LogLevel::Warn, "queue", format!("#{id}: {e}"));
                }
                let _ = self.store.put_download(&rec);
                self.info("queue", format!("#{id} complete: {}", path.display()));
                self.seed(id);
                // A finished file is shared from where it landed.
                self.rescan_shares();
            }
            Err(e) => {
                // The verified data stays in the temp folder; `resume` moves it again.
                d.rec.state = DownloadState::Error(format!(
                    "moving the finished file to {}: {e}; the data is kept, fix that and `swarmux resume {id}`",
                    self.config.download_dir.display()
                ));
                let rec = d.rec.clone();
                let _ = self.store.put_download(&rec);
                self.log_line(
                    LogLevel::Error,
                    "queue",
                    format!("#{id}: cannot move the finished file: {e}"),
                );
            }
        }
    }

    /// Writes `ports.json`: every socket each network bound, for tests and scripts.
    pub(super) fn write_ports(&mut self) {
        let mut map = serde_json::Map::new();
        for net in &self.nets {
            for (name, addr) in &net.listening {
                map.insert(name.clone(), serde_json::json!(addr.port()));
            }
        }
        let path = self.data_dir.join("ports.json");
        let tmp = self.data_dir.join("ports.json.tmp");
        let body = serde_json::Value::Object(map).to_string();
        if let Err(e) = std::fs::write(&tmp, body).and_then(|_| std::fs::rename(&tmp, &path)) {
            self.log_line(
                LogLevel::Error,
                "engine",
                format!("writing {}: {e}", path.display()),
            );
        }
    }
}
