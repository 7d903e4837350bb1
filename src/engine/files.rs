//! File names and moves for downloads.

use std::io;
use std::path::{Path, PathBuf};

/// The temp file name of a download: its id and content hash, never the
/// peer-supplied name.
pub fn temp_name(id: u64, hash: &str) -> String {
    let safe: String = hash
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{id}-{safe}.part")
}

/// Turns a peer-supplied file name into one safe component: no separators,
/// no `..`, no control characters, never empty.
pub fn safe_file_name(name: &str) -> String {
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
        trimmed.chars().take(200).collect()
    }
}

/// A path in `dir` for `name` that does not exist yet: `name`, `name (1).ext`, ...
fn free_path(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s, format!(".{e}")),
        _ => (name, String::new()),
    };
    (1..)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// Moves a finished temp file (or folder) into `dir` under a safe, unused name.
pub fn move_into(temp: &Path, dir: &Path, name: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let dest = free_path(dir, &safe_file_name(name));
    match std::fs::rename(temp, &dest) {
        Ok(()) => Ok(dest),
        // Another file system: copy, then remove.
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            copy_all(temp, &dest)?;
            if temp.is_dir() {
                std::fs::remove_dir_all(temp)?;
            } else {
                std::fs::remove_file(temp)?;
            }
            Ok(dest)
        }
        Err(e) => Err(e),
    }
}

/// Copies a file, or a folder with everything in it (a multi-file torrent).
fn copy_all(from: &Path, to: &Path) -> io::Result<()> {
    if !from.is_dir() {
        return std::fs::copy(from, to).map(|_| ());
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        copy_all(&entry.path(), &to.join(entry.file_name()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_folder() {
        assert_eq!(safe_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_file_name(".."), "unnamed");
        assert_eq!(safe_file_name("/abs"), "_abs");
        assert_eq!(safe_file_name("ok.iso"), "ok.iso");
        assert_eq!(temp_name(3, "ed2k:ab"), "3-ed2k-ab.part");
    }

    #[test]
    fn move_picks_a_free_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.bin"), b"old").unwrap();
        let temp = dir.path().join("t.part");
        std::fs::write(&temp, b"new").unwrap();
        let got = move_into(&temp, dir.path(), "a.bin").unwrap();
        assert_eq!(got, dir.path().join("a (1).bin"));
        assert_eq!(std::fs::read(got).unwrap(), b"new");
    }
}
