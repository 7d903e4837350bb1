//! A host that opens many sockets to a seed and sends nothing holds only a
//! few of them (the gate's per-address share) and loses those at the
//! handshake deadline, while a real peer from another address downloads.

mod common;

use common::*;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarmux_bittorrent::{BitTorrentNetwork, BtConfig};
use swarmux_net::testing::Harness;
use swarmux_net::{Limits, NetCommand};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

/// How many idle sockets the hostile host opens.
const IDLE: usize = 100;
/// The seed's handshake deadline (`listener::HANDSHAKE_TIMEOUT`).
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

async fn connect_from(local: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind((local, 0).into()).unwrap();
    s.connect(to).await.unwrap()
}

/// Waits until `s` is closed by the other side; true if it was.
async fn closed(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1];
    matches!(
        tokio::time::timeout(within, s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_from_one_address_keep_no_peer_out() {
    let dir = tempfile::tempdir().unwrap();
    let data = pseudo_random(3 << 20, 9);
    let (seed, mi, _torrent) = seed_node(dir.path(), "film.bin", &data).await;
    let seed_addr: SocketAddr = ([127, 0, 0, 1], seed.port).into();

    let opened = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..IDLE {
        idle.push(connect_from([127, 0, 0, 2], seed_addr).await);
    }

    // a real peer on another address, dialing from it
    let net = BitTorrentNetwork::new(BtConfig {
        listen: ([127, 0, 0, 3], 0).into(),
        ..Default::default()
    });
    let mut leech = Harness::start(&net, Arc::new(Limits::new(0, 0, 4)), &dir.path().join("l"));
    leech.listening(Some("bt_tcp")).await;
    let temp = dir.path().join("l/temp/2.part");
    std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
    let link = magnet(&mi, &[seed.port]);
    leech
        .cmd
        .send(NetCommand::StartDownload(spec(2, &mi, link, &temp)))
        .unwrap();
    until_completed(&mut leech.events, 2, 60).await;
    assert!(std::fs::read(&temp).unwrap() == data, "data differs");

    // the idle sockets: all but the per-address share were closed at once,
    // the rest at the handshake deadline
    let share = BtConfig::default().max_peers_per_address;
    let mut held = 0;
    for s in &mut idle {
        if !closed(s, Duration::from_millis(50)).await {
            held += 1;
            assert!(
                closed(s, HANDSHAKE_DEADLINE + Duration::from_secs(20)).await,
                "an idle socket outlived the handshake deadline"
            );
        }
    }
    assert!(held <= share, "{held} idle sockets held, at most {share}");
    assert!(opened.elapsed() >= HANDSHAKE_DEADLINE - Duration::from_secs(1));
}
