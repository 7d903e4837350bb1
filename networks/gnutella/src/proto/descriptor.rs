//! The 23-byte descriptor header (`GUID(16) type(1) TTL(1) hops(1) length(4 LE)`),
//! a streaming decoder that cuts a byte stream into descriptors, and the TTL
//! policy applied to what arrives.
//!
//! TTL policy (like gtk-gnutella's "hard TTL limit"): a descriptor whose
//! `ttl + hops` exceeds [`HARD_TTL_LIMIT`] (a TTL of 255 always does) or whose
//! TTL is 0 is dropped, not clamped: it was not built by a sane servent. One
//! whose TTL is above our own `max_ttl` but within the hard limit is clamped
//! down to `max_ttl` so it cannot travel further than we would send ourselves.
//! Dropping a descriptor does not drop the link; a payload above the maximum
//! length does, since the stream cannot be trusted to be in sync after it.

use rand::RngCore;

/// Length of a descriptor header.
pub const HEADER_LEN: usize = 23;
/// Default largest payload accepted; larger drops the link.
pub const DEFAULT_MAX_PAYLOAD: usize = 64 * 1024;
/// Descriptors with `ttl + hops` above this are dropped.
pub const HARD_TTL_LIMIT: u8 = 15;
/// The TTL we give the queries we originate and the most we forward.
pub const DEFAULT_MAX_TTL: u8 = 7;

/// Payload type: Ping.
pub const TYPE_PING: u8 = 0x00;
/// Payload type: Pong.
pub const TYPE_PONG: u8 = 0x01;
/// Payload type: Bye.
pub const TYPE_BYE: u8 = 0x02;
/// Payload type: QRP route table update (RESET / PATCH).
pub const TYPE_ROUTE_TABLE: u8 = 0x30;
/// Payload type: vendor message (not implemented, never sent).
pub const TYPE_VENDOR: u8 = 0x31;
/// Payload type: standard vendor message (not implemented, never sent).
pub const TYPE_VENDOR_STD: u8 = 0x32;
/// Payload type: Push.
pub const TYPE_PUSH: u8 = 0x40;
/// Payload type: Query.
pub const TYPE_QUERY: u8 = 0x80;
/// Payload type: Query Hit.
pub const TYPE_QUERY_HIT: u8 = 0x81;

/// A 16-byte Gnutella GUID (message id or servent id).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// A fresh random GUID marked as "modern" (byte 8 = 0xFF, byte 15 = 0).
    pub fn random() -> Self {
        let mut g = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut g);
        g[8] = 0xFF;
        g[15] = 0;
        Guid(g)
    }

    /// Upper-case hex, as servents print GUIDs.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }
}

impl std::fmt::Debug for Guid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Guid({})", self.to_hex())
    }
}

/// A descriptor header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub guid: Guid,
    pub payload_type: u8,
    pub ttl: u8,
    pub hops: u8,
    pub payload_len: u32,
}

impl Header {
    /// Parses exactly [`HEADER_LEN`] bytes.
    pub fn parse(b: &[u8; HEADER_LEN]) -> Self {
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&b[..16]);
        Header {
            guid: Guid(guid),
            payload_type: b[16],
            ttl: b[17],
            hops: b[18],
            payload_len: u32::from_le_bytes([b[19], b[20], b[21], b[22]]),
        }
    }

    /// The 23 wire bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..16].copy_from_slice(&self.guid.0);
        out[16] = self.payload_type;
        out[17] = self.ttl;
        out[18] = self.hops;
        out[19..].copy_from_slice(&self.payload_len.to_le_bytes());
        out
    }

    /// The header as forwarded one hop further: TTL - 1, hops + 1. `None` when
    /// the TTL is spent (a descriptor arriving with TTL 1 goes no further).
    pub fn forwarded(&self) -> Option<Header> {
        if self.ttl <= 1 {
            return None;
        }
        Some(Header {
            ttl: self.ttl - 1,
            hops: self.hops.saturating_add(1),
            ..*self
        })
    }
}

/// One whole descriptor: header and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub header: Header,
    pub payload: Vec<u8>,
}

impl Descriptor {
    /// A descriptor with a payload; the header's length is set from it.
    /// Payloads longer than `u32::MAX` are the caller's bug (saturated).
    pub fn new(guid: Guid, payload_type: u8, ttl: u8, hops: u8, payload: Vec<u8>) -> Self {
        let payload_len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        Descriptor {
            header: Header {
                guid,
                payload_type,
                ttl,
                hops,
                payload_len,
            },
            payload,
        }
    }

    /// Header and payload as wire bytes, the header's length set from the
    /// payload. A payload over [`DEFAULT_MAX_PAYLOAD`] is never sent: the
    /// peer would drop the link (gtk-gnutella and we do).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if self.payload.len() > DEFAULT_MAX_PAYLOAD {
            return Err(EncodeError::PayloadTooLarge {
                len: self.payload.len(),
                max: DEFAULT_MAX_PAYLOAD,
                payload_type: self.header.payload_type,
            });
        }
        let header = Header {
            payload_len: self.payload.len() as u32,
            ..self.header
        };
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len());
        out.extend_from_slice(&header.encode());
        out.extend_from_slice(&self.payload);
        Ok(out)
    }
}

/// Why a descriptor is not encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error(
        "descriptor payload of {len} bytes exceeds {max} (type 0x{payload_type:02X}); not sent"
    )]
    PayloadTooLarge {
        len: usize,
        max: usize,
        payload_type: u8,
    },
}

