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

/// After hashing, the shared file is replaced by a symlink to a private
/// file, or rewritten in place: neither is served under the old hash (404,
/// as gtk-gnutella answers for a changed file), and the node says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_file_swapped_or_changed_is_not_served() {
    let mut node = start(config(Mode::Ultrapeer, vec![]), Limits::new(0, 0, 4)).await;
    let data = pseudo_random(50_000, 2);
    let f = shared_file(node.dir.path(), "public.bin", &data);
    let private = node.dir.path().join("private.key");
    std::fs::write(&private, pseudo_random(50_000, 3)).unwrap();
    node.share(vec![f.clone()]);
    let urn = Sha1Urn(f.sha1);
    let get = format!("GET /uri-res/N2R?{urn} HTTP/1.1\r\n\r\n");
    let mut s = TcpStream::connect(&node.addr).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (h, body) = ask(&mut s, &get).await;
        if h.starts_with("HTTP/1.1 200") {
            assert_eq!(body, data);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never served: {h}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The attack: the shared path now points at the private file.
    std::fs::remove_file(&f.path).unwrap();
    std::os::unix::fs::symlink(&private, &f.path).unwrap();
    let (h, body) = ask(&mut s, &get).await;
    assert!(h.starts_with("HTTP/1.1 404"), "{h}");
    assert!(body.is_empty());
    node.wait_for(10, |ev| match ev {
        swarmux_net::NetEvent::Log { message, .. } if message.contains("symlink") => Some(()),
        _ => None,
    })
    .await;

    // A regular file of the same size written over it is refused too.
    std::fs::remove_file(&f.path).unwrap();
    std::fs::write(&f.path, pseudo_random(50_000, 4)).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&f.path)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let (h, _) = ask(&mut s, &get).await;
    assert!(h.starts_with("HTTP/1.1 404"), "{h}");
    let (h, _) = ask(&mut s, "HEAD /get/1/public.bin HTTP/1.1\r\n\r\n").await;
    assert!(h.starts_with("HTTP/1.1 404"), "{h}");
}
