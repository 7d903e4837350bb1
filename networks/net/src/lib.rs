//! The contract between the swarmux engine and its network backends.
//!
//! Every network (eDonkey2000, BitTorrent, Gnutella, ...) implements [`Network`]
//! and runs as its own task. The engine sends it [`NetCommand`]s and receives
//! [`NetEvent`]s; nothing else crosses the boundary, so a new network plugs in
//! without touching the engine's core.

#[cfg(any(test, feature = "test-support"))]
pub mod alloc_meter;
pub mod bytes;
pub mod dial;
pub mod gate;
pub mod guard;
pub mod hash;
pub mod hashing;
pub mod http;
pub mod limits;
pub mod magnet;
pub mod message;
pub mod names;
pub mod network;
pub mod percent;
pub mod query;
pub mod rate;
pub mod search;
pub mod share;
pub mod sink;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod written;

pub use gate::{Admission, ConnectionGate, Refusal};
pub use guard::CountGuard;
pub use hash::ContentHash;
pub use limits::Limits;
pub use message::{
    DownloadId, DownloadSpec, DownloadStats, FileInfo, FilePriority, NetCommand, NetEvent,
    PeerInfo, SeedInfo, ServerInfo, UploadInfo,
};
pub use network::{LinkFiles, Network, NetworkContext, Servers};
pub use query::{parse_query, QueryExpr, QueryParseError};
pub use rate::RateMeter;
pub use search::{FileKind, SearchHit, SearchId, SearchRequest};
pub use share::{open_shared, SharedFile};
pub use sink::EventSink;
