//! File-backed storage of one torrent under a download root.
//!
//! Paths are joined from checked components only, each cut to the file
//! system's limit and kept apart ([`disk_names`]), and files are opened
//! below the root without following a symlink in any component
//! ([`beneath`]); a file is used only while it is a regular file of the size
//! the torrent gives it. Files are created
//! sparse (`set_len`, no zeros written) and written and read positionally, so
//! a `Storage` is shared by reference between blocking threads
//! (`tokio::task::spawn_blocking`); open handles sit in a bounded cache.
//! Nothing is fsynced per block: call [`Storage::sync_all`] when it matters.
//!
//! Skipped files are not created by [`Storage::create_files`]; a piece that
//! straddles a skipped file's boundary still writes its part of that file,
//! which is then created on the first write (sparse, so it costs only the
//! bytes written). Padding files (BEP 47) are never written nor created:
//! their bytes read as zeros.

use super::bitfield::Bitfield;
use super::layout::{Layout, Priority};
use sha1::{Digest, Sha1};
use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How many files a storage keeps open at once.
pub const MAX_OPEN_FILES: usize = 64;
/// Read size while hashing.
const HASH_CHUNK: usize = 64 * 1024;

/// A torrent file path that may not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("file {file} has an empty path")]
    EmptyPath { file: usize },
    #[error("file {file} has an unsafe path component {component:?}")]
    UnsafeComponent { file: usize, component: String },
}

/// Checks one path component: not empty, not `.` or `..`, no separator or
/// NUL, not a drive letter.
fn component_is_safe(c: &str) -> bool {
    let b = c.as_bytes();
    let drive = b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':';
    !(c.is_empty() || c == "." || c == ".." || drive || c.contains(['/', '\\', '\0']))
}

#[derive(Default)]
struct HandleCache {
    open: HashMap<usize, (Arc<File>, u64)>,
    clock: u64,
    /// Files written since the last sync (their handles may have been closed).
    dirty: BTreeSet<usize>,
}

/// The files of one torrent on disk.
pub struct Storage {
    root: PathBuf,
    layout: Layout,
    /// Each file's path components on disk.
    disk: Vec<Vec<String>>,
    paths: Vec<PathBuf>,
    handles: Mutex<HandleCache>,
}

impl Storage {
    /// Storage for `layout` under `root`; checks every path and fits every
    /// name to the file system's limit (asking it, writing nothing).
    pub fn new(root: impl Into<PathBuf>, layout: Layout) -> Result<Self, StorageError> {
        let root = root.into();
        for (file, entry) in layout.files().iter().enumerate() {
            if entry.path.is_empty() {
                return Err(StorageError::EmptyPath { file });
            }
            if let Some(c) = entry.path.iter().find(|c| !component_is_safe(c)) {
                return Err(StorageError::UnsafeComponent {
                    file,
                    component: c.clone(),
                });
            }
        }
        let disk = disk_names::disk_components(&root, layout.files());
        let mut paths = Vec::with_capacity(layout.files().len());
        for (file, (entry, components)) in layout.files().iter().zip(&disk).enumerate() {
            let mut path = root.clone();
            for c in components {
                if !component_is_safe(c) {
                    return Err(StorageError::UnsafeComponent {
                        file,
                        component: c.clone(),
                    });
                }
                path.push(c);
            }
            // Holds by construction; kept as the last word on where files go.
            if !path.starts_with(&root)
                || path.components().count() != root.components().count() + entry.path.len()
            {
                return Err(StorageError::UnsafeComponent {
                    file,
                    component: entry.path.join("/"),
                });
            }
            paths.push(path);
        }
        Ok(Storage {
            root,
            layout,
            disk,
            paths,
            handles: Mutex::new(HandleCache::default()),
        })
    }

    /// The layout this storage serves.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The download root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where file `file` lives.
    pub fn file_path(&self, file: usize) -> &Path {
        &self.paths[file]
    }

