//! The local library as a search source: the torrents the engine gave the
//! network (queued and finished downloads) and the `.torrent` files in the
//! watch folder (also `*.torrent.added`) and in `DATA/torrents/`, where the
//! engine keeps the ones it fetched or took from the watch folder.
//!
//! Names are indexed: the torrent's name and, for a multi-file torrent, each
//! file's path below it. Recording a download is cheap (the engine's loop
//! calls it); everything that reads or decodes (torrent files, persisted
//! state) happens in [`Library::search`], which runs on the blocking pool
//! and caches what it parsed, files by path, size and modification time.

use crate::proto::{Info, Magnet};
use crate::session::meta::{read_torrent, TorrentMeta};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use swarmux_net::magnet::is_magnet;
use swarmux_net::{ContentHash, DownloadId, DownloadSpec, SearchHit, SearchRequest};

/// Most hits one search gets from the library.
pub const MAX_LIBRARY_HITS: usize = 200;
/// Most `.torrent` files looked at in one folder.
pub const MAX_DIR_FILES: usize = 10_000;
/// Most file paths indexed for one torrent.
pub const MAX_INDEXED_FILES: usize = 10_000;
/// Most trackers put in a library hit's magnet link.
const MAX_LINK_TRACKERS: usize = 20;

/// One torrent of the library, as the search sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    name: String,
    size: u64,
    info_hash: [u8; 20],
    /// `name/path` of each file of a multi-file torrent.
    paths: Vec<String>,
    /// What `get` takes to fetch it again.
    link: String,
}

/// The library: torrents recorded from the engine's commands, and the
/// cache of parsed `.torrent` files.
#[derive(Default)]
pub struct Library {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    given: HashMap<DownloadId, Given>,
    files: HashMap<PathBuf, CachedFile>,
}

/// A download the engine gave the network.
enum Given {
    /// Not parsed yet.
    Spec(Arc<DownloadSpec>),
    /// Parsed (`None`: unusable, e.g. a magnet whose size is unknown yet).
    Indexed(Option<Arc<Entry>>),
}

struct CachedFile {
    stamp: (SystemTime, u64),
    entry: Option<Arc<Entry>>,
}

impl Library {
    /// An empty library.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a download the engine started or seeds (replacing an older record).
    pub fn remember(&self, spec: &DownloadSpec) {
        self.lock()
            .given
            .insert(spec.id, Given::Spec(Arc::new(spec.clone())));
    }

    /// Forgets a cancelled download.
    pub fn forget(&self, id: DownloadId) {
        self.lock().given.remove(&id);
    }

    /// The library's torrents that match `req`, searching `dirs` for
    /// `.torrent` files too. Blocking (reads files): call it off the async threads.
    pub fn search(&self, req: &SearchRequest, dirs: &[PathBuf]) -> Vec<SearchHit> {
        let mut entries = self.given_entries();
        entries.extend(self.file_entries(dirs));
        let mut seen = HashSet::new();
        entries
            .iter()
            .filter(|e| seen.insert(e.info_hash))
            .filter_map(|e| hit(req, e))
            .take(MAX_LIBRARY_HITS)
            .collect()
    }

    /// The recorded downloads, parsing those not parsed yet.
    fn given_entries(&self) -> Vec<Arc<Entry>> {
        let todo: Vec<(DownloadId, Arc<DownloadSpec>)> = self
            .lock()
            .given
            .iter()
            .filter_map(|(id, g)| match g {
                Given::Spec(s) => Some((*id, s.clone())),
                Given::Indexed(_) => None,
            })
            .collect();
        let parsed: Vec<_> = todo
            .into_iter()
            .map(|(id, spec)| {
                let entry = entry_of_spec(&spec).map(Arc::new);
                (id, spec, entry)
            })
            .collect();
        let mut st = self.lock();
        for (id, spec, entry) in parsed {
            // unless the engine sent a newer spec meanwhile
            if let Some(g) = st.given.get_mut(&id) {
                if matches!(g, Given::Spec(s) if Arc::ptr_eq(s, &spec)) {
                    *g = Given::Indexed(entry);
                }
            }
        }
        let mut ids: Vec<_> = st.given.keys().copied().collect();
        ids.sort_unstable();
        ids.iter()
            .filter_map(|id| match &st.given[id] {
                Given::Indexed(e) => e.clone(),
                Given::Spec(_) => None,
            })
            .collect()
    }

