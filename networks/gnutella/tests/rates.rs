//! Transfer rates: during a throttled download the downloader's progress
//! shows a nonzero rate for the download and for its source, and the
//! uploader's Uploads rows show a nonzero rate, close to the limit.

mod common;

use common::*;
use swarmux_gnutella::Mode;
use swarmux_net::{Limits, NetCommand, NetEvent};

/// The sharer's upload limit.
const LIMIT: u64 = 512 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_and_upload_rates_are_measured() {
    let mut src = start(config(Mode::Ultrapeer, vec![]), Limits::new(0, LIMIT, 4)).await;
    // About five seconds at the limit.
    let data = pseudo_random(2_600_000, 11);
    let f = shared_file(src.dir.path(), "rated.bin", &data);
    src.share(vec![f.clone()]);
    let mut dl = start(config(Mode::Leaf, vec![]), Limits::new(0, 0, 4)).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_from_direct_source(9, &f, &src.addr, dir.path());
    let temp = spec.temp_path.clone();
    dl.cmd.send(NetCommand::StartDownload(spec)).unwrap();

    let (rate, peer_rate) = dl
        .wait_for(15, |e| match e {
            NetEvent::Progress { id: 9, stats } => {
                let peer = stats.peers.iter().map(|p| p.rate).max().unwrap_or(0);
                (stats.rate > 0 && peer > 0).then_some((stats.rate, peer))
            }
            _ => None,
        })
        .await;
    println!("download rate {rate} B/s, source rate {peer_rate} B/s");
    assert!(rate <= 3 * LIMIT && peer_rate <= rate, "{rate} {peer_rate}");

    let up_rate = src
        .wait_for(15, |e| match e {
            NetEvent::Uploads(rows) => rows.iter().map(|u| u.rate).find(|&r| r > 0),
            _ => None,
        })
        .await;
    println!("upload row rate {up_rate} B/s");
    assert!(up_rate <= 3 * LIMIT, "{up_rate}");

    dl.wait_for(20, |e| {
        matches!(e, NetEvent::Completed { id: 9 }).then_some(())
    })
    .await;
    assert_eq!(std::fs::read(&temp).unwrap(), data);
}
