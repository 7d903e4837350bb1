//! The control socket: newline-delimited JSON requests from the TUI and the
//! command line, answered through the engine; subscriptions receive every
//! new snapshot.

use crate::engine::{EngineHandle, EngineMsg};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use swarmux_api::{Request, Response, Snapshot, MAX_LINE};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};

/// Binds the control socket at `path`, readable and writable by the owner only.
/// A stale socket left by a killed daemon is replaced; a live one is an error.
pub async fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            anyhow::bail!(
                "a swarmux daemon already runs for this data dir ({}); stop it with `swarmux stop`",
                path.display()
            );
        }
        std::fs::remove_file(path)?;
    }
    // Create it with a restrictive umask so no other user can ever connect.
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0o177) };
    let listener = UnixListener::bind(path);
    unsafe { libc::umask(old) };
    let listener = listener?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Accepts clients until the engine stops.
pub async fn serve(listener: UnixListener, engine: EngineHandle) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let engine = engine.clone();
                tokio::spawn(async move {
                    if let Err(e) = client(stream, engine).await {
                        tracing::debug!("control client ended: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("control socket accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn client(stream: UnixStream, engine: EngineHandle) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(line) = out_rx.recv().await {
            if w.write_all(&line).await.is_err() {
                break;
            }
        }
    });
    let mut subscribed = false;
    loop {
        let mut line = Vec::new();
        let n = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            break;
        }
        let resp = match serde_json::from_slice::<Request>(&line) {
            Err(e) => Response::Error {
                message: format!("bad request: {e}"),
            },
            Ok(Request::Subscribe) if !subscribed => {
                subscribed = true;
                tokio::spawn(push_snapshots(engine.snapshots.clone(), out_tx.clone()));
                continue;
            }
            Ok(req) => {
                let (tx, rx) = oneshot::channel();
                if engine.tx.send(EngineMsg::Request(req, tx)).is_err() {
                    break;
                }
                match rx.await {
                    Ok(r) => r,
                    Err(_) => break,
                }
            }
        };
        if out_tx.send(encode(&resp)).is_err() {
            break;
        }
    }
    drop(out_tx);
    let _ = writer.await;
    Ok(())
}

/// Sends the current snapshot, then every new one, until the client is gone.
async fn push_snapshots(
    mut rx: watch::Receiver<Arc<Snapshot>>,
    out: mpsc::UnboundedSender<Vec<u8>>,
) {
    loop {
        let snap = rx.borrow_and_update().clone();
        if out
            .send(encode(&Response::Snapshot(Box::new((*snap).clone()))))
            .is_err()
        {
            return;
        }
        if rx.changed().await.is_err() || out.is_closed() {
            return;
        }
    }
}

fn encode(resp: &Response) -> Vec<u8> {
    let mut v = serde_json::to_vec(resp).unwrap_or_else(|e| {
        format!("{{\"reply\":\"error\",\"message\":\"encoding: {e}\"}}").into_bytes()
    });
    v.push(b'\n');
    v
}
