//! Benchmark (`cargo bench --bench ed2k_transfer`): how fast swarmux hashes,
//! and how fast one swarmux daemon downloads a file from two others over
//! loopback through a `swarmux index-server`. Prints seconds, MB/s, the
//! downloader's CPU seconds and its peak RSS.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::time::Instant;
use swarmux_net::hashing::FileHasher;

const SIZE: usize = 256 << 20;

fn hashing() {
    let data = data(SIZE, 9);
    let start = Instant::now();
    let mut h = FileHasher::new();
    for chunk in data.chunks(1 << 20) {
        h.update(chunk);
    }
    let hashes = h.finish();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "hashing (MD4 parts + SHA-1, one pass): {} MiB in {secs:.2} s = {:.0} MiB/s ({} parts)",
        SIZE >> 20,
        (SIZE >> 20) as f64 / secs,
        hashes.ed2k_parts.len()
    );
}

fn transfer() {
    let tmp = tempfile::tempdir().unwrap();
    let server = IndexServer::start(&tmp.path().join("server"));
    let content = data(SIZE, 10);
    let addr = server.addr();
    let mut sources = Vec::new();
    for name in ["a", "b"] {
        let share = tmp.path().join(name).join("share");
        std::fs::create_dir_all(&share).unwrap();
        std::fs::write(share.join("bench.bin"), &content).unwrap();
        let n = Node::start(
            &tmp.path().join(name),
            &["--server", &addr, "--share", share.to_str().unwrap()],
        );
        sources.push(n);
    }
    for n in &sources {
        n.wait_ready(1);
    }
    let c = Node::start(&tmp.path().join("c"), &["--server", &addr]);
    c.wait_ready(0);
    let pid = c.status()["daemon"]["pid"].as_u64().unwrap() as u32;
    let id = wait_for(60, "a search row with 2 sources", || {
        let v = c.json(&["search", "--wait", "3", "bench"]);
        let row = v["rows"].get(0)?.clone();
        (row["sources"] == 2).then(|| row["id"].as_u64()).flatten()
    });
    let (cpu_before, _) = cpu_and_peak_rss(pid);
    let start = Instant::now();
    let (ok, _) = cli_with_timeout(&c, &["get", &id.to_string(), "--wait"], 600);
    let secs = start.elapsed().as_secs_f64();
    assert!(ok, "the download failed");
    let (cpu_after, rss) = cpu_and_peak_rss(pid);
    let got = std::fs::read(c.proc.dir.join("downloads").join("bench.bin")).unwrap();
    assert!(got == content, "the downloaded file differs");
    println!(
        "ed2k download, 2 swarmux sources -> swarmux over loopback: {} MiB in {secs:.2} s = {:.1} MB/s; downloader CPU {:.2} s; downloader peak RSS {} MiB (includes hashing the finished file for sharing)",
        SIZE >> 20,
        SIZE as f64 / 1e6 / secs,
        cpu_after - cpu_before,
        rss / 1024
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would not want the long run.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    hashing();
    transfer();
}
