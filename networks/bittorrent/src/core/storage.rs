//! File-backed storage of one torrent under a download root.
//!
//! Paths are joined from checked components only and must stay under the
//! root (symlinked directories leading out are refused). Files are created
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
use std::fs::{self, File, OpenOptions};
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
    paths: Vec<PathBuf>,
    handles: Mutex<HandleCache>,
}

impl Storage {
    /// Storage for `layout` under `root`; checks every path but touches no disk.
    pub fn new(root: impl Into<PathBuf>, layout: Layout) -> Result<Self, StorageError> {
        let root = root.into();
        let mut paths = Vec::with_capacity(layout.files().len());
        for (file, entry) in layout.files().iter().enumerate() {
            if entry.path.is_empty() {
                return Err(StorageError::EmptyPath { file });
            }
            let mut path = root.clone();
            for c in &entry.path {
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

    /// Reads `piece` back and compares its SHA-1 with `expected`; a file that
    /// is missing or too short makes it false.
    pub fn verify_piece(&self, piece: u32, expected: &[u8; 20]) -> io::Result<bool> {
        let mut buf = vec![0u8; HASH_CHUNK];
        match self.hash_piece(piece, &mut buf) {
            Ok(h) => Ok(&h == expected),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::UnexpectedEof
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Checks the data already on disk against `hashes` (one per piece) and
    /// returns the pieces that match. Missing and short files only make their
    /// pieces missing; nothing is created.
    pub fn check_existing(&self, hashes: &[[u8; 20]]) -> io::Result<Bitfield> {
        let count = self.layout.geometry().piece_count();
        if hashes.len() != count as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} piece hashes for {count} pieces", hashes.len()),
            ));
        }
        let lens: Vec<Option<u64>> = self
            .paths
            .iter()
            .map(|p| {
                fs::metadata(p)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
            })
            .collect();
        let mut have = Bitfield::new(count);
        let mut buf = vec![0u8; HASH_CHUNK];
        for (piece, expected) in (0..count).zip(hashes) {
            let on_disk = self.layout.piece_segments(piece).all(|s| {
                self.is_padding(s.file)
                    || lens[s.file].is_some_and(|l| l >= s.offset + u64::from(s.len))
            });
            if on_disk && self.hash_piece(piece, &mut buf)? == *expected {
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

    fn open_file(&self, file: usize, create: bool) -> io::Result<File> {
        let path = &self.paths[file];
        if create {
            self.make_parent(path)?;
        }
        if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(escape_error(path));
        }
        let f = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(path)
        {
            // Existing data we may only read can still be seeded.
            Err(e) if !create && e.kind() == io::ErrorKind::PermissionDenied => File::open(path)?,
            other => other?,
        };
        if create {
            let want = self.layout.files()[file].length;
            if f.metadata()?.len() < want {
                f.set_len(want)?;
            }
        }
        Ok(f)
    }

    /// Creates the parent directories of `path` and checks that, symlinks
    /// resolved, they are still under the root.
    fn make_parent(&self, path: &Path) -> io::Result<()> {
        let parent = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent)?;
        let root = fs::canonicalize(&self.root)?;
        if !fs::canonicalize(parent)?.starts_with(&root) {
            return Err(escape_error(path));
        }
        Ok(())
    }
}

fn escape_error(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{} would leave the download folder", path.display()),
    )
}

#[cfg(test)]
mod tests;
