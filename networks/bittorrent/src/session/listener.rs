//! The TCP listener: admits a connection through the network's gate (a
//! total and a per-address budget, held until the connection closes), reads
//! the peer's handshake within a deadline and hands the connection to the
//! torrent it names.

use super::env::Env;
use super::torrent::TorrentMsg;
use crate::proto::handshake::HANDSHAKE_LEN;
use crate::proto::Handshake;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarmux_net::gate::{AcceptErrors, ACCEPT_RETRY};
use swarmux_net::message::LogLevel;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Incoming connections allowed to be in their handshake at once.
const MAX_HANDSHAKING: usize = 64;
/// Time an incoming peer has to send its handshake; then it is closed.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until the listener fails for good.
pub(crate) async fn accept_loop(env: Arc<Env>, listener: TcpListener) {
    let pending = Arc::new(Semaphore::new(MAX_HANDSHAKING));
    let mut errors = AcceptErrors::default();
    loop {
        let (mut stream, addr) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                if let Some(line) = errors.failed(&e, Instant::now()) {
                    env.log(LogLevel::Warn, format!("BitTorrent: {line}"));
                }
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let admission = match env.incoming.admit(addr.ip()) {
            Ok(a) => a,
            Err(refusal) => {
                tracing::debug!(%addr, "incoming peer refused: {refusal}");
                continue;
            }
        };
        let Ok(permit) = pending.clone().try_acquire_owned() else {
            continue;
        };
        let env = env.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; HANDSHAKE_LEN];
            let read = tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.read_exact(&mut buf)).await;
            drop(permit);
            if !matches!(read, Ok(Ok(_))) {
                return;
            }
            let Ok(Some(hs)) = Handshake::decode(&buf) else {
                return;
            };
            if let Some(tx) = env.torrent(&hs.info_hash) {
                let _ = tx.send(TorrentMsg::Incoming(stream, addr, hs, admission));
            }
        });
    }
}
