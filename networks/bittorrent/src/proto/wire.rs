//! The peer wire messages (BEP 3, and the Fast Extension of BEP 6):
//! length-prefixed frames, with a streaming
//! decoder that bounds every length before waiting for the bytes and hands
//! out piece data without copying when fed a `BytesMut`.

use bytes::{BufMut, Bytes, BytesMut};

/// Largest block a peer may request from us, or send us.
pub const MAX_BLOCK_LEN: u32 = 128 << 10;
/// Largest bitfield, extended or unknown message payload.
pub const MAX_PAYLOAD_LEN: u32 = 1 << 20;

const ID_CHOKE: u8 = 0;
const ID_UNCHOKE: u8 = 1;
const ID_INTERESTED: u8 = 2;
const ID_NOT_INTERESTED: u8 = 3;
const ID_HAVE: u8 = 4;
const ID_BITFIELD: u8 = 5;
const ID_REQUEST: u8 = 6;
const ID_PIECE: u8 = 7;
const ID_CANCEL: u8 = 8;
const ID_PORT: u8 = 9;
const ID_SUGGEST_PIECE: u8 = 0x0D;
const ID_HAVE_ALL: u8 = 0x0E;
const ID_HAVE_NONE: u8 = 0x0F;
const ID_REJECT_REQUEST: u8 = 0x10;
const ID_ALLOWED_FAST: u8 = 0x11;
const ID_EXTENDED: u8 = 20;

/// A peer that breaks the wire protocol (the connection should be dropped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("bad handshake: {0}")]
    BadHandshake(&'static str),
    #[error("peer message of {0} bytes is longer than allowed")]
    TooLong(u32),
    #[error("peer message {id} has an invalid length of {len} bytes")]
    BadLength { id: u8, len: u32 },
    #[error("peer requested a block of {0} bytes (allowed: 1 byte to 128 KiB)")]
    BadRequest(u32),
    #[error("bitfield does not fit a torrent of {0} pieces")]
    BadBitfield(usize),
}

/// A peer wire message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// An empty frame.
    KeepAlive,
    /// The sender will not answer our requests.
    Choke,
    /// The sender will answer our requests.
    Unchoke,
    /// The sender wants pieces we have.
    Interested,
    /// The sender wants nothing from us.
    NotInterested,
    /// The sender now has this piece.
    Have(u32),
    /// One bit per piece, high bit first (check with [`check_bitfield`]).
    Bitfield(Bytes),
    /// Asks for `length` bytes of piece `index` at `begin`.
    Request { index: u32, begin: u32, length: u32 },
    /// A block of piece `index` at `begin`.
    Piece { index: u32, begin: u32, data: Bytes },
    /// Withdraws a request.
    Cancel { index: u32, begin: u32, length: u32 },
    /// The sender's DHT port (BEP 5).
    Port(u16),
    /// The sender suggests downloading this piece (BEP 6).
    SuggestPiece(u32),
    /// The sender has every piece, in place of a bitfield (BEP 6).
    HaveAll,
    /// The sender has no piece, in place of a bitfield (BEP 6).
    HaveNone,
    /// The sender will not answer this request (BEP 6).
    RejectRequest { index: u32, begin: u32, length: u32 },
    /// The sender would answer requests for this piece even while choking (BEP 6).
    AllowedFast(u32),
    /// An extension protocol message (BEP 10): `id` 0 is the handshake.
    Extended { id: u8, payload: Bytes },
    /// A message id we do not speak (ignored by the session).
    Unknown { id: u8, payload: Bytes },
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The 4-byte length and 9-byte header of a Piece message carrying
/// `data_len` bytes, for writing the block itself without copying it.
pub fn piece_header(index: u32, begin: u32, data_len: u32) -> [u8; 13] {
    let mut h = [0u8; 13];
    h[..4].copy_from_slice(&(9 + data_len).to_be_bytes());
    h[4] = ID_PIECE;
    h[5..9].copy_from_slice(&index.to_be_bytes());
    h[9..13].copy_from_slice(&begin.to_be_bytes());
    h
}