    /// The `.torrent` files in `dirs`, parsed or from the cache; the cache
    /// forgets files that are gone.
    fn file_entries(&self, dirs: &[PathBuf]) -> Vec<Arc<Entry>> {
        let mut out = Vec::new();
        let mut present = HashSet::new();
        for dir in dirs {
            for (path, stamp) in torrent_files(dir) {
                present.insert(path.clone());
                let cached = self
                    .lock()
                    .files
                    .get(&path)
                    .filter(|c| c.stamp == stamp)
                    .map(|c| c.entry.clone());
                let entry = match cached {
                    Some(e) => e,
                    None => {
                        let e = entry_of_file(&path).map(Arc::new);
                        let cache = CachedFile {
                            stamp,
                            entry: e.clone(),
                        };
                        self.lock().files.insert(path, cache);
                        e
                    }
                };
                out.extend(entry);
            }
        }
        self.lock().files.retain(|p, _| present.contains(p));
        out
    }
}

/// The `.torrent` and `.torrent.added` files of `dir` (by name) with their
/// modification time and size; nothing when `dir` cannot be read.
fn torrent_files(dir: &Path) -> Vec<(PathBuf, (SystemTime, u64))> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = rd
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            name.ends_with(".torrent") || name.ends_with(".torrent.added")
        })
        .take(MAX_DIR_FILES)
        .filter_map(|e| {
            let md = std::fs::metadata(e.path()).ok().filter(|m| m.is_file())?;
            Some((
                e.path(),
                (md.modified().unwrap_or(SystemTime::UNIX_EPOCH), md.len()),
            ))
        })
        .collect();
    files.sort();
    files
}

/// A hit for `e` when its name, or the path of one of its files, matches
/// the words and passes the size, kind and extension filters.
fn hit(req: &SearchRequest, e: &Entry) -> Option<SearchHit> {
    let label = std::iter::once(&e.name)
        .chain(e.paths.iter())
        .find(|l| req.expr.matches(l) && req.accepts(l, e.size))?;
    Some(SearchHit {
        search: req.id,
        network: "bittorrent".into(),
        name: label.clone(),
        size: e.size,
        hashes: vec![ContentHash::BtInfo(e.info_hash)],
        sources: 0,
        complete_sources: None,
        link: e.link.clone(),
    })
}

/// A magnet link with the name and (some of) the trackers.
fn magnet_link(info_hash: [u8; 20], name: &str, trackers: &[Vec<String>]) -> String {
    Magnet {
        info_hash,
        name: Some(name.to_string()),
        trackers: trackers
            .iter()
            .flatten()
            .take(MAX_LINK_TRACKERS)
            .cloned()
            .collect(),
        peers: Vec::new(),
    }
    .to_string()
}

fn entry_of_info(info: &Info, link: String) -> Entry {
    let paths = if info.multi_file {
        info.files
            .iter()
            .filter(|f| !f.padding)
            .take(MAX_INDEXED_FILES)
            .map(|f| format!("{}/{}", info.name, f.path.join("/")))
            .collect()
    } else {
        Vec::new()
    };
    Entry {
        name: info.name.clone(),
        size: info.total_length,
        info_hash: info.info_hash,
        paths,
        link,
    }
}

/// A recorded download as an entry: from its persisted state, its magnet
/// link (name and size as the engine knows them), or its `.torrent` file.
fn entry_of_spec(spec: &DownloadSpec) -> Option<Entry> {
    if let Some(meta) = &spec.meta {
        let m = TorrentMeta::decode(meta).ok()?;
        let link = magnet_link(m.info.info_hash, &m.info.name, &m.trackers);
        return Some(entry_of_info(&m.info, link));
    }
    let link = spec.link.trim();
    if is_magnet(link) {
        let m = Magnet::parse(link).ok()?;
        let ContentHash::BtInfo(h) = spec.hash else {
            return None;
        };
        if spec.size == 0 || h != m.info_hash {
            return None;
        }
        let trackers = [m.trackers];
        return Some(Entry {
            name: spec.name.clone(),
            size: spec.size,
            info_hash: h,
            paths: Vec::new(),
            link: magnet_link(h, &spec.name, &trackers),
        });
    }
    let mi = read_torrent(Path::new(link)).ok()?;
    let link = magnet_link(mi.info.info_hash, &mi.info.name, &mi.trackers);
    Some(entry_of_info(&mi.info, link))
}

