//! The decode error every message decoder returns, and the shared
//! bounds-checked [`Reader`] its decoders read payloads with.

pub use swarmux_net::bytes::Reader;
use swarmux_net::bytes::Short;

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

/// Turns the shared reader's [`Short`] into [`DecodeError::Truncated`]
/// naming the field read: `r.u8().map_err(field("hit count"))?`.
pub fn field(what: &'static str) -> impl Fn(Short) -> DecodeError {
    move |s| DecodeError::Truncated {
        what,
        needed: s.needed,
        left: s.left,
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
    fn short_reads_name_their_field() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(r.u16_le().map_err(field("a")), Ok(0x0201));
        assert_eq!(
            r.u32_le().map_err(field("b")),
            Err(DecodeError::Truncated {
                what: "b",
                needed: 4,
                left: 1
            })
        );
        assert_eq!(
            r.u32_le().map_err(field("b")).unwrap_err().to_string(),
            "truncated b: needed 4 bytes, 1 left"
        );
    }
}
