//! TCP framing: `protocol(1) size(4 LE, = 1 + payload length) opcode(1) payload`.
//!
//! Packed frames (protocol 0xD4) carry a zlib stream of the payload with the
//! opcode left as is. Which opcode namespace the inflated frame belongs to depends
//! on the link, as in eMule/aMule: on a client↔server link `CServerSocket`
//! unpacks 0xD4 and processes it as a plain eDonkey (0xE3) packet, while on a
//! client↔client link `CClientReqSocket::PacketReceived` unpacks it and falls
//! through to the eMule-extended (0xC5) handler. [`FrameDecoder::for_server_link`]
//! and [`FrameDecoder::for_peer_link`] pick the right one.

use bytes::{Buf, BytesMut};
use flate2::{read::ZlibDecoder, write::ZlibEncoder, Compression};
use std::io::{Read, Write};

/// Plain eDonkey protocol byte.
pub const PROTO_EDONKEY: u8 = 0xE3;
/// eMule-extended protocol byte.
pub const PROTO_EMULE: u8 = 0xC5;
/// zlib-packed protocol byte.
pub const PROTO_PACKED: u8 = 0xD4;
/// Header length: protocol byte and u32 size (the opcode counts in the size).
pub const HEADER_LEN: usize = 5;
/// A sensible default for the largest frame accepted (opcode + payload).
pub const DEFAULT_MAX_FRAME: usize = 2 * 1024 * 1024;

/// One protocol message: protocol byte, opcode and payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub proto: u8,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A frame from its parts.
    pub fn new(proto: u8, opcode: u8, payload: Vec<u8>) -> Self {
        Frame {
            proto,
            opcode,
            payload,
        }
    }

    /// The wire bytes of this frame.
    pub fn encode(&self) -> Vec<u8> {
        encode_frame(self)
    }
}

/// Why the byte stream cannot be framed; the connection should be dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes exceeds {max}")]
    Oversize { size: usize, max: usize },
    #[error("unknown protocol byte 0x{0:02X}")]
    UnknownProtocol(u8),
    #[error("frame of size 0 has no opcode")]
    Empty,
    #[error("packed frame does not inflate: {0}")]
    Inflate(String),
    #[error("packed frame inflates past {max} bytes")]
    InflatedTooLarge { max: usize },
}

/// Serialises a frame. Payloads over `u32::MAX - 1` bytes cannot be framed and
/// are the caller's bug; the size field then saturates.
pub fn encode_frame(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 1 + frame.payload.len());
    out.push(frame.proto);
    let size = u32::try_from(frame.payload.len() + 1).unwrap_or(u32::MAX);
    out.extend_from_slice(&size.to_le_bytes());
    out.push(frame.opcode);
    out.extend_from_slice(&frame.payload);
    out
}

/// Compresses a frame's payload with zlib into a 0xD4 frame with the same opcode.
pub fn pack_frame(frame: &Frame) -> Frame {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(&frame.payload);
    let payload = enc.finish().unwrap_or_default();
    Frame::new(PROTO_PACKED, frame.opcode, payload)
}

/// Inflates a zlib stream, failing when the output would exceed `max` bytes.
pub fn inflate_bounded(data: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    let mut dec = ZlibDecoder::new(data).take(max as u64 + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| FrameError::Inflate(e.to_string()))?;
    if out.len() > max {
        return Err(FrameError::InflatedTooLarge { max });
    }
    Ok(out)
}

/// Splits a byte stream into frames. Push what the socket gave, then pop
/// frames until `Ok(None)`; an `Err` means the peer is broken or hostile.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    max_frame: usize,
    packed_as: u8,
}

impl FrameDecoder {
    /// A decoder accepting frames of at most `max_frame` bytes (opcode + payload,
    /// also the bound on inflated packed frames); packed frames are returned with
    /// protocol `packed_as`.
    pub fn new(max_frame: usize, packed_as: u8) -> Self {
        FrameDecoder {
            buf: BytesMut::new(),
            max_frame: max_frame.max(1),
            packed_as,
        }
    }

    /// For a client↔server link: packed frames become 0xE3 frames.
    pub fn for_server_link(max_frame: usize) -> Self {
        Self::new(max_frame, PROTO_EDONKEY)
    }

