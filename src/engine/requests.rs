//! Handling of control requests.

use super::files::{safe_file_name, temp_name};
use super::{now_secs, Engine};
use crate::store::DownloadRecord;
use swarmux_api::{DownloadState, Request, Response, SearchParams};
use swarmux_net::dial::host_port;
use swarmux_net::message::LogLevel;
use swarmux_net::{parse_query, NetCommand, SearchRequest, Servers};

fn error(message: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
    }
}

impl Engine {
    pub(super) fn request(&mut self, req: Request) -> Response {
        match req {
            Request::Snapshot | Request::Subscribe => Response::Snapshot(Box::new(self.snapshot())),
            Request::Search(p) => self.search(p),
            Request::Get { target } => self.get(&target),
            Request::Pause { id } => self.pause(id),
            Request::Resume { id } => self.resume(id),
            Request::Cancel { id } => self.cancel(id),
            Request::Priority { id, priority } => match self.queue.get_mut(id) {
                Some(d) => {
                    d.rec.priority = priority;
                    let _ = self.store.put_download(&d.rec);
                    self.schedule();
                    Response::Ok
                }
                None => no_such(id),
            },
            Request::Files { id } => match self.queue.get(id) {
                Some(d) => Response::Files {
                    id,
                    files: d.files.clone(),
                },
                None => no_such(id),
            },
            Request::SharedFiles => Response::SharedFiles {
                revision: self.shares_revision,
                files: self.shared_file_views(),
            },
            Request::FilePriority { id, file, priority } => match self.queue.get(id) {
                Some(d) if file < d.files.len() => {
                    let net = d.rec.network.clone();
                    self.send_to(&net, NetCommand::SetFilePriority { id, file, priority });
                    Response::Ok
                }
                Some(d) => error(format!(
                    "#{id} has {} files (numbered from 0; see `swarmux files {id}`)",
                    d.files.len()
                )),
                None => no_such(id),
            },
            Request::ShareAdd { dir } => self.share_add(&dir),
            Request::ShareRemove { dir } => match self.store.remove_share_dir(dir.as_ref()) {
                Ok(true) => {
                    self.added_share_dirs
                        .retain(|d| d.as_path() != std::path::Path::new(&dir));
                    self.info("shares", format!("stopped sharing {dir}"));
                    self.rescan_shares();
                    Response::Ok
                }
                Ok(false) => error(format!(
                    "{dir} is not a shared folder (see `swarmux share list`)"
                )),
                Err(e) => error(e.to_string()),
            },
            Request::ServersAdd { addr } => self.server_add(&addr),
            Request::Connect { network, addr } => {
                if self.net_index(&network).is_none() {
                    return error(format!("the {network} network is not enabled"));
                }
                match host_port(&addr) {
                    Ok(addr) => {
                        self.info(&network, format!("connecting to {addr}"));
                        self.send_to(&network, NetCommand::AddServer(addr));
                        Response::Ok
                    }
                    Err(e) => error(e),
                }
            }
            Request::ServersRemove { addr } => self.server_remove(&addr),
            // The engine's loop reads the file off its task first (see `fetch`).
            Request::ServersImport { path } => error(format!(
                "{path}: a server.met is read before it reaches the queue"
            )),
            Request::SetLimits {
                download,
                upload,
                slots,
            } => {
                if let Some(d) = download {
                    self.limits.download.set_rate(d);
                }
                if let Some(u) = upload {
                    self.limits.upload.set_rate(u);
                }
                if let Some(s) = slots {
                    self.limits.set_upload_slots(s);
                }
                Response::Ok
            }
            Request::Stop => {
                self.stopping = true;
                Response::Ok
            }
        }
    }

    fn search(&mut self, p: SearchParams) -> Response {
        let expr = match parse_query(&p.text) {
            Ok(e) => e,
            Err(e) => return error(e.to_string()),
        };
        let targets: Vec<String> = self
            .nets
            .iter()
            .map(|n| n.network.name().to_string())
            .filter(|n| p.networks.is_empty() || p.networks.contains(n))
            .collect();
        if targets.is_empty() {
            return error("no enabled network matches the search's network list");
        }
        let id = self.hub.start(&p.text, &targets);
        let req = std::sync::Arc::new(SearchRequest {
            id,
            text: p.text.clone(),
            expr,
            min_size: p.min_size,
            max_size: p.max_size,
            kind: p.kind,
            extension: p
                .extension
                .map(|e| e.trim_start_matches('.').to_ascii_lowercase()),
        });
        for t in &targets {
            self.send_to(t, NetCommand::Search(req.clone()));
        }
        self.info(
            "search",
            format!("#{id} \"{}\" sent to {}", p.text, targets.join(", ")),
        );
        Response::SearchStarted { id }
    }

