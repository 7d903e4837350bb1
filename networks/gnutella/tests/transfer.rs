//! Downloads from a magnet link's sources (no search): a busy source (503)
//! is shown and retried later, and the download completes once it has a
//! free slot.

mod common;

use common::*;
use std::sync::Arc;
use swarmux_gnutella::Mode;
use swarmux_net::{DownloadSpec, Limits, NetCommand, NetEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_source_then_download_from_link() {
    let limits = Arc::new(Limits::new(0, 0, 0));
    let src = start_shared(config(Mode::Ultrapeer, vec![]), limits.clone()).await;
    let data = pseudo_random(1_500_000, 4);
    let f = shared_file(src.dir.path(), "linked.bin", &data);
    src.share(vec![f.clone()]);
    let mut dl = start(config(Mode::Leaf, vec![]), Limits::new(0, 0, 4)).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_from_direct_source(5, &f, &src.addr, dir.path());
    let temp = spec.temp_path.clone();
    dl.cmd
        .send(NetCommand::StartDownload(spec.clone()))
        .unwrap();
    let parts = dl
        .wait_for(5, |e| match e {
            NetEvent::DownloadMeta { id: 5, parts, .. } => Some(*parts),
            _ => None,
        })
        .await;
    assert_eq!(parts, 2);
    dl.wait_for(10, |e| match e {
        NetEvent::Progress { stats, .. } => stats
            .peers
            .iter()
            .any(|p| p.state.starts_with("busy (503), retry in 30 s"))
            .then_some(()),
        _ => None,
    })
    .await;
    // Free a slot and restart the download (as the engine does on resume):
    // the second part is marked verified already, only the first is fetched.
    limits.set_upload_slots(1);
    dl.cmd.send(NetCommand::PauseDownload(5)).unwrap();
    let mut partial = data.clone();
    partial[..1 << 20].fill(0);
    std::fs::write(&temp, &partial).unwrap();
    let resumed = DownloadSpec {
        verified: vec![false, true],
        ..spec
    };
    dl.cmd.send(NetCommand::StartDownload(resumed)).unwrap();
    let mut verified = Vec::new();
    dl.wait_for(10, |e| match e {
        NetEvent::PartsVerified { parts, .. } => {
            verified.extend(parts.iter().copied());
            None
        }
        NetEvent::Completed { id: 5 } => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(verified, vec![0]);
    assert_eq!(std::fs::read(&temp).unwrap(), data);
}