    /// For a client↔client link: packed frames become 0xC5 frames.
    pub fn for_peer_link(max_frame: usize) -> Self {
        Self::new(max_frame, PROTO_EMULE)
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Pops the next whole frame, if one is buffered. Checks the header as
    /// soon as it arrives, so an oversized frame fails before its body is read.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(&proto) = self.buf.first() else {
            return Ok(None);
        };
        if !matches!(proto, PROTO_EDONKEY | PROTO_EMULE | PROTO_PACKED) {
            return Err(FrameError::UnknownProtocol(proto));
        }
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let size =
            u32::from_le_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if size == 0 {
            return Err(FrameError::Empty);
        }
        if size > self.max_frame {
            return Err(FrameError::Oversize {
                size,
                max: self.max_frame,
            });
        }
        if self.buf.len() < HEADER_LEN + size {
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        let body = self.buf.split_to(size);
        let opcode = body[0];
        let payload = &body[1..];
        if proto == PROTO_PACKED {
            let payload = inflate_bounded(payload, self.max_frame)?;
            return Ok(Some(Frame::new(self.packed_as, opcode, payload)));
        }
        Ok(Some(Frame::new(proto, opcode, payload.to_vec())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        let f = Frame::new(PROTO_EDONKEY, 0x14, vec![]);
        assert_eq!(f.encode(), vec![0xE3, 1, 0, 0, 0, 0x14]);
        let f = Frame::new(PROTO_EMULE, 0x60, vec![5, 0]);
        assert_eq!(f.encode(), vec![0xC5, 3, 0, 0, 0, 0x60, 5, 0]);
    }

    #[test]
    fn decodes_split_input() {
        let a = Frame::new(PROTO_EDONKEY, 0x38, b"hello".to_vec());
        let b = Frame::new(PROTO_EMULE, 0x01, vec![1, 2, 3]);
        let mut bytes = a.encode();
        bytes.extend(b.encode());
        let mut d = FrameDecoder::for_server_link(1024);
        let mut got = vec![];
        for chunk in bytes.chunks(3) {
            d.push(chunk);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, vec![a, b]);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn rejects_oversize_and_unknown() {
        let mut d = FrameDecoder::for_server_link(2_097_152);
        d.push(&[0xE3]);
        d.push(&50_000_000u32.to_le_bytes());
        let e = d.next_frame().unwrap_err();
        assert_eq!(e.to_string(), "frame of 50000000 bytes exceeds 2097152");
        let mut d = FrameDecoder::for_server_link(100);
        d.push(b"GET / HTTP/1.0");
        assert_eq!(d.next_frame(), Err(FrameError::UnknownProtocol(b'G')));
        let mut d = FrameDecoder::for_server_link(100);
        d.push(&[0xE3, 0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(FrameError::Empty));
    }

    #[test]
    fn packed_namespace_depends_on_link() {
        let f = Frame::new(PROTO_EDONKEY, 0x15, vec![7; 1000]);
        let packed = pack_frame(&f);
        assert_eq!(packed.proto, PROTO_PACKED);
        assert!(packed.payload.len() < 100);
        let mut d = FrameDecoder::for_server_link(4096);
        d.push(&packed.encode());
        assert_eq!(d.next_frame().unwrap(), Some(f.clone()));
        let mut d = FrameDecoder::for_peer_link(4096);
        d.push(&packed.encode());
        assert_eq!(d.next_frame().unwrap().unwrap().proto, PROTO_EMULE);
        // A zlib bomb larger than the bound fails.
        let mut d = FrameDecoder::for_server_link(500);
        d.push(&packed.encode());
        assert_eq!(
            d.next_frame(),
            Err(FrameError::InflatedTooLarge { max: 500 })
        );
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut d = FrameDecoder::for_peer_link(256);
            d.push(&data);
            for _ in 0..100 {
                match d.next_frame() {
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
        }

        #[test]
        fn roundtrip(proto in prop::sample::select(vec![PROTO_EDONKEY, PROTO_EMULE]),
                     opcode: u8, payload in proptest::collection::vec(any::<u8>(), 0..200)) {
            let f = Frame::new(proto, opcode, payload);
            let mut d = FrameDecoder::for_peer_link(256);
            d.push(&f.encode());
            prop_assert_eq!(d.next_frame().unwrap(), Some(f));
        }
    }
}
