//! The Fast Extension (BEP 6) between swarmux nodes and raw-socket peers on
//! 127.0.0.1: Have All / Have None instead of a bitfield, Reject Request for
//! requests a choked peer makes, and rejected blocks asked for again.

mod common;

use common::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use swarmux_bittorrent::proto::{Handshake, Message, Metainfo};
use swarmux_net::NetCommand;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const FAST: u8 = 0x04;

/// Reads one frame; `None` on a closed connection or after `secs` of silence.
async fn read_msg(s: &mut TcpStream, secs: f64) -> Option<Message> {
    timeout(Duration::from_secs_f64(secs), async {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.ok()?;
        let mut frame = len.to_vec();
        frame.resize(4 + u32::from_be_bytes(len) as usize, 0);
        s.read_exact(&mut frame[4..]).await.ok()?;
        Message::decode(&frame).unwrap().map(|(m, _)| m)
    })
    .await
    .ok()
    .flatten()
}

/// Handshakes with the swarmux node at `port` with these reserved bits;
/// returns the stream and the node's handshake.
async fn dial(port: u16, info_hash: [u8; 20], reserved: [u8; 8]) -> (TcpStream, Handshake) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut ours = Handshake::new(info_hash, *b"-XX0001-fastpeer0001");
    ours.reserved = reserved;
    s.write_all(&ours.encode()).await.unwrap();
    let mut hs = [0u8; 68];
    s.read_exact(&mut hs).await.unwrap();
    (s, Handshake::decode(&hs).unwrap().unwrap())
}

/// The first message other than the extension handshake, then any bitfield
/// seen in the next half second.
async fn opening(s: &mut TcpStream) -> (Message, bool) {
    let first = loop {
        match read_msg(s, 5.0)
            .await
            .expect("no message after the handshake")
        {
            Message::Extended { id: 0, .. } => {}
            m => break m,
        }
    };
    let mut bitfield = false;
    while let Some(m) = read_msg(s, 0.5).await {
        bitfield |= matches!(
            m,
            Message::Bitfield(_) | Message::HaveAll | Message::HaveNone
        );
    }
    (first, bitfield)
}

/// A swarmux node seeding `len` pseudo-random bytes in 64 KiB pieces.
async fn seeding(dir: &std::path::Path, len: usize) -> (Node, Metainfo, Vec<u8>) {
    let data = pseudo_random(len, 11);
    let (seed, mi, _) = seed_node(dir, "fast.bin", &data).await;
    (seed, mi, data)
}

/// A seed opens with Have All (and no bitfield) to a peer that sets the
/// fast bit, with or without the extension protocol, and with a bitfield
/// to a peer that does not; two swarmux nodes (both fast) complete a transfer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_sends_have_all_to_fast_peers_and_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let (seed, mi, data) = seeding(dir.path(), 1 << 20).await;
    let ih = mi.info.info_hash;

    for reserved in [[0, 0, 0, 0, 0, 0x10, 0, FAST], [0, 0, 0, 0, 0, 0, 0, FAST]] {
        let (mut s, theirs) = dial(seed.port, ih, reserved).await;
        assert!(theirs.supports_fast(), "our handshake sets the fast bit");
        let (first, more) = opening(&mut s).await;
        assert_eq!(first, Message::HaveAll);
        assert!(!more, "a second piece announcement after Have All");
    }
    let (mut s, _) = dial(seed.port, ih, [0, 0, 0, 0, 0, 0x10, 0, 0]).await;
    let (first, _) = opening(&mut s).await;
    assert!(matches!(first, Message::Bitfield(_)), "{first:?}");

    let mut leech = start_node(&dir.path().join("leech"), None).await;
    let temp = dir.path().join("leech/temp/2.part");
    std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
    leech.send(NetCommand::StartDownload(spec(
        2,
        &mi,
        magnet(&mi, &[seed.port]),
        &temp,
    )));
    until_completed(&mut leech.events, 2, 60).await;
    assert!(std::fs::read(&temp).unwrap() == data, "data differs");
}

/// A peer that is choked gets one Reject Request per request, also for a
/// piece that does not exist; a peer without the fast bit that sends Have
/// All is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choked_fast_peer_gets_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let (seed, mi, _) = seeding(dir.path(), 1 << 20).await;
    let ih = mi.info.info_hash;

    let (mut s, _) = dial(seed.port, ih, [0, 0, 0, 0, 0, 0, 0, FAST]).await;
    assert_eq!(opening(&mut s).await.0, Message::HaveAll);
    let mut out = bytes::BytesMut::new();
    Message::HaveNone.encode(&mut out);
    let reqs: Vec<(u32, u32, u32)> = vec![(0, 0, 16384), (3, 16384, 16384), (9999, 0, 16384)];
    for &(index, begin, length) in &reqs {
        Message::Request {
            index,
            begin,
            length,
        }
        .encode(&mut out);
    }
    s.write_all(&out).await.unwrap();
    let mut rejected = Vec::new();
    while rejected.len() < reqs.len() {
        match read_msg(&mut s, 5.0).await.expect("no reject") {
            Message::RejectRequest {
                index,
                begin,
                length,
            } => rejected.push((index, begin, length)),
            Message::KeepAlive => {}
            m => panic!("unexpected {m:?}"),
        }
    }
    assert_eq!(rejected, reqs);

    // Have All without the extension negotiated: the connection is dropped.
    let (mut s, _) = dial(seed.port, ih, [0, 0, 0, 0, 0, 0x10, 0, 0]).await;
    s.write_all(&Message::HaveAll.to_bytes()).await.unwrap();
    let mut rest = Vec::new();
    let closed = timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "still connected");
}