    /// The link a `get` target names: a search row's first link, or the
    /// target itself.
    pub(super) fn link_of(&self, target: &str) -> Result<String, Response> {
        let target = target.trim();
        match target.parse::<u64>() {
            Ok(row) => match self.hub.links_of_row(row) {
                Some(links) => Ok(links[0].1.clone()),
                None => Err(error(format!(
                    "no search result #{row} (results of the last 8 searches can be fetched)"
                ))),
            },
            Err(_) => Ok(target.to_string()),
        }
    }

    pub(super) fn get(&mut self, target: &str) -> Response {
        let link = match self.link_of(target) {
            Ok(link) => link,
            Err(e) => return e,
        };
        let Some(net) = self.nets.iter().find(|n| n.network.handles_link(&link)) else {
            if link.to_ascii_lowercase().ends_with(".torrent") && !link.contains("://") {
                return error(format!("{link}: no such .torrent file"));
            }
            return error(format!(
                "no network understands {link:?} (expected a result number, an ed2k:// or magnet: link, or a .torrent file or URL)"
            ));
        };
        let network = net.network.name().to_string();
        let checks_in_place = net.network.checks_data_in_place();
        let (name, size, hash) = match net.network.parse_link(&link) {
            Ok(v) => v,
            Err(e) => return error(format!("bad link: {e}")),
        };
        let hash = hash.to_string();
        if let Some(d) = self.queue.find_unfinished(&hash) {
            return error(format!(
                "already in the queue as #{} ({})",
                d.rec.id, d.rec.name
            ));
        }
        let id = match self.store.next_download_id() {
            Ok(id) => id,
            Err(e) => return error(e.to_string()),
        };
        // A torrent whose data is already in the download folder (same name,
        // same size) is checked and completed there, then seeded, as
        // qBittorrent and rtorrent do when pointed at existing data.
        let max = swarmux_net::names::name_max(&self.config.download_dir);
        let existing = self.config.download_dir.join(safe_file_name(&name, max));
        let in_place = checks_in_place
            && size > 0
            && std::fs::metadata(&existing).is_ok_and(|m| m.is_dir() || m.len() == size);
        let temp_path = if in_place {
            self.info(
                "queue",
                format!("#{id}: checking the data already at {}", existing.display()),
            );
            existing
        } else {
            self.config.temp_dir.join(temp_name(id, &hash))
        };
        let rec = DownloadRecord {
            id,
            name: name.clone(),
            size,
            network,
            temp_path,
            hash,
            link,
            priority: Default::default(),
            state: DownloadState::Queued,
            final_path: None,
            meta: None,
            parts_total: 0,
            verified: Vec::new(),
            added: now_secs(),
            order: self.queue.next_order(),
        };
        if let Err(e) = self.store.put_download(&rec) {
            return error(format!("cannot save the queue: {e}"));
        }
        self.queue.insert(rec);
        self.info("queue", format!("#{id} added: {name}"));
        self.schedule();
        match self.queue.get(id) {
            Some(d) => Response::Added {
                download: Box::new(d.view()),
            },
            None => error("the download vanished"),
        }
    }

    fn pause(&mut self, id: u64) -> Response {
        let Some(d) = self.queue.get_mut(id) else {
            return no_such(id);
        };
        match d.rec.state {
            DownloadState::Queued | DownloadState::Downloading => {}
            ref s => return error(format!("#{id} is {} and cannot be paused", s.label())),
        }
        let was_running = std::mem::take(&mut d.running);
        d.rec.state = DownloadState::Paused;
        d.stats = Default::default();
        let rec = d.rec.clone();
        let _ = self.store.put_download(&rec);
        if was_running {
            self.send_to(&rec.network, NetCommand::PauseDownload(id));
        }
        self.schedule();
        Response::Ok
    }

