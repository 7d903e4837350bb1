//! The extension area shared by queries (after the search text) and query hit
//! results (between the two NULs): HUGE URNs as text, GGEP blocks and other
//! items (XML, bare `urn:` requests), separated by 0x1C.
//!
//! Parsing is lenient like real servents: an item it does not understand is
//! kept as text in `other`, and a GGEP block that does not decode ends the
//! parse with what was read so far. The number of items is bounded
//! ([`MAX_ITEMS`], gtk-gnutella's `MAX_EXTVEC`), and deflated GGEP data
//! inflates only into the budget the caller passes in.

use super::ggep::{self, Extension};
use super::huge::Sha1Urn;

/// The byte separating items in an extension area.
pub const SEPARATOR: u8 = 0x1C;
/// Most items read from one area (URNs + GGEP extensions + others); the
/// rest of the area is ignored.
pub const MAX_ITEMS: usize = 32;

/// A parsed extension area.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtensionArea {
    /// SHA-1 URNs, from `urn:sha1:` text or GGEP `H`.
    pub urns: Vec<Sha1Urn>,
    /// GGEP extensions other than `H`.
    pub ggep: Vec<Extension>,
    /// Any other item, as (lossy UTF-8) text.
    pub other: Vec<String>,
}

impl ExtensionArea {
    /// Parses an area; never fails (see the module documentation). Deflated
    /// GGEP data inflates into `inflate_budget` (see [`ggep::decode_block`]).
    pub fn parse(area: &[u8], inflate_budget: &mut usize) -> Self {
        let mut out = ExtensionArea::default();
        let mut pos = 0;
        while pos < area.len() && out.len() < MAX_ITEMS {
            match area[pos] {
                SEPARATOR | 0 => pos += 1,
                ggep::MAGIC => match ggep::decode_block(&area[pos..], inflate_budget) {
                    Ok((exts, used)) => {
                        pos += used;
                        for e in exts {
                            if out.len() >= MAX_ITEMS {
                                break;
                            }
                            match (e.id.as_str(), Sha1Urn::from_ggep_h(&e.data)) {
                                ("H", Some(urn)) => out.push_urn(urn),
                                _ => out.ggep.push(e),
                            }
                        }
                    }
                    Err(_) => break,
                },
                _ => {
                    let end = area[pos..]
                        .iter()
                        .position(|&b| b == SEPARATOR || b == 0)
                        .map_or(area.len(), |i| pos + i);
                    let text = String::from_utf8_lossy(&area[pos..end]);
                    match Sha1Urn::parse(&text) {
                        Some(urn) => out.push_urn(urn),
                        None => out.other.push(text.into_owned()),
                    }
                    pos = end;
                }
            }
        }
        out
    }

    fn len(&self) -> usize {
        self.urns.len() + self.ggep.len() + self.other.len()
    }

    fn push_urn(&mut self, urn: Sha1Urn) {
        if !self.urns.contains(&urn) {
            self.urns.push(urn);
        }
    }

    /// True when the area holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Encodes the area: each URN as `urn:sha1:` text, the other items, then
    /// one GGEP block, separated by 0x1C. With `no_nul` (inside a query hit
    /// result) the GGEP data is COBS-encoded where needed so no byte is 0;
    /// `other` items containing NUL or 0x1C are left out.
    pub fn encode(&self, no_nul: bool) -> Vec<u8> {
        let mut items: Vec<Vec<u8>> = self
            .urns
            .iter()
            .map(|u| u.to_string().into_bytes())
            .collect();
        items.extend(
            self.other
                .iter()
                .filter(|o| !o.is_empty() && !o.bytes().any(|b| b == 0 || b == SEPARATOR))
                .map(|o| o.clone().into_bytes()),
        );
        let block = ggep::encode_block(&self.ggep, no_nul);
        if !block.is_empty() {
            items.push(block);
        }
        items.join(&SEPARATOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_mixed_area() {
        let urn = Sha1Urn([9; 20]);
        let mut area = format!("{urn}\x1curn:\x1c<xml/>\x1c").into_bytes();
        area.extend(ggep::encode_block(
            &[
                Extension::new("H", Sha1Urn([3; 20]).to_ggep_h()),
                Extension::new("LF", [1, 2]),
            ],
            true,
        ));
        let got = ExtensionArea::parse(&area, &mut 0);
        assert_eq!(got.urns, vec![urn, Sha1Urn([3; 20])]);
        assert_eq!(got.other, vec!["urn:".to_string(), "<xml/>".to_string()]);
        assert_eq!(got.ggep, vec![Extension::new("LF", [1, 2])]);
    }

    #[test]
    fn encode_for_hits_has_no_nul() {
        let a = ExtensionArea {
            urns: vec![Sha1Urn([0; 20])],
            ggep: vec![Extension::new("LF", [0, 0, 0, 0, 1])],
            other: vec![],
        };
        let bytes = a.encode(true);
        assert!(!bytes.contains(&0));
        assert_eq!(ExtensionArea::parse(&bytes, &mut 0), a);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let a = ExtensionArea::parse(&bytes, &mut 0);
            prop_assert!(a.len() <= MAX_ITEMS);
        }
    }
}
