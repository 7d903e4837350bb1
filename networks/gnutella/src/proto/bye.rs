//! Bye (0x02): `code(2 LE)` then a NUL-terminated message, the last descriptor
//! a servent sends before closing (sent with TTL 1). Codes follow HTTP: 200
//! normal close, 4xx the peer misbehaved, 5xx our own trouble.

use super::reader::{field, wire_text, DecodeError, Reader};

/// Longest Bye message kept (longer text is cut).
pub const MAX_MESSAGE: usize = 1024;

/// A Bye.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bye {
    pub code: u16,
    pub message: String,
}

impl Bye {
    /// Decodes a Bye payload; the NUL is optional, the text lossy UTF-8.
    pub fn decode(payload: &[u8]) -> Result<Bye, DecodeError> {
        let mut r = Reader::new(payload);
        let code = r.u16_le().map_err(field("bye code"))?;
        let rest = r.rest();
        let text = rest.split(|&b| b == 0).next().unwrap_or_default();
        let message = wire_text(text, MAX_MESSAGE).trim_end().to_string();
        Ok(Bye { code, message })
    }

    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.code.to_le_bytes().to_vec();
        out.extend(self.message.bytes().filter(|&b| b != 0));
        out.push(0);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let b = Bye {
            code: 503,
            message: "Too many connections".into(),
        };
        let bytes = b.encode();
        assert_eq!(&bytes[..2], &[0xF7, 0x01]);
        assert_eq!(Bye::decode(&bytes).unwrap(), b);
        assert!(Bye::decode(&[1]).is_err());
    }

    /// Found by fuzzing: invalid UTF-8 grows threefold when replaced,
    /// so a message cut before that no longer fit its limit after.
    #[test]
    fn invalid_text_stays_within_the_limit_and_round_trips() {
        let mut payload = vec![0x00, 0xFD];
        payload.extend(std::iter::repeat_n(0xFF, 2000));
        let b = Bye::decode(&payload).unwrap();
        assert!(b.message.len() <= MAX_MESSAGE);
        assert_eq!(Bye::decode(&b.encode()).unwrap(), b);
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Bye::decode(&b);
        }
    }
}
