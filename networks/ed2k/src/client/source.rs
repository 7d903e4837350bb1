//! Sans-IO downloader side of a peer connection: one source of one download,
//! driven by decoded messages, producing messages to send and data to write.
//!
//! Flow: RequestFilename + SetReqFileId → FileName/FileStatus → (HashSetRequest
//! → HashSetAnswer) → StartUploadReq → AcceptUploadReq or QueueRank(ing) →
//! RequestParts (three blocks at a time) → SendingPart / CompressedPart.
//!
//! A queued source may lose its connection and come back (see
//! [`super::remote_queue`]): on the uploader's own connection
//! ([`Source::resumed`], waiting for AcceptUploadReq without asking anything,
//! as an eMule client in DS_ONQUEUE does) or on our re-ask
//! ([`Source::reasking`], the whole file request again). Either way it keeps
//! showing its last rank until told otherwise.

use super::part_file::{PartFile, SourceId};
use crate::proto::peer_msg::PeerMessage;
use flate2::{Decompress, FlushDecompress, Status};
use swarmux_net::hashing::{ed2k_hashset_len, ed2k_root};

/// The download data a source works on (shared by every source of a download).
#[derive(Clone, Debug)]
pub struct DlCore {
    pub hash: [u8; 16],
    pub size: u64,
    pub parts: PartFile,
    /// The verified part hashes (as on the wire), once known.
    pub hashset: Option<Vec<[u8; 16]>>,
}

impl DlCore {
    /// The expected MD4 of part `i`, if known. A file under one part has its
    /// MD4 as the file hash; every other file needs the hashset (a file of
    /// exactly one part has two hashes: its data and the empty part).
    pub fn part_hash(&self, i: usize) -> Option<[u8; 16]> {
        if !self.needs_hashset() {
            return (i == 0).then_some(self.hash);
        }
        self.hashset.as_ref().and_then(|h| h.get(i).copied())
    }

    /// True when the parts cannot be verified without the hashset.
    pub fn needs_hashset(&self) -> bool {
        ed2k_hashset_len(self.size) > 1
    }

    /// True when a received hashset belongs to this file.
    pub fn hashset_valid(&self, parts: &[[u8; 16]]) -> bool {
        parts.len() == ed2k_hashset_len(self.size) && ed2k_root(parts) == self.hash
    }
}

/// Where the source is in the conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Hello,
    FileInfo,
    HashSet,
    Asking,
    Queued(u32),
    Downloading,
}

/// What the connection must do for the downloader side.
#[derive(Clone, Debug, PartialEq)]
pub enum SrcAction {
    Send(PeerMessage),
    /// Write these bytes at this offset, then call [`Source::after_write`].
    Write {
        start: u64,
        data: Vec<u8>,
    },
    /// A new verified hashset to persist.
    Hashset(Vec<[u8; 16]>),
    /// Parts whose blocks are all in: verify them.
    Verify(Vec<usize>),
    /// The peer does not have the file: forget it as a source.
    NoFile,
    /// Drop the connection (for the download) with this reason.
    Close(String),
}

struct Inflater {
    start: u64,
    packed_len: u64,
    consumed: u64,
    limit: u64,
    z: Decompress,
}

/// One source's conversation state.
pub struct Source {
    pub sid: SourceId,
    phase: Phase,
    /// The rank from an earlier answer while asking again (re-ask).
    last_rank: Option<u32>,
    /// Requested ranges not yet fully received: (start, end, bytes received).
    pending: Vec<(u64, u64, u64)>,
    inflater: Option<Inflater>,
}

/// Blocks requested per RequestParts message.
pub const REQUESTS_IN_FLIGHT: usize = 3;

impl Source {
    /// A source that has not said hello yet.
    pub fn new(sid: SourceId) -> Self {
        Source {
            sid,
            phase: Phase::Hello,
            last_rank: None,
            pending: Vec::new(),
            inflater: None,
        }
    }

