//! The control protocol of a swarmux engine.
//!
//! Clients connect to the engine's Unix socket (`control.sock` in the data dir,
//! mode 0600) and exchange newline-delimited JSON: one [`Request`] per line,
//! answered by one [`Response`] line. After [`Request::Subscribe`] the engine
//! pushes a [`Response::Snapshot`] line every time its state changes: state
//! flows one way to the clients, commands flow back.

pub mod client;
pub mod request;
pub mod units;
pub mod view;

pub use client::{Client, ClientError};
pub use request::{Request, Response, SearchParams};
pub use units::human_size;
pub use view::*;

/// The socket file name inside the data dir.
pub const SOCKET_NAME: &str = "control.sock";

/// The longest line either side accepts (16 MiB): bounds memory on a bad peer.
pub const MAX_LINE: usize = 16 << 20;
