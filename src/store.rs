//! Everything the engine keeps across restarts, in one redb database
//! (`<data dir>/swarmux.redb`): the download queue, the hash cache of shared
//! files, share folders added at runtime and known servers.
//!
//! redb is pure Rust, ACID, and its copy-on-write commits survive crashes.
//! Values are JSON. Every method is one short, synchronous transaction, durable
//! when it returns (except [`Store::put_hashes`], see there).

use anyhow::{bail, Context};
use redb::{
    Database, DatabaseError, Durability, MultimapTableDefinition, ReadTransaction,
    ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use swarmux_api::{DownloadState, Priority};
use swarmux_net::hashing::FileHashes;

/// The database's file name inside the data directory.
pub const STORE_FILE: &str = "swarmux.redb";

/// Counters by name.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Download id -> JSON [`DownloadRecord`] (without its `meta`).
const DOWNLOADS: TableDefinition<u64, &[u8]> = TableDefinition::new("downloads");
/// Download id -> its network's data ([`DownloadRecord::meta`]), raw: it can
/// be megabytes (the info dictionary of a torrent of 100,000 files) and it
/// changes rarely, so the small record is rewritten without it.
const DOWNLOAD_META: TableDefinition<u64, &[u8]> = TableDefinition::new("download_meta");
/// Path bytes -> JSON [`CachedHashes`].
const HASHES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("hashes");
/// Path bytes of share folders added at runtime.
const SHARE_DIRS: TableDefinition<&[u8], ()> = TableDefinition::new("share_dirs");
/// Network name -> server addresses.
const SERVERS: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("servers");

const NEXT_DOWNLOAD_ID: &str = "next_download_id";

/// A download as persisted: enough to resume it after a restart.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DownloadRecord {
    pub id: u64,
    pub name: String,
    pub size: u64,
    pub network: String,
    /// The content hash, as `ed2k:HEX` and the like.
    pub hash: String,
    /// The link it was added from.
    pub link: String,
    pub priority: Priority,
    pub state: DownloadState,
    /// The unfinished file.
    pub temp_path: PathBuf,
    /// Where the finished file went.
    pub final_path: Option<PathBuf>,
    /// Network-specific data learnt while downloading (e.g. the ed2k hashset).
    /// Kept in its own table; read from the record only as older versions
    /// stored it.
    #[serde(default, skip_serializing)]
    pub meta: Option<Vec<u8>>,
    pub parts_total: usize,
    /// One flag per part: downloaded and its hash checked.
    pub verified: Vec<bool>,
    /// When it was added, in seconds since the Unix epoch.
    pub added: u64,
    /// Queue position: lower comes first.
    pub order: u64,
}

/// A hash cache entry, valid while the file keeps its size and mtime.
#[derive(Serialize, Deserialize)]
struct CachedHashes {
    size: u64,
    mtime: i128,
    /// Hex.
    ed2k: String,
    /// Hex of the part hashes, concatenated.
    ed2k_parts: String,
    /// Hex.
    sha1: String,
}

impl CachedHashes {
    fn decode(&self) -> Option<FileHashes> {
        let parts = hex::decode(&self.ed2k_parts).ok()?;
        if parts.len() % 16 != 0 {
            return None;
        }
        Some(FileHashes {
            ed2k: hex::decode(&self.ed2k).ok()?.try_into().ok()?,
            ed2k_parts: parts
                .chunks_exact(16)
                .map(|c| c.try_into().expect("16-byte chunk"))
                .collect(),
            sha1: hex::decode(&self.sha1).ok()?.try_into().ok()?,
            size: self.size,
        })
    }
}

