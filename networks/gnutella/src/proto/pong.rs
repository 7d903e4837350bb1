//! Pong (0x01): `port(2 LE) ip(4) files(4 LE) kbytes(4 LE)` then an optional
//! GGEP block (e.g. `DU` daily uptime, `UP` ultrapeer slots, `IPP` packed hosts).

use super::ggep::{self, Extension};
use super::reader::{field, DecodeError, Reader};
use std::net::{Ipv4Addr, SocketAddrV4};

/// Length of the fixed part of a Pong.
pub const PONG_FIXED_LEN: usize = 14;
/// First byte of our GGEP `UP`: the QRP version we speak (0.2), as
/// gtk-gnutella writes it (`local_meta.version_up` in `src/core/pcache.c`).
pub const UP_VERSION: u8 = 0x02;

/// The kbytes field of our own pong, marked as gtk-gnutella and LimeWire do
/// (`send_personal_info` in `src/core/pcache.c`): an ultrapeer gives the
/// power of two nearest to its real amount, at least 8; a leaf never gives a
/// power of two (its amount is made odd), so pongs tell ultrapeers apart.
pub fn marked_kbytes(kbytes: u32, ultrapeer: bool) -> u32 {
    if !ultrapeer {
        return if kbytes == 0 { 0 } else { kbytes | 1 };
    }
    let k = u64::from(kbytes);
    let next = k.max(1).next_power_of_two();
    let prev = next / 2;
    let nearest = if next - k < k - prev { next } else { prev };
    u32::try_from(nearest.max(8)).unwrap_or(1 << 31)
}

/// Bytes the deflated GGEP data of one pong may inflate to: a pong's
/// metadata (`DU`, `UP`, `VC`, `LOC`, ...) is a few dozen bytes and a
/// host list (`IPP`, `PHC`) a few hundred.
pub const GGEP_INFLATE_BUDGET: usize = 4 * 1024;

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
        let port = r.u16_le().map_err(field("pong port"))?;
        let ip = r.ipv4().map_err(field("pong ip"))?;
        let files = r.u32_le().map_err(field("pong files"))?;
        let kbytes = r.u32_le().map_err(field("pong kbytes"))?;
        let ggep = if r.rest().first() == Some(&ggep::MAGIC) {
            let mut budget = GGEP_INFLATE_BUDGET;
            ggep::decode_block(r.rest(), &mut budget)?.0
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

    #[test]
    fn kbytes_mark_ultrapeers_like_gtk_gnutella() {
        assert_eq!(marked_kbytes(0, true), 8);
        assert_eq!(marked_kbytes(5, true), 8);
        assert_eq!(marked_kbytes(1000, true), 1024);
        assert_eq!(marked_kbytes(1600, true), 2048);
        assert_eq!(marked_kbytes(1500, true), 1024);
        assert_eq!(marked_kbytes(u32::MAX, true), 1 << 31);
        assert_eq!(marked_kbytes(0, false), 0);
        assert_eq!(marked_kbytes(1024, false), 1025);
        assert_eq!(marked_kbytes(7, false), 7);
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Pong::decode(&b);
        }

        #[test]
        fn marks_are_told_apart(k in any::<u32>()) {
            prop_assert!(marked_kbytes(k, true).is_power_of_two());
            let leaf = marked_kbytes(k, false);
            prop_assert!(leaf == 0 || !leaf.is_power_of_two() || leaf == 1);
        }
    }
}
