//! Which byte ranges of an unfinished download are written to its temp file,
//! kept across restarts (eMule keeps the gaps of a part file; libtorrent keeps
//! block bitfields in its resume data), so that after a crash or `kill -9`
//! only the blocks that were in flight are fetched again.
//!
//! The record is an append-only log beside the data, `DATA/written/<id>`: a
//! magic line, then one 17-byte record per change (`+` or `-`, start and end
//! as little-endian u64). A record is appended after its data was written, so
//! a torn last record (a crash mid-append) only loses that block. Nothing is
//! synced: a killed process loses nothing the kernel already has, and after a
//! power cut every part is verified against its hash before it counts, so a
//! stale record costs a re-fetch, never bad data. The log is rewritten
//! compactly when it grows to many times what it describes.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// The first bytes of a log.
const MAGIC: &[u8; 8] = b"SWXWR01\n";
/// Bytes per record.
const RECORD: usize = 17;
/// The largest log read back; a longer one is cut there (compaction keeps
/// real logs far below it).
const MAX_LOG_BYTES: u64 = 32 << 20;
/// Records appended before a compaction is considered.
const COMPACT_AFTER: usize = 4096;

/// The log of download `id` under the data dir.
pub fn log_path(data_dir: &Path, id: u64) -> PathBuf {
    data_dir.join("written").join(id.to_string())
}

/// Deletes the log of download `id` (it finished or was cancelled); a missing
/// log is no error.
pub fn forget_download(data_dir: &Path, id: u64) -> io::Result<()> {
    match std::fs::remove_file(log_path(data_dir, id)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Disjoint, non-adjacent half-open byte ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start → end.
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// Adds `r` (merging with what it touches).
    pub fn insert(&mut self, r: Range<u64>) {
        if r.start >= r.end {
            return;
        }
        let (mut start, mut end) = (r.start, r.end);
        // The range starting at or before `start` may reach into `r`.
        if let Some((&s, &e)) = self.ranges.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
            }
        }
        let touching: Vec<u64> = self.ranges.range(start..=end).map(|(&s, _)| s).collect();
        for s in touching {
            if let Some(e) = self.ranges.remove(&s) {
                end = end.max(e);
            }
        }
        self.ranges.insert(start, end);
    }

    /// Removes `r`, splitting ranges it cuts through.
    pub fn remove(&mut self, r: Range<u64>) {
        if r.start >= r.end {
            return;
        }
        let first = self
            .ranges
            .range(..r.start)
            .next_back()
            .filter(|(_, &e)| e > r.start)
            .map(|(&s, _)| s);
        let inside: Vec<u64> = first
            .into_iter()
            .chain(self.ranges.range(r.start..r.end).map(|(&s, _)| s))
            .collect();
        for s in inside {
            let Some(e) = self.ranges.remove(&s) else {
                continue;
            };
            if s < r.start {
                self.ranges.insert(s, r.start);
            }
            if e > r.end {
                self.ranges.insert(r.end, e);
            }
        }
    }

    /// True when every byte of `r` is in the set.
    pub fn contains(&self, r: Range<u64>) -> bool {
        if r.start >= r.end {
            return true;
        }
        self.ranges
            .range(..=r.start)
            .next_back()
            .is_some_and(|(_, &e)| e >= r.end)
    }

    /// How many bytes of `r` are in the set.
    pub fn covered(&self, r: Range<u64>) -> u64 {
        self.iter()
            .map(|x| x.end.min(r.end).saturating_sub(x.start.max(r.start)))
            .sum()
    }

    /// The ranges, in order.
    pub fn iter(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.ranges.iter().map(|(&s, &e)| s..e)
    }

    /// Number of disjoint ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// True when nothing is in the set.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Total bytes in the set.
    pub fn bytes(&self) -> u64 {
        self.iter().map(|r| r.end - r.start).sum()
    }
}

/// The written ranges of one download, with the log that keeps them.
#[derive(Debug)]
pub struct WrittenLog {
    path: PathBuf,
    file: File,
    set: RangeSet,
    appended: usize,
}

impl WrittenLog {
    /// Opens (or starts) the log at `path`, reading back what it records.
    /// A log that is not one (wrong magic) is started afresh.
    pub fn open(path: &Path) -> io::Result<WrittenLog> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let set = read_log(path).unwrap_or_default();
        Ok(WrittenLog {
            path: path.to_path_buf(),
            file: rewrite(path, &set)?,
            set,
            appended: 0,
        })
    }

    /// What the log says is written.
    pub fn ranges(&self) -> &RangeSet {
        &self.set
    }

    /// Records that `r` was written (call after the data write returned).
    pub fn record(&mut self, r: Range<u64>) -> io::Result<()> {
        if self.set.contains(r.clone()) {
            return Ok(());
        }
        self.set.insert(r.clone());
        self.append(b'+', r)
    }

    /// Records that `r` no longer holds good data (its part failed its check).
    pub fn forget(&mut self, r: Range<u64>) -> io::Result<()> {
        if self.set.covered(r.clone()) == 0 {
            return Ok(());
        }
        self.set.remove(r.clone());
        self.append(b'-', r)
    }

    fn append(&mut self, op: u8, r: Range<u64>) -> io::Result<()> {
        let mut rec = [0u8; RECORD];
        rec[0] = op;
        rec[1..9].copy_from_slice(&r.start.to_le_bytes());
        rec[9..17].copy_from_slice(&r.end.to_le_bytes());
        self.file.write_all(&rec)?;
        self.appended += 1;
        if self.appended >= COMPACT_AFTER && self.appended > 4 * self.set.len() {
            self.file = rewrite(&self.path, &self.set)?;
            self.appended = 0;
        }
        Ok(())
    }
}

