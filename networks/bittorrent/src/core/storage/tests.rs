use super::*;
use crate::core::layout::{FileEntry, BLOCK_LEN};
use sha1::{Digest, Sha1};
use swarmux_net::testing::data;

fn entry(path: &[&str], length: u64) -> FileEntry {
    FileEntry {
        path: path.iter().map(|s| s.to_string()).collect(),
        length,
        padding: false,
    }
}

fn piece_hashes(layout: &Layout, all: &[u8]) -> Vec<[u8; 20]> {
    let g = layout.geometry();
    (0..g.piece_count())
        .map(|p| {
            let start = g.piece_offset(p) as usize;
            let end = start + g.piece_size(p) as usize;
            Sha1::digest(&all[start..end]).into()
        })
        .collect()
}

/// Writes the whole torrent block by block, in a scrambled order.
fn write_all(storage: &Storage, all: &[u8]) {
    let g = *storage.layout().geometry();
    let mut blocks = Vec::new();
    for p in 0..g.piece_count() {
        for b in 0..g.block_count(p) {
            blocks.push((p, b));
        }
    }
    blocks.reverse();
    let third = blocks.len() / 3;
    blocks.rotate_left(third);
    for (p, b) in blocks {
        let start = (g.piece_offset(p) + u64::from(b * BLOCK_LEN)) as usize;
        let len = g.block_len(p, b) as usize;
        storage
            .write_block(p, b * BLOCK_LEN, &all[start..start + len])
            .unwrap();
    }
}

fn multi_file_layout(piece_len: u32) -> Layout {
    Layout::new(
        vec![
            entry(&["a.bin"], 10_000),
            entry(&["empty"], 0),
            entry(&["sub", "b.bin"], 30_000),
            entry(&["sub", "deeper", "c"], 5),
            entry(&["d.bin"], 50_001),
        ],
        piece_len,
    )
    .unwrap()
}

#[test]
fn storage_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Storage>();
}

#[test]
fn writes_and_reads_across_file_boundaries_byte_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let layout = multi_file_layout(32 * 1024);
    let total = layout.geometry().total_len() as usize;
    let all = data(total, 1);
    let storage = Storage::new(dir.path().join("t"), layout).unwrap();
    storage.create_files(&[]).unwrap();
    assert!(
        storage.file_path(1).exists(),
        "zero-length files are created too"
    );
    write_all(&storage, &all);
    storage.sync_all().unwrap();
    // Each file holds exactly its slice.
    let mut offset = 0usize;
    for (i, f) in storage.layout().files().iter().enumerate() {
        let on_disk = std::fs::read(storage.file_path(i)).unwrap();
        assert_eq!(
            on_disk,
            &all[offset..offset + f.length as usize],
            "file {i}"
        );
        offset += f.length as usize;
    }
    // Reads of odd ranges match too.
    let g = *storage.layout().geometry();
    for p in 0..g.piece_count() {
        let size = g.piece_size(p);
        for (off, len) in [(0, size), (1, size - 1), (size / 2, 3.min(size - size / 2))] {
            let mut buf = vec![0u8; len as usize];
            storage.read_block(p, off, &mut buf).unwrap();
            let start = (g.piece_offset(p) + u64::from(off)) as usize;
            assert_eq!(buf, &all[start..start + len as usize]);
        }
    }
    // Out-of-piece ranges are refused.
    let err = storage.write_block(0, 32 * 1024 - 1, &[0, 0]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let mut buf = [0u8; 1];
    assert!(storage.read_block(g.piece_count(), 0, &mut buf).is_err());
}

