//! DHT nodes talking over 127.0.0.1 only.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use swarmux_dht::{Dht, DhtConfig};

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Starts `n` nodes, each bootstrapping from the one before it.
async fn chain(n: usize) -> Vec<Dht> {
    let mut nodes: Vec<Dht> = Vec::new();
    for _ in 0..n {
        let mut cfg = DhtConfig::new(any_port());
        if let Some(prev) = nodes.last() {
            cfg.bootstrap = vec![prev.local_addr()];
        }
        nodes.push(Dht::start(cfg).await.unwrap());
    }
    nodes
}

/// Waits until every node knows at least `min` others.
async fn wait_for_tables(nodes: &[Dht], min: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while nodes.iter().any(|d| d.stats().nodes < min) {
        assert!(
            Instant::now() < deadline,
            "tables did not fill: {:?}",
            stats(nodes)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn stats(nodes: &[Dht]) -> Vec<usize> {
    nodes.iter().map(|d| d.stats().nodes).collect()
}

async fn announce_and_find(nodes: &[Dht], info_hash: [u8; 20], port: u16) {
    let first = &nodes[0];
    let last = nodes.last().unwrap();
    let started = Instant::now();
    let stored = last.announce(info_hash, port).await.unwrap();
    assert!(stored >= 1, "announce stored nowhere");
    let want: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let peers = first.get_peers(info_hash).await;
    assert!(peers.contains(&want), "{peers:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn three_nodes_announce_and_resolve() {
    let nodes = chain(3).await;
    wait_for_tables(&nodes, 2).await;
    announce_and_find(&nodes, [0x42; 20], 51413).await;
    // Every node (not only the one the announce went to) resolves it.
    let want: SocketAddr = "127.0.0.1:51413".parse().unwrap();
    assert!(nodes[1].get_peers([0x42; 20]).await.contains(&want));
    assert!(nodes[0].get_peers([0x43; 20]).await.is_empty());
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn ten_nodes_announce_and_resolve() {
    let nodes = chain(10).await;
    wait_for_tables(&nodes, 3).await;
    for (i, port) in [(1u8, 6000u16), (2, 6001), (3, 6002)] {
        announce_and_find(&nodes, [i; 20], port).await;
    }
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn add_node_joins_without_bootstrap() {
    let a = Dht::start(DhtConfig::new(any_port())).await.unwrap();
    let b = Dht::start(DhtConfig::new(any_port())).await.unwrap();
    b.add_node(a.local_addr());
    wait_for_tables(&[a.clone(), b.clone()], 1).await;
    assert_eq!(b.announce([9; 20], 7000).await.unwrap(), 1);
    assert_eq!(
        a.get_peers([9; 20]).await,
        vec!["127.0.0.1:7000".parse::<SocketAddr>().unwrap()]
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn malformed_datagrams_do_not_stop_a_node() {
    let nodes = chain(2).await;
    wait_for_tables(&nodes, 1).await;
    let target = nodes[0].local_addr();
    let junk = tokio::net::UdpSocket::bind(any_port()).await.unwrap();
    let mut payloads: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"d".to_vec(),
        b"i99999999999999999999999e".to_vec(),
        vec![b'l'; 1000],
        b"d1:t2:aa1:y1:q1:q4:pinge".to_vec(),
        b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe".to_vec(),
        b"d1:rd2:id20:abcdefghij0123456789e1:t2:zz1:y1:re".to_vec(),
        b"d1:eli201e1:xe1:t2:aa1:y1:ee".to_vec(),
        b"d1:ad2:id20:abcdefghij01234567899:info_hash20:abcdefghij01234567894:porti-5e5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe".to_vec(),
        vec![0xff; 4000],
    ];
    let mut seed = 0x1234_5678u32;
    for _ in 0..200 {
        let len = (seed % 300) as usize;
        payloads.push(
            (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect(),
        );
    }
    for p in &payloads {
        junk.send_to(p, target).await.unwrap();
    }
    // A malformed query with a transaction id gets a KRPC error back.
    junk.send_to(b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe", target)
        .await
        .unwrap();
    let mut buf = [0u8; 1500];
    let reply = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let (n, _) = junk.recv_from(&mut buf).await.unwrap();
            if buf[..n].windows(5).any(|w| w == b"1:y1:e") || buf[..n].ends_with(b"1:y1:ee") {
                return buf[..n].to_vec();
            }
        }
    })
    .await
    .expect("no KRPC error reply");
    assert!(reply.ends_with(b"1:y1:ee"), "{reply:?}");
    // And the node still works.
    announce_and_find(&nodes, [5; 20], 9000).await;
    for n in nodes {
        n.shutdown().await;
    }
}

#[tokio::test]
async fn state_file_keeps_id_and_nodes_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("dht.state");
    let a = Dht::start(DhtConfig::new(any_port())).await.unwrap();
    let mut cfg = DhtConfig::new(any_port());
    cfg.bootstrap = vec![a.local_addr()];
    cfg.state_file = Some(state.clone());
    let b = Dht::start(cfg).await.unwrap();
    wait_for_tables(&[a.clone(), b.clone()], 1).await;
    let id = b.stats().id;
    b.shutdown().await;
    assert!(state.exists());

    // Restart with no bootstrap node: the saved node is enough to rejoin.
    let mut cfg = DhtConfig::new(any_port());
    cfg.state_file = Some(state.clone());
    let b = Dht::start(cfg).await.unwrap();
    assert_eq!(b.stats().id, id);
    wait_for_tables(std::slice::from_ref(&b), 1).await;
    assert_eq!(b.announce([8; 20], 7100).await.unwrap(), 1);
    b.shutdown().await;
    a.shutdown().await;

    // A corrupt state file is ignored, not fatal.
    std::fs::write(&state, b"garbage").unwrap();
    let mut cfg = DhtConfig::new(any_port());
    cfg.state_file = Some(state);
    let c = Dht::start(cfg).await.unwrap();
    assert_ne!(c.stats().id, id);
    c.shutdown().await;
}

#[tokio::test]
async fn refuses_ipv6_and_stops_cleanly() {
    let cfg = DhtConfig::new("[::1]:0".parse().unwrap());
    assert!(Dht::start(cfg).await.is_err());
    let a = Dht::start(DhtConfig::new(any_port())).await.unwrap();
    let clone = a.clone();
    a.shutdown().await;
    assert!(clone.get_peers([1; 20]).await.is_empty());
    assert!(clone.announce([1; 20], 1).await.is_err());
}
