//! Bencode for KRPC datagrams and the state file: the shared
//! `swarmux-bencode` codec, decoding within the tight [`LIMITS`] a datagram
//! needs.

pub use swarmux_bencode::{BencodeError, Document, Item, Limits, Value};

/// What one KRPC datagram or state file may hold (KRPC nests 3 deep).
pub const LIMITS: Limits = Limits {
    max_depth: 8,
    max_values: 2048,
};

/// Decodes exactly one value filling all of `input`, within [`LIMITS`].
pub fn decode(input: &[u8]) -> Result<Document<'_>, BencodeError> {
    swarmux_bencode::decode_with(input, LIMITS)
}
