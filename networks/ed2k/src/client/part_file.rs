//! Sans-IO bookkeeping of one download: which parts are verified, which blocks
//! are requested by which source or already received, and the block picker.
//!
//! Parts are the 9,728,000-byte MD4 units; blocks are the 184,320-byte request
//! units inside a part (a block never crosses a part boundary).

use std::collections::HashMap;
use swarmux_net::hashing::{ed2k_part_count, ed2k_part_range};
use swarmux_net::written::RangeSet;

/// Largest range asked for in one request slot (eMule's EMBLOCKSIZE).
pub const BLOCK_SIZE: u64 = 184_320;

/// Identifies a source (peer) within one download.
pub type SourceId = u64;

#[derive(Clone, Debug, Default)]
struct Block {
    /// Received byte ranges relative to the block start, merged and sorted.
    got: Vec<(u64, u64)>,
    /// Sources that currently have this block requested.
    requested: Vec<SourceId>,
    done: bool,
}

#[derive(Clone, Debug, Default)]
struct Part {
    verified: bool,
    blocks: Vec<Block>,
    /// Sources that sent bytes of this part since it was last reset.
    contributors: Vec<SourceId>,
    /// The source this part is assigned to (outside endgame, only one).
    owner: Option<SourceId>,
}

/// The download's part/block map and per-source availability.
#[derive(Clone, Debug)]
pub struct PartFile {
    size: u64,
    parts: Vec<Part>,
    /// Which parts each source has; an empty vector means "all of them".
    avail: HashMap<SourceId, Vec<bool>>,
}

fn merge(got: &mut Vec<(u64, u64)>, s: u64, e: u64) {
    got.push((s, e));
    got.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(got.len());
    for &(a, b) in got.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *got = out;
}

impl PartFile {
    /// A map for a file of `size` bytes; `verified` marks parts already on disk
    /// (shorter or empty vectors mean "not verified" for the rest).
    pub fn new(size: u64, verified: &[bool]) -> Self {
        let n = ed2k_part_count(size);
        let parts = (0..n)
            .map(|i| {
                let (s, e) = ed2k_part_range(size, i);
                let nblocks = (e - s).div_ceil(BLOCK_SIZE) as usize;
                let v = verified.get(i).copied().unwrap_or(false);
                Part {
                    verified: v,
                    blocks: vec![
                        Block {
                            done: v,
                            ..Block::default()
                        };
                        nblocks
                    ],
                    ..Part::default()
                }
            })
            .collect();
        PartFile {
            size,
            parts,
            avail: HashMap::new(),
        }
    }

    /// File size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Number of parts.
    pub fn part_count(&self) -> usize {
        self.parts.len()
    }

    /// The verified flag of every part.
    pub fn verified(&self) -> Vec<bool> {
        self.parts.iter().map(|p| p.verified).collect()
    }

    /// True when every part is verified.
    pub fn is_complete(&self) -> bool {
        self.parts.iter().all(|p| p.verified)
    }

    /// True when part `i` is verified.
    pub fn is_verified(&self, i: usize) -> bool {
        self.parts.get(i).is_some_and(|p| p.verified)
    }

    /// Bytes in verified parts.
    pub fn verified_bytes(&self) -> u64 {
        (0..self.parts.len())
            .filter(|&i| self.parts[i].verified)
            .map(|i| {
                let (s, e) = ed2k_part_range(self.size, i);
                e - s
            })
            .sum()
    }

    /// Whether part `i` still needs data (not verified, some block missing).
    fn needs(&self, i: usize) -> bool {
        let p = &self.parts[i];
        !p.verified && p.blocks.iter().any(|b| !b.done)
    }

    fn has(&self, src: SourceId, i: usize) -> bool {
        match self.avail.get(&src) {
            Some(v) if v.is_empty() => true,
            Some(v) => v.get(i).copied().unwrap_or(false),
            None => false,
        }
    }

    /// Records which parts a source has (empty = complete file).
    pub fn set_source_parts(&mut self, src: SourceId, parts: Vec<bool>) {
        self.avail.insert(src, parts);
    }

    /// True when the source has at least one part we still need.
    pub fn source_useful(&self, src: SourceId) -> bool {
        (0..self.parts.len()).any(|i| self.has(src, i) && self.needs(i))
    }

    /// Forgets a source: drops its availability, its requests and part ownership.
    pub fn remove_source(&mut self, src: SourceId) {
        self.avail.remove(&src);
        self.release(src);
    }

