//! Client↔server messages (TCP, protocol 0xE3).

use super::frame::{Frame, PROTO_EDONKEY};
use super::reader::{Ed2kRead, PutExt, ReadError, Reader};
use super::search::{ed2k_type_name, SearchTree, MAX_SEARCH_BYTES};
use super::tag::{
    decode_tags, encode_tags, file_size_from_tags, file_size_tags, find_tag, ids, Tag, TagEncoding,
    TagValue,
};
use std::net::Ipv4Addr;
use swarmux_net::FileKind;

/// Client↔server opcodes.
pub mod op {
    pub const LOGIN_REQUEST: u8 = 0x01;
    pub const REJECT: u8 = 0x05;
    pub const GET_SERVER_LIST: u8 = 0x14;
    pub const OFFER_FILES: u8 = 0x15;
    pub const SEARCH_REQUEST: u8 = 0x16;
    pub const GET_SOURCES: u8 = 0x19;
    pub const CALLBACK_REQUEST: u8 = 0x1C;
    pub const QUERY_MORE_RESULTS: u8 = 0x21;
    pub const SERVER_LIST: u8 = 0x32;
    pub const SEARCH_RESULT: u8 = 0x33;
    pub const SERVER_STATUS: u8 = 0x34;
    pub const CALLBACK_REQUESTED: u8 = 0x35;
    pub const CALLBACK_FAILED: u8 = 0x36;
    pub const SERVER_MESSAGE: u8 = 0x38;
    pub const ID_CHANGE: u8 = 0x40;
    pub const SERVER_IDENT: u8 = 0x41;
    pub const FOUND_SOURCES: u8 = 0x42;
    pub const FOUND_SOURCES_OBFU: u8 = 0x44;
}

/// Protocol version sent in the login's version tag (strict servers want exactly this).
pub const LOGIN_VERSION: u32 = 0x3C;

/// Capability bits a client puts in the login's flags tag (0x20, `SRVCAP_*`).
pub mod login_flags {
    pub const ZLIB: u32 = 0x0001;
    pub const IP_IN_LOGIN: u32 = 0x0002;
    pub const AUXPORT: u32 = 0x0004;
    pub const NEWTAGS: u32 = 0x0008;
    pub const UNICODE: u32 = 0x0010;
    pub const LARGEFILES: u32 = 0x0100;
    pub const SUPPORTCRYPT: u32 = 0x0200;
    pub const REQUESTCRYPT: u32 = 0x0400;
    pub const REQUIRECRYPT: u32 = 0x0800;
}

/// Server capability bits in OP_IDCHANGE (`SRV_TCPFLG_*`).
pub mod server_flags {
    /// Understands zlib-packed (0xD4) frames.
    pub const COMPRESSION: u32 = 0x0001;
    /// Understands new-style tags.
    pub const NEWTAGS: u32 = 0x0008;
    /// Strings are UTF-8.
    pub const UNICODE: u32 = 0x0010;
    pub const RELATEDSEARCH: u32 = 0x0040;
    pub const TYPETAGINTEGER: u32 = 0x0080;
    /// Files over 4 GiB.
    pub const LARGEFILES: u32 = 0x0100;
    pub const TCPOBFUSCATION: u32 = 0x0400;
}

/// Client id / port an eMule client puts in OP_OFFERFILES for a complete file
/// when the server supports compression.
pub const OFFER_COMPLETE_ID: u32 = 0xFBFB_FBFB;
pub const OFFER_COMPLETE_PORT: u16 = 0xFBFB;
/// Client id / port for a partial file.
pub const OFFER_PARTIAL_ID: u32 = 0xFCFC_FCFC;
pub const OFFER_PARTIAL_PORT: u16 = 0xFCFC;

/// ed2k ids for IPv4 addresses are the four octets read as a little-endian
/// u32 (127.0.0.1 → 0x0100007F); IPs on the wire use the same layout.
pub fn ip_to_u32(ip: Ipv4Addr) -> u32 {
    u32::from_le_bytes(ip.octets())
}

/// The address for an IP/high id in ed2k layout.
pub fn u32_to_ip(v: u32) -> Ipv4Addr {
    Ipv4Addr::from(v.to_le_bytes())
}