/// Checks a bitfield against the piece count: right length, spare bits clear.
pub fn check_bitfield(bits: &[u8], num_pieces: usize) -> Result<(), WireError> {
    let err = Err(WireError::BadBitfield(num_pieces));
    if bits.len() != num_pieces.div_ceil(8) {
        return err;
    }
    // fewer than 8 spare bits at the end of the last byte, all clear
    let spare = bits.len() * 8 - num_pieces;
    match bits.last() {
        Some(last) if spare > 0 && last & ((1u8 << spare) - 1) != 0 => err,
        _ => Ok(()),
    }
}

/// Checks the length of a frame body (id byte included) against its id.
fn check_len(id: u8, len: u32) -> Result<(), WireError> {
    let ok = match id {
        ID_CHOKE..=ID_NOT_INTERESTED | ID_HAVE_ALL | ID_HAVE_NONE => len == 1,
        ID_HAVE | ID_SUGGEST_PIECE | ID_ALLOWED_FAST => len == 5,
        ID_REQUEST | ID_CANCEL | ID_REJECT_REQUEST => len == 13,
        ID_PIECE => (9..=9 + MAX_BLOCK_LEN).contains(&len),
        ID_PORT => len == 3,
        ID_EXTENDED => len >= 2,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(WireError::BadLength { id, len })
    }
}

/// The size of the complete frame at the start of `buf`, once all of it is
/// there; the length is checked as soon as the prefix and id are.
fn frame_len(buf: &[u8]) -> Result<Option<usize>, WireError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = be32(prefix);
    if len > 1 + MAX_PAYLOAD_LEN {
        return Err(WireError::TooLong(len));
    }
    match buf.get(4) {
        Some(&id) if len > 0 => check_len(id, len)?,
        _ => {}
    }
    let total = 4 + len as usize;
    Ok((buf.len() >= total).then_some(total))
}

impl Message {
    /// Decodes the frame at the start of `buf`: `None` until it is complete,
    /// else the message and the bytes it took. Block data is copied; use
    /// [`Message::decode_buf`] to avoid that.
    pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, WireError> {
        let Some(total) = frame_len(buf)? else {
            return Ok(None);
        };
        let body = Bytes::copy_from_slice(&buf[4..total]);
        Ok(Some((Self::parse(body)?, total)))
    }

    /// Decodes and removes the frame at the start of `buf` (`None` until it
    /// is complete); block data shares `buf`'s memory.
    pub fn decode_buf(buf: &mut BytesMut) -> Result<Option<Message>, WireError> {
        let Some(total) = frame_len(buf)? else {
            return Ok(None);
        };
        let frame = buf.split_to(total).freeze();
        Self::parse(frame.slice(4..)).map(Some)
    }

    /// Parses a frame body (id and payload) whose length was checked.
    fn parse(body: Bytes) -> Result<Message, WireError> {
        let Some(&id) = body.first() else {
            return Ok(Message::KeepAlive);
        };
        let p = &body[1..];
        Ok(match id {
            ID_CHOKE => Message::Choke,
            ID_UNCHOKE => Message::Unchoke,
            ID_INTERESTED => Message::Interested,
            ID_NOT_INTERESTED => Message::NotInterested,
            ID_HAVE => Message::Have(be32(p)),
            ID_BITFIELD => Message::Bitfield(body.slice(1..)),
            ID_REQUEST => {
                let length = be32(&p[8..]);
                if length == 0 || length > MAX_BLOCK_LEN {
                    return Err(WireError::BadRequest(length));
                }
                Message::Request {
                    index: be32(p),
                    begin: be32(&p[4..]),
                    length,
                }
            }
            ID_PIECE => Message::Piece {
                index: be32(p),
                begin: be32(&p[4..]),
                data: body.slice(9..),
            },
            ID_CANCEL => Message::Cancel {
                index: be32(p),
                begin: be32(&p[4..]),
                length: be32(&p[8..]),
            },
            ID_PORT => Message::Port(u16::from_be_bytes([p[0], p[1]])),
            ID_SUGGEST_PIECE => Message::SuggestPiece(be32(p)),
            ID_HAVE_ALL => Message::HaveAll,
            ID_HAVE_NONE => Message::HaveNone,
            ID_REJECT_REQUEST => Message::RejectRequest {
                index: be32(p),
                begin: be32(&p[4..]),
                length: be32(&p[8..]),
            },
            ID_ALLOWED_FAST => Message::AllowedFast(be32(p)),
            ID_EXTENDED => Message::Extended {
                id: p[0],
                payload: body.slice(2..),
            },
            id => Message::Unknown {
                id,
                payload: body.slice(1..),
            },
        })
    }

