//! Acceptance 4: a hostile neighbour (raw TCP: a proper handshake, then TTL
//! 255, malformed descriptors, an oversized payload, garbage, a query flood)
//! is dropped or throttled with a log line, and the network keeps answering.

mod common;

use common::*;
use std::time::Duration;
use swarmux_gnutella::proto::descriptor::{Descriptor, Guid, TYPE_QUERY};
use swarmux_gnutella::proto::message::Message;
use swarmux_gnutella::proto::query::Query;
use swarmux_gnutella::Mode;
use swarmux_net::{Limits, NetEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects as an uncompressed ultrapeer and completes the handshake.
async fn hostile(addr: &str) -> TcpStream {
    connect_as_ultrapeer(addr, "hostile/1.0").await
}

/// True when the node closes the link within a few seconds (reading and
/// discarding what it sends meanwhile).
async fn closed(s: &mut TcpStream) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

fn query(ttl: u8, text: &str) -> Vec<u8> {
    Message::Query(Query::keywords(text))
        .to_descriptor(Guid::random(), ttl, 0)
        .encode()
        .unwrap()
}

async fn wait_log(node: &mut Node, needle: &str) {
    if node.logs.iter().any(|l| l.contains(needle)) {
        return;
    }
    node.wait_for(10, |e| match e {
        NetEvent::Log { message, .. } if message.contains(needle) => Some(()),
        _ => None,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_neighbours_are_dropped_and_the_network_keeps_answering() {
    let mut cfg = config(Mode::Ultrapeer, vec![]);
    cfg.max_ultrapeers = 16;
    let mut up = start(cfg, Limits::new(0, 0, 4)).await;
    let sharer = start(
        config(Mode::Leaf, vec![up.addr.clone()]),
        Limits::new(0, 0, 4),
    )
    .await;
    sharer.share(vec![shared_file(
        sharer.dir.path(),
        "still-here.txt",
        b"alive",
    )]);
    let searcher = start(
        config(Mode::Leaf, vec![up.addr.clone()]),
        Limits::new(0, 0, 4),
    )
    .await;

    // TTL 255: every descriptor dropped, the neighbour after 20 of them.
    let mut s = hostile(&up.addr).await;
    for _ in 0..25 {
        s.write_all(&query(255, "evil")).await.unwrap();
    }
    assert!(closed(&mut s).await, "TTL 255 neighbour not dropped");
    wait_log(&mut up, "TTL + hops above the hard limit").await;
    wait_log(&mut up, "bad descriptors").await;

    // Malformed payloads: a query without its NUL, a truncated push.
    let mut s = hostile(&up.addr).await;
    for i in 0..25u8 {
        let (t, p) = if i % 2 == 0 {
            (TYPE_QUERY, vec![0x80, 0x00, b'a'])
        } else {
            (0x40, vec![1, 2, 3])
        };
        s.write_all(
            &Descriptor::new(Guid::random(), t, 3, 0, p)
                .encode()
                .unwrap(),
        )
        .await
        .unwrap();
    }
    assert!(closed(&mut s).await, "malformed neighbour not dropped");
    wait_log(&mut up, "malformed 0x80").await;

    // An oversized payload: the stream cannot be trusted, the link goes.
    let mut s = hostile(&up.addr).await;
    let mut big = Descriptor::new(Guid::random(), TYPE_QUERY, 3, 0, vec![]).header;
    big.payload_len = 4 << 20;
    s.write_all(&big.encode()).await.unwrap();
    assert!(closed(&mut s).await, "oversized payload not dropped");
    wait_log(&mut up, "exceeds").await;

    // Garbage after the handshake.
    let mut s = hostile(&up.addr).await;
    let _ = s.write_all(&pseudo_random(4096, 3)).await;
    assert!(closed(&mut s).await, "garbage not dropped");

    // A query flood: throttled first, then dropped.
    let mut s = hostile(&up.addr).await;
    let mut flood = Vec::new();
    for i in 0..600 {
        flood.extend(query(3, &format!("flood{i}")));
    }
    let _ = s.write_all(&flood).await;
    assert!(closed(&mut s).await, "flooding neighbour not dropped");
    wait_log(&mut up, "throttling neighbour").await;
    wait_log(&mut up, "query flood").await;

    // The honest part of the network still works.
    let mut nodes = vec![sharer, searcher];
    wait_until(&mut nodes, 10, "leaves connected", |ns| {
        ns.iter().all(|n| !n.connected().is_empty())
    })
    .await;
    let mut searcher = nodes.pop().unwrap();
    searcher.search(9, "still here");
    let hit = searcher
        .wait_for(10, |e| match e {
            NetEvent::Hit(h) => Some(h.clone()),
            _ => None,
        })
        .await;
    assert_eq!(hit.name, "still-here.txt");
    up.drain();
    let warns: Vec<&String> = up
        .logs
        .iter()
        .filter(|l| l.contains("dropp") || l.contains("throttl") || l.contains("closed"))
        .collect();
    println!("ultrapeer log lines about hostile neighbours:\n{warns:#?}");
}
