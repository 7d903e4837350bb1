//! The persisted node state: our id and the good nodes we knew, as a bencoded dictionary
//! `{"id": <20 bytes>, "nodes": <compact IPv4 nodes>}`.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;

use thiserror::Error;

use super::bencode::{self, BencodeError, Value};
use super::id::{NodeId, ID_LEN};
use super::krpc::{decode_compact_peer, encode_compact_peer};

/// Largest state file read.
pub const MAX_STATE_BYTES: usize = 64 * 1024;
/// Most nodes saved or loaded.
pub const MAX_SAVED_NODES: usize = 256;

/// What survives a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    /// Our node id.
    pub id: NodeId,
    /// Good nodes at the time of saving.
    pub nodes: Vec<(NodeId, SocketAddrV4)>,
}

/// Why a state file could not be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StateError {
    /// Larger than [`MAX_STATE_BYTES`].
    #[error("dht state: file too large")]
    TooLarge,
    /// Not bencode.
    #[error(transparent)]
    Bencode(#[from] BencodeError),
    /// Bencode, but not our layout.
    #[error("dht state: missing or bad {0}")]
    Invalid(&'static str),
}

impl SavedState {
    /// Encodes the state (at most [`MAX_SAVED_NODES`] nodes).
    pub fn encode(&self) -> Vec<u8> {
        let mut nodes = Vec::new();
        for (id, addr) in self.nodes.iter().take(MAX_SAVED_NODES) {
            nodes.extend_from_slice(&id.0);
            nodes.extend_from_slice(&encode_compact_peer(addr));
        }
        let mut d = BTreeMap::new();
        d.insert(b"id".to_vec(), Value::bytes(self.id.0));
        d.insert(b"nodes".to_vec(), Value::Bytes(nodes));
        Value::Dict(d).to_bytes()
    }

    /// Decodes a state file's contents.
    pub fn decode(data: &[u8]) -> Result<SavedState, StateError> {
        if data.len() > MAX_STATE_BYTES {
            return Err(StateError::TooLarge);
        }
        let doc = bencode::decode(data)?;
        let d = doc.root();
        d.as_dict().ok_or(StateError::Invalid("dictionary"))?;
        let id = d
            .get("id")
            .and_then(|i| i.as_bytes())
            .and_then(NodeId::from_slice)
            .ok_or(StateError::Invalid("id"))?;
        let raw = d
            .get("nodes")
            .and_then(|n| n.as_bytes())
            .ok_or(StateError::Invalid("nodes"))?;
        let nodes = raw
            .chunks_exact(ID_LEN + 6)
            .take(MAX_SAVED_NODES)
            .filter_map(|c| {
                let id = NodeId::from_slice(&c[..ID_LEN])?;
                decode_compact_peer(&c[ID_LEN..]).map(|a| (id, a))
            })
            .collect();
        Ok(SavedState { id, nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    #[test]
    fn roundtrips() {
        let s = SavedState {
            id: NodeId([3; 20]),
            nodes: vec![(
                NodeId([4; 20]),
                SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7000),
            )],
        };
        assert_eq!(SavedState::decode(&s.encode()), Ok(s));
        assert!(SavedState::decode(b"de").is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = SavedState::decode(&data);
        }
    }
}
