//! Sans-IO eDonkey2000 protocol core: framing, tags, messages, query trees, links.
//!
//! Everything here works on bytes only, never panics on input and bounds every
//! size it reads: decoders return errors the caller turns into a dropped
//! connection.

pub mod frame;
pub mod link;
pub mod offer;
pub mod peer_msg;
pub mod reader;
pub mod search;
pub mod server_msg;
pub mod servermet;
pub mod tag;

pub use frame::{
    encode_frame, inflate_bounded, pack_frame, Frame, FrameDecoder, FrameError, PROTO_EDONKEY,
    PROTO_EMULE, PROTO_PACKED,
};
pub use link::{file_link, parse_link, Ed2kLink, FileLink, LinkError};
pub use offer::{offer_frame, OfferedFile};
pub use peer_msg::{EmuleInfo, Hello, PeerCaps, PeerMessage};
pub use reader::{Ed2kRead, ReadError, Reader};
pub use search::{tree_from_request, NumOp, SearchFile, SearchTree};
pub use server_msg::{
    ip_to_u32, is_low_id, u32_to_ip, ClientToServer, FileEntry, LoginRequest, ServerToClient,
};
pub use servermet::{parse_server_met, ServerMetEntry};
pub use tag::{Tag, TagEncoding, TagName, TagValue};
