//! The tokio session of the BitTorrent network: a listener, one task per
//! torrent, one task per peer connection, a disk thread per torrent, and a
//! tracker announcer per torrent; the DHT is [`swarmux_dht`].
//!
//! Data path: a peer task decodes its receive buffer in place, updates the
//! torrent's picker directly (a mutex held for one call) and queues block
//! data, without copying, to the torrent's disk thread over a bounded
//! channel; the disk thread writes, hashes and reports verdicts to the
//! torrent task, which tells the engine and the peers.

pub mod config;
pub(crate) mod disk;
pub(crate) mod env;
pub(crate) mod housekeeping;
pub(crate) mod listener;
pub(crate) mod meta;
pub(crate) mod metadata_fetch;
pub(crate) mod peer;
pub(crate) mod peer_events;
pub(crate) mod peers;
pub(crate) mod shared;
pub(crate) mod status;
pub(crate) mod torrent;
pub(crate) mod tracker;
pub(crate) mod tracker_io;

pub use config::{BtConfig, DhtSettings, TorznabIndexer};
