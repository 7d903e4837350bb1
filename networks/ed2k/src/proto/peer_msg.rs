//! Client↔client messages: eDonkey (0xE3) and eMule-extended (0xC5) opcodes.
//!
//! Decoding is tolerant (extra tags and trailing bytes are ignored, as aMule
//! and eMule append data depending on capabilities); encoding is strict and
//! only advertises what swarmux implements, see [`PeerCaps::swarmux`].

use super::frame::{Frame, PROTO_EDONKEY, PROTO_EMULE};
use super::reader::{Ed2kRead, PutExt, ReadError, Reader};
use super::server_msg::LOGIN_VERSION;
use super::tag::{decode_tags, encode_tags, find_tag, ids, Tag, TagEncoding, TagValue};

/// eDonkey (0xE3) client↔client opcodes.
pub mod op {
    pub const HELLO: u8 = 0x01;
    pub const SENDING_PART: u8 = 0x46;
    pub const REQUEST_PARTS: u8 = 0x47;
    pub const FILE_REQ_ANS_NO_FILE: u8 = 0x48;
    pub const END_OF_DOWNLOAD: u8 = 0x49;
    pub const HELLO_ANSWER: u8 = 0x4C;
    pub const SET_REQ_FILE_ID: u8 = 0x4F;
    pub const FILE_STATUS: u8 = 0x50;
    pub const HASHSET_REQUEST: u8 = 0x51;
    pub const HASHSET_ANSWER: u8 = 0x52;
    pub const START_UPLOAD_REQ: u8 = 0x54;
    pub const ACCEPT_UPLOAD_REQ: u8 = 0x55;
    pub const CANCEL_TRANSFER: u8 = 0x56;
    pub const OUT_OF_PART_REQS: u8 = 0x57;
    pub const REQUEST_FILENAME: u8 = 0x58;
    pub const REQ_FILENAME_ANSWER: u8 = 0x59;
    pub const QUEUE_RANK: u8 = 0x5C;
}

/// eMule-extended (0xC5) opcodes.
pub mod emule_op {
    pub const EMULE_INFO: u8 = 0x01;
    pub const EMULE_INFO_ANSWER: u8 = 0x02;
    pub const COMPRESSED_PART: u8 = 0x40;
    pub const QUEUE_RANKING: u8 = 0x60;
    pub const COMPRESSED_PART_I64: u8 = 0xA1;
    pub const SENDING_PART_I64: u8 = 0xA2;
    pub const REQUEST_PARTS_I64: u8 = 0xA3;
}

/// eMule-info tag ids (`ET_*`) used in OP_EMULEINFO.
pub mod emule_info_tags {
    pub const COMPRESSION: u8 = 0x20;
    pub const UDPPORT: u8 = 0x21;
    pub const UDPVER: u8 = 0x22;
    pub const SOURCEEXCHANGE: u8 = 0x23;
    pub const COMMENTS: u8 = 0x24;
    pub const EXTENDEDREQUEST: u8 = 0x25;
    pub const COMPATIBLECLIENT: u8 = 0x26;
}

/// Compatible-client id swarmux puts in the top byte of its eMule version tag
/// (not one of the ids eMule/aMule assign to known clients, so peers show it as
/// an unknown eMule-compatible client).
pub const SWARMUX_COMPAT_CLIENT: u32 = 0x73;

/// eMule capability bits carried by the misc-options tags (0xFA, 0xFE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeerCaps {
    pub aich_ver: u8,
    pub unicode: bool,
    pub udp_ver: u8,
    /// 1 = understands OP_COMPRESSEDPART (zlib-packed part data).
    pub data_comp_ver: u8,
    pub sec_ident: u8,
    pub source_exchange_ver: u8,
    pub ext_requests_ver: u8,
    pub accept_comment_ver: u8,
    pub no_view_shared: bool,
    pub multipacket: bool,
    pub preview: bool,
    pub kad_version: u8,
    /// Files over 4 GiB (64-bit offsets, I64 opcodes).
    pub large_files: bool,
    pub ext_multipacket: bool,
    pub supports_crypt: bool,
    pub requests_crypt: bool,
    pub requires_crypt: bool,
    pub source_ex2: bool,
}

