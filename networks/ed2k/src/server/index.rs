//! The sans-IO file index: who shares what, a word index over file names,
//! keyword search and source lookup.

use crate::proto::search::{ed2k_type_name, name_words, Matcher, SearchFile, SearchTree};
use crate::proto::server_msg::{is_low_id, FileEntry};
use crate::proto::tag::{file_size_tags, ids, Tag};
use std::collections::{BTreeMap, HashMap, HashSet};
use swarmux_net::names::cut_at_char;
use swarmux_net::FileKind;

/// Identifies one client connection.
pub type ConnId = u64;

/// Longest file name kept (bytes); longer names are cut.
const MAX_NAME_LEN: usize = 1024;

/// One client sharing a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceRec {
    pub client_id: u32,
    pub port: u16,
    pub complete: bool,
}

#[derive(Debug)]
struct FileRec {
    name: String,
    size: u64,
    file_type: String,
    ext: String,
    sources: HashMap<ConnId, SourceRec>,
}

/// Files and their sources, indexed by hash and by name words.
#[derive(Debug, Default)]
pub struct FileIndex {
    files: HashMap<[u8; 16], FileRec>,
    words: BTreeMap<String, HashSet<[u8; 16]>>,
    by_client: HashMap<ConnId, HashSet<[u8; 16]>>,
}

