//! End-to-end tests: two `Ed2kNetwork`s on 127.0.0.1 talking to each other
//! directly (link sources) and through the index server.

use super::{Ed2kConfig, Ed2kNetwork};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::testing::{search_request, Harness};
use swarmux_net::{ContentHash, DownloadSpec, Limits, NetCommand, NetEvent, SharedFile};
use tokio::sync::mpsc;

pub use swarmux_net::testing::{data as pseudo_random, share, wait_event as wait_for};

pub struct Node {
    pub cmd: mpsc::UnboundedSender<NetCommand>,
    pub events: mpsc::UnboundedReceiver<NetEvent>,
    pub port: u16,
}

pub async fn start_node(servers: Vec<String>, hash_byte: u8, dir: &Path, slots: usize) -> Node {
    start_node_limited(servers, hash_byte, dir, slots, 0).await
}

pub async fn start_node_limited(
    servers: Vec<String>,
    hash_byte: u8,
    dir: &Path,
    slots: usize,
    up_rate: u64,
) -> Node {
    start_node_with(node_config(servers, hash_byte), dir, slots, up_rate).await
}

/// A node's settings on 127.0.0.1 with room for many local peers.
pub fn node_config(servers: Vec<String>, hash_byte: u8) -> Ed2kConfig {
    let mut user_hash = [hash_byte; 16];
    user_hash[5] = 14;
    user_hash[14] = 111;
    Ed2kConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        servers,
        nickname: format!("node{hash_byte}"),
        user_hash,
        max_sources_per_download: 5,
        max_connections: 50,
        max_connections_per_address: 50,
        hello_timeout: super::network::DEFAULT_HELLO_TIMEOUT,
    }
}

pub async fn start_node_with(cfg: Ed2kConfig, dir: &Path, slots: usize, up_rate: u64) -> Node {
    let net = Ed2kNetwork::new(cfg);
    let mut h = Harness::start(&net, Arc::new(Limits::new(0, up_rate, slots)), dir);
    let port = h.listening(None).await.port();
    Node {
        cmd: h.cmd,
        events: h.events,
        port,
    }
}

/// A download of `f` from `link` into `temp`.
pub(super) fn spec(f: &SharedFile, link: String, temp: &Path) -> DownloadSpec {
    DownloadSpec {
        id: 7,
        name: f.name.clone(),
        size: f.size,
        hash: ContentHash::Ed2k(f.ed2k),
        link,
        temp_path: temp.to_path_buf(),
        verified: vec![],
        meta: None,
    }
}

