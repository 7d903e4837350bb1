//! An ed2k-compatible index server (`swarmux index-server`), usable by swarmux,
//! eMule and aMule clients.
//!
//! [`core::ServerCore`], [`index::FileIndex`] and [`stream::ClientStream`]
//! are sans-IO; [`listener`] is the thin tokio layer. Behaviour worth knowing:
//! - A client gets a high id (its IPv4, 127.0.0.1 → 0x0100007F) when the
//!   server can connect back to its advertised port and receives an
//!   OP_HELLOANSWER with its login user hash; otherwise a unique low id.
//! - OP_OFFERFILES adds to a client's files (eMule/aMule send only files not
//!   yet published and use an empty offer as keep-alive); all of a client's
//!   files go when it disconnects.
//! - A low-id client asking for sources gets only high-id ones.
//! - Anything malformed, oversized, or sent before the login drops that one
//!   connection with a warning.
//! - UDP status requests on the TCP port + 4 get the user and file counts
//!   ([`udp`]); aMule marks a server that does not answer them as failed.

pub mod config;
pub mod core;
pub mod index;
pub mod listener;
pub mod port_check;
pub mod stream;
pub mod udp;

#[cfg(test)]
mod tests;

pub use config::IndexServerConfig;
pub use listener::{bind, IndexServer};
