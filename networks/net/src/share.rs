//! Files the user shares, as the engine hands them to every network, and the
//! one way networks open them to serve them.

use serde::{Deserialize, Serialize};
use std::fs::{File, Metadata};
use std::io;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

/// A shared file with every hash the networks need, computed once by the engine
/// (see [`crate::hashing`]) and cached until the file changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFile {
    pub path: PathBuf,
    /// The name shown to other peers (the file name without folders).
    pub name: String,
    pub size: u64,
    /// The modification time the hashes belong to, in nanoseconds since the
    /// Unix epoch (see [`modified_ns`]).
    pub modified: i128,
    /// eDonkey2000 file hash.
    pub ed2k: [u8; 16],
    /// eDonkey2000 MD4 hash of each 9,728,000-byte part (the hashset).
    pub ed2k_parts: Vec<[u8; 16]>,
    /// SHA-1 of the whole file.
    pub sha1: [u8; 20],
}

/// A file's modification time in nanoseconds since the Unix epoch (negative
/// before it, 0 when the file system has none).
pub fn modified_ns(meta: &Metadata) -> i128 {
    match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(after) => after.as_nanos() as i128,
            Err(before) => -(before.duration().as_nanos() as i128),
        },
        Err(_) => 0,
    }
}

/// Opens a shared file to serve it: never through a symlink, and only while
/// it is the regular file that was hashed (same size and modification time).
/// A file swapped or changed since it was hashed is refused with an error that
/// says so; the next share scan picks up the change.
pub fn open_shared(file: &SharedFile) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&file.path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is now a symlink; not served", file.path.display()),
            ),
            _ => e,
        })?;
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a regular file; not served", file.path.display()),
        ));
    }
    if meta.len() != file.size || modified_ns(&meta) != file.modified {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} changed since it was hashed; not served until it is hashed again",
                file.path.display()
            ),
        ));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn shared(path: PathBuf) -> SharedFile {
        let meta = std::fs::metadata(&path).unwrap();
        SharedFile {
            name: "f".into(),
            size: meta.len(),
            modified: modified_ns(&meta),
            path,
            ed2k: [0; 16],
            ed2k_parts: Vec::new(),
            sha1: [0; 20],
        }
    }

    #[test]
    fn the_hashed_file_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"public").unwrap();
        let mut s = String::new();
        open_shared(&shared(path))
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "public");
    }

    #[test]
    fn a_file_swapped_for_a_symlink_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let private = dir.path().join("private");
        std::fs::write(&path, b"public").unwrap();
        std::fs::write(&private, b"secret").unwrap();
        let file = shared(path.clone());
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&private, &path).unwrap();
        let e = open_shared(&file).unwrap_err();
        assert!(e.to_string().contains("symlink"), "{e}");
    }

    #[test]
    fn a_changed_or_replaced_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"public").unwrap();
        let file = shared(path.clone());
        // Same size, other content, other modification time.
        std::fs::write(&path, b"secret").unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(100);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let e = open_shared(&file).unwrap_err();
        assert!(e.to_string().contains("changed"), "{e}");
        // A FIFO under the name is refused without blocking.
        std::fs::remove_file(&path).unwrap();
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(open_shared(&file).is_err());
    }
}