/// Ids below 2^24 are low ids (firewalled clients, reachable by callback only).
pub fn is_low_id(id: u32) -> bool {
    id < 0x0100_0000
}

/// OP_LOGINREQUEST.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginRequest {
    pub user_hash: [u8; 16],
    pub client_id: u32,
    pub port: u16,
    pub tags: Vec<Tag>,
}

impl LoginRequest {
    /// A login with only the tags the strictest servers accept: name, version
    /// 0x3C, port as uint16 and capability flags.
    pub fn standard(user_hash: [u8; 16], port: u16, name: &str, flags: u32) -> Self {
        LoginRequest {
            user_hash,
            client_id: 0,
            port,
            tags: vec![
                Tag::str(ids::NAME, name),
                Tag::u32(ids::VERSION, LOGIN_VERSION),
                Tag::id(ids::PORT, TagValue::U16(port)),
                Tag::u32(ids::SERVER_FLAGS, flags),
            ],
        }
    }

    /// The user name tag, if any.
    pub fn name(&self) -> Option<&str> {
        find_tag(&self.tags, ids::NAME).and_then(TagValue::as_str)
    }

    /// The capability flags tag, 0 when absent.
    pub fn flags(&self) -> u32 {
        find_tag(&self.tags, ids::SERVER_FLAGS)
            .and_then(TagValue::as_u64)
            .unwrap_or(0) as u32
    }
}

/// A file in OP_OFFERFILES or OP_SEARCHRESULT: hash, a source's id and port, tags.
#[derive(Clone, Debug, PartialEq)]
pub struct FileEntry {
    pub hash: [u8; 16],
    pub client_id: u32,
    pub port: u16,
    pub tags: Vec<Tag>,
}

const FILE_ENTRY_MIN: usize = 16 + 4 + 2 + 4;

impl FileEntry {
    /// An offer entry as eMule sends it to a compression-capable server: the
    /// special complete/partial id and port, then name, size (+ size-hi over
    /// 4 GiB) and type when known. Like eMule, no format (extension) tag:
    /// servers since eserver 16.4 take the extension from the name, and
    /// strict servers refuse the tag (see [`super::offer`]).
    pub fn offer(hash: [u8; 16], name: &str, size: u64, complete: bool) -> Self {
        let (client_id, port) = if complete {
            (OFFER_COMPLETE_ID, OFFER_COMPLETE_PORT)
        } else {
            (OFFER_PARTIAL_ID, OFFER_PARTIAL_PORT)
        };
        let mut tags = vec![Tag::str(ids::NAME, name)];
        tags.extend(file_size_tags(size));
        if let Some(t) = ed2k_type_name(FileKind::from_name(name)) {
            tags.push(Tag::str(ids::TYPE, t));
        }
        FileEntry {
            hash,
            client_id,
            port,
            tags,
        }
    }

    pub fn name(&self) -> Option<&str> {
        find_tag(&self.tags, ids::NAME).and_then(TagValue::as_str)
    }

    /// Size from the size and size-hi tags.
    pub fn size(&self) -> Option<u64> {
        file_size_from_tags(&self.tags)
    }

    /// ed2k type name ("Video", ...), if tagged as a string.
    pub fn file_type(&self) -> Option<&str> {
        find_tag(&self.tags, ids::TYPE).and_then(TagValue::as_str)
    }

    /// Format/extension tag.
    pub fn format(&self) -> Option<&str> {
        find_tag(&self.tags, ids::FORMAT).and_then(TagValue::as_str)
    }

    pub fn sources(&self) -> Option<u32> {
        find_tag(&self.tags, ids::SOURCES)
            .and_then(TagValue::as_u64)
            .map(|v| v.min(u32::MAX.into()) as u32)
    }

    pub fn complete_sources(&self) -> Option<u32> {
        find_tag(&self.tags, ids::COMPLETE_SOURCES)
            .and_then(TagValue::as_u64)
            .map(|v| v.min(u32::MAX.into()) as u32)
    }

