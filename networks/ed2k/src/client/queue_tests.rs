//! eMule-style queueing on the downloader side, against a scripted uploader
//! built from `proto` that behaves like aMule: it queues us, drops the
//! connection, and later connects to our listening port to give us a slot.

use super::net_tests::{pseudo_random, share, spec, start_node, wait_for};
use crate::proto::frame::{FrameDecoder, DEFAULT_MAX_FRAME};
use crate::proto::peer_msg::{Hello, PeerCaps, PeerMessage};
use std::time::Duration;
use swarmux_net::{NetCommand, NetEvent, SharedFile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// The scripted uploader's user hash (eMule markers at bytes 5 and 14).
const UP_HASH: [u8; 16] = [0xA7, 1, 2, 3, 4, 14, 6, 7, 8, 9, 10, 11, 12, 13, 111, 15];

/// One side of a peer connection, message by message.
struct Wire {
    s: TcpStream,
    dec: FrameDecoder,
}

impl Wire {
    fn new(s: TcpStream) -> Self {
        Wire {
            s,
            dec: FrameDecoder::for_peer_link(DEFAULT_MAX_FRAME),
        }
    }

    async fn send(&mut self, m: PeerMessage) {
        self.s.write_all(&m.encode().encode()).await.unwrap();
    }

    /// The next message; `None` when the peer closed the connection.
    /// Panics when nothing comes for `secs`.
    async fn recv(&mut self, secs: u64) -> Option<PeerMessage> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if let Some(f) = self.dec.next_frame().unwrap() {
                return Some(PeerMessage::decode(&f).unwrap());
            }
            let n = tokio::time::timeout_at(deadline, self.s.read(&mut buf))
                .await
                .expect("the peer sent nothing")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.dec.push(&buf[..n]);
        }
    }

    /// True when nothing arrives for `ms` and the connection stays open.
    async fn quiet_for(&mut self, ms: u64) -> bool {
        let mut b = [0u8; 1];
        tokio::time::timeout(Duration::from_millis(ms), self.s.read(&mut b))
            .await
            .is_err()
    }
}

fn up_hello(port: u16) -> Hello {
    Hello::new(
        UP_HASH,
        0x0100_007F,
        port,
        "aMule-like script",
        PeerCaps::default(),
        (0, 0),
    )
}

