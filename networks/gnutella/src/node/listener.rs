//! What arrives on the listening port: the first bytes tell a Gnutella
//! handshake (`GNUTELLA CONNECT/0.6`) from an HTTP request (`GET `, `HEAD `)
//! and from a pushed servent's `GIV` line. Each kind then holds a slot of its
//! own budget (see [`super::gates`]), and the whole first head must arrive
//! within [`HEAD_DEADLINE`] of the accept.

use super::conn::{self, Dial};
use super::env::Env;
use super::gates::HEAD_DEADLINE;
use super::http::Giv;
use super::upload;
use crate::proto::handshake::HandshakeConfig;
use crate::proto::routing::ConnId;
use std::net::SocketAddr;
use std::sync::Arc;
use swarmux_net::message::LogLevel;
use swarmux_net::Admission;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// Largest GIV head.
const MAX_GIV: usize = 4096;

/// Handles one accepted connection, admitted as unidentified by `first`.
/// `cfg` is the handshake configuration to use if it is a Gnutella
/// connection, which then gets the id `id`.
pub async fn handle(
    env: Arc<Env>,
    mut stream: TcpStream,
    addr: SocketAddr,
    cfg: HandshakeConfig,
    id: ConnId,
    first: Admission,
) {
    let deadline = Instant::now() + HEAD_DEADLINE;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while buf.len() < 4 {
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
    let gate = if buf.starts_with(b"GNUT") {
        &env.gates.links
    } else if buf.starts_with(b"GET ") || buf.starts_with(b"HEAD") {
        &env.gates.http
    } else if buf.starts_with(b"GIV ") {
        &env.gates.giv_in
    } else {
        return;
    };
    // Refused: closed at once (the per-address cap or the kind's budget).
    let Ok(_admission) = gate.admit(addr.ip()) else {
        return;
    };
    drop(first);
    if buf.starts_with(b"GNUT") {
        let dial = Dial::In {
            stream,
            addr,
            initial: buf,
            head_deadline: deadline,
        };
        conn::run(env, id, dial, cfg).await;
    } else if buf.starts_with(b"GIV ") {
        giv(&env, stream, addr, buf, deadline).await;
    } else {
        upload::serve(env, stream, addr, buf, deadline).await;
    }
}

/// Reads a pushed servent's GIV line (by `deadline`) and hands the
/// connection to the download waiting for it.
async fn giv(
    env: &Env,
    mut stream: TcpStream,
    addr: SocketAddr,
    mut buf: Vec<u8>,
    deadline: Instant,
) {
    let mut chunk = [0u8; 1024];
    loop {
        match Giv::parse(&buf) {
            Ok(Some((giv, used))) => {
                let rest = buf[used..].to_vec();
                if !env.deliver_giv(giv.servent, giv.index, (stream, rest)) {
                    env.events.log(
                        LogLevel::Info,
                        format!("unexpected GIV from {addr} for {}", giv.servent.to_hex()),
                    );
                }
                return;
            }
            Ok(None) if buf.len() < MAX_GIV => {}
            _ => return,
        }
        match timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
}
