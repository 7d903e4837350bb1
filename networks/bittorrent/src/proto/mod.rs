//! BitTorrent wire formats, as plain functions over bytes (sans-IO).
//!
//! Every decoder bounds the lengths and counts it reads and returns an error
//! rather than panicking; the session turns errors into dropped connections
//! or messages in the Networks pane.

pub use swarmux_bencode as bencode;

pub mod compact;
pub mod create;
pub mod extension;
pub mod handshake;
pub mod magnet;
pub mod metadata;
pub mod metainfo;
pub mod pex;
pub mod tracker;
pub mod tracker_http;
pub mod tracker_udp;
pub mod url;
pub mod wire;

#[cfg(test)]
mod proptests;

pub use bencode::{BencodeError, Value};
pub use create::{create_torrent, default_piece_length};
pub use extension::{ExtHandshake, ExtensionError, MetadataMsg};
pub use handshake::Handshake;
pub use magnet::{Magnet, MagnetError};
pub use metadata::{metadata_piece, MetadataAssembler};
pub use metainfo::{FileEntry, Info, Metainfo, MetainfoError};
pub use pex::PexMessage;
pub use tracker::{Announce, AnnounceReply, Event, ScrapeStats, TrackerError};
pub use url::{TrackerScheme, TrackerUrl, TrackerUrlError};
pub use wire::{Message, WireError};