impl PeerCaps {
    /// What swarmux really implements: receiving compressed parts, UTF-8 names,
    /// large files; shared-file browsing refused. Nothing else.
    pub fn swarmux() -> Self {
        PeerCaps {
            unicode: true,
            data_comp_ver: 1,
            no_view_shared: true,
            large_files: true,
            ..Default::default()
        }
    }

    /// The CT_EMULE_MISCOPTIONS1 value.
    pub fn misc1(&self) -> u32 {
        let n = |v: u8| u32::from(v & 0x0F);
        (n(self.aich_ver) & 0x7) << 29
            | u32::from(self.unicode) << 28
            | n(self.udp_ver) << 24
            | n(self.data_comp_ver) << 20
            | n(self.sec_ident) << 16
            | n(self.source_exchange_ver) << 12
            | n(self.ext_requests_ver) << 8
            | n(self.accept_comment_ver) << 4
            | u32::from(self.no_view_shared) << 2
            | u32::from(self.multipacket) << 1
            | u32::from(self.preview)
    }

    /// The CT_EMULE_MISCOPTIONS2 value.
    pub fn misc2(&self) -> u32 {
        u32::from(self.source_ex2) << 10
            | u32::from(self.requires_crypt) << 9
            | u32::from(self.requests_crypt) << 8
            | u32::from(self.supports_crypt) << 7
            | u32::from(self.ext_multipacket) << 5
            | u32::from(self.large_files) << 4
            | u32::from(self.kad_version & 0x0F)
    }

    /// Capabilities from hello tags (absent tags mean no capability).
    pub fn from_tags(tags: &[Tag]) -> Self {
        let get = |id| find_tag(tags, id).and_then(TagValue::as_u64).unwrap_or(0) as u32;
        let (m1, m2) = (get(ids::EMULE_MISCOPTIONS1), get(ids::EMULE_MISCOPTIONS2));
        let nib = |v: u32, s: u32| ((v >> s) & 0x0F) as u8;
        let bit = |v: u32, s: u32| (v >> s) & 1 == 1;
        PeerCaps {
            aich_ver: ((m1 >> 29) & 0x7) as u8,
            unicode: bit(m1, 28),
            udp_ver: nib(m1, 24),
            data_comp_ver: nib(m1, 20),
            sec_ident: nib(m1, 16),
            source_exchange_ver: nib(m1, 12),
            ext_requests_ver: nib(m1, 8),
            accept_comment_ver: nib(m1, 4),
            no_view_shared: bit(m1, 2),
            multipacket: bit(m1, 1),
            preview: bit(m1, 0),
            kad_version: nib(m2, 0),
            large_files: bit(m2, 4),
            ext_multipacket: bit(m2, 5),
            supports_crypt: bit(m2, 7),
            requests_crypt: bit(m2, 8),
            requires_crypt: bit(m2, 9),
            source_ex2: bit(m2, 10),
        }
    }
}

/// OP_HELLO / OP_HELLOANSWER body.
#[derive(Clone, Debug, PartialEq)]
pub struct Hello {
    pub user_hash: [u8; 16],
    pub client_id: u32,
    pub port: u16,
    pub tags: Vec<Tag>,
    /// The server we are connected to (ed2k IP layout), 0 if none.
    pub server_ip: u32,
    pub server_port: u16,
}

