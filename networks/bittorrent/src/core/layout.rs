//! Where torrent bytes live: piece and block geometry, and the mapping of
//! torrent byte ranges onto the files of the torrent.

use std::ops::Range;

/// The request unit of the peer wire: 16 KiB (the last block of a piece may be shorter).
pub const BLOCK_LEN: u32 = 16 * 1024;

/// Why a torrent's sizes cannot be laid out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("piece length is zero")]
    ZeroPieceLength,
    #[error("torrent has no data")]
    Empty,
    #[error("total length overflows")]
    TooLarge,
    #[error("more than {max} pieces")]
    TooManyPieces { max: u32 },
}

/// The piece count the core accepts (keeps piece indices and bitfields bounded).
pub const MAX_PIECES: u32 = 1 << 24;

/// A download priority, for a file or a piece. Ordered: `Skip < Normal < High`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Not wanted: never picked, not created on disk.
    Skip,
    /// Wanted.
    #[default]
    Normal,
    /// Wanted before every normal piece.
    High,
}

/// Piece and block sizes of a torrent of `total_len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PieceGeometry {
    total_len: u64,
    piece_len: u32,
    piece_count: u32,
}

impl PieceGeometry {
    /// Checks that the sizes make at least one and at most [`MAX_PIECES`] pieces.
    pub fn new(total_len: u64, piece_len: u32) -> Result<Self, LayoutError> {
        if piece_len == 0 {
            return Err(LayoutError::ZeroPieceLength);
        }
        if total_len == 0 {
            return Err(LayoutError::Empty);
        }
        let count = total_len.div_ceil(u64::from(piece_len));
        let piece_count = u32::try_from(count)
            .ok()
            .filter(|c| *c <= MAX_PIECES)
            .ok_or(LayoutError::TooManyPieces { max: MAX_PIECES })?;
        Ok(PieceGeometry {
            total_len,
            piece_len,
            piece_count,
        })
    }

    /// Total bytes of the torrent.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// The nominal piece length (every piece but possibly the last).
    pub fn piece_len(&self) -> u32 {
        self.piece_len
    }

    /// The number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.piece_count
    }

    /// Byte offset of `piece` in the torrent.
    pub fn piece_offset(&self, piece: u32) -> u64 {
        u64::from(piece) * u64::from(self.piece_len)
    }

    /// Length of `piece` (the last one may be shorter); 0 past the end.
    pub fn piece_size(&self, piece: u32) -> u32 {
        if piece >= self.piece_count {
            return 0;
        }
        let rest = self.total_len - self.piece_offset(piece);
        rest.min(u64::from(self.piece_len)) as u32
    }

    /// Number of 16 KiB blocks in `piece`.
    pub fn block_count(&self, piece: u32) -> u32 {
        self.piece_size(piece).div_ceil(BLOCK_LEN)
    }

    /// Length of block `block` of `piece` (the last may be shorter); 0 past the end.
    pub fn block_len(&self, piece: u32, block: u32) -> u32 {
        let size = self.piece_size(piece);
        let start = u64::from(block) * u64::from(BLOCK_LEN);
        if start >= u64::from(size) {
            return 0;
        }
        (u64::from(size) - start).min(u64::from(BLOCK_LEN)) as u32
    }
}

/// One file of a torrent: its relative path components and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components under the download root (validated again by storage).
    pub path: Vec<String>,
    /// Length in bytes.
    pub length: u64,
    /// A BEP 47 padding file: zeros in the piece space, never on disk.
    pub padding: bool,
}

/// A run of bytes inside one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Index of the file in the torrent's file list.
    pub file: usize,
    /// Offset in that file.
    pub offset: u64,
    /// Number of bytes.
    pub len: u32,
}

/// The files of a torrent laid end to end, cut into pieces.
#[derive(Debug, Clone)]
pub struct Layout {
    geometry: PieceGeometry,
    files: Vec<FileEntry>,
    /// Torrent offset where each file starts.
    starts: Vec<u64>,
}

