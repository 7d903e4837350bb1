//! The disk thread of a torrent: writes received blocks, verifies pieces.
//!
//! Peer tasks hand blocks over a bounded channel (so a disk slower than the
//! network slows the peers down instead of growing memory); the block data
//! is the peer's receive buffer, written without a copy. Every write of a
//! piece counts, and when all of its blocks are written the piece is hashed:
//! blocks that arrived in order were already fed to SHA-1 on the way (no
//! read-back); otherwise the piece is read back from the page cache.
//!
//! The picker hands out each block of a piece once per attempt, so the
//! count is exact; a piece that failed its check starts a new attempt.
//!
//! Every verdict names the peers that sent the piece's blocks, for the
//! torrent's ban rules.
//!
//! A download's written log (`swarmux_net::written`), once attached, gets
//! every block's range after its write and loses a piece's range when the
//! piece fails, so a restart fetches only what was in flight; the blocks a
//! restart found written count towards their pieces.

use crate::core::Storage;
use bytes::Bytes;
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::sync::{Arc, RwLock};
use swarmux_net::written::WrittenLog;
use tokio::sync::{mpsc, oneshot};

/// Blocks queued for the disk per torrent (4 MiB of 16 KiB blocks).
pub(crate) const DISK_QUEUE: usize = 256;

/// The storage of a torrent; replaced when a finished download moves.
pub(crate) type StorageSlot = Arc<RwLock<Arc<Storage>>>;

