//! Which 1 MiB parts of a download are on disk, being fetched or missing,
//! and which bytes of the unfinished parts are written already.
//!
//! Gnutella names a file only by its whole SHA-1, so a part is "verified"
//! when every byte of it was written as the answer to a range we asked for;
//! the whole file is checked against its `urn:sha1` once every part is in.
//! Written bytes are kept across restarts (see [`swarmux_net::written`]), so
//! a source is asked only for the bytes of a part still missing. Each part
//! remembers its source, so that after a failed check the parts of one
//! source can be kept and the rest fetched again from it alone.

use std::ops::Range;
use swarmux_net::written::RangeSet;

/// The part size we report to the engine.
pub const PART_SIZE: u64 = 1 << 20;

/// The state of one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartState {
    Missing,
    /// A source is fetching it.
    Busy,
    Done,
}

/// Who wrote the bytes of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Writer {
    /// Nothing written yet.
    Nobody,
    /// One source, in this run.
    One(String),
    /// An earlier run, or several sources.
    Unknown,
}

/// The parts of one file.
#[derive(Debug, Clone)]
pub struct PartTable {
    size: u64,
    states: Vec<PartState>,
    writers: Vec<Writer>,
    /// Bytes written to the file (of done parts and unfinished ones).
    written: RangeSet,
}

/// Number of parts of a file of `size` bytes.
pub fn part_count(size: u64) -> usize {
    usize::try_from(size.div_ceil(PART_SIZE)).unwrap_or(usize::MAX)
}

impl Default for PartTable {
    fn default() -> Self {
        PartTable::new(0, &[], &RangeSet::default())
    }
}

impl PartTable {
    /// A table for `size` bytes, with the parts `verified` already done and
    /// the bytes `written` (by an earlier run) already on disk: parts they
    /// cover wholly are done too.
    pub fn new(size: u64, verified: &[bool], written: &RangeSet) -> Self {
        let mut t = PartTable {
            size,
            states: vec![PartState::Missing; part_count(size)],
            writers: vec![Writer::Nobody; part_count(size)],
            written: RangeSet::default(),
        };
        for r in written.iter() {
            t.written.insert(r.start.min(size)..r.end.min(size));
        }
        for i in 0..t.states.len() {
            let whole = t.written.contains(t.span(i));
            if verified.get(i).copied().unwrap_or(false) || whole {
                t.states[i] = PartState::Done;
                t.written.insert(t.span(i));
            }
            if t.written.covered(t.span(i)) > 0 {
                t.writers[i] = Writer::Unknown;
            }
        }
        t
    }

    /// Number of parts.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The byte range `[start, end)` of part `i`.
    pub fn range(&self, i: usize) -> (u64, u64) {
        let start = (i as u64).saturating_mul(PART_SIZE).min(self.size);
        (start, start.saturating_add(PART_SIZE).min(self.size))
    }

    fn span(&self, i: usize) -> Range<u64> {
        let (a, b) = self.range(i);
        a..b
    }

    /// The done parts, in order.
    pub fn done(&self) -> Vec<usize> {
        (0..self.states.len())
            .filter(|&i| self.states[i] == PartState::Done)
            .collect()
    }

    /// Takes the first missing part for a source.
    pub fn claim(&mut self) -> Option<usize> {
        let i = self.states.iter().position(|s| *s == PartState::Missing)?;
        self.states[i] = PartState::Busy;
        Some(i)
    }

    /// The first bytes of part `i` not written yet, `[start, end)`.
    pub fn gap(&self, i: usize) -> Option<(u64, u64)> {
        let part = self.span(i);
        let (mut at, mut next) = (part.start, part.end);
        // Ranges are disjoint and never touch: after one, the next starts later.
        for r in self.written.iter() {
            if r.end <= at {
                continue;
            }
            if r.start <= at {
                at = r.end;
                continue;
            }
            next = r.start;
            break;
        }
        (at < part.end).then(|| (at, next.min(part.end)))
    }

