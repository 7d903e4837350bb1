//! Gnutella 0.6 wire formats and routing state, as plain functions over bytes.
//!
//! Nothing here does I/O: decoders take byte slices and return `Result`s,
//! state machines take bytes and `Instant`s and say what to send. Every length
//! and count read from the network is bounded; nothing panics on input.

/// Bye (0x02).
pub mod bye;
/// The 23-byte descriptor header, the stream decoder and the TTL policy.
pub mod descriptor;
/// Dynamic querying: probe, then one ultrapeer at a time.
pub mod dq;
/// The 0x1C-separated extension area of queries and hit results.
pub mod extensions;
/// GGEP blocks (with COBS and deflate decoding).
pub mod ggep;
/// The 0.6 handshake: both sides as state machines, roles and compression.
pub mod handshake;
/// Handshake text blocks: start line, headers, `X-Try-Ultrapeers` lists.
pub mod headers;
/// HUGE `urn:sha1:` identifiers.
pub mod huge;
/// Deflate link compression (zlib stream, sync flush) as byte transforms.
pub mod link;
/// Decoded descriptors: one enum over every payload type.
pub mod message;
/// Ping (0x00).
pub mod ping;
/// Pong (0x01).
pub mod pong;
/// The pong cache.
pub mod pong_cache;
/// Push (0x40).
pub mod push;
/// QRP hash, keywords and presence tables.
pub mod qrp;
/// QRP RESET/PATCH messages, building and applying table updates.
pub mod qrp_msg;
/// Query (0x80): big-endian flags, search text, extensions.
pub mod query;
/// Query Hit (0x81): results, QHD trailer, servent GUID.
pub mod query_hit;
/// The bounds-checked payload reader and [`reader::DecodeError`].
pub mod reader;
/// Routing state: seen GUIDs, reverse routes, push routes, flood decisions.
pub mod routing;
/// Per-neighbour token bucket for incoming queries.
pub mod throttle;
