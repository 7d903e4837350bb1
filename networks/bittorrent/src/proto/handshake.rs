//! The 68-byte handshake that opens every peer connection (BEP 3), with the
//! reserved bits for the extension protocol (BEP 10), the DHT (BEP 5) and
//! the Fast Extension (BEP 6).

use super::wire::WireError;

/// The protocol string of the handshake.
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";
/// Size of the handshake.
pub const HANDSHAKE_LEN: usize = 68;

/// The handshake both sides send first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// Capability bits.
    pub reserved: [u8; 8],
    /// The torrent.
    pub info_hash: [u8; 20],
    /// The sender's peer id.
    pub peer_id: [u8; 20],
}

impl Handshake {
    /// Our handshake: extension protocol (BEP 10), DHT (BEP 5) and Fast
    /// Extension (BEP 6) bits set.
    pub fn new(info_hash: [u8; 20], peer_id: [u8; 20]) -> Self {
        let mut reserved = [0u8; 8];
        reserved[5] |= 0x10;
        reserved[7] |= 0x01 | 0x04;
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    /// The peer speaks the extension protocol (BEP 10).
    pub fn supports_extensions(&self) -> bool {
        self.reserved[5] & 0x10 != 0
    }

    /// The peer runs a DHT node (BEP 5) and may send a Port message.
    pub fn supports_dht(&self) -> bool {
        self.reserved[7] & 0x01 != 0
    }

    /// The peer speaks the Fast Extension (BEP 6); it is in use only when
    /// both handshakes set this bit.
    pub fn supports_fast(&self) -> bool {
        self.reserved[7] & 0x04 != 0
    }

    /// The 68 bytes on the wire.
    pub fn encode(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0u8; HANDSHAKE_LEN];
        out[0] = 19;
        out[1..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved);
        out[28..48].copy_from_slice(&self.info_hash);
        out[48..68].copy_from_slice(&self.peer_id);
        out
    }

    /// Decodes a handshake at the start of `buf`: `None` until 68 bytes are
    /// there, an error as soon as the protocol prefix is wrong.
    pub fn decode(buf: &[u8]) -> Result<Option<Handshake>, WireError> {
        let seen = buf.len().min(20);
        let mut expected = [19u8; 20];
        expected[1..].copy_from_slice(PROTOCOL);
        if buf[..seen] != expected[..seen] {
            return Err(WireError::BadHandshake("not the BitTorrent protocol"));
        }
        if buf.len() < HANDSHAKE_LEN {
            return Ok(None);
        }
        let mut h = Handshake {
            reserved: [0; 8],
            info_hash: [0; 20],
            peer_id: [0; 20],
        };
        h.reserved.copy_from_slice(&buf[20..28]);
        h.info_hash.copy_from_slice(&buf[28..48]);
        h.peer_id.copy_from_slice(&buf[48..68]);
        Ok(Some(h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_round_trip_and_bits() {
        let h = Handshake::new([1; 20], *b"-SX0001-abcdefghijkl");
        let bytes = h.encode();
        assert_eq!(bytes[25], 0x10);
        assert_eq!(bytes[27], 0x05);
        assert_eq!(Handshake::decode(&bytes[..40]).unwrap(), None);
        let back = Handshake::decode(&bytes).unwrap().unwrap();
        assert_eq!(back, h);
        assert!(back.supports_extensions() && back.supports_dht() && back.supports_fast());
        let mut plain = h;
        plain.reserved[7] = 0x01;
        assert!(!plain.supports_fast() && plain.supports_dht());
        assert!(Handshake::decode(b"\x13BitTorrent protocoX").is_err());
        assert!(Handshake::decode(b"GET /").is_err());
        assert_eq!(Handshake::decode(b"").unwrap(), None);
    }
}