#[test]
fn verify_and_check_existing_find_good_and_bad_pieces() {
    let dir = tempfile::tempdir().unwrap();
    // 16 KiB pieces: 6 of them, the last one 7 830 bytes.
    let layout = multi_file_layout(16 * 1024);
    let all = data(layout.geometry().total_len() as usize, 2);
    let hashes = piece_hashes(&layout, &all);
    let storage = Storage::new(dir.path(), layout.clone()).unwrap();
    // Nothing on disk: no piece, no error, nothing created.
    let have = storage.check_existing(&hashes).unwrap();
    assert_eq!(have.count_ones(), 0);
    assert!(!storage.file_path(0).exists());
    assert!(!storage.verify_piece(0, &hashes[0]).unwrap());

    write_all(&storage, &all);
    for (p, h) in hashes.iter().enumerate() {
        assert!(storage.verify_piece(p as u32, h).unwrap());
        assert!(!storage.verify_piece(p as u32, &[0; 20]).unwrap());
    }
    assert!(storage.check_existing(&hashes).unwrap().is_complete());
    assert!(storage.check_existing(&hashes[1..]).is_err());
    drop(storage);

    // Corrupt one byte of sub/b.bin at offset 25 000 (torrent offset 35 000:
    // piece 2), and cut d.bin short: a file of the wrong length is not read,
    // so every piece it touches (2 to 5) is missing.
    let b_path = dir.path().join("sub").join("b.bin");
    let mut b = std::fs::read(&b_path).unwrap();
    b[25_000] ^= 0xFF;
    std::fs::write(&b_path, b).unwrap();
    let d = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("d.bin"))
        .unwrap();
    d.set_len(50_000).unwrap();
    let storage = Storage::new(dir.path(), layout.clone()).unwrap();
    let have = storage.check_existing(&hashes).unwrap();
    assert_eq!(have.iter_ones().collect::<Vec<_>>(), vec![0, 1]);
    let mut buf = [0u8; 16];
    let err = storage.read_block(3, 0, &mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    drop(storage);
    // Back at its length (its last byte lost), d.bin gives pieces 3 and 4 again.
    d.set_len(50_001).unwrap();
    let storage = Storage::new(dir.path(), layout.clone()).unwrap();
    let have = storage.check_existing(&hashes).unwrap();
    let last = layout.geometry().piece_count() - 1;
    assert_eq!(
        have.iter_ones().collect::<Vec<_>>(),
        (0..last).filter(|p| *p != 2).collect::<Vec<_>>()
    );

    // A missing file only costs the pieces it touches.
    std::fs::remove_file(dir.path().join("a.bin")).unwrap();
    let have = Storage::new(dir.path(), layout)
        .unwrap()
        .check_existing(&hashes)
        .unwrap();
    assert!(!have.get(0));
    assert!(have.get(1) && have.get(3));
}

#[test]
fn unsafe_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        vec![".."],
        vec!["ok", "..", "x"],
        vec!["."],
        vec![""],
        vec!["a/b"],
        vec!["a\\b"],
        vec!["C:"],
        vec!["c:evil"],
        vec!["nul\0byte"],
        vec!["/etc"],
    ] {
        let layout = Layout::new(vec![entry(&["fine"], 1), entry(&bad, 1)], 16).unwrap();
        let err = Storage::new(dir.path(), layout).err();
        assert!(
            matches!(err, Some(StorageError::UnsafeComponent { file: 1, .. })),
            "{bad:?}: {err:?}"
        );
    }
    let layout = Layout::new(vec![entry(&[], 1)], 16).unwrap();
    assert_eq!(
        Storage::new(dir.path(), layout).err(),
        Some(StorageError::EmptyPath { file: 0 })
    );
    // Names that merely look odd are fine.
    let layout = Layout::new(vec![entry(&["..hidden", "ab:c", "x.."], 1)], 16).unwrap();
    assert!(Storage::new(dir.path(), layout).is_ok());
}

#[test]
fn symlinked_directory_leading_out_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
    let layout = Layout::new(vec![entry(&["link", "f"], 4)], 16).unwrap();
    let storage = Storage::new(root.path(), layout).unwrap();
    let err = storage.write_block(0, 0, b"evil").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
}

/// A seeded file, and a folder of seeded files, swapped for symlinks to
/// private data: nothing of it is served, whether the file was open or not.
#[test]
fn files_swapped_for_symlinks_are_not_served() {
    let root = tempfile::tempdir().unwrap();
    let private = tempfile::tempdir().unwrap();
    let secret = vec![0x5Eu8; 32];
    std::fs::write(private.path().join("key"), &secret).unwrap();
    std::fs::create_dir(root.path().join("sub")).unwrap();
    std::fs::write(private.path().join("sub-f"), &secret).unwrap();
    let public = vec![0x11u8; 32];
    std::fs::write(root.path().join("f"), &public).unwrap();
    std::fs::write(root.path().join("sub").join("g"), &public).unwrap();
    let layout = Layout::new(vec![entry(&["f"], 32), entry(&["sub", "g"], 32)], 32).unwrap();
    let hashes = piece_hashes(&layout, &[public.clone(), public.clone()].concat());
    let seeding = Storage::new(root.path(), layout.clone()).unwrap();
    assert!(seeding.check_existing(&hashes).unwrap().is_complete());
    let mut buf = [0u8; 32];
    seeding.read_block(0, 0, &mut buf).unwrap();
    assert_eq!(buf.to_vec(), public);

    // f becomes a symlink to the private key, sub a symlink to a private folder
    std::fs::remove_file(root.path().join("f")).unwrap();
    std::os::unix::fs::symlink(private.path().join("key"), root.path().join("f")).unwrap();
    std::fs::remove_dir_all(root.path().join("sub")).unwrap();
    std::fs::create_dir(private.path().join("sub")).unwrap();
    std::fs::write(private.path().join("sub").join("g"), &secret).unwrap();
    std::os::unix::fs::symlink(private.path().join("sub"), root.path().join("sub")).unwrap();

    // the open handle still reads the file that was checked, never the key
    seeding.read_block(0, 0, &mut buf).unwrap();
    assert_eq!(buf.to_vec(), public);
    // a fresh storage (a restart, or a closed handle) refuses both
    let fresh = Storage::new(root.path(), layout).unwrap();
    for piece in 0..2 {
        let err = fresh.read_block(piece, 0, &mut buf).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(!fresh
            .verify_piece(piece, &hashes[piece as usize])
            .unwrap_or(false));
    }
    assert_eq!(fresh.check_existing(&hashes).unwrap().count_ones(), 0);
    // a hard link or a copy of another size is refused too
    std::fs::remove_file(root.path().join("f")).unwrap();
    std::fs::write(root.path().join("f"), [0u8; 33]).unwrap();
    let err = fresh.read_block(0, 0, &mut buf).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
}

