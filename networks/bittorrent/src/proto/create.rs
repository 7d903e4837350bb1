//! Making a .torrent from a file or a directory on disk (for seeding and tests).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use super::bencode::Value;
use super::metainfo::{Metainfo, MAX_PIECE_LENGTH};

/// A power-of-two piece length giving roughly 1000 to 2000 pieces, between
/// 16 KiB and 16 MiB.
pub fn default_piece_length(total_length: u64) -> u64 {
    let mut pl: u64 = 16 << 10;
    while pl < (16 << 20) && total_length / pl > 2000 {
        pl *= 2;
    }
    pl
}

/// Builds a .torrent for `path`: a single-file torrent for a file, a
/// multi-file one (files sorted by path, symlinks skipped) for a directory.
/// The first tracker is `announce`; with several, each is its own tier in
/// `announce-list`. The result is checked with [`Metainfo::from_bytes`].
pub fn create_torrent(path: &Path, piece_length: u64, trackers: &[&str]) -> io::Result<Vec<u8>> {
    let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
    if piece_length == 0 || piece_length > MAX_PIECE_LENGTH {
        return Err(invalid(format!(
            "piece length {piece_length} is out of range"
        )));
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| invalid(format!("{} has no UTF-8 file name", path.display())))?
        .to_string();
    let meta = std::fs::metadata(path)?;
    let (files, layout) = if meta.is_file() {
        let files = vec![path.to_path_buf()];
        (files, ("length", Value::Int(meta.len() as i64)))
    } else {
        let mut found = Vec::new();
        walk(path, &mut found)?;
        found.sort();
        if found.is_empty() {
            return Err(invalid(format!("{} holds no files", path.display())));
        }
        let mut list = Vec::with_capacity(found.len());
        for f in &found {
            let rel = f.strip_prefix(path).map_err(|e| invalid(e.to_string()))?;
            let comps = rel
                .iter()
                .map(|c| c.to_str().map(Value::from))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid(format!("{} is not UTF-8", rel.display())))?;
            list.push(Value::dict([
                ("length", Value::Int(std::fs::metadata(f)?.len() as i64)),
                ("path", Value::List(comps)),
            ]));
        }
        (found, ("files", Value::List(list)))
    };
    let pieces = hash_pieces(&files, piece_length)?;
    let info = [
        ("name", Value::from(name.as_str())),
        ("piece length", Value::Int(piece_length as i64)),
        ("pieces", Value::Bytes(pieces)),
        layout,
    ];
    let mut top = vec![("info", Value::dict(info))];
    if let Some(first) = trackers.first() {
        top.push(("announce", Value::from(*first)));
    }
    if trackers.len() > 1 {
        let tiers = trackers
            .iter()
            .map(|t| Value::List(vec![Value::from(*t)]))
            .collect();
        top.push(("announce-list", Value::List(tiers)));
    }
    let bytes = Value::dict(top).to_bytes();
    Metainfo::from_bytes(&bytes).map_err(|e| invalid(e.to_string()))?;
    Ok(bytes)
}

/// The regular files below `dir` (symlinks are not followed), with a stack
/// of folders to visit rather than recursion, however deep the tree.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    Ok(())
}

/// SHA-1 of every `piece_length` chunk of the files read one after another.
fn hash_pieces(files: &[PathBuf], piece_length: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; piece_length as usize];
    let mut filled = 0usize;
    let mut out = Vec::new();
    for path in files {
        let mut f = File::open(path)?;
        loop {
            let n = f.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
            if filled == buf.len() {
                out.extend_from_slice(&Sha1::digest(&buf));
                filled = 0;
            }
        }
    }
    if filled > 0 {
        out.extend_from_slice(&Sha1::digest(&buf[..filled]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let bytes = create_torrent(&path, 16384, &["http://127.0.0.1:1/announce"]).unwrap();
        let m = Metainfo::from_bytes(&bytes).unwrap();
        assert_eq!(m.info.name, "data.bin");
        assert_eq!(m.info.total_length, 50_000);
        assert_eq!(m.info.num_pieces(), 4);
        let expected: [u8; 20] = Sha1::digest(&data[49152..]).into();
        assert_eq!(m.info.pieces[3], expected);
        assert_eq!(
            m.trackers,
            vec![vec!["http://127.0.0.1:1/announce".to_string()]]
        );
    }

    #[test]
    fn directory_round_trip_spans_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("album");
        std::fs::create_dir_all(root.join("cd2")).unwrap();
        std::fs::write(root.join("b.txt"), vec![1u8; 10_000]).unwrap();
        std::fs::write(root.join("cd2/a.txt"), vec![2u8; 10_000]).unwrap();
        let bytes = create_torrent(&root, 16384, &["udp://x:1", "http://y/"]).unwrap();
        let m = Metainfo::from_bytes(&bytes).unwrap();
        assert!(m.info.multi_file);
        assert_eq!(m.info.files[1].path, vec!["cd2", "a.txt"]);
        assert_eq!(m.info.files[1].offset, 10_000);
        let mut first = vec![1u8; 10_000];
        first.extend(vec![2u8; 6384]);
        let expected: [u8; 20] = Sha1::digest(&first).into();
        assert_eq!(m.info.pieces[0], expected);
        assert_eq!(m.trackers.len(), 2);
        assert!(create_torrent(&dir.path().join("missing"), 16384, &[]).is_err());
    }

    #[test]
    fn piece_length_scales() {
        assert_eq!(default_piece_length(1000), 16 << 10);
        assert_eq!(default_piece_length(1 << 30), 1 << 20);
        assert_eq!(default_piece_length(u64::MAX), 16 << 20);
    }
}