    /// A source queued at `rank` whose uploader connected back to us: it
    /// waits for AcceptUploadReq (the part availability is still known).
    pub fn resumed(sid: SourceId, rank: u32) -> Self {
        Source {
            phase: Phase::Queued(rank),
            ..Source::new(sid)
        }
    }

    /// A source queued at `rank` that we connect to again to keep our place.
    pub fn reasking(sid: SourceId, rank: u32) -> Self {
        Source {
            last_rank: Some(rank),
            ..Source::new(sid)
        }
    }

    /// The queue rank to show: the current one, or the last one while
    /// asking again.
    pub fn queue_rank(&self) -> Option<u32> {
        match self.phase {
            Phase::Queued(r) => Some(r),
            Phase::Downloading => None,
            _ => self.last_rank,
        }
    }

    /// Asks a queued source again on its open connection (file request, then
    /// StartUploadReq), keeping our place in its queue.
    pub fn reask(&mut self, core: &DlCore) -> Vec<SrcAction> {
        let Phase::Queued(r) = self.phase else {
            return vec![];
        };
        self.last_rank = Some(r);
        self.phase = Phase::Hello;
        self.begin(core)
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// True while ranges are requested and not all in.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// A short description for the Downloads pane.
    pub fn state_text(&self) -> String {
        if let (Some(r), Phase::Hello | Phase::FileInfo | Phase::HashSet | Phase::Asking) =
            (self.last_rank, self.phase)
        {
            return format!("queued at rank {r} (asking again)");
        }
        match self.phase {
            Phase::Hello => "connecting".into(),
            Phase::FileInfo => "asking for the file".into(),
            Phase::HashSet => "getting the hashset".into(),
            Phase::Asking => "asking for a slot".into(),
            Phase::Queued(r) => format!("queued at rank {r}"),
            Phase::Downloading => "downloading".into(),
        }
    }

    /// Hellos are exchanged: ask about the file (nothing when already queued
    /// there: the uploader connected to us and will accept).
    pub fn begin(&mut self, core: &DlCore) -> Vec<SrcAction> {
        if matches!(self.phase, Phase::Queued(_)) {
            return vec![];
        }
        self.phase = Phase::FileInfo;
        vec![
            SrcAction::Send(PeerMessage::RequestFilename(core.hash)),
            SrcAction::Send(PeerMessage::SetReqFileId(core.hash)),
        ]
    }

    fn after_status(&mut self, core: &mut DlCore) -> Vec<SrcAction> {
        if !core.parts.source_useful(self.sid) {
            return vec![SrcAction::Close("no needed parts".into())];
        }
        if core.needs_hashset() && core.hashset.is_none() {
            self.phase = Phase::HashSet;
            return vec![SrcAction::Send(PeerMessage::HashSetRequest(core.hash))];
        }
        self.phase = Phase::Asking;
        vec![SrcAction::Send(PeerMessage::StartUploadReq(Some(
            core.hash,
        )))]
    }

    /// Handles a message; `None` when it is not for the downloader side.
    pub fn on_message(&mut self, msg: PeerMessage, core: &mut DlCore) -> Option<Vec<SrcAction>> {
        use PeerMessage as M;
        let mine = |h: &[u8; 16]| *h == core.hash;
        Some(match msg {
            M::FileName { hash, .. } if mine(&hash) => vec![],
            M::FileStatus { hash, parts } if mine(&hash) => {
                if self.phase != Phase::FileInfo {
                    return Some(vec![]);
                }
                let mut parts = parts.unwrap_or_default();
                // eMule counts size / PARTSIZE + 1 parts here: one more than
                // the data parts when the size is an exact multiple.
                let n = core.parts.part_count();
                if !parts.is_empty()
                    && parts.len() != n
                    && parts.len() != ed2k_hashset_len(core.size)
                {
                    return Some(vec![SrcAction::Close(format!(
                        "file status has {} parts, expected {n}",
                        parts.len()
                    ))]);
                }
                parts.truncate(n);
                core.parts.set_source_parts(self.sid, parts);
                self.after_status(core)
            }
            M::FileReqAnsNoFile(hash) if mine(&hash) => {
                vec![
                    SrcAction::NoFile,
                    SrcAction::Close("peer does not have the file".into()),
                ]
            }
            M::HashSetAnswer { hash, parts } if mine(&hash) => {
                if self.phase != Phase::HashSet {
                    return Some(vec![]);
                }
                if core.hashset.is_none() {
                    if !core.hashset_valid(&parts) {
                        return Some(vec![SrcAction::Close("sent a wrong hashset".into())]);
                    }
                    core.hashset = Some(parts.clone());
                }
                self.phase = Phase::Asking;
                vec![
                    SrcAction::Hashset(parts),
                    SrcAction::Send(M::StartUploadReq(Some(core.hash))),
                ]
            }
            M::AcceptUploadReq => {
                // While asking again, an accept is for the place we had.
                if matches!(self.phase, Phase::Asking | Phase::Queued(_))
                    || (self.last_rank.is_some() && self.phase != Phase::Downloading)
                {
                    self.phase = Phase::Downloading;
                    self.last_rank = None;
                    return Some(self.request_more(core));
                }
                vec![]
            }
            M::QueueRank(r) => {
                self.phase = Phase::Queued(r);
                self.last_rank = None;
                vec![]
            }
            M::QueueRanking(r) => {
                self.phase = Phase::Queued(r.into());
                self.last_rank = None;
                vec![]
            }
            M::SendingPart { hash, start, data } if mine(&hash) => self.on_data(start, data),
            M::CompressedPart {
                hash,
                start,
                packed_len,
                data,
            } if mine(&hash) => self.on_compressed(start, packed_len, &data),
            M::OutOfPartReqs | M::CancelTransfer => {
                vec![SrcAction::Close("peer ended the upload".into())]
            }
            _ => return None,
        })
    }

    fn pending_of(&self, start: u64, len: u64) -> bool {
        let end = start.saturating_add(len);
        self.pending.iter().any(|&(s, e, _)| start >= s && end <= e)
    }

    fn on_data(&mut self, start: u64, data: Vec<u8>) -> Vec<SrcAction> {
        if data.is_empty() || !self.pending_of(start, data.len() as u64) {
            // Unrequested data (e.g. an old request): ignored.
            return vec![];
        }
        vec![SrcAction::Write { start, data }]
    }

    fn on_compressed(&mut self, start: u64, packed_len: u32, data: &[u8]) -> Vec<SrcAction> {
        if self.inflater.as_ref().is_none_or(|i| i.start != start) {
            let Some(&(_, e, _)) = self.pending.iter().find(|&&(s, _, _)| s == start) else {
                return vec![];
            };
            self.inflater = Some(Inflater {
                start,
                packed_len: packed_len.into(),
                consumed: 0,
                limit: e - start,
                z: Decompress::new(true),
            });
        }
        let Some(inf) = self.inflater.as_mut() else {
            return vec![];
        };
        let out_before = inf.z.total_out();
        let mut out = Vec::with_capacity((inf.limit - out_before).min(256 * 1024) as usize);
        let mut input = data;
        loop {
            if out.len() == out.capacity() {
                out.reserve(64 * 1024);
            }
            let before_in = inf.z.total_in();
            let status = inf.z.decompress_vec(input, &mut out, FlushDecompress::None);
            let used = (inf.z.total_in() - before_in) as usize;
            input = &input[used.min(input.len())..];
            if inf.z.total_out() > inf.limit {
                self.inflater = None;
                return vec![SrcAction::Close(
                    "compressed block inflates past its range".into(),
                )];
            }
            match status {
                Ok(Status::StreamEnd) => break,
                Ok(_) if input.is_empty() && out.len() < out.capacity() => break,
                Ok(_) => {}
                Err(e) => {
                    self.inflater = None;
                    return vec![SrcAction::Close(format!("bad compressed block: {e}"))];
                }
            }
        }
        inf.consumed += data.len() as u64;
        if inf.consumed >= inf.packed_len {
            self.inflater = None;
        }
        if out.is_empty() {
            return vec![];
        }
        vec![SrcAction::Write {
            start: start + out_before,
            data: out,
        }]
    }

    /// Records written bytes; asks for more blocks when requests run low.
    pub fn after_write(&mut self, start: u64, len: u64, core: &mut DlCore) -> Vec<SrcAction> {
        let end = start.saturating_add(len);
        for p in &mut self.pending {
            let (s, e) = (start.max(p.0), end.min(p.1));
            if s < e {
                p.2 += e - s;
            }
        }
        // A range is finished when fully received or done by another source.
        self.pending
            .retain(|&(s, e, got)| got < e - s && core.parts.wants(s, e));
        let mut out = Vec::new();
        let done = core.parts.on_data(self.sid, start, len);
        if !done.is_empty() {
            out.push(SrcAction::Verify(done));
        }
        self.pending.retain(|&(s, e, _)| core.parts.wants(s, e));
        out.extend(self.request_more(core));
        out
    }

    /// Requests new blocks when fewer than [`REQUESTS_IN_FLIGHT`] are pending.
    pub fn request_more(&mut self, core: &mut DlCore) -> Vec<SrcAction> {
        if self.phase != Phase::Downloading || self.pending.len() >= REQUESTS_IN_FLIGHT {
            return vec![];
        }
        let want = REQUESTS_IN_FLIGHT - self.pending.len();
        let picked = core.parts.pick_blocks(self.sid, want);
        if picked.is_empty() {
            return vec![];
        }
        let mut ranges = [(0u64, 0u64); 3];
        for (slot, &(s, e)) in ranges.iter_mut().zip(&picked) {
            *slot = (s, e);
            self.pending.push((s, e, 0));
        }
        vec![SrcAction::Send(PeerMessage::RequestParts {
            hash: core.hash,
            ranges,
        })]
    }

    /// True when downloading with nothing requested and nothing left to ask for.
    pub fn idle(&self, core: &DlCore) -> bool {
        self.phase == Phase::Downloading
            && self.pending.is_empty()
            && !core.parts.source_useful(self.sid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::ZlibEncoder, Compression};
    use std::io::Write;
    use swarmux_net::hashing::{md4, ED2K_PART_SIZE};

    fn core(size: u64) -> DlCore {
        DlCore {
            hash: [9; 16],
            size,
            parts: PartFile::new(size, &[]),
            hashset: None,
        }
    }

    fn sends(a: &[SrcAction]) -> Vec<PeerMessage> {
        a.iter()
            .filter_map(|x| match x {
                SrcAction::Send(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn small_file_flow() {
        let mut c = core(1000);
        let mut s = Source::new(1);
        assert_eq!(s.begin(&c).len(), 2);
        let a = s
            .on_message(
                PeerMessage::FileStatus {
                    hash: [9; 16],
                    parts: None,
                },
                &mut c,
            )
            .unwrap();
        assert_eq!(sends(&a), vec![PeerMessage::StartUploadReq(Some([9; 16]))]);
        s.on_message(PeerMessage::QueueRanking(4), &mut c).unwrap();
        assert_eq!(s.state_text(), "queued at rank 4");
        let a = s.on_message(PeerMessage::AcceptUploadReq, &mut c).unwrap();
        assert_eq!(
            sends(&a),
            vec![PeerMessage::RequestParts {
                hash: [9; 16],
                ranges: [(0, 1000), (0, 0), (0, 0)]
            }]
        );
        // Unrequested data is ignored.
        let a = s
            .on_message(
                PeerMessage::SendingPart {
                    hash: [9; 16],
                    start: 2000,
                    data: vec![1],
                },
                &mut c,
            )
            .unwrap();
        assert!(a.is_empty());
        let a = s
            .on_message(
                PeerMessage::SendingPart {
                    hash: [9; 16],
                    start: 0,
                    data: vec![1; 1000],
                },
                &mut c,
            )
            .unwrap();
        assert!(matches!(&a[0], SrcAction::Write { start: 0, data } if data.len() == 1000));
        let a = s.after_write(0, 1000, &mut c);
        assert_eq!(a, vec![SrcAction::Verify(vec![0])]);
        assert_eq!(c.part_hash(0), Some([9; 16]));
    }

    #[test]
    fn hashset_checked_against_file_hash() {
        let size = ED2K_PART_SIZE + 5;
        let parts = vec![md4(b"a"), md4(b"b")];
        let mut c = core(size);
        c.hash = ed2k_root(&parts);
        let mut s = Source::new(1);
        s.begin(&c);
        let a = s
            .on_message(
                PeerMessage::FileStatus {
                    hash: c.hash,
                    parts: Some(vec![true, false]),
                },
                &mut c,
            )
            .unwrap();
        assert_eq!(sends(&a), vec![PeerMessage::HashSetRequest(c.hash)]);
        let bad = s
            .clone_for_test()
            .on_message(
                PeerMessage::HashSetAnswer {
                    hash: c.hash,
                    parts: vec![md4(b"x"), md4(b"b")],
                },
                &mut c.clone(),
            )
            .unwrap();
        assert!(matches!(bad[0], SrcAction::Close(_)));
        let a = s
            .on_message(
                PeerMessage::HashSetAnswer {
                    hash: c.hash,
                    parts: parts.clone(),
                },
                &mut c,
            )
            .unwrap();
        assert_eq!(a[0], SrcAction::Hashset(parts.clone()));
        assert_eq!(c.part_hash(1), Some(parts[1]));
        // Only part 0 is available from this source.
        s.on_message(PeerMessage::AcceptUploadReq, &mut c).unwrap();
        assert!(s.pending.iter().all(|&(_, e, _)| e <= ED2K_PART_SIZE));
    }

    #[test]
    fn exact_part_size_needs_the_hashset() {
        let mut c = core(ED2K_PART_SIZE);
        assert!(c.needs_hashset());
        assert_eq!(c.part_hash(0), None);
        let mut s = Source::new(1);
        s.begin(&c);
        // eMule's status bitfield has two entries for this file.
        let a = s
            .on_message(
                PeerMessage::FileStatus {
                    hash: c.hash,
                    parts: Some(vec![true, false]),
                },
                &mut c,
            )
            .unwrap();
        assert_eq!(sends(&a), vec![PeerMessage::HashSetRequest(c.hash)]);
        let small = core(5);
        assert_eq!(small.part_hash(0), Some(small.hash));
    }

    #[test]
    fn wrong_status_length_and_no_file() {
        let mut c = core(ED2K_PART_SIZE * 2);
        let mut s = Source::new(1);
        s.begin(&c);
        let a = s
            .on_message(
                PeerMessage::FileStatus {
                    hash: c.hash,
                    parts: Some(vec![true]),
                },
                &mut c,
            )
            .unwrap();
        assert!(matches!(a[0], SrcAction::Close(_)));
        let a = s
            .on_message(PeerMessage::FileReqAnsNoFile(c.hash), &mut c)
            .unwrap();
        assert_eq!(a[0], SrcAction::NoFile);
    }

    #[test]
    fn compressed_block_inflates_in_chunks() {
        let mut c = core(100_000);
        let mut s = Source::new(1);
        s.begin(&c);
        s.on_message(
            PeerMessage::FileStatus {
                hash: c.hash,
                parts: None,
            },
            &mut c,
        );
        s.on_message(PeerMessage::AcceptUploadReq, &mut c);
        let plain: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&plain).unwrap();
        let packed = enc.finish().unwrap();
        let mut got = vec![0u8; plain.len()];
        let mut total = 0;
        for chunk in packed.chunks(100) {
            let a = s
                .on_message(
                    PeerMessage::CompressedPart {
                        hash: c.hash,
                        start: 0,
                        packed_len: packed.len() as u32,
                        data: chunk.to_vec(),
                    },
                    &mut c,
                )
                .unwrap();
            for x in a {
                if let SrcAction::Write { start, data } = x {
                    got[start as usize..start as usize + data.len()].copy_from_slice(&data);
                    total += data.len();
                    s.after_write(start, data.len() as u64, &mut c);
                }
            }
        }
        assert_eq!(total, plain.len());
        assert_eq!(got, plain);
        assert!(s.inflater.is_none());
    }

    fn status(c: &DlCore) -> PeerMessage {
        PeerMessage::FileStatus {
            hash: c.hash,
            parts: None,
        }
    }

    #[test]
    fn resumed_source_waits_for_the_accept_without_asking() {
        let mut c = core(1000);
        // The first connection learnt the parts, then closed while queued.
        let mut first = Source::new(1);
        first.begin(&c);
        first.on_message(status(&c), &mut c).unwrap();
        first
            .on_message(PeerMessage::QueueRanking(5), &mut c)
            .unwrap();
        // The uploader connects back: the source is still queued at rank 5.
        let mut s = Source::resumed(1, 5);
        assert!(s.begin(&c).is_empty());
        assert_eq!(s.state_text(), "queued at rank 5");
        assert_eq!(s.queue_rank(), Some(5));
        let a = s.on_message(PeerMessage::AcceptUploadReq, &mut c).unwrap();
        assert_eq!(
            sends(&a),
            vec![PeerMessage::RequestParts {
                hash: [9; 16],
                ranges: [(0, 1000), (0, 0), (0, 0)]
            }]
        );
        assert_eq!(s.queue_rank(), None);
        assert_eq!(s.state_text(), "downloading");
    }

    #[test]
    fn reasking_keeps_showing_the_last_rank() {
        let mut c = core(1000);
        let mut s = Source::reasking(1, 7);
        assert_eq!(s.state_text(), "queued at rank 7 (asking again)");
        assert_eq!(s.begin(&c).len(), 2);
        assert_eq!(s.queue_rank(), Some(7));
        let a = s.on_message(status(&c), &mut c).unwrap();
        assert_eq!(sends(&a), vec![PeerMessage::StartUploadReq(Some([9; 16]))]);
        assert_eq!(s.queue_rank(), Some(7));
        s.on_message(PeerMessage::QueueRank(2), &mut c).unwrap();
        assert_eq!(s.state_text(), "queued at rank 2");
        // Asking again on the open connection.
        let a = s.reask(&c);
        assert_eq!(
            sends(&a),
            vec![
                PeerMessage::RequestFilename([9; 16]),
                PeerMessage::SetReqFileId([9; 16])
            ]
        );
        assert_eq!(s.queue_rank(), Some(2));
        assert!(s.reask(&c).is_empty(), "only a queued source re-asks");
        // The slot may come before the answer: it is for the place we had.
        let a = s.on_message(PeerMessage::AcceptUploadReq, &mut c).unwrap();
        assert!(matches!(&sends(&a)[0], PeerMessage::RequestParts { .. }));
        assert_eq!(s.phase(), Phase::Downloading);
        // A late file status does not restart the conversation.
        assert!(s.on_message(status(&c), &mut c).unwrap().is_empty());
    }

    #[test]
    fn accept_before_asking_is_ignored() {
        let mut c = core(1000);
        let mut s = Source::new(1);
        s.begin(&c);
        assert!(s
            .on_message(PeerMessage::AcceptUploadReq, &mut c)
            .unwrap()
            .is_empty());
        assert_eq!(s.phase(), Phase::FileInfo);
    }

    impl Source {
        fn clone_for_test(&self) -> Source {
            Source {
                sid: self.sid,
                phase: self.phase,
                last_rank: self.last_rank,
                pending: self.pending.clone(),
                inflater: None,
            }
        }
    }
}
