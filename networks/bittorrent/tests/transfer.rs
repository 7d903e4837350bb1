//! Seed → leech transfers between two `BitTorrentNetwork`s on 127.0.0.1.

mod common;

use common::*;
use swarmux_net::{NetCommand, NetEvent};

/// A seed of a multi-MB file and a leech reaching it through a magnet's
/// `x.pe` (metadata exchange), then through the .torrent path (an HTTP
/// tracker on loopback gives the seed's address). `BT_TEST_MB` sets the size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_to_leech_by_magnet_and_by_torrent_file() {
    let dir = tempfile::tempdir().unwrap();
    let mb: usize = std::env::var("BT_TEST_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let data = pseudo_random((mb << 20) + 1234, 1);
    let src = dir.path().join("seed/movie.bin");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, &data).unwrap();

    let mut seed = start_node(&dir.path().join("seed-data"), None).await;
    let tracker = http_tracker(vec![([127, 0, 0, 1], seed.port).into()]).await;
    let (torrent, mi) = make_torrent(&src, 256 << 10, &[&tracker]);
    let n = mi.info.num_pieces();
    seed.send(NetCommand::Seed(spec(
        1,
        &mi,
        torrent.display().to_string(),
        &src,
    )));
    until_seeding(&mut seed.events, 1).await;

    for (round, link) in [magnet(&mi, &[seed.port]), torrent.display().to_string()]
        .into_iter()
        .enumerate()
    {
        let mut leech = start_node(&dir.path().join(format!("leech{round}")), None).await;
        let temp = dir.path().join(format!("leech{round}/temp/5.part"));
        std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
        let id = 5;
        let started = std::time::Instant::now();
        leech.send(NetCommand::StartDownload(spec(id, &mi, link, &temp)));
        let events = until_completed(&mut leech.events, id, 120).await;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "round {round}: {mb} MiB in {secs:.2} s = {:.1} MB/s",
            data.len() as f64 / secs / 1e6
        );
        assert_eq!(verified_parts(&events, id), (0..n).collect::<Vec<_>>());
        assert!(events.iter().any(|e| matches!(e,
            NetEvent::DownloadMeta { id: i, parts, .. } if *i == id && *parts == n)));
        if round == 0 {
            assert!(
                events.iter().any(|e| matches!(e,
                NetEvent::Described { id: i, size, .. } if *i == id && *size == data.len() as u64))
            );
        }
        assert!(std::fs::read(&temp).unwrap() == data, "data differs");
        leech.send(NetCommand::Shutdown);
    }
    // The seed saw uploads.
    wait_for(&mut seed.events, 10, |e| match e {
        NetEvent::Uploaded(n) if *n >= data.len() as u64 => Some(()),
        _ => None,
    })
    .await;
}