impl Layout {
    /// Lays out `files` in order with pieces of `piece_len` bytes.
    pub fn new(files: Vec<FileEntry>, piece_len: u32) -> Result<Self, LayoutError> {
        let mut starts = Vec::with_capacity(files.len());
        let mut total: u64 = 0;
        for f in &files {
            starts.push(total);
            total = total.checked_add(f.length).ok_or(LayoutError::TooLarge)?;
        }
        let geometry = PieceGeometry::new(total, piece_len)?;
        Ok(Layout {
            geometry,
            files,
            starts,
        })
    }

    /// Piece and block sizes.
    pub fn geometry(&self) -> &PieceGeometry {
        &self.geometry
    }

    /// The files, in torrent order.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Torrent byte offset where `file` starts.
    pub fn file_offset(&self, file: usize) -> u64 {
        self.starts[file]
    }

    /// The segments of the whole of `piece` (none past the end).
    pub fn piece_segments(&self, piece: u32) -> Segments<'_> {
        let size = self.geometry.piece_size(piece);
        self.range_segments(self.geometry.piece_offset(piece), size)
    }

    /// The segments of `len` bytes at `offset` inside `piece`, clipped to the piece.
    pub fn block_segments(&self, piece: u32, offset: u32, len: u32) -> Segments<'_> {
        let size = self.geometry.piece_size(piece);
        let len = len.min(size.saturating_sub(offset));
        self.range_segments(self.geometry.piece_offset(piece) + u64::from(offset), len)
    }

    /// The segments of `len` bytes at torrent offset `start`, clipped to the torrent.
    pub fn range_segments(&self, start: u64, len: u32) -> Segments<'_> {
        let end = start
            .saturating_add(u64::from(len))
            .min(self.geometry.total_len);
        // The last file starting at or before `start` (zero-length files are skipped while walking).
        let file = self
            .starts
            .partition_point(|s| *s <= start)
            .saturating_sub(1);
        Segments {
            layout: self,
            file,
            pos: start,
            end,
        }
    }

    /// The pieces that hold bytes of `file` (empty for a zero-length file).
    pub fn file_pieces(&self, file: usize) -> Range<u32> {
        let f = &self.files[file];
        if f.length == 0 {
            return 0..0;
        }
        let pl = u64::from(self.geometry.piece_len);
        let first = self.starts[file] / pl;
        let last = (self.starts[file] + f.length - 1) / pl;
        first as u32..last as u32 + 1
    }

    /// Piece priorities from file priorities: each piece gets the highest
    /// priority of the files it touches, so a piece shared by a skipped and a
    /// wanted file is wanted. Missing file priorities count as normal.
    pub fn piece_priorities(&self, file_priorities: &[Priority]) -> Vec<Priority> {
        let mut out = vec![Priority::Skip; self.geometry.piece_count as usize];
        for file in 0..self.files.len() {
            let p = file_priorities.get(file).copied().unwrap_or_default();
            for piece in self.file_pieces(file) {
                let slot = &mut out[piece as usize];
                *slot = (*slot).max(p);
            }
        }
        out
    }
}

/// Iterator over the file segments of a torrent byte range.
pub struct Segments<'a> {
    layout: &'a Layout,
    file: usize,
    pos: u64,
    end: u64,
}

