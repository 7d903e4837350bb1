//! Content hashing shared by the engine (hashing shared folders) and the
//! networks (verifying downloaded parts): eDonkey2000 MD4 part hashes and the
//! whole-file SHA-1, computed in one pass.

use md4::{Digest, Md4};
use sha1::Sha1;
use std::io::{self, Read};

/// eDonkey2000 part size: each part has its own MD4 hash.
pub const ED2K_PART_SIZE: u64 = 9_728_000;

/// Number of parts that carry data (the download unit), at least one.
pub fn ed2k_part_count(size: u64) -> usize {
    size.div_ceil(ED2K_PART_SIZE).max(1) as usize
}

/// Byte range `[start, end)` of part `index` in a file of `size` bytes.
pub fn ed2k_part_range(size: u64, index: usize) -> (u64, u64) {
    let start = index as u64 * ED2K_PART_SIZE;
    (start.min(size), (start + ED2K_PART_SIZE).min(size))
}

/// MD4 of a byte slice.
pub fn md4(data: &[u8]) -> [u8; 16] {
    Md4::digest(data).into()
}

/// The ed2k file hash from the hashset. A file of one part is hashed directly;
/// otherwise the hash is the MD4 of the concatenated part hashes, where a file
/// whose size is an exact multiple of the part size has one extra hash of the
/// empty part at the end (as eMule and aMule do).
pub fn ed2k_root(part_hashes: &[[u8; 16]]) -> [u8; 16] {
    if part_hashes.len() == 1 {
        return part_hashes[0];
    }
    let mut h = Md4::new();
    for p in part_hashes {
        h.update(p);
    }
    h.finalize().into()
}

/// The hashset as stored and sent on the wire: for files of at least one part,
/// including the trailing empty-part hash when the size is an exact multiple.
pub fn ed2k_hashset_len(size: u64) -> usize {
    if size < ED2K_PART_SIZE {
        1
    } else {
        (size / ED2K_PART_SIZE) as usize + 1
    }
}

/// Hashes of one file: ed2k root, ed2k hashset, SHA-1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHashes {
    pub ed2k: [u8; 16],
    pub ed2k_parts: Vec<[u8; 16]>,
    pub sha1: [u8; 20],
    pub size: u64,
}

/// Streams a file through MD4 (per part) and SHA-1 at once.
#[derive(Default)]
pub struct FileHasher {
    part: Md4,
    part_fill: u64,
    parts: Vec<[u8; 16]>,
    sha1: Sha1,
    size: u64,
}

impl FileHasher {
    /// A hasher with nothing fed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the file.
    pub fn update(&mut self, mut data: &[u8]) {
        self.sha1.update(data);
        self.size += data.len() as u64;
        while !data.is_empty() {
            let room = (ED2K_PART_SIZE - self.part_fill) as usize;
            let take = room.min(data.len());
            self.part.update(&data[..take]);
            self.part_fill += take as u64;
            data = &data[take..];
            if self.part_fill == ED2K_PART_SIZE {
                let done = std::mem::take(&mut self.part);
                self.parts.push(done.finalize().into());
                self.part_fill = 0;
            }
        }
    }

    /// Finishes and returns all hashes.
    pub fn finish(mut self) -> FileHashes {
        // The last (possibly empty) part: an exact multiple gets the empty-part hash.
        if self.part_fill > 0 || self.parts.is_empty() || self.size.is_multiple_of(ED2K_PART_SIZE) {
            self.parts.push(self.part.finalize().into());
        }
        FileHashes {
            ed2k: ed2k_root(&self.parts),
            ed2k_parts: self.parts,
            sha1: self.sha1.finalize().into(),
            size: self.size,
        }
    }
}

/// Hashes a whole reader, calling `progress` with the bytes done so far
/// after each chunk; returns early with an error if `progress` returns false.
pub fn hash_reader(
    mut r: impl Read,
    mut progress: impl FnMut(u64) -> bool,
) -> io::Result<FileHashes> {
    let mut h = FileHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        if !progress(h.size) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "hashing cancelled",
            ));
        }
    }
    Ok(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_file_hash_is_md4_of_data() {
        let h = hash_reader(&b"hello"[..], |_| true).unwrap();
        assert_eq!(h.ed2k, md4(b"hello"));
        assert_eq!(h.ed2k_parts.len(), 1);
        // Known MD4 of the empty string.
        let e = hash_reader(&b""[..], |_| true).unwrap();
        assert_eq!(hex::encode(e.ed2k), "31d6cfe0d16ae931b73c59d7e0c089c0");
    }

    #[test]
    fn exact_multiple_gets_empty_part() {
        let data = vec![1u8; ED2K_PART_SIZE as usize];
        let h = hash_reader(&data[..], |_| true).unwrap();
        assert_eq!(h.ed2k_parts.len(), 2);
        assert_eq!(h.ed2k_parts.len(), ed2k_hashset_len(h.size));
        assert_eq!(h.ed2k_parts[1], md4(b""));
        assert_eq!(h.ed2k, ed2k_root(&[md4(&data), md4(b"")]));
        assert_eq!(ed2k_part_count(h.size), 1);
    }

    #[test]
    fn split_feeding_matches_whole() {
        let data: Vec<u8> = (0..ED2K_PART_SIZE as usize + 1000)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut a = FileHasher::new();
        for c in data.chunks(7777) {
            a.update(c);
        }
        let a = a.finish();
        assert_eq!(a.ed2k_parts.len(), 2);
        assert_eq!(a.ed2k_parts[1], md4(&data[ED2K_PART_SIZE as usize..]));
        assert_eq!(ed2k_part_range(a.size, 1), (ED2K_PART_SIZE, a.size));
        assert_eq!(ed2k_part_count(a.size), 2);
    }
}
