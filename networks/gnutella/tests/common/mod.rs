//! Shared helpers: `GnutellaNetwork` instances driven through the Network
//! trait on 127.0.0.1, each with its own temp dir, and event helpers.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use swarmux_gnutella::{GnutellaConfig, GnutellaNetwork, Mode};
// Not every test binary uses `pseudo_random`.
use swarmux_gnutella::magnet::{Magnet, Source};
use swarmux_gnutella::proto::huge::Sha1Urn;
#[allow(unused_imports)]
pub use swarmux_net::testing::data as pseudo_random;
use swarmux_net::testing::{search_request, share, Harness};
use swarmux_net::{
    ContentHash, DownloadSpec, Limits, NetCommand, NetEvent, Network, SearchHit, ServerInfo,
    SharedFile,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

pub struct Node {
    pub cmd: mpsc::UnboundedSender<NetCommand>,
    pub events: mpsc::UnboundedReceiver<NetEvent>,
    pub addr: String,
    pub dir: tempfile::TempDir,
    /// The last `Servers` list seen by [`Node::drain`].
    pub servers: Vec<ServerInfo>,
    pub logs: Vec<String>,
    pub uploaded: u64,
}

pub fn config(mode: Mode, peers: Vec<String>) -> GnutellaConfig {
    GnutellaConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        mode,
        peers,
        max_leaves: 32,
        max_ultrapeers: 2,
        ultrapeer_degree: 32,
        firewalled: false,
        deflate: true,
        ultrapeer_qrp: true,
        qrp_refresh: Duration::from_secs(1),
        // Every test node is on 127.0.0.1.
        per_address: 64,
    }
}

pub async fn start(cfg: GnutellaConfig, limits: Limits) -> Node {
    start_shared(cfg, Arc::new(limits)).await
}

/// Like [`start`], keeping a handle on the limits to change them later.
pub async fn start_shared(cfg: GnutellaConfig, limits: Arc<Limits>) -> Node {
    start_in(cfg, limits, tempfile::tempdir().unwrap()).await
}

/// Like [`start_shared`] with a given data dir (e.g. a stopped node's, to
/// restart it).
pub async fn start_in(cfg: GnutellaConfig, limits: Arc<Limits>, dir: tempfile::TempDir) -> Node {
    let net = GnutellaNetwork::new(cfg);
    assert_eq!(net.name(), "gnutella");
    let mut h = Harness::start(&net, limits, dir.path());
    let addr = h.listening(Some("gnutella_tcp")).await;
    Node {
        cmd: h.cmd,
        events: h.events,
        addr: addr.to_string(),
        dir,
        servers: Vec::new(),
        logs: Vec::new(),
        uploaded: 0,
    }
}

impl Node {
    /// Takes every pending event, keeping track of servers, logs and uploads;
    /// returns the others.
    pub fn drain(&mut self) -> Vec<NetEvent> {
        let mut out = Vec::new();
        while let Ok(ev) = self.events.try_recv() {
            self.note(&ev);
            out.push(ev);
        }
        out
    }

    fn note(&mut self, ev: &NetEvent) {
        match ev {
            NetEvent::Servers(s) => self.servers = s.clone(),
            NetEvent::Log { message, .. } => self.logs.push(message.clone()),
            NetEvent::Uploaded(n) => self.uploaded = *n,
            _ => {}
        }
    }

    /// Waits for an event matching `f` (panics after `secs` or on `Failed`).
    pub async fn wait_for<T>(&mut self, secs: u64, mut f: impl FnMut(&NetEvent) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let ev = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out; logs: {:#?}", self.logs))
                .expect("network ended");
            self.note(&ev);
            if let NetEvent::Failed { reason, .. } = &ev {
                panic!("download failed: {reason}");
            }
            if let Some(t) = f(&ev) {
                return t;
            }
        }
    }

    /// Neighbours in state `connected`.
    pub fn connected(&self) -> Vec<&ServerInfo> {
        self.servers
            .iter()
            .filter(|s| s.state == "connected")
            .collect()
    }

    pub fn share(&self, files: Vec<SharedFile>) {
        self.cmd
            .send(NetCommand::SharesChanged(Arc::new(files)))
            .unwrap();
    }

