//! The extension protocol (BEP 10) handshake and the ut_metadata messages
//! (BEP 9), carried in [`super::wire::Message::Extended`].

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use super::bencode::{self, BencodeError, Value};
use super::metainfo::MetainfoError;

/// Extended message id of the extension handshake.
pub const EXT_HANDSHAKE_ID: u8 = 0;
/// Name of the metadata exchange extension (BEP 9).
pub const UT_METADATA: &str = "ut_metadata";
/// Name of the peer exchange extension (BEP 11).
pub const UT_PEX: &str = "ut_pex";
/// The id under which we receive ut_metadata messages.
pub const OUR_UT_METADATA_ID: u8 = 1;
/// The id under which we receive ut_pex messages.
pub const OUR_UT_PEX_ID: u8 = 2;
/// Size of a metadata piece; only the last one may be shorter.
pub const METADATA_PIECE_LEN: usize = 16 << 10;
/// Most extension names kept from a handshake.
pub const MAX_EXTENSIONS: usize = 64;

/// A malformed extension message, or metadata that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    #[error("extension message is not valid bencode: {0}")]
    Bencode(#[from] BencodeError),
    #[error("extension message is not a dictionary")]
    NotDict,
    #[error("extension message lacks a valid {0}")]
    Missing(&'static str),
    #[error("ut_metadata piece of {0} bytes is larger than 16 KiB")]
    PieceTooLarge(usize),
    #[error("metadata size {0} is out of range (1 byte to {max} bytes)", max = super::metainfo::MAX_INFO_BYTES)]
    BadMetadataSize(u64),
    #[error("metadata piece {piece} does not fit metadata of {size} bytes")]
    BadPiece { piece: u32, size: u64 },
    #[error("fetched metadata does not match the info-hash")]
    HashMismatch,
    #[error("fetched metadata is not a usable torrent: {0}")]
    Metainfo(#[from] MetainfoError),
}

/// The extension handshake: which extensions the peer speaks and a few facts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtHandshake {
    /// `m`: extension name → the id the sender wants to receive it under
    /// (entries with id 0, "disabled", are left out).
    pub extensions: BTreeMap<String, u8>,
    /// `metadata_size`: size of the info dictionary (BEP 9).
    pub metadata_size: Option<u64>,
    /// `v`: client name and version.
    pub client: Option<String>,
    /// `p`: the sender's listening port.
    pub listen_port: Option<u16>,
    /// `reqq`: how many outstanding requests the sender accepts.
    pub reqq: Option<u32>,
    /// `yourip`: the address the sender sees us at.
    pub yourip: Option<IpAddr>,
}

impl ExtHandshake {
    /// Ours: ut_metadata and ut_pex (PEX left out for private torrents).
    pub fn ours(metadata_size: Option<u64>, listen_port: u16, pex: bool) -> Self {
        let mut extensions = BTreeMap::from([(UT_METADATA.to_string(), OUR_UT_METADATA_ID)]);
        if pex {
            extensions.insert(UT_PEX.to_string(), OUR_UT_PEX_ID);
        }
        ExtHandshake {
            extensions,
            metadata_size,
            client: Some(format!("swarmux {}", env!("CARGO_PKG_VERSION"))),
            listen_port: Some(listen_port),
            reqq: Some(250),
            yourip: None,
        }
    }

    /// The id to send extension `name` under, if the peer speaks it.
    pub fn extension_id(&self, name: &str) -> Option<u8> {
        self.extensions.get(name).copied()
    }

    /// The bencoded payload (to go in `Extended { id: 0, .. }`).
    pub fn encode(&self) -> Vec<u8> {
        let m = self
            .extensions
            .iter()
            .map(|(k, &v)| (k.as_str(), Value::Int(v.into())));
        let mut d = vec![("m", Value::dict(m))];
        let ints = [
            ("metadata_size", self.metadata_size.map(|s| s as i64)),
            ("p", self.listen_port.map(i64::from)),
            ("reqq", self.reqq.map(i64::from)),
        ];
        d.extend(
            ints.into_iter()
                .filter_map(|(k, v)| Some((k, Value::Int(v?)))),
        );
        if let Some(v) = &self.client {
            d.push(("v", Value::from(v.as_str())));
        }
        match self.yourip {
            Some(IpAddr::V4(ip)) => d.push(("yourip", Value::bytes(ip.octets()))),
            Some(IpAddr::V6(ip)) => d.push(("yourip", Value::bytes(ip.octets()))),
            None => {}
        }
        Value::dict(d).to_bytes()
    }

    /// Decodes a handshake payload; unknown keys and odd values are ignored.
    pub fn decode(payload: &[u8]) -> Result<Self, ExtensionError> {
        let (doc, _) = bencode::decode_prefix(payload)?;
        let v = doc.root();
        v.as_dict().ok_or(ExtensionError::NotDict)?;
        let int = |k: &str| v.get(k).and_then(|i| i.as_int());
        let extensions = v
            .get("m")
            .and_then(|m| m.as_dict())
            .into_iter()
            .flatten()
            .filter_map(|(k, id)| {
                let id = u8::try_from(id.as_int()?).ok().filter(|&i| i != 0)?;
                Some((String::from_utf8(k.to_vec()).ok()?, id))
            })
            .take(MAX_EXTENSIONS)
            .collect();
        let yourip = v.get("yourip").and_then(|y| y.as_bytes()).and_then(|b| {
            if let Ok(a) = <[u8; 4]>::try_from(b) {
                Some(IpAddr::V4(Ipv4Addr::from(a)))
            } else {
                <[u8; 16]>::try_from(b)
                    .ok()
                    .map(|a| IpAddr::V6(Ipv6Addr::from(a)))
            }
        });
        Ok(ExtHandshake {
            extensions,
            metadata_size: int("metadata_size").and_then(|s| u64::try_from(s).ok()),
            client: v
                .get("v")
                .and_then(|c| c.as_str())
                .map(|s| s.chars().take(64).collect()),
            listen_port: int("p")
                .and_then(|p| u16::try_from(p).ok())
                .filter(|&p| p != 0),
            reqq: int("reqq").and_then(|r| u32::try_from(r).ok()),
            yourip,
        })
    }
}

/// A ut_metadata message (BEP 9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataMsg {
    /// Asks for a 16 KiB piece of the info dictionary.
    Request { piece: u32 },
    /// A piece: the dictionary is followed by up to 16 KiB of raw bytes.
    Data {
        piece: u32,
        total_size: u64,
        data: Bytes,
    },
    /// The sender will not send that piece.
    Reject { piece: u32 },
}

