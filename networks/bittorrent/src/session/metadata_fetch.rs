//! Fetching a magnet's info dictionary from peers (BEP 9): which piece to
//! ask whom, retries, and the SHA-1 check (in [`MetadataAssembler`]).

use crate::proto::{ExtensionError, Info, MetadataAssembler};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// A request unanswered this long goes to another peer.
const RETRY: Duration = Duration::from_secs(10);

/// The fetch in progress.
pub(crate) struct MetadataFetch {
    asm: MetadataAssembler,
    asked: HashMap<u32, (u64, Instant)>,
    refused: HashSet<u64>,
}

impl MetadataFetch {
    /// Starts fetching `size` bytes (as a peer announced).
    pub fn new(info_hash: [u8; 20], size: u64) -> Option<Self> {
        Some(MetadataFetch {
            asm: MetadataAssembler::new(info_hash, size).ok()?,
            asked: HashMap::new(),
            refused: HashSet::new(),
        })
    }

    pub fn size(&self) -> u64 {
        self.asm.size()
    }

    /// Requests to send: missing pieces not asked recently, spread over `peers`.
    pub fn next_requests(&mut self, peers: &[u64], now: Instant) -> Vec<(u64, u32)> {
        let peers: Vec<u64> = peers
            .iter()
            .copied()
            .filter(|p| !self.refused.contains(p))
            .collect();
        if peers.is_empty() {
            return Vec::new();
        }
        let missing: Vec<u32> = self.asm.missing().collect();
        let mut out = Vec::new();
        for (i, piece) in missing.into_iter().enumerate() {
            let stale = self
                .asked
                .get(&piece)
                .is_none_or(|(k, at)| now - *at > RETRY || !peers.contains(k));
            if stale {
                let k = peers[i % peers.len()];
                self.asked.insert(piece, (k, now));
                out.push((k, piece));
            }
        }
        out
    }

    /// The peer refuses to send metadata.
    pub fn refused(&mut self, peer: u64) {
        self.refused.insert(peer);
        self.asked.retain(|_, (k, _)| *k != peer);
    }

    /// A piece arrived: `Some(info)` once complete and verified.
    pub fn add(
        &mut self,
        piece: u32,
        total: u64,
        data: &[u8],
    ) -> Result<Option<Info>, ExtensionError> {
        self.asked.remove(&piece);
        let r = self.asm.add(piece, total, data);
        if r.is_err() {
            self.asked.clear();
        }
        r
    }
}