impl Hello {
    /// A hello with swarmux's tags: name, version 0x3C, port, both misc-option
    /// tags from `caps`, and the eMule version tag (compat id
    /// [`SWARMUX_COMPAT_CLIENT`], version 0.1.0).
    pub fn new(
        user_hash: [u8; 16],
        client_id: u32,
        port: u16,
        name: &str,
        caps: PeerCaps,
        server: (u32, u16),
    ) -> Self {
        Hello {
            user_hash,
            client_id,
            port,
            tags: vec![
                Tag::str(ids::NAME, name),
                Tag::u32(ids::VERSION, LOGIN_VERSION),
                Tag::id(ids::PORT, TagValue::U16(port)),
                Tag::u32(ids::EMULE_MISCOPTIONS1, caps.misc1()),
                Tag::u32(ids::EMULE_MISCOPTIONS2, caps.misc2()),
                Tag::u32(ids::EMULE_VERSION, SWARMUX_COMPAT_CLIENT << 24 | 1 << 10),
            ],
            server_ip: server.0,
            server_port: server.1,
        }
    }

    /// The peer's user name tag.
    pub fn name(&self) -> Option<&str> {
        find_tag(&self.tags, ids::NAME).and_then(TagValue::as_str)
    }

    /// The peer's capabilities from its misc-option tags.
    pub fn caps(&self) -> PeerCaps {
        PeerCaps::from_tags(&self.tags)
    }

