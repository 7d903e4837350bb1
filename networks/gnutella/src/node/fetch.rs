//! Fetching parts of a download from one source over HTTP/1.1: connect (or
//! have the servent push a connection to us), then ask for the missing bytes
//! of one part after another on the kept-alive connection.

use super::download::DlCtx;
use super::env::{lock, Env, MainMsg, Pushed};
use super::http::{
    head_complete, parse_alt, parse_content_range, parse_response, Resource, Response,
};
use crate::magnet::Source;
use crate::proto::handshake::user_agent;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::dial::dial;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Time to connect directly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// Time for a pushed servent to connect back.
const PUSH_TIMEOUT: Duration = Duration::from_secs(20);
/// Time for a response head, or between two body reads.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default wait after a 503 without `Retry-After`.
const BUSY_RETRY: Duration = Duration::from_secs(30);
/// Most bytes read (and written and logged) at once.
const CHUNK: usize = 64 * 1024;

/// How a source's session ended.
#[derive(Debug)]
pub enum Outcome {
    /// No missing part left to ask it for.
    NoMoreParts,
    /// The connection closed after an answer: go again soon.
    Again,
    /// 503: try again after this long.
    Busy(Duration),
    /// Something failed; maybe better later.
    Failed(String),
    /// The source does not have the file.
    Gone(String),
}

/// Fetches parts from `src` until there is nothing left or it fails.
pub async fn fetch(env: Arc<Env>, dl: Arc<DlCtx>, src: Source) -> Outcome {
    let key = src.addr.to_string();
    let (stream, buf) = match connect(&env, &dl, &src, &key).await {
        Ok(c) => c,
        Err(o) => return o,
    };
    let outcome = session(&env, &dl, &src, &key, stream, buf).await;
    let state = match &outcome {
        Outcome::Busy(d) => format!("busy (503), retry in {} s", d.as_secs()),
        Outcome::Failed(e) => format!("failed: {e}"),
        Outcome::Gone(e) => format!("gone: {e}"),
        Outcome::NoMoreParts | Outcome::Again => "idle".to_string(),
    };
    dl.peer_state(&key, &state);
    outcome
}

async fn connect(
    env: &Arc<Env>,
    dl: &Arc<DlCtx>,
    src: &Source,
    key: &str,
) -> Result<Pushed, Outcome> {
    if !src.firewalled {
        dl.peer_state(key, "connecting");
        match timeout(CONNECT_TIMEOUT, dial(env.local_ip, src.addr.into())).await {
            Ok(Ok(s)) => return Ok((s, Vec::new())),
            Ok(Err(e)) if src.push.is_none() => return Err(Outcome::Failed(e.to_string())),
            Err(_) if src.push.is_none() => {
                return Err(Outcome::Failed("connect timed out".into()))
            }
            _ => {}
        }
    }
    let Some((servent, index)) = src.push else {
        return Err(Outcome::Gone("firewalled and no servent GUID".into()));
    };
    if env.firewalled {
        return Err(Outcome::Gone("both sides firewalled".into()));
    }
    let rx = env.expect_giv(servent, index);
    dl.peer_state(key, "push requested");
    let _ = env.to_main.send(MainMsg::SendPush { servent, index }).await;
    match timeout(PUSH_TIMEOUT, rx).await {
        Ok(Ok(conn)) => Ok(conn),
        _ => Err(Outcome::Failed("no GIV after the push".into())),
    }
}

async fn session(
    env: &Arc<Env>,
    dl: &Arc<DlCtx>,
    src: &Source,
    key: &str,
    mut stream: TcpStream,
    mut buf: Vec<u8>,
) -> Outcome {
    let mut by_urn = true;
    loop {
        let (part, gap) = {
            let mut st = lock(&dl.state);
            let Some(part) = st.parts.claim() else {
                return Outcome::NoMoreParts;
            };
            (part, st.parts.gap(part))
        };
        // A claimed part is never whole: it would be done.
        let (start, end) = gap.unwrap_or_else(|| lock(&dl.state).parts.range(part));
        let resource = match (by_urn, src.push) {
            (false, Some((_, index))) => Resource::Index(index, dl.name.clone()),
            _ => Resource::Urn(dl.urn),
        };
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nRange: bytes={start}-{}\r\nConnection: Keep-Alive\r\nX-Gnutella-Content-URN: {}\r\n\r\n",
            resource.target(),
            src.addr,
            user_agent(),
            end - 1,
            dl.urn
        );
        let res = exchange(env, dl, key, &mut stream, &mut buf, req.as_bytes()).await;
        let resp = match res {
            Ok(r) => r,
            Err(e) => {
                lock(&dl.state).parts.release(part);
                return Outcome::Failed(e);
            }
        };
        {
            let mut st = lock(&dl.state);
            st.parts.release(part);
            for addr in resp_alts(&resp) {
                st.alt.push(Source::direct(addr));
            }
        }
        match resp.code {
            200 | 206 => {}
            503 => {
                let secs = resp
                    .headers
                    .get("Retry-After")
                    .and_then(|v| v.trim().parse().ok())
                    .map_or(BUSY_RETRY, |s: u64| Duration::from_secs(s.clamp(5, 3600)));
                return Outcome::Busy(secs);
            }
            404 | 410 if by_urn && src.push.is_some() => {
                by_urn = false;
                continue;
            }
            404 | 410 => return Outcome::Gone(format!("{} {}", resp.code, resp.reason)),
            code => return Outcome::Failed(format!("{code} {}", resp.reason)),
        }
        let close = resp
            .headers
            .get("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if close {
            return Outcome::Again;
        }
    }
}

