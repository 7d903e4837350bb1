//! Everything a node bound to 127.0.0.2 sends leaves from 127.0.0.2: peer
//! dials, HTTP and UDP tracker exchanges, DHT datagrams, Torznab searches and
//! `.torrent` fetches, against listeners on 127.0.0.3 that record the source
//! address of every connection and datagram.

mod common;

use common::{answer_ok, make_torrent, read_request_head, spec};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use swarmux_bittorrent::{BitTorrentNetwork, BtConfig, DhtSettings, TorznabIndexer};
use swarmux_net::testing::Harness;
use swarmux_net::{parse_query, Limits, NetCommand, SearchRequest};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

const BOUND: [u8; 4] = [127, 0, 0, 2];
const OTHER: [u8; 4] = [127, 0, 0, 3];

/// What reached the listeners: (which listener, source address).
type Seen = mpsc::UnboundedSender<(&'static str, IpAddr)>;

/// A peer that accepts connections and drops them.
async fn peer(seen: Seen) -> SocketAddr {
    let l = TcpListener::bind(SocketAddr::from((OTHER, 0)))
        .await
        .unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((_s, from)) = l.accept().await {
            let _ = seen.send(("peer", from.ip()));
        }
    });
    addr
}

/// An HTTP server: tracker announces and scrapes answered with `peer`,
/// Torznab searches with an empty feed, anything else with a tiny torrent.
async fn http(seen: Seen, peer: SocketAddr) -> SocketAddr {
    let l = TcpListener::bind(SocketAddr::from((OTHER, 0)))
        .await
        .unwrap();
    let addr = l.local_addr().unwrap();
    let SocketAddr::V4(p) = peer else {
        unreachable!()
    };
    let mut announce = b"d8:intervali60e5:peers6:".to_vec();
    announce.extend(p.ip().octets());
    announce.extend(p.port().to_be_bytes());
    announce.push(b'e');
    tokio::spawn(async move {
        while let Ok((mut s, from)) = l.accept().await {
            let (seen, announce) = (seen.clone(), announce.clone());
            tokio::spawn(async move {
                let Some(req) = read_request_head(&mut s).await else {
                    return;
                };
                let path = String::from_utf8_lossy(&req)
                    .split(' ')
                    .nth(1)
                    .map(String::from);
                let (what, body) = match path.as_deref().unwrap_or("") {
                    p if p.starts_with("/announce") => ("http tracker", announce),
                    p if p.starts_with("/scrape") => ("http tracker", b"d5:filesdee".to_vec()),
                    p if p.starts_with("/torznab") => (
                        "torznab",
                        b"<rss version=\"2.0\"><channel></channel></rss>".to_vec(),
                    ),
                    _ => ("torrent url", b"de".to_vec()),
                };
                let _ = seen.send((what, from.ip()));
                answer_ok(&mut s, &body).await;
            });
        }
    });
    addr
}

/// A UDP tracker (BEP 15) answering with `peer`.
async fn udp_tracker(seen: Seen, peer: SocketAddr) -> SocketAddr {
    let sock = UdpSocket::bind(SocketAddr::from((OTHER, 0))).await.unwrap();
    let addr = sock.local_addr().unwrap();
    let SocketAddr::V4(p) = peer else {
        unreachable!()
    };
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let _ = seen.send(("udp tracker", from.ip()));
            if n < 16 {
                continue;
            }
            let (action, tid) = (&buf[8..12], &buf[12..16]);
            let mut reply = action.to_vec();
            reply.extend_from_slice(tid);
            if action == [0, 0, 0, 0] {
                reply.extend(7u64.to_be_bytes());
            } else {
                reply.extend(60u32.to_be_bytes());
                reply.extend(0u32.to_be_bytes());
                reply.extend(1u32.to_be_bytes());
                reply.extend(p.ip().octets());
                reply.extend(p.port().to_be_bytes());
            }
            let _ = sock.send_to(&reply, from).await;
        }
    });
    addr
}

/// A DHT node that only records who writes to it.
async fn dht_node(seen: Seen) -> SocketAddr {
    let sock = UdpSocket::bind(SocketAddr::from((OTHER, 0))).await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((_, from)) = sock.recv_from(&mut buf).await {
            let _ = seen.send(("dht", from.ip()));
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_leaves_from_the_bound_address() {
    let dir = tempfile::tempdir().unwrap();
    let (seen, mut sources) = mpsc::unbounded_channel();
    let peer = peer(seen.clone()).await;
    let web = http(seen.clone(), peer).await;
    let udp = udp_tracker(seen.clone(), peer).await;
    let dht = dht_node(seen.clone()).await;

    let net = BitTorrentNetwork::new(BtConfig {
        listen: (BOUND, 0).into(),
        dht: Some(DhtSettings {
            bind: (BOUND, 0).into(),
            bootstrap: vec![dht.to_string()],
        }),
        torznab: vec![TorznabIndexer {
            name: "indexer".into(),
            url: format!("http://{web}/torznab"),
            api_key: String::new(),
        }],
        ..Default::default()
    });
    let mut h = Harness::start(
        &net,
        Arc::new(Limits::new(0, 0, 4)),
        &dir.path().join("data"),
    );
    h.listening(Some("bt_tcp")).await;
    let trackers = [format!("http://{web}/announce"), format!("udp://{udp}")];
    for (id, tracker) in (1..).zip(&trackers) {
        let src = dir.path().join(format!("src{id}/file.bin"));
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        std::fs::write(&src, vec![id as u8; 100_000]).unwrap();
        let (torrent, mi) = make_torrent(&src, 16384, &[tracker]);
        let temp = dir.path().join(format!("temp/{id}.part"));
        std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
        let link = torrent.display().to_string();
        h.cmd
            .send(NetCommand::StartDownload(spec(id, &mi, link, &temp)))
            .unwrap();
    }
    h.cmd
        .send(NetCommand::Search(Arc::new(SearchRequest {
            id: 1,
            text: "ubuntu".into(),
            expr: parse_query("ubuntu").unwrap(),
            min_size: None,
            max_size: None,
            kind: None,
            extension: None,
        })))
        .unwrap();
    let url = format!("http://{web}/x.torrent");
    let local = Some(IpAddr::from(BOUND));
    let fetched = tokio::task::spawn_blocking(move || {
        swarmux_net::http::get(&url, Duration::from_secs(10), 1 << 20, local)
    });
    assert_eq!(fetched.await.unwrap().unwrap(), b"de");

    let wanted = [
        "peer",
        "http tracker",
        "udp tracker",
        "dht",
        "torznab",
        "torrent url",
    ];
    let mut got = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < wanted.len() {
        let Ok(Some((what, from))) = tokio::time::timeout_at(deadline, sources.recv()).await else {
            panic!("only {got:?} were reached in 30 s");
        };
        assert_eq!(from, IpAddr::from(BOUND), "{what} reached from {from}");
        got.insert(what);
    }
}
