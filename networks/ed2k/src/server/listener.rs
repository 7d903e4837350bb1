//! The tokio layer: accepts connections, frames and decodes them, runs the
//! port check, and delivers what [`ServerCore`] answers.

use super::config::IndexServerConfig;
use super::core::{Outgoing, ServerCore, ServerIdentity};
use super::index::ConnId;
use super::port_check::{port_check, CheckIdentity};
use crate::proto::frame::{Frame, FrameDecoder, PROTO_EDONKEY};
use crate::proto::server_msg::{ClientToServer, LoginRequest};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Frames queued for one client before it counts as not reading.
const SEND_QUEUE: usize = 512;
/// Longest a single write may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Most simultaneous connections.
const MAX_CONNECTIONS: usize = 4096;
/// How long a new connection may take to send its login.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);

struct State {
    core: ServerCore,
    senders: HashMap<ConnId, mpsc::Sender<Frame>>,
}

struct Shared {
    state: Mutex<State>,
    config: IndexServerConfig,
    hash: [u8; 16],
    next_conn: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug; keep serving anyway.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Queues messages; a client whose queue is full is cut off (its sender is
/// dropped, which ends its connection task).
fn deliver(state: &mut State, out: Vec<Outgoing>) {
    for o in out {
        let Some(tx) = state.senders.get(&o.to) else {
            continue;
        };
        if tx.try_send(o.msg.encode()).is_err() {
            tracing::warn!(
                "dropping connection {}: it does not read its messages",
                o.to
            );
            state.senders.remove(&o.to);
        }
    }
}

/// A bound, not yet running index server.
pub struct IndexServer {
    listener: TcpListener,
    /// Status requests on the TCP port + 4 (eMule's convention), if bindable.
    udp: Option<UdpSocket>,
    shared: Arc<Shared>,
}

/// Binds the listening socket.
pub async fn bind(config: IndexServerConfig) -> io::Result<IndexServer> {
    let listener = TcpListener::bind(config.listen).await?;
    let mut udp_addr = listener.local_addr()?;
    let udp = match udp_addr.port().checked_add(4) {
        Some(p) => {
            udp_addr.set_port(p);
            UdpSocket::bind(udp_addr)
                .await
                .map_err(|e| tracing::warn!("no UDP status answers on {udp_addr}: {e}"))
                .ok()
        }
        None => None,
    };
    let hash: [u8; 16] = config.hash.unwrap_or_else(rand::random);
    let core = ServerCore::new(
        ServerIdentity {
            hash,
            name: config.name.clone(),
            description: config.description.clone(),
            message: config.message.clone(),
        },
        config.max_files_per_client,
        config.max_results,
    );
    Ok(IndexServer {
        listener,
        udp,
        shared: Arc::new(Shared {
            state: Mutex::new(State {
                core,
                senders: HashMap::new(),
            }),
            config,
            hash,
            next_conn: AtomicU64::new(1),
        }),
    })
}

impl IndexServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves clients until `shutdown` completes, then closes every connection.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tracing::info!(
            "index server '{}' listening on {}",
            self.shared.config.name,
            self.listener
                .local_addr()
                .map_or_else(|e| e.to_string(), |a| a.to_string())
        );
        let mut tasks = JoinSet::new();
        if let Some(udp) = self.udp {
            tasks.spawn(serve_udp(udp, self.shared.clone()));
        }
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if tasks.len() >= MAX_CONNECTIONS {
                            tracing::warn!("refused {peer}: {MAX_CONNECTIONS} connections already open");
                            continue;
                        }
                        let shared = self.shared.clone();
                        tasks.spawn(serve(stream, peer, shared));
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        tasks.shutdown().await;
        tracing::info!("index server stopped");
    }
}

fn v4(a: SocketAddr) -> Option<SocketAddrV4> {
    match a {
        SocketAddr::V4(a) => Some(a),
        SocketAddr::V6(a) => a
            .ip()
            .to_ipv4_mapped()
            .map(|ip| SocketAddrV4::new(ip, a.port())),
    }
}

/// Answers UDP server-status pings until the task is cancelled.
async fn serve_udp(sock: UdpSocket, shared: Arc<Shared>) {
    let mut buf = [0u8; 512];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let status = {
            let st = shared.lock();
            super::udp::UdpStatus {
                users: st.core.user_count() as u32,
                files: st.core.file_count() as u32,
                max_users: MAX_CONNECTIONS as u32,
                soft_files: shared.config.max_files_per_client as u32,
                hard_files: shared.config.max_files_per_client as u32,
            }
        };
        if let Some(reply) = super::udp::answer(&buf[..n], status) {
            let _ = sock.send_to(&reply, from).await;
        }
    }
}

