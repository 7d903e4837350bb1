//! Sans-IO piece picker for one torrent: which blocks to request from whom.
//!
//! Rarest-first with a random tie-break among pieces of equal availability,
//! high-priority pieces before normal ones, and strict "finish what is open
//! first": blocks of pieces already in progress are handed out before a new
//! piece is opened, which keeps few pieces open and gets them verified sooner.
//! When every remaining block is requested the picker enters endgame and
//! hands the same blocks to other peers too (at most [`MAX_ENDGAME_EXTRA`]
//! extra requesters per block); when a block arrives it reports whom to cancel.
//!
//! Costs: unstarted pieces sit in buckets keyed by (priority, availability),
//! so a change of availability moves one piece in O(1) and opening a new piece
//! walks the buckets from the rarest, stopping at the first piece the peer has.
//! Per received block the work is O(1) outside endgame. Peers holding every
//! piece are counted once (a seed counter), not per piece.

use super::bitfield::Bitfield;
use super::layout::{PieceGeometry, Priority, BLOCK_LEN};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How many peers besides the first may be asked for the same block in endgame.
pub const MAX_ENDGAME_EXTRA: u8 = 2;

/// Availability levels told apart when ordering pieces (higher ones share a bucket).
const AVAIL_LEVELS: u32 = 256;
/// Priority ranks that are queued: High, Normal.
const RANKS: u32 = 2;
/// Marks a piece that is not in a bucket / not open.
const NONE: u32 = u32::MAX;

/// One block to ask a peer for (the fields of a BEP 3 `request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockRequest {
    /// Piece index.
    pub piece: u32,
    /// Byte offset inside the piece (a multiple of [`BLOCK_LEN`]).
    pub offset: u32,
    /// Length in bytes ([`BLOCK_LEN`], or less for the last block of the torrent).
    pub len: u32,
}

/// What to do with a block that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockOutcome<P> {
    /// Write the data; the piece still misses blocks. Send `cancel` for this
    /// block to these peers (endgame duplicates, or a peer whose request timed out and was reassigned).
    Stored { cancel: Vec<P> },
    /// Write the data; every block of the piece is in: verify it, then call
    /// [`PiecePicker::piece_verified`] or [`PiecePicker::piece_failed`].
    PieceComplete { cancel: Vec<P> },
    /// Already received (an endgame race): drop the data.
    Duplicate,
    /// Not a block of an open piece (bad offset or length, a piece not in
    /// progress, or one we have): drop the data.
    Unrequested,
}

/// Invalid input about peers' pieces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickerError {
    #[error("piece {piece} out of range (torrent has {count})")]
    PieceOutOfRange { piece: u32, count: u32 },
    #[error("bitfield has {got} bits, torrent has {expected} pieces")]
    BitfieldLength { got: u32, expected: u32 },
}

#[derive(Debug, Clone, Copy)]
enum Block<P> {
    Free,
    Requested {
        peer: P,
        at: Instant,
        extra: u8,
    },
    Received {
        from: P,
    },
    /// Written before a restart (see [`PiecePicker::restore_blocks`]).
    Restored,
}

/// A piece in progress.
struct Partial<P> {
    piece: u32,
    blocks: Vec<Block<P>>,
    free: u32,
    received: u32,
    /// No block before this index is free.
    cursor: u32,
}

/// An endgame request beyond the first one for a block.
struct ExtraRequest<P> {
    piece: u32,
    block: u32,
    peer: P,
    at: Instant,
}

struct PeerEntry {
    has: Bitfield,
    /// Counted in `seeds` rather than per piece.
    seed: bool,
}

/// The piece picker of one torrent; `P` identifies a peer connection.
pub struct PiecePicker<P> {
    geometry: PieceGeometry,
    have: Bitfield,
    /// Pieces with a priority above skip that we do not have.
    wanted: Bitfield,
    priority: Vec<Priority>,
    /// Per piece, how many non-seed peers have it.
    availability: Vec<u32>,
    seeds: u32,
    peers: HashMap<P, PeerEntry>,
    /// Unstarted wanted pieces, bucketed by [`Self::bucket_key`].
    buckets: Vec<Vec<u32>>,
    bucket_of: Vec<u32>,
    pos_in_bucket: Vec<u32>,
    queued: u32,
    /// Open pieces in the order they were opened.
    partials: Vec<Partial<P>>,
    open_slot: Vec<u32>,
    free_blocks: u64,
    extra: Vec<ExtraRequest<P>>,
    spare_blocks: Vec<Vec<Block<P>>>,
    rng: StdRng,
}