/// An ed2k link to `shared` naming the node on 127.0.0.1:`port` as a source.
fn link_with_source(shared: &SharedFile, port: u16) -> String {
    format!(
        "{}|sources,127.0.0.1:{port}|/",
        crate::proto::link::file_link(&shared.name, shared.size, shared.ed2k)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_download_from_link_source() {
    direct_download(2 * 9_728_000 + 123_457, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_download_of_exactly_one_part() {
    direct_download(9_728_000, 1).await;
}

async fn direct_download(size: usize, parts: usize) {
    let dir = tempfile::tempdir().unwrap();
    let src_path = dir.path().join("data file.bin");
    let data = pseudo_random(size, 1);
    std::fs::write(&src_path, &data).unwrap();
    let shared = share(&src_path);
    let mut a = start_node(vec![], 1, dir.path(), 3).await;
    let mut b = start_node(vec![], 2, dir.path(), 3).await;
    a.cmd
        .send(NetCommand::SharesChanged(Arc::new(vec![shared.clone()])))
        .unwrap();
    let link = link_with_source(&shared, a.port);
    let temp = dir.path().join("temp/dl.part");
    let started = std::time::Instant::now();
    b.cmd
        .send(NetCommand::StartDownload(spec(&shared, link, &temp)))
        .unwrap();
    let mut verified = vec![];
    let mut meta = None;
    wait_for(&mut b.events, 60, |e| match e {
        NetEvent::PartVerified { part, .. } => {
            verified.push(*part);
            None
        }
        NetEvent::DownloadMeta { parts, meta: m, .. } => {
            meta = Some((*parts, m.len()));
            None
        }
        NetEvent::Completed { .. } => Some(()),
        _ => None,
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "direct download: {} bytes in {secs:.2} s = {:.1} MiB/s",
        data.len(),
        data.len() as f64 / secs / 1048576.0
    );
    verified.sort();
    assert_eq!(verified, (0..parts).collect::<Vec<_>>());
    let hashes = swarmux_net::hashing::ed2k_hashset_len(size as u64);
    assert_eq!(meta, Some((parts, hashes * 16)));
    assert!(
        std::fs::read(&temp).unwrap() == data,
        "downloaded file differs"
    );
    // The uploader reports its total.
    let up = wait_for(&mut a.events, 10, |e| match e {
        NetEvent::Uploaded(n) if *n >= data.len() as u64 => Some(*n),
        _ => None,
    })
    .await;
    assert!(up >= data.len() as u64);
    let _ = a.cmd.send(NetCommand::Shutdown);
    let _ = b.cmd.send(NetCommand::Shutdown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_source_is_blamed_and_banned() {
    // The "uploader" shares a file whose bytes differ from the hashes it claims.
    let dir = tempfile::tempdir().unwrap();
    let good = pseudo_random(300_000, 3);
    let path = dir.path().join("bad.bin");
    std::fs::write(&path, &good).unwrap();
    let shared = share(&path);
    let mut bad = good.clone();
    bad[1000] ^= 0xFF;
    std::fs::write(&path, &bad).unwrap();
    // With the hashed modification time, so the uploader still serves it.
    let hashed = std::time::UNIX_EPOCH + Duration::from_nanos(shared.modified as u64);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(hashed)
        .unwrap();
    let a = start_node(vec![], 3, dir.path(), 3).await;
    let mut b = start_node(vec![], 4, dir.path(), 3).await;
    a.cmd
        .send(NetCommand::SharesChanged(Arc::new(vec![shared.clone()])))
        .unwrap();
    let link = link_with_source(&shared, a.port);
    let temp = dir.path().join("bad.part");
    b.cmd
        .send(NetCommand::StartDownload(spec(&shared, link, &temp)))
        .unwrap();
    let blamed = wait_for(&mut b.events, 30, |e| match e {
        NetEvent::PartCorrupt {
            part: 0, blamed, ..
        } => Some(blamed.clone()),
        _ => None,
    })
    .await;
    assert_eq!(blamed, vec![format!("127.0.0.1:{}", a.port)]);
    // The part's range was struck from the written log before it was
    // fetched again (a '-' record: op, start, end as u64 LE).
    let mut forget = vec![b'-'];
    forget.extend(0u64.to_le_bytes());
    forget.extend((good.len() as u64).to_le_bytes());
    let log = std::fs::read(swarmux_net::written::log_path(dir.path(), 7)).unwrap();
    assert!(log.windows(forget.len()).any(|w| w == forget));
    let line = wait_for(&mut b.events, 120, |e| match e {
        NetEvent::Log { message, .. } if message.starts_with("banned") => Some(message.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        line,
        format!("banned 127.0.0.1:{}: sent 2 corrupt parts", a.port)
    );
    let _ = a.cmd.send(NetCommand::Shutdown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_login_search_and_download() {
    use crate::server::{bind, IndexServerConfig};
    let dir = tempfile::tempdir().unwrap();
    let server = bind(IndexServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    })
    .await
    .unwrap();
    let srv = server.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stop_rx.await;
    }));
    let path = dir.path().join("Ubuntu Swarm Test.iso");
    let data = pseudo_random(9_728_000 + 5000, 9);
    std::fs::write(&path, &data).unwrap();
    let shared = share(&path);
    let mut a = start_node(vec![srv.clone()], 5, dir.path(), 3).await;
    a.cmd
        .send(NetCommand::SharesChanged(Arc::new(vec![shared.clone()])))
        .unwrap();
    let high = |e: &NetEvent| match e {
        NetEvent::Servers(s) if s.iter().any(|s| s.identity.starts_with("high ID")) => {
            Some(s[0].identity.clone())
        }
        _ => None,
    };
    assert_eq!(wait_for(&mut a.events, 20, high).await, "high ID 16777343");
    let mut b = start_node(vec![srv.clone()], 6, dir.path(), 3).await;
    wait_for(&mut b.events, 20, high).await;
    // The offer may land a moment after the login.
    let mut hit = None;
    for round in 0..20u64 {
        let req = search_request(round, "swarm iso");
        b.cmd.send(NetCommand::Search(Arc::new(req))).unwrap();
        let mut hits = vec![];
        wait_for(&mut b.events, 40, |e| match e {
            NetEvent::Hit(h) => {
                hits.push(h.clone());
                None
            }
            NetEvent::SearchDone { search } if *search == round => Some(()),
            _ => None,
        })
        .await;
        if let Some(h) = hits.into_iter().next() {
            hit = Some(h);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let hit = hit.expect("search found nothing");
    assert_eq!(hit.hashes, vec![ContentHash::Ed2k(shared.ed2k)]);
    assert_eq!(hit.size, shared.size);
    let temp = dir.path().join("iso.part");
    b.cmd
        .send(NetCommand::StartDownload(spec(
            &shared,
            hit.link.clone(),
            &temp,
        )))
        .unwrap();
    wait_for(&mut b.events, 60, |e| match e {
        NetEvent::Completed { .. } => Some(()),
        _ => None,
    })
    .await;
    assert!(std::fs::read(&temp).unwrap() == data);
    let _ = stop_tx.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_downloader_is_queued_then_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.bin");
    let data = pseudo_random(4_000_000, 11);
    std::fs::write(&path, &data).unwrap();
    let shared = share(&path);
    // One slot at 1 MB/s: the first download takes about three seconds.
    let mut a = start_node_limited(vec![], 7, dir.path(), 1, 1_000_000).await;
    a.cmd
        .send(NetCommand::SharesChanged(Arc::new(vec![shared.clone()])))
        .unwrap();
    let link = link_with_source(&shared, a.port);
    let mut b = start_node(vec![], 8, dir.path(), 1).await;
    let mut c = start_node(vec![], 9, dir.path(), 1).await;
    let (tb, tc) = (dir.path().join("b.part"), dir.path().join("c.part"));
    b.cmd
        .send(NetCommand::StartDownload(spec(&shared, link.clone(), &tb)))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.cmd
        .send(NetCommand::StartDownload(spec(&shared, link, &tc)))
        .unwrap();
    let mut saw_queue = false;
    wait_for(&mut c.events, 30, |e| match e {
        NetEvent::Progress { stats, .. } => {
            if stats.note == "queued at rank 1 on 1 source" {
                assert_eq!(stats.peers[0].state, "queued at rank 1");
                saw_queue = true;
            }
            None
        }
        NetEvent::Completed { .. } => Some(()),
        _ => None,
    })
    .await;
    assert!(saw_queue, "the second downloader was never queued");
    wait_for(&mut b.events, 30, |e| {
        matches!(e, NetEvent::Completed { .. }).then_some(())
    })
    .await;
    assert!(std::fs::read(&tb).unwrap() == data);
    assert!(std::fs::read(&tc).unwrap() == data);
    let uploads = wait_for(&mut a.events, 10, |e| match e {
        NetEvent::Uploaded(n) if *n >= 2 * data.len() as u64 => Some(*n),
        _ => None,
    })
    .await;
    assert!(uploads >= 2 * data.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strict_old_server_takes_the_login_and_the_offer() {
    use super::strict_server::{self, Seen};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Holiday Video.mkv");
    std::fs::write(&path, pseudo_random(20_000, 5)).unwrap();
    let shared = share(&path);
    // The oldest servers' ID change has no TCP flags at all.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let srv = listener.local_addr().unwrap().to_string();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    tokio::spawn(strict_server::run(listener, None, seen_tx));
    // The node is bound to 127.0.0.4: its server connection leaves from there.
    let mut cfg = node_config(vec![srv], 12);
    cfg.listen = "127.0.0.4:0".parse().unwrap();
    let a = start_node_with(cfg, dir.path(), 3, 0).await;
    a.cmd
        .send(NetCommand::SharesChanged(Arc::new(vec![shared.clone()])))
        .unwrap();
    let entries = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match seen.recv().await.expect("the strict server runs") {
                Seen::Connected(from) => assert_eq!(from.ip().to_string(), "127.0.0.4"),
                Seen::Login(flags) => assert_eq!(flags, super::server_conn::OUR_LOGIN_FLAGS),
                Seen::Offer(e) if !e.is_empty() => return e,
                Seen::Closed(why) => panic!("the strict server closed the connection: {why}"),
                _ => {}
            }
        }
    })
    .await
    .expect("no offer reached the strict server");
    // A low id (5): no id or port for an old server.
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].0, entries[0].1), (0, 0));
    assert_eq!(
        crate::proto::tag::find_tag(&entries[0].2, crate::proto::tag::ids::NAME)
            .and_then(|v| v.as_str()),
        Some("Holiday Video.mkv")
    );
    let _ = a.cmd.send(NetCommand::Shutdown);
}

/// Waits until the peer closes `s`; panics after `secs` seconds.
async fn closed_within(mut s: tokio::net::TcpStream, secs: u64) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 256];
    tokio::time::timeout(Duration::from_secs(secs), async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
    .expect("an idle socket was kept open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_from_one_address_leave_room_for_others() {
    use swarmux_net::dial::dial;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wanted.bin");
    let data = pseudo_random(300_000, 21);
    std::fs::write(&path, &data).unwrap();
    let shared = share(&path);
    // Four incoming slots, three per address, a one-second hello deadline.
    let mut cfg = node_config(vec![], 13);
    cfg.max_connections = 4;
    cfg.max_connections_per_address = 3;
    cfg.hello_timeout = Duration::from_secs(1);
    let a = start_node_with(cfg, dir.path(), 3, 0).await;
    a.cmd
        .send(NetCommand::SharesChanged(Arc::new(vec![shared.clone()])))
        .unwrap();
    let a_addr = format!("127.0.0.1:{}", a.port).parse().unwrap();
    let hostile = "127.0.0.2".parse().ok();
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(dial(hostile, a_addr).await.unwrap());
    }
    // A downloader on 127.0.0.3 is served meanwhile.
    let mut cfg = node_config(vec![], 14);
    cfg.listen = "127.0.0.3:0".parse().unwrap();
    let mut b = start_node_with(cfg, dir.path(), 3, 0).await;
    let link = link_with_source(&shared, a.port);
    let temp = dir.path().join("wanted.part");
    b.cmd
        .send(NetCommand::StartDownload(spec(&shared, link, &temp)))
        .unwrap();
    wait_for(&mut b.events, 20, |e| {
        matches!(e, NetEvent::Completed { .. }).then_some(())
    })
    .await;
    assert!(std::fs::read(&temp).unwrap() == data);
    // Every idle socket is closed: at once when over the address's share,
    // after the hello deadline otherwise.
    for s in idle {
        closed_within(s, 10).await;
    }
    let _ = a.cmd.send(NetCommand::Shutdown);
    let _ = b.cmd.send(NetCommand::Shutdown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_dials_leave_from_the_bound_address() {
    let dir = tempfile::tempdir().unwrap();
    let source = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = source.local_addr().unwrap().port();
    let mut cfg = node_config(vec![], 15);
    cfg.listen = "127.0.0.3:0".parse().unwrap();
    let b = start_node_with(cfg, dir.path(), 3, 0).await;
    let hash = [0x77; 16];
    let link = format!(
        "{}|sources,127.0.0.1:{port}|/",
        crate::proto::link::file_link("x.bin", 1000, hash)
    );
    let spec = DownloadSpec {
        id: 9,
        name: "x.bin".into(),
        size: 1000,
        hash: ContentHash::Ed2k(hash),
        link,
        temp_path: dir.path().join("x.part"),
        verified: vec![],
        meta: None,
    };
    b.cmd.send(NetCommand::StartDownload(spec)).unwrap();
    let (_s, from) = tokio::time::timeout(Duration::from_secs(10), source.accept())
        .await
        .expect("the source was dialled")
        .unwrap();
    assert_eq!(from.ip().to_string(), "127.0.0.3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_file_swapped_for_a_symlink_is_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("public.bin");
    std::fs::write(&path, pseudo_random(200_000, 31)).unwrap();
    let shared = share(&path);
    // After hashing, the file becomes a link to a private one of the same size.
    let private = dir.path().join("private.bin");
    std::fs::write(&private, pseudo_random(200_000, 32)).unwrap();
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&private, &path).unwrap();
    let mut a = start_node(vec![], 16, dir.path(), 3).await;
    a.cmd
        .send(NetCommand::SharesChanged(Arc::new(vec![shared.clone()])))
        .unwrap();
    let b = start_node(vec![], 17, dir.path(), 3).await;
    let link = link_with_source(&shared, a.port);
    let temp = dir.path().join("public.part");
    b.cmd
        .send(NetCommand::StartDownload(spec(&shared, link, &temp)))
        .unwrap();
    let line = wait_for(&mut a.events, 20, |e| match e {
        NetEvent::Log { message, .. } if message.starts_with("not serving") => {
            Some(message.clone())
        }
        _ => None,
    })
    .await;
    assert!(line.contains("symlink"), "{line}");
    // Nothing of the private file reached the downloader.
    let got = std::fs::read(&temp).unwrap_or_default();
    assert!(got.iter().all(|&b| b == 0), "private bytes were served");
    let _ = a.cmd.send(NetCommand::Shutdown);
    let _ = b.cmd.send(NetCommand::Shutdown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_download_fetches_only_what_was_not_written() {
    use crate::client::part_file::BLOCK_SIZE;
    const SIZE: usize = 9_000_000;
    // The blocks in flight when the downloader dies (three requested, one
    // more for a request crossing the kill) may be sent twice.
    const ALLOWANCE: u64 = 4 * BLOCK_SIZE;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resumed.bin");
    let data = pseudo_random(SIZE, 41);
    std::fs::write(&path, &data).unwrap();
    let shared = share(&path);
    // The uploader sends 2 MB/s, so the kill lands half-way.
    let mut a = start_node_limited(vec![], 18, dir.path(), 3, 2_000_000).await;
    a.cmd
        .send(NetCommand::SharesChanged(Arc::new(vec![shared.clone()])))
        .unwrap();
    let link = link_with_source(&shared, a.port);
    let data_dir = dir.path().join("data");
    let temp = dir.path().join("resumed.part");

    // The first run, on its own runtime, dies like a killed process: every
    // task dropped, nothing shut down.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut b = {
        let _in_rt = rt.enter();
        let net = Ed2kNetwork::new(node_config(vec![], 19));
        Harness::start(&net, Arc::new(Limits::new(0, 0, 3)), &data_dir)
    };
    b.listening(None).await;
    b.send(NetCommand::StartDownload(spec(
        &shared,
        link.clone(),
        &temp,
    )));
    let got = b
        .wait_event(30, |e| match e {
            NetEvent::Progress { stats, .. } if stats.received >= 3_000_000 => Some(stats.received),
            _ => None,
        })
        .await;
    rt.shutdown_background();
    assert!(got < SIZE as u64, "the first run finished before the kill");

    // The peer A served in the first run.
    let mut first_peer = None;
    let mut sent = 0;
    while let Ok(e) = a.events.try_recv() {
        match e {
            NetEvent::Uploads(u) if !u.is_empty() => first_peer = Some(u[0].peer.clone()),
            NetEvent::Uploaded(n) => sent = n,
            _ => {}
        }
    }
    let first_peer = first_peer.expect("the first run was served");

    // A new network on the same data dir takes the download up again.
    let mut b = start_node_with(node_config(vec![], 19), &data_dir, 3, 0).await;
    b.cmd
        .send(NetCommand::StartDownload(spec(&shared, link, &temp)))
        .unwrap();
    wait_for(&mut b.events, 60, |e| {
        matches!(e, NetEvent::Completed { .. }).then_some(())
    })
    .await;
    assert!(std::fs::read(&temp).unwrap() == data);

    // A's total once the second run's upload is over.
    let mut second_peer = None;
    wait_for(&mut a.events, 30, |e| match e {
        NetEvent::Uploaded(n) => {
            sent = *n;
            None
        }
        NetEvent::Uploads(u) if !u.is_empty() && u[0].peer != first_peer => {
            second_peer = Some(u[0].peer.clone());
            None
        }
        NetEvent::Uploads(u) if u.is_empty() && second_peer.is_some() => Some(()),
        _ => None,
    })
    .await;
    // The total of that same tick, if it changed.
    while let Ok(e) = a.events.try_recv() {
        if let NetEvent::Uploaded(n) = e {
            sent = n;
        }
    }
    eprintln!(
        "killed at {got} bytes written; the uploader sent {sent} bytes for a {SIZE}-byte file"
    );
    assert!(
        sent <= SIZE as u64 + ALLOWANCE,
        "sent {sent} bytes for a {SIZE}-byte file"
    );
    let _ = a.cmd.send(NetCommand::Shutdown);
}

/// A source that takes the connection and never says hello is tried again
/// within seconds, not after the minute other failures wait: a fresh
/// connection usually gets through a peer whose socket went deaf.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_never_says_hello_is_tried_again_soon() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deaf.bin");
    std::fs::write(&path, pseudo_random(100_000, 9)).unwrap();
    let shared = share(&path);
    let deaf = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = deaf.local_addr().unwrap().port();
    let mut cfg = node_config(vec![], 16);
    cfg.hello_timeout = Duration::from_secs(1);
    let b = start_node_with(cfg, dir.path(), 3, 0).await;
    let temp = dir.path().join("deaf.part");
    b.cmd
        .send(NetCommand::StartDownload(spec(
            &shared,
            link_with_source(&shared, port),
            &temp,
        )))
        .unwrap();
    let (_first, _) = deaf.accept().await.unwrap();
    let t = tokio::time::Instant::now();
    let again = tokio::time::timeout(Duration::from_secs(30), deaf.accept()).await;
    assert!(again.is_ok(), "not tried again within 30 s");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let _ = b.cmd.send(NetCommand::Shutdown);
}

/// 250 shared files: the first offer carries 200 of them, as eMule's and
/// aMule's do; the other 50 wait for the next batch a minute later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_carries_at_most_200_files() {
    use super::strict_server::{self, Seen};
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<SharedFile> = (0..250u32)
        .map(|i| SharedFile {
            path: dir.path().join(format!("f{i}.bin")),
            name: format!("f{i}.bin"),
            size: 1000,
            modified: 0,
            ed2k: {
                let mut h = [0xA5; 16];
                h[..4].copy_from_slice(&i.to_le_bytes());
                h
            },
            ed2k_parts: vec![],
            sha1: [0; 20],
        })
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let srv = listener.local_addr().unwrap().to_string();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    tokio::spawn(strict_server::run(listener, Some(0), seen_tx));
    let a = start_node_with(node_config(vec![srv], 17), dir.path(), 3, 0).await;
    a.cmd
        .send(NetCommand::SharesChanged(Arc::new(files)))
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match seen.recv().await.expect("the strict server runs") {
                Seen::Offer(e) if !e.is_empty() => return e.len(),
                Seen::Closed(why) => panic!("the strict server closed the connection: {why}"),
                _ => {}
            }
        }
    })
    .await
    .expect("no offer reached the server");
    assert_eq!(first, super::publish::MAX_PER_OFFER);
    // Nothing more right away.
    let more = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            if let Some(Seen::Offer(e)) = seen.recv().await {
                return e.len();
            }
        }
    })
    .await;
    assert!(more.is_err(), "another offer came at once: {more:?}");
    let _ = a.cmd.send(NetCommand::Shutdown);
}