    /// Drops the source's outstanding requests and part ownership (it stays known).
    pub fn release(&mut self, src: SourceId) {
        for p in &mut self.parts {
            if p.owner == Some(src) {
                p.owner = None;
            }
            for b in &mut p.blocks {
                b.requested.retain(|&s| s != src);
            }
        }
    }

    /// How many known sources have part `i`.
    fn rarity(&self, i: usize) -> usize {
        self.avail
            .values()
            .filter(|v| v.is_empty() || v.get(i).copied().unwrap_or(false))
            .count()
    }

    fn block_range(&self, part: usize, block: usize) -> (u64, u64) {
        let (ps, pe) = ed2k_part_range(self.size, part);
        let s = ps + block as u64 * BLOCK_SIZE;
        (s, (s + BLOCK_SIZE).min(pe))
    }

    /// Blocks of `part` that are missing and requested by nobody.
    fn free_blocks(&self, part: usize) -> impl Iterator<Item = usize> + '_ {
        self.parts[part]
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.done && b.requested.is_empty())
            .map(|(j, _)| j)
    }

    /// Picks up to `max` blocks for `src` to request and marks them requested.
    /// Returns byte ranges `[start, end)`, each inside one part.
    ///
    /// Order: free blocks of the part the source owns; then a new part nobody
    /// works on (started parts first, then rarest); then free blocks in parts
    /// other sources work on; only when nothing else is left (endgame) blocks
    /// already requested by another source.
    pub fn pick_blocks(&mut self, src: SourceId, max: usize) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut mine: Vec<(usize, usize)> = Vec::new();
        let owned: Vec<usize> = (0..self.parts.len())
            .filter(|&i| self.parts[i].owner == Some(src) && self.needs(i))
            .collect();
        for &i in &owned {
            mine.extend(self.free_blocks(i).map(|j| (i, j)));
        }
        if mine.len() < max {
            // A new part that nobody owns.
            let mut cands: Vec<usize> = (0..self.parts.len())
                .filter(|&i| {
                    self.needs(i)
                        && self.has(src, i)
                        && self.parts[i].owner.is_none()
                        && !owned.contains(&i)
                        && self.free_blocks(i).next().is_some()
                })
                .collect();
            cands.sort_by_key(|&i| {
                let started = self.parts[i].blocks.iter().any(|b| b.done);
                (!started, self.rarity(i), i)
            });
            for i in cands {
                if mine.len() >= max {
                    break;
                }
                self.parts[i].owner = Some(src);
                mine.extend(self.free_blocks(i).map(|j| (i, j)));
            }
        }
        if mine.len() < max {
            // Free blocks in parts that others own.
            for i in 0..self.parts.len() {
                if self.needs(i) && self.has(src, i) && self.parts[i].owner != Some(src) {
                    mine.extend(self.free_blocks(i).map(|j| (i, j)));
                }
            }
        }
        for (i, j) in mine.into_iter().take(max) {
            self.parts[i].blocks[j].requested.push(src);
            out.push(self.block_range(i, j));
        }
        if out.len() < max {
            // Endgame: duplicate requests of blocks others are fetching.
            'outer: for i in 0..self.parts.len() {
                if !self.needs(i) || !self.has(src, i) {
                    continue;
                }
                for j in 0..self.parts[i].blocks.len() {
                    if out.len() >= max {
                        break 'outer;
                    }
                    let b = &self.parts[i].blocks[j];
                    if !b.done && !b.requested.contains(&src) {
                        self.parts[i].blocks[j].requested.push(src);
                        out.push(self.block_range(i, j));
                    }
                }
            }
        }
        out
    }

    /// Records `len` bytes at `start` received from `src`. Returns the parts
    /// whose blocks are now all in (ready for verification).
    pub fn on_data(&mut self, src: SourceId, start: u64, len: u64) -> Vec<usize> {
        self.receive(Some(src), start, start.saturating_add(len))
    }

    /// Marks what an earlier run wrote (see [`swarmux_net::written`]) as
    /// received. Returns the parts whose blocks are now all in: they are
    /// verified at once.
    pub fn restore(&mut self, written: &RangeSet) -> Vec<usize> {
        let mut completed = Vec::new();
        for r in written.iter() {
            completed.extend(self.receive(None, r.start, r.end));
        }
        completed
    }

    fn receive(&mut self, src: Option<SourceId>, start: u64, end: u64) -> Vec<usize> {
        let end = end.min(self.size);
        let mut completed = Vec::new();
        let mut pos = start;
        while pos < end {
            let part = (pos / swarmux_net::hashing::ED2K_PART_SIZE) as usize;
            let (ps, pe) = ed2k_part_range(self.size, part);
            let block = ((pos - ps) / BLOCK_SIZE) as usize;
            let (bs, be) = self.block_range(part, block);
            let chunk_end = end.min(be).min(pe);
            let Some(p) = self.parts.get_mut(part) else {
                break;
            };
            if !p.verified {
                let b = &mut p.blocks[block];
                if !b.done {
                    merge(&mut b.got, pos - bs, chunk_end - bs);
                    if let Some(src) = src.filter(|s| !p.contributors.contains(s)) {
                        p.contributors.push(src);
                    }
                    if b.got.first() == Some(&(0, be - bs)) {
                        b.done = true;
                        b.got.clear();
                        b.requested.clear();
                        if p.blocks.iter().all(|b| b.done) {
                            p.owner = None;
                            completed.push(part);
                        }
                    }
                }
            }
            pos = chunk_end;
        }
        completed
    }

    /// True when the range `[start, end)` is still wanted (inside a block not done).
    pub fn wants(&self, start: u64, end: u64) -> bool {
        if start >= end || end > self.size {
            return false;
        }
        let part = (start / swarmux_net::hashing::ED2K_PART_SIZE) as usize;
        let Some(p) = self.parts.get(part) else {
            return false;
        };
        let (ps, _) = ed2k_part_range(self.size, part);
        let block = ((start - ps) / BLOCK_SIZE) as usize;
        !p.verified && p.blocks.get(block).is_some_and(|b| !b.done)
    }

    /// Marks a part verified.
    pub fn mark_verified(&mut self, part: usize) {
        if let Some(p) = self.parts.get_mut(part) {
            p.verified = true;
            p.owner = None;
            p.contributors.clear();
            for b in &mut p.blocks {
                *b = Block {
                    done: true,
                    ..Block::default()
                };
            }
        }
    }

    /// Resets a corrupt part so it is fetched again; returns the sources that
    /// contributed bytes to it.
    pub fn reset_part(&mut self, part: usize) -> Vec<SourceId> {
        let Some(p) = self.parts.get_mut(part) else {
            return Vec::new();
        };
        p.verified = false;
        p.owner = None;
        for b in &mut p.blocks {
            *b = Block::default();
        }
        std::mem::take(&mut p.contributors)
    }

    /// Parts whose blocks are all in but that are not verified yet.
    pub fn unverified_complete(&self) -> Vec<usize> {
        (0..self.parts.len())
            .filter(|&i| !self.parts[i].verified && self.parts[i].blocks.iter().all(|b| b.done))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmux_net::hashing::ED2K_PART_SIZE;

    fn part_of(r: (u64, u64)) -> usize {
        (r.0 / ED2K_PART_SIZE) as usize
    }

    #[test]
    fn ranges_stay_inside_parts_and_blocks() {
        let size = ED2K_PART_SIZE * 3 + 12345;
        let mut pf = PartFile::new(size, &[]);
        pf.set_source_parts(1, vec![]);
        let mut seen = 0u64;
        loop {
            let got = pf.pick_blocks(1, 3);
            if got.is_empty() {
                break;
            }
            assert!(got.len() <= 3);
            for r in got {
                assert!(r.0 < r.1 && r.1 - r.0 <= BLOCK_SIZE);
                assert_eq!(part_of(r), part_of((r.1 - 1, r.1)), "{r:?} crosses a part");
                seen += r.1 - r.0;
                pf.on_data(1, r.0, r.1 - r.0);
            }
        }
        assert_eq!(seen, size);
        assert_eq!(pf.unverified_complete(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn no_part_shared_outside_endgame() {
        let size = ED2K_PART_SIZE * 4;
        let mut pf = PartFile::new(size, &[]);
        for s in 1..=3 {
            pf.set_source_parts(s, vec![]);
        }
        let mut owner: HashMap<usize, SourceId> = HashMap::new();
        for _round in 0..5 {
            for s in 1..=3 {
                for r in pf.pick_blocks(s, 3) {
                    let p = part_of(r);
                    assert_eq!(*owner.entry(p).or_insert(s), s, "part {p} shared");
                }
            }
        }
    }

    #[test]
    fn rarest_first_and_availability() {
        let size = ED2K_PART_SIZE * 3;
        let mut pf = PartFile::new(size, &[]);
        pf.set_source_parts(1, vec![true, true, false, false]);
        pf.set_source_parts(2, vec![true, false, false, false]);
        // Part 1 is rarer (only source 1 has it).
        let got = pf.pick_blocks(1, 1);
        assert_eq!(part_of(got[0]), 1);
        assert!(!pf.source_useful(3));
        let got = pf.pick_blocks(2, 1);
        assert_eq!(part_of(got[0]), 0);
    }

    #[test]
    fn endgame_duplicates_only_at_the_end() {
        let size = BLOCK_SIZE * 2;
        let mut pf = PartFile::new(size, &[]);
        pf.set_source_parts(1, vec![]);
        pf.set_source_parts(2, vec![]);
        let a = pf.pick_blocks(1, 1);
        // Source 2 gets the other free block of part 0 first.
        let b = pf.pick_blocks(2, 1);
        assert_ne!(a, b);
        // Then the duplicate.
        let c = pf.pick_blocks(2, 3);
        assert_eq!(c, a);
        pf.on_data(1, a[0].0, a[0].1 - a[0].0);
        assert!(!pf.wants(a[0].0, a[0].1));
    }

    #[test]
    fn corrupt_part_resets_and_blames() {
        let size = ED2K_PART_SIZE + 10;
        let mut pf = PartFile::new(size, &[false, true]);
        pf.set_source_parts(7, vec![]);
        pf.set_source_parts(8, vec![]);
        let r1 = pf.pick_blocks(7, 3);
        assert!(r1.iter().all(|r| part_of(*r) == 0));
        pf.on_data(8, 0, 100);
        let mut done = Vec::new();
        for (s, e) in r1 {
            done.extend(pf.on_data(7, s, e - s));
        }
        while let Some(r) = pf.pick_blocks(7, 1).first().copied() {
            done.extend(pf.on_data(7, r.0, r.1 - r.0));
        }
        assert_eq!(done, vec![0]);
        let mut blamed = pf.reset_part(0);
        blamed.sort();
        assert_eq!(blamed, vec![7, 8]);
        assert!(pf.wants(0, 10));
        assert!(!pf.pick_blocks(7, 3).is_empty());
        pf.mark_verified(0);
        assert!(pf.is_complete());
        assert_eq!(pf.verified_bytes(), size);
    }

    #[test]
    fn what_an_earlier_run_wrote_is_not_fetched_again() {
        let size = ED2K_PART_SIZE * 2 + 1000;
        let mut pf = PartFile::new(size, &[]);
        pf.set_source_parts(1, vec![]);
        let mut written = RangeSet::default();
        // All of part 1, one block and a half of part 0.
        written.insert(ED2K_PART_SIZE..2 * ED2K_PART_SIZE);
        written.insert(0..BLOCK_SIZE + BLOCK_SIZE / 2);
        assert_eq!(pf.restore(&written), vec![1]);
        assert_eq!(pf.unverified_complete(), vec![1]);
        let mut fetched = 0;
        while let Some(r) = pf.pick_blocks(1, 1).first().copied() {
            assert!(r.0 >= BLOCK_SIZE, "a written block was asked for: {r:?}");
            fetched += r.1 - r.0;
            pf.on_data(1, r.0, r.1 - r.0);
        }
        // The half-written block is fetched whole, part 1 not at all.
        assert_eq!(fetched, ED2K_PART_SIZE - BLOCK_SIZE + 1000);
        // Restored bytes blame nobody.
        assert_eq!(pf.reset_part(1), Vec::<SourceId>::new());
    }

    #[test]
    fn partial_packets_complete_a_block() {
        let mut pf = PartFile::new(30_000, &[]);
        pf.set_source_parts(1, vec![]);
        assert_eq!(pf.pick_blocks(1, 3), vec![(0, 30_000)]);
        assert!(pf.on_data(1, 10_240, 10_240).is_empty());
        assert!(pf.on_data(1, 20_480, 9_520).is_empty());
        assert_eq!(pf.on_data(1, 0, 10_240), vec![0]);
        // Out-of-range data is ignored.
        assert!(pf.on_data(1, u64::MAX - 5, 100).is_empty());
    }
}
