//! What a restart finds written (sans-IO): the blocks of pieces not yet
//! verified that the download's written log (`swarmux_net::written`) says
//! are on disk, so only the others are fetched again.

use super::bitfield::Bitfield;
use super::layout::{PieceGeometry, BLOCK_LEN};
use std::collections::BTreeMap;
use std::ops::Range;

/// For each piece not in `have` that `written` covers blocks of, those
/// blocks (indices within the piece, in order). Only whole blocks count.
pub fn written_blocks(
    geometry: &PieceGeometry,
    written: impl IntoIterator<Item = Range<u64>>,
    have: &Bitfield,
) -> Vec<(u32, Vec<u32>)> {
    let mut out: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let piece_len = u64::from(geometry.piece_len());
    let count = geometry.piece_count();
    for r in written {
        let end = r.end.min(geometry.total_len());
        if r.start >= end {
            continue;
        }
        let first = (r.start / piece_len) as u32;
        let last = ((end - 1) / piece_len) as u32;
        for piece in first..=last.min(count.saturating_sub(1)) {
            if have.get(piece) {
                continue;
            }
            let base = geometry.piece_offset(piece);
            for b in 0..geometry.block_count(piece) {
                let start = base + u64::from(b * BLOCK_LEN);
                if r.start <= start && start + u64::from(geometry.block_len(piece, b)) <= end {
                    out.entry(piece).or_default().push(b);
                }
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_blocks_of_pieces_not_had() {
        // 3 pieces of 64 KiB (4 blocks) and a tail piece of 100 bytes
        let g = PieceGeometry::new(3 * 65536 + 100, 65536).unwrap();
        let mut have = Bitfield::new(4);
        have.set(0);
        let blocks = BLOCK_LEN as u64;
        let written = [
            0..65536 + blocks + 10,            // piece 0 (had), block 0 of piece 1
            65536 + 3 * blocks..2 * 65536 + 5, // block 3 of piece 1, nothing whole of 2
            3 * 65536..3 * 65536 + 100,        // the tail piece whole
        ];
        assert_eq!(
            written_blocks(&g, written, &have),
            vec![(1, vec![0, 3]), (3, vec![0])]
        );
        assert!(written_blocks(&g, [5..5, 1 << 40..1 << 41], &have).is_empty());
    }
}