    /// Creates every file whose priority is not skip (missing priorities count
    /// as normal), sparse at its full length; existing data is kept.
    pub fn create_files(&self, priorities: &[Priority]) -> io::Result<()> {
        for file in 0..self.paths.len() {
            if priorities.get(file).copied().unwrap_or_default() != Priority::Skip
                && !self.is_padding(file)
            {
                self.handle(file, true)?;
            }
        }
        Ok(())
    }

    /// Writes `data` at `offset` inside `piece`, across file boundaries.
    pub fn write_block(&self, piece: u32, offset: u32, data: &[u8]) -> io::Result<()> {
        self.check_range(piece, offset, data.len())?;
        let mut done = 0usize;
        for seg in self.layout.block_segments(piece, offset, data.len() as u32) {
            let end = done + seg.len as usize;
            if !self.is_padding(seg.file) {
                let f = self.handle(seg.file, true)?;
                self.lock().dirty.insert(seg.file);
                f.write_all_at(&data[done..end], seg.offset)?;
            }
            done = end;
        }
        Ok(())
    }

    /// Fills `buf` from `offset` inside `piece`, across file boundaries.
    pub fn read_block(&self, piece: u32, offset: u32, buf: &mut [u8]) -> io::Result<()> {
        self.check_range(piece, offset, buf.len())?;
        let mut done = 0usize;
        for seg in self.layout.block_segments(piece, offset, buf.len() as u32) {
            let end = done + seg.len as usize;
            if self.is_padding(seg.file) {
                buf[done..end].fill(0);
            } else {
                let f = self.handle(seg.file, false)?;
                f.read_exact_at(&mut buf[done..end], seg.offset)?;
            }
            done = end;
        }
        Ok(())
    }

    /// Reads `piece` back and compares its SHA-1 with `expected`.
    pub fn verify_piece(&self, piece: u32, expected: &[u8; 20]) -> io::Result<bool> {
        self.piece_matches(piece, expected, &mut vec![0u8; HASH_CHUNK])
    }