    /// Gives a busy part back (its source failed, or it is not done yet).
    pub fn release(&mut self, i: usize) {
        if let Some(s) = self.states.get_mut(i) {
            if *s == PartState::Busy {
                *s = PartState::Missing;
            }
        }
    }

    /// Notes that source `by` wrote `[start, end)`; returns the parts that
    /// this made done.
    pub fn wrote(&mut self, start: u64, end: u64, by: &str) -> Vec<usize> {
        let (start, end) = (start.min(self.size), end.min(self.size));
        if start >= end {
            return Vec::new();
        }
        self.written.insert(start..end);
        let first = usize::try_from(start / PART_SIZE).unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for i in first..self.states.len() {
            let (a, b) = self.range(i);
            if a >= end {
                break;
            }
            if self.states[i] == PartState::Done || b <= start {
                continue;
            }
            self.writers[i] = match &self.writers[i] {
                Writer::Nobody => Writer::One(by.to_string()),
                Writer::One(s) if s == by => Writer::One(by.to_string()),
                _ => Writer::Unknown,
            };
            if self.written.contains(a..b) {
                self.states[i] = PartState::Done;
                out.push(i);
            }
        }
        out
    }

    /// The sources of the done parts.
    pub fn sources(&self) -> Vec<String> {
        let mut v: Vec<String> = self.done_writers().map(str::to_string).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    fn done_writers(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.states.len()).filter_map(|i| match &self.writers[i] {
            Writer::One(s) if self.states[i] == PartState::Done => Some(s.as_str()),
            _ => None,
        })
    }

    /// True when some done part has no single known source (it is from an
    /// earlier run, or several sources wrote it).
    pub fn has_unowned_done(&self) -> bool {
        (0..self.states.len()).any(|i| {
            self.states[i] == PartState::Done && !matches!(self.writers[i], Writer::One(_))
        })
    }

    /// The source that sent the most done parts, if any did.
    pub fn main_source(&self) -> Option<String> {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for o in self.done_writers() {
            match counts.iter_mut().find(|(k, _)| *k == o) {
                Some((_, n)) => *n += 1,
                None => counts.push((o, 1)),
            }
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(k, _)| k.to_string())
    }

    /// Keeps the done parts that `source` sent and forgets every other
    /// part, its written bytes too; returns the done parts forgotten.
    pub fn keep_only_from(&mut self, source: &str) -> Vec<usize> {
        let mut out = Vec::new();
        for i in 0..self.states.len() {
            let kept = self.states[i] == PartState::Done
                && matches!(&self.writers[i], Writer::One(s) if s == source);
            if !kept {
                if self.states[i] == PartState::Done {
                    out.push(i);
                }
                self.forget(i);
            }
        }
        out
    }

    fn forget(&mut self, i: usize) {
        self.states[i] = PartState::Missing;
        self.writers[i] = Writer::Nobody;
        self.written.remove(self.span(i));
    }

    /// True when every part is done.
    pub fn complete(&self) -> bool {
        self.states.iter().all(|s| *s == PartState::Done)
    }

    /// True when no part is missing (the rest is done or being fetched).
    pub fn nothing_to_claim(&self) -> bool {
        !self.states.contains(&PartState::Missing)
    }

    /// Bytes in done parts.
    pub fn done_bytes(&self) -> u64 {
        self.done()
            .into_iter()
            .map(|i| {
                let (a, b) = self.range(i);
                b - a
            })
            .sum()
    }

