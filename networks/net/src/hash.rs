//! Content hashes that name a file on some network.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A hash that identifies a file's content. Two search rows with an equal
/// `ContentHash` are the same file and merge into one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ContentHash {
    /// eDonkey2000 file hash (MD4 of the part hashes, or of the data when one part).
    Ed2k([u8; 16]),
    /// SHA-1 of the whole file (Gnutella `urn:sha1`).
    Sha1([u8; 20]),
    /// BitTorrent info-hash (v1).
    BtInfo([u8; 20]),
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentHash::Ed2k(h) => write!(f, "ed2k:{}", hex::encode(h)),
            ContentHash::Sha1(h) => write!(f, "sha1:{}", data_encoding::BASE32_NOPAD.encode(h)),
            ContentHash::BtInfo(h) => write!(f, "btih:{}", hex::encode(h)),
        }
    }
}

/// Error for a string that is not `ed2k:HEX32`, `sha1:BASE32` or `btih:HEX40`.
#[derive(Debug, thiserror::Error)]
#[error("not a content hash: {0:?} (expected ed2k:<32 hex>, sha1:<32 base32> or btih:<40 hex>)")]
pub struct BadHash(pub String);

impl FromStr for ContentHash {
    type Err = BadHash;
    fn from_str(s: &str) -> Result<Self, BadHash> {
        let bad = || BadHash(s.to_string());
        let (kind, body) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "ed2k" => {
                let mut h = [0u8; 16];
                hex::decode_to_slice(body, &mut h).map_err(|_| bad())?;
                Ok(ContentHash::Ed2k(h))
            }
            "btih" => {
                let mut h = [0u8; 20];
                hex::decode_to_slice(body, &mut h).map_err(|_| bad())?;
                Ok(ContentHash::BtInfo(h))
            }
            "sha1" => {
                let v = data_encoding::BASE32_NOPAD
                    .decode(body.to_ascii_uppercase().as_bytes())
                    .map_err(|_| bad())?;
                Ok(ContentHash::Sha1(v.try_into().map_err(|_| bad())?))
            }
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parses_back() {
        for h in [
            ContentHash::Ed2k([7; 16]),
            ContentHash::Sha1([9; 20]),
            ContentHash::BtInfo([0xab; 20]),
        ] {
            assert_eq!(h.to_string().parse::<ContentHash>().unwrap(), h);
        }
        assert!("md5:00".parse::<ContentHash>().is_err());
        assert!("ed2k:zz".parse::<ContentHash>().is_err());
    }
}