    fn resume(&mut self, id: u64) -> Response {
        let Some(d) = self.queue.get_mut(id) else {
            return no_such(id);
        };
        match d.rec.state {
            DownloadState::Paused | DownloadState::Error(_) => {
                d.rec.state = DownloadState::Queued;
                let _ = self.store.put_download(&d.rec.clone());
                self.schedule();
                Response::Ok
            }
            ref s => error(format!("#{id} is {}, not paused", s.label())),
        }
    }

    fn cancel(&mut self, id: u64) -> Response {
        let Some(d) = self.queue.remove(id) else {
            return no_such(id);
        };
        // Also stops seeding a finished one; its file stays.
        if d.running || d.rec.state == DownloadState::Complete {
            self.send_to(&d.rec.network, NetCommand::CancelDownload(id));
        }
        // Partial data is deleted only from the temp folder: data checked in
        // place (a torrent added for files already there) is the user's.
        let temp = &d.rec.temp_path;
        if d.rec.state != DownloadState::Complete && temp.starts_with(&self.config.temp_dir) {
            let _ = if temp.is_dir() {
                std::fs::remove_dir_all(temp)
            } else {
                std::fs::remove_file(temp)
            };
        }
        if let Err(e) = swarmux_net::written::forget_download(&self.data_dir, id) {
            self.log_line(LogLevel::Warn, "queue", format!("#{id}: {e}"));
        }
        if let Err(e) = self.store.delete_download(id) {
            self.log_line(LogLevel::Error, "queue", format!("forgetting #{id}: {e}"));
        }
        self.info("queue", format!("#{id} cancelled: {}", d.rec.name));
        self.schedule();
        Response::Ok
    }

    fn share_add(&mut self, dir: &str) -> Response {
        let path = match std::fs::canonicalize(dir) {
            Ok(p) if p.is_dir() => p,
            Ok(_) => return error(format!("{dir} is not a folder")),
            Err(e) => return error(format!("cannot share {dir}: {e}")),
        };
        if let Err(e) = self.store.add_share_dir(&path) {
            return error(e.to_string());
        }
        if !self.added_share_dirs.contains(&path) {
            self.added_share_dirs.push(path.clone());
        }
        self.info("shares", format!("sharing {}", path.display()));
        self.rescan_shares();
        Response::Ok
    }

    /// The first enabled network that uses servers, with its name.
    fn server_network(&self) -> Result<(&'static str, &dyn Servers), Response> {
        self.nets
            .iter()
            .find_map(|n| Some((n.network.name(), n.network.servers()?)))
            .ok_or_else(|| error("no enabled network uses servers"))
    }

    fn server_add(&mut self, input: &str) -> Response {
        let (name, addr) = match self.server_network() {
            Ok((name, servers)) => match servers.parse_server(input) {
                Ok(addr) => (name, addr),
                Err(e) => return error(e),
            },
            Err(e) => return e,
        };
        if let Err(e) = self.store.add_server(name, &addr) {
            return error(e.to_string());
        }
        self.send_to(name, NetCommand::AddServer(addr));
        Response::Ok
    }

    fn server_remove(&mut self, input: &str) -> Response {
        let (name, addr) = match self.server_network() {
            Ok((name, servers)) => (name, servers.parse_server(input).unwrap_or(input.into())),
            Err(e) => return e,
        };
        match self.store.remove_server(name, &addr) {
            Ok(removed) => {
                self.send_to(name, NetCommand::RemoveServer(addr.clone()));
                if removed {
                    Response::Ok
                } else {
                    error(format!("{addr} is not in the server list"))
                }
            }
            Err(e) => error(e.to_string()),
        }
    }

    /// Adds the servers of the server list file read from `path`.
    pub(super) fn servers_import(&mut self, path: &str, bytes: &[u8]) -> Response {
        let (name, servers) = match self.server_network() {
            Ok((name, servers)) => match servers.parse_server_list(bytes) {
                Ok(list) => (name, list),
                Err(e) => return error(format!("{path}: {e}")),
            },
            Err(e) => return e,
        };
        let mut count = 0;
        for addr in servers {
            if self.store.add_server(name, &addr).is_ok() {
                self.send_to(name, NetCommand::AddServer(addr));
                count += 1;
            }
        }
        self.info("servers", format!("imported {count} servers from {path}"));
        Response::Imported { count }
    }
}

fn no_such(id: u64) -> Response {
    error(format!("no download #{id} (see `swarmux list`)"))
}
