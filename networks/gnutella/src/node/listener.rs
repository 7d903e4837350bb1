//! What arrives on the listening port: the first bytes tell a Gnutella
//! handshake (`GNUTELLA CONNECT/0.6`) from an HTTP request (`GET `, `HEAD `)
//! and from a pushed servent's `GIV` line.

use super::conn::{self, Dial};
use super::env::Env;
use super::http::Giv;
use super::upload;
use crate::proto::handshake::HandshakeConfig;
use crate::proto::routing::ConnId;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::message::LogLevel;
use swarmux_net::CountGuard;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Time for a new connection to say what it is.
const SNIFF_TIMEOUT: Duration = Duration::from_secs(15);
/// Largest GIV head.
const MAX_GIV: usize = 4096;

/// Handles one accepted connection. `cfg` is the handshake configuration
/// to use if it is a Gnutella connection, which then gets the id `id`.
pub async fn handle(
    env: Arc<Env>,
    mut stream: TcpStream,
    addr: SocketAddr,
    cfg: HandshakeConfig,
    id: ConnId,
) {
    let guard = CountGuard::new(&env.sockets);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while buf.len() < 4 {
        match timeout(SNIFF_TIMEOUT, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
    drop(guard);
    if buf.starts_with(b"GNUT") {
        let dial = Dial::In {
            stream,
            addr,
            initial: buf,
        };
        conn::run(env, id, dial, cfg).await;
    } else if buf.starts_with(b"GET ") || buf.starts_with(b"HEAD") {
        upload::serve(env, stream, addr, buf).await;
    } else if buf.starts_with(b"GIV ") {
        let _guard = CountGuard::new(&env.sockets);
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
            match timeout(SNIFF_TIMEOUT, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                _ => return,
            }
        }
    }
}
