//! Slow requests cannot lock the Gnutella port: hundreds of partial `GET`s
//! from one address, each sending a byte every few seconds, hold only a few
//! sockets, are closed at the head deadline, and meanwhile a download from
//! another address completes and a neighbour link from a third is accepted.
//! A slow Gnutella handshake is closed at the same deadline.

mod common;

use common::*;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use swarmux_gnutella::node::gates::HEAD_DEADLINE;
use swarmux_gnutella::proto::huge::Sha1Urn;
use swarmux_gnutella::{GnutellaConfig, Mode};
use swarmux_net::dial::dial;
use swarmux_net::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// How many slow connections to open: 600 (more than the 512 sockets the
/// node once shared between every kind), fewer when the process may not
/// open that many descriptors (each takes two here: ours and the node's).
fn slow_count() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    600.min(soft.saturating_sub(200) / 2)
}

/// A head that starts with `start` and goes on with one more byte every 3 s;
/// returns how long the node kept it open.
async fn slow_head(stream: TcpStream, start: &[u8], alive: Arc<AtomicUsize>) -> Duration {
    let opened = Instant::now();
    let (mut rd, mut wr) = stream.into_split();
    let _ = wr.write_all(start).await;
    let mut b = [0u8; 256];
    loop {
        tokio::select! {
            r = rd.read(&mut b) => match r {
                Ok(n) if n > 0 => {}
                _ => break,
            },
            _ = tokio::time::sleep(Duration::from_secs(3)) => {
                if wr.write_all(b"A").await.is_err() {
                    break;
                }
            }
        }
    }
    alive.fetch_sub(1, Ordering::SeqCst);
    opened.elapsed()
}

/// Downloads the whole file named by `urn` from `addr`, from the local
/// address `local`.
async fn download(local: IpAddr, addr: &str, urn: Sha1Urn) -> (String, Vec<u8>) {
    let mut s = dial(Some(local), addr.parse().unwrap()).await.unwrap();
    let req = format!("GET /uri-res/N2R?{urn} HTTP/1.1\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).await.unwrap();
    let end = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(all.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&all[..end]).into_owned();
    (head, all[end..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_partial_gets_from_one_address_lock_nothing() {
    let cfg = GnutellaConfig {
        per_address: GnutellaConfig::default().per_address,
        ..config(Mode::Ultrapeer, vec![])
    };
    let node = start(cfg, Limits::new(0, 0, 4)).await;
    let data = pseudo_random(300_000, 7);
    let f = shared_file(node.dir.path(), "wanted.bin", &data);
    node.share(vec![f.clone()]);
    let urn = Sha1Urn(f.sha1);
    // The share is in place once the node serves it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !download(ip("127.0.0.5"), &node.addr, urn)
        .await
        .0
        .starts_with("HTTP/1.1 200")
    {
        assert!(Instant::now() < deadline, "the share never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let n = slow_count();
    assert!(n >= 300, "too few descriptors for this test: {n}");
    let alive = Arc::new(AtomicUsize::new(n));
    let mut slow = Vec::new();
    for _ in 0..n {
        let s = dial(Some(ip("127.0.0.2")), node.addr.parse().unwrap())
            .await
            .unwrap();
        let alive = alive.clone();
        slow.push(tokio::spawn(async move {
            slow_head(s, b"GET /uri-res/N2R?urn:sha1:", alive).await
        }));
    }
    let s = dial(Some(ip("127.0.0.6")), node.addr.parse().unwrap())
        .await
        .unwrap();
    let slow_handshake = tokio::spawn(async move {
        let alive = Arc::new(AtomicUsize::new(1));
        slow_head(s, b"GNUTELLA CONNECT/0.6\r\nUser-Agent: x", alive).await
    });
    // All but a few are closed at once.
    let per = GnutellaConfig::default().per_address;
    let deadline = Instant::now() + Duration::from_secs(8);
    while alive.load(Ordering::SeqCst) > 2 * per {
        assert!(
            Instant::now() < deadline,
            "{} slow connections still open",
            alive.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = alive.load(Ordering::SeqCst);
    assert!(
        held > 0,
        "the admitted slow connections should still be held"
    );

    // Meanwhile, others are served: a download and a neighbour link.
    let (head, body) = download(ip("127.0.0.3"), &node.addr, urn).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body == data, "download incomplete: {} bytes", body.len());
    let _link = connect_as_ultrapeer_from(Some(ip("127.0.0.4")), &node.addr, "fine/1.0").await;
    assert!(
        alive.load(Ordering::SeqCst) > 0,
        "the checks should run while slow connections are held"
    );

    // The slow connections the node admitted are closed at the head deadline.
    let mut longest = Duration::ZERO;
    for t in slow.into_iter().chain([slow_handshake]) {
        longest = longest.max(t.await.unwrap());
    }
    assert!(
        longest >= HEAD_DEADLINE - Duration::from_secs(1),
        "closed before the deadline: {longest:?}"
    );
    assert!(
        longest <= HEAD_DEADLINE + Duration::from_secs(5),
        "kept past the deadline: {longest:?}"
    );
}
