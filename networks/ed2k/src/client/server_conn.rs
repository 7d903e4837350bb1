//! One TCP connection to an ed2k server: login, then relaying decoded server
//! messages to the network loop and its requests to the server.
//!
//! Nothing but the login is sent before the server's IdChange: requests made
//! earlier wait in a queue. Requests come encoded (see
//! [`crate::proto::offer`] for how the server's flags shape an offer).

use crate::proto::frame::{Frame, FrameDecoder};
use crate::proto::server_msg::{login_flags, ClientToServer, LoginRequest, ServerToClient};
use crate::proto::tag::{ids, Tag};
use std::time::Duration;
use swarmux_net::dial::dial_host;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Largest frame accepted from a server (search results can be big).
const MAX_SERVER_FRAME: usize = 8 * 1024 * 1024;
/// Give up on a server that does not answer the login in this time.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(40);

/// The capabilities we advertise in the login: zlib-packed frames, new-style
/// tags in server replies, UTF-8 strings and files over 4 GiB. No obfuscation,
/// no auxiliary port, no IP in login.
pub const OUR_LOGIN_FLAGS: u32 =
    login_flags::ZLIB | login_flags::NEWTAGS | login_flags::UNICODE | login_flags::LARGEFILES;

/// eMule version tag value: `compat(8) major(7) minor(7) update(3)` bits = eMule 0.50.
pub const EMULE_VERSION: u32 = 50 << 10;

/// What the login carries.
#[derive(Clone, Debug)]
pub struct LoginInfo {
    pub user_hash: [u8; 16],
    pub nickname: String,
    pub port: u16,
    /// The address to connect from (`None`: any).
    pub bind_ip: Option<std::net::IpAddr>,
}

/// Events from a server connection to the network loop.
#[derive(Debug)]
pub enum ServerEvent {
    /// TCP connected to this address, login sent.
    Connected(std::net::SocketAddr),
    /// A decoded message from the server.
    Message(ServerToClient),
    /// The connection is over.
    Closed(String),
}

/// Builds the login request.
pub fn login_request(info: &LoginInfo) -> ClientToServer {
    let mut l = LoginRequest::standard(info.user_hash, info.port, &info.nickname, OUR_LOGIN_FLAGS);
    l.tags.push(Tag::u32(ids::EMULE_VERSION, EMULE_VERSION));
    ClientToServer::Login(l)
}

/// Runs one server connection until it closes or `cmds` closes. Events carry
/// the connection's `gen` so stale events from an old connection are ignored.
pub async fn run_server_conn(
    addr: String,
    gen: u64,
    login: LoginInfo,
    events: mpsc::UnboundedSender<(u64, ServerEvent)>,
    mut cmds: mpsc::UnboundedReceiver<Frame>,
) {
    let reason = match session(&addr, gen, &login, &events, &mut cmds).await {
        Ok(()) => "closed".to_string(),
        Err(e) => e,
    };
    let _ = events.send((gen, ServerEvent::Closed(reason)));
}

async fn session(
    addr: &str,
    gen: u64,
    login: &LoginInfo,
    events: &mpsc::UnboundedSender<(u64, ServerEvent)>,
    cmds: &mut mpsc::UnboundedReceiver<Frame>,
) -> Result<(), String> {
    let mut stream = tokio::time::timeout(Duration::from_secs(15), dial_host(login.bind_ip, addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect failed: {e}"))?;
    let _ = stream.set_nodelay(true);
    stream
        .write_all(&login_request(login).encode().encode())
        .await
        .map_err(|e| format!("write failed: {e}"))?;
    if let Ok(a) = stream.peer_addr() {
        let _ = events.send((gen, ServerEvent::Connected(a)));
    }
    let mut dec = FrameDecoder::for_server_link(MAX_SERVER_FRAME);
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<Frame> = Vec::new();
    let mut logged_in = false;
    let login_deadline = tokio::time::Instant::now() + LOGIN_TIMEOUT;
    loop {
        tokio::select! {
            n = stream.read(&mut buf) => {
                let n = n.map_err(|e| format!("read failed: {e}"))?;
                if n == 0 {
                    return Err("server closed the connection".into());
                }
                dec.push(&buf[..n]);
                loop {
                    let frame = match dec.next_frame() {
                        Ok(Some(f)) => f,
                        Ok(None) => break,
                        Err(e) => return Err(format!("bad frame from server: {e}")),
                    };
                    let msg = match ServerToClient::decode(&frame) {
                        Ok(m) => m,
                        Err(e) => return Err(format!("bad message 0x{:02X} from server: {e}", frame.opcode)),
                    };
                    if matches!(msg, ServerToClient::IdChange { .. }) && !logged_in {
                        logged_in = true;
                        for f in pending.drain(..) {
                            send(&mut stream, &f).await?;
                        }
                    }
                    if matches!(msg, ServerToClient::Reject) && !logged_in {
                        return Err("server rejected the login".into());
                    }
                    let _ = events.send((gen, ServerEvent::Message(msg)));
                }
            }
            cmd = cmds.recv() => {
                let Some(cmd) = cmd else { return Ok(()) };
                if logged_in {
                    send(&mut stream, &cmd).await?;
                } else if pending.len() < 256 {
                    pending.push(cmd);
                }
            }
            _ = tokio::time::sleep_until(login_deadline), if !logged_in => {
                return Err("no ID from the server".into());
            }
        }
    }
}

async fn send(stream: &mut TcpStream, frame: &Frame) -> Result<(), String> {
    tokio::time::timeout(Duration::from_secs(30), stream.write_all(&frame.encode()))
        .await
        .map_err(|_| "write to server timed out".to_string())?
        .map_err(|e| format!("write failed: {e}"))
}