/// The open database. Share it between threads behind an `Arc`.
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens or creates the database at `path` (normally
    /// `<data dir>/swarmux.redb`). Only one process may have it open.
    pub fn open(path: &Path) -> anyhow::Result<Store> {
        let db = match Database::create(path) {
            Ok(db) => db,
            Err(DatabaseError::DatabaseAlreadyOpen) => bail!(
                "cannot open {}: the data dir is in use by another swarmux daemon \
                 (stop it first, or use another data dir)",
                path.display()
            ),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                    "cannot open the database {} (if it is damaged, move it away to start afresh)",
                    path.display()
                )
                })
            }
        };
        let store = Store {
            db,
            path: path.to_path_buf(),
        };
        // Create every table, so that readers never meet a missing one.
        store.write(|txn| {
            txn.open_table(META)?;
            txn.open_table(DOWNLOADS)?;
            txn.open_table(DOWNLOAD_META)?;
            txn.open_table(HASHES)?;
            txn.open_table(SHARE_DIRS)?;
            txn.open_multimap_table(SERVERS)?;
            Ok(())
        })?;
        Ok(store)
    }

    /// A fresh download id, never handed out before (even across restarts).
    pub fn next_download_id(&self) -> anyhow::Result<u64> {
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let id = meta.get(NEXT_DOWNLOAD_ID)?.map_or(1, |v| v.value());
            meta.insert(NEXT_DOWNLOAD_ID, id + 1)?;
            Ok(id)
        })
    }

    /// Inserts or replaces the download `rec.id`. Its `meta` is written only
    /// when the download has none stored yet ([`Store::set_meta`] changes it).
    pub fn put_download(&self, rec: &DownloadRecord) -> anyhow::Result<()> {
        let json = serde_json::to_vec(rec)?;
        self.write(|txn| {
            txn.open_table(DOWNLOADS)?.insert(rec.id, json.as_slice())?;
            if let Some(meta) = &rec.meta {
                let mut metas = txn.open_table(DOWNLOAD_META)?;
                if metas.get(rec.id)?.is_none() {
                    metas.insert(rec.id, meta.as_slice())?;
                }
            }
            Ok(())
        })
    }

    /// The download `id`, if there is one.
    pub fn get_download(&self, id: u64) -> anyhow::Result<Option<DownloadRecord>> {
        self.read(|txn| {
            let table = txn.open_table(DOWNLOADS)?;
            let metas = txn.open_table(DOWNLOAD_META)?;
            let rec = table.get(id)?;
            rec.map(|v| with_meta(decode_download(id, v.value())?, &metas))
                .transpose()
        })
    }

    /// Every download, in queue order (then by id). A `meta` an older version
    /// kept inside the record moves to its own table.
    pub fn downloads(&self) -> anyhow::Result<Vec<DownloadRecord>> {
        let mut all: Vec<DownloadRecord> = self.write(|txn| {
            let table = txn.open_table(DOWNLOADS)?;
            let mut metas = txn.open_table(DOWNLOAD_META)?;
            let mut all = Vec::new();
            for entry in table.iter()? {
                let (id, json) = entry?;
                let rec = decode_download(id.value(), json.value())?;
                if let Some(old) = &rec.meta {
                    if metas.get(rec.id)?.is_none() {
                        metas.insert(rec.id, old.as_slice())?;
                    }
                }
                all.push(rec);
            }
            all.into_iter().map(|r| with_meta(r, &metas)).collect()
        })?;
        all.sort_by_key(|r| (r.order, r.id));
        Ok(all)
    }

    /// Removes the download `id`; false if there was none.
    pub fn delete_download(&self, id: u64) -> anyhow::Result<bool> {
        self.write(|txn| {
            txn.open_table(DOWNLOAD_META)?.remove(id)?;
            Ok(txn.open_table(DOWNLOADS)?.remove(id)?.is_some())
        })
    }

    /// Records that `parts` of download `id` are verified, durably: a crash
    /// right after this returns keeps them (an out-of-range part changes nothing). `verified` is first sized to
    /// `parts_total`. False if the download no longer exists.
    pub fn mark_verified(
        &self,
        id: u64,
        parts: &[usize],
        parts_total: usize,
    ) -> anyhow::Result<bool> {
        if let Some(part) = parts.iter().find(|&&p| p >= parts_total) {
            bail!("part {part} is out of range: the download has {parts_total} parts");
        }
        self.update_download(id, |rec| {
            rec.parts_total = parts_total;
            rec.verified.resize(parts_total, false);
            for &part in parts {
                rec.verified[part] = true;
            }
        })
    }

    /// Stores network data learnt while downloading (e.g. the hashset) and the
    /// part count. If the part count changes, the verified flags are cleared.
    /// False if the download no longer exists.
    pub fn set_meta(&self, id: u64, parts_total: usize, meta: Vec<u8>) -> anyhow::Result<bool> {
        self.write(|txn| {
            let found = update_in(txn, id, |rec| {
                if rec.verified.len() != parts_total {
                    rec.verified = vec![false; parts_total];
                }
                rec.parts_total = parts_total;
            })?;
            if found {
                txn.open_table(DOWNLOAD_META)?.insert(id, meta.as_slice())?;
            }
            Ok(found)
        })
    }

    /// Loads, changes and stores one download in a single transaction.
    fn update_download(
        &self,
        id: u64,
        change: impl FnOnce(&mut DownloadRecord),
    ) -> anyhow::Result<bool> {
        self.write(|txn| update_in(txn, id, change))
    }

    /// The cached hashes of the file at `path`, if they were computed when it
    /// had this size and mtime (nanoseconds since the Unix epoch).
    pub fn cached_hashes(
        &self,
        path: &Path,
        size: u64,
        mtime: i128,
    ) -> anyhow::Result<Option<FileHashes>> {
        self.read(|txn| {
            let table = txn.open_table(HASHES)?;
            let Some(json) = table.get(path.as_os_str().as_encoded_bytes())? else {
                return Ok(None);
            };
            // An unreadable entry is a miss: the file is hashed again.
            let cached = serde_json::from_slice::<CachedHashes>(json.value()).ok();
            Ok(cached
                .filter(|c| c.size == size && c.mtime == mtime)
                .and_then(|c| c.decode()))
        })
    }

    /// Caches the hashes of the file at `path` with its size and mtime,
    /// replacing any older entry. For speed when hashing many small files this
    /// commit is not flushed at once: a crash may lose it (the file is then
    /// hashed again), a clean shutdown or any later commit keeps it.
    pub fn put_hashes(
        &self,
        path: &Path,
        size: u64,
        mtime: i128,
        hashes: &FileHashes,
    ) -> anyhow::Result<()> {
        let json = serde_json::to_vec(&CachedHashes {
            size,
            mtime,
            ed2k: hex::encode(hashes.ed2k),
            ed2k_parts: hex::encode(hashes.ed2k_parts.concat()),
            sha1: hex::encode(hashes.sha1),
        })?;
        let mut txn = self.begin_write()?;
        txn.set_durability(Durability::None)?;
        txn.open_table(HASHES)?
            .insert(path.as_os_str().as_encoded_bytes(), json.as_slice())?;
        self.commit(txn)
    }

    /// Share folders added at runtime, sorted.
    pub fn share_dirs(&self) -> anyhow::Result<Vec<PathBuf>> {
        self.read(|txn| {
            let table = txn.open_table(SHARE_DIRS)?;
            let mut dirs = Vec::new();
            for entry in table.iter()? {
                dirs.push(path_from_bytes(entry?.0.value())?);
            }
            Ok(dirs)
        })
    }

    /// Adds a share folder (stored as given: pass an absolute path).
    pub fn add_share_dir(&self, path: &Path) -> anyhow::Result<()> {
        self.write(|txn| {
            txn.open_table(SHARE_DIRS)?
                .insert(path.as_os_str().as_encoded_bytes(), ())?;
            Ok(())
        })
    }

    /// Removes a share folder; false if it was not there.
    pub fn remove_share_dir(&self, path: &Path) -> anyhow::Result<bool> {
        self.write(|txn| {
            let mut table = txn.open_table(SHARE_DIRS)?;
            let removed = table.remove(path.as_os_str().as_encoded_bytes())?;
            Ok(removed.is_some())
        })
    }

    /// Known servers of `network` (e.g. `"ed2k"`), sorted.
    pub fn servers(&self, network: &str) -> anyhow::Result<Vec<String>> {
        self.read(|txn| {
            let table = txn.open_multimap_table(SERVERS)?;
            let mut servers = Vec::new();
            for addr in table.get(network)? {
                servers.push(addr?.value().to_string());
            }
            Ok(servers)
        })
    }

    /// Remembers a server of `network`; adding a known one does nothing.
    pub fn add_server(&self, network: &str, addr: &str) -> anyhow::Result<()> {
        self.write(|txn| {
            txn.open_multimap_table(SERVERS)?.insert(network, addr)?;
            Ok(())
        })
    }

    /// Forgets a server of `network`; false if it was not known.
    pub fn remove_server(&self, network: &str, addr: &str) -> anyhow::Result<bool> {
        self.write(|txn| Ok(txn.open_multimap_table(SERVERS)?.remove(network, addr)?))
    }

    fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let txn = self.db.begin_read().with_context(|| self.failed("read"))?;
        f(&txn).with_context(|| self.failed("read"))
    }

    /// Runs `f` in a write transaction and commits it (durably) if it succeeds.
    fn write<T>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let txn = self.begin_write()?;
        let out = f(&txn).with_context(|| self.failed("write"))?;
        self.commit(txn)?;
        Ok(out)
    }

    fn begin_write(&self) -> anyhow::Result<WriteTransaction> {
        self.db.begin_write().with_context(|| self.failed("write"))
    }

    fn commit(&self, txn: WriteTransaction) -> anyhow::Result<()> {
        txn.commit().with_context(|| self.failed("write"))
    }

    fn failed(&self, what: &str) -> String {
        format!(
            "cannot {what} the database {} (is the disk full or failing?)",
            self.path.display()
        )
    }
}