/// A `.torrent` file as an entry: the link is the file itself, or a magnet
/// for a `.torrent.added` file (the engine takes only `.torrent` paths).
fn entry_of_file(path: &Path) -> Option<Entry> {
    let mi = read_torrent(path).ok()?;
    let is_torrent = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("torrent"));
    let link = if is_torrent {
        path.display().to_string()
    } else {
        magnet_link(mi.info.info_hash, &mi.info.name, &mi.trackers)
    };
    Some(entry_of_info(&mi.info, link))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::create_torrent;
    use swarmux_net::parse_query;

    fn req(text: &str) -> SearchRequest {
        SearchRequest {
            id: 1,
            text: text.into(),
            expr: parse_query(text).unwrap(),
            min_size: None,
            max_size: None,
            kind: None,
            extension: None,
        }
    }

    #[test]
    fn files_are_found_cached_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("Holiday Pictures");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("beach.jpg"), vec![1u8; 5000]).unwrap();
        std::fs::write(data.join("notes.txt"), vec![2u8; 100]).unwrap();
        let t = create_torrent(&data, 16384, &["http://127.0.0.1:1/announce"]).unwrap();
        let watch = dir.path().join("watch");
        std::fs::create_dir(&watch).unwrap();
        std::fs::write(watch.join("h.torrent.added"), &t).unwrap();
        std::fs::write(watch.join("broken.torrent"), b"d4:spam").unwrap();
        let lib = Library::new();
        let dirs = [watch.clone(), dir.path().join("missing")];

        let hits = lib.search(&req("holiday"), &dirs);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].name, "Holiday Pictures");
        let m = Magnet::parse(&hits[0].link).unwrap();
        assert_eq!(m.trackers, ["http://127.0.0.1:1/announce"]);
        // a file name, with kind and extension filters on the file
        let mut r = req("beach");
        r.extension = Some("jpg".into());
        let hits = lib.search(&r, &dirs);
        assert_eq!(hits[0].name, "Holiday Pictures/beach.jpg");
        assert_eq!(hits[0].size, 5100);
        r.extension = Some("mkv".into());
        assert!(lib.search(&r, &dirs).is_empty());
        assert_eq!(lib.lock().files.len(), 2);

        std::fs::rename(watch.join("h.torrent.added"), watch.join("h.torrent")).unwrap();
        let hits = lib.search(&req("holiday -work"), &dirs);
        assert_eq!(hits[0].link, watch.join("h.torrent").display().to_string());
        assert_eq!(lib.lock().files.len(), 2, "the old path is forgotten");
    }

    #[test]
    fn recorded_downloads_are_found_and_forgotten() {
        let hash = [7u8; 20];
        let spec = DownloadSpec {
            id: 9,
            name: "Some Album".into(),
            size: 700,
            hash: ContentHash::BtInfo(hash),
            link: format!(
                "magnet:?xt=urn:btih:{}&dn=x&tr=udp%3A%2F%2F127.0.0.1%3A9",
                hex::encode(hash)
            ),
            temp_path: PathBuf::from("/nonexistent"),
            verified: vec![],
            meta: None,
        };
        let lib = Library::new();
        lib.remember(&spec);
        lib.remember(&DownloadSpec {
            id: 10,
            size: 0,
            ..spec.clone()
        });
        let hits = lib.search(&req("album"), &[]);
        assert_eq!(hits.len(), 1, "the one without a size is left out");
        let m = Magnet::parse(&hits[0].link).unwrap();
        assert_eq!(m.name.as_deref(), Some("Some Album"));
        assert_eq!(m.trackers, ["udp://127.0.0.1:9"]);
        assert!(lib.search(&req("other"), &[]).is_empty());
        lib.forget(9);
        assert!(lib.search(&req("album"), &[]).is_empty());
    }
}
