//! A download stopped abruptly half way, then restarted by a new node on
//! the same data dir, fetches only what is missing: the bytes written but
//! not yet reported as a finished part are kept (the written-ranges log),
//! so the source serves the file about once in all. Bytes the whole-file
//! check threw away are not taken back after a restart.

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use swarmux_gnutella::Mode;
use swarmux_net::{DownloadSpec, Limits, NetCommand, NetEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a source may serve beyond the file's size in all: one read in
/// flight when the download stopped.
const ALLOWANCE: u64 = 64 * 1024;

/// A source serving `data` by ranges (or as many bytes of 0xEE while
/// `lie`), counting the bytes it sends; it stops sending (and holds the
/// connection) once it has sent `stall_at` bytes.
struct Source {
    data: Vec<u8>,
    served: AtomicU64,
    stall_at: AtomicU64,
    lie: AtomicBool,
}

impl Source {
    fn new(data: &[u8], stall_at: u64, lie: bool) -> Arc<Source> {
        Arc::new(Source {
            data: data.to_vec(),
            served: AtomicU64::new(0),
            stall_at: AtomicU64::new(stall_at),
            lie: AtomicBool::new(lie),
        })
    }

    /// Starts serving on 127.0.0.1; returns the address.
    async fn start(self: &Arc<Self>) -> String {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let source = self.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                tokio::spawn(serve(source.clone(), s));
            }
        });
        addr
    }
}

async fn serve(source: Arc<Source>, mut s: TcpStream) {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            match s.read(&mut b).await {
                Ok(n) if n > 0 => buf.extend_from_slice(&b[..n]),
                _ => return,
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let range = head
            .lines()
            .find_map(|l| l.strip_prefix("Range: bytes="))
            .and_then(|r| r.split_once('-'))
            .map(|(a, b)| (a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap()))
            .expect("a ranged request");
        let size = source.data.len();
        let (first, last) = (range.0 as usize, (range.1 as usize).min(size - 1));
        let reply = format!(
            "HTTP/1.1 206 Partial Content\r\nServer: fake/1.0\r\nContent-Range: bytes {first}-{last}/{size}\r\nContent-Length: {}\r\n\r\n",
            last + 1 - first
        );
        if s.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
        let lie = vec![0xEE; last + 1 - first];
        let body = if source.lie.load(Ordering::SeqCst) {
            &lie[..]
        } else {
            &source.data[first..=last]
        };
        for piece in body.chunks(16 * 1024) {
            let stall = source.stall_at.load(Ordering::SeqCst);
            let sent = source.served.load(Ordering::SeqCst);
            let piece = &piece[..piece.len().min(stall.saturating_sub(sent) as usize)];
            if s.write_all(piece).await.is_err() {
                return;
            }
            source
                .served
                .fetch_add(piece.len() as u64, Ordering::SeqCst);
            if source.served.load(Ordering::SeqCst) >= stall {
                // Hold the connection until the downloader goes away.
                let _ = s.read(&mut b).await;
                return;
            }
        }
    }
}

/// Stops a node abruptly: its command channel closes, its tasks are
/// aborted mid-transfer; returns its data dir once every task let go.
async fn stop(node: common::Node) -> tempfile::TempDir {
    let common::Node {
        cmd,
        mut events,
        dir,
        ..
    } = node;
    drop(cmd);
    while tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("the stopped node should let go of its events")
        .is_some()
    {}
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_download_fetches_only_what_is_missing() {
    let data = pseudo_random((4 << 20) + 1234, 21);
    let size = data.len() as u64;
    // Stopped in the middle of the third part.
    let stall_at = (5 << 20) / 2;
    let source = Source::new(&data, stall_at, false);
    let addr = source.start().await;

    let files = tempfile::tempdir().unwrap();
    let f = shared_file(files.path(), "resumed.bin", &data);
    let temp = tempfile::tempdir().unwrap();
    let spec = spec_from_direct_source(8, &f, &addr, temp.path());
    let mut dl = start(config(Mode::Leaf, vec![]), Limits::new(0, 0, 4)).await;
    dl.cmd
        .send(NetCommand::StartDownload(spec.clone()))
        .unwrap();
    // What the engine would have saved: the parts reported verified.
    let mut verified = vec![false; 5];
    dl.wait_for(20, |e| match e {
        NetEvent::PartsVerified { parts, .. } => {
            parts.iter().for_each(|&p| verified[p] = true);
            None
        }
        NetEvent::Progress { stats, .. } => {
            let reported = verified.iter().filter(|&&v| v).count();
            (stats.received == stall_at && reported == 2).then_some(())
        }
        _ => None,
    })
    .await;

    // Stopped abruptly: the node and its tasks go away mid-transfer.
    let dir = stop(dl).await;

    // A new node on the same data dir resumes it.
    source.stall_at.store(u64::MAX, Ordering::SeqCst);
    let mut dl = start_in(
        config(Mode::Leaf, vec![]),
        Arc::new(Limits::new(0, 0, 4)),
        dir,
    )
    .await;
    let resumed = DownloadSpec { verified, ..spec };
    dl.cmd.send(NetCommand::StartDownload(resumed)).unwrap();
    dl.wait_for(20, |e| {
        matches!(e, NetEvent::Completed { id: 8 }).then_some(())
    })
    .await;
    assert_eq!(
        std::fs::read(temp.path().join("resumed.part")).unwrap(),
        data
    );
    let served = source.served.load(Ordering::SeqCst);
    println!("served {served} bytes for a file of {size}");
    assert!(
        served <= size + ALLOWANCE,
        "served {served} bytes for a file of {size}: {} fetched again",
        served - size
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_failed_the_check_are_fetched_again_after_a_restart() {
    let data = pseudo_random((2 << 20) + 99, 22);
    let liar = Source::new(&data, u64::MAX, true);
    let liar_addr = liar.start().await;
    let files = tempfile::tempdir().unwrap();
    let f = shared_file(files.path(), "checked.bin", &data);
    let temp = tempfile::tempdir().unwrap();
    let spec = spec_from_direct_source(6, &f, &liar_addr, temp.path());
    let mut dl = start(config(Mode::Leaf, vec![]), Limits::new(0, 0, 4)).await;
    dl.cmd
        .send(NetCommand::StartDownload(spec.clone()))
        .unwrap();
    // The lone liar's file fails the check: every part is thrown away and
    // the download has no source left.
    let mut corrupt = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ev = tokio::time::timeout_at(deadline, dl.events.recv())
            .await
            .expect("the check never failed")
            .expect("the node ended");
        match ev {
            NetEvent::PartCorrupt { .. } => corrupt += 1,
            NetEvent::Failed { .. } => break,
            _ => {}
        }
    }
    assert_eq!(corrupt, 3);
    let dir = stop(dl).await;

    // Restarted with an honest source: nothing of the liar's comes back.
    let honest = Source::new(&data, u64::MAX, false);
    let addr = honest.start().await;
    let mut dl = start_in(
        config(Mode::Leaf, vec![]),
        Arc::new(Limits::new(0, 0, 4)),
        dir,
    )
    .await;
    let spec = spec_from_direct_source(6, &f, &addr, temp.path());
    dl.cmd.send(NetCommand::StartDownload(spec)).unwrap();
    dl.wait_for(20, |e| match e {
        NetEvent::PartCorrupt { .. } => panic!("the liar's bytes were taken back"),
        NetEvent::Completed { id: 6 } => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(
        std::fs::read(temp.path().join("checked.part")).unwrap(),
        data
    );
    assert_eq!(honest.served.load(Ordering::SeqCst), data.len() as u64);
}
