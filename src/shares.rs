//! Shared folders: finding the files in them and hashing the new or changed
//! ones, with the hashes cached in the [`Store`] so a restart rehashes nothing.

use crate::store::Store;
use std::collections::BTreeMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use swarmux_api::HashingView;
use swarmux_net::hashing::{hash_reader, FileHashes};
use swarmux_net::share::modified_ns;
use swarmux_net::SharedFile;

/// Walks `dirs` recursively and returns every shared file with its hashes,
/// sorted by path. Files whose size and mtime match the hash cache are not
/// read; the others are hashed and cached, with `progress` called before each
/// file and after each MiB hashed.
///
/// Hidden files and folders (names starting with `.`), empty files, symlinks
/// and anything else that is not a regular file are skipped, as are entries
/// that cannot be read (with a warning). `progress` returning false cancels
/// the scan: the files found so far are returned.
pub fn scan(
    dirs: &[PathBuf],
    store: &Store,
    progress: &mut dyn FnMut(HashingView) -> bool,
) -> Vec<SharedFile> {
    let mut found = BTreeMap::new();
    for dir in dirs {
        match std::fs::canonicalize(dir) {
            Ok(dir) => walk(&dir, &mut found),
            Err(e) => tracing::warn!("shared folder {} skipped: {e}", dir.display()),
        }
    }

    let mut shared = Vec::with_capacity(found.len());
    let mut to_hash = Vec::new();
    for (path, stamp) in found {
        match store.cached_hashes(&path, stamp.size, stamp.mtime) {
            Ok(Some(hashes)) => shared.push(shared_file(path, stamp, hashes)),
            Ok(None) => to_hash.push((path, stamp)),
            Err(e) => {
                tracing::warn!("{e:#}");
                to_hash.push((path, stamp));
            }
        }
    }

    let mut bytes_left: u64 = to_hash.iter().map(|(_, s)| s.size).sum();
    let mut files_left = to_hash.len();
    for (path, stamp) in to_hash {
        let current = file_name(&path);
        let mut cancelled = false;
        let mut report = |done: u64| {
            let go_on = progress(HashingView {
                files_left,
                bytes_left: bytes_left.saturating_sub(done),
                current: current.clone(),
            });
            cancelled |= !go_on;
            go_on
        };
        if !report(0) {
            break;
        }
        let hashed = std::fs::File::open(&path).and_then(|f| hash_reader(f, &mut report));
        if cancelled {
            break;
        }
        bytes_left -= stamp.size;
        files_left -= 1;
        let hashes = match hashed {
            Ok(hashes) => hashes,
            Err(e) => {
                tracing::warn!("cannot hash shared file {}: {e}", path.display());
                continue;
            }
        };
        // A file written to while being hashed is left for the next scan.
        let unchanged = std::fs::symlink_metadata(&path)
            .is_ok_and(|m| Stamp::of(&m) == stamp && hashes.size == stamp.size);
        if !unchanged {
            tracing::warn!(
                "shared file {} changed while being hashed; it is skipped until the next scan",
                path.display()
            );
            continue;
        }
        if let Err(e) = store.put_hashes(&path, stamp.size, stamp.mtime, &hashes) {
            tracing::warn!("{e:#}");
        }
        shared.push(shared_file(path, stamp, hashes));
    }
    shared.sort_by(|a, b| a.path.cmp(&b.path));
    shared
}

/// What the hash cache is keyed on besides the path.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    size: u64,
    /// Nanoseconds since the Unix epoch (negative before it).
    mtime: i128,
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            size: meta.len(),
            mtime: modified_ns(meta),
        }
    }
}

