//! The tokio layer: everything that touches sockets, files and time.
//!
//! Sans-IO helpers: [`http`] (HTTP heads, ranges, GIV), [`parts`], [`requery`],
//! [`host_cache`], [`servent_id`], [`shares`], [`searches`]. Tasks: the node loop
//! ([`core`], driven by [`crate::network`]), one task per neighbour link
//! ([`conn`]), per accepted socket ([`listener`]), per upload connection
//! ([`upload`]), per download ([`download`]) and per active source
//! ([`fetch`]). Shared state lives in [`env`], the socket budgets in
//! [`gates`].

pub mod conn;
pub mod core;
pub mod download;
pub mod env;
pub mod fetch;
pub mod gates;
pub mod host_cache;
pub mod http;
pub mod listener;
pub mod neighbour;
pub mod parts;
pub mod requery;
pub mod searches;
pub mod servent_id;
pub mod shares;
pub mod upload;
