//! Query (0x80): `flags(2, BIG-endian) search text NUL extension area`.
//!
//! The first two bytes were once a minimum speed; today bit 15 marks them as
//! flags. Like gtk-gnutella 1.2 (`search_request_get_flags` in
//! `src/core/search.c`), a field of 0 is an "ancient" query, dropped; a
//! non-zero field without bit 15 is an old minimum speed, ignored (the query
//! is kept, with no flags); a field written little-endian by mistake is read
//! the right way round when that makes sense. The
//! extension area runs to the end of the payload and holds `urn:sha1:` URNs
//! and GGEP blocks separated by 0x1C (see [`super::extensions`]).

use super::extensions::ExtensionArea;
use super::huge::Sha1Urn;
use super::reader::{field, wire_text, DecodeError, Reader};
use swarmux_net::names::cut_at_char;

/// Bit 15: the field holds flags, not a minimum speed.
pub const FLAG_MARK: u16 = 0x8000;
/// Bit 14: the querier is firewalled (a firewalled servent should not answer).
pub const FLAG_FIREWALLED: u16 = 0x4000;
/// Bit 13: the querier wants XML metadata.
pub const FLAG_XML: u16 = 0x2000;
/// Bit 12: leaf-guided dynamic query.
pub const FLAG_LEAF_GUIDED: u16 = 0x1000;
/// Bit 11: GGEP `H` is understood in hits.
pub const FLAG_GGEP_H: u16 = 0x0800;
/// Bit 10: out-of-band hits wanted (never set by us: no UDP).
pub const FLAG_OOB: u16 = 0x0400;
/// The flags our queries carry by default.
pub const DEFAULT_FLAGS: u16 = FLAG_MARK | FLAG_GGEP_H;
/// Longest search text accepted (longer is refused; gtk-gnutella's own limit is similar).
pub const MAX_TEXT: usize = 1024;
/// Largest query payload we originate: gtk-gnutella drops longer queries
/// instead of forwarding them (`search_queries_forward_size`, 256 bytes by
/// default) and says Bye to a neighbour sending much longer ones.
pub const MAX_SENT_PAYLOAD: usize = 256;
/// The search text of a query for a URN only.
pub const URN_ONLY_TEXT: &str = "\\";

/// Bytes the deflated GGEP data of one query may inflate to (queries carry
/// `H`, `NP`, `SCP`, a query key: a few dozen bytes).
pub const GGEP_INFLATE_BUDGET: usize = 4 * 1024;

/// A Query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The flags field (see the `FLAG_` constants).
    pub flags: u16,
    /// The search text, keywords separated by spaces.
    pub text: String,
    /// URNs and GGEP extensions.
    pub ext: ExtensionArea,
}

impl Query {
    /// A keyword query with [`DEFAULT_FLAGS`]; the text is cut (at a word
    /// boundary when there is one) so the payload fits [`MAX_SENT_PAYLOAD`].
    pub fn keywords(text: &str) -> Query {
        Query {
            flags: DEFAULT_FLAGS,
            text: fit_text(text, MAX_SENT_PAYLOAD - 3).to_string(),
            ext: ExtensionArea::default(),
        }
    }

    /// A query for one file by its SHA-1.
    pub fn by_urn(urn: Sha1Urn) -> Query {
        Query {
            flags: DEFAULT_FLAGS,
            text: URN_ONLY_TEXT.to_string(),
            ext: ExtensionArea {
                urns: vec![urn],
                ..ExtensionArea::default()
            },
        }
    }

    /// True when the flags field is 0: gtk-gnutella drops such queries, so do we.
    pub fn is_ancient(&self) -> bool {
        self.flags == 0
    }

    /// The flags as gtk-gnutella reads them: the field when bit 15 is set;
    /// the little-endian reading when that one has bit 15, GGEP `H` and
    /// leaf-guided set (a servent known to write it the wrong way round);
    /// otherwise the field is an old minimum speed and means [`FLAG_MARK`]
    /// alone. 0 for an ancient query.
    pub fn effective_flags(&self) -> u16 {
        if self.flags & FLAG_MARK != 0 || self.flags == 0 {
            return self.flags;
        }
        let swapped = self.flags.swap_bytes();
        let wanted = FLAG_MARK | FLAG_GGEP_H | FLAG_LEAF_GUIDED;
        if swapped & wanted == wanted {
            swapped
        } else {
            FLAG_MARK
        }
    }

    /// True when the querier says it is firewalled.
    pub fn is_firewalled(&self) -> bool {
        self.effective_flags() & FLAG_FIREWALLED != 0
    }

    /// Decodes a Query payload.
    pub fn decode(payload: &[u8]) -> Result<Query, DecodeError> {
        let mut r = Reader::new(payload);
        let flags = r.u16_be().map_err(field("query flags"))?;
        let text = r.nul_terminated().map_err(field("query text"))?;
        if text.len() > MAX_TEXT {
            return Err(DecodeError::TooLarge {
                what: "query text",
                len: text.len(),
                max: MAX_TEXT,
            });
        }
        let mut budget = GGEP_INFLATE_BUDGET;
        Ok(Query {
            flags,
            text: wire_text(text, MAX_TEXT),
            ext: ExtensionArea::parse(r.rest(), &mut budget),
        })
    }