/// Adds the non-empty regular files under `root` to `found`, without following
/// symlinks or entering hidden folders.
fn walk(root: &Path, found: &mut BTreeMap<PathBuf, Stamp>) {
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::warn!("shared folder {} skipped: {e}", dir.display());
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    tracing::warn!("an entry of {} skipped: {e}", dir.display());
                    continue;
                }
            };
            if entry.file_name().as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let path = entry.path();
            // DirEntry::metadata does not follow symlinks.
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) => {
                    tracing::warn!("{} skipped: {e}", path.display());
                    continue;
                }
            };
            if meta.is_dir() {
                pending.push(path);
            } else if meta.is_file() && meta.len() > 0 {
                found.insert(path, Stamp::of(&meta));
            }
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn shared_file(path: PathBuf, stamp: Stamp, hashes: FileHashes) -> SharedFile {
    SharedFile {
        name: file_name(&path),
        path,
        size: hashes.size,
        modified: stamp.mtime,
        ed2k: hashes.ed2k,
        ed2k_parts: hashes.ed2k_parts,
        sha1: hashes.sha1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::STORE_FILE;
    use std::fs;
    use swarmux_net::hashing::md4;

    /// Scans and returns the files with every progress report.
    fn scan_all(dirs: &[PathBuf], store: &Store) -> (Vec<SharedFile>, Vec<HashingView>) {
        let mut reports = Vec::new();
        let files = scan(dirs, store, &mut |v| {
            reports.push(v);
            true
        });
        (files, reports)
    }

    #[test]
    fn scan_hashes_visible_files_and_uses_the_cache() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(STORE_FILE)).unwrap();
        let share = tmp.path().join("share");
        fs::create_dir_all(share.join("sub/deeper")).unwrap();
        fs::create_dir_all(share.join(".hidden_dir")).unwrap();
        fs::write(share.join("a.txt"), b"hello").unwrap();
        fs::write(share.join("sub/deeper/b.bin"), vec![7u8; 3 << 20]).unwrap();
        fs::write(share.join("sub/empty"), b"").unwrap();
        fs::write(share.join(".hidden"), b"secret").unwrap();
        fs::write(share.join(".hidden_dir/c"), b"secret").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(share.join("a.txt"), share.join("link")).unwrap();
        let share = share.canonicalize().unwrap();

        // The same folder twice, once through a roundabout path: no duplicates.
        let dirs = [share.clone(), share.join("sub/..")];
        let (files, reports) = scan_all(&dirs, &store);
        let paths: Vec<_> = files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(paths, [share.join("a.txt"), share.join("sub/deeper/b.bin")]);
        assert_eq!(files[0].name, "a.txt");
        assert_eq!(files[0].size, 5);
        assert_eq!(files[0].ed2k, md4(b"hello"));
        assert_eq!(files[1].ed2k, md4(&vec![7u8; 3 << 20]));
        // Progress counts down over both files, about once per MiB.
        assert_eq!(reports.first().unwrap().files_left, 2);
        assert_eq!(reports.first().unwrap().bytes_left, 5 + (3 << 20));
        assert!(reports.len() >= 5, "{reports:?}");
        assert!(reports.iter().any(|r| r.current == "b.bin"));

        // Nothing changed: everything comes from the cache.
        let (again, reports) = scan_all(&dirs, &store);
        assert_eq!(again, files);
        assert!(reports.is_empty(), "{reports:?}");
    }

    #[test]
    fn changed_file_is_rehashed() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(STORE_FILE)).unwrap();
        let share = tmp.path().join("share");
        fs::create_dir(&share).unwrap();
        fs::write(share.join("keep"), b"same").unwrap();
        let file = share.join("f");
        fs::write(&file, b"old!").unwrap();
        let dirs = [share];
        scan_all(&dirs, &store);

        // Same size, new content and mtime.
        fs::write(&file, b"new!").unwrap();
        let later = filetime::FileTime::from_unix_time(2_000_000_000, 0);
        filetime::set_file_mtime(&file, later).unwrap();
        let (files, reports) = scan_all(&dirs, &store);
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].ed2k, md4(b"new!"));
        assert_eq!(files[1].ed2k, md4(b"same"));
        assert!(reports
            .iter()
            .all(|r| r.current == "f" && r.files_left == 1));
    }

    #[test]
    fn cancel_stops_hashing() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(STORE_FILE)).unwrap();
        let share = tmp.path().join("share");
        fs::create_dir(&share).unwrap();
        fs::write(share.join("a"), b"a").unwrap();
        fs::write(share.join("b"), b"b").unwrap();
        let dirs = [share];
        let mut calls = 0;
        let files = scan(&dirs, &store, &mut |_| {
            calls += 1;
            calls < 3
        });
        assert_eq!(files.len(), 1);
        // The cancelled file was not cached.
        let (_, reports) = scan_all(&dirs, &store);
        assert!(reports.iter().all(|r| r.current == "b"), "{reports:?}");
    }

    #[test]
    fn missing_folder_is_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(STORE_FILE)).unwrap();
        let (files, _) = scan_all(&[tmp.path().join("nope")], &store);
        assert!(files.is_empty());
    }
}