/// The current storage of a slot.
pub(crate) fn current(slot: &StorageSlot) -> Arc<Storage> {
    slot.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Work for the disk thread.
pub(crate) enum DiskJob {
    /// A block the picker accepted from peer `from`.
    Write {
        piece: u32,
        offset: u32,
        data: Bytes,
        from: u64,
    },
    /// Flush written data; answered once every earlier job is done.
    Sync(oneshot::Sender<io::Result<()>>),
    /// The download's written log, and how many blocks of each unverified
    /// piece it found written (the picker will not hand those out); a piece
    /// found whole is verified at once.
    Attach {
        log: WrittenLog,
        restored: Vec<(u32, u32)>,
    },
}

/// What the disk thread reports to the torrent task.
#[derive(Debug)]
pub(crate) enum DiskEvent {
    /// The piece matches its hash; `senders` sent its blocks.
    Verified { piece: u32, senders: Vec<u64> },
    /// The piece does not match; `senders` sent its blocks.
    Failed { piece: u32, senders: Vec<u64> },
    /// Writing or reading failed (e.g. the disk is full).
    Error(String),
}

struct Progress {
    written: u32,
    /// Bytes fed to `hasher`, in order from the piece start.
    hashed: u32,
    hasher: Sha1,
    senders: Vec<u64>,
}

/// Starts the disk thread of a torrent; it ends when every sender is gone.
pub(crate) fn start(
    storage: StorageSlot,
    hashes: Arc<Vec<[u8; 20]>>,
    events: impl Fn(DiskEvent) + Send + 'static,
) -> mpsc::Sender<DiskJob> {
    let (tx, rx) = mpsc::channel(DISK_QUEUE);
    let spawned = std::thread::Builder::new()
        .name("bt-disk".into())
        .spawn(move || run(storage, hashes, rx, events));
    if let Err(e) = spawned {
        tracing::error!("cannot start a disk thread: {e}");
    }
    tx
}

fn run(
    slot: StorageSlot,
    hashes: Arc<Vec<[u8; 20]>>,
    mut rx: mpsc::Receiver<DiskJob>,
    events: impl Fn(DiskEvent),
) {
    let mut open: HashMap<u32, Progress> = HashMap::new();
    let mut broken = false;
    let mut log: Option<WrittenLog> = None;
    while let Some(job) = rx.blocking_recv() {
        let storage = current(&slot);
        match job {
            DiskJob::Sync(reply) => {
                let _ = reply.send(storage.sync_all());
            }
            DiskJob::Attach {
                log: attached,
                restored,
            } => {
                log = Some(attached);
                let geo = *storage.layout().geometry();
                for (piece, written) in restored {
                    let blocks = geo.block_count(piece);
                    let p = Progress {
                        written,
                        hashed: 0,
                        hasher: Sha1::new(),
                        senders: vec![u64::MAX; blocks as usize],
                    };
                    if written < blocks {
                        open.insert(piece, p);
                    } else if let Some(expected) = hashes.get(piece as usize) {
                        let ok = storage.verify_piece(piece, expected);
                        broken |= !verdict(&storage, piece, p, ok, &mut log, &events);
                    }
                }
            }
            DiskJob::Write { .. } if broken => {}
            DiskJob::Write {
                piece,
                offset,
                data,
                from,
            } => {
                if let Err(e) = storage.write_block(piece, offset, &data) {
                    broken = true;
                    events(DiskEvent::Error(format!("cannot write piece {piece}: {e}")));
                    continue;
                }
                let geo = *storage.layout().geometry();
                if let Some(l) = &mut log {
                    let start = geo.piece_offset(piece) + u64::from(offset);
                    // Best effort: a lost record costs a re-fetch after a restart.
                    if let Err(e) = l.record(start..start + data.len() as u64) {
                        tracing::debug!("cannot record a written block: {e}");
                    }
                }
                let blocks = geo.block_count(piece);
                let p = open.entry(piece).or_insert_with(|| Progress {
                    written: 0,
                    hashed: 0,
                    hasher: Sha1::new(),
                    senders: vec![u64::MAX; blocks as usize],
                });
                if p.hashed == offset {
                    p.hasher.update(&data);
                    p.hashed += data.len() as u32;
                }
                if let Some(s) = p
                    .senders
                    .get_mut((offset / crate::core::BLOCK_LEN) as usize)
                {
                    *s = from;
                }
                p.written += 1;
                if p.written < blocks {
                    continue;
                }
                let Some(mut p) = open.remove(&piece) else {
                    continue;
                };
                let Some(expected) = hashes.get(piece as usize) else {
                    continue;
                };
                let ok = if p.hashed == geo.piece_size(piece) {
                    Ok(<[u8; 20]>::from(p.hasher.finalize_reset()) == *expected)
                } else {
                    storage.verify_piece(piece, expected)
                };
                broken |= !verdict(&storage, piece, p, ok, &mut log, &events);
            }
        }
    }
}

/// Reports a whole piece's check; a failed piece's range leaves the log.
/// False when the piece could not be read (the disk thread is broken).
fn verdict(
    storage: &Storage,
    piece: u32,
    p: Progress,
    ok: io::Result<bool>,
    log: &mut Option<WrittenLog>,
    events: &impl Fn(DiskEvent),
) -> bool {
    let mut senders: Vec<u64> = p.senders.into_iter().filter(|s| *s != u64::MAX).collect();
    senders.sort_unstable();
    senders.dedup();
    match ok {
        Ok(true) => {
            // Best effort: a failure here shows again at sync.
            let _ = storage.start_writeback(piece);
            events(DiskEvent::Verified { piece, senders });
        }
        Ok(false) => {
            if let Some(l) = log {
                if let Err(e) = l.forget(piece_range(storage, piece)) {
                    tracing::debug!("cannot record a failed piece: {e}");
                }
            }
            events(DiskEvent::Failed { piece, senders });
        }
        Err(e) => {
            events(DiskEvent::Error(format!("cannot read piece {piece}: {e}")));
            return false;
        }
    }
    true
}

/// The bytes of `piece` in the torrent.
fn piece_range(storage: &Storage, piece: u32) -> Range<u64> {
    let geo = storage.layout().geometry();
    let start = geo.piece_offset(piece);
    start..start + u64::from(geo.piece_size(piece))
}
