//! Gnutella through the whole program: four swarmux daemons on 127.0.0.1
//! (one ultrapeer, three leaves) form a network of their own; `swarmux
//! search` on one leaf finds a file two others share (one row, two
//! sources), `swarmux get` fetches it from both, and `swarmux status
//! --json` lists the neighbours. The protocol-level
//! acceptance tests (30 nodes, push, hostile neighbours, deflate) are in
//! `networks/gnutella/tests/`.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

/// A daemon with Gnutella on 127.0.0.1 in `mode`, connected to `peers`.
fn gnode(dir: &Path, mode: &str, peers: &[String], extra: &[&str]) -> Node {
    let mut args = vec!["--gnutella-bind", "127.0.0.1", "--gnutella-mode", mode];
    for p in peers {
        args.extend(["--gnutella-peer", p.as_str()]);
    }
    args.extend_from_slice(extra);
    Node::start(dir, &args)
}

fn gnutella_addr(n: &Node) -> String {
    format!("127.0.0.1:{}", port_of(&n.proc.dir, "gnutella_tcp"))
}

/// The Gnutella network in a node's `status --json`.
fn gnutella_status(n: &Node) -> Value {
    n.status()["networks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|net| net["name"] == "gnutella")
        .cloned()
        .unwrap_or_default()
}

/// The Gnutella neighbours a node's `status --json` lists.
fn neighbours(n: &Node) -> Vec<Value> {
    gnutella_status(n)["servers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn leaves_find_and_fetch_each_others_files_through_an_ultrapeer() {
    let tmp = tempfile::tempdir().unwrap();
    let up = gnode(&tmp.path().join("up"), "ultrapeer", &[], &[]);
    let up_addr = gnutella_addr(&up);

    let share = tmp.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let content = data(8_000_000, 61);
    std::fs::write(share.join("gnutella-sample.ogg"), &content).unwrap();
    let share_arg = share.display().to_string();
    // Two sharers of the same file, each uploading at 1 MiB/s at most, so
    // that the download needs both.
    let sharers: Vec<Node> = ["sharer", "sharer2"]
        .iter()
        .map(|name| {
            gnode(
                &tmp.path().join(name),
                "leaf",
                std::slice::from_ref(&up_addr),
                &["--share", &share_arg, "--max-upload-rate", "1024"],
            )
        })
        .collect();
    let seeker = gnode(&tmp.path().join("seeker"), "leaf", &[], &[]);
    // The seeker joins at runtime, as `swarmux connect` does.
    assert!(seeker
        .cli(&["connect", "gnutella", &up_addr])
        .status
        .success());

    for leaf in sharers.iter().chain([&seeker]) {
        wait_for(30, "the leaf to be connected to the ultrapeer", || {
            neighbours(leaf)
                .iter()
                .any(|s| s["state"] == "connected" && s["addr"] == up_addr.as_str())
                .then_some(())
        });
    }
    let ups = neighbours(&up);
    println!("ultrapeer's neighbours: {ups:?}");
    assert_eq!(
        ups.iter().filter(|s| s["state"] == "connected").count(),
        3,
        "{ups:?}"
    );

    // Hashing the share and sending the QRP table take a moment: search
    // until the hit shows.
    let row = wait_for(60, "one Gnutella row with both sharers", || {
        let v = seeker.try_json(&["search", "--wait", "3", "gnutella", "sample"])?;
        v["rows"]
            .as_array()?
            .iter()
            .find(|r| r["name"] == "gnutella-sample.ogg" && r["sources"] == 2)
            .cloned()
    });
    println!("row: {row}");
    assert_eq!(row["size"], 8_000_000);
    let id = row["id"].as_u64().unwrap().to_string();
    assert!(seeker.cli(&["get", &id]).status.success());
    let mut last = Value::Null;
    let done = (0..240).any(|_| {
        last = first_download(&seeker);
        if last["state"]["state"] == "complete" {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        false
    });
    assert!(
        done,
        "the download did not complete: {last}\nseeker log:\n{}\nsharer log:\n{}",
        seeker.log_text(),
        sharers[0].log_text()
    );
    let got = std::fs::read(seeker.proc.dir.join("downloads/gnutella-sample.ogg")).unwrap();
    assert!(got == content, "the file differs");
    let d = first_download(&seeker);
    assert_eq!(d["network"], "gnutella");
    assert!(d["hash"].as_str().unwrap().starts_with("sha1:"), "{d}");
    // Both sharers sent part of it.
    let sent: Vec<u64> = sharers
        .iter()
        .map(|s| gnutella_status(s)["uploaded"].as_u64().unwrap_or(0))
        .collect();
    println!("uploaded by the two sharers: {sent:?}");
    assert!(sent.iter().all(|&n| n > 0), "{sent:?}");
    assert!(sent.iter().sum::<u64>() >= 8_000_000, "{sent:?}");
}