impl<P: Copy + Eq + Hash> PiecePicker<P> {
    /// A picker for a torrent of this geometry, every piece missing and of normal priority.
    pub fn new(geometry: PieceGeometry) -> Self {
        Self::with_rng(geometry, StdRng::from_entropy())
    }

    /// Like [`Self::new`] with a fixed random seed (reproducible tie-breaks).
    pub fn with_seed(geometry: PieceGeometry, seed: u64) -> Self {
        Self::with_rng(geometry, StdRng::seed_from_u64(seed))
    }

    fn with_rng(geometry: PieceGeometry, rng: StdRng) -> Self {
        let n = geometry.piece_count();
        let mut picker = PiecePicker {
            geometry,
            have: Bitfield::new(n),
            wanted: Bitfield::full(n),
            priority: vec![Priority::Normal; n as usize],
            availability: vec![0; n as usize],
            seeds: 0,
            peers: HashMap::new(),
            buckets: (0..RANKS * AVAIL_LEVELS).map(|_| Vec::new()).collect(),
            bucket_of: vec![NONE; n as usize],
            pos_in_bucket: vec![0; n as usize],
            queued: 0,
            partials: Vec::new(),
            open_slot: vec![NONE; n as usize],
            free_blocks: 0,
            extra: Vec::new(),
            spare_blocks: Vec::new(),
            rng,
        };
        for piece in 0..n {
            picker.enqueue(piece);
        }
        picker
    }

    /// Piece and block sizes.
    pub fn geometry(&self) -> &PieceGeometry {
        &self.geometry
    }

    /// The verified pieces.
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// Wanted pieces still missing (open ones included).
    pub fn missing_wanted(&self) -> u32 {
        self.wanted.count_ones()
    }

    /// True when every wanted piece is verified.
    pub fn is_finished(&self) -> bool {
        self.wanted.count_ones() == 0
    }

    /// True when every block of every missing wanted piece is requested or
    /// received: requests are then duplicated to other peers.
    pub fn in_endgame(&self) -> bool {
        self.queued == 0 && self.free_blocks == 0 && !self.partials.is_empty()
    }

    /// How many connected peers have `piece`.
    pub fn availability(&self, piece: u32) -> u32 {
        self.availability
            .get(piece as usize)
            .map_or(0, |a| a + self.seeds)
    }

    /// The pieces a peer has announced, if it is known.
    pub fn peer_pieces(&self, peer: P) -> Option<&Bitfield> {
        self.peers.get(&peer).map(|e| &e.has)
    }

    /// Whether the peer has a piece we want and do not have (send `interested`).
    pub fn is_interesting(&self, peer: P) -> bool {
        self.peers
            .get(&peer)
            .is_some_and(|e| e.has.intersects(&self.wanted))
    }

    /// Records a peer's bitfield (replacing an earlier one).
    pub fn peer_bitfield(&mut self, peer: P, has: Bitfield) -> Result<(), PickerError> {
        if has.len() != self.geometry.piece_count() {
            return Err(PickerError::BitfieldLength {
                got: has.len(),
                expected: self.geometry.piece_count(),
            });
        }
        self.forget_availability(peer);
        let seed = has.is_complete();
        if seed {
            self.seeds += 1;
        } else {
            for piece in has.iter_ones() {
                self.change_availability(piece, true);
            }
        }
        self.peers.insert(peer, PeerEntry { has, seed });
        Ok(())
    }

    /// Records that a peer has every piece (BEP 6 `have all`).
    pub fn peer_have_all(&mut self, peer: P) {
        let full = Bitfield::full(self.geometry.piece_count());
        // The length matches by construction.
        let _ = self.peer_bitfield(peer, full);
    }

    /// Records a peer's `have`; returns whether it is a piece we still want.
    pub fn peer_have(&mut self, peer: P, piece: u32) -> Result<bool, PickerError> {
        let count = self.geometry.piece_count();
        if piece >= count {
            return Err(PickerError::PieceOutOfRange { piece, count });
        }
        let entry = self.peers.entry(peer).or_insert_with(|| PeerEntry {
            has: Bitfield::new(count),
            seed: false,
        });
        if entry.has.set(piece) && !entry.seed {
            self.change_availability(piece, true);
        }
        Ok(self.wanted.get(piece))
    }

