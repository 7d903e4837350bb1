//! Bencode (BEP 3) for swarmux: a decoder that bounds nesting depth, value
//! count and every length it reads, a canonical encoder, and the exact byte
//! span of a dictionary value (a torrent's info-hash is the SHA-1 of the
//! `info` bytes exactly as they appear in the file, so re-encoding would be
//! wrong).
//!
//! Sans-IO: plain functions over byte slices. Decoding never panics on any
//! input and never allocates more than the input it was given.

mod decode;
#[cfg(any(test, feature = "proptest"))]
pub mod strategy;
mod value;

pub use decode::{
    decode, decode_prefix, decode_with, dict_value_span, BencodeError, Limits, MAX_DEPTH,
};
pub use value::Value;

#[cfg(test)]
mod tests;
