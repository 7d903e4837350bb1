//! The scriptable command line against a real daemon: every verb, its JSON,
//! its errors, and what survives a restart.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

const LINK: &str = "ed2k://|file|some%20file.bin|1000|0123456789abcdef0123456789abcdef|/";

fn ok(node: &Node, args: &[&str]) -> String {
    let out = node.cli(args);
    assert!(
        out.status.success(),
        "swarmux {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails_with(node: &Node, args: &[&str], message: &str) {
    let out = node.cli(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "swarmux {args:?} should fail");
    assert!(
        err.contains(message),
        "swarmux {args:?}: expected {message:?} in {err:?}"
    );
}

/// A server.met with one entry, 127.0.0.1:4242 named "Test server", written
/// byte by byte from the format (not with our own encoder).
fn server_met() -> Vec<u8> {
    let mut v = vec![0x0E];
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&[127, 0, 0, 1]);
    v.extend_from_slice(&4242u16.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v.push(0x02); // string tag
    v.extend_from_slice(&1u16.to_le_bytes());
    v.push(0x01); // name
    v.extend_from_slice(&11u16.to_le_bytes());
    v.extend_from_slice(b"Test server");
    v
}

#[test]
fn every_verb_works_and_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let mut node = Node::start(&dir, &[]);

    let mode = std::fs::metadata(dir.join("control.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "only the owner may use the control socket"
    );

    // Servers.
    ok(&node, &["servers", "add", "127.0.0.1:1"]);
    ok(
        &node,
        &["servers", "add", "ed2k://|server|127.0.0.2|4661|/"],
    );
    fails_with(&node, &["servers", "add", "nonsense"], "HOST:PORT");
    std::fs::write(tmp.path().join("server.met"), server_met()).unwrap();
    let out = ok(
        &node,
        &[
            "servers",
            "import",
            tmp.path().join("server.met").to_str().unwrap(),
        ],
    );
    assert!(out.contains("imported 1 servers"), "{out}");
    std::fs::write(tmp.path().join("bad.met"), b"\x0e\xff\xff").unwrap();
    fails_with(
        &node,
        &[
            "servers",
            "import",
            tmp.path().join("bad.met").to_str().unwrap(),
        ],
        "not a valid server.met",
    );
    ok(&node, &["servers", "remove", "127.0.0.1:1"]);
    fails_with(
        &node,
        &["servers", "remove", "127.0.0.1:1"],
        "not in the server list",
    );

    // Shares.
    let share = tmp.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("a.txt"), b"hello").unwrap();
    ok(&node, &["share", "add", share.to_str().unwrap()]);
    wait_for(20, "the shared file", || {
        let files = node.json(&["share", "list"])["files"].as_array()?.len();
        (files == 1).then_some(())
    });
    let listed = node.json(&["share", "list"]);
    assert_eq!(listed["files"][0]["ed2k"], md4_hex(b"hello").as_str());
    fails_with(&node, &["share", "add", "/nonexistent/dir"], "cannot share");
    ok(&node, &["share", "remove", share.to_str().unwrap()]);
    wait_for(20, "the share to go", || {
        let files = node.json(&["share", "list"])["files"].as_array()?.len();
        (files == 0).then_some(())
    });

    // The queue.
    let added = node.json(&["get", LINK]);
    assert_eq!(added["name"], "some file.bin");
    assert_eq!(added["size"], 1000);
    let id = added["id"].as_u64().unwrap().to_string();
    fails_with(&node, &["get", LINK], "already in the queue");
    fails_with(&node, &["get", "garbage"], "no network understands");
    fails_with(
        &node,
        &["get", "/nonexistent/x.torrent"],
        "/nonexistent/x.torrent: no such .torrent file",
    );
    fails_with(
        &node,
        &["get", "ed2k://|file|x|notasize|00|/"],
        "bad link: ed2k link has an invalid size",
    );
    fails_with(
        &node,
        &["get", "ed2k://|server|127.0.0.1|4661|/"],
        "bad link:",
    );
    fails_with(&node, &["get", "99999"], "no search result #99999");
    ok(&node, &["priority", &id, "high"]);
    ok(&node, &["pause", &id]);
    fails_with(&node, &["pause", &id], "cannot be paused");
    let d = first_download(&node);
    assert_eq!(d["priority"], "high");
    assert_eq!(d["state"]["state"], "paused");

    // State survives a crash.
    node.proc.kill9();
    node.restart();
    let d = first_download(&node);
    assert_eq!(
        (d["priority"].as_str(), d["state"]["state"].as_str()),
        (Some("high"), Some("paused"))
    );
    ok(&node, &["resume", &id]);
    assert_ne!(first_download(&node)["state"]["state"], "paused");
    ok(&node, &["cancel", &id]);
    assert_eq!(
        node.json(&["list"])["downloads"].as_array().unwrap().len(),
        0
    );
    fails_with(&node, &["cancel", &id], "no download #");

    // Limits at runtime.
    ok(
        &node,
        &["limits", "--down", "100", "--up", "50", "--slots", "2"],
    );
    let t = node.status()["totals"].clone();
    assert_eq!(
        (
            t["down_limit"].as_u64(),
            t["up_limit"].as_u64(),
            t["upload_slots"].as_u64()
        ),
        (Some(102400), Some(51200), Some(2))
    );

    // Searches: bad syntax and types are explained.
    fails_with(&node, &["search", "--wait", "0", "-x"], "not excluded");
    fails_with(&node, &["search", "--type", "movies", "x"], "unknown type");
    fails_with(
        &node,
        &["search", "anything", "--wait", "1"],
        "put options first",
    );
    let s = node.json(&["search", "--wait", "0", "anything"]);
    assert!(s["search"].as_u64().is_some());

    // Stop.
    ok(&node, &["stop"]);
    wait_for(20, "the daemon to exit", || {
        (!node.proc.alive()).then_some(())
    });
    assert!(
        !dir.join("control.sock").exists(),
        "the socket is removed on stop"
    );
    fails_with(&node, &["status"], "no swarmux daemon is running");
}

fn md4_hex(data: &[u8]) -> String {
    swarmux_net::hashing::md4(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