    /// Forgets a disconnected peer: its pieces no longer count and its
    /// outstanding requests go back to the pool.
    pub fn remove_peer(&mut self, peer: P) {
        self.peer_choked(peer);
        self.forget_availability(peer);
    }

    /// The peer choked us: its outstanding requests go back to the pool.
    /// Returns how many requests were released.
    pub fn peer_choked(&mut self, peer: P) -> usize {
        let mut released = 0;
        for i in 0..self.partials.len() {
            let n = self.partials[i].blocks.len() as u32;
            for b in 0..n {
                if matches!(self.partials[i].blocks[b as usize], Block::Requested { peer: q, .. } if q == peer)
                {
                    self.release_primary(i, b);
                    released += 1;
                }
            }
        }
        let mut k = 0;
        while k < self.extra.len() {
            if self.extra[k].peer == peer {
                let e = self.extra.swap_remove(k);
                self.drop_extra_count(e.piece, e.block);
                released += 1;
            } else {
                k += 1;
            }
        }
        released
    }

    /// The peer rejected a request (BEP 6): the block goes back to the pool.
    pub fn request_rejected(&mut self, peer: P, req: BlockRequest) {
        let Some((slot, b)) = self.locate(req) else {
            return;
        };
        match self.partials[slot].blocks[b as usize] {
            Block::Requested { peer: q, .. } if q == peer => self.release_primary(slot, b),
            _ => {
                if let Some(k) = self
                    .extra
                    .iter()
                    .position(|e| e.piece == req.piece && e.block == b && e.peer == peer)
                {
                    self.extra.swap_remove(k);
                    self.drop_extra_count(req.piece, b);
                }
            }
        }
    }

    /// Releases requests made at or before `now - timeout` and returns them
    /// with their peer (send `cancel`, count the peer as slow). A late block
    /// is still accepted if nobody has delivered it meanwhile.
    pub fn timed_out(&mut self, now: Instant, timeout: Duration) -> Vec<(P, BlockRequest)> {
        let mut out = Vec::new();
        let expired = |at: Instant| now.saturating_duration_since(at) >= timeout;
        for i in 0..self.partials.len() {
            let piece = self.partials[i].piece;
            let n = self.partials[i].blocks.len() as u32;
            for b in 0..n {
                if let Block::Requested { peer, at, .. } = self.partials[i].blocks[b as usize] {
                    if expired(at) {
                        out.push((peer, self.request_for(piece, b)));
                        self.release_primary(i, b);
                    }
                }
            }
        }
        let mut k = 0;
        while k < self.extra.len() {
            if expired(self.extra[k].at) {
                let e = self.extra.swap_remove(k);
                self.drop_extra_count(e.piece, e.block);
                out.push((e.peer, self.request_for(e.piece, e.block)));
            } else {
                k += 1;
            }
        }
        out
    }

    /// Sets the priority of one piece (pieces already open are finished anyway).
    pub fn set_priority(&mut self, piece: u32, priority: Priority) {
        let Some(old) = self.priority.get(piece as usize).copied() else {
            return;
        };
        if old == priority {
            return;
        }
        let queued = self.bucket_of[piece as usize] != NONE;
        if queued {
            self.dequeue(piece);
        }
        self.priority[piece as usize] = priority;
        if self.have.get(piece) {
            return;
        }
        if priority == Priority::Skip {
            self.wanted.clear(piece);
        } else {
            self.wanted.set(piece);
            if self.open_slot[piece as usize] == NONE {
                self.enqueue(piece);
            }
        }
    }

    /// Sets every piece's priority (e.g. from [`super::layout::Layout::piece_priorities`]).
    pub fn set_priorities(&mut self, priorities: &[Priority]) {
        for (piece, &p) in priorities.iter().enumerate() {
            self.set_priority(piece as u32, p);
        }
    }