impl Iterator for Segments<'_> {
    type Item = Segment;

    fn next(&mut self) -> Option<Segment> {
        while self.pos < self.end && self.file < self.layout.files.len() {
            let start = self.layout.starts[self.file];
            let file_end = start + self.layout.files[self.file].length;
            if self.pos >= file_end {
                self.file += 1;
                continue;
            }
            let take = (file_end.min(self.end) - self.pos) as u32;
            let seg = Segment {
                file: self.file,
                offset: self.pos - start,
                len: take,
            };
            self.pos += u64::from(take);
            self.file += 1;
            return Some(seg);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(lens: &[u64]) -> Vec<FileEntry> {
        lens.iter()
            .enumerate()
            .map(|(i, &length)| FileEntry {
                path: vec![format!("f{i}")],
                length,
                padding: false,
            })
            .collect()
    }

    #[test]
    fn geometry_sizes() {
        let g = PieceGeometry::new(100_000, 32_768).unwrap();
        assert_eq!(g.piece_count(), 4);
        assert_eq!(g.piece_size(0), 32_768);
        assert_eq!(g.piece_size(3), 100_000 - 3 * 32_768);
        assert_eq!(g.piece_size(4), 0);
        assert_eq!(g.block_count(0), 2);
        assert_eq!(g.block_count(3), 1);
        assert_eq!(g.block_len(3, 0), 1_696);
        assert_eq!(g.block_len(0, 1), BLOCK_LEN);
        assert_eq!(g.block_len(0, 2), 0);
        assert_eq!(PieceGeometry::new(0, 10), Err(LayoutError::Empty));
        assert_eq!(PieceGeometry::new(10, 0), Err(LayoutError::ZeroPieceLength));
        assert!(matches!(
            PieceGeometry::new(u64::MAX, 1),
            Err(LayoutError::TooManyPieces { .. })
        ));
        assert_eq!(
            Layout::new(files(&[u64::MAX, 1]), 16).unwrap_err(),
            LayoutError::TooLarge
        );
    }

    #[test]
    fn segments_cross_files_and_skip_empty_ones() {
        // Files: 10, 0, 5, 20 bytes; pieces of 8.
        let l = Layout::new(files(&[10, 0, 5, 20]), 8).unwrap();
        assert_eq!(l.geometry().piece_count(), 5);
        let p1: Vec<_> = l.piece_segments(1).collect();
        assert_eq!(
            p1,
            vec![
                Segment {
                    file: 0,
                    offset: 8,
                    len: 2
                },
                Segment {
                    file: 2,
                    offset: 0,
                    len: 5
                },
                Segment {
                    file: 3,
                    offset: 0,
                    len: 1
                },
            ]
        );
        let last: Vec<_> = l.piece_segments(4).collect();
        assert_eq!(
            last,
            vec![Segment {
                file: 3,
                offset: 17,
                len: 3
            }]
        );
        assert_eq!(l.piece_segments(5).count(), 0);
        let blk: Vec<_> = l.block_segments(1, 1, 100).collect();
        assert_eq!(blk.iter().map(|s| s.len).sum::<u32>(), 7);
        assert_eq!(
            l.range_segments(10, 3).next(),
            Some(Segment {
                file: 2,
                offset: 0,
                len: 3
            })
        );
    }

    #[test]
    fn file_pieces_and_priorities() {
        let l = Layout::new(files(&[10, 0, 5, 20]), 8).unwrap();
        assert_eq!(l.file_pieces(0), 0..2);
        assert_eq!(l.file_pieces(1), 0..0);
        assert_eq!(l.file_pieces(2), 1..2);
        assert_eq!(l.file_pieces(3), 1..5);
        let pr = l.piece_priorities(&[
            Priority::Skip,
            Priority::Skip,
            Priority::High,
            Priority::Skip,
        ]);
        assert_eq!(
            pr,
            vec![
                Priority::Skip,
                Priority::High,
                Priority::Skip,
                Priority::Skip,
                Priority::Skip
            ]
        );
        let pr = l.piece_priorities(&[
            Priority::Skip,
            Priority::Normal,
            Priority::Skip,
            Priority::Normal,
        ]);
        assert_eq!(pr[0], Priority::Skip);
        assert!(pr[1..].iter().all(|p| *p == Priority::Normal));
    }

    #[test]
    fn segments_sum_to_piece_sizes() {
        let l = Layout::new(files(&[1, 70_000, 3, 0, 123_457]), 65_536).unwrap();
        let g = *l.geometry();
        let mut total = 0u64;
        for p in 0..g.piece_count() {
            let s: u32 = l.piece_segments(p).map(|s| s.len).sum();
            assert_eq!(s, g.piece_size(p));
            total += u64::from(s);
        }
        assert_eq!(total, g.total_len());
    }
}
