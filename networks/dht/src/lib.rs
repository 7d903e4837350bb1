//! BitTorrent Mainline DHT (BEP 5): find peers for an info-hash without a tracker.
//!
//! # Which implementation, and why
//!
//! This is swarmux's own implementation. The `mainline` crate (6.2) was evaluated
//! first: it binds a given IPv4 address and port, takes only the bootstrap nodes it is
//! given, accepts loopback nodes, has a server mode, and a three-node loopback network
//! of it does resolve an announce. It was not taken because:
//! - the node id cannot be chosen, so it cannot be persisted across restarts;
//! - there is no public way to add a node at run time (the BEP 5 PORT message);
//! - an announce does not say how many nodes stored it;
//! - each instance runs its own OS thread that polls a blocking socket every 50 ms,
//!   outside tokio;
//! - it always pulls in a pre-release `ed25519-dalek` and `curve25519-dalek` (for BEP 44,
//!   which swarmux does not use): about 50 crates and roughly a minute of CPU to build.
//!
//! Written here instead, in the project's style: a sans-IO core in [`proto`] (bounded
//! bencode, KRPC codec, k-bucket routing table, rotating write tokens, an expiring peer
//! store, iterative lookups as a state machine, the node tying them together), and a
//! thin tokio driver, [`Dht`]. Loopback and private addresses are treated like any other,
//! and the only nodes ever contacted are the configured bootstrap nodes, nodes saved in
//! the state file, nodes added with [`Dht::add_node`], and nodes those report (there are
//! no built-in public routers). IPv4 only (BEP 32 is not implemented).
//!
//! ```no_run
//! # async fn demo() -> Result<(), swarmux_dht::DhtError> {
//! use swarmux_dht::{Dht, DhtConfig};
//! let mut cfg = DhtConfig::new("127.0.0.1:0".parse().unwrap());
//! cfg.bootstrap = vec!["127.0.0.1:6881".parse().unwrap()];
//! let dht = Dht::start(cfg).await?;
//! let stored_at = dht.announce([7; 20], 51413).await?;
//! let peers = dht.get_peers([7; 20]).await;
//! dht.shutdown().await;
//! # let _ = (stored_at, peers); Ok(()) }
//! ```

#![warn(missing_docs)]

mod dht;
pub mod proto;

pub use dht::{Dht, DhtConfig, DhtError, DhtStats};
