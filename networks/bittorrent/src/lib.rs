//! The BitTorrent network: a sans-IO protocol core ([`proto`]: bencode spans,
//! metainfo, magnets, the peer wire, extensions and tracker messages), the
//! download logic ([`core`]: piece picking, choking, storage), the tokio
//! session ([`session`], [`BitTorrentNetwork`]) that plugs into the swarmux
//! engine, and keyword search ([`search`]: Torznab indexers, the local library).

pub mod core;
pub mod network;
pub mod proto;
pub mod search;
pub mod session;

pub use network::BitTorrentNetwork;
pub use session::{BtConfig, DhtSettings, TorznabIndexer};