    /// True unless the entry carries the partial-file marker.
    pub fn is_complete(&self) -> bool {
        !(self.client_id == OFFER_PARTIAL_ID && self.port == OFFER_PARTIAL_PORT)
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, ReadError> {
        Ok(FileEntry {
            hash: r.hash16()?,
            client_id: r.u32_le()?,
            port: r.u16_le()?,
            tags: decode_tags(r)?,
        })
    }

    fn encode(&self, out: &mut Vec<u8>, enc: TagEncoding) {
        out.extend_from_slice(&self.hash);
        out.put_u32(self.client_id);
        out.put_u16(self.port);
        encode_tags(out, &self.tags, enc);
    }
}

fn decode_entries(r: &mut Reader<'_>) -> Result<Vec<FileEntry>, ReadError> {
    let n = r.u32_le()?;
    let n = r.count(n.into(), FILE_ENTRY_MIN)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(FileEntry::decode(r)?);
    }
    Ok(v)
}

fn encode_entries(out: &mut Vec<u8>, files: &[FileEntry], enc: TagEncoding) {
    out.put_u32(files.len() as u32);
    for f in files {
        f.encode(out, enc);
    }
}

/// Messages a client sends to a server.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientToServer {
    Login(LoginRequest),
    GetServerList,
    /// Replaces the set of files this client shares.
    OfferFiles(Vec<FileEntry>),
    Search(SearchTree),
    /// `size` absent: the 16-byte form strict servers require; otherwise eMule's
    /// hash + u32 size, or hash + 0u32 + u64 size for files over 4 GiB.
    GetSources {
        hash: [u8; 16],
        size: Option<u64>,
    },
    /// Asks the server to make the low-id client `client_id` connect to us.
    CallbackRequest {
        client_id: u32,
    },
    QueryMoreResults,
    Unknown {
        opcode: u8,
    },
}

impl ClientToServer {
    /// Encodes with old-style tags.
    pub fn encode(&self) -> Frame {
        self.encode_with(TagEncoding::Old)
    }

    /// Encodes with the given tag style.
    pub fn encode_with(&self, enc: TagEncoding) -> Frame {
        let mut p = Vec::new();
        let opcode = match self {
            ClientToServer::Login(l) => {
                p.extend_from_slice(&l.user_hash);
                p.put_u32(l.client_id);
                p.put_u16(l.port);
                encode_tags(&mut p, &l.tags, enc);
                op::LOGIN_REQUEST
            }
            ClientToServer::GetServerList => op::GET_SERVER_LIST,
            ClientToServer::OfferFiles(files) => {
                encode_entries(&mut p, files, enc);
                op::OFFER_FILES
            }
            ClientToServer::Search(t) => {
                t.encode(&mut p);
                op::SEARCH_REQUEST
            }
            ClientToServer::GetSources { hash, size } => {
                p.extend_from_slice(hash);
                match size.map(u32::try_from) {
                    None => {}
                    Some(Ok(s)) => p.put_u32(s),
                    Some(Err(_)) => {
                        p.put_u32(0);
                        p.put_u64(size.unwrap_or(0));
                    }
                }
                op::GET_SOURCES
            }
            ClientToServer::CallbackRequest { client_id } => {
                p.put_u32(*client_id);
                op::CALLBACK_REQUEST
            }
            ClientToServer::QueryMoreResults => op::QUERY_MORE_RESULTS,
            ClientToServer::Unknown { opcode } => *opcode,
        };
        Frame::new(PROTO_EDONKEY, opcode, p)
    }

    /// Decodes a frame (of any protocol byte: the caller checks). Trailing
    /// bytes are ignored; unknown opcodes give [`ClientToServer::Unknown`].
    pub fn decode(f: &Frame) -> Result<Self, ReadError> {
        let mut r = Reader::new(&f.payload);
        Ok(match f.opcode {
            op::LOGIN_REQUEST => ClientToServer::Login(LoginRequest {
                user_hash: r.hash16()?,
                client_id: r.u32_le()?,
                port: r.u16_le()?,
                tags: decode_tags(&mut r)?,
            }),
            op::GET_SERVER_LIST => ClientToServer::GetServerList,
            op::OFFER_FILES => ClientToServer::OfferFiles(decode_entries(&mut r)?),
            op::SEARCH_REQUEST => {
                if f.payload.len() > MAX_SEARCH_BYTES {
                    return Err(ReadError::TooLarge(format!(
                        "search request of {} bytes (at most {MAX_SEARCH_BYTES})",
                        f.payload.len()
                    )));
                }
                ClientToServer::Search(SearchTree::decode(&mut r)?)
            }
            op::GET_SOURCES => {
                let hash = r.hash16()?;
                let size = match r.remaining() {
                    0 => None,
                    n if n >= 12 => {
                        let lo = r.u32_le()?;
                        let hi = r.u64_le()?;
                        Some(if lo == 0 { hi } else { lo.into() })
                    }
                    _ => Some(r.u32_le()?.into()),
                };
                ClientToServer::GetSources { hash, size }
            }
            op::CALLBACK_REQUEST => ClientToServer::CallbackRequest {
                client_id: r.u32_le()?,
            },
            op::QUERY_MORE_RESULTS => ClientToServer::QueryMoreResults,
            opcode => ClientToServer::Unknown { opcode },
        })
    }
}

