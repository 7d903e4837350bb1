//! Malformed and oversized packets sent to a real index server and a real
//! client: each gets a clear log line and a dropped connection, the process
//! lives on and keeps serving others.

mod common;

use common::*;

/// Frames no ed2k peer should survive: an unknown protocol byte, a 2 GiB
/// length, a login whose tag list lies about its length, and plain HTTP.
fn hostile_frames() -> Vec<Vec<u8>> {
    let mut lying_login = vec![0xE3, 0, 0, 0, 0, 0x01];
    lying_login.extend_from_slice(&[0x11; 16]); // user hash
    lying_login.extend_from_slice(&[0, 0, 0, 0, 0x36, 0x12]); // id, port
    lying_login.extend_from_slice(&[0xff, 0xff, 0xff, 0x0f]); // 268 million tags
    let len = (lying_login.len() - 5) as u32;
    lying_login[1..5].copy_from_slice(&len.to_le_bytes());
    vec![
        vec![0x42, 5, 0, 0, 0, 1, 2, 3, 4, 5],
        vec![0xE3, 0xff, 0xff, 0xff, 0x7f, 0x01],
        lying_login,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
    ]
}

#[test]
fn index_server_drops_hostile_clients_and_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = IndexServer::start(&tmp.path().join("server"));
    for frame in hostile_frames() {
        assert!(
            closes_after(server.port, &frame, 10),
            "the server kept a connection open after {:?}",
            &frame[..frame.len().min(8)]
        );
    }
    assert!(server.proc.alive(), "the index server died");
    let log = server.proc.log();
    assert!(
        log.lines()
            .filter(|l| l.contains("127.0.0.1") && l.to_lowercase().contains("drop"))
            .count()
            >= 3,
        "each hostile client gets a log line:\n{log}"
    );
    // A real client still logs in.
    let node = Node::start(&tmp.path().join("a"), &["--server", &server.addr()]);
    node.wait_ready(0);
}

#[test]
fn client_drops_hostile_peers_and_keeps_running() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = Node::start(&tmp.path().join("a"), &[]);
    for frame in hostile_frames() {
        assert!(
            closes_after(node.ed2k_port, &frame, 10),
            "the client kept a connection open after {:?}",
            &frame[..frame.len().min(8)]
        );
    }
    assert!(node.proc.alive(), "the daemon died");
    node.status();
    let log = node.log_text() + &node.proc.log();
    assert!(
        log.lines()
            .any(|l| l.contains("127.0.0.1") && l.to_lowercase().contains("drop")),
        "hostile peers get a log line:\n{log}"
    );
}
