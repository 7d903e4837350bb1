//! The tokio layer: accepts connections, frames and decodes them, runs the
//! port check, and delivers what [`ServerCore`] answers.

use super::config::IndexServerConfig;
use super::core::{Outgoing, ServerCore, ServerIdentity};
use super::index::ConnId;
use super::port_check::{port_check, CheckIdentity};
use super::stream::{ClientStream, Inbound};
use super::udp::UdpLimiter;
use crate::proto::frame::Frame;
use crate::proto::server_msg::{ClientToServer, LoginRequest};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use swarmux_net::dial::udp_socket;
use swarmux_net::gate::{AcceptErrors, Admission, ConnectionGate, ACCEPT_RETRY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Frames queued for one client before it counts as not reading.
const SEND_QUEUE: usize = 512;
/// Longest a single write may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// The most bytes one write gathers from the send queue.
const WRITE_BATCH: usize = 64 * 1024;
/// Search work done per lock hold (under a millisecond, see
/// [`super::index::SEARCH_WORK`] for a whole search).
const SEARCH_SLICE: u64 = 250_000;
/// Messages kept from a client while its port check runs; the socket is not
/// read further until the check ends.
const MAX_EARLY_MESSAGES: usize = 16;

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
            udp_socket(Some(udp_addr.ip()), p)
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
        let cfg = &self.shared.config;
        let gate = ConnectionGate::new(cfg.max_connections, cfg.max_connections_per_address);
        let mut errors = AcceptErrors::default();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => match gate.admit(peer.ip()) {
                        Ok(admission) => {
                            let shared = self.shared.clone();
                            tasks.spawn(serve(stream, peer, shared, admission));
                        }
                        Err(refusal) => tracing::debug!("refused {peer}: {refusal}"),
                    },
                    Err(e) => {
                        if let Some(line) = errors.failed(&e, std::time::Instant::now()) {
                            tracing::warn!("{line}");
                        }
                        tokio::time::sleep(ACCEPT_RETRY).await;
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

/// Answers UDP server-status pings until the task is cancelled, each source
/// a few times a minute at most (see [`super::udp`]).
async fn serve_udp(sock: UdpSocket, shared: Arc<Shared>) {
    let mut buf = [0u8; 512];
    let mut limiter = UdpLimiter::new(std::time::Instant::now());
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let status = {
            let st = shared.lock();
            super::udp::UdpStatus {
                users: st.core.user_count() as u32,
                files: st.core.file_count() as u32,
                max_users: shared.config.max_connections as u32,
                soft_files: shared.config.max_files_per_client as u32,
                hard_files: shared.config.max_files_per_client as u32,
            }
        };
        let Some(reply) = super::udp::answer(&buf[..n], status) else {
            continue;
        };
        if limiter.allow(from.ip(), std::time::Instant::now()) {
            let _ = sock.send_to(&reply, from).await;
        }
    }
}

/// Runs one connection and always cleans up after it; the connection's
/// slot is given back when `_admission` drops.
async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, _admission: Admission) {
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    match session(stream, peer, conn, &shared).await {
        Ok(reason) => tracing::debug!("{peer} disconnected: {reason}"),
        Err(reason) => tracing::warn!("dropped {peer}: {reason}"),
    }
    let mut st = shared.lock();
    st.core.disconnect(conn);
    st.senders.remove(&conn);
}

