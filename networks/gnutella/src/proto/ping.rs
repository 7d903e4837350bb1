//! Ping (0x00): an empty payload, or a GGEP block (e.g. `SCP` asking for
//! cached pongs). Anything else after the header is ignored, as servents do.

use super::ggep::{self, Extension};
use super::reader::DecodeError;

/// Bytes the deflated GGEP data of one ping may inflate to (pings carry a
/// few flags such as `SCP` and `GUE`).
pub const GGEP_INFLATE_BUDGET: usize = 1024;

/// A Ping and its optional GGEP extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ping {
    pub ggep: Vec<Extension>,
}

impl Ping {
    /// Decodes a Ping payload.
    pub fn decode(payload: &[u8]) -> Result<Ping, DecodeError> {
        if payload.first() == Some(&ggep::MAGIC) {
            let mut budget = GGEP_INFLATE_BUDGET;
            let (ggep, _) = ggep::decode_block(payload, &mut budget)?;
            return Ok(Ping { ggep });
        }
        Ok(Ping::default())
    }

    /// The payload bytes (empty without extensions).
    pub fn encode(&self) -> Vec<u8> {
        ggep::encode_block(&self.ggep, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_and_ggep_pings() {
        assert_eq!(Ping::decode(&[]).unwrap(), Ping::default());
        assert!(Ping::default().encode().is_empty());
        let p = Ping {
            ggep: vec![Extension::new("SCP", [])],
        };
        assert_eq!(Ping::decode(&p.encode()).unwrap(), p);
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Ping::decode(&b);
        }
    }
}
