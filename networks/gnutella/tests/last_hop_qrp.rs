//! Last-hop QRP between ultrapeers: the same "broom" network is built twice,
//! without and with inter-ultrapeer QRP tables. A chain of ultrapeers UP0 -
//! UP1 - UP2 - UP3 ends in six ultrapeers UP4..UP9 all linked to UP3, each
//! ultrapeer with one leaf. A leaf of UP0 searches (TTL 5): the query reaches
//! UP4..UP9 with TTL 1, its last hop. With the tables, UP3 sends it only to
//! the two of them whose table (their files and their leaf's) matches. Every
//! sharer is found both times; fewer query descriptors are sent.

mod common;

use common::*;
use std::collections::HashSet;
use std::time::Duration;
use swarmux_gnutella::Mode;
use swarmux_net::{Limits, NetEvent};

const UPS: usize = 10;

struct Run {
    queries_sent: u64,
    found: HashSet<String>,
}

/// Index of the leaf of ultrapeer `up`.
fn leaf(up: usize) -> usize {
    UPS + up
}

async fn run(ultrapeer_qrp: bool) -> Run {
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..UPS {
        let peers = match i {
            0 => vec![],
            1..=3 => vec![nodes[i - 1].addr.clone()],
            _ => vec![nodes[3].addr.clone()],
        };
        let mut cfg = config(Mode::Ultrapeer, peers);
        // Just the links above: nobody dials more from its host cache.
        cfg.max_ultrapeers = if i == 3 { 8 } else { 2 };
        // Each holds exactly its links of the broom, so that a slow start
        // cannot add a link from the host cache (the chain's ends once met).
        cfg.ultrapeer_degree = match i {
            0 | 4.. => 1,
            3 => 7,
            _ => 2,
        };
        cfg.ultrapeer_qrp = ultrapeer_qrp;
        nodes.push(start(cfg, Limits::new(0, 0, 4)).await);
    }
    for i in 0..UPS {
        let mut cfg = config(Mode::Leaf, vec![nodes[i].addr.clone()]);
        cfg.max_ultrapeers = 1;
        nodes.push(start(cfg, Limits::new(0, 0, 4)).await);
    }
    let searcher = leaf(0);
    // Two sharers before the last hop, two behind it (UP5's leaf, UP7).
    let sharers = [leaf(1), 2, leaf(5), 7];
    for (i, n) in nodes.iter().enumerate() {
        let name = if sharers.contains(&i) {
            format!("report-{i}.txt")
        } else {
            format!("unrelated-{i}.dat")
        };
        n.share(vec![shared_file(n.dir.path(), &name, name.as_bytes())]);
    }
    wait_until(&mut nodes, 15, "the broom is connected", |ns| {
        ns.iter().enumerate().all(|(i, n)| {
            let ups = n
                .connected()
                .iter()
                .filter(|s| s.identity.ends_with("→ ultrapeer"))
                .count();
            let want = match i {
                0 => 1,
                1 | 2 => 2,
                3 => 7,
                _ => 1,
            };
            ups == want
        })
    })
    .await;
    // Leaf tables, then the ultrapeers' merged tables (refreshed each second).
    tokio::time::sleep(Duration::from_millis(3500)).await;
    for n in nodes.iter_mut() {
        n.drain();
    }
    let before: u64 = nodes.iter().map(|n| count(n, "queries", "out")).sum();
    nodes[searcher].search(1, "report");
    let mut found = HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while found.len() < sharers.len() {
        let ev = tokio::time::timeout_at(deadline, nodes[searcher].events.recv())
            .await
            .unwrap_or_else(|_| panic!("found only {found:?}"))
            .unwrap();
        if let NetEvent::Hit(h) = ev {
            found.insert(h.name);
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for n in nodes.iter_mut() {
        n.drain();
    }
    let after: u64 = nodes.iter().map(|n| count(n, "queries", "out")).sum();
    Run {
        queries_sent: after - before,
        found,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_hop_qrp_cuts_queries_and_finds_every_sharer() {
    let plain = run(false).await;
    let qrp = run(true).await;
    println!(
        "messages per query: {} query descriptors without inter-ultrapeer QRP, {} with it",
        plain.queries_sent, qrp.queries_sent
    );
    let want: HashSet<String> = [leaf(1), 2, leaf(5), 7]
        .iter()
        .map(|i| format!("report-{i}.txt"))
        .collect();
    assert_eq!(plain.found, want);
    assert_eq!(qrp.found, want, "every sharer is still found");
    // Without tables UP3 sends the last hop to all six; with them, to two.
    assert!(
        qrp.queries_sent + 4 <= plain.queries_sent,
        "{} vs {}",
        qrp.queries_sent,
        plain.queries_sent
    );
}
