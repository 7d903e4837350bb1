//! The data dir holds the user hash, the queue, the config and the control
//! socket: it and what it holds are the owner's only (0700 for folders, 0600
//! for files), also when an older version created them world-readable.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Files in the data dir that swarmux or its networks create.
const PRIVATE_FILES: &[&str] = &[
    "config.toml",
    "swarmux.redb",
    "ed2k_userhash",
    "index-server.hash",
    "gnutella_guid",
    "gnutella_hosts",
    "dht.state",
    "ports.json",
    "daemon.log",
];

/// Creates `dir` (and its parents) if needed and makes it private (0700),
/// then makes every known file in it private (0600). Symlinks are left alone.
pub fn secure_data_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    std::fs::set_permissions(dir, Permissions::from_mode(0o700))?;
    for name in PRIVATE_FILES {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&path, Permissions::from_mode(0o600))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Opens `path` for writing, created 0600 if new, truncated unless `append`.
pub fn create_private(path: &Path, append: bool) -> io::Result<std::fs::File> {
    let mut o = OpenOptions::new();
    o.create(true).mode(0o600);
    if append {
        o.append(true);
    } else {
        o.write(true).truncate(true);
    }
    o.open(path)
}

/// Writes `bytes` to `path` as a file only its owner can read.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = create_private(path, false)?;
    f.write_all(bytes)?;
    f.set_permissions(Permissions::from_mode(0o600))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn an_old_world_readable_data_dir_is_made_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("ed2k_userhash"), [1u8; 16]).unwrap();
        std::fs::set_permissions(dir.join("ed2k_userhash"), Permissions::from_mode(0o644)).unwrap();
        std::fs::write(tmp.path().join("elsewhere"), b"x").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), dir.join("config.toml")).unwrap();
        std::fs::set_permissions(tmp.path().join("elsewhere"), Permissions::from_mode(0o644))
            .unwrap();
        secure_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("ed2k_userhash")), 0o600);
        // A symlink's target outside the data dir is not touched.
        assert_eq!(mode(&tmp.path().join("elsewhere")), 0o644);
    }

    #[test]
    fn private_files_are_created_for_the_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, Permissions::from_mode(0o666)).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        secure_data_dir(&tmp.path().join("a/b")).unwrap();
        assert_eq!(mode(&tmp.path().join("a/b")), 0o700);
    }
}