/// A raw fast seed: opens with Have All, unchokes, then answers the first
/// requests with Choke and a Reject for each before unchoking again and
/// serving. Counts the rejects it sent and whether the leech opened with
/// Have None.
async fn rejecting_seed(mi: &Metainfo, data: Vec<u8>) -> (u16, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let rejects = Arc::new(AtomicUsize::new(0));
    let have_none = Arc::new(AtomicUsize::new(0));
    let (r2, h2) = (rejects.clone(), have_none.clone());
    let ih = mi.info.info_hash;
    let piece_len = mi.info.piece_length as usize;
    tokio::spawn(async move {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        let mut hs = [0u8; 68];
        if s.read_exact(&mut hs).await.is_err() {
            return;
        }
        let mut ours = Handshake::new(ih, *b"-XX0001-fastseed0001");
        ours.reserved = [0, 0, 0, 0, 0, 0, 0, FAST];
        let mut out = ours.encode().to_vec();
        out.extend_from_slice(&Message::HaveAll.to_bytes());
        out.extend_from_slice(&Message::Unchoke.to_bytes());
        if s.write_all(&out).await.is_err() {
            return;
        }
        let mut first = true;
        let mut choked = false;
        loop {
            let wait = if choked { 0.5 } else { 30.0 };
            let Some(m) = read_msg(&mut s, wait).await else {
                if choked {
                    choked = false;
                    if s.write_all(&Message::Unchoke.to_bytes()).await.is_err() {
                        return;
                    }
                    continue;
                }
                return;
            };
            if first && !matches!(m, Message::KeepAlive) {
                first = false;
                if m == Message::HaveNone {
                    h2.fetch_add(1, Ordering::SeqCst);
                }
            }
            let Message::Request {
                index,
                begin,
                length,
            } = m
            else {
                continue;
            };
            if r2.load(Ordering::SeqCst) == 0 && !choked {
                choked = true;
                if s.write_all(&Message::Choke.to_bytes()).await.is_err() {
                    return;
                }
            }
            let reply = if choked {
                r2.fetch_add(1, Ordering::SeqCst);
                Message::RejectRequest {
                    index,
                    begin,
                    length,
                }
            } else {
                let start = index as usize * piece_len + begin as usize;
                Message::Piece {
                    index,
                    begin,
                    data: data[start..start + length as usize].to_vec().into(),
                }
            };
            if s.write_all(&reply.to_bytes()).await.is_err() {
                return;
            }
        }
    });
    (port, rejects, have_none)
}

/// A swarmux leech opens with Have None to a fast seed, keeps its requests
/// over a Choke, and asks again for the blocks the seed rejected: the
/// download completes well before the 60 s request timeout would free them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leech_requests_rejected_blocks_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = pseudo_random(1 << 20, 13);
    let src = dir.path().join("src/rej.bin");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, &data).unwrap();
    let (_, mi) = make_torrent(&src, 64 << 10, &[]);
    let (port, rejects, have_none) = rejecting_seed(&mi, data.clone()).await;
    let tracker = http_tracker(vec![([127, 0, 0, 1], port).into()]).await;
    let (torrent, mi) = make_torrent(&src, 64 << 10, &[&tracker]);

    let mut leech = start_node(&dir.path().join("leech"), None).await;
    let temp = dir.path().join("leech/temp/3.part");
    std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
    leech.send(NetCommand::StartDownload(spec(
        3,
        &mi,
        torrent.display().to_string(),
        &temp,
    )));
    until_completed(&mut leech.events, 3, 40).await;
    assert!(std::fs::read(&temp).unwrap() == data, "data differs");
    assert!(
        rejects.load(Ordering::SeqCst) > 0,
        "the seed rejected nothing"
    );
    assert_eq!(have_none.load(Ordering::SeqCst), 1, "no Have None first");
}

/// A raw fast seed that unchokes and then rejects every request: the
/// swarmux leech drops it after a bounded number of rejects instead of
/// asking for the same blocks again forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_rejecting_everything_while_unchoking_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let data = pseudo_random(1 << 20, 14);
    let src = dir.path().join("src/nope.bin");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, &data).unwrap();
    let (_, mi) = make_torrent(&src, 64 << 10, &[]);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let ih = mi.info.info_hash;
    let seed = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut hs = [0u8; 68];
        s.read_exact(&mut hs).await.unwrap();
        let mut ours = Handshake::new(ih, *b"-XX0001-nopeseed0001");
        ours.reserved = [0, 0, 0, 0, 0, 0, 0, FAST];
        let mut out = ours.encode().to_vec();
        out.extend_from_slice(&Message::HaveAll.to_bytes());
        out.extend_from_slice(&Message::Unchoke.to_bytes());
        s.write_all(&out).await.unwrap();
        let mut rejects = 0usize;
        while let Some(m) = read_msg(&mut s, 20.0).await {
            if let Message::Request {
                index,
                begin,
                length,
            } = m
            {
                rejects += 1;
                let reply = Message::RejectRequest {
                    index,
                    begin,
                    length,
                };
                if s.write_all(&reply.to_bytes()).await.is_err() {
                    break;
                }
            }
        }
        rejects
    });
    let tracker = http_tracker(vec![([127, 0, 0, 1], port).into()]).await;
    let (torrent, mi) = make_torrent(&src, 64 << 10, &[&tracker]);
    let leech = start_node(&dir.path().join("leech"), None).await;
    let temp = dir.path().join("leech/temp/6.part");
    std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
    leech.send(NetCommand::StartDownload(spec(
        6,
        &mi,
        torrent.display().to_string(),
        &temp,
    )));
    let rejects = tokio::time::timeout(std::time::Duration::from_secs(15), seed)
        .await
        .expect("the leech kept the rejecting peer")
        .unwrap();
    println!("dropped after {rejects} rejects");
    assert!((500..5000).contains(&rejects), "{rejects}");
}