    /// Whether `piece` hashes to `expected`; a file that is missing, short,
    /// of another length or behind a symlink makes it false.
    fn piece_matches(&self, piece: u32, expected: &[u8; 20], buf: &mut [u8]) -> io::Result<bool> {
        match self.hash_piece(piece, buf) {
            Ok(h) => Ok(&h == expected),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound
                        | io::ErrorKind::UnexpectedEof
                        | io::ErrorKind::InvalidData
                        | io::ErrorKind::PermissionDenied
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Checks the data already on disk against `hashes` (one per piece) and
    /// returns the pieces that match. Missing files, files of another length
    /// and symlinks only make their pieces missing; nothing is created.
    pub fn check_existing(&self, hashes: &[[u8; 20]]) -> io::Result<Bitfield> {
        let count = self.layout.geometry().piece_count();
        if hashes.len() != count as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} piece hashes for {count} pieces", hashes.len()),
            ));
        }
        // only regular files of their full length (no symlink) are read
        let usable: Vec<bool> = self
            .paths
            .iter()
            .zip(self.layout.files())
            .map(|(p, f)| fs::symlink_metadata(p).is_ok_and(|m| m.is_file() && m.len() == f.length))
            .collect();
        let mut have = Bitfield::new(count);
        let mut buf = vec![0u8; HASH_CHUNK];
        for (piece, expected) in (0..count).zip(hashes) {
            let on_disk = self
                .layout
                .piece_segments(piece)
                .all(|s| self.is_padding(s.file) || usable[s.file]);
            if on_disk && self.piece_matches(piece, expected, &mut buf)? {
                have.set(piece);
            }
        }
        Ok(have)
    }

    /// Starts writing `piece` back to disk without waiting for it (Linux
    /// `sync_file_range`), so that dirty pages do not pile up and the final
    /// [`Storage::sync_all`] has little left to do. Elsewhere a no-op.
    pub fn start_writeback(&self, piece: u32) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        for seg in self.layout.piece_segments(piece) {
            use std::os::fd::AsRawFd;
            if self.is_padding(seg.file) {
                continue;
            }
            let f = self.handle(seg.file, false)?;
            // SAFETY: a plain syscall on an open descriptor; no memory passed.
            let rc = unsafe {
                libc::sync_file_range(
                    f.as_raw_fd(),
                    seg.offset as libc::off64_t,
                    libc::off64_t::from(seg.len),
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = piece;
        Ok(())
    }

    /// Flushes the data written since the last sync to disk (on pause, on
    /// completion), reopening files whose handles were closed meanwhile.
    pub fn sync_all(&self) -> io::Result<()> {
        let dirty = std::mem::take(&mut self.lock().dirty);
        for (i, &file) in dirty.iter().enumerate() {
            if let Err(e) = self.handle(file, false).and_then(|f| f.sync_data()) {
                self.lock().dirty.extend(dirty.iter().skip(i));
                return Err(e);
            }
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HandleCache> {
        // A panic while holding the lock leaves the cache consistent enough.
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_range(&self, piece: u32, offset: u32, len: usize) -> io::Result<()> {
        let size = u64::from(self.layout.geometry().piece_size(piece));
        if u64::from(offset) + len as u64 > size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{len} bytes at {offset} do not fit piece {piece} of {size} bytes"),
            ));
        }
        Ok(())
    }

    fn hash_piece(&self, piece: u32, buf: &mut [u8]) -> io::Result<[u8; 20]> {
        let mut h = Sha1::new();
        for seg in self.layout.piece_segments(piece) {
            let f = if self.is_padding(seg.file) {
                buf.fill(0);
                None
            } else {
                Some(self.handle(seg.file, false)?)
            };
            let mut done = 0u64;
            while done < u64::from(seg.len) {
                let n = (u64::from(seg.len) - done).min(buf.len() as u64) as usize;
                if let Some(f) = &f {
                    f.read_exact_at(&mut buf[..n], seg.offset + done)?;
                }
                h.update(&buf[..n]);
                done += n as u64;
            }
        }
        Ok(h.finalize().into())
    }

    fn is_padding(&self, file: usize) -> bool {
        self.layout.files().get(file).is_some_and(|f| f.padding)
    }

    /// An open handle for `file`, opening (and with `create`, creating) it on a miss.
    fn handle(&self, file: usize, create: bool) -> io::Result<Arc<File>> {
        {
            let mut cache = self.lock();
            cache.clock += 1;
            let clock = cache.clock;
            if let Some((f, used)) = cache.open.get_mut(&file) {
                *used = clock;
                return Ok(f.clone());
            }
        }
        let f = Arc::new(self.open_file(file, create)?);
        let mut cache = self.lock();
        if cache.open.len() >= MAX_OPEN_FILES {
            if let Some(lru) = cache
                .open
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            {
                cache.open.remove(&lru);
            }
        }
        let clock = cache.clock;
        cache.open.insert(file, (f.clone(), clock));
        Ok(f)
    }

    /// Opens `file` (see [`beneath::open_beneath`]); a new or short file is
    /// extended to its length when creating, and otherwise a file of another
    /// length is refused.
    fn open_file(&self, file: usize, create: bool) -> io::Result<File> {
        let entry = &self.layout.files()[file];
        let f = beneath::open_beneath(&self.root, &self.disk[file], create)?;
        let len = f.metadata()?.len();
        if create && len < entry.length {
            f.set_len(entry.length)?;
        } else if len != entry.length {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is {len} bytes, not the {} of the torrent; refused",
                    self.paths[file].display(),
                    entry.length
                ),
            ));
        }
        Ok(f)
    }
}

mod beneath;
mod disk_names;
#[cfg(test)]
mod tests;