/// Answers a downloader's file requests like aMule until it asks for a slot,
/// then queues it at `rank`. Returns the downloader's user hash and port.
async fn queue_downloader(w: &mut Wire, f: &SharedFile, port: u16, rank: u16) -> ([u8; 16], u16) {
    let Some(PeerMessage::Hello(h)) = w.recv(10).await else {
        panic!("expected a hello");
    };
    w.send(PeerMessage::HelloAnswer(up_hello(port))).await;
    loop {
        match w.recv(10).await.expect("the downloader hung up") {
            PeerMessage::RequestFilename(hash) => {
                w.send(PeerMessage::FileName {
                    hash,
                    name: f.name.clone(),
                })
                .await
            }
            PeerMessage::SetReqFileId(hash) => {
                w.send(PeerMessage::FileStatus { hash, parts: None }).await
            }
            PeerMessage::HashSetRequest(hash) => {
                w.send(PeerMessage::HashSetAnswer {
                    hash,
                    parts: f.ed2k_parts.clone(),
                })
                .await
            }
            PeerMessage::StartUploadReq(_) => {
                w.send(PeerMessage::QueueRanking(rank)).await;
                return (h.user_hash, h.port);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Serves requested ranges as SendingPart until the downloader hangs up;
/// returns the bytes sent.
async fn serve_parts(w: &mut Wire, f: &SharedFile, data: &[u8]) -> u64 {
    let mut sent = 0;
    while let Some(m) = w.recv(30).await {
        let PeerMessage::RequestParts { hash, ranges } = m else {
            continue;
        };
        assert_eq!(hash, f.ed2k);
        for (s, e) in ranges.into_iter().filter(|(s, e)| s < e) {
            for start in (s..e).step_by(10_240) {
                let end = (start + 10_240).min(e);
                w.send(PeerMessage::SendingPart {
                    hash,
                    start,
                    data: data[start as usize..end as usize].to_vec(),
                })
                .await;
                sent += end - start;
            }
        }
    }
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_source_connects_back_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queued.bin");
    let data = pseudo_random(9_728_000 + 250_000, 21);
    std::fs::write(&path, &data).unwrap();
    let f = share(&path);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_port = listener.local_addr().unwrap().port();
    let (closed_tx, closed_rx) = oneshot::channel::<()>();
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let (f2, data2) = (f.clone(), data.clone());
    let script = tokio::spawn(async move {
        // 1. Queue the downloader at rank 3, then drop the connection, as
        //    aMule's idle timeout does.
        let (s, _) = listener.accept().await.unwrap();
        let mut w = Wire::new(s);
        let (their_hash, their_port) = queue_downloader(&mut w, &f2, up_port, 3).await;
        drop(w);
        closed_tx.send(()).unwrap();
        // 2. A slot frees: connect to the downloader's listening port.
        go_rx.await.unwrap();
        let s = TcpStream::connect(("127.0.0.1", their_port)).await.unwrap();
        let mut w = Wire::new(s);
        w.send(PeerMessage::Hello(up_hello(up_port))).await;
        match w.recv(10).await {
            Some(PeerMessage::HelloAnswer(h)) => assert_eq!(h.user_hash, their_hash),
            other => panic!("expected a hello answer, got {other:?}"),
        }
        // aMule may ask for files it wants first: we do not share this one.
        w.send(PeerMessage::RequestFilename([0x55; 16])).await;
        assert_eq!(
            w.recv(10).await,
            Some(PeerMessage::FileReqAnsNoFile([0x55; 16]))
        );
        w.send(PeerMessage::AcceptUploadReq).await;
        let sent = serve_parts(&mut w, &f2, &data2).await;
        // 3. Nobody re-asked meanwhile (that would be "aggressive" to aMule).
        let again = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(again.is_err(), "the downloader reconnected to re-ask");
        // 4. A slot for a download that has ended is refused, once, and the
        //    connection is left open.
        let s = TcpStream::connect(("127.0.0.1", their_port)).await.unwrap();
        let mut w = Wire::new(s);
        w.send(PeerMessage::Hello(up_hello(up_port))).await;
        assert!(matches!(
            w.recv(10).await,
            Some(PeerMessage::HelloAnswer(_))
        ));
        w.send(PeerMessage::AcceptUploadReq).await;
        assert_eq!(w.recv(10).await, Some(PeerMessage::CancelTransfer));
        (sent, w)
    });

    let mut b = start_node(vec![], 21, dir.path(), 3).await;
    let link = format!(
        "{}|sources,127.0.0.1:{up_port}|/",
        crate::proto::link::file_link(&f.name, f.size, f.ed2k),
    );
    let temp = dir.path().join("queued.part");
    b.cmd
        .send(NetCommand::StartDownload(spec(&f, link, &temp)))
        .unwrap();
    let queued = |e: &NetEvent| match e {
        NetEvent::Progress { stats, .. } => Some((
            stats.note.clone(),
            stats
                .peers
                .iter()
                .map(|p| p.state.clone())
                .collect::<Vec<_>>(),
            stats.active_sources,
        )),
        _ => None,
    };
    let want = (
        "queued at rank 3 on 1 source".to_string(),
        vec!["queued at rank 3".to_string()],
        0,
    );
    // Shown queued at rank 3 (before or after the uploader hangs up).
    wait_for(&mut b.events, 20, |e| queued(e).filter(|p| *p == want)).await;
    closed_rx.await.unwrap();
    // Connection closed: the source stays queued at its rank, and is not
    // retried (three progress reports, about three seconds).
    for _ in 0..3 {
        let p = wait_for(&mut b.events, 5, queued).await;
        assert_eq!(p, want, "after the uploader closed the connection");
    }
    go_tx.send(()).unwrap();
    let mut downloading = false;
    wait_for(&mut b.events, 60, |e| match e {
        NetEvent::Progress { stats, .. } => {
            downloading |=
                stats.active_sources == 1 && stats.peers.iter().any(|p| p.state == "downloading");
            None
        }
        NetEvent::Completed { .. } => Some(()),
        _ => None,
    })
    .await;
    assert!(downloading, "never shown as downloading");
    assert!(
        std::fs::read(&temp).unwrap() == data,
        "downloaded file differs"
    );
    let (sent, mut w) = tokio::time::timeout(Duration::from_secs(30), script)
        .await
        .expect("script timed out")
        .unwrap();
    assert_eq!(sent, data.len() as u64);
    assert!(
        w.quiet_for(500).await,
        "the refused connection was not kept"
    );
    let _ = b.cmd.send(NetCommand::Shutdown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_from_an_unknown_peer_is_refused_once() {
    let dir = tempfile::tempdir().unwrap();
    let b = start_node(vec![], 22, dir.path(), 3).await;
    let s = TcpStream::connect(("127.0.0.1", b.port)).await.unwrap();
    let mut w = Wire::new(s);
    w.send(PeerMessage::Hello(up_hello(4662))).await;
    assert!(matches!(
        w.recv(10).await,
        Some(PeerMessage::HelloAnswer(_))
    ));
    // A slot we never asked for: OP_CANCELTRANSFER, as aMule answers.
    w.send(PeerMessage::AcceptUploadReq).await;
    assert_eq!(w.recv(10).await, Some(PeerMessage::CancelTransfer));
    // Only once; the connection stays open (until the idle timeout) and
    // still answers requests.
    w.send(PeerMessage::AcceptUploadReq).await;
    assert!(w.quiet_for(500).await);
    w.send(PeerMessage::RequestFilename([3; 16])).await;
    assert_eq!(
        w.recv(10).await,
        Some(PeerMessage::FileReqAnsNoFile([3; 16]))
    );
    let _ = b.cmd.send(NetCommand::Shutdown);
}

/// A node (user hash byte `hash_byte`) sharing a 300 KB file `name` under
/// `dir`, and a scripted downloader that said hello and asked it for a slot.
async fn ask_for_a_slot(
    dir: &std::path::Path,
    name: &str,
    hash_byte: u8,
) -> (super::net_tests::Node, SharedFile, Wire) {
    let path = dir.join(name);
    std::fs::write(&path, pseudo_random(300_000, u32::from(hash_byte))).unwrap();
    let f = share(&path);
    let a = start_node(vec![], hash_byte, dir, 3).await;
    a.cmd
        .send(NetCommand::SharesChanged(std::sync::Arc::new(vec![
            f.clone()
        ])))
        .unwrap();
    let s = TcpStream::connect(("127.0.0.1", a.port)).await.unwrap();
    let mut w = Wire::new(s);
    w.send(PeerMessage::Hello(up_hello(4662))).await;
    assert!(matches!(
        w.recv(10).await,
        Some(PeerMessage::HelloAnswer(_))
    ));
    w.send(PeerMessage::SetReqFileId(f.ed2k)).await;
    w.send(PeerMessage::StartUploadReq(Some(f.ed2k))).await;
    (a, f, w)
}

/// A downloader that never answers our accept (aMule 2.3.3 sometimes leaves
/// it unread in its socket) gets it again, so its reader wakes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_accept_is_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _, mut w) = ask_for_a_slot(dir.path(), "slow-reader.bin", 23).await;
    let mut accepts = 0;
    let started = tokio::time::Instant::now();
    while accepts < 2 {
        match w.recv(30).await.expect("the uploader hung up") {
            PeerMessage::AcceptUploadReq => accepts += 1,
            PeerMessage::FileStatus { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9),
        "sent again after {waited:?}"
    );
    let _ = a.cmd.send(NetCommand::Shutdown);
}

/// A downloader that got every block it asked for and asks for nothing more
/// (aMule 2.3.3 can leave the last of them unread in its socket) is sent the
/// accept again, which wakes its reader; it then asks for more as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloader_silent_after_its_blocks_is_woken() {
    let dir = tempfile::tempdir().unwrap();
    let (a, f, mut w) = ask_for_a_slot(dir.path(), "silent-after-blocks.bin", 24).await;
    loop {
        match w.recv(30).await.expect("the uploader hung up") {
            PeerMessage::AcceptUploadReq => break,
            PeerMessage::FileStatus { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    w.send(PeerMessage::RequestParts {
        hash: f.ed2k,
        ranges: [(0, 10_000), (0, 0), (0, 0)],
    })
    .await;
    let mut got = 0;
    let mut sent_at = None;
    loop {
        match w.recv(30).await.expect("the uploader hung up") {
            PeerMessage::SendingPart { data, .. } => {
                got += data.len();
                if got == 10_000 {
                    sent_at = Some(tokio::time::Instant::now());
                }
            }
            PeerMessage::AcceptUploadReq => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, 10_000);
    let waited = sent_at.expect("the block arrived").elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(20),
        "woken after {waited:?}"
    );
    let _ = a.cmd.send(NetCommand::Shutdown);
}
