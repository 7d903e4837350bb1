//! The ed2k client backend: server connection, peer transfers, uploads.
//!
//! Sans-IO parts: [`part_file`] (part/block bookkeeping and the picker),
//! [`source`] (downloader side of a peer), [`serve`] (uploader side),
//! [`upload_queue`], [`remote_queue`] (the queues we wait in, and matching an
//! uploader's connection back to us), [`searches`], [`publish`]. Tokio layer:
//! [`network`] (the [`swarmux_net::Network`] impl), [`server_conn`],
//! [`peer_conn`], [`download`], [`uploader`], [`storage`].

pub mod download;
pub mod env;
pub mod network;
pub mod part_file;
pub mod peer_conn;
pub mod publish;
pub mod remote_queue;
pub mod searches;
pub mod serve;
pub mod server_conn;
pub mod source;
pub mod storage;
pub mod upload_queue;
pub mod uploader;

pub use network::{Ed2kConfig, Ed2kNetwork};

#[cfg(test)]
mod net_tests;
#[cfg(test)]
mod queue_tests;
#[cfg(test)]
mod strict_server;
