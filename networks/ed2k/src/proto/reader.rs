//! A bounded little-endian cursor over a byte slice: every read checks the
//! remaining length and returns [`ReadError`] instead of panicking.

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

/// A cursor over `&[u8]` reading little-endian integers, hashes and strings.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Current offset from the start.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], ReadError> {
        if n > self.remaining() {
            return Err(ReadError::Truncated {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Takes every remaining byte.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, ReadError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, ReadError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub fn u32(&mut self) -> Result<u32, ReadError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, ReadError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn f32(&mut self) -> Result<f32, ReadError> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// A 16-byte MD4 hash.
    pub fn hash16(&mut self) -> Result<[u8; 16], ReadError> {
        self.array()
    }

    /// A string of `n` bytes, decoded as UTF-8 (invalid sequences replaced).
    pub fn string_n(&mut self, n: usize) -> Result<String, ReadError> {
        Ok(decode_str(self.bytes(n)?))
    }

    /// A string prefixed by its u16 byte length.
    pub fn string16(&mut self) -> Result<String, ReadError> {
        let n = self.u16()? as usize;
        self.string_n(n)
    }

    /// A count whose items take at least `min_item` bytes each: rejects counts
    /// that cannot fit in what remains, so callers can allocate safely.
    pub fn count(&mut self, count: u64, min_item: usize) -> Result<usize, ReadError> {
        let max = (self.remaining() / min_item.max(1)) as u64;
        if count > max {
            return Err(ReadError::Invalid(format!(
                "count {count} cannot fit in {} remaining bytes",
                self.remaining()
            )));
        }
        Ok(count as usize)
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
        assert_eq!(r.u16().unwrap(), 2);
        assert_eq!(r.u32().unwrap(), 3);
        assert_eq!(r.string16().unwrap(), "hi");
        assert!(r.is_empty());
        assert!(matches!(r.u8(), Err(ReadError::Truncated { .. })));
        let mut r = Reader::new(&[5, 0, 0, 0]);
        let n = r.u32().unwrap();
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