/// Runs one connection and always cleans up after it.
async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    match session(stream, peer, conn, &shared).await {
        Ok(reason) => tracing::debug!("{peer} disconnected: {reason}"),
        Err(reason) => tracing::warn!("dropped {peer}: {reason}"),
    }
    let mut st = shared.lock();
    st.core.disconnect(conn);
    st.senders.remove(&conn);
}

/// Reads the next frame, waiting at most until `deadline`.
async fn read_frame(
    rd: &mut (impl AsyncReadExt + Unpin),
    dec: &mut FrameDecoder,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<Option<Frame>, String> {
    loop {
        if let Some(f) = dec.next_frame().map_err(|e| e.to_string())? {
            return Ok(Some(f));
        }
        let n = tokio::time::timeout_at(deadline, rd.read(buf))
            .await
            .map_err(|_| "idle timeout".to_string())?
            .map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            return Ok(None);
        }
        dec.push(&buf[..n]);
    }
}

/// `Ok(reason)` for an ordinary end, `Err(reason)` for a dropped client.
async fn session(
    stream: TcpStream,
    peer: SocketAddr,
    conn: ConnId,
    shared: &Shared,
) -> Result<String, String> {
    let cfg = &shared.config;
    let peer4 = v4(peer).ok_or("ed2k needs IPv4")?;
    let local = stream
        .local_addr()
        .ok()
        .and_then(v4)
        .ok_or("no local IPv4 address")?;
    let (mut rd, mut wr) = stream.into_split();
    let mut dec = FrameDecoder::for_server_link(cfg.max_packet);
    let mut buf = vec![0u8; 16 * 1024];

    // The first frame must be the login.
    let deadline = Instant::now() + cfg.idle_timeout.min(LOGIN_TIMEOUT);
    let Some(first) = read_frame(&mut rd, &mut dec, &mut buf, deadline).await? else {
        return Ok("closed before login".into());
    };
    let login: LoginRequest = match decode(&first)? {
        Some(ClientToServer::Login(l)) => l,
        _ => return Err(format!("opcode 0x{:02X} before login", first.opcode)),
    };
    let check = CheckIdentity {
        hash: shared.hash,
        name: cfg.name.clone(),
        server_addr: local,
    };
    let target = SocketAddrV4::new(*peer4.ip(), login.port);
    let reachable = port_check(target, login.user_hash, &check, cfg.port_check_timeout).await;

    let (tx, mut rx) = mpsc::channel::<Frame>(SEND_QUEUE);
    {
        let mut st = shared.lock();
        let welcome = st.core.login(conn, peer4, local, &login, reachable);
        if let Some(c) = st.core.client(conn) {
            tracing::info!(
                "login from {peer} '{}': {} id {:#010x}",
                c.name,
                if reachable { "high" } else { "low" },
                c.id
            );
        }
        for m in welcome {
            let _ = tx.try_send(m.encode());
        }
        st.senders.insert(conn, tx);
    }

    let mut deadline = Instant::now() + cfg.idle_timeout;
    loop {
        tokio::select! {
            read = rd.read(&mut buf) => {
                let n = read.map_err(|e| format!("read error: {e}"))?;
                if n == 0 {
                    return Ok("closed".into());
                }
                deadline = Instant::now() + cfg.idle_timeout;
                dec.push(&buf[..n]);
                while let Some(f) = dec.next_frame().map_err(|e| e.to_string())? {
                    let Some(msg) = decode(&f)? else { continue };
                    let mut st = shared.lock();
                    let out = st.core.handle(conn, local, msg);
                    deliver(&mut st, out);
                }
            }
            out = rx.recv() => {
                let Some(frame) = out else {
                    return Err("send queue full: not reading".into());
                };
                tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&frame.encode()))
                    .await
                    .map_err(|_| "write timed out".to_string())?
                    .map_err(|e| format!("write error: {e}"))?;
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Err(format!("idle for {:?}", cfg.idle_timeout));
            }
        }
    }
}

/// Decodes a client frame; eMule-extended frames are not for servers and are skipped.
fn decode(f: &Frame) -> Result<Option<ClientToServer>, String> {
    if f.proto != PROTO_EDONKEY {
        return Ok(None);
    }
    ClientToServer::decode(f)
        .map(Some)
        .map_err(|e| format!("bad opcode 0x{:02X}: {e}", f.opcode))
}
