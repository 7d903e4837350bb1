//! 160-bit node ids and info-hashes, and the XOR distance between them.

use std::fmt;

/// Length of a node id or info-hash in bytes.
pub const ID_LEN: usize = 20;

/// A 160-bit DHT key: a node id, an info-hash or a lookup target.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; ID_LEN]);

impl NodeId {
    /// A uniformly random id.
    pub fn random() -> NodeId {
        NodeId(rand::random())
    }

    /// The id from a 20-byte slice, `None` for any other length.
    pub fn from_slice(b: &[u8]) -> Option<NodeId> {
        b.try_into().ok().map(NodeId)
    }

    /// The XOR distance to `other`; byte arrays compare as the metric requires.
    pub fn distance(&self, other: &NodeId) -> [u8; ID_LEN] {
        let mut d = [0u8; ID_LEN];
        for (i, b) in d.iter_mut().enumerate() {
            *b = self.0[i] ^ other.0[i];
        }
        d
    }

    /// The number of leading bits shared with `other` (160 when equal).
    pub fn common_prefix_len(&self, other: &NodeId) -> usize {
        let d = self.distance(other);
        d.iter()
            .position(|&b| b != 0)
            .map_or(ID_LEN * 8, |i| i * 8 + d[i].leading_zeros() as usize)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_distance() {
        let a = NodeId([0; 20]);
        let mut b = a;
        b.0[1] = 0b0010_0000;
        assert_eq!(a.common_prefix_len(&b), 10);
        assert_eq!(a.common_prefix_len(&a), 160);
        assert!(a.distance(&b) > a.distance(&a));
    }
}