/// A source in OP_FOUNDSOURCES_OBFU: id, port, crypt options, and the user
/// hash when bit 0x80 of the options is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObfuSource {
    pub client_id: u32,
    pub port: u16,
    pub crypt_options: u8,
    pub user_hash: Option<[u8; 16]>,
}

/// Messages a server sends to a client.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerToClient {
    Reject,
    /// Other servers as (ip, port); at most 255 are encoded.
    ServerList(Vec<(u32, u16)>),
    /// `more`: the optional trailing byte (1 = more results available).
    SearchResult {
        files: Vec<FileEntry>,
        more: Option<bool>,
    },
    ServerStatus {
        users: u32,
        files: u32,
    },
    /// Connect to this client (it asked for a callback).
    CallbackRequested {
        ip: u32,
        port: u16,
    },
    CallbackFailed,
    /// Text for the user; may hold several lines.
    ServerMessage(String),
    /// Our id (high = our IPv4, low = < 2^24) and the server's TCP flags.
    IdChange {
        id: u32,
        tcp_flags: Option<u32>,
    },
    ServerIdent {
        hash: [u8; 16],
        ip: u32,
        port: u16,
        tags: Vec<Tag>,
    },
    /// Sources as (id, port); at most 255 are encoded.
    FoundSources {
        hash: [u8; 16],
        sources: Vec<(u32, u16)>,
    },
    FoundSourcesObfu {
        hash: [u8; 16],
        sources: Vec<ObfuSource>,
    },
    Unknown {
        opcode: u8,
    },
}

impl ServerToClient {
    /// Encodes with old-style tags.
    pub fn encode(&self) -> Frame {
        let mut p = Vec::new();
        let enc = TagEncoding::Old;
        let opcode = match self {
            ServerToClient::Reject => op::REJECT,
            ServerToClient::ServerList(list) => {
                let list = &list[..list.len().min(255)];
                p.put_u8(list.len() as u8);
                for (ip, port) in list {
                    p.put_u32(*ip);
                    p.put_u16(*port);
                }
                op::SERVER_LIST
            }
            ServerToClient::SearchResult { files, more } => {
                encode_entries(&mut p, files, enc);
                if let Some(m) = more {
                    p.put_u8(u8::from(*m));
                }
                op::SEARCH_RESULT
            }
            ServerToClient::ServerStatus { users, files } => {
                p.put_u32(*users);
                p.put_u32(*files);
                op::SERVER_STATUS
            }
            ServerToClient::CallbackRequested { ip, port } => {
                p.put_u32(*ip);
                p.put_u16(*port);
                op::CALLBACK_REQUESTED
            }
            ServerToClient::CallbackFailed => op::CALLBACK_FAILED,
            ServerToClient::ServerMessage(s) => {
                p.put_string16(s);
                op::SERVER_MESSAGE
            }
            ServerToClient::IdChange { id, tcp_flags } => {
                p.put_u32(*id);
                if let Some(f) = tcp_flags {
                    p.put_u32(*f);
                }
                op::ID_CHANGE
            }
            ServerToClient::ServerIdent {
                hash,
                ip,
                port,
                tags,
            } => {
                p.extend_from_slice(hash);
                p.put_u32(*ip);
                p.put_u16(*port);
                encode_tags(&mut p, tags, enc);
                op::SERVER_IDENT
            }
            ServerToClient::FoundSources { hash, sources } => {
                let sources = &sources[..sources.len().min(255)];
                p.extend_from_slice(hash);
                p.put_u8(sources.len() as u8);
                for (id, port) in sources {
                    p.put_u32(*id);
                    p.put_u16(*port);
                }
                op::FOUND_SOURCES
            }
            ServerToClient::FoundSourcesObfu { hash, sources } => {
                let sources = &sources[..sources.len().min(255)];
                p.extend_from_slice(hash);
                p.put_u8(sources.len() as u8);
                for s in sources {
                    p.put_u32(s.client_id);
                    p.put_u16(s.port);
                    match s.user_hash {
                        Some(h) => {
                            p.put_u8(s.crypt_options | 0x80);
                            p.extend_from_slice(&h);
                        }
                        None => p.put_u8(s.crypt_options & 0x7F),
                    }
                }
                op::FOUND_SOURCES_OBFU
            }
            ServerToClient::Unknown { opcode } => *opcode,
        };
        Frame::new(PROTO_EDONKEY, opcode, p)
    }

