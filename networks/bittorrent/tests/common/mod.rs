//! Helpers for the session tests: nodes driven through the `Network` trait
//! on 127.0.0.1, torrents made in temp dirs, and event waiting.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use swarmux_bittorrent::proto::{create_torrent, Metainfo};
use swarmux_bittorrent::{BitTorrentNetwork, BtConfig, DhtSettings};
use swarmux_net::testing::Harness;
// Not every test binary uses both.
#[allow(unused_imports)]
pub use swarmux_net::testing::{data as pseudo_random, wait_event as wait_for};
use swarmux_net::{ContentHash, DownloadSpec, Limits, NetCommand, NetEvent};
use tokio::sync::mpsc;

pub struct Node {
    pub cmd: mpsc::UnboundedSender<NetCommand>,
    pub events: mpsc::UnboundedReceiver<NetEvent>,
    pub port: u16,
    pub dht: Option<SocketAddr>,
}

impl Node {
    pub fn send(&self, c: NetCommand) {
        self.cmd.send(c).unwrap();
    }
}

/// Starts a node; `dht` = Some(bootstrap nodes) turns the DHT on.
pub async fn start_node(data_dir: &Path, dht: Option<Vec<String>>) -> Node {
    start_node_limited(data_dir, dht, 0).await
}

/// Like [`start_node`] with a download limit in bytes per second.
pub async fn start_node_limited(data_dir: &Path, dht: Option<Vec<String>>, down: u64) -> Node {
    let want_dht = dht.is_some();
    let net = BitTorrentNetwork::new(BtConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        dht: dht.map(|bootstrap| DhtSettings {
            bind: "127.0.0.1:0".parse().unwrap(),
            bootstrap,
        }),
        pex: true,
        max_peers_per_torrent: 50,
        max_peers: 300,
        ..Default::default()
    });
    let mut h = Harness::start(&net, Arc::new(Limits::new(down, 0, 4)), data_dir);
    let mut port = 0;
    let mut dht_addr = None;
    h.wait_event(5, |e| {
        match e {
            NetEvent::Listening { name, addr } if name == "bt_tcp" => port = addr.port(),
            NetEvent::Listening { name, addr } if name == "dht_udp" => dht_addr = Some(*addr),
            _ => {}
        }
        (port != 0 && (dht_addr.is_some() || !want_dht)).then_some(())
    })
    .await;
    Node {
        cmd: h.cmd,
        events: h.events,
        port,
        dht: dht_addr,
    }
}

/// Writes a .torrent for `data` next to it and returns its path and metainfo.
pub fn make_torrent(data: &Path, piece_len: u64, trackers: &[&str]) -> (PathBuf, Metainfo) {
    let bytes = create_torrent(data, piece_len, trackers).unwrap();
    let path = data.with_extension("torrent");
    std::fs::write(&path, &bytes).unwrap();
    (path, Metainfo::from_bytes(&bytes).unwrap())
}

pub fn spec(id: u64, mi: &Metainfo, link: String, temp: &Path) -> DownloadSpec {
    DownloadSpec {
        id,
        name: mi.info.name.clone(),
        size: mi.info.total_length,
        hash: ContentHash::BtInfo(mi.info.info_hash),
        link,
        temp_path: temp.to_path_buf(),
        verified: vec![],
        meta: None,
    }
}

pub fn magnet(mi: &Metainfo, peers: &[u16]) -> String {
    let mut m = format!(
        "magnet:?xt=urn:btih:{}&dn={}",
        hex::encode(mi.info.info_hash),
        mi.info.name
    );
    for p in peers {
        m.push_str(&format!("&x.pe=127.0.0.1:{p}"));
    }
    m
}

/// A node seeding `data` as `seed/NAME` under `dir` (download 1, 64 KiB
/// pieces, no tracker), ready for peers; its metainfo and .torrent path.
pub async fn seed_node(dir: &Path, name: &str, data: &[u8]) -> (Node, Metainfo, PathBuf) {
    let src = dir.join("seed").join(name);
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, data).unwrap();
    let mut seed = start_node(&dir.join("seed-data"), None).await;
    let (torrent, mi) = make_torrent(&src, 64 << 10, &[]);
    seed.send(NetCommand::Seed(spec(
        1,
        &mi,
        torrent.display().to_string(),
        &src,
    )));
    until_seeding(&mut seed.events, 1).await;
    (seed, mi, torrent)
}

/// Waits until `id` shows in the seeding list: its data is checked and the
/// listener takes connections for it (a peer dialing earlier is refused
/// and retried only a minute later).
pub async fn until_seeding(rx: &mut mpsc::UnboundedReceiver<NetEvent>, id: u64) {
    wait_for(rx, 30, |ev| match ev {
        NetEvent::Seeding(list) if list.iter().any(|s| s.id == id) => Some(()),
        _ => None,
    })
    .await;
}

/// Collects events until `Completed{id}`; returns them.
pub async fn until_completed(
    rx: &mut mpsc::UnboundedReceiver<NetEvent>,
    id: u64,
    secs: u64,
) -> Vec<NetEvent> {
    let mut seen = Vec::new();
    wait_for(rx, secs, |ev| {
        seen.push(ev.clone());
        matches!(ev, NetEvent::Completed { id: i } if *i == id).then_some(())
    })
    .await;
    seen
}

/// Every part reported verified in `events` for `id`.
pub fn verified_parts(events: &[NetEvent], id: u64) -> Vec<usize> {
    let mut v: Vec<usize> = events
        .iter()
        .flat_map(|e| match e {
            NetEvent::PartsVerified { id: i, parts } if *i == id => parts.clone(),
            NetEvent::PartVerified { id: i, part } if *i == id => vec![*part],
            _ => vec![],
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A minimal HTTP tracker on 127.0.0.1 that answers every announce with
/// `peers` (compact) and a 60 s interval; returns its announce URL.
pub async fn http_tracker(peers: Vec<SocketAddr>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/announce", l.local_addr().unwrap());
    let mut compact = Vec::new();
    for p in &peers {
        if let SocketAddr::V4(a) = p {
            compact.extend_from_slice(&a.ip().octets());
            compact.extend_from_slice(&a.port().to_be_bytes());
        }
    }
    let mut body = format!(
        "d8:completei1e10:incompletei1e8:intervali60e5:peers{}:",
        compact.len()
    )
    .into_bytes();
    body.extend_from_slice(&compact);
    body.push(b'e');
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                if read_request_head(&mut s).await.is_some() {
                    answer_ok(&mut s, &body).await;
                }
            });
        }
    });
    url
}

/// Reads an HTTP request head (up to the blank line); `None` when the
/// connection ends first.
pub async fn read_request_head(s: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    Some(req)
}

/// Answers `200 OK` with `body` and the connection closes.
pub async fn answer_ok(s: &mut tokio::net::TcpStream, body: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(body).await;
}
