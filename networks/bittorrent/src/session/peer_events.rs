//! The torrent task's side of its connections: dialing, accepting, and what
//! peer tasks report.

use super::metadata_fetch::MetadataFetch;
use super::peer::{self, Dial, PeerSetup};
use super::peers::PeerEntry;
use super::shared::{client_from_peer_id, PeerCmd, PeerEvent, PeerShared};
use super::torrent::Torrent;
use crate::core::RateMeter;
use crate::proto::{ExtensionError, Handshake};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::gate::Admission;
use swarmux_net::message::LogLevel;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

impl Torrent {
    fn max_peers(&self) -> usize {
        self.env.cfg.max_peers_per_torrent.max(1)
    }

    /// True for our own listening address.
    fn is_self(&self, a: &SocketAddr) -> bool {
        let ip = a.ip();
        a.port() == self.env.port()
            && (ip.is_loopback() || ip.is_unspecified() || ip == self.env.cfg.listen.ip())
    }

    /// Dials known addresses while there is room.
    pub fn connect_more(&mut self) {
        if self.checking || self.failed {
            return;
        }
        let room = self.max_peers().saturating_sub(self.peers.map.len());
        if room == 0 {
            return;
        }
        let connected: HashSet<SocketAddr> = self.peers.all().map(|e| e.ident()).collect();
        let due = self.peers.due(Instant::now(), |a| {
            self.is_self(a) || connected.contains(a) || self.peers.is_banned(a, None)
        });
        for addr in due.into_iter().take(room) {
            let Some(slot) = self.env.try_conn() else {
                break;
            };
            self.peers.dialing(addr);
            self.spawn_peer(addr, Dial::Out, slot, None);
        }
    }

    /// A peer connected to us.
    pub fn accept(
        &mut self,
        stream: TcpStream,
        addr: SocketAddr,
        hs: Handshake,
        admission: Admission,
    ) {
        if self.failed
            || self.peers.map.len() >= self.max_peers()
            || self.peers.is_banned(&addr, Some(&hs.peer_id))
        {
            return;
        }
        let Some(slot) = self.env.try_conn() else {
            return;
        };
        self.spawn_peer(addr, Dial::In(stream, hs), slot, Some(admission));
    }

    fn spawn_peer(
        &mut self,
        addr: SocketAddr,
        dial: Dial,
        slot: swarmux_net::CountGuard,
        admission: Option<Admission>,
    ) {
        let outgoing = admission.is_none();
        let key = self.env.next_key();
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(PeerShared::new());
        let ready = if self.checking {
            None
        } else {
            self.loaded.as_ref().map(|l| l.ready.clone())
        };
        let setup = PeerSetup {
            env: self.env.clone(),
            key,
            addr,
            info_hash: self.info_hash,
            ready,
            private: self.private,
            shared: shared.clone(),
            events: self.tx.clone(),
            slot,
            admission,
        };
        tokio::spawn(peer::run(setup, dial, rx));
        self.peers.map.insert(
            key,
            PeerEntry {
                addr,
                tx,
                shared,
                outgoing,
                peer_id: None,
                client: String::new(),
                pex: false,
                metadata_size: None,
                listen: outgoing.then_some(addr),
                down: RateMeter::new(Duration::from_secs(5)),
                up: RateMeter::new(Duration::from_secs(5)),
                last_down: 0,
                last_up: 0,
                pex_sent: HashSet::new(),
            },
        );
    }

    pub fn on_peer(&mut self, key: u64, ev: PeerEvent) {
        match ev {
            PeerEvent::Handshaked { peer_id } => {
                let dup = self.peers.all().any(|e| e.peer_id == Some(peer_id));
                let banned = self
                    .peers
                    .map
                    .get(&key)
                    .is_some_and(|e| self.peers.is_banned(&e.addr, Some(&peer_id)));
                let Some(e) = self.peers.map.get_mut(&key) else {
                    return;
                };
                if dup || banned {
                    let _ = e.tx.send(PeerCmd::Close);
                    return;
                }
                e.peer_id = Some(peer_id);
                e.client = client_from_peer_id(&peer_id);
            }
            PeerEvent::Ext {
                client,
                listen_port,
                pex,
                metadata_size,
            } => {
                let now = Instant::now();
                let Some(e) = self.peers.map.get_mut(&key) else {
                    return;
                };
                if let Some(c) = client.filter(|c| !c.is_empty()) {
                    e.client = c;
                }
                e.pex = pex;
                e.metadata_size = metadata_size;
                if let (false, Some(p)) = (e.outgoing, listen_port) {
                    let l = SocketAddr::new(e.addr.ip(), p);
                    e.listen = Some(l);
                    self.peers.mark_connected(l, now);
                }
                if self.loaded.is_none() && self.metadata.is_none() {
                    if let Some(size) = metadata_size {
                        self.metadata = MetadataFetch::new(self.info_hash, size);
                    }
                }
                self.request_metadata();
            }
            PeerEvent::Interested => {
                if self.choker.unchoked().len() < self.slots + 1 {
                    self.choke_round(true);
                }
            }
            PeerEvent::Pex(addrs) => {
                let now = Instant::now();
                for a in addrs {
                    self.peers.add_candidate(a, now);
                }
                self.connect_more();
            }
            PeerEvent::Metadata { piece, total, data } => self.on_metadata(piece, total, &data),
            PeerEvent::MetadataReject => {
                if let Some(m) = &mut self.metadata {
                    m.refused(key);
                }
                self.request_metadata();
            }
            PeerEvent::Cancel { peers, req } => {
                for k in peers {
                    if let Some(e) = self.peers.map.get(&k) {
                        let _ = e.tx.send(PeerCmd::Cancel(req));
                    }
                }
            }
            PeerEvent::DhtNode(a) => {
                if let Some(d) = self.env.dht.get() {
                    d.add_node(a);
                }
            }
            PeerEvent::Closed(reason) => {
                let worked = self
                    .peers
                    .map
                    .get(&key)
                    .is_some_and(|e| e.peer_id.is_some());
                // Count what it moved since the last rate tick (a fast peer
                // can take a whole file between two ticks).
                self.update_rates(tokio::time::Instant::now());
                if let Some(e) = self.peers.closed(key, worked, Instant::now()) {
                    tracing::debug!(peer = %e.addr, %reason, "peer closed");
                }
                if self.choker.is_unchoked(key) {
                    self.choke_round(true);
                }
                self.request_metadata();
            }
        }
    }

    /// Asks peers for the metadata pieces still missing.
    pub fn request_metadata(&mut self) {
        let Some(m) = &mut self.metadata else { return };
        let size = m.size();
        let capable: Vec<u64> = self
            .peers
            .map
            .iter()
            .filter(|(_, e)| e.metadata_size == Some(size))
            .map(|(k, _)| *k)
            .collect();
        for (k, piece) in m.next_requests(&capable, Instant::now()) {
            if let Some(e) = self.peers.map.get(&k) {
                let _ = e.tx.send(PeerCmd::RequestMetadata(piece));
            }
        }
    }

    fn on_metadata(&mut self, piece: u32, total: u64, data: &[u8]) {
        let Some(m) = &mut self.metadata else { return };
        match m.add(piece, total, data) {
            Ok(Some(info)) => self.on_info(info),
            Ok(None) => self.request_metadata(),
            Err(ExtensionError::Metainfo(e)) => {
                self.fail(format!("the torrent's metadata is unusable: {e}"));
            }
            Err(e) => {
                self.env.log(
                    LogLevel::Warn,
                    format!("{}: bad metadata from a peer: {e}", self.name),
                );
                self.request_metadata();
            }
        }
    }
}
