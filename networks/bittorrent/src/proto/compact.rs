//! Compact peer addresses (BEP 23, BEP 7, BEP 11): 4 address bytes and a
//! big-endian port (6 bytes), or 16 and a port (18 bytes) for IPv6.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

/// A compact peer list whose length is not a multiple of the entry size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("compact peer list of {len} bytes is not a multiple of {entry}")]
pub struct CompactError {
    /// Length of the list in bytes.
    pub len: usize,
    /// Size of one entry (6 or 18).
    pub entry: usize,
}

/// Parses compact IPv4 peers, keeping at most `max` of them.
pub fn parse_peers_v4(bytes: &[u8], max: usize) -> Result<Vec<SocketAddrV4>, CompactError> {
    if !bytes.len().is_multiple_of(6) {
        return Err(CompactError {
            len: bytes.len(),
            entry: 6,
        });
    }
    Ok(bytes
        .chunks_exact(6)
        .take(max)
        .map(|c| {
            SocketAddrV4::new(
                Ipv4Addr::new(c[0], c[1], c[2], c[3]),
                u16::from_be_bytes([c[4], c[5]]),
            )
        })
        .collect())
}

/// Parses compact IPv6 peers, keeping at most `max` of them.
pub fn parse_peers_v6(bytes: &[u8], max: usize) -> Result<Vec<SocketAddrV6>, CompactError> {
    if !bytes.len().is_multiple_of(18) {
        return Err(CompactError {
            len: bytes.len(),
            entry: 18,
        });
    }
    Ok(bytes
        .chunks_exact(18)
        .take(max)
        .map(|c| {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&c[..16]);
            SocketAddrV6::new(Ipv6Addr::from(ip), u16::from_be_bytes([c[16], c[17]]), 0, 0)
        })
        .collect())
}

/// Appends one compact IPv4 peer (6 bytes).
pub fn encode_peer_v4(peer: &SocketAddrV4, out: &mut Vec<u8>) {
    out.extend_from_slice(&peer.ip().octets());
    out.extend_from_slice(&peer.port().to_be_bytes());
}

/// Compact IPv4 peers (6 bytes each).
pub fn encode_peers_v4(peers: &[SocketAddrV4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(peers.len() * 6);
    peers.iter().for_each(|p| encode_peer_v4(p, &mut out));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_v4() {
        let peers = vec![
            "127.0.0.1:6881".parse().unwrap(),
            "127.1.2.3:65535".parse().unwrap(),
        ];
        let bytes = encode_peers_v4(&peers);
        assert_eq!(&bytes[..6], &[127, 0, 0, 1, 0x1a, 0xe1]);
        assert_eq!(parse_peers_v4(&bytes, 10).unwrap(), peers);
        assert_eq!(parse_peers_v4(&bytes, 1).unwrap().len(), 1);
        assert!(parse_peers_v4(&bytes[..7], 10).is_err());
    }

    #[test]
    fn parses_v6() {
        let mut b = vec![0u8; 15];
        b.extend_from_slice(&[1, 0x1a, 0xe1]);
        let p = parse_peers_v6(&b, 5).unwrap();
        assert_eq!(p[0].to_string(), "[::1]:6881");
        assert!(parse_peers_v6(&b[..17], 5).is_err());
    }
}