/// Loads, changes and stores one download record within `txn`; false if the
/// download no longer exists.
fn update_in(
    txn: &WriteTransaction,
    id: u64,
    change: impl FnOnce(&mut DownloadRecord),
) -> anyhow::Result<bool> {
    let mut table = txn.open_table(DOWNLOADS)?;
    let Some(mut rec) = table
        .get(id)?
        .map(|v| decode_download(id, v.value()))
        .transpose()?
    else {
        return Ok(false);
    };
    change(&mut rec);
    table.insert(id, serde_json::to_vec(&rec)?.as_slice())?;
    Ok(true)
}

/// `rec` with its `meta` from the meta table (which wins over one an older
/// version stored inside the record).
fn with_meta(
    mut rec: DownloadRecord,
    metas: &impl ReadableTable<u64, &'static [u8]>,
) -> anyhow::Result<DownloadRecord> {
    if let Some(meta) = metas.get(rec.id)? {
        rec.meta = Some(meta.value().to_vec());
    }
    Ok(rec)
}

fn decode_download(id: u64, json: &[u8]) -> anyhow::Result<DownloadRecord> {
    serde_json::from_slice(json).with_context(|| format!("download {id} is stored damaged"))
}

/// The inverse of `as_encoded_bytes` for paths this process stored.
fn path_from_bytes(bytes: &[u8]) -> anyhow::Result<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        Ok(PathBuf::from(
            std::str::from_utf8(bytes).context("a stored path is not valid UTF-8")?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmux_net::hashing::hash_reader;

    fn record(store: &Store, name: &str, order: u64) -> DownloadRecord {
        DownloadRecord {
            id: store.next_download_id().unwrap(),
            name: name.into(),
            size: 20_000_000,
            network: "ed2k".into(),
            hash: format!("ed2k:{:032x}", order),
            link: format!("ed2k://|file|{name}|20000000|{:032x}|/", order),
            priority: Priority::High,
            state: DownloadState::Error("disk full".into()),
            temp_path: PathBuf::from(format!("/tmp/{name}.part")),
            final_path: None,
            meta: None,
            parts_total: 3,
            verified: vec![false; 3],
            added: 1_700_000_000,
            order,
        }
    }

    #[test]
    fn downloads_roundtrip_in_queue_order() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(STORE_FILE)).unwrap();
        let a = record(&store, "a", 2);
        let b = record(&store, "b", 1);
        store.put_download(&a).unwrap();
        store.put_download(&b).unwrap();
        assert_eq!(store.get_download(a.id).unwrap(), Some(a.clone()));
        assert_eq!(store.downloads().unwrap(), vec![b.clone(), a.clone()]);
        assert!(store.delete_download(b.id).unwrap());
        assert!(!store.delete_download(b.id).unwrap());
        assert_eq!(store.get_download(b.id).unwrap(), None);
        assert_eq!(store.downloads().unwrap(), vec![a]);
    }

    /// The stored record's bytes, as the downloads table holds them.
    fn raw_record(store: &Store, id: u64) -> Vec<u8> {
        store
            .read(|txn| {
                Ok(txn
                    .open_table(DOWNLOADS)?
                    .get(id)?
                    .unwrap()
                    .value()
                    .to_vec())
            })
            .unwrap()
    }

    #[test]
    fn a_large_meta_is_not_rewritten_with_every_change() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(STORE_FILE)).unwrap();
        let rec = record(&store, "many-files", 1);
        store.put_download(&rec).unwrap();
        // The info dictionary of a torrent of 100,000 files: megabytes.
        let meta = vec![7u8; 3 << 20];
        assert!(store.set_meta(rec.id, 3, meta.clone()).unwrap());
        assert!(store.mark_verified(rec.id, &[1], 3).unwrap());
        let mut changed = store.get_download(rec.id).unwrap().unwrap();
        assert_eq!(changed.meta.as_ref(), Some(&meta));
        changed.priority = Priority::Low;
        store.put_download(&changed).unwrap();
        let raw = raw_record(&store, rec.id);
        assert!(raw.len() < 1024, "the record holds {} bytes", raw.len());
        let back = store.downloads().unwrap().remove(0);
        assert_eq!(
            (back.meta, back.verified),
            (Some(meta), vec![false, true, false])
        );
        assert!(store.delete_download(rec.id).unwrap());
        assert!(store
            .read(|txn| Ok(txn.open_table(DOWNLOAD_META)?.get(rec.id)?.is_none()))
            .unwrap());
    }

    #[test]
    fn a_meta_kept_inside_the_record_by_an_older_version_moves_out() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(STORE_FILE)).unwrap();
        let rec = record(&store, "old", 1);
        let mut old = serde_json::to_value(&rec).unwrap();
        old["meta"] = serde_json::json!([1, 2, 3]);
        let json = serde_json::to_vec(&old).unwrap();
        store
            .write(|txn| {
                txn.open_table(DOWNLOADS)?.insert(rec.id, json.as_slice())?;
                Ok(())
            })
            .unwrap();
        let loaded = store.downloads().unwrap().remove(0);
        assert_eq!(loaded.meta, Some(vec![1, 2, 3]));
        // Rewritten without it, the record still finds it.
        store.put_download(&loaded).unwrap();
        assert!(!String::from_utf8(raw_record(&store, rec.id))
            .unwrap()
            .contains("meta"));
        assert_eq!(
            store.get_download(rec.id).unwrap().unwrap().meta,
            Some(vec![1, 2, 3])
        );
    }

    #[test]
    fn reopen_keeps_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(STORE_FILE);
        let hashes = hash_reader(&b"hello"[..], |_| true).unwrap();
        let rec;
        {
            let store = Store::open(&path).unwrap();
            rec = record(&store, "a", 1);
            store.put_download(&rec).unwrap();
            assert!(store.set_meta(rec.id, 3, vec![1, 2, 3]).unwrap());
            store
                .put_hashes(Path::new("/s/hello"), 5, 42, &hashes)
                .unwrap();
            store.add_share_dir(Path::new("/s")).unwrap();
            store.add_share_dir(Path::new("/music")).unwrap();
            assert!(store.remove_share_dir(Path::new("/music")).unwrap());
            assert!(!store.remove_share_dir(Path::new("/music")).unwrap());
            store.add_server("ed2k", "b.example:4661").unwrap();
            store.add_server("ed2k", "a.example:4661").unwrap();
            store.add_server("ed2k", "a.example:4661").unwrap();
            store.add_server("ed2k", "c.example:4661").unwrap();
            store.add_server("other", "x:1").unwrap();
            assert!(store.remove_server("ed2k", "c.example:4661").unwrap());
            assert!(!store.remove_server("ed2k", "c.example:4661").unwrap());
        }
        let store = Store::open(&path).unwrap();
        let mut expected = rec.clone();
        expected.meta = Some(vec![1, 2, 3]);
        assert_eq!(store.get_download(rec.id).unwrap(), Some(expected));
        assert_eq!(
            store.cached_hashes(Path::new("/s/hello"), 5, 42).unwrap(),
            Some(hashes)
        );
        assert_eq!(store.share_dirs().unwrap(), vec![PathBuf::from("/s")]);
        assert_eq!(
            store.servers("ed2k").unwrap(),
            vec!["a.example:4661", "b.example:4661"]
        );
        assert_eq!(store.servers("none").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn mark_verified_persists() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(STORE_FILE);
        let id;
        {
            let store = Store::open(&path).unwrap();
            let mut rec = record(&store, "a", 1);
            rec.verified = Vec::new();
            id = rec.id;
            store.put_download(&rec).unwrap();
            assert!(store.mark_verified(id, &[2], 3).unwrap());
            assert!(store.mark_verified(id, &[0], 3).unwrap());
            assert!(!store.mark_verified(id + 100, &[0], 3).unwrap());
            assert!(store.mark_verified(id, &[1, 3], 3).is_err());
        }
        let store = Store::open(&path).unwrap();
        let rec = store.get_download(id).unwrap().unwrap();
        assert_eq!(rec.verified, vec![true, false, true]);
        // A new part count starts the flags afresh.
        assert!(store.set_meta(id, 4, vec![9]).unwrap());
        let rec = store.get_download(id).unwrap().unwrap();
        assert_eq!((rec.parts_total, rec.verified), (4, vec![false; 4]));
    }

    #[test]
    fn ids_increase_across_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(STORE_FILE);
        let first = {
            let store = Store::open(&path).unwrap();
            let a = store.next_download_id().unwrap();
            assert!(store.next_download_id().unwrap() > a);
            a
        };
        let store = Store::open(&path).unwrap();
        assert_eq!(store.next_download_id().unwrap(), first + 2);
    }

    #[test]
    fn hash_cache_misses_on_changed_file() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join(STORE_FILE)).unwrap();
        let file = Path::new("/s/f");
        let old = hash_reader(&b"old"[..], |_| true).unwrap();
        let new = hash_reader(&b"new"[..], |_| true).unwrap();
        let mtime = 1_700_000_000_123_456_789;
        store.put_hashes(file, 3, mtime, &old).unwrap();
        assert_eq!(
            store.cached_hashes(file, 3, mtime).unwrap(),
            Some(old.clone())
        );
        assert_eq!(store.cached_hashes(file, 3, mtime + 1).unwrap(), None);
        assert_eq!(store.cached_hashes(file, 4, mtime).unwrap(), None);
        assert_eq!(
            store.cached_hashes(Path::new("/s/g"), 3, mtime).unwrap(),
            None
        );
        store.put_hashes(file, 3, mtime + 1, &new).unwrap();
        assert_eq!(store.cached_hashes(file, 3, mtime).unwrap(), None);
        assert_eq!(store.cached_hashes(file, 3, mtime + 1).unwrap(), Some(new));
        // Before the epoch, too.
        store.put_hashes(file, 3, -5, &old).unwrap();
        assert_eq!(store.cached_hashes(file, 3, -5).unwrap(), Some(old));
    }

    #[test]
    fn second_open_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(STORE_FILE);
        let _first = Store::open(&path).unwrap();
        let err = Store::open(&path).err().expect("second open must fail");
        assert!(
            err.to_string().contains("in use by another swarmux daemon"),
            "{err}"
        );
    }
}