/// Why the stream cannot be decoded any further; the link should be dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    #[error("descriptor payload of {len} bytes exceeds {max} (type 0x{payload_type:02X})")]
    PayloadTooLarge {
        len: u32,
        max: usize,
        payload_type: u8,
    },
}

/// Cuts a byte stream into descriptors. Feed it what the socket (or the
/// inflater) produced, then call [`DescriptorDecoder::next_descriptor`] until
/// it returns `Ok(None)`.
#[derive(Debug)]
pub struct DescriptorDecoder {
    buf: Vec<u8>,
    start: usize,
    max_payload: usize,
}

impl Default for DescriptorDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PAYLOAD)
    }
}

impl DescriptorDecoder {
    /// A decoder refusing payloads longer than `max_payload`.
    pub fn new(max_payload: usize) -> Self {
        DescriptorDecoder {
            buf: Vec::new(),
            start: 0,
            max_payload,
        }
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet returned as a descriptor.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete descriptor, `Ok(None)` if more bytes are needed.
    /// After an error the decoder stays failed: drop the link.
    pub fn next_descriptor(&mut self) -> Result<Option<Descriptor>, StreamError> {
        let avail = &self.buf[self.start..];
        let Some(head) = avail.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let header = Header::parse(head);
        let len = header.payload_len as usize;
        if len > self.max_payload {
            return Err(StreamError::PayloadTooLarge {
                len: header.payload_len,
                max: self.max_payload,
                payload_type: header.payload_type,
            });
        }
        if avail.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = avail[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.start += HEADER_LEN + len;
        Ok(Some(Descriptor { header, payload }))
    }
}

/// What to do with a received descriptor after the TTL check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlCheck {
    /// Process it with this (possibly clamped) header.
    Accept(Header),
    /// Drop it: the reason is for the log and the statistics.
    Drop(&'static str),
}

/// Applies the TTL policy described in the module documentation.
pub fn check_ttl(header: &Header, max_ttl: u8) -> TtlCheck {
    if header.ttl == 0 {
        return TtlCheck::Drop("TTL 0");
    }
    if u16::from(header.ttl) + u16::from(header.hops) > u16::from(HARD_TTL_LIMIT) {
        return TtlCheck::Drop("TTL + hops above the hard limit");
    }
    let mut h = *header;
    h.ttl = h.ttl.min(max_ttl.max(1));
    TtlCheck::Accept(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_round_trip_and_layout() {
        let d = Descriptor::new(Guid([7; 16]), TYPE_QUERY, 4, 2, b"\x80\x00abc\0".to_vec());
        let bytes = d.encode().unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + 6);
        assert_eq!(&bytes[16..23], &[0x80, 4, 2, 6, 0, 0, 0]);
        let mut dec = DescriptorDecoder::default();
        // Byte by byte: the decoder waits for whole descriptors.
        for (i, b) in bytes.iter().enumerate() {
            dec.feed(std::slice::from_ref(b));
            let got = dec.next_descriptor().unwrap();
            assert_eq!(got.is_some(), i == bytes.len() - 1);
            if let Some(got) = got {
                assert_eq!(got, d);
            }
        }
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn oversized_payload_is_a_stream_error() {
        let mut h = Header::parse(&[0; HEADER_LEN]);
        h.payload_len = 70_000;
        let mut dec = DescriptorDecoder::default();
        dec.feed(&h.encode());
        assert!(matches!(
            dec.next_descriptor(),
            Err(StreamError::PayloadTooLarge { len: 70_000, .. })
        ));
    }

    #[test]
    fn a_payload_over_the_limit_is_never_encoded() {
        let d = Descriptor::new(Guid([7; 16]), TYPE_PONG, 1, 0, vec![0; DEFAULT_MAX_PAYLOAD]);
        assert_eq!(d.encode().unwrap().len(), HEADER_LEN + DEFAULT_MAX_PAYLOAD);
        let d = Descriptor::new(Guid([7; 16]), TYPE_PONG, 1, 0, vec![0; 4 << 20]);
        assert!(matches!(
            d.encode(),
            Err(EncodeError::PayloadTooLarge { len, .. }) if len == 4 << 20
        ));
    }

    #[test]
    fn ttl_policy() {
        let mut h = Header::parse(&[0; HEADER_LEN]);
        h.ttl = 255;
        assert!(matches!(check_ttl(&h, 7), TtlCheck::Drop(_)));
        h.ttl = 0;
        assert!(matches!(check_ttl(&h, 7), TtlCheck::Drop(_)));
        h.ttl = 10;
        h.hops = 2;
        assert!(matches!(check_ttl(&h, 7), TtlCheck::Accept(a) if a.ttl == 7));
        h.ttl = 3;
        assert!(matches!(check_ttl(&h, 7), TtlCheck::Accept(a) if a.ttl == 3));
        assert_eq!(h.forwarded().map(|f| (f.ttl, f.hops)), Some((2, 3)));
        h.ttl = 1;
        assert_eq!(h.forwarded(), None);
    }

    #[test]
    fn random_guids_are_marked_modern() {
        let g = Guid::random();
        assert_eq!((g.0[8], g.0[15]), (0xFF, 0));
        assert_ne!(g, Guid::random());
    }

    proptest! {
        #[test]
        fn decoder_never_panics(chunks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..80), 0..8)) {
            let mut dec = DescriptorDecoder::new(100);
            for c in chunks {
                dec.feed(&c);
                while let Ok(Some(d)) = dec.next_descriptor() {
                    prop_assert!(d.payload.len() <= 100);
                }
            }
        }
    }
}
