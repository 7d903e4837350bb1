//! Pong (0x01): `port(2 LE) ip(4) files(4 LE) kbytes(4 LE)` then an optional
//! GGEP block (e.g. `DU` daily uptime, `UP` ultrapeer slots, `IPP` packed hosts).

use super::ggep::{self, Extension};
use super::reader::{DecodeError, Reader};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Length of the fixed part of a Pong.
pub const PONG_FIXED_LEN: usize = 14;

/// A Pong: one servent's address and shared library size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    pub addr: SocketAddrV4,
    pub files: u32,
    pub kbytes: u32,
    pub ggep: Vec<Extension>,
}

impl Pong {
    /// Decodes a Pong payload. Trailing bytes that are not a GGEP block are ignored.
    pub fn decode(payload: &[u8]) -> Result<Pong, DecodeError> {
        let mut r = Reader::new(payload);
        let port = r.u16_le("pong port")?;
        let ip = r.ipv4("pong ip")?;
        let files = r.u32_le("pong files")?;
        let kbytes = r.u32_le("pong kbytes")?;
        let ggep = if r.rest().first() == Some(&ggep::MAGIC) {
            ggep::decode_block(r.rest())?.0
        } else {
            Vec::new()
        };
        Ok(Pong {
            addr: SocketAddrV4::new(ip, port),
            files,
            kbytes,
            ggep,
        })
    }

    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PONG_FIXED_LEN);
        out.extend_from_slice(&self.addr.port().to_le_bytes());
        out.extend_from_slice(&self.addr.ip().octets());
        out.extend_from_slice(&self.files.to_le_bytes());
        out.extend_from_slice(&self.kbytes.to_le_bytes());
        out.extend(ggep::encode_block(&self.ggep, false));
        out
    }

    /// A Pong without extensions.
    pub fn new(ip: Ipv4Addr, port: u16, files: u32, kbytes: u32) -> Pong {
        Pong {
            addr: SocketAddrV4::new(ip, port),
            files,
            kbytes,
            ggep: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wire_layout_and_round_trip() {
        let mut p = Pong::new(Ipv4Addr::new(208, 17, 50, 4), 6346, 3, 1024);
        assert_eq!(
            p.encode(),
            vec![0xCA, 0x18, 208, 17, 50, 4, 3, 0, 0, 0, 0, 4, 0, 0]
        );
        p.ggep.push(Extension::new("DU", [0x80, 0x51]));
        assert_eq!(Pong::decode(&p.encode()).unwrap(), p);
        assert!(Pong::decode(&[0; 13]).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Pong::decode(&b);
        }
    }
}
