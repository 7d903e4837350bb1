//! Download logic: which piece to ask for, whom to unchoke, where bytes live on disk.
//!
//! Everything here is sans-IO except [`storage`], whose blocking file I/O and
//! hashing are meant to run off the async threads (`spawn_blocking`).

pub mod bitfield;
pub mod choker;
pub mod layout;
pub mod picker;
pub mod resume;
pub mod storage;

pub use bitfield::{Bitfield, BitfieldError};
pub use choker::{ChokeChanges, Choker, ChokerConfig, PeerStats};
pub use layout::{FileEntry, Layout, LayoutError, PieceGeometry, Priority, Segment, BLOCK_LEN};
pub use picker::{BlockOutcome, BlockRequest, PickerError, PiecePicker};
pub use storage::{Storage, StorageError};
pub use swarmux_net::RateMeter;
