//! A compact piece bitfield in wire order (BEP 3: the high bit of the first
//! byte is piece 0), with the count of set bits kept up to date.

/// Why wire bytes are not a valid bitfield for a torrent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BitfieldError {
    /// The message length does not match the piece count.
    #[error("bitfield of {got} bytes, expected {expected} for the piece count")]
    WrongLength { got: usize, expected: usize },
    /// A bit past the last piece is set.
    #[error("bitfield has spare bits set past the last piece")]
    SpareBitsSet,
}

/// A fixed-length set of piece indices.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

impl std::fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bitfield({}/{})", self.ones, self.len)
    }
}

fn byte_len(len: u32) -> usize {
    (len as usize).div_ceil(8)
}

/// The mask of the bits of the last byte that are real pieces.
fn last_byte_mask(len: u32) -> u8 {
    match len % 8 {
        0 => 0xFF,
        r => 0xFFu8 << (8 - r),
    }
}

impl Bitfield {
    /// `len` bits, none set.
    pub fn new(len: u32) -> Self {
        Bitfield {
            bytes: vec![0; byte_len(len)],
            len,
            ones: 0,
        }
    }

    /// `len` bits, all set.
    pub fn full(len: u32) -> Self {
        let mut bytes = vec![0xFF; byte_len(len)];
        if let Some(last) = bytes.last_mut() {
            *last &= last_byte_mask(len);
        }
        Bitfield {
            bytes,
            len,
            ones: len,
        }
    }

    /// Parses wire bytes for a torrent of `len` pieces: the length must be
    /// exactly `ceil(len / 8)` and the spare bits zero.
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Self, BitfieldError> {
        let expected = byte_len(len);
        if bytes.len() != expected {
            return Err(BitfieldError::WrongLength {
                got: bytes.len(),
                expected,
            });
        }
        if let Some(last) = bytes.last() {
            if last & !last_byte_mask(len) != 0 {
                return Err(BitfieldError::SpareBitsSet);
            }
        }
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len,
            ones,
        })
    }

    /// The wire bytes (spare bits zero).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The number of bits (pieces).
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True when the bitfield has no bits at all (a zero-piece torrent).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether bit `i` is set; false past the end.
    #[inline]
    pub fn get(&self, i: u32) -> bool {
        i < self.len && self.bytes[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }

    /// Sets bit `i`; returns true if it was clear. Out-of-range indices are ignored (false).
    #[inline]
    pub fn set(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        let byte = &mut self.bytes[(i / 8) as usize];
        let mask = 0x80 >> (i % 8);
        if *byte & mask != 0 {
            return false;
        }
        *byte |= mask;
        self.ones += 1;
        true
    }

    /// Clears bit `i`; returns true if it was set. Out-of-range indices are ignored (false).
    #[inline]
    pub fn clear(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        let byte = &mut self.bytes[(i / 8) as usize];
        let mask = 0x80 >> (i % 8);
        if *byte & mask == 0 {
            return false;
        }
        *byte &= !mask;
        self.ones -= 1;
        true
    }

    /// The number of set bits.
    pub fn count_ones(&self) -> u32 {
        self.ones
    }

    /// True when every bit is set.
    pub fn is_complete(&self) -> bool {
        self.ones == self.len
    }

    /// True when some bit is set both here and in `other` (bitfields of different
    /// lengths are compared over the shorter one).
    pub fn intersects(&self, other: &Bitfield) -> bool {
        self.bytes.iter().zip(&other.bytes).any(|(a, b)| a & b != 0)
    }

    /// The indices of the set bits, ascending; skips zero bytes whole.
    pub fn iter_ones(&self) -> impl Iterator<Item = u32> + '_ {
        self.bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0)
            .flat_map(|(i, &b)| {
                let base = i as u32 * 8;
                (0..8u32)
                    .filter(move |bit| b & (0x80 >> bit) != 0)
                    .map(move |bit| base + bit)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wire_order_and_spare_bits() {
        let bf = Bitfield::from_bytes(&[0b1000_0001, 0b0100_0000], 10).unwrap();
        assert!(bf.get(0) && bf.get(7) && bf.get(9));
        assert!(!bf.get(1) && !bf.get(8) && !bf.get(10));
        assert_eq!(bf.count_ones(), 3);
        assert_eq!(bf.iter_ones().collect::<Vec<_>>(), vec![0, 7, 9]);
        assert_eq!(
            Bitfield::from_bytes(&[0, 0b0010_0000], 10),
            Err(BitfieldError::SpareBitsSet)
        );
        assert_eq!(
            Bitfield::from_bytes(&[0], 10),
            Err(BitfieldError::WrongLength {
                got: 1,
                expected: 2
            })
        );
        assert!(Bitfield::from_bytes(&[0xFF], 8).unwrap().is_complete());
    }

    #[test]
    fn full_set_clear() {
        let mut bf = Bitfield::full(13);
        assert!(bf.is_complete());
        assert_eq!(bf.as_bytes(), &[0xFF, 0b1111_1000]);
        assert!(bf.clear(12));
        assert!(!bf.clear(12));
        assert!(!bf.is_complete());
        assert!(bf.set(12));
        assert!(!bf.set(12));
        assert!(!bf.set(13));
        assert_eq!(bf.count_ones(), 13);
        let empty = Bitfield::new(0);
        assert!(empty.is_empty() && empty.is_complete());
        assert!(Bitfield::from_bytes(&[], 0).is_ok());
    }

    #[test]
    fn intersects() {
        let mut a = Bitfield::new(20);
        let mut b = Bitfield::new(20);
        a.set(3);
        b.set(17);
        assert!(!a.intersects(&b));
        b.set(3);
        assert!(a.intersects(&b));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), len in 0u32..600) {
            if let Ok(bf) = Bitfield::from_bytes(&bytes, len) {
                prop_assert_eq!(bf.as_bytes(), &bytes[..]);
                prop_assert_eq!(bf.iter_ones().count() as u32, bf.count_ones());
                prop_assert!(bf.iter_ones().all(|i| i < len));
            }
        }

        #[test]
        fn set_bits_round_trip(len in 1u32..500, picks in proptest::collection::vec(any::<u32>(), 0..100)) {
            let mut bf = Bitfield::new(len);
            let mut want: Vec<u32> = picks.iter().map(|p| p % len).collect();
            for &i in &want { bf.set(i); }
            want.sort_unstable();
            want.dedup();
            let back = Bitfield::from_bytes(bf.as_bytes(), len).unwrap();
            prop_assert_eq!(back.iter_ones().collect::<Vec<_>>(), want);
            prop_assert_eq!(back, bf);
        }
    }
}
