//! Files the user shares, as the engine hands them to every network.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A shared file with every hash the networks need, computed once by the engine
/// (see [`crate::hashing`]) and cached until the file changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedFile {
    pub path: PathBuf,
    /// The name shown to other peers (the file name without folders).
    pub name: String,
    pub size: u64,
    /// eDonkey2000 file hash.
    pub ed2k: [u8; 16],
    /// eDonkey2000 MD4 hash of each 9,728,000-byte part (the hashset).
    pub ed2k_parts: Vec<[u8; 16]>,
    /// SHA-1 of the whole file.
    pub sha1: [u8; 20],
}