    /// Appends up to `max` new requests for `peer` to `out` (nothing for an
    /// unknown peer). Open pieces come first, then new pieces rarest-first,
    /// then, in endgame, duplicates of blocks requested from other peers.
    pub fn fill_requests(
        &mut self,
        peer: P,
        max: usize,
        now: Instant,
        out: &mut Vec<BlockRequest>,
    ) {
        // Taken out for the call so the picker can change while reading it.
        let Some(entry) = self.peers.remove(&peer) else {
            return;
        };
        self.fill_from(peer, &entry.has, out.len().saturating_add(max), now, out);
        self.peers.insert(peer, entry);
    }

    fn fill_from(
        &mut self,
        peer: P,
        has: &Bitfield,
        target: usize,
        now: Instant,
        out: &mut Vec<BlockRequest>,
    ) {
        let geometry = self.geometry;
        // 1. Blocks of open pieces.
        for partial in &mut self.partials {
            if out.len() >= target {
                return;
            }
            if partial.free > 0 && has.get(partial.piece) {
                self.free_blocks -=
                    u64::from(take_free(partial, &geometry, peer, now, target, out));
            }
        }
        // 2. New pieces, rarest first.
        while out.len() < target {
            let Some(piece) = self.first_queued_in(has) else {
                break;
            };
            self.dequeue(piece);
            let slot = self.open(piece);
            let partial = &mut self.partials[slot];
            self.free_blocks -= u64::from(take_free(partial, &geometry, peer, now, target, out));
        }
        // 3. Endgame duplicates.
        if out.len() < target && self.in_endgame() {
            for partial in &mut self.partials {
                if !has.get(partial.piece) {
                    continue;
                }
                for (b, block) in partial.blocks.iter_mut().enumerate() {
                    if out.len() >= target {
                        return;
                    }
                    let b = b as u32;
                    if let Block::Requested { peer: q, extra, .. } = block {
                        if *q != peer
                            && *extra < MAX_ENDGAME_EXTRA
                            && !self
                                .extra
                                .iter()
                                .any(|e| e.piece == partial.piece && e.block == b && e.peer == peer)
                        {
                            *extra += 1;
                            self.extra.push(ExtraRequest {
                                piece: partial.piece,
                                block: b,
                                peer,
                                at: now,
                            });
                            out.push(block_request(&geometry, partial.piece, b));
                        }
                    }
                }
            }
        }
    }

    /// Up to `max` new requests for `peer` (see [`Self::fill_requests`]).
    pub fn next_requests(&mut self, peer: P, max: usize, now: Instant) -> Vec<BlockRequest> {
        let mut out = Vec::with_capacity(max.min(1024));
        self.fill_requests(peer, max, now, &mut out);
        out
    }

    /// A block arrived from `peer`. Blocks of open pieces are accepted even if
    /// they were requested from someone else (the others get cancelled).
    pub fn block_received(
        &mut self,
        peer: P,
        piece: u32,
        offset: u32,
        len: u32,
    ) -> BlockOutcome<P> {
        let req = BlockRequest { piece, offset, len };
        if self.have.get(piece) {
            return BlockOutcome::Duplicate;
        }
        let Some((slot, b)) = self.locate(req) else {
            return BlockOutcome::Unrequested;
        };
        let mut cancel = Vec::new();
        let partial = &mut self.partials[slot];
        match partial.blocks[b as usize] {
            Block::Received { .. } | Block::Restored => return BlockOutcome::Duplicate,
            Block::Free => {
                partial.free -= 1;
                self.free_blocks -= 1;
            }
            Block::Requested { peer: q, extra, .. } => {
                if q != peer {
                    cancel.push(q);
                }
                if extra > 0 {
                    self.extra.retain(|e| {
                        let hit = e.piece == piece && e.block == b;
                        if hit && e.peer != peer {
                            cancel.push(e.peer);
                        }
                        !hit
                    });
                }
            }
        }
        partial.blocks[b as usize] = Block::Received { from: peer };
        partial.received += 1;
        if partial.received as usize == partial.blocks.len() {
            BlockOutcome::PieceComplete { cancel }
        } else {
            BlockOutcome::Stored { cancel }
        }
    }

    /// The piece hashed correctly (or was found on disk): it counts as had.
    pub fn piece_verified(&mut self, piece: u32) {
        if !self.have.set(piece) {
            return;
        }
        self.wanted.clear(piece);
        if self.bucket_of[piece as usize] != NONE {
            self.dequeue(piece);
        }
        let slot = self.open_slot[piece as usize];
        if slot != NONE {
            self.close(slot as usize);
        }
    }