    /// Appends the framed message to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let fixed = |out: &mut BytesMut, id: u8, fields: &[u32]| {
            out.put_u32(1 + 4 * fields.len() as u32);
            out.put_u8(id);
            fields.iter().for_each(|&f| out.put_u32(f));
        };
        match self {
            Message::KeepAlive => out.put_u32(0),
            Message::Choke => fixed(out, ID_CHOKE, &[]),
            Message::Unchoke => fixed(out, ID_UNCHOKE, &[]),
            Message::Interested => fixed(out, ID_INTERESTED, &[]),
            Message::NotInterested => fixed(out, ID_NOT_INTERESTED, &[]),
            Message::Have(i) => fixed(out, ID_HAVE, &[*i]),
            Message::Bitfield(b) => {
                out.put_u32(1 + b.len() as u32);
                out.put_u8(ID_BITFIELD);
                out.put_slice(b);
            }
            Message::Request {
                index,
                begin,
                length,
            } => fixed(out, ID_REQUEST, &[*index, *begin, *length]),
            Message::Piece { index, begin, data } => {
                out.put_slice(&piece_header(*index, *begin, data.len() as u32));
                out.put_slice(data);
            }
            Message::Cancel {
                index,
                begin,
                length,
            } => fixed(out, ID_CANCEL, &[*index, *begin, *length]),
            Message::Port(p) => {
                out.put_u32(3);
                out.put_u8(ID_PORT);
                out.put_u16(*p);
            }
            Message::SuggestPiece(i) => fixed(out, ID_SUGGEST_PIECE, &[*i]),
            Message::HaveAll => fixed(out, ID_HAVE_ALL, &[]),
            Message::HaveNone => fixed(out, ID_HAVE_NONE, &[]),
            Message::RejectRequest {
                index,
                begin,
                length,
            } => fixed(out, ID_REJECT_REQUEST, &[*index, *begin, *length]),
            Message::AllowedFast(i) => fixed(out, ID_ALLOWED_FAST, &[*i]),
            Message::Extended { id, payload } => {
                out.put_u32(2 + payload.len() as u32);
                out.put_u8(ID_EXTENDED);
                out.put_u8(*id);
                out.put_slice(payload);
            }
            Message::Unknown { id, payload } => {
                out.put_u32(1 + payload.len() as u32);
                out.put_u8(*id);
                out.put_slice(payload);
            }
        }
    }

    /// The framed message as a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        let msgs = vec![
            Message::KeepAlive,
            Message::Choke,
            Message::Unchoke,
            Message::Interested,
            Message::NotInterested,
            Message::Have(7),
            Message::Bitfield(Bytes::from_static(&[0xff, 0x80])),
            Message::Request {
                index: 1,
                begin: 16384,
                length: 16384,
            },
            Message::Piece {
                index: 2,
                begin: 0,
                data: Bytes::from(vec![9u8; 16384]),
            },
            Message::Cancel {
                index: 1,
                begin: 16384,
                length: 16384,
            },
            Message::Port(6881),
            Message::SuggestPiece(3),
            Message::HaveAll,
            Message::HaveNone,
            Message::RejectRequest {
                index: 1,
                begin: 32768,
                length: 16384,
            },
            Message::AllowedFast(4),
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"de"),
            },
            Message::Unknown {
                id: 12,
                payload: Bytes::new(),
            },
        ];
        let mut stream = BytesMut::new();
        msgs.iter().for_each(|m| m.encode(&mut stream));
        let flat = stream.clone().freeze();
        let mut pos = 0;
        for m in &msgs {
            // byte by byte arrival: incomplete until the last byte
            let (got, used) = Message::decode(&flat[pos..]).unwrap().unwrap();
            assert_eq!(&got, m);
            assert_eq!(Message::decode(&flat[pos..pos + used - 1]).unwrap(), None);
            pos += used;
            assert_eq!(Message::decode_buf(&mut stream).unwrap().as_ref(), Some(m));
        }
        assert!(stream.is_empty());
        assert_eq!(pos, flat.len());
    }

    #[test]
    fn piece_data_shares_the_buffer() {
        let mut buf = BytesMut::new();
        Message::Piece {
            index: 0,
            begin: 0,
            data: Bytes::from(vec![5u8; 1000]),
        }
        .encode(&mut buf);
        let base = buf.as_ptr() as usize;
        let Some(Message::Piece { data, .. }) = Message::decode_buf(&mut buf).unwrap() else {
            panic!("not a piece");
        };
        assert_eq!(data.as_ptr() as usize, base + 13);
    }

    #[test]
    fn refuses_bad_lengths_early() {
        // a 2 GiB frame is refused from its prefix alone
        assert_eq!(
            Message::decode(&[0x7f, 0, 0, 0]),
            Err(WireError::TooLong(0x7f00_0000))
        );
        // a Have of the wrong size is refused before its payload arrives
        assert!(matches!(
            Message::decode(&[0, 0, 0, 9, 4]),
            Err(WireError::BadLength { .. })
        ));
        // a Piece larger than 128 KiB
        let len = (9 + MAX_BLOCK_LEN + 1).to_be_bytes();
        assert!(Message::decode(&[len[0], len[1], len[2], len[3], 7]).is_err());
        let big = Message::Request {
            index: 0,
            begin: 0,
            length: MAX_BLOCK_LEN + 1,
        };
        assert_eq!(
            Message::decode(&big.to_bytes()),
            Err(WireError::BadRequest(MAX_BLOCK_LEN + 1))
        );
        assert!(Message::decode(&[0, 0, 0, 1, 20]).is_err());
    }

    #[test]
    fn fast_extension_messages_have_exact_bytes_and_strict_lengths() {
        assert_eq!(&Message::HaveAll.to_bytes()[..], &[0, 0, 0, 1, 0x0E]);
        assert_eq!(&Message::HaveNone.to_bytes()[..], &[0, 0, 0, 1, 0x0F]);
        assert_eq!(
            &Message::SuggestPiece(0x0102_0304).to_bytes()[..],
            &[0, 0, 0, 5, 0x0D, 1, 2, 3, 4]
        );
        assert_eq!(
            &Message::AllowedFast(7).to_bytes()[..],
            &[0, 0, 0, 5, 0x11, 0, 0, 0, 7]
        );
        let reject = Message::RejectRequest {
            index: 1,
            begin: 2,
            length: 3,
        };
        assert_eq!(
            &reject.to_bytes()[..],
            &[0, 0, 0, 13, 0x10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        );
        // a length one byte off either way (0 is a keep-alive) is refused
        // from the prefix and id
        for (id, good) in [(0x0Du8, 5u32), (0x0E, 1), (0x0F, 1), (0x10, 13), (0x11, 5)] {
            for len in [good - 1, good + 1].into_iter().filter(|&l| l > 0) {
                let mut frame = len.to_be_bytes().to_vec();
                frame.push(id);
                assert_eq!(
                    Message::decode(&frame),
                    Err(WireError::BadLength { id, len }),
                    "id {id} len {len}"
                );
            }
        }
    }

    #[test]
    fn bitfield_checks() {
        assert!(check_bitfield(&[0xff, 0x80], 9).is_ok());
        assert!(check_bitfield(&[0xff, 0xc0], 9).is_err());
        assert!(check_bitfield(&[0xff], 9).is_err());
        assert!(check_bitfield(&[0xff, 0xff], 16).is_ok());
        assert!(check_bitfield(&[0xff, 0, 0], 16).is_err());
        assert!(check_bitfield(&[], 0).is_ok());
    }

    #[test]
    fn piece_header_matches_encode() {
        let data = Bytes::from_static(b"abc");
        let full = Message::Piece {
            index: 3,
            begin: 4,
            data,
        }
        .to_bytes();
        assert_eq!(&full[..13], &piece_header(3, 4, 3));
    }
}
