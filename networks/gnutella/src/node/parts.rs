//! Which 1 MiB parts of a download are on disk, being fetched or missing.
//!
//! Gnutella names a file only by its whole SHA-1, so a part is "verified"
//! when it arrived completely as the answer to the range we asked for; the
//! whole file is checked against its `urn:sha1` once every part is in. Each
//! part remembers its source, so that after a failed check the parts of one
//! source can be kept and the rest fetched again from it alone.

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

/// The parts of one file.
#[derive(Debug, Clone)]
pub struct PartTable {
    size: u64,
    states: Vec<PartState>,
    /// The source of each done part (`None`: from an earlier run).
    owners: Vec<Option<String>>,
}

/// Number of parts of a file of `size` bytes.
pub fn part_count(size: u64) -> usize {
    usize::try_from(size.div_ceil(PART_SIZE)).unwrap_or(usize::MAX)
}

impl Default for PartTable {
    fn default() -> Self {
        PartTable::new(0, &[])
    }
}

impl PartTable {
    /// A table for `size` bytes, with the parts `verified` already done.
    pub fn new(size: u64, verified: &[bool]) -> Self {
        let states = (0..part_count(size))
            .map(|i| {
                if verified.get(i).copied().unwrap_or(false) {
                    PartState::Done
                } else {
                    PartState::Missing
                }
            })
            .collect();
        PartTable {
            size,
            states,
            owners: vec![None; part_count(size)],
        }
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

    /// Takes the first missing part for a source.
    pub fn claim(&mut self) -> Option<usize> {
        let i = self.states.iter().position(|s| *s == PartState::Missing)?;
        self.states[i] = PartState::Busy;
        Some(i)
    }

    /// Gives a busy part back (its source failed).
    pub fn release(&mut self, i: usize) {
        if let Some(s) = self.states.get_mut(i) {
            if *s == PartState::Busy {
                *s = PartState::Missing;
            }
        }
    }

    /// Marks done every part lying wholly inside `[start, end)`, as sent by
    /// source `by`; returns the parts that were not done before.
    pub fn covered(&mut self, start: u64, end: u64, by: &str) -> Vec<usize> {
        let mut out = Vec::new();
        for i in 0..self.states.len() {
            let (a, b) = self.range(i);
            if a >= start && b <= end && self.states[i] != PartState::Done {
                self.states[i] = PartState::Done;
                self.owners[i] = Some(by.to_string());
                out.push(i);
            }
        }
        out
    }

    /// The sources of the done parts.
    pub fn sources(&self) -> Vec<String> {
        let mut v: Vec<String> = self.owners.iter().flatten().cloned().collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// True when some done part has no known source (it is from an earlier run).
    pub fn has_unowned_done(&self) -> bool {
        (0..self.states.len())
            .any(|i| self.states[i] == PartState::Done && self.owners[i].is_none())
    }

    /// The source that sent the most done parts, if any did.
    pub fn main_source(&self) -> Option<String> {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for o in self.owners.iter().flatten() {
            match counts.iter_mut().find(|(k, _)| k == o) {
                Some((_, n)) => *n += 1,
                None => counts.push((o, 1)),
            }
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(k, _)| k.to_string())
    }

    /// Keeps the done parts that `source` sent and forgets every other one;
    /// returns the parts forgotten.
    pub fn keep_only_from(&mut self, source: &str) -> Vec<usize> {
        let mut out = Vec::new();
        for i in 0..self.states.len() {
            if self.owners[i].as_deref() != Some(source) {
                if self.states[i] == PartState::Done {
                    out.push(i);
                }
                self.states[i] = PartState::Missing;
                self.owners[i] = None;
            }
        }
        out
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
        (0..self.states.len())
            .filter(|&i| self.states[i] == PartState::Done)
            .map(|i| {
                let (a, b) = self.range(i);
                b - a
            })
            .sum()
    }

    /// Forgets everything (the whole file failed verification).
    pub fn reset(&mut self) {
        self.states.fill(PartState::Missing);
        self.owners.fill(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_cover_release() {
        let size = 2 * PART_SIZE + 10;
        let mut t = PartTable::new(size, &[false, true]);
        assert_eq!(t.len(), 3);
        assert_eq!(t.range(2), (2 * PART_SIZE, size));
        assert_eq!(t.claim(), Some(0));
        assert_eq!(t.claim(), Some(2));
        assert_eq!(t.claim(), None);
        t.release(2);
        assert_eq!(t.covered(0, PART_SIZE, "a"), vec![0]);
        assert!(!t.complete());
        assert_eq!(t.covered(0, size, "b"), vec![2]);
        assert!(t.complete());
        assert_eq!(t.done_bytes(), size);
        t.reset();
        assert_eq!(t.done_bytes(), 0);
        assert!(PartTable::new(0, &[]).complete());
    }

    #[test]
    fn keeping_the_parts_of_one_source() {
        let mut t = PartTable::new(4 * PART_SIZE, &[true]);
        t.covered(PART_SIZE, 3 * PART_SIZE, "good");
        t.covered(3 * PART_SIZE, 4 * PART_SIZE, "bad");
        assert!(t.complete());
        assert_eq!(t.main_source().as_deref(), Some("good"));
        assert_eq!(t.sources(), ["bad", "good"]);
        assert!(t.has_unowned_done());
        // Part 0 came from an earlier run: not trusted either.
        assert_eq!(t.keep_only_from("good"), vec![0, 3]);
        assert_eq!(t.done_bytes(), 2 * PART_SIZE);
        assert_eq!(t.claim(), Some(0));
        assert_eq!(t.claim(), Some(3));
        assert_eq!(t.main_source().as_deref(), Some("good"));
        assert!(!t.has_unowned_done());
        t.reset();
        assert_eq!(t.main_source(), None);
    }
}
