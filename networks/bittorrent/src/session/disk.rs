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

use crate::core::Storage;
use bytes::Bytes;
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::io;
use std::sync::{Arc, RwLock};
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
    while let Some(job) = rx.blocking_recv() {
        let storage = current(&slot);
        match job {
            DiskJob::Sync(reply) => {
                let _ = reply.send(storage.sync_all());
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
                let Some(p) = open.remove(&piece) else {
                    continue;
                };
                let Some(expected) = hashes.get(piece as usize) else {
                    continue;
                };
                let ok = if p.hashed == geo.piece_size(piece) {
                    Ok(<[u8; 20]>::from(p.hasher.finalize()) == *expected)
                } else {
                    storage.verify_piece(piece, expected)
                };
                match ok {
                    Ok(true) => {
                        // Best effort: a failure here shows again at sync.
                        let _ = storage.start_writeback(piece);
                        let mut senders = p.senders;
                        senders.sort_unstable();
                        senders.dedup();
                        events(DiskEvent::Verified { piece, senders });
                    }
                    Ok(false) => {
                        let mut senders = p.senders;
                        senders.sort_unstable();
                        senders.dedup();
                        events(DiskEvent::Failed { piece, senders });
                    }
                    Err(e) => {
                        broken = true;
                        events(DiskEvent::Error(format!("cannot read piece {piece}: {e}")));
                    }
                }
            }
        }
    }
}
