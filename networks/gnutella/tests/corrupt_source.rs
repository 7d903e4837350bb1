//! A source that answers every range with wrong bytes (and proper HTTP
//! headers) beside an honest one: the whole-file check fails, the main
//! source is trusted alone, and the download completes byte-identical,
//! with a log line naming the liar.

mod common;

use common::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use swarmux_gnutella::Mode;
use swarmux_net::{Limits, NetCommand, NetEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An HTTP source on 127.0.0.1 that serves `size` bytes of 0xEE for any
/// range; returns its address and the count of ranges it served.
async fn lying_source(size: u64) -> (String, Arc<AtomicU64>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let served = Arc::new(AtomicU64::new(0));
    let count = served.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if s.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(b[0]);
                }
                let text = String::from_utf8_lossy(&head).to_lowercase();
                let (a, z) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("range: bytes="))
                    .and_then(|r| r.trim().split_once('-'))
                    .and_then(|(a, z)| Some((a.parse::<u64>().ok()?, z.parse::<u64>().ok()?)))
                    .unwrap_or((0, size - 1));
                let len = z - a + 1;
                let reply = format!(
                    "HTTP/1.1 206 Partial Content\r\nServer: liar/1.0\r\n\
                     Content-Range: bytes {a}-{z}/{size}\r\nContent-Length: {len}\r\n\
                     Connection: close\r\n\r\n"
                );
                let _ = s.write_all(reply.as_bytes()).await;
                let _ = s.write_all(&vec![0xEE; len as usize]).await;
                count.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    (addr, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_source_is_found_out_and_the_file_completes() {
    // The honest source is slow, so the liar sends most of the parts.
    let src = start(config(Mode::Ultrapeer, vec![]), Limits::new(0, 1 << 20, 4)).await;
    let data = pseudo_random(4_500_000, 21);
    let f = shared_file(src.dir.path(), "mixed.bin", &data);
    src.share(vec![f.clone()]);
    let (liar, served) = lying_source(f.size).await;

    let mut dl = start(config(Mode::Leaf, vec![]), Limits::new(0, 0, 4)).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_from_direct_sources(4, &f, &[&liar, &src.addr], dir.path());
    let temp = spec.temp_path.clone();
    dl.cmd.send(NetCommand::StartDownload(spec)).unwrap();

    let mut corrupt = 0;
    let mut verdict = String::new();
    dl.wait_for(60, |e| match e {
        NetEvent::PartCorrupt { id: 4, .. } => {
            corrupt += 1;
            None
        }
        NetEvent::Log { message, .. } if message.contains("did not match") => {
            verdict = message.clone();
            None
        }
        NetEvent::Failed { id: 4, reason } => panic!("failed: {reason}"),
        NetEvent::Completed { id: 4 } => Some(()),
        _ => None,
    })
    .await;
    println!(
        "{} ranges from the liar, {corrupt} parts fetched again; {verdict}",
        served.load(Ordering::Relaxed)
    );
    assert!(
        served.load(Ordering::Relaxed) > 0,
        "the liar was never asked"
    );
    assert!(corrupt > 0, "no part was found corrupt");
    assert!(std::fs::read(&temp).unwrap() == data, "the file differs");
    assert!(
        verdict.contains(&liar),
        "the log does not name the liar: {verdict:?}"
    );
}
