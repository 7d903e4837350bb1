//! The Gnutella 0.6 network: a sans-IO protocol core ([`proto`]), magnet
//! links ([`magnet`]) and a tokio layer ([`node`]) behind
//! [`GnutellaNetwork`], the [`swarmux_net::Network`] implementation.

pub mod config;
pub mod magnet;
pub mod network;
pub mod node;
pub mod proto;

pub use config::{GnutellaConfig, Mode};
pub use network::GnutellaNetwork;
