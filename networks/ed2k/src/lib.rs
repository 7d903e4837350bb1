//! The eDonkey2000 network: a sans-IO protocol core ([`proto`]), the client
//! backend that plugs into the swarmux engine ([`client`]), and an
//! ed2k-compatible index server ([`server`]).

pub mod client;
pub mod proto;
pub mod server;
