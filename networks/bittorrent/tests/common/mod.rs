//! Helpers for the session tests: nodes driven through the `Network` trait
//! on 127.0.0.1, torrents made in temp dirs, and event waiting.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use swarmux_bittorrent::proto::{create_torrent, Metainfo};
use swarmux_bittorrent::{BitTorrentNetwork, BtConfig, DhtSettings};
use swarmux_net::{
    ContentHash, DownloadSpec, Limits, NetCommand, NetEvent, Network, NetworkContext,
};
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
    });
    let (etx, mut erx) = mpsc::unbounded_channel();
    let (ctx_tx, crx) = mpsc::unbounded_channel();
    std::fs::create_dir_all(data_dir).unwrap();
    let ctx = NetworkContext {
        events: etx,
        limits: Arc::new(Limits::new(down, 0, 4)),
        data_dir: data_dir.to_path_buf(),
    };
    tokio::spawn(net.run(ctx, crx));
    let mut port = 0;
    let mut dht_addr = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while port == 0 || (dht_addr.is_none() && want_dht) {
        match tokio::time::timeout_at(deadline, erx.recv()).await {
            Ok(Some(NetEvent::Listening { name, addr })) => {
                if name == "bt_tcp" {
                    port = addr.port();
                } else if name == "dht_udp" {
                    dht_addr = Some(addr);
                }
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    assert!(port != 0, "no Listening event");
    Node {
        cmd: ctx_tx,
        events: erx,
        port,
        dht: dht_addr,
    }
}

/// Deterministic bytes.
pub fn pseudo_random(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
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

/// Waits for an event matching `f`, panicking after `secs` or on `Failed`.
pub async fn wait_for<T>(
    rx: &mut mpsc::UnboundedReceiver<NetEvent>,
    secs: u64,
    mut f: impl FnMut(&NetEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("timed out waiting for an event")
            .expect("network ended");
        if let NetEvent::Failed { reason, .. } = &ev {
            panic!("download failed: {reason}");
        }
        if let Some(t) = f(&ev) {
            return t;
        }
    }
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&body).await;
            });
        }
    });
    url
}
