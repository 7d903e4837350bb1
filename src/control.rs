//! The control socket: newline-delimited JSON requests from the TUI and the
//! command line, answered through the engine; subscriptions receive every
//! new snapshot.
//!
//! A client that stops reading (a suspended TUI over a dead SSH link) costs
//! the daemon at most one pending snapshot and a few pending answers: a
//! subscriber is handed the newest snapshot when its socket can take more,
//! never a queue of them, and a client whose answers are not read is not read
//! from either.

use crate::engine::{EngineHandle, EngineMsg, Published};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use swarmux_api::{Request, Response, MAX_LINE};
use swarmux_net::gate::{AcceptErrors, ACCEPT_RETRY};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};

/// Most clients connected at once (each TUI and each running command is one).
pub const MAX_CLIENTS: usize = 64;
/// Answers waiting to be written to one client before its requests are no
/// longer read.
const ANSWERS_QUEUED: usize = 8;

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

/// Accepts clients until the engine stops, at most [`MAX_CLIENTS`] at once.
pub async fn serve(listener: UnixListener, engine: EngineHandle) {
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    let mut accept_errors = AcceptErrors::default();
    let mut refusals = AcceptErrors::default();
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match slots.clone().try_acquire_owned() {
                Ok(slot) => {
                    let engine = engine.clone();
                    tokio::spawn(async move {
                        if let Err(e) = client(stream, engine, slot).await {
                            tracing::debug!("control client ended: {e}");
                        }
                    });
                }
                Err(_) => {
                    let full = std::io::Error::other(format!(
                        "{MAX_CLIENTS} control clients are connected already"
                    ));
                    if let Some(line) = refusals.failed(&full, Instant::now()) {
                        tracing::warn!("control socket: {line}");
                    }
                    // Best effort, never waiting on the refused client.
                    let _ = stream.try_write(&encode(&Response::Error {
                        message: format!(
                            "the daemon already serves {MAX_CLIENTS} clients; close one and try again"
                        ),
                    }));
                }
            },
            Err(e) => {
                if let Some(line) = accept_errors.failed(&e, Instant::now()) {
                    tracing::warn!("control socket: {line}");
                }
                tokio::time::sleep(ACCEPT_RETRY).await;
            }
        }
    }
}

/// What the reading side hands the writing side.
enum Outgoing {
    Answer(Response),
    Subscribe,
}

async fn client(
    stream: UnixStream,
    engine: EngineHandle,
    _slot: OwnedSemaphorePermit,
) -> std::io::Result<()> {
    let (r, w) = stream.into_split();
    let mut reader = BufReader::new(r);
    let (out_tx, out_rx) = mpsc::channel::<Outgoing>(ANSWERS_QUEUED);
    let writer = tokio::spawn(write_lines(w, out_rx, engine.snapshots.clone()));
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
        let out = match serde_json::from_slice::<Request>(&line) {
            Err(e) => Outgoing::Answer(Response::Error {
                message: format!("bad request: {e}"),
            }),
            Ok(Request::Subscribe) if !subscribed => {
                subscribed = true;
                Outgoing::Subscribe
            }
            Ok(req) => {
                let (tx, rx) = oneshot::channel();
                if engine.tx.send(EngineMsg::Request(req, tx)).is_err() {
                    break;
                }
                match rx.await {
                    Ok(r) => Outgoing::Answer(r),
                    Err(_) => break,
                }
            }
        };
        // Waits while the client does not read its answers.
        if out_tx.send(out).await.is_err() {
            break;
        }
    }
    drop(out_tx);
    let _ = writer.await;
    Ok(())
}

/// Writes answers in order and, once subscribed, the newest snapshot whenever
/// one was published since the last one written.
async fn write_lines(
    mut w: OwnedWriteHalf,
    mut out: mpsc::Receiver<Outgoing>,
    mut snapshots: watch::Receiver<Arc<Published>>,
) {
    let mut subscribed = false;
    loop {
        let line = tokio::select! {
            biased;
            msg = out.recv() => match msg {
                Some(Outgoing::Answer(r)) => Arc::new(encode(&r)),
                Some(Outgoing::Subscribe) => {
                    subscribed = true;
                    // Never encode while holding the borrow: it blocks the engine's publish.
                    let newest = snapshots.borrow_and_update().clone();
                    newest.line()
                }
                None => return,
            },
            changed = snapshots.changed(), if subscribed => match changed {
                Ok(()) => {
                    let newest = snapshots.borrow_and_update().clone();
                    newest.line()
                }
                Err(_) => return,
            },
        };
        if w.write_all(&line).await.is_err() {
            return;
        }
    }
}

/// One answer as a JSON line.
pub fn encode(resp: &Response) -> Vec<u8> {
    let mut v = serde_json::to_vec(resp).unwrap_or_else(|e| {
        format!("{{\"reply\":\"error\",\"message\":\"encoding: {e}\"}}").into_bytes()
    });
    v.push(b'\n');
    v
}
