//! Acceptance 1 and 2: thirty nodes on 127.0.0.1 in a random connected
//! topology (seeded), five ultrapeers and 25 leaves. A query from one leaf
//! reaches every node sharing a matching file, hits come back along the
//! reverse path, each node answers once (the leaf's ultrapeers query
//! dynamically, all of it is counted); then the file shared by two nodes
//! is downloaded from both and verified against its urn:sha1.

mod common;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use swarmux_gnutella::Mode;
use swarmux_net::{Limits, NetCommand, NetEvent, SearchHit};

const UPS: usize = 5;
const LEAVES: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_nodes_search_and_download_from_two() {
    let t0 = Instant::now();
    let mut rng = StdRng::seed_from_u64(5);
    let mut nodes: Vec<Node> = Vec::new();
    // Ultrapeers: a random tree plus one extra edge.
    let mut edges = 0;
    for i in 0..UPS {
        let mut peers: Vec<String> = Vec::new();
        if i > 0 {
            peers.push(nodes[rng.gen_range(0..i)].addr.clone());
            edges += 1;
        }
        if i == UPS - 1 {
            peers.push(nodes[rng.gen_range(0..i - 1)].addr.clone());
            edges += 1;
        }
        peers.dedup();
        let mut cfg = config(Mode::Ultrapeer, peers);
        cfg.max_ultrapeers = 4;
        cfg.ultrapeer_degree = 4;
        // Sharers upload at 2 MiB/s so a download needs both of them.
        nodes.push(start(cfg, Limits::new(0, 2 << 20, 4)).await);
    }
    // Leaves: one or two random ultrapeers each.
    for _ in 0..LEAVES {
        let k = rng.gen_range(1..=2);
        let mut peers: Vec<String> = (0..k)
            .map(|_| nodes[rng.gen_range(0..UPS)].addr.clone())
            .collect();
        peers.dedup();
        let mut cfg = config(Mode::Leaf, peers.clone());
        cfg.max_ultrapeers = peers.len();
        nodes.push(start(cfg, Limits::new(0, 2 << 20, 4)).await);
    }
    // Sharers: eight random nodes other than the searcher (the first leaf);
    // the first two share the same 6 MiB file.
    let searcher = UPS;
    let mut sharers: Vec<usize> = Vec::new();
    while sharers.len() < 8 {
        let i = rng.gen_range(0..UPS + LEAVES);
        if i != searcher && !sharers.contains(&i) {
            sharers.push(i);
        }
    }
    let common_data = pseudo_random(6 << 20, 99);
    for (k, &i) in sharers.iter().enumerate() {
        let mut files = vec![shared_file(
            nodes[i].dir.path(),
            &format!("noise-{i}.bin"),
            b"xyz",
        )];
        if k < 2 {
            files.push(shared_file(
                nodes[i].dir.path(),
                "report-common.bin",
                &common_data,
            ));
        } else {
            let data = format!("report number {i}").into_bytes();
            files.push(shared_file(
                nodes[i].dir.path(),
                &format!("report-{i}.txt"),
                &data,
            ));
        }
        nodes[i].share(files);
    }
    for (i, n) in nodes.iter().enumerate() {
        if !sharers.contains(&i) {
            n.share(vec![shared_file(
                n.dir.path(),
                &format!("unrelated-{i}.dat"),
                b"abc",
            )]);
        }
    }
    wait_until(&mut nodes, 10, "every node connected", |ns| {
        ns.iter().enumerate().all(|(i, n)| {
            let c = n.connected();
            if i < UPS {
                c.iter().any(|s| s.identity == "ultrapeer → ultrapeer")
            } else {
                !c.is_empty() && c.iter().all(|s| s.identity == "leaf → ultrapeer")
            }
        })
    })
    .await;
    // Let the QRP tables arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for n in nodes.iter_mut() {
        n.drain();
    }
    let before: Vec<(u64, u64)> = nodes
        .iter()
        .map(|n| (count(n, "queries", "out"), count(n, "hits", "out")))
        .collect();
    let dup_before: u64 = nodes.iter().map(duplicates).sum();
    let hits_in_before = count(&nodes[searcher], "hits", "in");
    println!(
        "topology: {UPS} ultrapeers ({edges} configured UP-UP links), {LEAVES} leaves, set up in {:?}",
        t0.elapsed()
    );

    nodes[searcher].search(1, "report");
    let mut hits: Vec<SearchHit> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while hits.len() < sharers.len() {
        let ev = tokio::time::timeout_at(deadline, nodes[searcher].events.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {} hits: {hits:#?}", hits.len(), sharers.len()))
            .unwrap();
        if let NetEvent::Hit(h) = ev {
            assert_eq!(h.network, "gnutella");
            assert!(is_sha1(&h.hashes[0]));
            assert!(h.link.starts_with("magnet:?xt=urn:sha1:"));
            hits.push(h);
        }
    }
    // The searcher's ultrapeers query dynamically (a probe, then one
    // ultrapeer at a time): count once no query has gone out for longer
    // than they wait between two sends. Late duplicates would show up too.
    let sent = |ns: &[Node]| ns.iter().map(|n| count(n, "queries", "out")).sum::<u64>();
    let (mut last, mut since) = (sent(&nodes), Instant::now());
    while since.elapsed() < Duration::from_secs(6) {
        assert!(t0.elapsed() < Duration::from_secs(90), "queries never stop");
        tokio::time::sleep(Duration::from_millis(500)).await;
        for n in nodes.iter_mut() {
            for ev in n.drain() {
                if let NetEvent::Hit(h) = ev {
                    hits.push(h);
                }
            }
        }
        if sent(&nodes) != last {
            (last, since) = (sent(&nodes), Instant::now());
        }
    }
    let names: HashSet<&str> = hits.iter().map(|h| h.name.as_str()).collect();
    for (k, &i) in sharers.iter().enumerate().skip(2) {
        assert!(
            names.contains(format!("report-{i}.txt").as_str()),
            "sharer {k} missing"
        );
    }
    let common_hits: Vec<&SearchHit> = hits
        .iter()
        .filter(|h| h.name == "report-common.bin")
        .collect();
    assert_eq!(
        common_hits.len(),
        2,
        "one hit per node sharing the common file"
    );
    assert_eq!(hits.len(), sharers.len(), "no duplicate hits");
    // Each sharer answered once: the searcher received exactly one hit
    // descriptor per sharer.
    let hits_in = count(&nodes[searcher], "hits", "in") - hits_in_before;
    assert_eq!(hits_in, sharers.len() as u64, "each node answers once");
    let queries_sent: u64 = nodes
        .iter()
        .zip(&before)
        .map(|(n, b)| count(n, "queries", "out") - b.0)
        .sum();
    let hits_sent: u64 = nodes
        .iter()
        .zip(&before)
        .map(|(n, b)| count(n, "hits", "out") - b.1)
        .sum();
    let dups = nodes.iter().map(duplicates).sum::<u64>() - dup_before;
    println!(
        "messages per query: {queries_sent} query descriptors + {hits_sent} hit descriptors sent over 30 nodes ({dups} duplicate queries dropped), {} hits after {:?}",
        hits.len(),
        t0.elapsed()
    );
    assert!(queries_sent < 200, "flooding is bounded");

    // Acceptance 2: download the common file from both nodes.
    let hit = common_hits.last().unwrap();
    let dl_dir = tempfile::tempdir().unwrap();
    let spec = spec_for(hit, dl_dir.path());
    let temp = spec.temp_path.clone();
    nodes[searcher]
        .cmd
        .send(NetCommand::StartDownload(spec))
        .unwrap();
    nodes[searcher]
        .wait_for(20, |e| {
            matches!(e, NetEvent::Completed { id: 77 }).then_some(())
        })
        .await;
    assert_eq!(std::fs::read(&temp).unwrap(), common_data);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for &i in &sharers[..2] {
        nodes[i].drain();
        assert!(nodes[i].uploaded > 0, "node {i} uploaded nothing");
        println!("sharer {i} uploaded {} bytes", nodes[i].uploaded);
    }
    println!("done in {:?}", t0.elapsed());
}
