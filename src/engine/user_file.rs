//! Files a user points the engine at (`servers import FILE`, `get FILE.torrent`,
//! the watch folder) are read off the engine's task, and only if they are
//! regular files of a sensible size: `/dev/zero` would fill memory and a FIFO
//! would block forever.

use std::io::Read;
use std::path::Path;

/// The largest server list read (an eMule `server.met` is a few kilobytes).
pub const MAX_SERVER_LIST: u64 = 1 << 20;

/// Reads `path` if it is a regular file of at most `max` bytes; the error is a
/// sentence for the user. `what` names the kind of file (`a .torrent`).
/// Blocking: call it on a blocking thread.
pub fn read_regular(path: &Path, max: u64, what: &str) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display();
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "{shown} is not a regular file (a device, FIFO or folder cannot be {what})"
        ));
    }
    if meta.len() > max {
        return Err(format!(
            "{shown} is {} bytes; {what} is at most {max} bytes",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("{shown} grew past {max} bytes while being read"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_folders_and_big_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_regular(Path::new("/dev/zero"), MAX_SERVER_LIST, "a server.met").unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // Returns at once instead of waiting for a writer.
        let e = read_regular(&fifo, MAX_SERVER_LIST, "a server.met").unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(read_regular(dir.path(), 10, "a .torrent").is_err());
        let big = dir.path().join("big.torrent");
        std::fs::write(&big, vec![b'd'; 11]).unwrap();
        let e = read_regular(&big, 10, "a .torrent").unwrap_err();
        assert!(e.contains("at most 10 bytes"), "{e}");
        let ok = dir.path().join("ok.torrent");
        std::fs::write(&ok, b"d4:infode").unwrap();
        assert_eq!(read_regular(&ok, 10, "a .torrent").unwrap(), b"d4:infode");
    }
}
