//! The torrent task's periodic work: rates, choking, connecting, DHT, PEX,
//! request timeouts, and the reports to the engine.

use super::shared::{PeerCmd, PeerShared};
use super::status::{MainMsg, TorrentStatus};
use super::torrent::{choker_config, Torrent, TorrentMsg};
use crate::core::{Choker, PeerStats};
use crate::proto::pex::{PEX_FLAG_CONNECTABLE, PEX_FLAG_SEED};
use crate::proto::PexMessage;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use swarmux_net::{DownloadStats, FileInfo, NetEvent, PeerInfo, SeedInfo, UploadInfo};
use tokio::time::Instant;

/// A request unanswered this long goes back to the pool.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// A peer that unchoked us but sent nothing this long is snubbed.
const SNUB: Duration = Duration::from_secs(60);
/// Ticks (of 500 ms) between PEX messages, and between Files reports.
const PEX_TICKS: u64 = 120;
const FILES_TICKS: u64 = 10;

impl Torrent {
    pub fn on_tick(&mut self) {
        self.ticks += 1;
        self.flush_verified();
        if !self.ticks.is_multiple_of(2) {
            return;
        }
        let now = Instant::now();
        self.update_rates(now);
        let slots = self.env.limits.upload_slots().max(1);
        if slots != self.slots {
            self.slots = slots;
            self.choker = Choker::new(choker_config(slots));
        }
        self.choke_round(false);
        self.connect_more();
        self.dht(now);
        self.request_metadata();
        if self.ticks.is_multiple_of(20) {
            self.timeouts(now);
        }
        if self.ticks.is_multiple_of(PEX_TICKS) {
            self.send_pex();
        }
        if self.ticks.is_multiple_of(FILES_TICKS) && !self.complete {
            self.emit_files();
        }
        if self.complete {
            // Seeds have nothing for each other.
            for e in self.peers.all() {
                if PeerShared::get(&e.shared.seed) {
                    let _ = e.tx.send(PeerCmd::Close);
                }
            }
        } else {
            self.emit_progress(now);
        }
        self.emit_status(now);
    }

    pub(crate) fn update_rates(&mut self, now: Instant) {
        let now = now.into_std();
        let mut down = 0;
        let mut up = 0;
        for e in self.peers.map.values_mut() {
            let d = e.shared.downloaded.load(Ordering::Relaxed);
            let u = e.shared.uploaded.load(Ordering::Relaxed);
            e.down.record(d - e.last_down, now);
            e.up.record(u - e.last_up, now);
            down += d - e.last_down;
            up += u - e.last_up;
            e.last_down = d;
            e.last_up = u;
        }
        self.down.record(down, now);
        self.up.record(up, now);
        self.counters.downloaded.fetch_add(down, Ordering::Relaxed);
        self.counters.uploaded.fetch_add(up, Ordering::Relaxed);
    }

    /// A choking round: when due, or at once with `now_anyway`.
    pub fn choke_round(&mut self, now_anyway: bool) {
        let now = Instant::now();
        let stats: Vec<PeerStats<u64>> = self
            .peers
            .map
            .iter()
            .filter(|(_, e)| e.peer_id.is_some())
            .map(|(k, e)| PeerStats {
                peer: *k,
                interested: PeerShared::get(&e.shared.peer_interested),
                download_rate: e.down.rate(now.into_std()),
                upload_rate: e.up.rate(now.into_std()),
                snubbed: PeerShared::get(&e.shared.am_interested)
                    && !PeerShared::get(&e.shared.peer_choking)
                    && e.shared.since_last_block(now.into_std()) > SNUB,
            })
            .collect();
        let changes = if now_anyway {
            Some(self.choker.recompute(now.into_std(), &stats, self.complete))
        } else {
            self.choker.tick(now.into_std(), &stats, self.complete)
        };
        let Some(ch) = changes else { return };
        for k in ch.unchoke {
            if let Some(e) = self.peers.map.get(&k) {
                let _ = e.tx.send(PeerCmd::Unchoke);
            }
        }
        for k in ch.choke {
            if let Some(e) = self.peers.map.get(&k) {
                let _ = e.tx.send(PeerCmd::Choke);
            }
        }
    }

