//! File names and moves for downloads.
//!
//! A finished download leaves the temp folder without ever showing a partial
//! file under its final name: on the same file system it is renamed (never
//! over an existing file); across file systems it is copied to a hidden name
//! in the target folder, synced, then renamed, and on any failure the copy is
//! removed and the verified data stays in the temp folder.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use swarmux_net::names::{cut_at_char, fit_name};

/// The temp file name of a download: its id and content hash, never the
/// peer-supplied name.
pub fn temp_name(id: u64, hash: &str) -> String {
    let safe: String = hash
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{id}-{safe}.part")
}

/// Turns a peer-supplied file name into one safe component of at most
/// `max_bytes` bytes: no separators, no `..`, no control characters, never
/// empty, cut at a character boundary keeping its extension.
pub fn safe_file_name(name: &str, max_bytes: usize) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | '\0' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.');
    if trimmed.is_empty() {
        "unnamed".to_string()
    } else {
        fit_name(trimmed, max_bytes)
    }
}

/// `name` with ` (n)` before its extension, cut to fit `max_bytes`.
fn numbered(name: &str, n: u32, max_bytes: usize) -> String {
    // The same extension rule as `fit_name`: a short one after the last dot.
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= 16 => name.split_at(dot),
        _ => (name, ""),
    };
    let suffix = format!(" ({n}){ext}");
    let room = max_bytes.saturating_sub(suffix.len());
    format!("{}{suffix}", cut_at_char(stem, room))
}

/// Renames `from` to `to` unless `to` exists (atomically, where the file
/// system can; otherwise checked first).
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    let (Ok(f), Ok(t)) = (
        CString::new(from.as_os_str().as_bytes()),
        CString::new(to.as_os_str().as_bytes()),
    ) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"));
    };
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them
    // like rename(2) does.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() != Some(libc::EINVAL) {
        return Err(e);
    }
    // A file system without RENAME_NOREPLACE.
    if to.symlink_metadata().is_ok() {
        return Err(io::Error::from_raw_os_error(libc::EEXIST));
    }
    std::fs::rename(from, to)
}

/// Renames `from` into `dir` under `name`, or `name (1)`, `name (2)`, … when
/// taken; returns where it landed.
fn rename_to_free_name(from: &Path, dir: &Path, name: &str, max: usize) -> io::Result<PathBuf> {
    let mut dest = dir.join(name);
    for n in 1..=10_000 {
        match rename_no_replace(from, &dest) {
            Ok(()) => return Ok(dest),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                dest = dir.join(numbered(name, n, max));
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("10,000 files named like {name} exist already"),
    ))
}

/// Moves a finished temp file (or folder) `temp` into `dir` under a safe,
/// unused form of `name` that fits the file system; `id` names the hidden
/// copy made when `dir` is on another file system.
pub fn move_into(temp: &Path, dir: &Path, name: &str, id: u64) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let max = swarmux_net::names::name_max(dir);
    let name = safe_file_name(name, max);
    match rename_to_free_name(temp, dir, &name, max) {
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
        done => return done,
    }
    // Another file system: copy to a hidden name, sync, then rename.
    let hidden = dir.join(format!(".swarmux-{id}.partial"));
    remove_all(&hidden)?;
    let landed = copy_all(temp, &hidden)
        .and_then(|()| sync_dir(dir))
        .and_then(|()| rename_to_free_name(&hidden, dir, &name, max));
    match landed {
        Ok(dest) => {
            sync_dir(dir)?;
            remove_all(temp)?;
            Ok(dest)
        }
        Err(e) => {
            // Keep the verified data in temp; leave nothing half-copied behind.
            let _ = remove_all(&hidden);
            Err(e)
        }
    }
}

/// Removes a file or a folder with everything in it; a missing one is fine.
fn remove_all(path: &Path) -> io::Result<()> {
    let r = match path.symlink_metadata() {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Makes a folder's entries durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Copies a file, or a folder with everything in it (a multi-file torrent),
/// syncing each file it writes.
fn copy_all(from: &Path, to: &Path) -> io::Result<()> {
    if !from.is_dir() {
        std::fs::copy(from, to)?;
        return std::fs::File::open(to)?.sync_all();
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        copy_all(&entry.path(), &to.join(entry.file_name()))?;
    }
    sync_dir(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_folder() {
        assert_eq!(safe_file_name("../../etc/passwd", 255), "_.._etc_passwd");
        assert_eq!(safe_file_name("..", 255), "unnamed");
        assert_eq!(safe_file_name("/abs", 255), "_abs");
        assert_eq!(safe_file_name("ok.iso", 255), "ok.iso");
        assert_eq!(temp_name(3, "ed2k:ab"), "3-ed2k-ab.part");
    }

    #[test]
    fn long_names_fit_in_bytes_with_their_extension() {
        // 90 CJK characters: 270 bytes, 90 characters (under the old 200-character cut).
        let name = format!("{}.bin", "漢".repeat(90));
        let safe = safe_file_name(&name, 255);
        assert!(safe.len() <= 255 && safe.ends_with(".bin"), "{safe}");
        let second = numbered(&safe, 12, 255);
        assert!(
            second.len() <= 255 && second.ends_with(" (12).bin"),
            "{second}"
        );
    }

    #[test]
    fn a_long_name_lands_in_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("{}.bin", "漢".repeat(90));
        for n in 0..2 {
            let temp = dir.path().join(format!("t{n}.part"));
            std::fs::write(&temp, b"data").unwrap();
            let got = move_into(&temp, &dir.path().join("out"), &name, n).unwrap();
            assert!(got.exists() && !temp.exists());
            let landed = got.file_name().unwrap().len();
            assert!(landed <= 255, "{landed}");
        }
    }

    #[test]
    fn move_picks_a_free_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.bin"), b"old").unwrap();
        let temp = dir.path().join("t.part");
        std::fs::write(&temp, b"new").unwrap();
        let got = move_into(&temp, dir.path(), "a.bin", 1).unwrap();
        assert_eq!(got, dir.path().join("a (1).bin"));
        assert_eq!(std::fs::read(got).unwrap(), b"new");
        assert_eq!(std::fs::read(dir.path().join("a.bin")).unwrap(), b"old");
    }
}
