//! The sans-IO file index: who shares what, a word index over file names,
//! keyword search and source lookup.

use crate::proto::search::{ed2k_type_name, name_words, SearchFile, SearchTree};
use crate::proto::server_msg::{is_low_id, FileEntry};
use crate::proto::tag::{file_size_tags, ids, Tag};
use std::collections::{BTreeMap, HashMap, HashSet};
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

fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
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
                let name = cut(name, MAX_NAME_LEN);
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
    /// `large_files`.
    pub fn search(&self, tree: &SearchTree, max: usize, large_files: bool) -> Vec<FileEntry> {
        let candidates: Vec<&[u8; 16]> = match tree.required_word() {
            Some(w) => {
                let mut seen = HashSet::new();
                self.words
                    .range(w.clone()..)
                    .take_while(|(k, _)| k.starts_with(w.as_str()))
                    .flat_map(|(_, set)| set.iter())
                    .filter(|h| seen.insert(*h))
                    .collect()
            }
            None => self.files.keys().collect(),
        };
        let mut hits: Vec<(&[u8; 16], &FileRec, u32, u32)> = Vec::new();
        for h in candidates {
            let Some(rec) = self.files.get(h) else {
                continue;
            };
            if !large_files && rec.size > u64::from(u32::MAX) {
                continue;
            }
            let sources = rec.sources.len().min(u32::MAX as usize) as u32;
            let complete = rec.sources.values().filter(|s| s.complete).count() as u32;
            let f = SearchFile {
                name: &rec.name,
                size: rec.size,
                file_type: &rec.file_type,
                ext: &rec.ext,
                sources,
                complete_sources: complete,
            };
            if tree.matches(&f) {
                hits.push((h, rec, sources, complete));
            }
        }
        hits.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.name.cmp(&b.1.name)));
        hits.truncate(max);
        hits.into_iter()
            .map(|(h, rec, sources, complete)| {
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
                tags.push(Tag::u32(ids::SOURCES, sources));
                tags.push(Tag::u32(ids::COMPLETE_SOURCES, complete));
                FileEntry {
                    hash: *h,
                    client_id: best.map_or(0, |s| s.client_id),
                    port: best.map_or(0, |s| s.port),
                    tags,
                }
            })
            .collect()
    }
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
