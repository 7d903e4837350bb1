//! Sans-IO DHT core: bencode, KRPC messages, routing table, tokens, peer store,
//! query rate limits, iterative lookups and the node state machine that ties them together.
//!
//! Nothing here touches a socket or a clock: datagrams come in as bytes, time as
//! `Instant` arguments, and outgoing datagrams are polled out.

pub mod bencode;
pub mod id;
pub mod krpc;
pub mod lookup;
pub mod node;
pub mod peer_store;
pub mod rate_limit;
pub mod routing;
pub mod state;
pub mod tokens;
