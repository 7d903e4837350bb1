//! Opening a torrent's file below its root without following a symlink in
//! any path component, one `openat(O_NOFOLLOW)` per component (what Linux's
//! `openat2(RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)` does, on every Unix): a
//! file or folder swapped for a symlink after the torrent was checked can
//! never make the storage read or write something else. Components are
//! already checked (no `..`, no separator), so each step stays beneath.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// Opens `components` below `root` read-write (read-only when writing is not
/// allowed and `create` is false), creating missing folders and the file
/// when `create`; refuses a symlink anywhere below `root` and anything that
/// is not a regular file.
pub(super) fn open_beneath(root: &Path, components: &[String], create: bool) -> io::Result<File> {
    let shown = || root.join(components.join("/"));
    let (name, dirs) = components
        .split_last()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty path"))?;
    if create {
        std::fs::create_dir_all(root)?;
    }
    let mut dir = OwnedFd::from(File::open(root)?);
    for d in dirs {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        dir = match openat(&dir, d, flags, 0) {
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                mkdirat(&dir, d)?;
                openat(&dir, d, flags, 0)
            }
            other => other,
        }
        .map_err(|e| refused(e, &shown()))?;
    }
    let create_flag = if create { libc::O_CREAT } else { 0 };
    let fd = match openat(
        &dir,
        name,
        libc::O_RDWR | libc::O_NONBLOCK | create_flag,
        0o644,
    ) {
        // existing data we may only read can still be seeded
        Err(e) if !create && e.kind() == io::ErrorKind::PermissionDenied => {
            openat(&dir, name, libc::O_RDONLY | libc::O_NONBLOCK, 0)
        }
        other => other,
    }
    .map_err(|e| refused(e, &shown()))?;
    let file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} is not a regular file; refused", shown().display()),
        ));
    }
    Ok(file)
}

/// A symlink met on the way (`ELOOP`, or `ENOTDIR` for a folder) as a refusal.
fn refused(e: io::Error, path: &Path) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ELOOP | libc::ENOTDIR) => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{} goes through a symlink; refused", path.display()),
        ),
        _ => e,
    }
}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a name"))
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)`.
fn openat(
    dir: &OwnedFd,
    name: &str,
    flags: libc::c_int,
    mode: libc::c_uint,
) -> io::Result<OwnedFd> {
    let name = c_name(name)?;
    // SAFETY: `dir` is an open descriptor and `name` a NUL-terminated string
    // that outlives the call.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mkdirat(dir, name, 0o755)`; an existing entry is left to the next open.
fn mkdirat(dir: &OwnedFd, name: &str) -> io::Result<()> {
    let name = c_name(name)?;
    // SAFETY: as in `openat`.
    if unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) } < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(e);
        }
    }
    Ok(())
}