    fn encode(&self, p: &mut Vec<u8>) {
        p.extend_from_slice(&self.user_hash);
        p.put_u32(self.client_id);
        p.put_u16(self.port);
        encode_tags(p, &self.tags, TagEncoding::Old);
        p.put_u32(self.server_ip);
        p.put_u16(self.server_port);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, ReadError> {
        Ok(Hello {
            user_hash: r.hash16()?,
            client_id: r.u32_le()?,
            port: r.u16_le()?,
            tags: decode_tags(r)?,
            server_ip: r.u32_le()?,
            server_port: r.u16_le()?,
        })
    }
}

/// OP_EMULEINFO / OP_EMULEINFOANSWER body.
#[derive(Clone, Debug, PartialEq)]
pub struct EmuleInfo {
    pub client_version: u8,
    pub protocol_version: u8,
    pub tags: Vec<Tag>,
}

impl EmuleInfo {
    /// The minimal answer: protocol version 1 and our compression level only.
    pub fn minimal(caps: PeerCaps) -> Self {
        EmuleInfo {
            client_version: 0x40,
            protocol_version: 0x01,
            tags: vec![Tag::u32(
                emule_info_tags::COMPRESSION,
                caps.data_comp_ver.into(),
            )],
        }
    }
}

/// Client↔client messages. Part transfers use 64-bit opcodes (0xC5 I64)
/// automatically when an offset does not fit in 32 bits.
#[derive(Clone, Debug, PartialEq)]
pub enum PeerMessage {
    Hello(Hello),
    HelloAnswer(Hello),
    EmuleInfo(EmuleInfo),
    EmuleInfoAnswer(EmuleInfo),
    /// Extended request data some clients append is ignored.
    RequestFilename([u8; 16]),
    FileName {
        hash: [u8; 16],
        name: String,
    },
    SetReqFileId([u8; 16]),
    /// `parts: None` means the peer has the complete file (count 0 on the wire).
    FileStatus {
        hash: [u8; 16],
        parts: Option<Vec<bool>>,
    },
    FileReqAnsNoFile([u8; 16]),
    HashSetRequest([u8; 16]),
    HashSetAnswer {
        hash: [u8; 16],
        parts: Vec<[u8; 16]>,
    },
    StartUploadReq(Option<[u8; 16]>),
    AcceptUploadReq,
    QueueRank(u32),
    /// eMule's 0xC5 0x60 (u16, padded with 10 zero bytes on the wire).
    QueueRanking(u16),
    OutOfPartReqs,
    /// Three `[start, end)` ranges; unused ones are 0..0.
    RequestParts {
        hash: [u8; 16],
        ranges: [(u64, u64); 3],
    },
    /// Raw part data for `[start, end)`; `end - start == data.len()` is checked.
    SendingPart {
        hash: [u8; 16],
        start: u64,
        data: Vec<u8>,
    },
    /// One chunk of the zlib stream for the block starting at `start`, whose
    /// packed size is `packed_len`.
    CompressedPart {
        hash: [u8; 16],
        start: u64,
        packed_len: u32,
        data: Vec<u8>,
    },
    CancelTransfer,
    EndOfDownload([u8; 16]),
    Unknown {
        proto: u8,
        opcode: u8,
    },
}

fn wide(v: u64) -> bool {
    v > u64::from(u32::MAX)
}

impl PeerMessage {
    /// Encodes into a frame (tags old-style).
    pub fn encode(&self) -> Frame {
        let mut p = Vec::new();
        let (proto, opcode) = match self {
            PeerMessage::Hello(h) => {
                p.put_u8(16);
                h.encode(&mut p);
                (PROTO_EDONKEY, op::HELLO)
            }
            PeerMessage::HelloAnswer(h) => {
                h.encode(&mut p);
                (PROTO_EDONKEY, op::HELLO_ANSWER)
            }
            PeerMessage::EmuleInfo(i) | PeerMessage::EmuleInfoAnswer(i) => {
                p.put_u8(i.client_version);
                p.put_u8(i.protocol_version);
                encode_tags(&mut p, &i.tags, TagEncoding::Old);
                let opcode = if matches!(self, PeerMessage::EmuleInfo(_)) {
                    emule_op::EMULE_INFO
                } else {
                    emule_op::EMULE_INFO_ANSWER
                };
                (PROTO_EMULE, opcode)
            }
            PeerMessage::RequestFilename(h) => {
                p.extend_from_slice(h);
                (PROTO_EDONKEY, op::REQUEST_FILENAME)
            }
            PeerMessage::FileName { hash, name } => {
                p.extend_from_slice(hash);
                p.put_string16(name);
                (PROTO_EDONKEY, op::REQ_FILENAME_ANSWER)
            }
            PeerMessage::SetReqFileId(h) => {
                p.extend_from_slice(h);
                (PROTO_EDONKEY, op::SET_REQ_FILE_ID)
            }
            PeerMessage::FileStatus { hash, parts } => {
                p.extend_from_slice(hash);
                let parts = parts.as_deref().unwrap_or(&[]);
                let parts = &parts[..parts.len().min(u16::MAX as usize)];
                p.put_u16(parts.len() as u16);
                for chunk in parts.chunks(8) {
                    let byte = chunk
                        .iter()
                        .enumerate()
                        .fold(0u8, |b, (i, &has)| b | (u8::from(has) << i));
                    p.put_u8(byte);
                }
                (PROTO_EDONKEY, op::FILE_STATUS)
            }
            PeerMessage::FileReqAnsNoFile(h) => {
                p.extend_from_slice(h);
                (PROTO_EDONKEY, op::FILE_REQ_ANS_NO_FILE)
            }
            PeerMessage::HashSetRequest(h) => {
                p.extend_from_slice(h);
                (PROTO_EDONKEY, op::HASHSET_REQUEST)
            }
            PeerMessage::HashSetAnswer { hash, parts } => {
                p.extend_from_slice(hash);
                let parts = &parts[..parts.len().min(u16::MAX as usize)];
                p.put_u16(parts.len() as u16);
                for h in parts {
                    p.extend_from_slice(h);
                }
                (PROTO_EDONKEY, op::HASHSET_ANSWER)
            }
            PeerMessage::StartUploadReq(h) => {
                if let Some(h) = h {
                    p.extend_from_slice(h);
                }
                (PROTO_EDONKEY, op::START_UPLOAD_REQ)
            }
            PeerMessage::AcceptUploadReq => (PROTO_EDONKEY, op::ACCEPT_UPLOAD_REQ),
            PeerMessage::QueueRank(r) => {
                p.put_u32(*r);
                (PROTO_EDONKEY, op::QUEUE_RANK)
            }
            PeerMessage::QueueRanking(r) => {
                p.put_u16(*r);
                p.extend_from_slice(&[0; 10]);
                (PROTO_EMULE, emule_op::QUEUE_RANKING)
            }
            PeerMessage::OutOfPartReqs => (PROTO_EDONKEY, op::OUT_OF_PART_REQS),
            PeerMessage::RequestParts { hash, ranges } => {
                p.extend_from_slice(hash);
                if ranges.iter().any(|&(s, e)| wide(s) || wide(e)) {
                    ranges.iter().for_each(|r| p.put_u64(r.0));
                    ranges.iter().for_each(|r| p.put_u64(r.1));
                    (PROTO_EMULE, emule_op::REQUEST_PARTS_I64)
                } else {
                    ranges.iter().for_each(|r| p.put_u32(r.0 as u32));
                    ranges.iter().for_each(|r| p.put_u32(r.1 as u32));
                    (PROTO_EDONKEY, op::REQUEST_PARTS)
                }
            }
            PeerMessage::SendingPart { hash, start, data } => {
                p.extend_from_slice(hash);
                let end = start.saturating_add(data.len() as u64);
                let r = if wide(end) {
                    p.put_u64(*start);
                    p.put_u64(end);
                    (PROTO_EMULE, emule_op::SENDING_PART_I64)
                } else {
                    p.put_u32(*start as u32);
                    p.put_u32(end as u32);
                    (PROTO_EDONKEY, op::SENDING_PART)
                };
                p.extend_from_slice(data);
                r
            }
            PeerMessage::CompressedPart {
                hash,
                start,
                packed_len,
                data,
            } => {
                p.extend_from_slice(hash);
                let r = if wide(*start) {
                    p.put_u64(*start);
                    (PROTO_EMULE, emule_op::COMPRESSED_PART_I64)
                } else {
                    p.put_u32(*start as u32);
                    (PROTO_EMULE, emule_op::COMPRESSED_PART)
                };
                p.put_u32(*packed_len);
                p.extend_from_slice(data);
                r
            }
            PeerMessage::CancelTransfer => (PROTO_EDONKEY, op::CANCEL_TRANSFER),
            PeerMessage::EndOfDownload(h) => {
                p.extend_from_slice(h);
                (PROTO_EDONKEY, op::END_OF_DOWNLOAD)
            }
            PeerMessage::Unknown { proto, opcode } => (*proto, *opcode),
        };
        Frame::new(proto, opcode, p)
    }

