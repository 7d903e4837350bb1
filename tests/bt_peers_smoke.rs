//! Proof that the BitTorrent test harness (tests/common/bt_peers.rs) and the
//! real peers it drives work together on 127.0.0.1, without swarmux:
//!
//! 1. opentracker (HTTP) + transmission-daemon seed → aria2c downloads;
//! 2. qbittorrent-nox seeds existing data → aria2c downloads via the UDP
//!    tracker URL (and qBittorrent reports the info-hash we computed);
//! 3. aria2c seeds → qbittorrent-nox downloads (HTTP tracker);
//! 4. a magnet with no tracker: aria2c fetches the metadata and the data from
//!    qbittorrent-nox, given only its address (a static tracker);
//! 5. the other way: qbittorrent-nox resolves a trackerless magnet from an
//!    aria2c seed it is pointed at with `torrents/addPeers`;
//! 6. our info-hash of a multi-file torrent matches `transmission-show`.
//!
//! Test 1 also restarts opentracker: it forgets its peers and keeps its
//! whitelist.
//!
//! Each compares the files byte for byte and prints its timings (run with
//! `--nocapture` to see them). The tests skip loudly when a program is
//! missing, or fail when `SWARMUX_REQUIRE_PEERS` is set (as in CI).

mod common;

use common::bt_peers::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

/// Writes `size` pseudo-random bytes to `dir/name` and returns its path.
fn write_data(dir: &Path, name: &str, size: usize, seed: u64) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, common::data(size, seed)).unwrap();
    path
}

fn mib_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