#[test]
fn skipped_files_are_created_only_when_a_piece_straddles_them() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(
        vec![
            entry(&["one"], 20_000),
            entry(&["two"], 100_000),
            entry(&["three"], 20_000),
        ],
        32 * 1024,
    )
    .unwrap();
    let storage = Storage::new(dir.path(), layout).unwrap();
    storage
        .create_files(&[Priority::Normal, Priority::Skip, Priority::Skip])
        .unwrap();
    assert_eq!(
        std::fs::metadata(storage.file_path(0)).unwrap().len(),
        20_000
    );
    assert!(!storage.file_path(1).exists());
    assert!(!storage.file_path(2).exists());
    // Piece 0 straddles "one" and "two": writing it creates "two", sparse at full length.
    let piece = data(32 * 1024, 3);
    storage.write_block(0, 0, &piece[..16 * 1024]).unwrap();
    storage
        .write_block(0, 16 * 1024, &piece[16 * 1024..])
        .unwrap();
    let meta = std::fs::metadata(storage.file_path(1)).unwrap();
    assert_eq!(meta.len(), 100_000);
    {
        use std::os::unix::fs::MetadataExt;
        assert!(meta.blocks() * 512 < 100_000, "preallocation is sparse");
    }
    assert!(!storage.file_path(2).exists());
}

#[test]
fn more_files_than_open_handles() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = (0..MAX_OPEN_FILES + 10)
        .map(|i| entry(&["many", &format!("f{i}")], 100))
        .collect();
    let layout = Layout::new(files, 1024).unwrap();
    let all = data(layout.geometry().total_len() as usize, 4);
    let hashes = piece_hashes(&layout, &all);
    let storage = Storage::new(dir.path(), layout).unwrap();
    write_all(&storage, &all);
    assert!(storage.lock().open.len() <= MAX_OPEN_FILES);
    assert!(storage.check_existing(&hashes).unwrap().is_complete());
}

#[test]
fn existing_longer_file_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), vec![7u8; 50]).unwrap();
    let layout = Layout::new(vec![entry(&["f"], 20)], 16).unwrap();
    let storage = Storage::new(dir.path(), layout).unwrap();
    let err = storage.create_files(&[]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("is 50 bytes, not the 20"), "{err}");
    assert!(storage.write_block(1, 0, &[1, 2, 3, 4]).is_err());
    assert_eq!(std::fs::read(storage.file_path(0)).unwrap(), vec![7u8; 50]);
    assert_eq!(storage.root(), dir.path());
}

/// A multi-file torrent whose folder and file names are 90 CJK characters
/// (270 bytes): written and read back under names that fit, two names that
/// cut alike kept apart, and found again by a new storage.
#[test]
fn names_over_the_file_system_limit_are_cut_to_fit() {
    let dir = tempfile::tempdir().unwrap();
    let folder = "漢".repeat(90);
    let a = format!("{}.mkv", "字".repeat(90));
    let b = format!("{}語.mkv", "字".repeat(89));
    let layout = Layout::new(
        vec![
            entry(&[&folder, &a], 20_000),
            entry(&[&folder, &b], 30_000),
            entry(&[&"語".repeat(90)], 5),
        ],
        16 * 1024,
    )
    .unwrap();
    let all = data(layout.geometry().total_len() as usize, 7);
    let hashes = piece_hashes(&layout, &all);
    let storage = Storage::new(dir.path(), layout.clone()).unwrap();
    storage.create_files(&[]).unwrap();
    write_all(&storage, &all);
    let max = swarmux_net::names::name_max(dir.path());
    let mut names = Vec::new();
    for file in 0..3 {
        let p = storage.file_path(file);
        assert!(p.is_file(), "{}", p.display());
        let rel = p.strip_prefix(dir.path()).unwrap();
        assert_eq!(rel.components().count(), layout.files()[file].path.len());
        for c in rel.components() {
            assert!(c.as_os_str().len() <= max);
        }
        names.push(rel.to_path_buf());
    }
    assert_ne!(names[0], names[1]);
    assert!(names[0].to_str().unwrap().ends_with(".mkv"));
    let again = Storage::new(dir.path(), layout).unwrap();
    assert!(again.check_existing(&hashes).unwrap().is_complete());
}
