//! BitTorrent interoperability: swarmux daemons against real opentracker,
//! transmission, qbittorrent-nox and aria2c on 127.0.0.1 (issue 4's
//! acceptance list, one test per item). The harness is `common/bt_peers.rs`;
//! the tests skip loudly when a program is missing and fail in CI.

mod common;

use common::bt_peers::*;
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

/// Writes `size` pseudo-random bytes to `dir/name` and returns its path.
fn write_data(dir: &Path, name: &str, size: usize, seed: u64) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, data(size, seed)).unwrap();
    path
}

/// qbittorrent-nox seeding `torrent` from the data already in `dir`.
fn qb_seed(torrent: &Path, hash: &[u8; 20], dir: &Path) -> QbitNox {
    let qb = QbitNox::start();
    qb.add_torrent_file(torrent, dir, true);
    qb.wait_seeding(hash, Duration::from_secs(60));
    qb
}

/// A swarmux daemon whose BitTorrent side listens on 127.0.0.1 (ed2k stays
/// off the network: no server is given).
fn node(dir: &Path, extra: &[&str]) -> Node {
    let mut args = vec!["--bt-bind", "127.0.0.1"];
    args.extend_from_slice(extra);
    Node::start(dir, &args)
}

/// The node's BitTorrent peer address (from ports.json).
fn bt_addr(n: &Node) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port_of(&n.proc.dir, "bt_tcp")))
}

/// `swarmux get TARGET --wait` within `secs`; panics with the log on failure.
fn get_wait(n: &Node, target: &str, secs: u64) {
    let (ok, out) = cli_with_timeout(n, &["get", target, "--wait"], secs);
    assert!(ok, "get {target} failed: {out}\nlog:\n{}", n.log_text());
}

/// The first download of `n` once it is complete and seeding.
fn wait_seeding(n: &Node, secs: u64) -> Value {
    wait_for(secs, "the download to complete and seed", || {
        let s = n.try_json(&["status"])?;
        let seeding = s["seeding"].as_array()?.len();
        let d = s["downloads"].as_array()?.first()?.clone();
        (d["state"]["state"] == "complete" && seeding > 0).then_some(d)
    })
}

/// Puts `file` in the download folder of a new node and adds its torrent:
/// swarmux checks the data in place and seeds it.
fn swarmux_seed(dir: &Path, file: &Path, torrent: &Path, extra: &[&str]) -> Node {
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    std::fs::copy(file, downloads.join(file.file_name().unwrap())).unwrap();
    let n = node(dir, extra);
    let out = n.cli(&["get", torrent.to_str().unwrap()]);
    assert!(out.status.success(), "get: {out:?}");
    let d = wait_seeding(&n, 60);
    assert_eq!(d["parts_verified"], d["parts_total"], "{d}");
    n
}