#[test]
fn transmission_seeds_aria2_downloads_over_http_tracker() {
    require_bt_peers!(&[
        "opentracker",
        "transmission-create",
        "transmission-daemon",
        "aria2c"
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 6 * MIB;
    let file = write_data(&tmp.path().join("seed"), "tr-file.bin", size, 1);

    let mut tracker = Opentracker::start();
    let (torrent, hash) = make_torrent(&file, &[tracker.http_announce()]);
    tracker.whitelist(hash);

    let t = Instant::now();
    let seed = TransmissionSeed::start(&torrent, &tmp.path().join("seed"));
    seed.wait_seeding(Duration::from_secs(30));
    let seeding_after = t.elapsed();
    tracker.wait_peers(&hash, 1, 0, Duration::from_secs(10));

    let out = tmp.path().join("aria2-out");
    let t = Instant::now();
    let dl = Aria2::download(torrent.to_str().unwrap(), &out, &[]);
    let status = dl.wait_exit(Duration::from_secs(45));
    let took = t.elapsed();
    assert!(status.success(), "aria2c failed: {status}\n{}", dl.logs());
    assert_same_file(&file, &out.join("tr-file.bin"));
    assert!(
        seed.uploaded() >= size as u64,
        "transmission uploaded less than the file"
    );
    // A restarted tracker forgets its peers but keeps its whitelist.
    let t = Instant::now();
    tracker.restart();
    assert_eq!(
        tracker.scrape(&hash),
        (0, 0),
        "peers survived a tracker restart"
    );
    let restart = t.elapsed();
    eprintln!(
        "[bt-smoke 1] opentracker up in {:?} (restart {restart:?}); transmission RPC up in {:?}, seeding+announced \
         after {:?}; aria2c fetched {} MiB from transmission in {:.2}s ({:.1} MiB/s incl. start)",
        tracker.startup_time(),
        seed.startup_time(),
        seeding_after,
        size / MIB,
        took.as_secs_f64(),
        mib_per_s(size, took)
    );
}

#[test]
fn qbittorrent_seeds_aria2_downloads_over_udp_tracker() {
    require_bt_peers!(&[
        "opentracker",
        "transmission-create",
        "qbittorrent-nox",
        "aria2c"
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 24 * MIB;
    let file = write_data(&tmp.path().join("seed"), "qb-file.bin", size, 2);

    let mut tracker = Opentracker::start();
    let (torrent, hash) = make_torrent(&file, &[tracker.udp_announce()]);
    tracker.whitelist(hash);

    let t = Instant::now();
    let qb = QbitNox::start();
    let qb_start = t.elapsed();
    let t = Instant::now();
    qb.add_torrent_file(&torrent, &tmp.path().join("seed"), true);
    qb.wait_seeding(&hash, Duration::from_secs(30));
    let seeding_after = t.elapsed();
    // qBittorrent lists the torrent under the info-hash we computed.
    assert_eq!(qb.info(&hash).unwrap()["hash"], hex40(&hash));
    tracker.wait_peers(&hash, 1, 0, Duration::from_secs(10));

    let out = tmp.path().join("aria2-out");
    let t = Instant::now();
    let dl = Aria2::download(torrent.to_str().unwrap(), &out, &[]);
    let status = dl.wait_exit(Duration::from_secs(45));
    let took = t.elapsed();
    assert!(status.success(), "aria2c failed: {status}\n{}", dl.logs());
    assert_same_file(&file, &out.join("qb-file.bin"));
    eprintln!(
        "[bt-smoke 2] qbittorrent-nox up in {qb_start:?}, seeding+announced (UDP) after \
         {seeding_after:?}; aria2c fetched {} MiB from qBittorrent in {:.2}s ({:.1} MiB/s incl. start)",
        size / MIB,
        took.as_secs_f64(),
        mib_per_s(size, took)
    );
}

#[test]
fn aria2_seeds_qbittorrent_downloads() {
    require_bt_peers!(&[
        "opentracker",
        "transmission-create",
        "qbittorrent-nox",
        "aria2c"
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 24 * MIB;
    let file = write_data(&tmp.path().join("seed"), "a2-file.bin", size, 3);

    let mut tracker = Opentracker::start();
    let (torrent, hash) = make_torrent(&file, &[tracker.http_announce()]);
    tracker.whitelist(hash);

    let t = Instant::now();
    let seed = Aria2::seed(&torrent, &tmp.path().join("seed"));
    let aria_start = t.elapsed();
    tracker.wait_peers(&hash, 1, 0, Duration::from_secs(10));
    let announced_after = t.elapsed();

    let qb = QbitNox::start();
    let out = tmp.path().join("qb-out");
    let t = Instant::now();
    qb.add_torrent_file(&torrent, &out, false);
    qb.wait_complete(&hash, Duration::from_secs(45));
    let took = t.elapsed();
    assert_same_file(&file, &out.join("a2-file.bin"));
    eprintln!(
        "[bt-smoke 3] aria2c seed listening after {aria_start:?}, on the tracker after \
         {announced_after:?}; qBittorrent fetched {} MiB from aria2c in {:.2}s ({:.1} MiB/s)",
        size / MIB,
        took.as_secs_f64(),
        mib_per_s(size, took)
    );
    drop(seed);
}

#[test]
fn aria2_fetches_magnet_metadata_and_data_from_qbittorrent() {
    require_bt_peers!(&["transmission-create", "qbittorrent-nox", "aria2c"]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 4 * MIB;
    let file = write_data(&tmp.path().join("seed"), "mag-file.bin", size, 4);
    let (torrent, hash) = make_torrent(&file, &[]);

    let qb = QbitNox::start();
    qb.add_torrent_file(&torrent, &tmp.path().join("seed"), false);
    qb.wait_seeding(&hash, Duration::from_secs(30));

    let out = tmp.path().join("aria2-out");
    let link = magnet(&hash, Some("mag-file.bin"), &[], &[]);
    let t = Instant::now();
    let dl = Aria2::download(&link, &out, &[qb.peer_addr()]);
    let status = dl.wait_exit(Duration::from_secs(45));
    assert!(status.success(), "aria2c failed: {status}\n{}", dl.logs());
    assert_same_file(&file, &out.join("mag-file.bin"));
    eprintln!(
        "[bt-smoke 4] aria2c resolved a trackerless magnet from qBittorrent and fetched {} MiB \
         in {:.2}s",
        size / MIB,
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn qbittorrent_fetches_magnet_from_aria2_given_its_address() {
    require_bt_peers!(&["transmission-create", "qbittorrent-nox", "aria2c"]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 4 * MIB;
    let file = write_data(&tmp.path().join("seed"), "mag2-file.bin", size, 7);
    let (torrent, hash) = make_torrent(&file, &[]);
    let seed = Aria2::seed(&torrent, &tmp.path().join("seed"));

    let qb = QbitNox::start();
    let out = tmp.path().join("qb-out");
    let t = Instant::now();
    qb.add_magnet(&magnet(&hash, None, &[], &[]), &out);
    qb.wait_listed(&hash, Duration::from_secs(10));
    qb.add_peers(&hash, &[seed.peer_addr()]);
    qb.wait_complete(&hash, Duration::from_secs(30));
    assert_same_file(&file, &out.join("mag2-file.bin"));
    eprintln!(
        "[bt-smoke 5] qBittorrent resolved a trackerless magnet from aria2c and fetched {} MiB \
         in {:.2}s",
        size / MIB,
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn info_hash_matches_transmission_show() {
    require_bt_peers!(&["transmission-create"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("multi");
    write_data(&dir, "a.bin", 100_000, 5);
    write_data(&dir.join("sub"), "b.bin", 50_000, 6);
    let (torrent, hash) = make_torrent_with_piece_size(
        &dir,
        &[
            "http://127.0.0.1:1/announce".into(),
            "udp://127.0.0.1:2/announce".into(),
        ],
        Some(16),
    );
    let out = std::process::Command::new("transmission-show")
        .arg(&torrent)
        .output()
        .expect("run transmission-show");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("Hash: {}", hex40(&hash))),
        "transmission-show disagrees with our info-hash {}:\n{text}",
        hex40(&hash)
    );
}