fn resp_alts(resp: &Response) -> Vec<std::net::SocketAddrV4> {
    let mut out = Vec::new();
    for h in ["X-Alt", "X-Gnutella-Alternate-Location", "Alt-Location"] {
        if let Some(v) = resp.headers.get(h) {
            out.extend(parse_alt(v));
        }
    }
    out
}

/// Sends one request, reads the answer and writes its body to the file,
/// noting each piece as written. Returns the head.
async fn exchange(
    env: &Arc<Env>,
    dl: &Arc<DlCtx>,
    key: &str,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    req: &[u8],
) -> Result<Response, String> {
    stream.write_all(req).await.map_err(|e| e.to_string())?;
    let mut chunk = vec![0u8; CHUNK];
    let mut scanned = 0;
    let (resp, used) = loop {
        if head_complete(buf, &mut scanned) {
            if let Some(r) = parse_response(buf).map_err(|e| e.to_string())? {
                break r;
            }
        }
        let n = read(stream, &mut chunk).await?;
        buf.extend_from_slice(&chunk[..n]);
    };
    buf.drain(..used);
    if let Some(server) = resp
        .headers
        .get("Server")
        .or_else(|| resp.headers.get("User-Agent"))
    {
        dl.peer_client(key, server);
    }
    let len: u64 = resp
        .headers
        .get("Content-Length")
        .and_then(|v| v.trim().parse().ok())
        .ok_or("answer without Content-Length")?;
    let start = match resp.code {
        206 => {
            let (a, b) = resp
                .headers
                .get("Content-Range")
                .and_then(parse_content_range)
                .ok_or("206 without a valid Content-Range")?;
            if (b - a).checked_add(1) != Some(len) {
                return Err("Content-Range and Content-Length disagree".into());
            }
            Some(a)
        }
        200 => Some(0),
        _ => None,
    };
    let Some(start) = start else {
        // Skip a short error body so the connection stays usable.
        if len > 64 * 1024 {
            return Err("error answer with a large body".into());
        }
        let mut left = len as usize;
        let skip = left.min(buf.len());
        buf.drain(..skip);
        left -= skip;
        while left > 0 {
            let n = read(stream, &mut chunk[..left.min(CHUNK)]).await?;
            left -= n;
        }
        return Ok(resp);
    };
    if start.checked_add(len).is_none_or(|e| e > dl.size) {
        return Err("answer beyond the end of the file".into());
    }
    dl.peer_state(key, "downloading");
    let mut at = start;
    let end = start + len;
    let pre = (buf.len() as u64).min(len) as usize;
    if pre > 0 {
        let piece = buf.drain(..pre).collect();
        at = wrote(dl, key, piece, at).await?.1;
    }
    while at < end {
        let want = ((end - at) as usize).min(CHUNK);
        chunk.resize(want, 0);
        let n = read(stream, &mut chunk).await?;
        env.limits.download.acquire(n).await;
        chunk.truncate(n);
        (chunk, at) = wrote(dl, key, chunk, at).await?;
    }
    Ok(resp)
}

/// Writes `data` received from `key` at `at` and notes it in the part
/// table; returns the buffer and the next offset.
async fn wrote(
    dl: &Arc<DlCtx>,
    key: &str,
    data: Vec<u8>,
    at: u64,
) -> Result<(Vec<u8>, u64), String> {
    let n = data.len() as u64;
    let data = dl.write_at(data, at).await?;
    dl.received(key, n);
    let mut st = lock(&dl.state);
    let done = st.parts.wrote(at, at + n, key);
    st.new_done.extend(done);
    Ok((data, at + n))
}

async fn read(stream: &mut TcpStream, chunk: &mut [u8]) -> Result<usize, String> {
    match timeout(READ_TIMEOUT, stream.read(chunk)).await {
        Ok(Ok(0)) => Err("connection closed".into()),
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("read timed out".into()),
    }
}
