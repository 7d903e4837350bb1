//! A bounds-checked cursor over a received payload: every read checks what
//! is left and fails with [`Short`] instead of panicking. Multi-byte numbers
//! are little-endian unless the name says otherwise (eDonkey2000 and
//! Gnutella both send little-endian). Each network keeps its own error type
//! (built `From<Short>`) and adds its own field kinds on top.

use std::net::Ipv4Addr;

/// A read wanted more bytes than are left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("truncated at byte {offset}: needed {needed} bytes, {left} left")]
pub struct Short {
    /// Where the read started.
    pub offset: usize,
    /// How many bytes it wanted.
    pub needed: usize,
    /// How many were left.
    pub left: usize,
}

/// A cursor that never reads past the end of its slice.
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

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The offset of the next byte from the start.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes every unread byte.
    pub fn take_rest(&mut self) -> &'a [u8] {
        let s = self.rest();
        self.pos = self.buf.len();
        s
    }

    /// Takes the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Short> {
        if n > self.remaining() {
            return Err(self.short(n));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian u16.
    pub fn u16_le(&mut self) -> Result<u16, Short> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// A big-endian u16 (a port in network order).
    pub fn u16_be(&mut self) -> Result<u16, Short> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A little-endian u32.
    pub fn u32_le(&mut self) -> Result<u32, Short> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A little-endian u64.
    pub fn u64_le(&mut self) -> Result<u64, Short> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A little-endian IEEE 754 f32.
    pub fn f32_le(&mut self) -> Result<f32, Short> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// An IPv4 address in network order.
    pub fn ipv4(&mut self) -> Result<Ipv4Addr, Short> {
        Ok(Ipv4Addr::from(self.array::<4>()?))
    }

    /// The bytes up to the next NUL, consuming the NUL; without one, nothing
    /// is consumed and the read is short by that byte.
    pub fn nul_terminated(&mut self) -> Result<&'a [u8], Short> {
        let rest = self.rest();
        let i = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.short(rest.len() + 1))?;
        self.pos += i + 1;
        Ok(&rest[..i])
    }

    /// `count` as a `usize` when that many items of at least `min_item`
    /// bytes each can fit in what is left (so a claimed count is safe to
    /// allocate for); `None` when they cannot.
    pub fn fits(&self, count: u64, min_item: usize) -> Option<usize> {
        let max = (self.remaining() / min_item.max(1)) as u64;
        (count <= max).then_some(count as usize)
    }

    fn short(&self, needed: usize) -> Short {
        Short {
            offset: self.pos,
            needed,
            left: self.remaining(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_stops_at_the_end() {
        let mut r = Reader::new(&[1, 2, 0, 3, 4, 0, 9, 8, 7]);
        assert_eq!(r.u16_le().unwrap(), 0x0201);
        assert_eq!(r.nul_terminated().unwrap(), b"");
        assert_eq!(r.nul_terminated().unwrap(), &[3, 4]);
        assert_eq!(r.position(), 6);
        let short = Short {
            offset: 6,
            needed: 4,
            left: 3,
        };
        assert_eq!(r.u32_le(), Err(short));
        assert_eq!(r.nul_terminated().map_err(|e| e.needed), Err(4));
        assert_eq!(r.rest(), &[9, 8, 7]);
        assert_eq!(r.u16_be().unwrap(), 0x0908);
        assert_eq!(r.take_rest(), &[7]);
        assert!(r.is_empty());
        assert!(r.u8().is_err());
    }

    #[test]
    fn wide_fields() {
        let mut b = 7u64.to_le_bytes().to_vec();
        b.extend(1.5f32.to_le_bytes());
        b.extend([127, 0, 0, 1]);
        let mut r = Reader::new(&b);
        assert_eq!(r.u64_le().unwrap(), 7);
        assert_eq!(r.f32_le().unwrap(), 1.5);
        assert_eq!(r.ipv4().unwrap(), Ipv4Addr::LOCALHOST);
    }

    #[test]
    fn claimed_counts_must_fit() {
        let r = Reader::new(&[0; 10]);
        assert_eq!(r.fits(5, 2), Some(5));
        assert_eq!(r.fits(6, 2), None);
        assert_eq!(r.fits(u64::MAX, 0), None);
        assert_eq!(r.fits(10, 0), Some(10));
    }
}
