//! Bencode (BEP 3) for swarmux: a bounded decoder into a flat, borrowed
//! [`Document`] (libtorrent's `bdecode` layout), an owned [`Value`] with its
//! canonical encoder, and the exact bytes of any decoded value (a torrent's
//! info-hash is the SHA-1 of the `info` bytes exactly as they appear in the
//! file, so re-encoding would be wrong).
//!
//! Sans-IO: plain functions over byte slices. Decoding never panics and never
//! recurses on any input; it bounds nesting depth, the number of values and
//! every length it reads, and a document costs at most 4 bytes of memory
//! per input byte (see [`document`]).

mod decode;
pub mod document;
#[cfg(any(test, feature = "proptest"))]
pub mod strategy;
mod value;

pub use decode::{
    decode, decode_prefix, decode_prefix_with, decode_with, BencodeError, Limits, MAX_DEPTH,
    MAX_VALUES,
};
pub use document::{Document, Item, Kind};
pub use value::Value;

#[cfg(test)]
mod tests;