    /// Blocks of `piece` written before a restart (the written log says so):
    /// the piece opens with them in, so only its other blocks are requested.
    /// Returns how many were taken; when that is every block, verify the
    /// piece, then call [`Self::piece_verified`] or [`Self::piece_failed`].
    /// A piece we have, do not want or already opened is left alone (0).
    pub fn restore_blocks(&mut self, piece: u32, blocks: &[u32]) -> u32 {
        if piece >= self.geometry.piece_count()
            || self.have.get(piece)
            || !self.wanted.get(piece)
            || self.open_slot[piece as usize] != NONE
            || blocks.is_empty()
        {
            return 0;
        }
        if self.bucket_of[piece as usize] != NONE {
            self.dequeue(piece);
        }
        let slot = self.open(piece);
        let partial = &mut self.partials[slot];
        for &b in blocks {
            if let Some(block @ Block::Free) = partial.blocks.get_mut(b as usize) {
                *block = Block::Restored;
                partial.free -= 1;
                partial.received += 1;
                self.free_blocks -= 1;
            }
        }
        partial.received
    }

    /// The piece failed its hash check (or was lost from disk): it is
    /// downloaded again. Returns the distinct peers that sent its blocks.
    pub fn piece_failed(&mut self, piece: u32) -> Vec<P> {
        let mut senders = Vec::new();
        if piece >= self.geometry.piece_count() {
            return senders;
        }
        if self.have.clear(piece) && self.priority[piece as usize] != Priority::Skip {
            self.wanted.set(piece);
            self.enqueue(piece);
        }
        let slot = self.open_slot[piece as usize];
        if slot == NONE {
            return senders;
        }
        let partial = &mut self.partials[slot as usize];
        for block in &mut partial.blocks {
            if let Block::Received { from } = *block {
                if !senders.contains(&from) {
                    senders.push(from);
                }
            }
            if matches!(block, Block::Received { .. } | Block::Restored) {
                *block = Block::Free;
                partial.free += 1;
                self.free_blocks += 1;
            }
        }
        partial.received = 0;
        partial.cursor = 0;
        senders
    }

    // ---- internals ----

    fn request_for(&self, piece: u32, block: u32) -> BlockRequest {
        block_request(&self.geometry, piece, block)
    }

    /// The open slot and block index of a well-formed request for an open piece.
    fn locate(&self, req: BlockRequest) -> Option<(usize, u32)> {
        if req.piece >= self.geometry.piece_count() || !req.offset.is_multiple_of(BLOCK_LEN) {
            return None;
        }
        let b = req.offset / BLOCK_LEN;
        let len = self.geometry.block_len(req.piece, b);
        if len == 0 || len != req.len {
            return None;
        }
        let slot = self.open_slot[req.piece as usize];
        (slot != NONE).then_some((slot as usize, b))
    }

    /// Frees a block's first request, handing it to an endgame extra if any.
    fn release_primary(&mut self, slot: usize, b: u32) {
        let piece = self.partials[slot].piece;
        let Block::Requested { extra, .. } = self.partials[slot].blocks[b as usize] else {
            return;
        };
        let partial = &mut self.partials[slot];
        if extra > 0 {
            if let Some(k) = self
                .extra
                .iter()
                .position(|e| e.piece == piece && e.block == b)
            {
                let e = self.extra.swap_remove(k);
                partial.blocks[b as usize] = Block::Requested {
                    peer: e.peer,
                    at: e.at,
                    extra: extra - 1,
                };
                return;
            }
        }
        partial.blocks[b as usize] = Block::Free;
        partial.free += 1;
        partial.cursor = partial.cursor.min(b);
        self.free_blocks += 1;
    }

    fn drop_extra_count(&mut self, piece: u32, b: u32) {
        let slot = self.open_slot[piece as usize];
        if slot == NONE {
            return;
        }
        if let Block::Requested { extra, .. } = &mut self.partials[slot as usize].blocks[b as usize]
        {
            *extra = extra.saturating_sub(1);
        }
    }

    fn forget_availability(&mut self, peer: P) {
        let Some(old) = self.peers.remove(&peer) else {
            return;
        };
        if old.seed {
            self.seeds -= 1;
        } else {
            for piece in old.has.iter_ones() {
                self.change_availability(piece, false);
            }
        }
    }

