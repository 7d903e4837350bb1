//! Fetching the info dictionary of a magnet from peers (BEP 9): collecting
//! its 16 KiB pieces and checking the whole against the info-hash; and
//! cutting our own info dictionary into pieces for peers that ask.

use sha1::{Digest, Sha1};

use super::extension::{ExtensionError, METADATA_PIECE_LEN};
use super::metainfo::{Info, MAX_INFO_BYTES};

/// Piece `piece` of `info_bytes` to send a peer (`None` past the end).
pub fn metadata_piece(info_bytes: &[u8], piece: u32) -> Option<&[u8]> {
    let start = (piece as usize).checked_mul(METADATA_PIECE_LEN)?;
    if start >= info_bytes.len() {
        return None;
    }
    Some(&info_bytes[start..info_bytes.len().min(start + METADATA_PIECE_LEN)])
}

/// Collects metadata pieces for one info-hash.
#[derive(Debug)]
pub struct MetadataAssembler {
    info_hash: [u8; 20],
    buf: Vec<u8>,
    have: Vec<bool>,
}

impl MetadataAssembler {
    /// Starts collecting `size` bytes (the `metadata_size` a peer announced,
    /// 1 byte to `MAX_INFO_BYTES`).
    pub fn new(info_hash: [u8; 20], size: u64) -> Result<Self, ExtensionError> {
        if size == 0 || size > MAX_INFO_BYTES as u64 {
            return Err(ExtensionError::BadMetadataSize(size));
        }
        let size = size as usize;
        Ok(MetadataAssembler {
            info_hash,
            buf: vec![0; size],
            have: vec![false; size.div_ceil(METADATA_PIECE_LEN)],
        })
    }

    /// Size of the metadata in bytes.
    pub fn size(&self) -> u64 {
        self.buf.len() as u64
    }

    /// Number of pieces.
    pub fn num_pieces(&self) -> u32 {
        self.have.len() as u32
    }

    /// The pieces still missing, in order.
    pub fn missing(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.num_pieces()).filter(|&p| !self.have[p as usize])
    }

    /// Adds a piece from a Data message. When it completes the metadata,
    /// the whole is checked against the info-hash and parsed: `Some(info)`
    /// on success; on a mismatch every piece is dropped and an error
    /// returned (a peer sent bad data; start again with others).
    pub fn add(
        &mut self,
        piece: u32,
        total_size: u64,
        data: &[u8],
    ) -> Result<Option<Info>, ExtensionError> {
        let size = self.size();
        let bad = ExtensionError::BadPiece { piece, size };
        let Some(expected) = metadata_piece(&self.buf, piece).map(<[u8]>::len) else {
            return Err(bad);
        };
        if total_size != size || data.len() != expected {
            return Err(bad);
        }
        let start = piece as usize * METADATA_PIECE_LEN;
        self.buf[start..start + expected].copy_from_slice(data);
        self.have[piece as usize] = true;
        if self.have.iter().any(|h| !h) {
            return Ok(None);
        }
        let hash: [u8; 20] = Sha1::digest(&self.buf).into();
        if hash != self.info_hash {
            self.have.iter_mut().for_each(|h| *h = false);
            return Err(ExtensionError::HashMismatch);
        }
        Info::from_info_bytes(&self.buf)
            .map(Some)
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::bencode::Value;

    fn info_bytes() -> Vec<u8> {
        // ~40 KiB of piece hashes: three metadata pieces
        Value::dict([
            ("name", Value::from("file.bin")),
            ("piece length", Value::Int(16384)),
            ("length", Value::Int(2000 * 16384)),
            ("pieces", Value::bytes(vec![3u8; 2000 * 20])),
        ])
        .to_bytes()
    }

    #[test]
    fn assembles_in_any_order_and_verifies() {
        let bytes = info_bytes();
        let hash: [u8; 20] = Sha1::digest(&bytes).into();
        let size = bytes.len() as u64;
        let mut a = MetadataAssembler::new(hash, size).unwrap();
        assert_eq!(a.num_pieces(), 3);
        for p in [2, 0] {
            let piece = metadata_piece(&bytes, p).unwrap();
            assert_eq!(a.add(p, size, piece).unwrap(), None);
        }
        assert_eq!(a.missing().collect::<Vec<_>>(), vec![1]);
        let info = a
            .add(1, size, metadata_piece(&bytes, 1).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(info.info_hash, hash);
        assert_eq!(info.name, "file.bin");
        assert_eq!(metadata_piece(&bytes, 3), None);
    }

    #[test]
    fn bad_data_resets() {
        let bytes = info_bytes();
        let size = bytes.len() as u64;
        let mut a = MetadataAssembler::new([0; 20], size).unwrap();
        for p in 0..3 {
            let r = a.add(p, size, metadata_piece(&bytes, p).unwrap());
            if p == 2 {
                assert_eq!(r, Err(ExtensionError::HashMismatch));
            }
        }
        assert_eq!(a.missing().count(), 3);
    }

    #[test]
    fn refuses_wrong_sizes() {
        assert!(MetadataAssembler::new([0; 20], 0).is_err());
        assert!(MetadataAssembler::new([0; 20], MAX_INFO_BYTES as u64 + 1).is_err());
        let mut a = MetadataAssembler::new([0; 20], 20000).unwrap();
        assert!(a.add(2, 20000, &[0; 10]).is_err());
        assert!(a.add(0, 20000, &[0; 10]).is_err());
        assert!(a.add(1, 20001, &[0; 3616]).is_err());
        assert!(a.add(1, 20000, &[0; 3616]).is_ok());
    }
}
