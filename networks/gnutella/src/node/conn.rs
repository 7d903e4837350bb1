//! One neighbour connection: the 0.6 handshake over a socket, then the
//! message stream (inflated/deflated as negotiated) cut into descriptors for
//! the node loop, and the writer fed by the node loop.
//!
//! The connection decides nothing about routing: it decodes and passes every
//! descriptor on (waiting when the node loop is busy, which slows the peer
//! down), and drops the link itself only when the stream is broken (a
//! payload above the limit, corrupt compression) or silent for too long.

use super::env::{ConnOut, Env, MainMsg};
use crate::proto::bye::Bye;
use crate::proto::descriptor::{
    Descriptor, DescriptorDecoder, Guid, DEFAULT_MAX_PAYLOAD, TYPE_BYE,
};
use crate::proto::handshake::{Acceptor, Connector, HandshakeConfig, Negotiated, Refusal, Step};
use crate::proto::link::{Deflater, Inflater};
use crate::proto::message::Message;
use crate::proto::routing::ConnId;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::dial::dial_host;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{timeout, timeout_at, Instant};

/// Time to connect and finish the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// A link silent this long is dropped (we ping every 30 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(180);
/// Time to write one batch before the peer is considered stuck.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Descriptors queued toward one neighbour; more are dropped by the node loop.
pub const OUT_QUEUE: usize = 512;
/// Largest batch written (and compressed) at once.
const BATCH: usize = 64 * 1024;

/// How the connection starts.
pub enum Dial {
    /// We connect to `HOST:PORT`.
    Out(String),
    /// The peer connected; `initial` are the bytes already read from it,
    /// and its whole handshake head must have arrived by `head_deadline`.
    In {
        stream: TcpStream,
        addr: SocketAddr,
        initial: Vec<u8>,
        head_deadline: Instant,
    },
}

enum Handshaken {
    Up(TcpStream, SocketAddr, Negotiated, Vec<u8>),
    Refused(Refusal),
}

/// Runs a connection to its end, reporting to the node loop.
pub async fn run(env: Arc<Env>, id: ConnId, dial: Dial, cfg: HandshakeConfig) {
    let to_main = env.to_main.clone();
    let res = match timeout(HANDSHAKE_TIMEOUT, handshake(dial, cfg, env.local_ip)).await {
        Ok(r) => r,
        Err(_) => Err("handshake timed out".to_string()),
    };
    let (stream, addr, outcome, leftover) = match res {
        Err(reason) => {
            let _ = to_main.send(MainMsg::Failed { id, reason }).await;
            return;
        }
        Ok(Handshaken::Refused(refusal)) => {
            let _ = to_main.send(MainMsg::Refused { id, refusal }).await;
            return;
        }
        Ok(Handshaken::Up(s, a, o, l)) => (s, a, o, l),
    };
    let (tx, rx) = mpsc::channel(OUT_QUEUE);
    let (inn, out) = (outcome.compress_in, outcome.compress_out);
    let up = MainMsg::Up {
        id,
        addr,
        outcome,
        tx,
    };
    if to_main.send(up).await.is_err() {
        return;
    }
    let mut link = Link {
        id,
        to_main: to_main.clone(),
        inflater: inn.then(Inflater::new),
        decoder: DescriptorDecoder::new(DEFAULT_MAX_PAYLOAD),
    };
    let reason = link.run(stream, out, leftover, rx).await;
    let _ = to_main.send(MainMsg::Closed { id, reason }).await;
}

async fn handshake(
    dial: Dial,
    cfg: HandshakeConfig,
    local: Option<IpAddr>,
) -> Result<Handshaken, String> {
    let mut buf = vec![0u8; 4096];
    match dial {
        Dial::Out(host) => {
            let mut stream = dial_host(local, &host).await.map_err(|e| e.to_string())?;
            let addr = stream.peer_addr().map_err(|e| e.to_string())?;
            let ip = match addr.ip() {
                IpAddr::V4(ip) => ip,
                IpAddr::V6(ip) => ip.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
            };
            let (mut c, first) = Connector::new(cfg, ip);
            stream.write_all(&first).await.map_err(|e| e.to_string())?;
            loop {
                let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("closed during the handshake".into());
                }
                match c.feed(&buf[..n]).map_err(|e| e.to_string())? {
                    Step::NeedMore => {}
                    Step::Send(b) => stream.write_all(&b).await.map_err(|e| e.to_string())?,
                    step => return finish(stream, addr, step).await,
                }
            }
        }
        Dial::In {
            mut stream,
            addr,
            initial,
            head_deadline,
        } => {
            let ip = match addr.ip() {
                IpAddr::V4(ip) => ip,
                IpAddr::V6(ip) => ip.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
            };
            let mut a = Acceptor::new(cfg, ip);
            let mut input = initial;
            // Until we answer, the peer's head is still arriving.
            let mut head_read = false;
            loop {
                match a.feed(&input).map_err(|e| e.to_string())? {
                    Step::NeedMore => {}
                    Step::Send(b) => {
                        head_read = true;
                        stream.write_all(&b).await.map_err(|e| e.to_string())?
                    }
                    step => return finish(stream, addr, step).await,
                }
                let read = stream.read(&mut buf);
                let n = if head_read {
                    read.await
                } else {
                    timeout_at(head_deadline, read)
                        .await
                        .map_err(|_| "handshake head too slow".to_string())?
                }
                .map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("closed during the handshake".into());
                }
                input = buf[..n].to_vec();
            }
        }
    }
}

