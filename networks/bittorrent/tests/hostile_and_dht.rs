//! A peer sending bad data is banned; a trackerless magnet resolves through the DHT.

mod common;

use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use swarmux_bittorrent::proto::Metainfo;
use swarmux_net::{NetCommand, NetEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw-TCP peer that has every piece, unchokes, and answers every request
/// with wrong bytes. Returns its port and a count of accepted connections.
async fn hostile_peer(mi: &Metainfo) -> (u16, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let info_hash = mi.info.info_hash;
    let pieces = mi.info.num_pieces();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut hs = [0u8; 68];
                if s.read_exact(&mut hs).await.is_err() {
                    return;
                }
                let mut out = vec![19u8];
                out.extend_from_slice(b"BitTorrent protocol");
                out.extend_from_slice(&[0; 8]);
                out.extend_from_slice(&info_hash);
                out.extend_from_slice(b"-XX0001-hostilepeer!");
                let bits = pieces.div_ceil(8);
                let mut bf = vec![0xffu8; bits];
                if !pieces.is_multiple_of(8) {
                    bf[bits - 1] = 0xffu8 << (8 - pieces % 8);
                }
                out.extend_from_slice(&(1 + bits as u32).to_be_bytes());
                out.push(5);
                out.extend_from_slice(&bf);
                out.extend_from_slice(&[0, 0, 0, 1, 1]); // unchoke
                if s.write_all(&out).await.is_err() {
                    return;
                }
                loop {
                    let mut len = [0u8; 4];
                    if s.read_exact(&mut len).await.is_err() {
                        return;
                    }
                    let len = u32::from_be_bytes(len) as usize;
                    let mut body = vec![0u8; len];
                    if s.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    if len == 13 && body[0] == 6 {
                        let blen = u32::from_be_bytes(body[9..13].try_into().unwrap());
                        let mut m = (9 + blen).to_be_bytes().to_vec();
                        m.push(7);
                        m.extend_from_slice(&body[1..9]);
                        m.extend(std::iter::repeat_n(0xAAu8, blen as usize));
                        if s.write_all(&m).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (port, accepted)
}

/// The hostile peer is blamed for corrupt pieces and banned; the download
/// completes from the honest seed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_data_peer_is_banned_and_download_completes() {
    let dir = tempfile::tempdir().unwrap();
    let data = pseudo_random(4 << 20, 7);
    let (seed, mi, _) = seed_node(dir.path(), "data.bin", &data).await;
    let (hport, accepted) = hostile_peer(&mi).await;

    let mut leech = start_node(&dir.path().join("leech"), None).await;
    let temp = dir.path().join("leech/temp/4.part");
    std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
    leech.send(NetCommand::StartDownload(spec(
        4,
        &mi,
        magnet(&mi, &[seed.port, hport]),
        &temp,
    )));
    let events = until_completed(&mut leech.events, 4, 120).await;
    let hostile = format!("127.0.0.1:{hport}");
    let corrupt: Vec<&Vec<String>> = events
        .iter()
        .filter_map(|e| match e {
            NetEvent::PartCorrupt { blamed, .. } => Some(blamed),
            _ => None,
        })
        .collect();
    assert!(!corrupt.is_empty(), "no piece was rejected");
    assert!(corrupt.iter().any(|b| b.contains(&hostile)), "{corrupt:?}");
    assert!(std::fs::read(&temp).unwrap() == data);
    // Banned: never dialed again.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

/// Three DHT nodes bootstrap from each other; a magnet with neither
/// trackers nor peers finds the seed through the DHT and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trackerless_magnet_resolves_through_dht() {
    let dir = tempfile::tempdir().unwrap();
    let data = pseudo_random(3 << 20, 9);
    let src = dir.path().join("seed/dht.bin");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, &data).unwrap();
    let a = start_node(&dir.path().join("a"), Some(vec![])).await;
    let a_dht = a.dht.expect("dht").to_string();
    let mut b = start_node(&dir.path().join("b"), Some(vec![a_dht.clone()])).await;
    let b_dht = b.dht.expect("dht").to_string();
    let mut c = start_node(&dir.path().join("c"), Some(vec![a_dht, b_dht])).await;
    let (torrent, mi) = make_torrent(&src, 64 << 10, &[]);
    b.send(NetCommand::Seed(spec(
        1,
        &mi,
        torrent.display().to_string(),
        &src,
    )));
    until_seeding(&mut b.events, 1).await;

    let temp = dir.path().join("c/temp/2.part");
    std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
    c.send(NetCommand::StartDownload(spec(
        2,
        &mi,
        magnet(&mi, &[]),
        &temp,
    )));
    until_completed(&mut c.events, 2, 90).await;
    assert!(std::fs::read(&temp).unwrap() == data);
    let _ = a;
}
