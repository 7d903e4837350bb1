//! OP_OFFERFILES as eMule and aMule build it for a server, from the TCP
//! flags the server announced in its ID change
//! (`CSharedFileList::CreateOfferedFilePacket` and `SendListToServer`):
//! - zlib-packed, and each file marked complete/partial by the special
//!   client id and port, only with [`server_flags::COMPRESSION`]; an older
//!   server gets our id and port when the id is high, zeros otherwise;
//! - compact (new-style) tags only with [`server_flags::NEWTAGS`];
//! - files over 4 GiB only with [`server_flags::LARGEFILES`] (their size
//!   then goes in two u32 tags, size and size-hi); without it they are left
//!   out;
//! - tags: name, size (and size-hi) and the type string, nothing else. An
//!   independently written ed2k server that follows the original protocol
//!   strictly closes the connection on any other tag id or on new-style
//!   tags it did not announce; eMule never sends the format tag to servers.
//!
//! Strings are UTF-8 whatever [`server_flags::UNICODE`] says, as eMule
//! writes them to every server (aMule uses the local code page without the
//! flag; eMule is the reference).

use super::frame::{pack_frame, Frame};
use super::server_msg::{is_low_id, server_flags, ClientToServer, FileEntry};
use super::tag::TagEncoding;

/// A shared file to offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedFile {
    pub hash: [u8; 16],
    pub name: String,
    pub size: u64,
    /// False for a file still being downloaded.
    pub complete: bool,
}

/// The OP_OFFERFILES frame for `files` to a server that announced
/// `tcp_flags`; `client_id` and `port` are ours (used by older servers).
pub fn offer_frame(files: &[OfferedFile], tcp_flags: u32, client_id: u32, port: u16) -> Frame {
    let newer = tcp_flags & server_flags::COMPRESSION != 0;
    let large = tcp_flags & server_flags::LARGEFILES != 0;
    let (id, port) = if is_low_id(client_id) {
        (0, 0)
    } else {
        (client_id, port)
    };
    let entries: Vec<FileEntry> = files
        .iter()
        .filter(|f| large || f.size <= u64::from(u32::MAX))
        .map(|f| {
            let mut e = FileEntry::offer(f.hash, &f.name, f.size, f.complete);
            if !newer {
                (e.client_id, e.port) = (id, port);
            }
            e
        })
        .collect();
    let enc = if tcp_flags & server_flags::NEWTAGS != 0 {
        TagEncoding::New
    } else {
        TagEncoding::Old
    };
    let frame = ClientToServer::OfferFiles(entries).encode_with(enc);
    if !newer {
        return frame;
    }
    // Like eMule's PackPacket: packed only when that makes it smaller.
    let packed = pack_frame(&frame);
    if packed.payload.len() < frame.payload.len() {
        packed
    } else {
        frame
    }
}
