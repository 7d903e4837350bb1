//! Test support: an ed2k server that follows the original protocol strictly
//! (see docs of [`crate::proto::offer`]). It checks the raw bytes of the
//! login and of every OP_OFFERFILES against the TCP flags it announced and
//! closes the connection on what such a server refuses: another login
//! version, tags beyond the allowed ids, new-style tags it did not
//! announce, packed frames without compression, sizes over 4 GiB without
//! large-file support, a GETSOURCES payload other than 16 bytes, or any
//! request before the ID change.

use crate::proto::frame::{Frame, FrameDecoder, PROTO_EDONKEY, PROTO_PACKED};
use crate::proto::reader::{Ed2kRead, ReadError, Reader};
use crate::proto::server_msg::{op, server_flags, ServerToClient, LOGIN_VERSION};
use crate::proto::tag::{ids, types, Tag, TagValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Tag ids a strict server takes in a login.
const LOGIN_TAGS: [(u8, u8); 5] = [
    (ids::NAME, types::STRING),
    (ids::PORT, types::UINT16),
    (ids::VERSION, types::UINT32),
    (ids::SERVER_FLAGS, types::UINT32),
    (ids::EMULE_VERSION, types::UINT32),
];
/// FT_FILERATING.
const RATING: u8 = 0xF7;
/// The media tags (FT_MEDIA_ARTIST ... FT_MEDIA_CODEC).
const MEDIA: std::ops::RangeInclusive<u8> = 0xD0..=0xD5;
/// Their old string names (FT_ED2K_MEDIA_*).
const MEDIA_NAMES: [&str; 6] = ["Artist", "Album", "Title", "length", "bitrate", "codec"];

/// One tag's header as written: its wire type, whether new-style, and its name.
struct RawTag {
    wire_type: u8,
    new_style: bool,
    id: Option<u8>,
    name: String,
    tag: Tag,
}

fn raw_tag(r: &mut Reader<'_>) -> Result<RawTag, String> {
    let rest = r.rest();
    let err = |e: ReadError| e.to_string();
    let wire_type = *rest.first().ok_or("truncated tag")?;
    let (new_style, id, name) = if wire_type & 0x80 != 0 {
        (true, rest.get(1).copied(), String::new())
    } else {
        let len = u16::from_le_bytes([
            *rest.get(1).ok_or("truncated")?,
            *rest.get(2).ok_or("truncated")?,
        ]) as usize;
        let raw = rest.get(3..3 + len).ok_or("truncated tag name")?;
        match raw {
            [id] => (false, Some(*id), String::new()),
            _ => (false, None, String::from_utf8_lossy(raw).into_owned()),
        }
    };
    let tag = Tag::decode(r).map_err(err)?;
    Ok(RawTag {
        wire_type,
        new_style,
        id,
        name,
        tag,
    })
}

/// A read error as the checks report it.
fn text(e: impl Into<ReadError>) -> String {
    e.into().to_string()
}

/// Checks a login frame; the login's flags on success.
pub fn check_login(f: &Frame) -> Result<u32, String> {
    if f.proto != PROTO_EDONKEY || f.opcode != op::LOGIN_REQUEST {
        return Err(format!(
            "first frame {:02X}/{:02X} is no login",
            f.proto, f.opcode
        ));
    }
    let mut r = Reader::new(&f.payload);
    r.hash16().map_err(text)?;
    r.u32_le().map_err(text)?;
    r.u16_le().map_err(text)?;
    let n = r.u32_le().map_err(text)?;
    let mut flags = 0;
    for _ in 0..n {
        let t = raw_tag(&mut r)?;
        if t.new_style {
            return Err("new-style tag in the login".into());
        }
        let id =
            t.id.ok_or_else(|| format!("string-named tag '{}' in the login", t.name))?;
        if !LOGIN_TAGS.contains(&(id, t.wire_type)) {
            return Err(format!(
                "tag 0x{id:02X} of type {:#04x} in the login",
                t.wire_type
            ));
        }
        match (id, &t.tag.value) {
            (ids::VERSION, TagValue::U32(v)) if *v != LOGIN_VERSION => {
                return Err(format!("login version {v:#x}"))
            }
            (ids::SERVER_FLAGS, TagValue::U32(v)) => flags = *v,
            _ => {}
        }
    }
    if !r.is_empty() {
        return Err("bytes after the login's tags".into());
    }
    Ok(flags)
}

/// A frame as the strict server receives it: packed frames inflated, their
/// protocol byte kept.
pub fn received(bytes: &[u8]) -> Result<Frame, String> {
    let mut dec = FrameDecoder::new(1 << 24, PROTO_PACKED);
    dec.push(bytes);
    match dec.next_frame() {
        Ok(Some(f)) if dec.buffered() == 0 => Ok(f),
        Ok(_) => Err("not one whole frame".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Checks an OP_OFFERFILES frame (see [`received`]) against the flags the
/// server announced; the offered entries' (client id, port, tags) on success.
pub fn check_offer(f: &Frame, tcp_flags: u32) -> Result<Vec<(u32, u16, Vec<Tag>)>, String> {
    match f.proto {
        PROTO_EDONKEY => {}
        PROTO_PACKED if tcp_flags & server_flags::COMPRESSION != 0 => {}
        p => return Err(format!("offer with protocol byte {p:#04x}")),
    }
    let mut r = Reader::new(&f.payload);
    let n = r.u32_le().map_err(text)?;
    let mut out = Vec::new();
    for _ in 0..n {
        r.hash16().map_err(text)?;
        let id = r.u32_le().map_err(text)?;
        let port = r.u16_le().map_err(text)?;
        let count = r.u32_le().map_err(text)?;
        let mut tags = Vec::new();
        for _ in 0..count {
            let t = raw_tag(&mut r)?;
            if t.new_style && tcp_flags & server_flags::NEWTAGS == 0 {
                return Err("new-style tag in an offer".into());
            }
            let allowed = match t.id {
                Some(id) => {
                    [ids::NAME, ids::SIZE, ids::SIZE_HI, ids::TYPE, RATING].contains(&id)
                        || MEDIA.contains(&id)
                }
                None => MEDIA_NAMES.contains(&t.name.as_str()),
            };
            if !allowed {
                return Err(format!("tag {:?} in an offer", t.tag.name));
            }
            let big = t.id == Some(ids::SIZE_HI) && t.tag.value.as_u64() != Some(0);
            if big && tcp_flags & server_flags::LARGEFILES == 0 {
                return Err("a file over 4 GiB offered without large-file support".into());
            }
            tags.push(t.tag);
        }
        out.push((id, port, tags));
    }
    if !r.is_empty() {
        return Err("bytes after the offer".into());
    }
    Ok(out)
}

/// What the strict server saw of a client.
#[derive(Debug)]
pub enum Seen {
    /// A client connected from this address.
    Connected(std::net::SocketAddr),
    /// The login passed; its flags.
    Login(u32),
    /// An offer passed: its entries.
    Offer(Vec<(u32, u16, Vec<Tag>)>),
    /// The server closed the connection for this reason.
    Closed(String),
}

/// Runs a strict server on `listener` that gives each client the low id
/// 5 and announces `tcp_flags` (`None`: the 4-byte ID change of the oldest
/// servers), reporting what it sees.
pub async fn run(listener: TcpListener, tcp_flags: Option<u32>, seen: mpsc::UnboundedSender<Seen>) {
    while let Ok((mut s, from)) = listener.accept().await {
        let seen = seen.clone();
        let _ = seen.send(Seen::Connected(from));
        tokio::spawn(async move {
            let why = serve(&mut s, tcp_flags, &seen).await;
            let _ = seen.send(Seen::Closed(why));
        });
    }
}

async fn serve(
    s: &mut tokio::net::TcpStream,
    tcp_flags: Option<u32>,
    seen: &mpsc::UnboundedSender<Seen>,
) -> String {
    // Packed frames keep their protocol byte, for the checks.
    let mut dec = FrameDecoder::new(1 << 24, PROTO_PACKED);
    let mut buf = vec![0u8; 64 * 1024];
    let mut logged_in = false;
    loop {
        let frame = loop {
            match dec.next_frame() {
                Ok(Some(f)) => break f,
                Ok(None) => {}
                Err(e) => return e.to_string(),
            }
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return "client closed".into(),
                Ok(n) => dec.push(&buf[..n]),
            }
        };
        if !logged_in {
            match check_login(&frame) {
                Ok(flags) => {
                    let _ = seen.send(Seen::Login(flags));
                }
                Err(e) => return e,
            }
            logged_in = true;
            if dec.buffered() > 0 {
                return "a request before the ID change".into();
            }
            let id = ServerToClient::IdChange { id: 5, tcp_flags };
            if s.write_all(&id.encode().encode()).await.is_err() {
                return "write failed".into();
            }
            continue;
        }
        let flags = tcp_flags.unwrap_or(0);
        match frame.opcode {
            op::OFFER_FILES => match check_offer(&frame, flags) {
                Ok(entries) => {
                    let _ = seen.send(Seen::Offer(entries));
                }
                Err(e) => return e,
            },
            op::GET_SOURCES if frame.payload.len() != 16 => {
                return format!("GETSOURCES of {} bytes", frame.payload.len())
            }
            _ if frame.proto != PROTO_EDONKEY => return "a packed request".into(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::server_conn::{login_request, LoginInfo};
    use crate::proto::offer::{offer_frame, OfferedFile};
    use crate::proto::server_msg::{ClientToServer, FileEntry};
    use crate::proto::tag::TagEncoding;

    fn files() -> Vec<OfferedFile> {
        vec![
            OfferedFile {
                hash: [1; 16],
                name: "Holiday Video.mkv".into(),
                size: 700_000_000,
                complete: true,
            },
            OfferedFile {
                hash: [2; 16],
                name: "Übung – Noten.pdf".into(),
                size: 5000,
                complete: false,
            },
            OfferedFile {
                hash: [3; 16],
                name: "Big Disk.iso".into(),
                size: 5 << 30,
                complete: true,
            },
        ]
    }

    fn offered(flags: u32, id: u32) -> Result<Vec<(u32, u16, Vec<Tag>)>, String> {
        let f = offer_frame(&files(), flags, id, 4662);
        check_offer(&received(&f.encode())?, flags)
    }

    #[test]
    fn our_login_passes() {
        let login = login_request(&LoginInfo {
            user_hash: [1; 16],
            nickname: "nick ü".into(),
            port: 4662,
            bind_ip: None,
        });
        assert_eq!(check_login(&login.encode()), Ok(0x119));
        // What it refuses: new-style tags, other ids, another version.
        assert!(check_login(&login.encode_with(TagEncoding::New)).is_err());
        let ClientToServer::Login(mut l) = login else {
            unreachable!()
        };
        l.tags.push(Tag::u32(ids::EMULE_UDPPORTS, 1));
        assert!(check_login(&ClientToServer::Login(l.clone()).encode()).is_err());
        l.tags.pop();
        l.tags[1] = Tag::u32(ids::VERSION, 0x3D);
        assert_eq!(
            check_login(&ClientToServer::Login(l).encode()),
            Err("login version 0x3d".into())
        );
    }

    #[test]
    fn each_flag_set_gets_an_offer_it_takes() {
        use server_flags::*;
        let all = [COMPRESSION, NEWTAGS, UNICODE, LARGEFILES, TCPOBFUSCATION];
        for mask in 0..(1u32 << all.len()) {
            let flags = all
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .fold(0, |f, (_, b)| f | b);
            for id in [0x0100_007F, 5] {
                let entries =
                    offered(flags, id).unwrap_or_else(|e| panic!("flags {flags:#x}: {e}"));
                // Files over 4 GiB only to servers that take them.
                let want = if flags & LARGEFILES != 0 { 3 } else { 2 };
                assert_eq!(entries.len(), want, "flags {flags:#x}");
                let (cid, port, tags) = &entries[0];
                match (flags & COMPRESSION != 0, id) {
                    (true, _) => assert_eq!((*cid, *port), (0xFBFB_FBFB, 0xFBFB)),
                    (false, 5) => assert_eq!((*cid, *port), (0, 0)),
                    (false, _) => assert_eq!((*cid, *port), (id, 4662)),
                }
                assert_eq!(tags.len(), 3, "name, size, type: {tags:?}");
                if flags & COMPRESSION != 0 {
                    assert_eq!(entries[1].0, 0xFCFC_FCFC, "a partial file");
                }
            }
        }
    }

    #[test]
    fn the_strict_checker_refuses_what_old_servers_refuse() {
        // New-style tags to a server without 0x08.
        let plain = ClientToServer::OfferFiles(vec![FileEntry::offer([1; 16], "a.mkv", 5, true)]);
        let f = plain.encode_with(TagEncoding::New);
        assert!(check_offer(&f, 0).is_err());
        assert!(check_offer(&f, server_flags::NEWTAGS).is_ok());
        // The format tag, which swarmux once sent.
        let mut e = FileEntry::offer([1; 16], "a.mkv", 5, true);
        e.tags.push(Tag::str(ids::FORMAT, "mkv"));
        let f = ClientToServer::OfferFiles(vec![e]).encode();
        assert_eq!(check_offer(&f, 0xFFFF), Err("tag Id(4) in an offer".into()));
        // A packed offer to a server without 0x01.
        let packed = crate::proto::frame::pack_frame(&plain.encode());
        let got = received(&packed.encode()).unwrap();
        assert!(check_offer(&got, 0).is_err());
        assert!(check_offer(&got, server_flags::COMPRESSION).is_ok());
        // A large file without 0x100.
        let big = ClientToServer::OfferFiles(vec![FileEntry::offer([1; 16], "a", 5 << 30, true)]);
        assert!(check_offer(&big.encode(), 0).is_err());
    }
}