fn ext_of(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

impl FileIndex {
    /// Distinct files indexed.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Files a client shares.
    pub fn client_file_count(&self, conn: ConnId) -> usize {
        self.by_client.get(&conn).map_or(0, HashSet::len)
    }

    /// Adds (or updates) files a client offers, up to `max_files` per client.
    /// Offers are additive, as eMule and aMule publish only files not yet sent
    /// and use an empty offer as a keep-alive. Entries without a name or with
    /// size 0 are skipped. Returns how many entries were accepted.
    pub fn offer(
        &mut self,
        conn: ConnId,
        source: (u32, u16),
        entries: &[FileEntry],
        max_files: usize,
    ) -> usize {
        let mut accepted = 0;
        for e in entries {
            let (Some(name), Some(size)) = (e.name(), e.size()) else {
                continue;
            };
            if name.is_empty() || size == 0 {
                continue;
            }
            let mine = self.by_client.entry(conn).or_default();
            if !mine.contains(&e.hash) && mine.len() >= max_files {
                break;
            }
            mine.insert(e.hash);
            let rec = self.files.entry(e.hash).or_insert_with(|| {
                let name = cut_at_char(name, MAX_NAME_LEN).to_string();
                let ext = e
                    .format()
                    .map(|f| f.trim_start_matches('.').to_ascii_lowercase())
                    .filter(|f| !f.is_empty())
                    .unwrap_or_else(|| ext_of(&name));
                let file_type = e
                    .file_type()
                    .map(str::to_string)
                    .or_else(|| ed2k_type_name(FileKind::from_name(&name)).map(str::to_string))
                    .unwrap_or_default();
                for w in name_words(&name) {
                    self.words.entry(w).or_default().insert(e.hash);
                }
                FileRec {
                    name,
                    size,
                    file_type,
                    ext,
                    sources: HashMap::new(),
                }
            });
            rec.sources.insert(
                conn,
                SourceRec {
                    client_id: source.0,
                    port: source.1,
                    complete: e.is_complete(),
                },
            );
            accepted += 1;
        }
        accepted
    }

    /// Forgets every file of a client; files left without sources disappear.
    pub fn remove_client(&mut self, conn: ConnId) {
        let Some(hashes) = self.by_client.remove(&conn) else {
            return;
        };
        for h in hashes {
            let Some(rec) = self.files.get_mut(&h) else {
                continue;
            };
            rec.sources.remove(&conn);
            if rec.sources.is_empty() {
                if let Some(rec) = self.files.remove(&h) {
                    for w in name_words(&rec.name) {
                        if let Some(set) = self.words.get_mut(&w) {
                            set.remove(&h);
                            if set.is_empty() {
                                self.words.remove(&w);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Sources of a file other than `except`, at most `max`; low-id sources
    /// only when `include_low` (a low-id requester cannot reach them).
    pub fn sources(
        &self,
        hash: &[u8; 16],
        except: ConnId,
        include_low: bool,
        max: usize,
    ) -> Vec<SourceRec> {
        let Some(rec) = self.files.get(hash) else {
            return Vec::new();
        };
        let mut v: Vec<(ConnId, SourceRec)> = rec
            .sources
            .iter()
            .filter(|(c, s)| **c != except && (include_low || !is_low_id(s.client_id)))
            .map(|(c, s)| (*c, *s))
            .collect();
        v.sort_by_key(|(c, s)| (!s.complete, *c));
        v.into_iter().take(max).map(|(_, s)| s).collect()
    }

    /// Files matching a search tree, most sources first, at most `max`, one
    /// entry per hash with summed source counts. Files over 4 GiB only when
    /// `large_files`. The work is capped (see [`SearchJob`]).
    pub fn search(&self, tree: &SearchTree, max: usize, large_files: bool) -> Vec<FileEntry> {
        let mut job = self.search_job(tree, large_files);
        while !self.search_step(&mut job, SEARCH_WORK) {}
        self.search_results(job, max)
    }

    /// Starts a search: the candidate files, narrowed by the word index
    /// where the tree allows (an AND takes its narrower side, an OR the union
    /// of both), at most [`MAX_CANDIDATES`]; run it with [`Self::search_step`].
    pub fn search_job(&self, tree: &SearchTree, large_files: bool) -> SearchJob {
        let mut visits = MAX_CANDIDATES;
        let candidates = match self.candidates(tree, &mut visits) {
            Some(set) => set.into_iter().collect(),
            None => self.files.keys().take(MAX_CANDIDATES).copied().collect(),
        };
        SearchJob {
            matcher: Matcher::new(tree),
            candidates,
            next: 0,
            work_left: SEARCH_WORK,
            large_files,
            hits: Vec::new(),
        }
    }

    /// The files that can match `tree`, `None` for "any file". Every hash
    /// looked at takes one of `visits`; when they run out the set is cut.
    fn candidates(&self, tree: &SearchTree, visits: &mut usize) -> Option<HashSet<[u8; 16]>> {
        match tree {
            SearchTree::Keyword(k) => {
                let mut set = HashSet::new();
                // The longest word narrows most; no word matches nothing.
                let Some(w) = name_words(k).into_iter().max_by_key(|w| w.len()) else {
                    return Some(set);
                };
                'words: for (_, hashes) in self
                    .words
                    .range(w.clone()..)
                    .take_while(|(k, _)| k.starts_with(w.as_str()))
                {
                    for h in hashes {
                        if *visits == 0 {
                            break 'words;
                        }
                        *visits -= 1;
                        set.insert(*h);
                    }
                }
                Some(set)
            }
            SearchTree::And(a, b) => match (self.candidates(a, visits), self.candidates(b, visits))
            {
                (Some(x), Some(y)) => Some(if x.len() <= y.len() { x } else { y }),
                (x, y) => x.or(y),
            },
            SearchTree::AndNot(a, _) => self.candidates(a, visits),
            SearchTree::Or(a, b) => {
                let mut x = self.candidates(a, visits)?;
                let y = self.candidates(b, visits)?;
                x.extend(y);
                Some(x)
            }
            SearchTree::MetaStr { .. } | SearchTree::Numeric { .. } => None,
        }
    }

    /// Matches candidates until about `work` units are spent (see
    /// [`Matcher::cost`]); true when the job is done (every candidate
    /// looked at, or its whole budget spent).
    pub fn search_step(&self, job: &mut SearchJob, work: u64) -> bool {
        let mut spent = 0u64;
        while spent < work && job.work_left > 0 {
            let Some(h) = job.candidates.get(job.next) else {
                return true;
            };
            job.next += 1;
            let Some(rec) = self.files.get(h) else {
                continue;
            };
            if !job.large_files && rec.size > u64::from(u32::MAX) {
                continue;
            }
            let words = name_words(&rec.name);
            let sources = rec.sources.len().min(u32::MAX as usize) as u32;
            let complete = if job.matcher.needs_complete_sources() {
                complete_count(rec)
            } else {
                0
            };
            let cost = job.matcher.cost(words.len()) + rec.name.len() as u64;
            let f = SearchFile {
                name: &rec.name,
                size: rec.size,
                file_type: &rec.file_type,
                ext: &rec.ext,
                sources,
                complete_sources: complete,
            };
            if job.matcher.matches(&f, &words) {
                job.hits.push((sources, *h));
            }
            spent += cost;
            job.work_left = job.work_left.saturating_sub(cost);
        }
        job.work_left == 0 || job.next >= job.candidates.len()
    }

    /// The answer of a finished job: most sources first, at most `max`.
    pub fn search_results(&self, mut job: SearchJob, max: usize) -> Vec<FileEntry> {
        job.hits
            .sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        job.hits
            .iter()
            .filter_map(|(_, h)| Some((h, self.files.get(h)?)))
            .take(max)
            .map(|(h, rec)| result_entry(h, rec))
            .collect()
    }
}

/// How many of a file's sources have all of it.
fn complete_count(rec: &FileRec) -> u32 {
    rec.sources.values().filter(|s| s.complete).count() as u32
}

/// A search result: name, size, type, format and source counts, with the
/// best source's id and port.
fn result_entry(h: &[u8; 16], rec: &FileRec) -> FileEntry {
    let best = rec
        .sources
        .iter()
        .min_by_key(|(c, s)| (is_low_id(s.client_id), !s.complete, **c))
        .map(|(_, s)| *s);
    let mut tags = vec![Tag::str(ids::NAME, rec.name.clone())];
    tags.extend(file_size_tags(rec.size));
    if !rec.file_type.is_empty() {
        tags.push(Tag::str(ids::TYPE, rec.file_type.clone()));
    }
    if !rec.ext.is_empty() {
        tags.push(Tag::str(ids::FORMAT, rec.ext.clone()));
    }
    let sources = rec.sources.len().min(u32::MAX as usize) as u32;
    tags.push(Tag::u32(ids::SOURCES, sources));
    tags.push(Tag::u32(ids::COMPLETE_SOURCES, complete_count(rec)));
    FileEntry {
        hash: *h,
        client_id: best.map_or(0, |s| s.client_id),
        port: best.map_or(0, |s| s.port),
        tags,
    }
}

/// Most files one search looks at.
pub const MAX_CANDIDATES: usize = 100_000;
/// The work one search may cost, in [`Matcher::cost`] units plus name bytes
/// (some 15 ms of CPU); a search over it answers with what it
/// found so far, as real servers cap their searches.
pub const SEARCH_WORK: u64 = 5_000_000;

/// A search under way: what is left to look at and what matched so far.
/// It holds no reference into the index, so the index may change (and its
/// lock be released) between steps; files gone meanwhile are skipped.
#[derive(Debug)]
pub struct SearchJob {
    matcher: Matcher,
    candidates: Vec<[u8; 16]>,
    next: usize,
    work_left: u64,
    large_files: bool,
    /// (sources, hash) of each match.
    hits: Vec<(u32, [u8; 16])>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::search::NumOp;
    use crate::proto::tag::TagName;

    fn kw(s: &str) -> SearchTree {
        SearchTree::Keyword(s.into())
    }

    #[test]
    fn offer_search_remove() {
        let mut ix = FileIndex::default();
        let a = FileEntry::offer([1; 16], "Ubuntu 24.04 Desktop.iso", 5000, true);
        let b = FileEntry::offer([2; 16], "ubuntu-beta.iso", 6000, false);
        let c = FileEntry::offer([3; 16], "Holiday Video.mkv", 7000, true);
        assert_eq!(ix.offer(1, (0x0100_007F, 4662), &[a.clone(), b, c], 10), 3);
        assert_eq!(ix.offer(2, (5, 4663), &[a], 10), 1);
        // Empty offer is a keep-alive.
        assert_eq!(ix.offer(2, (5, 4663), &[], 10), 0);
        assert_eq!(ix.client_file_count(2), 1);
        let t = SearchTree::AndNot(Box::new(kw("ubuntu")), Box::new(kw("beta")));
        let r = ix.search(&t, 10, true);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].sources(), Some(2));
        assert_eq!(r[0].complete_sources(), Some(2));
        assert_eq!(r[0].client_id, 0x0100_007F);
        let size = SearchTree::And(
            Box::new(kw("ubu")),
            Box::new(SearchTree::Numeric {
                tag: TagName::Id(ids::SIZE),
                op: NumOp::GreaterEqual,
                value: 5500,
            }),
        );
        assert_eq!(ix.search(&size, 10, true)[0].hash, [2; 16]);
        let ty = SearchTree::MetaStr {
            tag: TagName::Id(ids::TYPE),
            value: "Video".into(),
        };
        assert_eq!(ix.search(&ty, 10, true)[0].hash, [3; 16]);
        assert_eq!(ix.sources(&[1; 16], 2, true, 10).len(), 1);
        assert!(ix.sources(&[1; 16], 1, false, 10).is_empty());
        ix.remove_client(1);
        assert_eq!(ix.file_count(), 1);
        assert!(ix.search(&kw("holiday"), 10, true).is_empty());
        assert!(ix.words.keys().all(|w| w != "holiday"));
    }

    #[test]
    fn per_client_cap() {
        let mut ix = FileIndex::default();
        let files: Vec<_> = (0..5u8)
            .map(|i| FileEntry::offer([i; 16], &format!("f{i}.txt"), 10, true))
            .collect();
        assert_eq!(ix.offer(1, (1, 1), &files, 3), 3);
        assert_eq!(ix.client_file_count(1), 3);
    }
}

#[cfg(test)]
pub(crate) mod cost_tests {
    use super::*;
    use crate::proto::search::tests::balanced_or;
    use crate::proto::search::MAX_SEARCH_TERMS;

    /// `n` files whose names share ten words.
    pub(crate) fn many_files(n: u32) -> Vec<FileEntry> {
        let words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet";
        (0..n)
            .map(|i| {
                let mut h = [0u8; 16];
                h[..4].copy_from_slice(&i.to_le_bytes());
                FileEntry::offer(h, &format!("{words} {i} kilo lima.mkv"), 1000, true)
            })
            .collect()
    }

    /// The heaviest tree a client may send: every term a one-letter keyword
    /// that matches every file.
    pub(crate) fn heaviest_tree() -> SearchTree {
        let letter = |i: usize| ["a", "b", "c", "d", "e", "f"][i % 6].to_string();
        balanced_or(MAX_SEARCH_TERMS, &letter)
    }

    #[test]
    fn the_heaviest_search_is_bounded_and_runs_in_slices() {
        let mut ix = FileIndex::default();
        assert_eq!(
            ix.offer(1, (0x0100_007F, 4662), &many_files(10_000), 20_000),
            10_000
        );
        let t = std::time::Instant::now();
        let mut job = ix.search_job(&heaviest_tree(), true);
        let mut slices = 1;
        while !ix.search_step(&mut job, SEARCH_WORK / 20) {
            slices += 1;
        }
        let spent = SEARCH_WORK - job.work_left;
        let looked_at = job.next;
        let hits = ix.search_results(job, 300);
        eprintln!(
            "heaviest search over 10,000 files: {:?} in {slices} slices, {spent} units, {looked_at} files looked at",
            t.elapsed()
        );
        assert_eq!(hits.len(), 300);
        assert!((20..=21).contains(&slices), "{slices}");
        assert!(looked_at < 10_000, "the budget did not cut the search");
    }

    #[test]
    fn an_or_search_looks_only_at_files_with_its_words() {
        let mut ix = FileIndex::default();
        let mut files = many_files(1000);
        files.push(FileEntry::offer([0xEE; 16], "zulu.txt", 5, true));
        files.push(FileEntry::offer([0xEF; 16], "yankee.txt", 5, true));
        ix.offer(1, (0x0100_007F, 4662), &files, 20_000);
        let t = SearchTree::Or(
            Box::new(SearchTree::Keyword("zul".into())),
            Box::new(SearchTree::Keyword("yankee".into())),
        );
        let job = ix.search_job(&t, true);
        assert_eq!(job.candidates.len(), 2);
        assert_eq!(ix.search(&t, 10, true).len(), 2);
    }
}