    pub fn search(&self, id: u64, text: &str) {
        let req = search_request(id, text);
        self.cmd.send(NetCommand::Search(Arc::new(req))).unwrap();
    }
}

/// Writes `data` as `dir/name` and describes it as the engine would.
pub fn shared_file(dir: &Path, name: &str, data: &[u8]) -> SharedFile {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    share(&path)
}

/// A download spec for a hit, writing to `dir/name.part`.
pub fn spec_for(hit: &SearchHit, dir: &Path) -> DownloadSpec {
    DownloadSpec {
        id: 77,
        name: hit.name.clone(),
        size: hit.size,
        hash: hit.hashes[0],
        link: hit.link.clone(),
        temp_path: dir.join(format!("{}.part", hit.name)),
        verified: vec![],
        meta: None,
    }
}

/// Waits until `check` holds for the nodes (draining their events), or panics.
pub async fn wait_until(
    nodes: &mut [Node],
    secs: u64,
    what: &str,
    check: impl Fn(&[Node]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        for n in nodes.iter_mut() {
            n.drain();
        }
        if check(nodes) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sums a counter over a node's neighbour lines: `kind` is `queries` or
/// `hits`, `dir` is `in` or `out`.
pub fn count(node: &Node, kind: &str, dir: &str) -> u64 {
    node.connected()
        .iter()
        .filter_map(|s| {
            let seg = s.message.split(", ").find(|p| p.starts_with(kind))?;
            let t: Vec<&str> = seg.split_whitespace().collect();
            // [kind, N, "in", "/", M, "out"]
            let n = if dir == "in" { t.get(1)? } else { t.get(4)? };
            n.parse::<u64>().ok()
        })
        .sum()
}

/// Duplicates dropped over a node's links.
pub fn duplicates(node: &Node) -> u64 {
    node.connected()
        .iter()
        .filter_map(|s| {
            let seg = s.message.split(", ").find(|p| p.ends_with("duplicates"))?;
            seg.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

pub fn is_sha1(h: &ContentHash) -> bool {
    matches!(h, ContentHash::Sha1(_))
}

/// Connects to `addr` as a plain, uncompressed ultrapeer named `agent`,
/// checks the node accepts (200) and completes the handshake.
pub async fn connect_as_ultrapeer(addr: &str, agent: &str) -> TcpStream {
    connect_as_ultrapeer_from(None, addr, agent).await
}

/// Like [`connect_as_ultrapeer`], from the local address `local`.
pub async fn connect_as_ultrapeer_from(
    local: Option<std::net::IpAddr>,
    addr: &str,
    agent: &str,
) -> TcpStream {
    let mut s = swarmux_net::dial::dial(local, addr.parse().unwrap())
        .await
        .unwrap();
    let hello = format!("GNUTELLA CONNECT/0.6\r\nUser-Agent: {agent}\r\nX-Ultrapeer: True\r\n\r\n");
    s.write_all(hello.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).await.unwrap(), 1, "closed in the handshake");
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"GNUTELLA/0.6 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s.write_all(b"GNUTELLA/0.6 200 OK\r\n\r\n").await.unwrap();
    s
}

/// A download spec (id `id`, into `dir`) for `f` from a magnet link whose
/// only source is the node at `source`.
pub fn spec_from_direct_source(id: u64, f: &SharedFile, source: &str, dir: &Path) -> DownloadSpec {
    spec_from_direct_sources(id, f, &[source], dir)
}

/// A download spec (id `id`, into `dir`) for `f` from a magnet link listing
/// the direct `sources`.
pub fn spec_from_direct_sources(
    id: u64,
    f: &SharedFile,
    sources: &[&str],
    dir: &Path,
) -> DownloadSpec {
    let link = Magnet {
        urn: Sha1Urn(f.sha1),
        name: f.name.clone(),
        size: f.size,
        sources: sources
            .iter()
            .map(|s| Source::direct(s.parse().unwrap()))
            .collect(),
    }
    .to_link();
    let stem = f.name.rsplit_once('.').map_or(f.name.as_str(), |(s, _)| s);
    DownloadSpec {
        id,
        name: f.name.clone(),
        size: f.size,
        hash: ContentHash::Sha1(f.sha1),
        link,
        temp_path: dir.join(format!("{stem}.part")),
        verified: vec![],
        meta: None,
    }
}