    /// The payload bytes. NUL bytes in the text are dropped.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.flags.to_be_bytes().to_vec();
        out.extend(self.text.bytes().filter(|&b| b != 0));
        out.push(0);
        out.extend(self.ext.encode(false));
        out
    }
}

/// The longest prefix of `text` of at most `max` bytes, ending at a word
/// boundary when the cut falls inside a word that is not the first.
fn fit_text(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let cut = cut_at_char(text, max);
    let end = cut.len();
    match cut.rfind(' ') {
        Some(space) if !text[end..].starts_with(' ') => cut[..space].trim_end(),
        _ => cut.trim_end(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ggep::Extension;
    use proptest::prelude::*;

    #[test]
    fn flags_are_big_endian_and_text_nul_terminated() {
        let q = Query::keywords("ubuntu iso");
        let b = q.encode();
        assert_eq!(&b[..2], &[0x88, 0x00]);
        assert_eq!(&b[2..], b"ubuntu iso\0");
        assert_eq!(Query::decode(&b).unwrap(), q);
        assert!(!q.is_ancient());
        let ancient = Query::decode(b"\0\0old\0").unwrap();
        assert!(ancient.is_ancient() && !ancient.is_firewalled());
    }

    #[test]
    fn flags_are_read_as_gtk_gnutella_reads_them() {
        // An old minimum speed (bit 15 clear, not zero): kept, no flags.
        let speed = Query::decode(b"\x00\x40old\0").unwrap();
        assert!(!speed.is_ancient());
        assert_eq!(speed.effective_flags(), FLAG_MARK);
        assert!(
            !speed.is_firewalled(),
            "0x0040 is a speed, not the firewall bit"
        );
        // Written little-endian by mistake: mark, GGEP H, leaf-guided and
        // firewalled, byte-swapped.
        let flags = FLAG_MARK | FLAG_GGEP_H | FLAG_LEAF_GUIDED | FLAG_FIREWALLED;
        let mut p = flags.to_le_bytes().to_vec();
        p.extend_from_slice(b"swapped\0");
        let le = Query::decode(&p).unwrap();
        assert_eq!(le.effective_flags(), flags);
        assert!(le.is_firewalled() && !le.is_ancient());
        // Proper big-endian flags are taken as they are.
        let q = Query::keywords("x");
        assert_eq!(q.effective_flags(), DEFAULT_FLAGS);
    }

    #[test]
    fn gtk_shaped_urn_query() {
        // As gtk-gnutella sends a SHA-1 search: flags with bit 15, "\" text,
        // then the URN, a separator and a GGEP block.
        let urn = Sha1Urn([0x5A; 20]);
        let mut payload = vec![0xC0 | 0x08, 0x00];
        payload.extend_from_slice(b"\\\0");
        payload.extend_from_slice(urn.to_string().as_bytes());
        payload.push(0x1C);
        payload.extend(crate::proto::ggep::encode_block(
            &[Extension::new("SO", [])],
            false,
        ));
        let q = Query::decode(&payload).unwrap();
        assert!(q.is_firewalled());
        assert_eq!(q.ext.urns, vec![urn]);
        assert_eq!(q.ext.ggep, vec![Extension::new("SO", [])]);
        assert_eq!(
            Query::decode(&Query::by_urn(urn).encode())
                .unwrap()
                .ext
                .urns,
            vec![urn]
        );
    }

    #[test]
    fn long_keyword_queries_are_cut_to_what_gtk_gnutella_forwards() {
        let long = "überlong ".repeat(60);
        let q = Query::keywords(&long);
        assert!(q.encode().len() <= MAX_SENT_PAYLOAD);
        assert!(long.starts_with(&q.text));
        assert!(q.text.ends_with("überlong"), "cut at a word boundary");
        let one_word = "x".repeat(400);
        assert_eq!(Query::keywords(&one_word).text.len(), MAX_SENT_PAYLOAD - 3);
        assert_eq!(Query::keywords("short one").text, "short one");
    }

    #[test]
    fn rejects_missing_nul_and_huge_text() {
        assert!(Query::decode(b"\x80\x00abc").is_err());
        let mut big = vec![0x80, 0];
        big.extend(std::iter::repeat_n(b'a', MAX_TEXT + 1));
        big.push(0);
        assert!(Query::decode(&big).is_err());
    }

    /// Found by fuzzing: 1000 bytes of invalid UTF-8 became 3000 bytes of
    /// text that no longer encoded within the limit.
    #[test]
    fn invalid_text_round_trips_within_the_limit() {
        let mut payload = vec![0x80, 0x00];
        payload.extend([0xD2; 1000]);
        payload.push(0);
        let q = Query::decode(&payload).unwrap();
        assert!(q.text.len() <= MAX_TEXT);
        assert_eq!(Query::decode(&q.encode()).unwrap(), q);
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Query::decode(&b);
        }

        #[test]
        fn round_trips(flags in any::<u16>(), text in "[a-z0-9 ]{0,40}", urn in any::<[u8; 20]>()) {
            let mut q = Query::keywords(&text);
            q.flags = flags;
            q.ext.urns.push(Sha1Urn(urn));
            prop_assert_eq!(Query::decode(&q.encode()).unwrap(), q);
        }
    }
}
