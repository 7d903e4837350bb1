//! Magnet links (BEP 9): `magnet:?xt=urn:btih:<40 hex | 32 base32>&dn=NAME&tr=URL&x.pe=IP:PORT`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use swarmux_net::magnet::{self, NotMagnet};

/// Longest magnet link accepted.
pub const MAX_MAGNET_LEN: usize = magnet::MAX_LEN;
/// Most trackers, and most peers, kept from one link.
pub const MAX_MAGNET_ENTRIES: usize = 200;

/// A parsed magnet link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Magnet {
    /// The v1 info-hash.
    pub info_hash: [u8; 20],
    /// Display name (`dn`).
    pub name: Option<String>,
    /// Tracker URLs (`tr`), in order, without duplicates.
    pub trackers: Vec<String>,
    /// Peers to dial directly (`x.pe`).
    pub peers: Vec<SocketAddr>,
}

/// Why a magnet link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    #[error("not a magnet link (expected magnet:?xt=urn:btih:...)")]
    NotMagnet,
    #[error("magnet link is longer than {MAX_MAGNET_LEN} bytes")]
    TooLong,
    #[error("magnet link has no BitTorrent info-hash (xt=urn:btih:...)")]
    MissingHash,
    #[error("magnet link has a v2-only info-hash (urn:btmh), which is not supported")]
    V2Only,
    #[error("magnet info-hash {0:?} is neither 40 hex nor 32 base32 characters")]
    BadHash(String),
    #[error("magnet parameter {0:?} has a malformed %-escape")]
    BadEscape(String),
    #[error("magnet peer {0:?} is not an IP:port address")]
    BadPeer(String),
}

/// Decodes a 40-character hex or 32-character base32 info-hash.
pub fn parse_info_hash(s: &str) -> Option<[u8; 20]> {
    let mut h = [0u8; 20];
    match s.len() {
        40 => hex::decode_to_slice(s, &mut h).ok()?,
        32 => {
            let v = data_encoding::BASE32_NOPAD
                .decode(s.to_ascii_uppercase().as_bytes())
                .ok()?;
            h.copy_from_slice(v.get(..20)?);
        }
        _ => return None,
    }
    Some(h)
}

impl Magnet {
    /// Parses a magnet link.
    pub fn parse(link: &str) -> Result<Magnet, MagnetError> {
        let params = magnet::params(link).map_err(|e| match e {
            NotMagnet::Prefix => MagnetError::NotMagnet,
            NotMagnet::TooLong => MagnetError::TooLong,
        })?;
        let mut info_hash = None;
        let mut v2_only = false;
        let mut m = Magnet {
            info_hash: [0; 20],
            name: None,
            trackers: Vec::new(),
            peers: Vec::new(),
        };
        for p in params {
            let value = p
                .value(p.key == "dn")
                .ok_or_else(|| MagnetError::BadEscape(p.key.clone()))?;
            match p.key.as_str() {
                "xt" => {
                    if let Some(h) = magnet::urn_value(&value, "urn:btih:") {
                        if info_hash.is_none() {
                            info_hash =
                                Some(parse_info_hash(h).ok_or(MagnetError::BadHash(h.into()))?);
                        }
                    } else if magnet::urn_value(&value, "urn:btmh:").is_some() {
                        v2_only = true;
                    }
                }
                "dn" if m.name.is_none() => m.name = Some(value),
                "tr" if m.trackers.len() < MAX_MAGNET_ENTRIES && !m.trackers.contains(&value) => {
                    m.trackers.push(value);
                }
                "x.pe" => {
                    let peer = value.parse().map_err(|_| MagnetError::BadPeer(value))?;
                    if m.peers.len() < MAX_MAGNET_ENTRIES {
                        m.peers.push(peer);
                    }
                }
                _ => {}
            }
        }
        m.info_hash = match (info_hash, v2_only) {
            (Some(h), _) => h,
            (None, true) => return Err(MagnetError::V2Only),
            (None, false) => return Err(MagnetError::MissingHash),
        };
        Ok(m)
    }

    /// The link, with the info-hash in lowercase hex.
    pub fn to_magnet(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Magnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = magnet::Writer::new(&format!("urn:btih:{}", hex::encode(self.info_hash)));
        if let Some(n) = &self.name {
            w = w.param("dn", n);
        }
        for t in &self.trackers {
            w = w.param("tr", t);
        }
        for p in &self.peers {
            w = w.param("x.pe", &p.to_string());
        }
        f.write_str(&w.finish())
    }
}

impl FromStr for Magnet {
    type Err = MagnetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Magnet::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

    #[test]
    fn parses_a_full_link() {
        let link = format!(
            "magnet:?xt=urn:btih:{HEX}&dn=Big+Buck%20Bunny&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce\
             &tr.1=udp://127.0.0.1:6969&tr=udp://127.0.0.1:6969&x.pe=127.0.0.1:51413&x.pe=[::1]:6881&ws=x"
        );
        let m = Magnet::parse(&link).unwrap();
        assert_eq!(hex::encode(m.info_hash), HEX);
        assert_eq!(m.name.as_deref(), Some("Big Buck Bunny"));
        assert_eq!(
            m.trackers,
            vec!["http://127.0.0.1:6969/announce", "udp://127.0.0.1:6969"]
        );
        assert_eq!(m.peers.len(), 2);
        assert_eq!(Magnet::parse(&m.to_magnet()).unwrap(), m);
    }

    #[test]
    fn base32_equals_hex() {
        let h = parse_info_hash(HEX).unwrap();
        let b32 = data_encoding::BASE32_NOPAD.encode(&h);
        let m = Magnet::parse(&format!("MAGNET:?xt=URN:BTIH:{}", b32.to_lowercase())).unwrap();
        assert_eq!(m.info_hash, h);
        assert_eq!(m.name, None);
    }

    #[test]
    fn clear_errors() {
        assert_eq!(Magnet::parse("http://x"), Err(MagnetError::NotMagnet));
        assert_eq!(Magnet::parse("magnet:?dn=x"), Err(MagnetError::MissingHash));
        assert_eq!(
            Magnet::parse("magnet:?xt=urn:btmh:1220abcd"),
            Err(MagnetError::V2Only)
        );
        assert!(matches!(
            Magnet::parse("magnet:?xt=urn:btih:abc"),
            Err(MagnetError::BadHash(_))
        ));
        let bad_peer = format!("magnet:?xt=urn:btih:{HEX}&x.pe=host");
        assert!(matches!(
            Magnet::parse(&bad_peer),
            Err(MagnetError::BadPeer(_))
        ));
        let bad_esc = format!("magnet:?xt=urn:btih:{HEX}&dn=%zz");
        assert!(matches!(
            Magnet::parse(&bad_esc),
            Err(MagnetError::BadEscape(_))
        ));
        assert_eq!(Magnet::parse("mag"), Err(MagnetError::NotMagnet));
        assert_eq!(Magnet::parse("magnet:?é"), Err(MagnetError::MissingHash));
    }
}
