//! Push (0x40): `servent GUID(16) file index(4 LE) ip(4) port(2 LE)`, then an
//! optional GGEP block. Routed to the servent whose GUID it names, which then
//! connects to `ip:port` and sends `GIV index:GUID/name`.

use super::descriptor::Guid;
use super::ggep::{self, Extension};
use super::reader::{field, DecodeError, Reader};
use std::net::SocketAddrV4;

/// Length of the fixed part of a Push.
pub const PUSH_FIXED_LEN: usize = 26;

/// Bytes the deflated GGEP data of one push may inflate to (a push carries
/// at most a few flags and addresses).
pub const GGEP_INFLATE_BUDGET: usize = 1024;

/// A Push request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The servent asked to connect back (from its query hit trailer).
    pub servent: Guid,
    /// The file index from the query hit.
    pub file_index: u32,
    /// Where the servent should connect (the requester).
    pub addr: SocketAddrV4,
    pub ggep: Vec<Extension>,
}

impl Push {
    /// Decodes a Push payload.
    pub fn decode(payload: &[u8]) -> Result<Push, DecodeError> {
        let mut r = Reader::new(payload);
        let servent = Guid(r.array().map_err(field("push servent guid"))?);
        let file_index = r.u32_le().map_err(field("push file index"))?;
        let ip = r.ipv4().map_err(field("push ip"))?;
        let port = r.u16_le().map_err(field("push port"))?;
        let ggep = if r.rest().first() == Some(&ggep::MAGIC) {
            let mut budget = GGEP_INFLATE_BUDGET;
            ggep::decode_block(r.rest(), &mut budget)?.0
        } else {
            Vec::new()
        };
        Ok(Push {
            servent,
            file_index,
            addr: SocketAddrV4::new(ip, port),
            ggep,
        })
    }

    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PUSH_FIXED_LEN);
        out.extend_from_slice(&self.servent.0);
        out.extend_from_slice(&self.file_index.to_le_bytes());
        out.extend_from_slice(&self.addr.ip().octets());
        out.extend_from_slice(&self.addr.port().to_le_bytes());
        out.extend(ggep::encode_block(&self.ggep, false));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    #[test]
    fn round_trip() {
        let p = Push {
            servent: Guid([0xAB; 16]),
            file_index: 42,
            addr: SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 6346),
            ggep: vec![],
        };
        let b = p.encode();
        assert_eq!(b.len(), PUSH_FIXED_LEN);
        assert_eq!(&b[16..26], &[42, 0, 0, 0, 127, 0, 0, 1, 0xCA, 0x18]);
        assert_eq!(Push::decode(&b).unwrap(), p);
        assert!(Push::decode(&b[..25]).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Push::decode(&b);
        }
    }
}