    /// Forgets everything (the whole file failed verification).
    pub fn reset(&mut self) {
        for i in 0..self.states.len() {
            self.forget(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> RangeSet {
        RangeSet::default()
    }

    #[test]
    fn claim_cover_release() {
        let size = 2 * PART_SIZE + 10;
        let mut t = PartTable::new(size, &[false, true], &none());
        assert_eq!(t.len(), 3);
        assert_eq!(t.range(2), (2 * PART_SIZE, size));
        assert_eq!(t.claim(), Some(0));
        assert_eq!(t.claim(), Some(2));
        assert_eq!(t.claim(), None);
        t.release(2);
        assert_eq!(t.wrote(0, PART_SIZE, "a"), vec![0]);
        assert!(!t.complete());
        assert_eq!(t.wrote(0, size, "b"), vec![2]);
        assert!(t.complete());
        assert_eq!(t.done_bytes(), size);
        t.reset();
        assert_eq!(t.done_bytes(), 0);
        assert_eq!(t.gap(0), Some((0, PART_SIZE)));
        assert!(PartTable::new(0, &[], &none()).complete());
    }

    #[test]
    fn only_the_bytes_not_written_are_asked_for() {
        let mut t = PartTable::new(3 * PART_SIZE, &[], &none());
        assert_eq!(t.gap(1), Some((PART_SIZE, 2 * PART_SIZE)));
        // A source wrote the first 100 KB of part 1 and died.
        assert!(t.wrote(PART_SIZE, PART_SIZE + 100_000, "a").is_empty());
        assert_eq!(t.gap(1), Some((PART_SIZE + 100_000, 2 * PART_SIZE)));
        // Something in the middle too: the gap ends there.
        t.wrote(PART_SIZE + 200_000, PART_SIZE + 300_000, "a");
        assert_eq!(t.gap(1), Some((PART_SIZE + 100_000, PART_SIZE + 200_000)));
        t.wrote(PART_SIZE + 100_000, PART_SIZE + 200_000, "a");
        assert_eq!(t.gap(1), Some((PART_SIZE + 300_000, 2 * PART_SIZE)));
        assert_eq!(t.wrote(PART_SIZE + 300_000, 2 * PART_SIZE, "a"), vec![1]);
        assert_eq!(t.gap(1), None);
        assert_eq!(t.sources(), ["a"]);
    }

    #[test]
    fn a_restart_keeps_what_was_written() {
        let mut written = RangeSet::default();
        // Part 0 whole, half of part 1, a foreign range past the end.
        written.insert(0..PART_SIZE + PART_SIZE / 2);
        written.insert(5 * PART_SIZE..6 * PART_SIZE);
        let mut t = PartTable::new(2 * PART_SIZE + 7, &[false, false, true], &written);
        assert_eq!(t.done(), [0, 2]);
        assert!(
            t.has_unowned_done(),
            "parts from an earlier run have no source"
        );
        assert_eq!(t.claim(), Some(1));
        assert_eq!(t.gap(1), Some((PART_SIZE + PART_SIZE / 2, 2 * PART_SIZE)));
        // Finished by a source: written partly by an earlier run, so no
        // single source answers for it.
        assert_eq!(
            t.wrote(PART_SIZE + PART_SIZE / 2, 2 * PART_SIZE, "b"),
            vec![1]
        );
        assert!(t.sources().is_empty());
        assert_eq!(t.done_bytes(), 2 * PART_SIZE + 7);
    }

    #[test]
    fn keeping_the_parts_of_one_source() {
        let mut t = PartTable::new(4 * PART_SIZE, &[true], &none());
        t.wrote(PART_SIZE, 3 * PART_SIZE, "good");
        t.wrote(3 * PART_SIZE, 4 * PART_SIZE, "bad");
        assert!(t.complete());
        assert_eq!(t.main_source().as_deref(), Some("good"));
        assert_eq!(t.sources(), ["bad", "good"]);
        assert!(t.has_unowned_done());
        // Part 0 came from an earlier run: not trusted either.
        assert_eq!(t.keep_only_from("good"), vec![0, 3]);
        assert_eq!(t.done_bytes(), 2 * PART_SIZE);
        assert_eq!(t.gap(3), Some((3 * PART_SIZE, 4 * PART_SIZE)));
        assert_eq!(t.claim(), Some(0));
        assert_eq!(t.claim(), Some(3));
        assert_eq!(t.main_source().as_deref(), Some("good"));
        assert!(!t.has_unowned_done());
        t.reset();
        assert_eq!(t.main_source(), None);
    }
}
