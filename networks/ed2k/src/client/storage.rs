//! Positional file I/O off the async threads: the download's temp file
//! (sparse, written block by block, read back to verify) with the log of what
//! is written, and shared files read for uploads.

use md4::{Digest, Md4};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use swarmux_net::written::WrittenLog;
use swarmux_net::SharedFile;

/// A download's record of written ranges, shared by its connections.
pub type Written = Arc<Mutex<WrittenLog>>;

/// Locks a written log (a poisoned lock is still usable).
pub fn lock_log(log: &Written) -> std::sync::MutexGuard<'_, WrittenLog> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}

/// Opens the written log at `path` (see [`swarmux_net::written`]).
pub async fn open_log(path: PathBuf) -> io::Result<Written> {
    blocking(move || Ok(Arc::new(Mutex::new(WrittenLog::open(&path)?)))).await
}

/// Records that `range` no longer holds good data (its part failed its check).
pub async fn forget_written(log: Written, range: std::ops::Range<u64>) -> io::Result<()> {
    blocking(move || lock_log(&log).forget(range)).await
}

/// A file opened for positional reads and writes, cheap to clone.
#[derive(Clone, Debug)]
pub struct DiskFile {
    file: Arc<File>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?
}

impl DiskFile {
    /// Opens or creates the temp file and sets it to `size` bytes (sparse).
    pub async fn open_temp(path: PathBuf, size: u64) -> io::Result<DiskFile> {
        blocking(move || {
            if let Some(dir) = path.parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)?;
                }
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            if file.metadata()?.len() != size {
                file.set_len(size)?;
            }
            Ok(DiskFile {
                file: Arc::new(file),
            })
        })
        .await
    }

    /// Opens a shared file to serve it, only while it is still the regular
    /// file that was hashed (see [`swarmux_net::share::open_shared`]: no
    /// symlink, same size and modification time).
    pub async fn open_shared(file: Arc<SharedFile>) -> io::Result<DiskFile> {
        blocking(move || {
            Ok(DiskFile {
                file: Arc::new(swarmux_net::share::open_shared(&file)?),
            })
        })
        .await
    }

    /// Writes `data` at `offset` (no fsync), then records the range in `log` once the
    /// write returned (one trip to the blocking threads).
    pub async fn write_recorded(&self, offset: u64, data: Vec<u8>, log: Written) -> io::Result<()> {
        let file = self.file.clone();
        blocking(move || {
            file.write_all_at(&data, offset)?;
            lock_log(&log).record(offset..offset + data.len() as u64)
        })
        .await
    }

    /// Reads exactly `len` bytes at `offset`.
    pub async fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let file = self.file.clone();
        blocking(move || {
            let mut buf = vec![0u8; len];
            file.read_exact_at(&mut buf, offset)?;
            Ok(buf)
        })
        .await
    }

    /// MD4 of the bytes in `[start, end)`, read back in 1 MiB chunks.
    pub async fn md4_range(&self, start: u64, end: u64) -> io::Result<[u8; 16]> {
        let file = self.file.clone();
        blocking(move || {
            let mut h = Md4::new();
            let mut buf = vec![0u8; 1 << 20];
            let mut pos = start;
            while pos < end {
                let n = ((end - pos) as usize).min(buf.len());
                file.read_exact_at(&mut buf[..n], pos)?;
                h.update(&buf[..n]);
                pos += n as u64;
            }
            Ok(h.finalize().into())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn write_read_hash() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.part");
        let f = DiskFile::open_temp(p.clone(), 100).await.unwrap();
        let log = open_log(dir.path().join("log")).await.unwrap();
        f.write_recorded(10, b"hello".to_vec(), log.clone())
            .await
            .unwrap();
        assert!(lock_log(&log).ranges().contains(10..15));
        forget_written(log.clone(), 0..100).await.unwrap();
        assert!(lock_log(&log).ranges().is_empty());
        assert_eq!(f.read_at(10, 5).await.unwrap(), b"hello");
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 100);
        assert_eq!(
            f.md4_range(10, 15).await.unwrap(),
            swarmux_net::hashing::md4(b"hello")
        );
        assert!(f.read_at(98, 5).await.is_err());
    }
}
