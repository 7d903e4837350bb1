//! Uploads over HTTP/1.1 on the Gnutella port: both resource forms, HEAD,
//! ranges, keep-alive, 404, 503 when no slot is free, and a `Server:`
//! header on every answer.

mod common;

use common::*;
use swarmux_gnutella::proto::huge::Sha1Urn;
use swarmux_gnutella::Mode;
use swarmux_net::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `req` and reads one answer: (status line + headers, body).
async fn ask(s: &mut TcpStream, req: &str) -> (String, Vec<u8>) {
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).await.unwrap(),
            1,
            "closed: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(
        head.contains("\r\nServer: swarmux/"),
        "no Server header: {head}"
    );
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; if req.starts_with("HEAD") { 0 } else { len }];
    s.read_exact(&mut body).await.unwrap();
    (head, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_ranges_and_refuses_properly() {
    let node = start(config(Mode::Ultrapeer, vec![]), Limits::new(0, 0, 1)).await;
    let data = pseudo_random(100_000, 1);
    let f = shared_file(node.dir.path(), "served file.bin", &data);
    node.share(vec![f.clone()]);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let urn = Sha1Urn(f.sha1);

    let mut s = TcpStream::connect(&node.addr).await.unwrap();
    let (h, _) = ask(&mut s, &format!("HEAD /uri-res/N2R?{urn} HTTP/1.1\r\n\r\n")).await;
    assert!(
        h.starts_with("HTTP/1.1 200") && h.contains("Content-Length: 100000"),
        "{h}"
    );
    let (h, body) = ask(
        &mut s,
        &format!("GET /uri-res/N2R?{urn} HTTP/1.1\r\nRange: bytes=10-19\r\n\r\n"),
    )
    .await;
    assert!(
        h.starts_with("HTTP/1.1 206") && h.contains("Content-Range: bytes 10-19/100000"),
        "{h}"
    );
    assert_eq!(body, &data[10..20]);
    let (h, body) = ask(
        &mut s,
        "GET /get/1/served%20file.bin HTTP/1.1\r\nRange: bytes=99990-\r\n\r\n",
    )
    .await;
    assert!(h.starts_with("HTTP/1.1 206"), "{h}");
    assert_eq!(body, &data[99_990..]);
    let (h, _) = ask(
        &mut s,
        &format!("GET /uri-res/N2R?{} HTTP/1.1\r\n\r\n", Sha1Urn([0; 20])),
    )
    .await;
    assert!(h.starts_with("HTTP/1.1 404"), "{h}");
    let (h, _) = ask(
        &mut s,
        &format!("GET /uri-res/N2R?{urn} HTTP/1.1\r\nRange: bytes=200000-\r\n\r\n"),
    )
    .await;
    assert!(h.starts_with("HTTP/1.1 416"), "{h}");

    // The one slot is held by the first connection: a second one is busy.
    let mut other = TcpStream::connect(&node.addr).await.unwrap();
    let (h, _) = ask(
        &mut other,
        &format!("GET /uri-res/N2R?{urn} HTTP/1.1\r\n\r\n"),
    )
    .await;
    assert!(
        h.starts_with("HTTP/1.1 503") && h.contains("Retry-After: 30"),
        "{h}"
    );
    drop(s);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(&node.addr).await.unwrap();
    let (h, body) = ask(
        &mut third,
        &format!("GET /uri-res/N2R?{urn} HTTP/1.1\r\n\r\n"),
    )
    .await;
    assert!(h.starts_with("HTTP/1.1 200"), "{h}");
    assert_eq!(body, data);
}