impl MetadataMsg {
    /// The payload (to go in `Extended` under the peer's ut_metadata id).
    pub fn encode(&self) -> Vec<u8> {
        let head = |kind: i64, piece: u32| {
            vec![
                ("msg_type", Value::Int(kind)),
                ("piece", Value::Int(piece.into())),
            ]
        };
        match self {
            MetadataMsg::Request { piece } => Value::dict(head(0, *piece)).to_bytes(),
            MetadataMsg::Reject { piece } => Value::dict(head(2, *piece)).to_bytes(),
            MetadataMsg::Data {
                piece,
                total_size,
                data,
            } => {
                let mut d = head(1, *piece);
                d.push(("total_size", Value::Int(*total_size as i64)));
                let mut out = Value::dict(d).to_bytes();
                out.extend_from_slice(data);
                out
            }
        }
    }

    /// Decodes a payload; the data of a Data message shares `payload`.
    pub fn decode(payload: &Bytes) -> Result<Self, ExtensionError> {
        let (doc, used) = bencode::decode_prefix(payload)?;
        let v = doc.root();
        v.as_dict().ok_or(ExtensionError::NotDict)?;
        let field = |k: &'static str| {
            v.get(k)
                .and_then(|i| i.as_int())
                .ok_or(ExtensionError::Missing(k))
        };
        let piece = u32::try_from(field("piece")?).map_err(|_| ExtensionError::Missing("piece"))?;
        match field("msg_type")? {
            0 => Ok(MetadataMsg::Request { piece }),
            2 => Ok(MetadataMsg::Reject { piece }),
            1 => {
                let total_size = u64::try_from(field("total_size")?)
                    .map_err(|_| ExtensionError::Missing("total_size"))?;
                let data = payload.slice(used..);
                if data.len() > METADATA_PIECE_LEN {
                    return Err(ExtensionError::PieceTooLarge(data.len()));
                }
                Ok(MetadataMsg::Data {
                    piece,
                    total_size,
                    data,
                })
            }
            _ => Err(ExtensionError::Missing("msg_type")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_round_trip() {
        let mut h = ExtHandshake::ours(Some(12345), 6881, true);
        h.yourip = Some("127.0.0.1".parse().unwrap());
        let back = ExtHandshake::decode(&h.encode()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.extension_id(UT_METADATA), Some(OUR_UT_METADATA_ID));
        assert_eq!(back.extension_id(UT_PEX), Some(OUR_UT_PEX_ID));
        assert_eq!(
            ExtHandshake::ours(None, 1, false).extension_id(UT_PEX),
            None
        );
    }

    #[test]
    fn handshake_from_another_client() {
        // libtorrent-shaped: disabled extension, odd ids, IPv6 yourip, unknown keys
        let v = Value::dict([
            (
                "m",
                Value::dict([
                    ("ut_metadata", Value::Int(3)),
                    ("lt_donthave", Value::Int(0)),
                    ("upload_only", Value::Int(300)),
                    ("ut_pex", Value::Int(1)),
                ]),
            ),
            ("metadata_size", Value::Int(31235)),
            ("p", Value::Int(70000)),
            ("v", Value::from("qBittorrent/4.6")),
            ("yourip", Value::bytes([0u8; 16])),
            ("complete_ago", Value::Int(-1)),
        ]);
        let h = ExtHandshake::decode(&v.to_bytes()).unwrap();
        assert_eq!(h.extension_id(UT_METADATA), Some(3));
        assert_eq!(h.extensions.len(), 2);
        assert_eq!(h.metadata_size, Some(31235));
        assert_eq!(h.listen_port, None);
        assert_eq!(h.yourip, Some("::".parse().unwrap()));
        assert_eq!(ExtHandshake::decode(b"le"), Err(ExtensionError::NotDict));
    }

    #[test]
    fn metadata_messages_round_trip() {
        for m in [
            MetadataMsg::Request { piece: 2 },
            MetadataMsg::Reject { piece: 0 },
            MetadataMsg::Data {
                piece: 1,
                total_size: 20000,
                data: Bytes::from(vec![b'e'; 3616]),
            },
        ] {
            assert_eq!(MetadataMsg::decode(&Bytes::from(m.encode())).unwrap(), m);
        }
    }

    #[test]
    fn metadata_data_tail_is_raw() {
        // the raw data may itself look like bencode: it must not be parsed
        let payload = Bytes::from_static(b"d8:msg_typei1e5:piecei0e10:total_sizei4eed1:ae");
        let MetadataMsg::Data { data, .. } = MetadataMsg::decode(&payload).unwrap() else {
            panic!("not data");
        };
        assert_eq!(&data[..], b"d1:ae");
        let big = MetadataMsg::Data {
            piece: 0,
            total_size: 1 << 20,
            data: Bytes::from(vec![0u8; METADATA_PIECE_LEN + 1]),
        };
        assert!(MetadataMsg::decode(&Bytes::from(big.encode())).is_err());
        let bad = Bytes::from_static(b"d8:msg_typei9e5:piecei0ee");
        assert!(MetadataMsg::decode(&bad).is_err());
        let neg = Bytes::from_static(b"d8:msg_typei0e5:piecei-1ee");
        assert!(MetadataMsg::decode(&neg).is_err());
    }
}