    /// Decodes a frame by (protocol, opcode); unknown pairs give
    /// [`PeerMessage::Unknown`].
    pub fn decode(f: &Frame) -> Result<Self, ReadError> {
        let mut r = Reader::new(&f.payload);
        let r = &mut r;
        Ok(match (f.proto, f.opcode) {
            (PROTO_EDONKEY, op::HELLO) => {
                let len = r.u8()?;
                if len != 16 {
                    return Err(ReadError::invalid(format!("hello hash length {len}")));
                }
                PeerMessage::Hello(Hello::decode(r)?)
            }
            (PROTO_EDONKEY, op::HELLO_ANSWER) => PeerMessage::HelloAnswer(Hello::decode(r)?),
            (PROTO_EMULE, emule_op::EMULE_INFO | emule_op::EMULE_INFO_ANSWER) => {
                let info = EmuleInfo {
                    client_version: r.u8()?,
                    protocol_version: r.u8()?,
                    tags: decode_tags(r)?,
                };
                if f.opcode == emule_op::EMULE_INFO {
                    PeerMessage::EmuleInfo(info)
                } else {
                    PeerMessage::EmuleInfoAnswer(info)
                }
            }
            (PROTO_EDONKEY, op::REQUEST_FILENAME) => PeerMessage::RequestFilename(r.hash16()?),
            (PROTO_EDONKEY, op::REQ_FILENAME_ANSWER) => PeerMessage::FileName {
                hash: r.hash16()?,
                name: r.string16()?,
            },
            (PROTO_EDONKEY, op::SET_REQ_FILE_ID) => PeerMessage::SetReqFileId(r.hash16()?),
            (PROTO_EDONKEY, op::FILE_STATUS) => {
                let hash = r.hash16()?;
                let n = r.u16_le()? as usize;
                let parts = if n == 0 {
                    None
                } else {
                    let bits = r.bytes(n.div_ceil(8))?;
                    Some((0..n).map(|i| bits[i / 8] >> (i % 8) & 1 == 1).collect())
                };
                PeerMessage::FileStatus { hash, parts }
            }
            (PROTO_EDONKEY, op::FILE_REQ_ANS_NO_FILE) => PeerMessage::FileReqAnsNoFile(r.hash16()?),
            (PROTO_EDONKEY, op::HASHSET_REQUEST) => PeerMessage::HashSetRequest(r.hash16()?),
            (PROTO_EDONKEY, op::HASHSET_ANSWER) => {
                let hash = r.hash16()?;
                let n = r.u16_le()?;
                let n = r.count(n.into(), 16)?;
                let mut parts = Vec::with_capacity(n);
                for _ in 0..n {
                    parts.push(r.hash16()?);
                }
                PeerMessage::HashSetAnswer { hash, parts }
            }
            (PROTO_EDONKEY, op::START_UPLOAD_REQ) => {
                PeerMessage::StartUploadReq(if r.remaining() >= 16 {
                    Some(r.hash16()?)
                } else {
                    None
                })
            }
            (PROTO_EDONKEY, op::ACCEPT_UPLOAD_REQ) => PeerMessage::AcceptUploadReq,
            (PROTO_EDONKEY, op::QUEUE_RANK) => PeerMessage::QueueRank(r.u32_le()?),
            (PROTO_EMULE, emule_op::QUEUE_RANKING) => PeerMessage::QueueRanking(r.u16_le()?),
            (PROTO_EDONKEY, op::OUT_OF_PART_REQS) => PeerMessage::OutOfPartReqs,
            (PROTO_EDONKEY, op::REQUEST_PARTS) | (PROTO_EMULE, emule_op::REQUEST_PARTS_I64) => {
                let hash = r.hash16()?;
                let is64 = f.proto == PROTO_EMULE;
                let mut v = [0u64; 6];
                for x in v.iter_mut() {
                    *x = if is64 {
                        r.u64_le()?
                    } else {
                        r.u32_le()?.into()
                    };
                }
                PeerMessage::RequestParts {
                    hash,
                    ranges: [(v[0], v[3]), (v[1], v[4]), (v[2], v[5])],
                }
            }
            (PROTO_EDONKEY, op::SENDING_PART) | (PROTO_EMULE, emule_op::SENDING_PART_I64) => {
                let hash = r.hash16()?;
                let (start, end) = if f.proto == PROTO_EMULE {
                    (r.u64_le()?, r.u64_le()?)
                } else {
                    (r.u32_le()?.into(), r.u32_le()?.into())
                };
                let data = r.take_rest();
                if end.checked_sub(start) != Some(data.len() as u64) {
                    return Err(ReadError::invalid(format!(
                        "part {start}..{end} carries {} bytes",
                        data.len()
                    )));
                }
                PeerMessage::SendingPart {
                    hash,
                    start,
                    data: data.to_vec(),
                }
            }
            (PROTO_EMULE, emule_op::COMPRESSED_PART | emule_op::COMPRESSED_PART_I64) => {
                let hash = r.hash16()?;
                let start = if f.opcode == emule_op::COMPRESSED_PART_I64 {
                    r.u64_le()?
                } else {
                    r.u32_le()?.into()
                };
                PeerMessage::CompressedPart {
                    hash,
                    start,
                    packed_len: r.u32_le()?,
                    data: r.take_rest().to_vec(),
                }
            }
            (PROTO_EDONKEY, op::CANCEL_TRANSFER) => PeerMessage::CancelTransfer,
            (PROTO_EDONKEY, op::END_OF_DOWNLOAD) => PeerMessage::EndOfDownload(r.hash16()?),
            (proto, opcode) => PeerMessage::Unknown { proto, opcode },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::tag::tests::arb_tag;
    use proptest::prelude::*;

    #[test]
    fn hello_bytes() {
        let h = Hello {
            user_hash: [7; 16],
            client_id: 0x0100_007F,
            port: 4662,
            tags: vec![Tag::str(ids::NAME, "x")],
            server_ip: 0,
            server_port: 0,
        };
        let f = PeerMessage::Hello(h.clone()).encode();
        assert_eq!((f.proto, f.opcode), (0xE3, 0x01));
        assert_eq!(f.payload[0], 16);
        assert_eq!(&f.payload[17..23], &[0x7F, 0, 0, 1, 0x36, 0x12]);
        let a = PeerMessage::HelloAnswer(h.clone()).encode();
        assert_eq!(a.opcode, 0x4C);
        assert_eq!(&a.payload[..16], &[7; 16]);
        assert_eq!(a.payload.len() + 1, f.payload.len());
        assert_eq!(
            PeerMessage::decode(&a).unwrap(),
            PeerMessage::HelloAnswer(h)
        );
    }

    #[test]
    fn caps_bits() {
        let c = PeerCaps::swarmux();
        assert_eq!(c.misc1(), 1 << 28 | 1 << 20 | 1 << 2);
        assert_eq!(c.misc2(), 1 << 4);
        let h = Hello::new([0; 16], 1, 2, "n", c, (0, 0));
        assert_eq!(h.caps(), c);
        assert_eq!(h.name(), Some("n"));
    }

    #[test]
    fn file_status_bits() {
        let m = PeerMessage::FileStatus {
            hash: [0; 16],
            parts: Some(vec![
                true, false, true, true, false, false, false, false, true,
            ]),
        };
        let f = m.encode();
        assert_eq!(&f.payload[16..], &[9, 0, 0b0000_1101, 0b1]);
        assert_eq!(PeerMessage::decode(&f).unwrap(), m);
        let done = PeerMessage::FileStatus {
            hash: [0; 16],
            parts: None,
        };
        assert_eq!(&done.encode().payload[16..], &[0, 0]);
    }

    #[test]
    fn part_opcodes() {
        let req = PeerMessage::RequestParts {
            hash: [1; 16],
            ranges: [(0, 10), (10, 20), (0, 0)],
        };
        let f = req.encode();
        assert_eq!((f.proto, f.opcode, f.payload.len()), (0xE3, 0x47, 40));
        let req64 = PeerMessage::RequestParts {
            hash: [1; 16],
            ranges: [(1 << 32, (1 << 32) + 10), (0, 0), (0, 0)],
        };
        let f = req64.encode();
        assert_eq!((f.proto, f.opcode, f.payload.len()), (0xC5, 0xA3, 64));
        assert_eq!(PeerMessage::decode(&f).unwrap(), req64);
        let s = PeerMessage::SendingPart {
            hash: [2; 16],
            start: 5,
            data: vec![1, 2, 3],
        };
        let f = s.encode();
        assert_eq!(&f.payload[16..24], &[5, 0, 0, 0, 8, 0, 0, 0]);
        let mut bad = f.clone();
        bad.payload.pop();
        assert!(PeerMessage::decode(&bad).is_err());
        let c = PeerMessage::CompressedPart {
            hash: [2; 16],
            start: 1 << 33,
            packed_len: 9,
            data: vec![1],
        };
        let f = c.encode();
        assert_eq!((f.proto, f.opcode), (0xC5, 0xA1));
        assert_eq!(PeerMessage::decode(&f).unwrap(), c);
        let q = PeerMessage::QueueRanking(3).encode();
        assert_eq!(q.payload.len(), 12);
    }

    fn arb_hello() -> impl Strategy<Value = Hello> {
        (
            any::<[u8; 16]>(),
            any::<u32>(),
            any::<u16>(),
            proptest::collection::vec(arb_tag(), 0..4),
            any::<u32>(),
            any::<u16>(),
        )
            .prop_map(
                |(user_hash, client_id, port, tags, server_ip, server_port)| Hello {
                    user_hash,
                    client_id,
                    port,
                    tags,
                    server_ip,
                    server_port,
                },
            )
    }

    fn arb_info() -> impl Strategy<Value = EmuleInfo> {
        (
            any::<u8>(),
            any::<u8>(),
            proptest::collection::vec(arb_tag(), 0..3),
        )
            .prop_map(|(client_version, protocol_version, tags)| EmuleInfo {
                client_version,
                protocol_version,
                tags,
            })
    }

    fn arb_msg() -> impl Strategy<Value = PeerMessage> {
        let h = any::<[u8; 16]>;
        let range = (any::<u64>(), any::<u64>());
        prop_oneof![
            arb_hello().prop_map(PeerMessage::Hello),
            arb_hello().prop_map(PeerMessage::HelloAnswer),
            arb_info().prop_map(PeerMessage::EmuleInfo),
            arb_info().prop_map(PeerMessage::EmuleInfoAnswer),
            h().prop_map(PeerMessage::RequestFilename),
            (h(), ".{0,20}").prop_map(|(hash, name)| PeerMessage::FileName { hash, name }),
            h().prop_map(PeerMessage::SetReqFileId),
            (
                h(),
                proptest::option::of(proptest::collection::vec(any::<bool>(), 1..40))
            )
                .prop_map(|(hash, parts)| PeerMessage::FileStatus { hash, parts }),
            h().prop_map(PeerMessage::FileReqAnsNoFile),
            h().prop_map(PeerMessage::HashSetRequest),
            (h(), proptest::collection::vec(h(), 0..5))
                .prop_map(|(hash, parts)| PeerMessage::HashSetAnswer { hash, parts }),
            proptest::option::of(h()).prop_map(PeerMessage::StartUploadReq),
            Just(PeerMessage::AcceptUploadReq),
            any::<u32>().prop_map(PeerMessage::QueueRank),
            any::<u16>().prop_map(PeerMessage::QueueRanking),
            Just(PeerMessage::OutOfPartReqs),
            (h(), range, range, range).prop_map(|(hash, a, b, c)| {
                PeerMessage::RequestParts {
                    hash,
                    ranges: [a, b, c],
                }
            }),
            (
                h(),
                0u64..u64::MAX / 2,
                proptest::collection::vec(any::<u8>(), 0..30)
            )
                .prop_map(|(hash, start, data)| PeerMessage::SendingPart {
                    hash,
                    start,
                    data
                }),
            (
                h(),
                any::<u64>(),
                any::<u32>(),
                proptest::collection::vec(any::<u8>(), 0..30)
            )
                .prop_map(|(hash, start, packed_len, data)| {
                    PeerMessage::CompressedPart {
                        hash,
                        start,
                        packed_len,
                        data,
                    }
                }),
            Just(PeerMessage::CancelTransfer),
            h().prop_map(PeerMessage::EndOfDownload),
        ]
    }

    proptest! {
        #[test]
        fn roundtrip(m in arb_msg()) {
            prop_assert_eq!(PeerMessage::decode(&m.encode()).unwrap(), m);
        }

        #[test]
        fn never_panics(proto in prop::sample::select(vec![0xE3u8, 0xC5, 0x00]), opcode: u8,
                        payload in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = PeerMessage::decode(&Frame::new(proto, opcode, payload));
        }
    }
}
