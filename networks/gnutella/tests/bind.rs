//! A node bound to one address sends from it: its neighbour dials, the GIV
//! connections answering pushes and its HTTP downloads all leave from
//! 127.0.0.2 when it listens on 127.0.0.2.

mod common;

use common::*;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swarmux_gnutella::node::servent_id;
use swarmux_gnutella::proto::descriptor::{Descriptor, Guid, TYPE_PUSH};
use swarmux_gnutella::proto::push::Push;
use swarmux_gnutella::Mode;
use swarmux_net::{Limits, NetCommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a recording listener saw: the peer address and first bytes of every
/// connection.
type Seen = Arc<Mutex<Vec<(IpAddr, String)>>>;

/// Accepts connections on `l` forever, noting each one's peer address and
/// first bytes, then closing it.
async fn record(l: TcpListener, seen: Seen) {
    loop {
        let Ok((mut s, peer)) = l.accept().await else {
            continue;
        };
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut b = [0u8; 16];
            let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut b))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
            let first = String::from_utf8_lossy(&b[..n]).into_owned();
            seen.lock().unwrap().push((peer.ip(), first));
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outgoing_connection_leaves_from_the_bound_address() {
    let l = TcpListener::bind("127.0.0.3:0").await.unwrap();
    let target = l.local_addr().unwrap();
    let seen: Seen = Arc::default();
    tokio::spawn(record(l, seen.clone()));

    // A neighbour dial: the target is a configured peer.
    let mut cfg = config(Mode::Ultrapeer, vec![target.to_string()]);
    cfg.listen = "127.0.0.2:0".parse().unwrap();
    let mut node = start(cfg, Limits::new(0, 0, 4)).await;
    assert!(node.addr.starts_with("127.0.0.2:"), "{}", node.addr);
    let f = shared_file(node.dir.path(), "shared.bin", &pseudo_random(10_000, 1));
    node.share(vec![f.clone()]);

    // An HTTP download from the target.
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_from_direct_source(3, &f, &target.to_string(), dir.path());
    node.cmd.send(NetCommand::StartDownload(spec)).unwrap();

    // A push asking the node to open a GIV connection to the target.
    let guid = servent_id::load_or_create(&node.dir.path().join(servent_id::FILE_NAME)).guid;
    let mut link = connect_as_ultrapeer(&node.addr, "pusher/1.0").await;
    let push = Push {
        servent: guid,
        file_index: 1,
        addr: match target {
            SocketAddr::V4(a) => a,
            _ => unreachable!(),
        },
        ggep: Vec::new(),
    };
    let d = Descriptor::new(Guid::random(), TYPE_PUSH, 3, 0, push.encode());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let has = |what: &str| {
        seen.lock()
            .unwrap()
            .iter()
            .any(|(_, f)| f.starts_with(what))
    };
    while !(has("GNUTELLA CONNECT") && has("GET ") && has("GIV ")) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every kind arrived: {:?}",
            seen.lock().unwrap()
        );
        // Until the share is in place the push is ignored: send it again.
        link.write_all(&d.encode().unwrap()).await.unwrap();
        node.drain();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seen = seen.lock().unwrap().clone();
    let bound: IpAddr = "127.0.0.2".parse().unwrap();
    assert!(
        seen.iter().all(|(ip, _)| *ip == bound),
        "connections from elsewhere than 127.0.0.2: {seen:?}"
    );
}
