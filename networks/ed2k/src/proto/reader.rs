//! Reading eDonkey2000 payloads: the shared bounds-checked [`Reader`] with
//! the ed2k field kinds on top ([`Ed2kRead`]), the [`ReadError`] every
//! decoder returns, and the little-endian writers every encoder uses.

pub use swarmux_net::bytes::Reader;
use swarmux_net::bytes::Short;
use swarmux_net::names::cut_at_char;

/// Reading past the end of a message, or a value that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("message truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("invalid message: {0}")]
    Invalid(String),
    /// Well-formed so far but over a bound this side sets (a search tree
    /// with too many terms, say): the sender may be answered and kept.
    #[error("over a limit: {0}")]
    TooLarge(String),
}

impl ReadError {
    /// Shorthand for [`ReadError::Invalid`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        ReadError::Invalid(msg.into())
    }
}

impl From<Short> for ReadError {
    fn from(e: Short) -> Self {
        ReadError::Truncated {
            offset: e.offset,
            needed: e.needed - e.left,
        }
    }
}

/// The eDonkey2000 field kinds read on top of the shared [`Reader`].
pub trait Ed2kRead {
    /// A 16-byte MD4 hash.
    fn hash16(&mut self) -> Result<[u8; 16], ReadError>;
    /// A string of `n` bytes, decoded as UTF-8 (invalid sequences replaced).
    fn string_n(&mut self, n: usize) -> Result<String, ReadError>;
    /// A string prefixed by its u16 byte length.
    fn string16(&mut self) -> Result<String, ReadError>;
    /// A count whose items take at least `min_item` bytes each: rejects counts
    /// that cannot fit in what remains, so callers can allocate safely.
    fn count(&mut self, count: u64, min_item: usize) -> Result<usize, ReadError>;
}

impl Ed2kRead for Reader<'_> {
    fn hash16(&mut self) -> Result<[u8; 16], ReadError> {
        Ok(self.array()?)
    }

    fn string_n(&mut self, n: usize) -> Result<String, ReadError> {
        Ok(decode_str(self.bytes(n)?))
    }

    fn string16(&mut self) -> Result<String, ReadError> {
        let n = self.u16_le()? as usize;
        self.string_n(n)
    }

    fn count(&mut self, count: u64, min_item: usize) -> Result<usize, ReadError> {
        self.fits(count, min_item).ok_or_else(|| {
            ReadError::Invalid(format!(
                "count {count} cannot fit in {} remaining bytes",
                self.remaining()
            ))
        })
    }
}

/// The UTF-8 byte order mark eMule puts before some strings.
const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// Decodes ed2k string bytes: UTF-8 (with an optional BOM), invalid bytes replaced.
pub fn decode_str(b: &[u8]) -> String {
    let b = b.strip_prefix(BOM).unwrap_or(b);
    String::from_utf8_lossy(b).into_owned()
}

/// Little-endian writers used by every encoder.
pub(crate) trait PutExt {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    /// A string with a u16 length prefix, truncated to 65535 bytes on a char boundary.
    fn put_string16(&mut self, s: &str);
}

impl PutExt for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_string16(&mut self, s: &str) {
        // A string that starts with U+FEFF gets a BOM in front, which
        // [`decode_str`] takes off again (it would take the character's own
        // bytes for one otherwise).
        let bom = s.starts_with('\u{feff}');
        let bom_len = if bom { BOM.len() } else { 0 };
        let s = cut_at_char(s, u16::MAX as usize - bom_len);
        self.put_u16((s.len() + bom_len) as u16);
        if bom {
            self.extend_from_slice(BOM);
        }
        self.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let mut r = Reader::new(&[1, 2, 0, 3, 0, 0, 0, 2, 0, b'h', b'i']);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16_le().unwrap(), 2);
        assert_eq!(r.u32_le().unwrap(), 3);
        assert_eq!(r.string16().unwrap(), "hi");
        assert!(r.is_empty());
        assert!(matches!(
            r.u8().map_err(ReadError::from),
            Err(ReadError::Truncated {
                offset: 11,
                needed: 1
            })
        ));
        let mut r = Reader::new(&[5, 0, 0, 0]);
        let n = r.u32_le().unwrap();
        assert!(r.count(n as u64, 1).is_err());
    }

    #[test]
    fn a_string_starting_with_u_feff_survives() {
        for s in ["\u{feff}", "\u{feff}x", "x\u{feff}", ""] {
            let mut v = Vec::new();
            v.put_string16(s);
            assert_eq!(Reader::new(&v).string16().unwrap(), s);
        }
    }

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(decode_str(&[0xEF, 0xBB, 0xBF, b'a']), "a");
    }
}