    fn change_availability(&mut self, piece: u32, up: bool) {
        let a = &mut self.availability[piece as usize];
        *a = if up { *a + 1 } else { a.saturating_sub(1) };
        if self.bucket_of[piece as usize] != NONE
            && self.bucket_key(piece) != self.bucket_of[piece as usize]
        {
            self.dequeue(piece);
            self.enqueue(piece);
        }
    }

    fn bucket_key(&self, piece: u32) -> u32 {
        let rank = match self.priority[piece as usize] {
            Priority::High => 0,
            Priority::Normal | Priority::Skip => 1,
        };
        rank * AVAIL_LEVELS + self.availability[piece as usize].min(AVAIL_LEVELS - 1)
    }

    /// Puts an unstarted wanted piece at a random place in its bucket.
    fn enqueue(&mut self, piece: u32) {
        let key = self.bucket_key(piece);
        let bucket = &mut self.buckets[key as usize];
        bucket.push(piece);
        let last = bucket.len() - 1;
        let j = self.rng.gen_range(0..=last);
        bucket.swap(j, last);
        self.pos_in_bucket[bucket[last] as usize] = last as u32;
        self.pos_in_bucket[bucket[j] as usize] = j as u32;
        self.bucket_of[piece as usize] = key;
        self.queued += 1;
    }

    fn dequeue(&mut self, piece: u32) {
        let key = self.bucket_of[piece as usize];
        let bucket = &mut self.buckets[key as usize];
        let pos = self.pos_in_bucket[piece as usize] as usize;
        bucket.swap_remove(pos);
        if let Some(&moved) = bucket.get(pos) {
            self.pos_in_bucket[moved as usize] = pos as u32;
        }
        self.bucket_of[piece as usize] = NONE;
        self.queued -= 1;
    }

    /// The rarest unstarted wanted piece in `has`.
    fn first_queued_in(&self, has: &Bitfield) -> Option<u32> {
        if self.queued == 0 {
            return None;
        }
        self.buckets
            .iter()
            .flat_map(|b| b.iter().copied())
            .find(|p| has.get(*p))
    }

    fn open(&mut self, piece: u32) -> usize {
        let n = self.geometry.block_count(piece);
        let mut blocks = self.spare_blocks.pop().unwrap_or_default();
        blocks.clear();
        blocks.resize(n as usize, Block::Free);
        self.partials.push(Partial {
            piece,
            blocks,
            free: n,
            received: 0,
            cursor: 0,
        });
        self.free_blocks += u64::from(n);
        let slot = self.partials.len() - 1;
        self.open_slot[piece as usize] = slot as u32;
        slot
    }

    fn close(&mut self, slot: usize) {
        let partial = self.partials.remove(slot);
        self.free_blocks -= u64::from(partial.free);
        self.open_slot[partial.piece as usize] = NONE;
        for (i, p) in self.partials.iter().enumerate().skip(slot) {
            self.open_slot[p.piece as usize] = i as u32;
        }
        self.extra.retain(|e| e.piece != partial.piece);
        self.spare_blocks.push(partial.blocks);
    }
}

fn block_request(geometry: &PieceGeometry, piece: u32, block: u32) -> BlockRequest {
    BlockRequest {
        piece,
        offset: block * BLOCK_LEN,
        len: geometry.block_len(piece, block),
    }
}

/// Requests free blocks of `partial` for `peer` until `out` holds `target`
/// requests; returns how many were taken.
fn take_free<P: Copy>(
    partial: &mut Partial<P>,
    geometry: &PieceGeometry,
    peer: P,
    now: Instant,
    target: usize,
    out: &mut Vec<BlockRequest>,
) -> u32 {
    let mut taken = 0;
    let mut b = partial.cursor;
    let n = partial.blocks.len() as u32;
    while b < n && partial.free > 0 && out.len() < target {
        let block = &mut partial.blocks[b as usize];
        if matches!(block, Block::Free) {
            *block = Block::Requested {
                peer,
                at: now,
                extra: 0,
            };
            partial.free -= 1;
            taken += 1;
            out.push(block_request(geometry, partial.piece, b));
        }
        b += 1;
    }
    partial.cursor = b;
    taken
}

#[cfg(test)]
mod tests;
