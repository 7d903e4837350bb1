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
    let mut user_hash = [hash_byte; 16];
    user_hash[5] = 14;
    user_hash[14] = 111;
    let net = Ed2kNetwork::new(Ed2kConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        servers,
        nickname: format!("node{hash_byte}"),
        user_hash,
        max_sources_per_download: 5,
        max_connections: 50,
    });
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
    let link = format!(
        "{}|sources,127.0.0.1:{}|/",
        crate::proto::link::file_link(&shared.name, shared.size, shared.ed2k),
        a.port
    );
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
    let a = start_node(vec![], 3, dir.path(), 3).await;
    let mut b = start_node(vec![], 4, dir.path(), 3).await;
    a.cmd
        .send(NetCommand::SharesChanged(Arc::new(vec![shared.clone()])))
        .unwrap();
    let link = format!(
        "{}|sources,127.0.0.1:{}|/",
        crate::proto::link::file_link(&shared.name, shared.size, shared.ed2k),
        a.port
    );
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
    let link = format!(
        "{}|sources,127.0.0.1:{}|/",
        crate::proto::link::file_link(&shared.name, shared.size, shared.ed2k),
        a.port
    );
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