    fn timeouts(&mut self, now: Instant) {
        let Some(l) = &self.loaded else { return };
        let expired = l.ready.picker().timed_out(now.into_std(), REQUEST_TIMEOUT);
        for (k, req) in expired {
            if let Some(e) = self.peers.map.get(&k) {
                let _ = e.tx.send(PeerCmd::Cancel(req));
            }
        }
    }

    /// DHT lookups while peers are needed, announces while we have a port.
    fn dht(&mut self, now: Instant) {
        if self.private {
            return;
        }
        let Some(dht) = self.env.dht.get().cloned() else {
            return;
        };
        let h = self.info_hash;
        if !self.dht_busy && now >= self.next_dht_lookup && !self.complete {
            self.dht_busy = true;
            let few = self.peers.map.len() < 5;
            self.next_dht_lookup = now + Duration::from_secs(if few { 10 } else { 300 });
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let peers = dht.get_peers(h).await;
                let _ = tx.send(TorrentMsg::DhtPeers(peers));
            });
        } else if now >= self.next_dht_announce && self.env.port() != 0 && !self.checking {
            self.next_dht_announce = now + Duration::from_secs(60);
            let port = self.env.port();
            let tx = self.tx.clone();
            tokio::spawn(async move {
                let ok = dht.announce(h, port).await.is_ok_and(|n| n > 0);
                let _ = tx.send(TorrentMsg::DhtAnnounced(ok));
            });
        }
    }

    fn send_pex(&mut self) {
        if self.private || !self.env.cfg.pex {
            return;
        }
        let current: Vec<(std::net::SocketAddrV4, u8)> = self
            .peers
            .all()
            .filter_map(|e| match e.listen? {
                SocketAddr::V4(a) => {
                    let seed = PeerShared::get(&e.shared.seed);
                    Some((
                        a,
                        PEX_FLAG_CONNECTABLE | if seed { PEX_FLAG_SEED } else { 0 },
                    ))
                }
                SocketAddr::V6(_) => None,
            })
            .collect();
        for e in self.peers.map.values_mut() {
            if !e.pex {
                continue;
            }
            let own = e.listen;
            let now: HashSet<_> = current
                .iter()
                .filter(|(a, _)| Some(SocketAddr::V4(*a)) != own)
                .map(|(a, _)| *a)
                .collect();
            let msg = PexMessage {
                added: current
                    .iter()
                    .filter(|(a, _)| now.contains(a) && !e.pex_sent.contains(a))
                    .copied()
                    .collect(),
                dropped: e.pex_sent.difference(&now).copied().collect(),
            };
            if !msg.added.is_empty() || !msg.dropped.is_empty() {
                let _ = e.tx.send(PeerCmd::Pex(msg.encode()));
            }
            e.pex_sent = now;
        }
    }

    /// The per-file progress of a multi-file torrent.
    pub fn emit_files(&self) {
        let Some(l) = &self.loaded else { return };
        if !l.meta.info.multi_file {
            return;
        }
        let mut done = vec![0u64; l.layout.files().len()];
        {
            let picker = l.ready.picker();
            for piece in picker.have().iter_ones() {
                for seg in l.layout.piece_segments(piece) {
                    done[seg.file] += u64::from(seg.len);
                }
            }
        }
        let files = l
            .meta
            .info
            .files
            .iter()
            .zip(&l.meta.priorities)
            .zip(done)
            .filter(|((f, _), _)| !f.padding)
            .map(|((f, p), done)| FileInfo {
                path: f.path.join("/"),
                size: f.length,
                done,
                priority: super::meta::from_priority(*p),
            })
            .collect();
        self.env.emit(NetEvent::Files { id: self.id, files });
    }

    fn note(&self) -> String {
        let peers = self.peers.map.len();
        if self.checking {
            return "checking the data already on disk".into();
        }
        if self.loaded.is_none() {
            let n = self
                .peers
                .all()
                .filter(|e| e.metadata_size.is_some())
                .count();
            return if n > 0 {
                format!("fetching metadata from {n} peers")
            } else if peers > 0 {
                format!("waiting for metadata ({peers} peers, none offers it yet)")
            } else {
                self.no_peers_note("looking for peers to fetch the metadata from")
            };
        }
        if peers == 0 {
            return self.no_peers_note("no peers yet");
        }
        String::new()
    }

    fn no_peers_note(&self, base: &str) -> String {
        match self
            .tracker_rows
            .iter()
            .find(|r| r.state.starts_with("error"))
        {
            Some(r) if self.tracker_rows.iter().all(|r| r.state != "ok") => {
                format!("tracker {}", r.state)
            }
            _ => base.to_string(),
        }
    }

    fn emit_progress(&self, now: Instant) {
        let now_std = now.into_std();
        let peers: Vec<PeerInfo> = self
            .peers
            .all()
            .filter(|e| e.peer_id.is_some())
            .map(|e| {
                let state =
                    if PeerShared::get(&e.shared.seed) && PeerShared::get(&e.shared.peer_choking) {
                        "seed (choked)"
                    } else if !PeerShared::get(&e.shared.am_interested) {
                        "no needed pieces"
                    } else if PeerShared::get(&e.shared.peer_choking) {
                        "choked"
                    } else if e.shared.since_last_block(now_std) < Duration::from_secs(5) {
                        "downloading"
                    } else {
                        "interested"
                    };
                PeerInfo {
                    addr: e.addr.to_string(),
                    client: e.client.clone(),
                    state: state.into(),
                    received: e.last_down,
                    rate: e.down.rate(now_std),
                }
            })
            .collect();
        let active = self
            .peers
            .all()
            .filter(|e| {
                e.shared.since_last_block(now_std) < Duration::from_secs(5) && e.last_down > 0
            })
            .count();
        let stats = DownloadStats {
            received: self.down.total(),
            rate: self.down.rate(now_std),
            sources: self.peers.known_count() as u32,
            active_sources: active as u32,
            note: self.note(),
            peers,
        };
        self.env.emit(NetEvent::Progress { id: self.id, stats });
    }

    fn emit_status(&self, now: Instant) {
        let now = now.into_std();
        let uploads = self
            .peers
            .all()
            .filter(|e| {
                e.last_up > 0 && (e.up.rate(now) > 0 || PeerShared::get(&e.shared.peer_interested))
            })
            .map(|e| UploadInfo {
                peer: e.addr.to_string(),
                client: e.client.clone(),
                file: self.name.clone(),
                sent: e.last_up,
                rate: e.up.rate(now),
            })
            .collect();
        let seed = self.complete.then(|| {
            let ok = self.tracker_rows.iter().find(|r| r.state == "ok");
            let note = match (ok, self.tracker_rows.first()) {
                (Some(r), _) => format!("tracker: {}", r.message),
                (None, Some(r)) => format!("tracker {}", r.state),
                (None, None) => String::new(),
            };
            SeedInfo {
                id: self.id,
                name: self.name.clone(),
                size: self.loaded.as_ref().map_or(0, |l| l.meta.info.total_length),
                uploaded: self.up.total(),
                downloaded: self.down.total(),
                rate: self.up.rate(now),
                peers: self.peers.map.len() as u32,
                note,
            }
        });
        let status = TorrentStatus {
            uploads,
            seed,
            trackers: self.tracker_rows.clone(),
        };
        let _ = self.main.send(MainMsg::Status(self.id, status));
    }
}
