//! Serving files over HTTP/1.1: requests on our listening port (after the
//! first bytes said `GET ` or `HEAD `) and on connections we open to a
//! downloader that pushed us (after our `GIV` line). Keep-alive, one range
//! per request, upload slots shared with [`swarmux_net::Limits`], the upload
//! rate limit, `Server:` on every answer, `X-Alt` with other sources.

use super::env::{lock, Env, Upload};
use super::gates::HEAD_DEADLINE;
use super::http::{
    format_alt, head_complete, parse_range, parse_request, response_head, Request, Resource,
};
use super::shares::Shared;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::dial::dial;
use swarmux_net::message::LogLevel;
use swarmux_net::Admission;
use swarmux_net::UploadInfo;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, timeout_at, Instant};

/// Time a kept-alive connection may wait for its next request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Time to write one chunk.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes sent per write (and per rate-limit reservation).
const CHUNK: usize = 64 * 1024;
/// Seconds a busy downloader is told to wait.
pub const RETRY_AFTER_SECS: u64 = 30;

/// Holds an upload slot and the Uploads-pane entry until dropped.
struct Slot {
    env: Arc<Env>,
    id: u64,
}

impl Slot {
    fn take(env: &Arc<Env>, peer: &str, client: &str) -> Option<Slot> {
        let max = env.limits.upload_slots();
        let used = &env.upload_slots_used;
        let mut cur = used.load(Ordering::Relaxed);
        loop {
            if cur >= max {
                return None;
            }
            match used.compare_exchange(cur, cur + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        let id = env.next_id();
        lock(&env.uploads).insert(
            id,
            Upload {
                info: UploadInfo {
                    peer: peer.to_string(),
                    client: client.to_string(),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        Some(Slot {
            env: env.clone(),
            id,
        })
    }

    fn file(&self, name: &str) {
        if let Some(u) = lock(&self.env.uploads).get_mut(&self.id) {
            u.info.file = name.to_string();
        }
    }

    fn sent(&self, n: u64) {
        self.env.uploaded.fetch_add(n, Ordering::Relaxed);
        if let Some(u) = lock(&self.env.uploads).get_mut(&self.id) {
            u.sent(n, std::time::Instant::now());
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.env.upload_slots_used.fetch_sub(1, Ordering::Relaxed);
        lock(&self.env.uploads).remove(&self.id);
    }
}

/// Serves requests on `stream` until it closes; `buf` holds bytes already
/// read, and the first request head must be complete by `first_deadline`.
/// Later heads on a kept-alive connection must start within
/// [`REQUEST_TIMEOUT`] and then be complete within [`HEAD_DEADLINE`].
pub async fn serve(
    env: Arc<Env>,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut buf: Vec<u8>,
    first_deadline: Instant,
) {
    let mut slot: Option<Slot> = None;
    let mut chunk = vec![0u8; 4096];
    let mut head_deadline = Some(first_deadline);
    let mut scanned = 0;
    loop {
        let (req, used) = loop {
            match head_complete(&buf, &mut scanned).then(|| parse_request(&buf)) {
                Some(Ok(Some(r))) => break r,
                None | Some(Ok(None)) => {}
                Some(Err(_)) => {
                    let _ = stream
                        .write_all(&response_head(400, "Bad Request", &[]))
                        .await;
                    return;
                }
            }
            let deadline = match head_deadline {
                Some(d) => d,
                None if buf.is_empty() => Instant::now() + REQUEST_TIMEOUT,
                None => *head_deadline.insert(Instant::now() + HEAD_DEADLINE),
            };
            match timeout_at(deadline, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        };
        buf.drain(..used);
        scanned = 0;
        head_deadline = None;
        match answer(&env, &mut stream, peer, &req, &mut slot).await {
            Ok(true) if req.keep_alive() => {}
            Ok(_) => return,
            Err(e) => {
                env.events
                    .log(LogLevel::Info, format!("upload to {peer} ended: {e}"));
                return;
            }
        }
    }
}

/// Answers one request; `Ok(false)` when the connection must close.
async fn answer(
    env: &Arc<Env>,
    stream: &mut TcpStream,
    peer: SocketAddr,
    req: &Request,
    slot: &mut Option<Slot>,
) -> Result<bool, String> {
    let head_only = req.method.eq_ignore_ascii_case("HEAD");
    if !head_only && !req.method.eq_ignore_ascii_case("GET") {
        send(stream, &response_head(501, "Not Implemented", &[])).await?;
        return Ok(false);
    }
    let shares = env.shares();
    let file: Option<&Shared> = match Resource::parse(&req.target) {
        Some(Resource::Urn(u)) => shares.by_urn(&u),
        Some(Resource::Index(i, _)) => shares.by_index(i),
        None => None,
    };
    let Some(file) = file else {
        let len = [("Content-Length", "0".to_string())];
        send(stream, &response_head(404, "Not Found", &len)).await?;
        return Ok(true);
    };
    // Only the very file that was hashed is served: not a symlink put in
    // its place, not a file changed since. gtk-gnutella answers 404 for a
    // shared file that is gone or changed until it is hashed again.
    let shared = file.file.clone();
    let opened = tokio::task::spawn_blocking(move || swarmux_net::open_shared(&shared)).await;
    let mut f = match opened {
        Ok(Ok(f)) => tokio::fs::File::from_std(f),
        Ok(Err(e)) => {
            env.events.log(
                LogLevel::Warn,
                format!("not serving {} to {peer}: {e}", file.file.name),
            );
            let len = [("Content-Length", "0".to_string())];
            send(stream, &response_head(404, "Not Found", &len)).await?;
            return Ok(true);
        }
        Err(e) => return Err(e.to_string()),
    };
    let mut headers = vec![
        ("X-Gnutella-Content-URN", file.urn.to_string()),
        ("Content-Type", "application/binary".to_string()),
    ];
    let alts: Vec<SocketAddrV4> = lock(&env.sources)
        .get(&file.urn)
        .iter()
        .filter(|s| !s.firewalled && SocketAddr::V4(s.addr) != peer)
        .map(|s| s.addr)
        .take(10)
        .collect();
    if !alts.is_empty() {
        headers.push(("X-Alt", format_alt(&alts)));
    }
    let range_header = req.headers.get("Range");
    let Ok((start, end)) = parse_range(range_header, file.file.size) else {
        headers.push(("Content-Range", format!("bytes */{}", file.file.size)));
        headers.push(("Content-Length", "0".into()));
        send(
            stream,
            &response_head(416, "Requested Range Not Satisfiable", &headers),
        )
        .await?;
        return Ok(true);
    };
    if !head_only && slot.is_none() {
        let client = req.headers.get("User-Agent").unwrap_or("").to_string();
        *slot = Slot::take(env, &peer.to_string(), &client);
        if slot.is_none() {
            headers.push(("Retry-After", RETRY_AFTER_SECS.to_string()));
            headers.push(("Content-Length", "0".into()));
            send(
                stream,
                &response_head(503, "Busy, no free upload slot", &headers),
            )
            .await?;
            return Ok(false);
        }
    }
    let len = end - start + 1;
    headers.push(("Content-Length", len.to_string()));
    let (code, reason) = if range_header.is_some() {
        headers.push((
            "Content-Range",
            format!("bytes {start}-{end}/{}", file.file.size),
        ));
        (206, "Partial Content")
    } else {
        (200, "OK")
    };
    headers.push((
        "Connection",
        if req.keep_alive() {
            "Keep-Alive"
        } else {
            "close"
        }
        .to_string(),
    ));
    if head_only {
        send(stream, &response_head(code, reason, &headers)).await?;
        return Ok(true);
    }
    send(stream, &response_head(code, reason, &headers)).await?;
    if let Some(s) = slot.as_ref() {
        s.file(&file.file.name);
    }
    f.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(|e| e.to_string())?;
    let mut left = len;
    let mut data = vec![0u8; CHUNK];
    while left > 0 {
        let want = (left as usize).min(CHUNK);
        let n = f.read(&mut data[..want]).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("{} is shorter than shared", file.file.name));
        }
        env.limits.upload.acquire(n).await;
        send(stream, &data[..n]).await?;
        if let Some(s) = slot.as_ref() {
            s.sent(n as u64);
        }
        left -= n as u64;
    }
    Ok(true)
}

async fn send(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), String> {
    match timeout(WRITE_TIMEOUT, stream.write_all(bytes)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("write timed out".into()),
    }
}

/// Answers a Push for us: connects to `to`, sends `GIV`, then serves,
/// holding `_slot` of the outgoing push budget.
pub async fn giv(env: Arc<Env>, to: SocketAddrV4, index: u32, _slot: Admission) {
    let name = env
        .shares()
        .by_index(index)
        .map(|f| f.file.name.clone())
        .unwrap_or_default();
    let conn = timeout(Duration::from_secs(10), dial(env.local_ip, to.into())).await;
    let Ok(Ok(mut stream)) = conn else {
        env.events
            .log(LogLevel::Info, format!("push: cannot connect to {to}"));
        return;
    };
    let line = super::http::Giv {
        index,
        servent: env.guid,
        name,
    };
    if stream.write_all(&line.encode()).await.is_err() {
        return;
    }
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    serve(env, stream, SocketAddr::V4(to), Vec::new(), deadline).await;
}