    /// Decodes a frame; lenient about trailing bytes, unknown opcodes give
    /// [`ServerToClient::Unknown`].
    pub fn decode(f: &Frame) -> Result<Self, ReadError> {
        let mut r = Reader::new(&f.payload);
        Ok(match f.opcode {
            op::REJECT => ServerToClient::Reject,
            op::SERVER_LIST => {
                let n = r.u8()?;
                let n = r.count(n.into(), 6)?;
                let mut list = Vec::with_capacity(n);
                for _ in 0..n {
                    list.push((r.u32_le()?, r.u16_le()?));
                }
                ServerToClient::ServerList(list)
            }
            op::SEARCH_RESULT => {
                let files = decode_entries(&mut r)?;
                let more = if r.is_empty() {
                    None
                } else {
                    Some(r.u8()? != 0)
                };
                ServerToClient::SearchResult { files, more }
            }
            op::SERVER_STATUS => ServerToClient::ServerStatus {
                users: r.u32_le()?,
                files: r.u32_le()?,
            },
            op::CALLBACK_REQUESTED => ServerToClient::CallbackRequested {
                ip: r.u32_le()?,
                port: r.u16_le()?,
            },
            op::CALLBACK_FAILED => ServerToClient::CallbackFailed,
            op::SERVER_MESSAGE => ServerToClient::ServerMessage(r.string16()?),
            op::ID_CHANGE => ServerToClient::IdChange {
                id: r.u32_le()?,
                tcp_flags: if r.remaining() >= 4 {
                    Some(r.u32_le()?)
                } else {
                    None
                },
            },
            op::SERVER_IDENT => ServerToClient::ServerIdent {
                hash: r.hash16()?,
                ip: r.u32_le()?,
                port: r.u16_le()?,
                tags: decode_tags(&mut r)?,
            },
            op::FOUND_SOURCES => {
                let hash = r.hash16()?;
                let n = r.u8()?;
                let n = r.count(n.into(), 6)?;
                let mut sources = Vec::with_capacity(n);
                for _ in 0..n {
                    sources.push((r.u32_le()?, r.u16_le()?));
                }
                ServerToClient::FoundSources { hash, sources }
            }
            op::FOUND_SOURCES_OBFU => {
                let hash = r.hash16()?;
                let n = r.u8()?;
                let n = r.count(n.into(), 7)?;
                let mut sources = Vec::with_capacity(n);
                for _ in 0..n {
                    let client_id = r.u32_le()?;
                    let port = r.u16_le()?;
                    let opts = r.u8()?;
                    let user_hash = if opts & 0x80 != 0 {
                        Some(r.hash16()?)
                    } else {
                        None
                    };
                    sources.push(ObfuSource {
                        client_id,
                        port,
                        crypt_options: opts & 0x7F,
                        user_hash,
                    });
                }
                ServerToClient::FoundSourcesObfu { hash, sources }
            }
            opcode => ServerToClient::Unknown { opcode },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::search::tests::arb_tree;
    use crate::proto::tag::tests::arb_tag;
    use proptest::prelude::*;

    #[test]
    fn ip_layout() {
        assert_eq!(ip_to_u32(Ipv4Addr::LOCALHOST), 0x0100_007F);
        assert_eq!(u32_to_ip(0x0100_007F), Ipv4Addr::LOCALHOST);
        assert!(is_low_id(0x00FF_FFFF));
        assert!(!is_low_id(0x0100_007F));
    }

    #[test]
    fn login_bytes() {
        let l = LoginRequest::standard([0xAA; 16], 4662, "me", login_flags::ZLIB);
        let f = ClientToServer::Login(l.clone()).encode();
        assert_eq!(f.opcode, 0x01);
        let mut want = vec![0xAA; 16];
        want.extend([0, 0, 0, 0, 0x36, 0x12, 4, 0, 0, 0]);
        want.extend([0x02, 1, 0, 0x01, 2, 0, b'm', b'e']);
        want.extend([0x03, 1, 0, 0x11, 0x3C, 0, 0, 0]);
        want.extend([0x08, 1, 0, 0x0F, 0x36, 0x12]);
        want.extend([0x03, 1, 0, 0x20, 1, 0, 0, 0]);
        assert_eq!(f.payload, want);
        let back = ClientToServer::decode(&f).unwrap();
        assert_eq!(back, ClientToServer::Login(l.clone()));
        assert_eq!(l.name(), Some("me"));
        assert_eq!(l.flags(), 1);
    }

    #[test]
    fn get_sources_forms() {
        let h = [3; 16];
        let f = ClientToServer::GetSources {
            hash: h,
            size: None,
        }
        .encode();
        assert_eq!(f.payload.len(), 16);
        let f = ClientToServer::GetSources {
            hash: h,
            size: Some(10),
        }
        .encode();
        assert_eq!(f.payload.len(), 20);
        let big = 6u64 << 32;
        let f = ClientToServer::GetSources {
            hash: h,
            size: Some(big),
        }
        .encode();
        assert_eq!(f.payload.len(), 28);
        assert_eq!(&f.payload[16..20], &[0, 0, 0, 0]);
        assert_eq!(
            ClientToServer::decode(&f).unwrap(),
            ClientToServer::GetSources {
                hash: h,
                size: Some(big)
            }
        );
    }

    #[test]
    fn offer_entry() {
        let e = FileEntry::offer([1; 16], "Movie.MKV", 5 << 32, true);
        assert_eq!(e.client_id, OFFER_COMPLETE_ID);
        assert_eq!(e.size(), Some(5 << 32));
        assert_eq!(e.file_type(), Some("Video"));
        assert_eq!(e.format(), None);
        assert!(e.is_complete());
        assert!(!FileEntry::offer([1; 16], "a", 1, false).is_complete());
    }

    #[test]
    fn server_bytes() {
        let f = ServerToClient::IdChange {
            id: 0x0100_007F,
            tcp_flags: Some(0x101),
        }
        .encode();
        assert_eq!(
            f.encode(),
            vec![0xE3, 9, 0, 0, 0, 0x40, 0x7F, 0, 0, 1, 0x01, 0x01, 0, 0]
        );
        let f = ServerToClient::FoundSources {
            hash: [0; 16],
            sources: vec![(1, 2)],
        }
        .encode();
        assert_eq!(&f.payload[16..], &[1, 1, 0, 0, 0, 2, 0]);
        let f = ServerToClient::ServerMessage("hi\nthere".into()).encode();
        assert_eq!(
            ServerToClient::decode(&f).unwrap(),
            ServerToClient::ServerMessage("hi\nthere".into())
        );
        // An old server's 4-byte IdChange.
        let f = Frame::new(PROTO_EDONKEY, op::ID_CHANGE, vec![5, 0, 0, 0]);
        assert_eq!(
            ServerToClient::decode(&f).unwrap(),
            ServerToClient::IdChange {
                id: 5,
                tcp_flags: None
            }
        );
        let f = Frame::new(PROTO_EDONKEY, 0x99, vec![]);
        assert_eq!(
            ServerToClient::decode(&f).unwrap(),
            ServerToClient::Unknown { opcode: 0x99 }
        );
    }

    fn arb_entry() -> impl Strategy<Value = FileEntry> {
        (
            any::<[u8; 16]>(),
            any::<u32>(),
            any::<u16>(),
            proptest::collection::vec(arb_tag(), 0..4),
        )
            .prop_map(|(hash, client_id, port, tags)| FileEntry {
                hash,
                client_id,
                port,
                tags,
            })
    }

    fn arb_c2s() -> impl Strategy<Value = ClientToServer> {
        prop_oneof![
            (
                any::<[u8; 16]>(),
                any::<u32>(),
                any::<u16>(),
                proptest::collection::vec(arb_tag(), 0..4)
            )
                .prop_map(|(user_hash, client_id, port, tags)| ClientToServer::Login(
                    LoginRequest {
                        user_hash,
                        client_id,
                        port,
                        tags
                    }
                )),
            Just(ClientToServer::GetServerList),
            proptest::collection::vec(arb_entry(), 0..4).prop_map(ClientToServer::OfferFiles),
            arb_tree().prop_map(ClientToServer::Search),
            (any::<[u8; 16]>(), proptest::option::of(1u64..u64::MAX))
                .prop_map(|(hash, size)| ClientToServer::GetSources { hash, size }),
            any::<u32>().prop_map(|client_id| ClientToServer::CallbackRequest { client_id }),
            Just(ClientToServer::QueryMoreResults),
        ]
    }

    fn arb_s2c() -> impl Strategy<Value = ServerToClient> {
        let src = proptest::collection::vec((any::<u32>(), any::<u16>()), 0..20);
        prop_oneof![
            Just(ServerToClient::Reject),
            src.clone().prop_map(ServerToClient::ServerList),
            (
                proptest::collection::vec(arb_entry(), 0..4),
                proptest::option::of(any::<bool>())
            )
                .prop_map(|(files, more)| ServerToClient::SearchResult { files, more }),
            (any::<u32>(), any::<u32>())
                .prop_map(|(users, files)| ServerToClient::ServerStatus { users, files }),
            (any::<u32>(), any::<u16>())
                .prop_map(|(ip, port)| ServerToClient::CallbackRequested { ip, port }),
            Just(ServerToClient::CallbackFailed),
            ".{0,50}".prop_map(ServerToClient::ServerMessage),
            (any::<u32>(), proptest::option::of(any::<u32>()))
                .prop_map(|(id, tcp_flags)| ServerToClient::IdChange { id, tcp_flags }),
            (
                any::<[u8; 16]>(),
                any::<u32>(),
                any::<u16>(),
                proptest::collection::vec(arb_tag(), 0..4)
            )
                .prop_map(|(hash, ip, port, tags)| ServerToClient::ServerIdent {
                    hash,
                    ip,
                    port,
                    tags
                }),
            (any::<[u8; 16]>(), src)
                .prop_map(|(hash, sources)| ServerToClient::FoundSources { hash, sources }),
            (
                any::<[u8; 16]>(),
                proptest::collection::vec(
                    (
                        any::<u32>(),
                        any::<u16>(),
                        0u8..0x80,
                        proptest::option::of(any::<[u8; 16]>())
                    ),
                    0..5
                )
            )
                .prop_map(|(hash, v)| ServerToClient::FoundSourcesObfu {
                    hash,
                    sources: v
                        .into_iter()
                        .map(|(client_id, port, crypt_options, user_hash)| ObfuSource {
                            client_id,
                            port,
                            crypt_options,
                            user_hash
                        })
                        .collect()
                }),
        ]
    }

    proptest! {
        #[test]
        fn c2s_roundtrip(m in arb_c2s(), new_style: bool) {
            let enc = if new_style { TagEncoding::New } else { TagEncoding::Old };
            prop_assert_eq!(ClientToServer::decode(&m.encode_with(enc)).unwrap(), m);
        }

        #[test]
        fn s2c_roundtrip(m in arb_s2c()) {
            prop_assert_eq!(ServerToClient::decode(&m.encode()).unwrap(), m);
        }

        #[test]
        fn never_panics(opcode: u8, payload in proptest::collection::vec(any::<u8>(), 0..200)) {
            let f = Frame::new(PROTO_EDONKEY, opcode, payload);
            let _ = ClientToServer::decode(&f);
            let _ = ServerToClient::decode(&f);
        }
    }
}
