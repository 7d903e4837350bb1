//! Peer exchange (BEP 11, `ut_pex`): peers added and dropped since the last
//! message, as compact IPv4 addresses with one flag byte per added peer.

use std::net::SocketAddrV4;

use super::bencode::{self, Value};
use super::compact::{encode_peer_v4, parse_peers_v4};
use super::extension::ExtensionError;

/// The peer prefers encrypted connections.
pub const PEX_FLAG_ENCRYPTION: u8 = 0x01;
/// The peer is a seed.
pub const PEX_FLAG_SEED: u8 = 0x02;
/// The peer accepts uTP.
pub const PEX_FLAG_UTP: u8 = 0x04;
/// The peer accepted an outgoing connection (it is reachable).
pub const PEX_FLAG_CONNECTABLE: u8 = 0x10;
/// Most peers kept from one list of a received message.
pub const MAX_PEX_RECEIVED: usize = 200;
/// Most peers sent in one list (BEP 11 asks for at most 50).
pub const MAX_PEX_SENT: usize = 50;

/// One ut_pex message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PexMessage {
    /// New peers with their `PEX_FLAG_*` flags.
    pub added: Vec<(SocketAddrV4, u8)>,
    /// Peers gone since the last message.
    pub dropped: Vec<SocketAddrV4>,
}

impl PexMessage {
    /// The payload; each list is cut to [`MAX_PEX_SENT`] peers.
    pub fn encode(&self) -> Vec<u8> {
        let mut added = Vec::new();
        let mut flags = Vec::new();
        for (peer, f) in self.added.iter().take(MAX_PEX_SENT) {
            encode_peer_v4(peer, &mut added);
            flags.push(*f);
        }
        let mut dropped = Vec::new();
        for peer in self.dropped.iter().take(MAX_PEX_SENT) {
            encode_peer_v4(peer, &mut dropped);
        }
        Value::dict([
            ("added", Value::Bytes(added)),
            ("added.f", Value::Bytes(flags)),
            ("dropped", Value::Bytes(dropped)),
        ])
        .to_bytes()
    }

    /// Decodes a payload, keeping at most [`MAX_PEX_RECEIVED`] peers per
    /// list; missing flags count as 0, IPv6 lists are ignored.
    pub fn decode(payload: &[u8]) -> Result<Self, ExtensionError> {
        let (doc, _) = bencode::decode_prefix(payload)?;
        let v = doc.root();
        v.as_dict().ok_or(ExtensionError::NotDict)?;
        let list = |key: &'static str| match v.get(key).map(|l| l.as_bytes()) {
            None => Ok(Vec::new()),
            Some(Some(b)) => {
                parse_peers_v4(b, MAX_PEX_RECEIVED).map_err(|_| ExtensionError::Missing(key))
            }
            Some(None) => Err(ExtensionError::Missing(key)),
        };
        let flags = v
            .get("added.f")
            .and_then(|f| f.as_bytes())
            .unwrap_or_default();
        let added = list("added")?
            .into_iter()
            .enumerate()
            .map(|(i, p)| (p, flags.get(i).copied().unwrap_or(0)))
            .collect();
        Ok(PexMessage {
            added,
            dropped: list("dropped")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = PexMessage {
            added: vec![
                (
                    "127.0.0.1:6881".parse().unwrap(),
                    PEX_FLAG_SEED | PEX_FLAG_CONNECTABLE,
                ),
                ("127.0.0.2:51413".parse().unwrap(), 0),
            ],
            dropped: vec!["127.0.0.3:1".parse().unwrap()],
        };
        assert_eq!(PexMessage::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn limits_and_leniency() {
        let many = PexMessage {
            added: (0..100u16)
                .map(|i| (SocketAddrV4::new([10, 0, 0, 1].into(), i), 0))
                .collect(),
            dropped: vec![],
        };
        assert_eq!(
            PexMessage::decode(&many.encode()).unwrap().added.len(),
            MAX_PEX_SENT
        );
        // no flags, extra IPv6 keys, short flags
        let v = Value::dict([
            (
                "added",
                Value::bytes([127, 0, 0, 1, 0, 80, 127, 0, 0, 2, 0, 81]),
            ),
            ("added.f", Value::bytes([2])),
            ("added6", Value::bytes([0u8; 18])),
        ]);
        let m = PexMessage::decode(&v.to_bytes()).unwrap();
        assert_eq!(m.added[0].1, 2);
        assert_eq!(m.added[1].1, 0);
        let bad = Value::dict([("added", Value::bytes([1, 2, 3]))]);
        assert!(PexMessage::decode(&bad.to_bytes()).is_err());
        assert!(PexMessage::decode(b"i1e").is_err());
    }
}
