//! Acceptance 3: a node that cannot accept connections (`firewalled`)
//! shares a file; the downloader reaches it through Push/GIV.

mod common;

use common::*;
use std::time::Duration;
use swarmux_gnutella::Mode;
use swarmux_net::{Limits, NetCommand, NetEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firewalled_source_uploads_through_push() {
    let up = start(config(Mode::Ultrapeer, vec![]), Limits::new(0, 0, 4)).await;
    let mut fw_cfg = config(Mode::Leaf, vec![up.addr.clone()]);
    fw_cfg.firewalled = true;
    let fw = start(fw_cfg, Limits::new(0, 0, 4)).await;
    let dl = start(
        config(Mode::Leaf, vec![up.addr.clone()]),
        Limits::new(0, 0, 4),
    )
    .await;
    let data = pseudo_random((2 << 20) + 1234, 7);
    fw.share(vec![shared_file(
        fw.dir.path(),
        "behind-the-wall.bin",
        &data,
    )]);

    // The firewalled node really refuses incoming connections.
    let mut s = tokio::net::TcpStream::connect(&fw.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = s.write_all(b"GET /get/1/x HTTP/1.1\r\n\r\n").await;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
    assert!(
        matches!(n, Ok(Ok(0)) | Ok(Err(_))),
        "firewalled node answered"
    );

    let mut nodes = vec![fw, dl];
    wait_until(&mut nodes, 10, "both leaves connected", |ns| {
        ns.iter().all(|n| !n.connected().is_empty())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut dl = nodes.pop().unwrap();
    let mut fw = nodes.pop().unwrap();
    dl.search(1, "wall");
    let hit = dl
        .wait_for(10, |e| match e {
            NetEvent::Hit(h) => Some(h.clone()),
            _ => None,
        })
        .await;
    assert!(
        hit.link.contains("x.push="),
        "push source in the link: {}",
        hit.link
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_for(&hit, dir.path());
    let temp = spec.temp_path.clone();
    dl.cmd.send(NetCommand::StartDownload(spec)).unwrap();
    let mut saw_push = false;
    dl.wait_for(20, |e| match e {
        NetEvent::Progress { stats, .. } => {
            saw_push |= stats.peers.iter().any(|p| p.state == "push requested");
            None
        }
        NetEvent::Completed { id: 77 } => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(std::fs::read(&temp).unwrap(), data);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    fw.drain();
    assert_eq!(fw.uploaded, data.len() as u64);
    println!("push download done (push state seen in progress: {saw_push})");
    drop(up);
}
