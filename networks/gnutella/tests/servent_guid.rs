//! The servent GUID in our query hits survives a restart on the same data
//! directory, and a corrupt GUID file is replaced (with a log line).

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;
use swarmux_gnutella::node::servent_id::FILE_NAME;
use swarmux_gnutella::proto::descriptor::{DescriptorDecoder, Guid, TYPE_QUERY_HIT};
use swarmux_gnutella::proto::message::Message;
use swarmux_gnutella::proto::query::Query;
use swarmux_gnutella::proto::query_hit::QueryHit;
use swarmux_gnutella::Mode;
use swarmux_net::{Limits, NetCommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Connects to `addr` as a plain ultrapeer, sends a query and returns the
/// servent GUID of the hit that answers it.
async fn servent_guid_in_hit(addr: &str, text: &str) -> Guid {
    let mut s = connect_as_ultrapeer(addr, "probe/1.0").await;
    let q = Message::Query(Query::keywords(text)).to_descriptor(Guid::random(), 3, 0);
    s.write_all(&q.encode().unwrap()).await.unwrap();
    let mut dec = DescriptorDecoder::default();
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(d) = dec.next_descriptor().unwrap() {
            if d.header.payload_type == TYPE_QUERY_HIT && d.header.guid == q.header.guid {
                return QueryHit::decode(&d.payload).unwrap().servent;
            }
        }
        let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
            .await
            .expect("no hit in time")
            .unwrap();
        assert!(n > 0, "closed before the hit");
        dec.feed(&buf[..n]);
    }
}

async fn sharing_node(dir: tempfile::TempDir) -> Node {
    let node = start_in(
        config(Mode::Ultrapeer, vec![]),
        Arc::new(Limits::new(0, 0, 4)),
        dir,
    )
    .await;
    node.share(vec![shared_file(
        node.dir.path(),
        "keepsake.txt",
        b"same servent",
    )]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    node
}

async fn stop(node: Node) -> tempfile::TempDir {
    node.cmd.send(NetCommand::Shutdown).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    node.dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servent_guid_is_kept_across_restarts() {
    let node = sharing_node(tempfile::tempdir().unwrap()).await;
    let first = servent_guid_in_hit(&node.addr, "keepsake").await;
    let path = node.dir.path().join(FILE_NAME);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().trim(),
        first.to_hex()
    );
    let node = sharing_node(stop(node).await).await;
    assert_eq!(servent_guid_in_hit(&node.addr, "keepsake").await, first);

    // A damaged file is replaced by a fresh GUID, with a warning.
    let dir = stop(node).await;
    std::fs::write(dir.path().join(FILE_NAME), b"12AB\n").unwrap();
    let mut node = sharing_node(dir).await;
    let fresh = servent_guid_in_hit(&node.addr, "keepsake").await;
    assert_ne!(fresh, first);
    node.drain();
    assert!(
        node.logs
            .iter()
            .any(|l| l.contains("not a valid servent GUID")),
        "{:#?}",
        node.logs
    );
    assert_eq!(
        std::fs::read_to_string(node.dir.path().join(FILE_NAME))
            .unwrap()
            .trim(),
        fresh.to_hex()
    );
}