async fn finish(mut stream: TcpStream, addr: SocketAddr, step: Step) -> Result<Handshaken, String> {
    match step {
        Step::Done {
            send,
            outcome,
            leftover,
        } => {
            stream.write_all(&send).await.map_err(|e| e.to_string())?;
            Ok(Handshaken::Up(stream, addr, outcome, leftover))
        }
        Step::Refused { send, refusal } => {
            let _ = stream.write_all(&send).await;
            let _ = stream.shutdown().await;
            Ok(Handshaken::Refused(refusal))
        }
        Step::NeedMore | Step::Send(_) => Err("handshake state machine stalled".into()),
    }
}

struct Link {
    id: ConnId,
    to_main: mpsc::Sender<MainMsg>,
    inflater: Option<Inflater>,
    decoder: DescriptorDecoder,
}

impl Link {
    async fn run(
        &mut self,
        stream: TcpStream,
        compress_out: bool,
        leftover: Vec<u8>,
        mut rx: mpsc::Receiver<ConnOut>,
    ) -> String {
        let (mut rd, mut wr) = stream.into_split();
        let mut deflater = compress_out.then(Deflater::new);
        if let Err(e) = self.ingest(&leftover).await {
            let _ = send_bye(&mut wr, &mut deflater, 400, &e).await;
            return e;
        }
        let mut buf = vec![0u8; 16 * 1024];
        let mut last_read = Instant::now();
        loop {
            tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) => return "closed by the peer".into(),
                    Err(e) => return e.to_string(),
                    Ok(n) => {
                        last_read = Instant::now();
                        if let Err(e) = self.ingest(&buf[..n]).await {
                            let _ = send_bye(&mut wr, &mut deflater, 400, &e).await;
                            return e;
                        }
                    }
                },
                out = rx.recv() => {
                    let mut batch = Vec::new();
                    let mut bye = None;
                    let mut next = out;
                    loop {
                        match next {
                            None => return "closed".into(),
                            Some(ConnOut::Send(b)) => batch.extend_from_slice(&b),
                            Some(ConnOut::Bye(code, text)) => {
                                bye = Some((code, text));
                                break;
                            }
                        }
                        if batch.len() >= BATCH {
                            break;
                        }
                        match rx.try_recv() {
                            Ok(m) => next = Some(m),
                            Err(_) => break,
                        }
                    }
                    if let Err(e) = write(&mut wr, &mut deflater, &batch).await {
                        return e;
                    }
                    if let Some((code, text)) = bye {
                        let _ = send_bye(&mut wr, &mut deflater, code, &text).await;
                        return format!("we sent Bye {code} {text}");
                    }
                }
                _ = tokio::time::sleep_until(last_read + IDLE_TIMEOUT) => {
                    return "silent for too long".into();
                }
            }
        }
    }

    /// Decodes received bytes and hands every descriptor to the node loop.
    async fn ingest(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self.inflater.as_mut() {
            None => {
                self.decoder.feed(bytes);
                self.drain().await
            }
            Some(_) => {
                if let Some(inf) = self.inflater.as_mut() {
                    inf.feed(bytes);
                }
                loop {
                    let chunk = match self.inflater.as_mut() {
                        Some(inf) => inf.read(BATCH).map_err(|e| e.to_string())?,
                        None => return Ok(()),
                    };
                    if chunk.is_empty() {
                        return Ok(());
                    }
                    self.decoder.feed(&chunk);
                    self.drain().await?;
                }
            }
        }
    }

    async fn drain(&mut self) -> Result<(), String> {
        while let Some(d) = self.decoder.next_descriptor().map_err(|e| e.to_string())? {
            let msg = Message::decode(&d.header, &d.payload);
            let m = MainMsg::Received {
                id: self.id,
                header: d.header,
                payload: d.payload,
                msg,
            };
            self.to_main
                .send(m)
                .await
                .map_err(|_| "node stopped".to_string())?;
        }
        Ok(())
    }
}

async fn write(
    wr: &mut OwnedWriteHalf,
    deflater: &mut Option<Deflater>,
    bytes: &[u8],
) -> Result<(), String> {
    if bytes.is_empty() {
        return Ok(());
    }
    let data = match deflater.as_mut() {
        Some(d) => d.compress(bytes).map_err(|e| e.to_string())?,
        None => bytes.to_vec(),
    };
    match timeout(WRITE_TIMEOUT, wr.write_all(&data)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("peer does not read".into()),
    }
}

async fn send_bye(
    wr: &mut OwnedWriteHalf,
    deflater: &mut Option<Deflater>,
    code: u16,
    text: &str,
) -> Result<(), String> {
    let bye = Bye {
        code,
        message: text.chars().take(200).collect(),
    };
    let d = Descriptor::new(Guid::random(), TYPE_BYE, 1, 0, bye.encode());
    write(wr, deflater, &d.encode().map_err(|e| e.to_string())?).await?;
    let _ = wr.shutdown().await;
    Ok(())
}