/// Reads once into `inbound`, waiting at most until `deadline`; false when
/// the client closed the connection.
async fn read_into(
    rd: &mut (impl AsyncReadExt + Unpin),
    inbound: &mut ClientStream,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<bool, String> {
    let n = tokio::time::timeout_at(deadline, rd.read(buf))
        .await
        .map_err(|_| "idle timeout".to_string())?
        .map_err(|e| format!("read error: {e}"))?;
    inbound.push(&buf[..n]);
    Ok(n > 0)
}

/// Answers one message of a logged-in client. A search runs in slices of
/// [`SEARCH_SLICE`] with the lock released and the thread yielded between
/// them, so other clients are served while it runs.
async fn dispatch(shared: &Shared, conn: ConnId, local: SocketAddrV4, msg: Inbound) {
    let out = match msg {
        Inbound::Message(ClientToServer::Search(tree)) => {
            let Some(mut search) = shared.lock().core.start_search(conn, &tree) else {
                return;
            };
            drop(tree);
            while !shared.lock().core.search_step(&mut search, SEARCH_SLICE) {
                tokio::task::yield_now().await;
            }
            shared.lock().core.finish_search(search)
        }
        Inbound::Message(m) => shared.lock().core.handle(conn, local, m),
        Inbound::SearchRefused(why) => {
            tracing::debug!("connection {conn}: search refused: {why}");
            shared.lock().core.refuse_search(conn)
        }
        Inbound::Login(_) => return,
    };
    deliver(&mut shared.lock(), out);
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
    let mut inbound = ClientStream::new(cfg.max_packet);
    let mut buf = vec![0u8; 16 * 1024];
    let next = |inbound: &mut ClientStream| inbound.next_message().map_err(|e| e.to_string());

    // The first message must be the login.
    let deadline = Instant::now() + cfg.idle_timeout.min(cfg.login_timeout);
    let login: LoginRequest = loop {
        match next(&mut inbound)? {
            Some(Inbound::Login(l)) => break l,
            Some(_) => return Err("message before login".into()),
            None => {}
        }
        if !read_into(&mut rd, &mut inbound, &mut buf, deadline).await? {
            return Ok("closed before login".into());
        }
    };
    let check = CheckIdentity {
        hash: shared.hash,
        name: cfg.name.clone(),
        server_addr: local,
    };
    let target = SocketAddrV4::new(*peer4.ip(), login.port);
    // The stream is read on during the port check, so whatever follows the
    // login (in its read or later) is checked at once; messages wait for
    // the id, a few at most.
    let port_check = port_check(target, login.user_hash, &check, cfg.port_check_timeout);
    tokio::pin!(port_check);
    let mut early = Vec::new();
    let reachable = loop {
        while early.len() < MAX_EARLY_MESSAGES {
            match next(&mut inbound)? {
                Some(m) => early.push(m),
                None => break,
            }
        }
        tokio::select! {
            ok = &mut port_check => break ok,
            read = rd.read(&mut buf), if early.len() < MAX_EARLY_MESSAGES => {
                let n = read.map_err(|e| format!("read error: {e}"))?;
                if n == 0 {
                    return Ok("closed during the port check".into());
                }
                inbound.push(&buf[..n]);
            }
        }
    };

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
    for m in early {
        dispatch(shared, conn, local, m).await;
    }

    let mut deadline = Instant::now() + cfg.idle_timeout;
    loop {
        // Every complete message is answered before the socket is read
        // again, each answer sent before the next message is taken.
        while let Some(m) = next(&mut inbound)? {
            dispatch(shared, conn, local, m).await;
            while let Ok(frame) = rx.try_recv() {
                write_queued(&mut wr, frame, &mut rx).await?;
            }
        }
        tokio::select! {
            read = rd.read(&mut buf) => {
                let n = read.map_err(|e| format!("read error: {e}"))?;
                if n == 0 {
                    return Ok("closed".into());
                }
                deadline = Instant::now() + cfg.idle_timeout;
                inbound.push(&buf[..n]);
            }
            out = rx.recv() => {
                let Some(frame) = out else {
                    return Err("send queue full: not reading".into());
                };
                write_queued(&mut wr, frame, &mut rx).await?;
            }
            _ = tokio::time::sleep_until(deadline) => {
                return Err(format!("idle for {:?}", cfg.idle_timeout));
            }
        }
    }
}

/// Sends `first` and the frames already queued behind it in one write (up
/// to [`WRITE_BATCH`] bytes), giving up after [`WRITE_TIMEOUT`]. A login's
/// answers (message, ID change, status, ident) then arrive together: aMule
/// 2.3.3 can miss a segment that lands while it reads the one before, and
/// nothing wakes it until more arrives.
async fn write_queued(
    wr: &mut (impl AsyncWriteExt + Unpin),
    first: Frame,
    rx: &mut mpsc::Receiver<Frame>,
) -> Result<(), String> {
    let mut bytes = first.encode();
    while bytes.len() < WRITE_BATCH {
        match rx.try_recv() {
            Ok(frame) => bytes.extend_from_slice(&frame.encode()),
            Err(_) => break,
        }
    }
    tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&bytes))
        .await
        .map_err(|_| "write timed out".to_string())?
        .map_err(|e| format!("write error: {e}"))
}