/// The set a log records; `None` when there is no log or it is not one.
fn read_log(path: &Path) -> Option<RangeSet> {
    let mut bytes = Vec::new();
    File::open(path)
        .ok()?
        .take(MAX_LOG_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    let body = bytes.strip_prefix(MAGIC.as_slice())?;
    let mut set = RangeSet::default();
    // A torn last record (shorter than RECORD) is ignored.
    for rec in body.chunks_exact(RECORD) {
        let start = u64::from_le_bytes(rec[1..9].try_into().ok()?);
        let end = u64::from_le_bytes(rec[9..17].try_into().ok()?);
        match rec[0] {
            b'+' => set.insert(start..end),
            b'-' => set.remove(start..end),
            _ => return Some(set),
        }
    }
    Some(set)
}

/// Writes `set` as a fresh log (temp file, then rename) and returns it open
/// for appending.
fn rewrite(path: &Path, set: &RangeSet) -> io::Result<File> {
    let tmp = path.with_extension("tmp");
    let mut body = Vec::with_capacity(MAGIC.len() + set.len() * RECORD);
    body.extend_from_slice(MAGIC);
    for r in set.iter() {
        body.push(b'+');
        body.extend_from_slice(&r.start.to_le_bytes());
        body.extend_from_slice(&r.end.to_le_bytes());
    }
    {
        let mut f = private_file(&tmp, true)?;
        f.write_all(&body)?;
    }
    std::fs::rename(&tmp, path)?;
    private_file(path, false)
}

fn private_file(path: &Path, truncate: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    o.mode(0o600);
    if truncate {
        o.write(true).create(true).truncate(true);
    } else {
        o.append(true);
    }
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges_merge_split_and_answer() {
        let mut s = RangeSet::default();
        s.insert(10..20);
        s.insert(30..40);
        s.insert(20..30);
        assert_eq!((s.len(), s.bytes()), (1, 30));
        assert!(s.contains(10..40));
        s.remove(15..25);
        assert_eq!(s.iter().collect::<Vec<_>>(), [10..15, 25..40]);
        assert!(s.contains(25..40));
        assert!(!s.contains(14..16));
        assert_eq!(s.covered(0..100), 20);
        assert_eq!(s.bytes(), 20);
    }

    #[test]
    fn the_log_survives_a_restart_and_a_torn_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(dir.path(), 7);
        {
            let mut log = WrittenLog::open(&path).unwrap();
            log.record(0..100).unwrap();
            log.record(200..300).unwrap();
            log.forget(250..300).unwrap();
        }
        // A crash in the middle of the next append.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[b'+', 1, 2, 3]).unwrap();
        let log = WrittenLog::open(&path).unwrap();
        assert_eq!(log.ranges().iter().collect::<Vec<_>>(), [0..100, 200..250]);
        forget_download(dir.path(), 7).unwrap();
        assert!(!path.exists());
        forget_download(dir.path(), 7).unwrap();
    }

    #[test]
    fn a_foreign_file_is_not_read_as_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, vec![b'+'; 1000]).unwrap();
        assert!(WrittenLog::open(&path).unwrap().ranges().is_empty());
    }

    #[test]
    fn the_log_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        let mut log = WrittenLog::open(&path).unwrap();
        for i in 0..10_000u64 {
            log.record(i * 10..i * 10 + 10).unwrap();
        }
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(len < MAGIC.len() + (COMPACT_AFTER + 2) * RECORD, "{len}");
        drop(log);
        let log = WrittenLog::open(&path).unwrap();
        assert_eq!(log.ranges().len(), 1);
        assert!(log.ranges().contains(0..100_000));
    }

    proptest! {
        #[test]
        fn the_set_matches_a_byte_map(ops in proptest::collection::vec((any::<bool>(), 0u64..200, 0u64..40), 0..60)) {
            let mut s = RangeSet::default();
            let mut model = [false; 240];
            for (add, start, len) in ops {
                let r = start..start + len;
                if add { s.insert(r.clone()) } else { s.remove(r.clone()) }
                for b in &mut model[r.start as usize..r.end as usize] { *b = add; }
            }
            for (i, &b) in model.iter().enumerate() {
                prop_assert_eq!(s.contains(i as u64..i as u64 + 1), b);
            }
            // Ranges stay disjoint and non-adjacent.
            let v: Vec<_> = s.iter().collect();
            for w in v.windows(2) { prop_assert!(w[0].end < w[1].start); }
        }
    }
}
