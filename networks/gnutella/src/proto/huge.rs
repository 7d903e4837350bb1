//! HUGE file identifiers: `urn:sha1:` followed by the 32-character base32
//! (RFC 4648 alphabet) SHA-1 of the file, and the binary GGEP `H` form.

use data_encoding::BASE32_NOPAD;

/// The SHA-1 of a file, as carried in `urn:sha1:` URNs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha1Urn(pub [u8; 20]);

/// GGEP `H` type byte for a bare SHA-1.
pub const GGEP_H_SHA1: u8 = 0x01;
/// GGEP `H` type byte for a bitprint (SHA-1 then 24-byte Tiger tree root).
pub const GGEP_H_BITPRINT: u8 = 0x02;

impl Sha1Urn {
    /// Parses `urn:sha1:BASE32` (prefix case-insensitive, base32 in either
    /// case) or `urn:bitprint:SHA1BASE32.TIGERBASE32` (the SHA-1 part is kept).
    /// Surrounding whitespace is ignored.
    pub fn parse(s: &str) -> Option<Sha1Urn> {
        let s = s.trim();
        let has_prefix = |p: &str| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
        let b32 = if has_prefix("urn:sha1:") {
            &s[9..]
        } else if has_prefix("urn:bitprint:") {
            s[13..].split('.').next()?
        } else {
            return None;
        };
        Self::from_base32(b32)
    }

    /// Parses the 32 base32 characters alone.
    pub fn from_base32(b32: &str) -> Option<Sha1Urn> {
        if b32.len() != 32 {
            return None;
        }
        let bytes = BASE32_NOPAD
            .decode(b32.to_ascii_uppercase().as_bytes())
            .ok()?;
        Some(Sha1Urn(bytes.try_into().ok()?))
    }

    /// The 32 upper-case base32 characters.
    pub fn base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// Reads a GGEP `H` payload (type byte then digest).
    pub fn from_ggep_h(data: &[u8]) -> Option<Sha1Urn> {
        match data.split_first()? {
            (&GGEP_H_SHA1, d) | (&GGEP_H_BITPRINT, d) if d.len() >= 20 => {
                Some(Sha1Urn(d[..20].try_into().ok()?))
            }
            _ => None,
        }
    }

    /// The GGEP `H` payload for this SHA-1.
    pub fn to_ggep_h(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(21);
        v.push(GGEP_H_SHA1);
        v.extend_from_slice(&self.0);
        v
    }
}

impl std::fmt::Display for Sha1Urn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "urn:sha1:{}", self.base32())
    }
}

impl std::fmt::Debug for Sha1Urn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sha1Urn({})", self.base32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha1::{Digest, Sha1};

    #[test]
    fn sha1_of_abc_in_urn_form() {
        let digest: [u8; 20] = Sha1::digest(b"abc").into();
        let urn = Sha1Urn(digest);
        // SHA-1("abc") = a9993e36..., base32 as HUGE writes it.
        assert_eq!(urn.to_string(), "urn:sha1:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5");
        assert_eq!(
            Sha1Urn::parse("URN:SHA1:vgmt4nsha2awvor6evyxqugcnsonbwe5"),
            Some(urn)
        );
        assert_eq!(
            Sha1Urn::parse(
                "urn:bitprint:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            ),
            Some(urn)
        );
        assert_eq!(Sha1Urn::from_ggep_h(&urn.to_ggep_h()), Some(urn));
        assert_eq!(Sha1Urn::parse("urn:sha1:TOOSHORT"), None);
        assert_eq!(
            Sha1Urn::parse("urn:md5:VGMT4NSHA2AWVOR6EVYXQUGCNSONBWE5"),
            None
        );
        assert_eq!(Sha1Urn::from_ggep_h(&[1, 2, 3]), None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,60}") {
            let _ = Sha1Urn::parse(&s);
            let _ = Sha1Urn::from_ggep_h(s.as_bytes());
        }

        #[test]
        fn round_trips(d in any::<[u8; 20]>()) {
            let u = Sha1Urn(d);
            prop_assert_eq!(Sha1Urn::parse(&u.to_string()), Some(u));
        }
    }
}
