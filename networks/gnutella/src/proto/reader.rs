//! A bounds-checked cursor over a payload and the decode error every message
//! decoder returns.

/// Why a payload could not be decoded. Every variant means "drop the message";
/// which ones also drop the link is the caller's policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload ends before a fixed-size field.
    #[error("truncated {what}: needed {needed} bytes, {left} left")]
    Truncated {
        what: &'static str,
        needed: usize,
        left: usize,
    },
    /// A length or count is above the limit we accept.
    #[error("{what} of {len} exceeds the limit of {max}")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// A field holds a value that makes no sense.
    #[error("invalid {0}")]
    Invalid(String),
}

impl DecodeError {
    /// Shorthand for [`DecodeError::Invalid`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        DecodeError::Invalid(msg.into())
    }
}

/// Text read from the wire: invalid UTF-8 replaced (which can make it up
/// to three times longer), then cut at a character boundary to at most
/// `max` bytes, so that it encodes again within the limit it was read by.
pub fn wire_text(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
    swarmux_net::names::cut_at_char(&text, max).to_string()
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

    /// The unread bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes the next `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                what,
                needed: n,
                left: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, what)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A little-endian u16.
    pub fn u16_le(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// A big-endian u16.
    pub fn u16_be(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// A little-endian u32.
    pub fn u32_le(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// An IPv4 address in network order.
    pub fn ipv4(&mut self, what: &'static str) -> Result<std::net::Ipv4Addr, DecodeError> {
        Ok(std::net::Ipv4Addr::from(self.array::<4>(what)?))
    }

    /// The bytes up to the next NUL, consuming the NUL. Without a NUL, fails.
    pub fn nul_terminated(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let rest = self.rest();
        match rest.iter().position(|&b| b == 0) {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => Err(DecodeError::invalid(format!(
                "{what}: missing NUL terminator"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_text_stays_within_its_limit() {
        assert_eq!(wire_text(b"abc", 2), "ab");
        let bad = [0xFF; 10];
        let t = wire_text(&bad, 10);
        assert_eq!(t, "\u{FFFD}".repeat(3));
        assert_eq!(wire_text(t.as_bytes(), 10), t);
    }

    #[test]
    fn reads_fields_and_stops_at_the_end() {
        let mut r = Reader::new(&[1, 2, 0, 3, 4, 0, 9]);
        assert_eq!(r.u16_le("a").unwrap(), 0x0201);
        assert_eq!(r.nul_terminated("s").unwrap(), b"");
        assert_eq!(r.nul_terminated("s").unwrap(), &[3, 4]);
        assert!(matches!(
            r.u32_le("b"),
            Err(DecodeError::Truncated {
                needed: 4,
                left: 1,
                ..
            })
        ));
        assert!(r.nul_terminated("s").is_err());
        assert_eq!(r.rest(), &[9]);
    }
}
