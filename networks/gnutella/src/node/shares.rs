//! The shared files as Gnutella sees them: indexes for `/get/`, SHA-1 URNs,
//! the QRP table a leaf sends, and matching incoming queries.

use crate::proto::extensions::ExtensionArea;
use crate::proto::huge::Sha1Urn;
use crate::proto::qrp::{keywords, QrpTable, DEFAULT_TABLE_BITS};
use crate::proto::query::{Query, URN_ONLY_TEXT};
use crate::proto::query_hit::HitResult;
use std::collections::HashMap;
use swarmux_net::SharedFile;

/// Most results given to one query (sent as several hits, see
/// [`crate::proto::query_hit::split_results`]).
pub const MAX_RESULTS: usize = 50;

/// One shared file.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The file index used in hits and `/get/INDEX/NAME` (1-based).
    pub index: u32,
    lower: String,
    pub urn: Sha1Urn,
    /// The file as the engine hashed it (served only while it is still
    /// that file, see [`swarmux_net::open_shared`]).
    pub file: SharedFile,
}

/// Every shared file, indexed.
#[derive(Debug, Clone)]
pub struct ShareIndex {
    files: Vec<Shared>,
    by_urn: HashMap<Sha1Urn, usize>,
    qrp: QrpTable,
    total_bytes: u64,
}

impl Default for ShareIndex {
    fn default() -> Self {
        ShareIndex::new(&[])
    }
}

impl ShareIndex {
    /// Indexes the engine's share list (indexes follow its order).
    pub fn new(files: &[SharedFile]) -> Self {
        let mut qrp = QrpTable::new(DEFAULT_TABLE_BITS);
        let mut out = Vec::with_capacity(files.len());
        let mut by_urn = HashMap::new();
        for (i, f) in files.iter().enumerate() {
            let urn = Sha1Urn(f.sha1);
            qrp.add_file(&f.name, Some(&urn));
            by_urn.entry(urn).or_insert(i);
            out.push(Shared {
                index: i as u32 + 1,
                lower: f.name.to_lowercase(),
                urn,
                file: f.clone(),
            });
        }
        ShareIndex {
            total_bytes: out.iter().map(|f| f.file.size).sum(),
            files: out,
            by_urn,
            qrp,
        }
    }

    /// The QRP table of these files.
    pub fn qrp(&self) -> &QrpTable {
        &self.qrp
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when nothing is shared.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Total shared kilobytes (for pongs).
    pub fn kbytes(&self) -> u32 {
        u32::try_from(self.total_bytes / 1024).unwrap_or(u32::MAX)
    }

    /// The file with this SHA-1.
    pub fn by_urn(&self, urn: &Sha1Urn) -> Option<&Shared> {
        self.by_urn.get(urn).and_then(|&i| self.files.get(i))
    }

    /// The file with this index.
    pub fn by_index(&self, index: u32) -> Option<&Shared> {
        let i = usize::try_from(index).ok()?.checked_sub(1)?;
        self.files.get(i)
    }

    /// The results answering `q`: files with one of its URNs, or whose name
    /// contains every keyword of its text.
    pub fn matches(&self, q: &Query) -> Vec<HitResult> {
        let hits: Vec<&Shared> = if !q.ext.urns.is_empty() {
            q.ext.urns.iter().filter_map(|u| self.by_urn(u)).collect()
        } else {
            let words = keywords(&q.text);
            if words.is_empty() || q.text == URN_ONLY_TEXT || !self.qrp.matches(&q.text, &[]) {
                return Vec::new();
            }
            self.files
                .iter()
                .filter(|f| words.iter().all(|w| f.lower.contains(w.as_str())))
                .collect()
        };
        hits.into_iter()
            .take(MAX_RESULTS)
            .map(|f| HitResult {
                index: f.index,
                size: f.file.size,
                name: f.file.name.clone(),
                ext: ExtensionArea {
                    urns: vec![f.urn],
                    ..ExtensionArea::default()
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn file(name: &str, sha: u8) -> SharedFile {
        SharedFile {
            path: PathBuf::from(format!("/tmp/{name}")),
            name: name.into(),
            size: 10,
            modified: 0,
            ed2k: [0; 16],
            ed2k_parts: vec![],
            sha1: [sha; 20],
        }
    }

    #[test]
    fn matches_keywords_and_urns() {
        let idx = ShareIndex::new(&[file("Sintel.Trailer.mkv", 1), file("other.txt", 2)]);
        assert_eq!(idx.matches(&Query::keywords("sintel trail")).len(), 1);
        assert!(idx.matches(&Query::keywords("sintel missing")).is_empty());
        assert!(idx.matches(&Query::keywords("a")).is_empty());
        let by_urn = idx.matches(&Query::by_urn(Sha1Urn([2; 20])));
        assert_eq!(by_urn[0].name, "other.txt");
        assert_eq!(
            idx.by_index(by_urn[0].index).unwrap().file.name,
            "other.txt"
        );
        assert!(idx.by_index(0).is_none());
    }
}
