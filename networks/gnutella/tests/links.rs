//! Acceptance 5: a deflated link and an uncompressed link to the same
//! ultrapeer interoperate; a handshake refused with 503 makes the node try
//! a host from the refusal's X-Try-Ultrapeers.

mod common;

use common::*;
use swarmux_gnutella::Mode;
use swarmux_net::{Limits, NetEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_and_uncompressed_links_interoperate() {
    let up = start(config(Mode::Ultrapeer, vec![]), Limits::new(0, 0, 4)).await;
    let mut plain_cfg = config(Mode::Leaf, vec![up.addr.clone()]);
    plain_cfg.deflate = false;
    let plain = start(plain_cfg, Limits::new(0, 0, 4)).await;
    plain.share(vec![shared_file(
        plain.dir.path(),
        "plain-text.txt",
        b"plain",
    )]);
    let zipped = start(
        config(Mode::Leaf, vec![up.addr.clone()]),
        Limits::new(0, 0, 4),
    )
    .await;
    zipped.share(vec![shared_file(
        zipped.dir.path(),
        "zipped-text.txt",
        b"zip",
    )]);
    let mut nodes = vec![up, plain, zipped];
    wait_until(&mut nodes, 10, "both links up", |ns| {
        ns[0].connected().len() == 2
    })
    .await;
    let msgs: Vec<String> = nodes[0]
        .connected()
        .iter()
        .map(|s| s.message.clone())
        .collect();
    assert!(msgs.iter().any(|m| m.ends_with(", deflate")), "{msgs:?}");
    assert!(
        msgs.iter().any(|m| m.ends_with(", uncompressed")),
        "{msgs:?}"
    );
    // Each leaf finds the other's file across the other kind of link.
    nodes[1].search(1, "text");
    nodes[2].search(2, "text");
    for (i, want) in [(1, "zipped-text.txt"), (2, "plain-text.txt")] {
        let name = nodes[i]
            .wait_for(10, |e| match e {
                NetEvent::Hit(h) => Some(h.name.clone()),
                _ => None,
            })
            .await;
        assert_eq!(name, want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_with_503_tries_another_host() {
    let good = start(config(Mode::Ultrapeer, vec![]), Limits::new(0, 0, 4)).await;
    let mut full_cfg = config(Mode::Ultrapeer, vec![good.addr.clone()]);
    full_cfg.max_leaves = 0;
    let full = start(full_cfg, Limits::new(0, 0, 4)).await;
    let mut nodes = vec![good, full];
    wait_until(&mut nodes, 10, "ultrapeers linked", |ns| {
        !ns[1].connected().is_empty()
    })
    .await;
    let mut leaf_cfg = config(Mode::Leaf, vec![nodes[1].addr.clone()]);
    leaf_cfg.max_ultrapeers = 1;
    nodes.push(start(leaf_cfg, Limits::new(0, 0, 4)).await);
    let (good_addr, full_addr) = (nodes[0].addr.clone(), nodes[1].addr.clone());
    wait_until(&mut nodes, 10, "leaf on the other ultrapeer", |ns| {
        ns[2].connected().iter().any(|s| s.addr == good_addr)
    })
    .await;
    let leaf = &nodes[2];
    let refused = leaf
        .servers
        .iter()
        .find(|s| s.addr == full_addr)
        .expect("the refusing host is listed");
    assert!(refused.state.starts_with("refused: 503"), "{refused:?}");
    assert!(refused.name.starts_with("swarmux/"));
    println!("leaf neighbours: {:#?}", leaf.servers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_remove_neighbour_and_persist_the_host_cache() {
    use swarmux_net::NetCommand;
    let up = start(config(Mode::Ultrapeer, vec![]), Limits::new(0, 0, 4)).await;
    let leaf = start(config(Mode::Leaf, vec![]), Limits::new(0, 0, 4)).await;
    let up_addr = up.addr.clone();
    leaf.cmd
        .send(NetCommand::AddServer(up_addr.clone()))
        .unwrap();
    let mut nodes = vec![up, leaf];
    wait_until(&mut nodes, 10, "leaf connected", |ns| {
        ns[1].connected().iter().any(|s| s.addr == up_addr)
    })
    .await;
    nodes[1]
        .cmd
        .send(NetCommand::RemoveServer(up_addr.clone()))
        .unwrap();
    wait_until(&mut nodes, 10, "leaf disconnected", |ns| {
        ns[1].connected().is_empty() && ns[0].connected().is_empty()
    })
    .await;
    // The ultrapeer remembers where its leaf's peer is; shutting down saves it.
    let mut leaf2_cfg = config(Mode::Leaf, vec![up_addr.clone()]);
    leaf2_cfg.max_ultrapeers = 1;
    let leaf2 = start(leaf2_cfg, Limits::new(0, 0, 4)).await;
    nodes.push(leaf2);
    wait_until(&mut nodes, 10, "second leaf connected", |ns| {
        !ns[2].connected().is_empty()
    })
    .await;
    nodes[2].cmd.send(NetCommand::Shutdown).unwrap();
    let hosts_file = nodes[2].dir.path().join("gnutella_hosts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !hosts_file.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&hosts_file).unwrap();
    assert!(text.lines().any(|l| l == up_addr), "{text}");
}

#[test]
fn magnet_links_are_ours() {
    use swarmux_gnutella::{GnutellaConfig, GnutellaNetwork};
    use swarmux_net::{ContentHash, Network};
    let net = GnutellaNetwork::new(GnutellaConfig::default());
    let b32 = "3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ";
    let link = format!("magnet:?xt=urn:sha1:{b32}&dn=empty.txt&xl=0");
    assert!(net.handles_link(&link));
    assert!(!net.handles_link("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567"));
    assert!(!net.handles_link("ed2k://|file|a|1|00000000000000000000000000000000|/"));
    let (name, size, hash) = net.parse_link(&link).unwrap();
    assert_eq!((name.as_str(), size), ("empty.txt", 0));
    assert!(matches!(hash, ContentHash::Sha1(h) if h[0] == 0xDA));
}