/// Acceptance 1a: opentracker (HTTP) + transmission seed → swarmux, from a .torrent.
#[test]
fn swarmux_downloads_from_transmission_over_http_tracker() {
    require_bt_peers!(&["opentracker", "transmission-create", "transmission-daemon"]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 64 * MIB;
    let file = write_data(&tmp.path().join("seed"), "tr-64.bin", size, 41);
    let mut tracker = Opentracker::start();
    let (torrent, hash) = make_torrent(&file, &[tracker.http_announce()]);
    tracker.whitelist(hash);
    let seed = TransmissionSeed::start(&torrent, &tmp.path().join("seed"));
    seed.wait_seeding(Duration::from_secs(60));
    tracker.wait_peers(&hash, 1, 0, Duration::from_secs(15));

    let n = node(&tmp.path().join("swx"), &[]);
    let t = Instant::now();
    get_wait(&n, torrent.to_str().unwrap(), 240);
    let secs = t.elapsed().as_secs_f64();
    assert_same_file(&file, &n.proc.dir.join("downloads").join("tr-64.bin"));
    println!(
        "64 MiB from transmission in {secs:.1}s ({:.1} MiB/s)",
        64.0 / secs
    );
    // The scrape after our `completed` announce counts our download.
    let row = wait_for(30, "the tracker row to count one download", || {
        let s = n.status()["networks"].to_string();
        s.contains("1 download,").then_some(s)
    });
    assert!(row.contains(" seed"), "{row}");
}

/// Acceptance 1b: the UDP tracker URL, qbittorrent-nox as the seed.
#[test]
fn swarmux_downloads_from_qbittorrent_over_udp_tracker() {
    require_bt_peers!(&["opentracker", "transmission-create", "qbittorrent-nox"]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 64 * MIB;
    let file = write_data(&tmp.path().join("seed"), "qb-64.bin", size, 42);
    let mut tracker = Opentracker::start();
    let (torrent, hash) = make_torrent(&file, &[tracker.udp_announce()]);
    tracker.whitelist(hash);
    let _qb = qb_seed(&torrent, &hash, &tmp.path().join("seed"));
    tracker.wait_peers(&hash, 1, 0, Duration::from_secs(15));

    let n = node(&tmp.path().join("swx"), &[]);
    let t = Instant::now();
    get_wait(&n, torrent.to_str().unwrap(), 120);
    let secs = t.elapsed().as_secs_f64();
    assert_same_file(&file, &n.proc.dir.join("downloads").join("qb-64.bin"));
    println!("64 MiB from qBittorrent via UDP tracker in {secs:.1}s");
    // The tracker row in the Networks pane says the UDP tracker answered,
    // with the counts of its scrape (opentracker counts `completed` events).
    let row = wait_for(30, "the UDP tracker row to count one download", || {
        let s = n.status()["networks"].to_string();
        (s.contains("udp://127.0.0.1") && s.contains("1 download,")).then_some(s)
    });
    assert!(row.contains("seed"), "{row}");
}

/// Acceptance 2: a magnet without metadata; swarmux fetches the info
/// dictionary from the qBittorrent seed (given by `x.pe`), then the data.
#[test]
fn magnet_metadata_then_data_from_qbittorrent() {
    require_bt_peers!(&["transmission-create", "qbittorrent-nox"]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 8 * MIB;
    let file = write_data(&tmp.path().join("seed"), "mag-8.bin", size, 43);
    let (torrent, hash) = make_torrent(&file, &[]);
    let qb = qb_seed(&torrent, &hash, &tmp.path().join("seed"));

    let n = node(&tmp.path().join("swx"), &[]);
    let link = magnet(&hash, None, &[], &[qb.peer_addr()]);
    get_wait(&n, &link, 120);
    let d = first_download(&n);
    assert_eq!(d["name"], "mag-8.bin", "the name comes from the metadata");
    assert_eq!(d["size"], size as u64);
    assert_same_file(&file, &n.proc.dir.join("downloads").join("mag-8.bin"));
}

/// Acceptance 3: swarmux seeds existing data; aria2c and qbittorrent-nox
/// download from it and verify.
#[test]
fn aria2_and_qbittorrent_download_from_swarmux() {
    require_bt_peers!(&[
        "opentracker",
        "transmission-create",
        "aria2c",
        "qbittorrent-nox"
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 24 * MIB;
    let file = write_data(&tmp.path().join("orig"), "from-swx.bin", size, 44);
    let mut tracker = Opentracker::start();
    let (torrent, hash) = make_torrent(&file, &[tracker.http_announce()]);
    tracker.whitelist(hash);
    let s = swarmux_seed(&tmp.path().join("swx"), &file, &torrent, &[]);
    tracker.wait_peers(&hash, 1, 0, Duration::from_secs(30));

    let out = tmp.path().join("aria2-out");
    let dl = Aria2::download(torrent.to_str().unwrap(), &out, &[]);
    let status = dl.wait_exit(Duration::from_secs(90));
    assert!(status.success(), "aria2c: {status}\n{}", dl.logs());
    assert_same_file(&file, &out.join("from-swx.bin"));

    let qb = QbitNox::start();
    let qb_out = tmp.path().join("qb-out");
    qb.add_torrent_file(&torrent, &qb_out, false);
    qb.add_peers(&hash, &[bt_addr(&s)]);
    qb.wait_complete(&hash, Duration::from_secs(90));
    assert_same_file(&file, &qb_out.join("from-swx.bin"));

    // The seeding row counts both uploads (it is refreshed every second).
    let mut row = Value::Null;
    let counted = (0..40).any(|_| {
        row = s.status()["seeding"][0].clone();
        let ok = row["uploaded"].as_u64() >= Some(2 * size as u64);
        std::thread::sleep(Duration::from_millis(250));
        ok
    });
    assert!(
        counted,
        "the seeding row does not count both uploads: {row}\n{}",
        s.log_text()
    );
    let seeding = row;
    println!("swarmux seeding: {seeding}");
}

/// Acceptance 4: a swarm of five — a qBittorrent seed, two swarmux nodes,
/// aria2c and another qBittorrent downloading at once. All finish identical;
/// a swarmux node receives pieces from more than one peer.
#[test]
fn swarm_of_five() {
    require_bt_peers!(&[
        "opentracker",
        "transmission-create",
        "aria2c",
        "qbittorrent-nox"
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 48 * MIB;
    let file = write_data(&tmp.path().join("seed"), "swarm.bin", size, 45);
    let mut tracker = Opentracker::start();
    let (torrent, hash) = make_torrent(&file, &[tracker.http_announce()]);
    tracker.whitelist(hash);
    let _seed = qb_seed(&torrent, &hash, &tmp.path().join("seed"));
    tracker.wait_peers(&hash, 1, 0, Duration::from_secs(15));

    // The swarmux nodes are throttled so the downloads overlap and pieces
    // flow between the downloaders, not only from the seed.
    let a = node(&tmp.path().join("a"), &["--max-download-rate", "6000"]);
    let b = node(&tmp.path().join("b"), &["--max-download-rate", "6000"]);
    let t = torrent.to_str().unwrap();
    for n in [&a, &b] {
        assert!(n.cli(&["get", t]).status.success());
    }
    let qb = QbitNox::start();
    let qb_out = tmp.path().join("qb-out");
    qb.add_torrent_file(&torrent, &qb_out, false);
    let aria_out = tmp.path().join("aria2-out");
    let aria = Aria2::download(t, &aria_out, &[]);

    let mut sources_seen = 0;
    wait_for(180, "every downloader to finish", || {
        for n in [&a, &b] {
            let d = first_download(n);
            let sending = d["peers"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter(|p| p["received"].as_u64().unwrap_or(0) > 0)
                        .count()
                })
                .unwrap_or(0);
            sources_seen = sources_seen.max(sending);
        }
        let done = [&a, &b]
            .iter()
            .all(|n| first_download(n)["state"]["state"] == "complete")
            && qb.progress(&hash) >= 1.0
            && aria.elapsed() > Duration::ZERO;
        done.then_some(())
    });
    let status = aria.wait_exit(Duration::from_secs(60));
    assert!(status.success(), "aria2c: {status}\n{}", aria.logs());
    for path in [
        a.proc.dir.join("downloads/swarm.bin"),
        b.proc.dir.join("downloads/swarm.bin"),
        qb_out.join("swarm.bin"),
        aria_out.join("swarm.bin"),
    ] {
        assert_same_file(&file, &path);
    }
    println!("most peers sending to one swarmux node at once: {sources_seen}");
    assert!(
        sources_seen >= 2,
        "a swarmux node received from only {sources_seen} peer"
    );
}

/// Acceptance 5: three swarmux nodes bootstrap their DHTs from each other;
/// a magnet with no tracker and no peer resolves through the DHT.
#[test]
fn trackerless_magnet_through_the_dht() {
    require_bt_peers!(&["transmission-create"]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 6 * MIB;
    let file = write_data(&tmp.path().join("orig"), "dht.bin", size, 46);
    let (torrent, hash) = make_torrent(&file, &[]);
    let dht_of = |n: &Node| format!("127.0.0.1:{}", port_of(&n.proc.dir, "dht_udp"));
    let first = node(&tmp.path().join("n1"), &[]);
    let second = node(
        &tmp.path().join("n2"),
        &["--dht-bootstrap", &dht_of(&first)],
    );
    // The seed joins through the second node, and announces itself.
    let seed_dir = tmp.path().join("seed");
    let seed = swarmux_seed(
        &seed_dir,
        &file,
        &torrent,
        &["--dht-bootstrap", &dht_of(&second)],
    );
    let leech = node(
        &tmp.path().join("leech"),
        &["--dht-bootstrap", &dht_of(&first)],
    );
    let link = magnet(&hash, Some("dht.bin"), &[], &[]);
    get_wait(&leech, &link, 120);
    assert_same_file(&file, &leech.proc.dir.join("downloads/dht.bin"));
    drop(seed);
}

/// Acceptance 6: a hostile peer that answers with wrong bytes is banned; the
/// download completes from the honest qBittorrent seed.
#[test]
fn hostile_peer_is_banned_and_the_download_completes() {
    require_bt_peers!(&["transmission-create", "qbittorrent-nox"]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 8 * MIB;
    let file = write_data(&tmp.path().join("seed"), "hostile.bin", size, 47);
    // 256 KiB pieces: 32 of them.
    let (torrent, hash) = make_torrent_with_piece_size(&file, &[], Some(256));
    let qb = qb_seed(&torrent, &hash, &tmp.path().join("seed"));
    let liar = LyingPeer::start(hash, 32);
    let tracker = StaticTracker::start(&[liar.addr, qb.peer_addr()]);
    let link = magnet(&hash, Some("hostile.bin"), &[tracker.announce_url()], &[]);

    let n = node(&tmp.path().join("swx"), &[]);
    get_wait(&n, &link, 120);
    assert_same_file(&file, &n.proc.dir.join("downloads/hostile.bin"));
    let log = n.log_text();
    let liar_addr = liar.addr.to_string();
    assert!(
        log.lines()
            .any(|l| l.contains("failed verification") && l.contains(&liar_addr)),
        "no corrupt-piece line blames {liar_addr}:\n{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("banned") && l.contains(&liar_addr)),
        "{liar_addr} was not banned:\n{log}"
    );
    assert!(liar.served() > 0, "the liar was never asked for a block");
}

/// Acceptance 7: a torrent whose file path holds `../` is refused with a
/// clear error and nothing is written outside the download folder.
#[test]
fn torrent_with_dotdot_path_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp.path().join("swx"), &[]);
    let torrent = tmp.path().join("evil.torrent");
    std::fs::write(&torrent, evil_torrent()).unwrap();
    let out = n.cli(&["get", torrent.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the evil torrent was accepted");
    assert!(
        err.contains("leaves the download folder"),
        "unclear error: {err}"
    );
    assert!(!tmp.path().join("escaped.txt").exists());
    assert!(!tmp.path().join("swx/escaped.txt").exists());
    assert!(n.json(&["list"])["downloads"]
        .as_array()
        .unwrap()
        .is_empty());
}

/// Acceptance 8: `kill -9` mid-download; after the restart the verified
/// pieces are not fetched again.
#[test]
fn kill_9_mid_download_resumes_without_refetching() {
    require_bt_peers!(&["transmission-create", "qbittorrent-nox"]);
    let tmp = tempfile::tempdir().unwrap();
    let size = 32 * MIB;
    let file = write_data(&tmp.path().join("seed"), "resume.bin", size, 48);
    // 256 KiB pieces: 128 of them.
    let (torrent, hash) = make_torrent_with_piece_size(&file, &[], Some(256));
    let qb = qb_seed(&torrent, &hash, &tmp.path().join("seed"));
    let tracker = StaticTracker::start(&[qb.peer_addr()]);
    let link = magnet(&hash, Some("resume.bin"), &[tracker.announce_url()], &[]);

    let mut n = node(&tmp.path().join("swx"), &["--max-download-rate", "4000"]);
    assert!(n.cli(&["get", &link]).status.success());
    let verified = wait_for(60, "some verified pieces", || {
        let d = first_download(&n);
        let v = d["parts_verified"].as_u64()?;
        (v >= 40).then_some(v)
    });
    n.proc.kill9();
    n.restart();
    let d = first_download(&n);
    let kept = d["parts_verified"].as_u64().unwrap();
    assert!(
        kept >= verified,
        "verified pieces were lost: {kept} < {verified}"
    );
    wait_for(120, "the download to complete", || {
        (first_download(&n)["state"]["state"] == "complete").then_some(())
    });
    assert_same_file(&file, &n.proc.dir.join("downloads/resume.bin"));
    let received = first_download(&n)["received"].as_u64().unwrap();
    let missing = (128 - kept) * 256 * 1024;
    println!(
        "kept {kept} pieces; received {received} bytes after the restart for {missing} missing"
    );
    // Endgame may duplicate a few blocks; never whole verified pieces.
    assert!(
        received <= missing + 4 * 256 * 1024,
        "received {received} bytes for {missing} missing: verified pieces were fetched again"
    );
}

/// A .torrent whose only file is `../escaped.txt`.
fn evil_torrent() -> Vec<u8> {
    let piece = vec![0u8; 20];
    let mut info = Vec::new();
    info.extend_from_slice(b"d5:filesld6:lengthi5e4:pathl2:..11:escaped.txteee");
    info.extend_from_slice(b"4:name4:evil12:piece lengthi16384e6:pieces20:");
    info.extend_from_slice(&piece);
    info.push(b'e');
    let mut t = b"d4:info".to_vec();
    t.extend_from_slice(&info);
    t.push(b'e');
    t
}

/// A peer that has every piece and answers each request with wrong bytes.
struct LyingPeer {
    addr: SocketAddr,
    served: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl LyingPeer {
    fn start(info_hash: [u8; 20], pieces: u32) -> LyingPeer {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let count = served.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut s) = conn else { continue };
                let count = count.clone();
                std::thread::spawn(move || {
                    let mut hs = [0u8; 68];
                    if s.read_exact(&mut hs).is_err() || hs[28..48] != info_hash {
                        return;
                    }
                    let mut reply = vec![19u8];
                    reply.extend_from_slice(b"BitTorrent protocol");
                    reply.extend_from_slice(&[0; 8]);
                    reply.extend_from_slice(&info_hash);
                    reply.extend_from_slice(b"-LY0001-liarliarliar");
                    // A bitfield with every piece, then an unchoke.
                    let bytes = pieces.div_ceil(8) as usize;
                    let mut field = vec![0xFFu8; bytes];
                    if !pieces.is_multiple_of(8) {
                        field[bytes - 1] = 0xFFu8 << (8 - pieces % 8);
                    }
                    reply.extend_from_slice(&(1 + bytes as u32).to_be_bytes());
                    reply.push(5);
                    reply.extend_from_slice(&field);
                    reply.extend_from_slice(&[0, 0, 0, 1, 1]);
                    if s.write_all(&reply).is_err() {
                        return;
                    }
                    loop {
                        let mut len = [0u8; 4];
                        if s.read_exact(&mut len).is_err() {
                            return;
                        }
                        let len = u32::from_be_bytes(len) as usize;
                        if len > 1 << 20 {
                            return;
                        }
                        let mut msg = vec![0u8; len];
                        if s.read_exact(&mut msg).is_err() {
                            return;
                        }
                        if len == 13 && msg[0] == 6 {
                            let index = &msg[1..5];
                            let begin = &msg[5..9];
                            let want = u32::from_be_bytes(msg[9..13].try_into().unwrap());
                            let mut out = (9 + want).to_be_bytes().to_vec();
                            out.push(7);
                            out.extend_from_slice(index);
                            out.extend_from_slice(begin);
                            out.extend(std::iter::repeat_n(0xA5u8, want as usize));
                            if s.write_all(&out).is_err() {
                                return;
                            }
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        LyingPeer { addr, served }
    }

    fn served(&self) -> u64 {
        self.served.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The watch folder: a .torrent dropped there is queued (and renamed
/// `.added`), completes from the qBittorrent seed, and `swarmux files` /
/// `swarmux search` know it afterwards.
#[test]
fn watch_folder_queues_dropped_torrents() {
    require_bt_peers!(&["transmission-create", "qbittorrent-nox"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("album");
    write_data(&dir, "01 opening.flac", 3 * MIB, 50);
    write_data(&dir.join("extras"), "cover art.png", MIB / 2, 51);
    let qb = QbitNox::start();
    let tracker = StaticTracker::start(&[qb.peer_addr()]);
    let (torrent, hash) = make_torrent(&dir, &[tracker.announce_url()]);
    qb.add_torrent_file(&torrent, tmp.path(), true);
    qb.wait_seeding(&hash, Duration::from_secs(60));

    let watch = tmp.path().join("watch");
    std::fs::create_dir_all(&watch).unwrap();
    let n = node(
        &tmp.path().join("swx"),
        &["--watch-dir", watch.to_str().unwrap()],
    );
    std::fs::copy(&torrent, watch.join("album.torrent")).unwrap();
    wait_for(20, "the watched torrent to be renamed .added", || {
        watch.join("album.torrent.added").exists().then_some(())
    });
    wait_for(60, "the watched torrent to complete", || {
        (first_download(&n)["state"]["state"] == "complete").then_some(())
    });
    let downloads = n.proc.dir.join("downloads/album");
    assert_same_file(
        &dir.join("01 opening.flac"),
        &downloads.join("01 opening.flac"),
    );
    assert_same_file(
        &dir.join("extras/cover art.png"),
        &downloads.join("extras/cover art.png"),
    );
    let id = first_download(&n)["id"].to_string();
    let files = n.json(&["files", &id]);
    let paths: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["01 opening.flac", "extras/cover art.png"],
        "{files}"
    );
}
