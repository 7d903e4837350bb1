//! Query Routing Protocol tables: the keyword hash, the keyword rules and the
//! presence table a leaf builds from its file names and an ultrapeer checks
//! before forwarding a query to that leaf.
//!
//! Hash (QRP 1.0, appendix A): the characters of the lower-cased keyword
//! are XOR-ed into a 32-bit value as little-endian 4-byte chunks; that value
//! times 0x4F1BBCDC (mod 2^32), its top `bits` bits are the slot. A
//! "character" is one UTF-16 code unit, of which only the low byte counts:
//! LimeWire hashes Java `char`s that way and gtk-gnutella 1.2 copies it
//! (`qrp_hashcode` in `src/core/qrp.c` decodes UTF-8 and splits characters
//! above U+FFFF into surrogates). For ASCII this is the byte string; hashing
//! the UTF-8 bytes of other keywords would set slots no other servent looks at. Keywords (as gtk-gnutella): the lower-cased file name split on every
//! character that is not alphanumeric, words shorter than 3 bytes skipped, and
//! every prefix of 3 bytes or more of each word inserted so a query word
//! matches longer file words. A file's `urn:sha1:` is inserted whole.
//!
//! Only presence matters between leaf and ultrapeer, so a table is one bit
//! per slot, like gtk-gnutella's compacted tables.

use super::huge::Sha1Urn;

/// The multiplier of the QRP hash.
pub const HASH_MULTIPLIER: u32 = 0x4F1B_BCDC;
/// log2 of the table size we build (65 536 slots, as LimeWire).
pub const DEFAULT_TABLE_BITS: u8 = 16;
/// log2 of the size of the table an ultrapeer sends other ultrapeers (its
/// own merged with its leaves'), as gtk-gnutella (`MAX_UP_TABLE_SIZE`, 128 K).
pub const ULTRAPEER_TABLE_BITS: u8 = 17;
/// log2 of the largest table we keep in memory (received ones are shrunk).
pub const MAX_TABLE_BITS: u8 = 20;
/// log2 of the smallest table.
pub const MIN_TABLE_BITS: u8 = 3;
/// Shortest keyword, in bytes.
pub const MIN_WORD_LEN: usize = 3;

/// The QRP hash of `word` (lower-cased here) on `bits` bits (1..=32).
pub fn hash(word: &str, bits: u8) -> u32 {
    let mut xor = 0u32;
    let mut i = 0usize;
    let mut units = [0u16; 2];
    for c in word.chars().flat_map(char::to_lowercase) {
        for &u in c.encode_utf16(&mut units).iter() {
            xor ^= u32::from(u & 0xFF) << ((i % 4) * 8);
            i += 1;
        }
    }
    let product = xor.wrapping_mul(HASH_MULTIPLIER);
    match bits {
        0 => 0,
        1..=31 => product >> (32 - u32::from(bits)),
        _ => product,
    }
}

/// The keywords of a text: lower-cased words of alphanumeric characters, at
/// least [`MIN_WORD_LEN`] bytes long, in order, duplicates removed.
pub fn keywords(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out: Vec<String> = Vec::new();
    for w in lower.split(|c: char| !c.is_alphanumeric()) {
        if w.len() >= MIN_WORD_LEN && !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    out
}

/// A presence table of `2^bits` slots.
#[derive(Clone, PartialEq, Eq)]
pub struct QrpTable {
    bits: u8,
    words: Vec<u64>,
}

impl std::fmt::Debug for QrpTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "QrpTable(2^{} slots, {} set)",
            self.bits,
            self.count_set()
        )
    }
}

impl QrpTable {
    /// An empty table of `2^bits` slots (`bits` clamped to the supported range).
    pub fn new(bits: u8) -> Self {
        let bits = bits.clamp(MIN_TABLE_BITS, MAX_TABLE_BITS);
        QrpTable {
            bits,
            words: vec![0; (1usize << bits).div_ceil(64)],
        }
    }

    /// log2 of the number of slots.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        1 << self.bits
    }

    /// Whether slot `i` is present (out of range: false).
    pub fn is_set(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// Marks slot `i` present or absent (out of range: ignored).
    pub fn set(&mut self, i: usize, present: bool) {
        if let Some(w) = self.words.get_mut(i / 64) {
            if present {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }

    /// Number of present slots.
    pub fn count_set(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The present slots, in order.
    pub fn present_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some(w * 64 + b)
            })
        })
    }

    /// Adds every slot present in `other`, a table of any size: a larger
    /// table is folded (its slot `j` is our slot `j >> shift`, since a hash on
    /// fewer bits is the same hash shifted), a smaller one is expanded (its
    /// slot covers `2^shift` of ours). A query matching `other` matches the
    /// result, so merged tables route everything their parts route.
    pub fn merge(&mut self, other: &QrpTable) {
        if other.bits >= self.bits {
            let shift = other.bits - self.bits;
            for j in other.present_slots() {
                self.set(j >> shift, true);
            }
        } else {
            let shift = self.bits - other.bits;
            for j in other.present_slots() {
                for k in 0..1usize << shift {
                    self.set((j << shift) + k, true);
                }
            }
        }
    }

    /// Marks one keyword (or whole URN string) present.
    pub fn insert(&mut self, key: &str) {
        self.set(hash(key, self.bits) as usize, true);
    }

    fn contains(&self, key: &str) -> bool {
        self.is_set(hash(key, self.bits) as usize)
    }

    /// Adds a shared file: its name's keywords with their prefixes, and its URN.
    pub fn add_file(&mut self, name: &str, urn: Option<&Sha1Urn>) {
        for word in keywords(name) {
            for (end, c) in word.char_indices() {
                let end = end + c.len_utf8();
                if end >= MIN_WORD_LEN {
                    self.insert(&word[..end]);
                }
            }
        }
        if let Some(urn) = urn {
            self.insert(&urn.to_string());
        }
    }

    /// Whether a query may match a file behind this table: with URNs, when
    /// one of them is present (its words do not count, as in gtk-gnutella's
    /// `qrp_can_route_default`); without, when it has keywords and all of
    /// them are present.
    pub fn matches(&self, query_text: &str, urns: &[Sha1Urn]) -> bool {
        if !urns.is_empty() {
            return urns.iter().any(|u| self.contains(&u.to_string()));
        }
        let words = keywords(query_text);
        !words.is_empty() && words.iter().all(|w| self.contains(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hash_matches_the_spec_vectors() {
        for (word, bits, want) in [
            ("", 13, 0),
            ("eb", 13, 6791),
            ("ebc", 13, 7082),
            ("ebck", 13, 6698),
            ("ebckl", 13, 3179),
            ("ebcklmenq", 13, 3527),
            ("n", 16, 65003),
            ("nd", 16, 54193),
            ("ndflaleme", 16, 45559),
            ("ol2j34lj", 10, 318),
            ("2459345938032343", 10, 146),
            ("zzzzzzzzzzz", 10, 944),
            ("3NJA9", 10, 581),
            ("3nJa9", 10, 581),
        ] {
            assert_eq!(hash(word, bits), want, "{word}/{bits}");
        }
        // The spec's appendix B example table of 8 slots.
        assert_eq!(hash("test", 3), 2);
        assert_eq!(hash("qrp", 3), 7);
        // The vectors gtk-gnutella checks at start-up (qrp_init).
        assert_eq!(hash("ebcklmenq", 13), 3527);
        assert_eq!(hash("ndflalem", 16), 37658);
        assert_eq!(hash("7777a88a8a8a8", 10), 342);
    }

    #[test]
    fn non_ascii_keywords_hash_their_utf16_units() {
        // "größe": g r ö(0xF6) ß(0xDF) e, one unit each, low bytes only;
        // not the 7 UTF-8 bytes.
        let units = |s: &[u32]| {
            let x = s
                .iter()
                .enumerate()
                .fold(0u32, |x, (i, &u)| x ^ ((u & 0xFF) << ((i % 4) * 8)));
            x.wrapping_mul(HASH_MULTIPLIER) >> (32 - 16)
        };
        assert_eq!(hash("größe", 16), units(&[0x67, 0x72, 0xF6, 0xDF, 0x65]));
        assert_eq!(hash("GRÖSSE", 16), hash("grösse", 16));
        // Above U+FFFF: two surrogates, high first (U+1F600 = D83D DE00).
        assert_eq!(hash("a\u{1F600}", 16), units(&[0x61, 0xD83D, 0xDE00]));
        // Cyrillic: low bytes of the code points (0x43C, 0x438, 0x440).
        assert_eq!(hash("мир", 16), units(&[0x3C, 0x38, 0x40]));
    }

    #[test]
    fn keyword_rules() {
        assert_eq!(
            keywords("Ubuntu-24.04_Desktop (AMD64) a.b.iso ISO"),
            vec!["ubuntu", "desktop", "amd64", "iso"]
        );
        assert_eq!(keywords("Größe Übung"), vec!["größe", "übung"]);
    }

    #[test]
    fn table_matches_prefixes_words_and_urns() {
        // Real digests: a periodic fake one like [4; 20] folds to the same
        // hash as any other periodic one (its 4-byte chunks cancel out).
        let digest = |d: &[u8]| -> Sha1Urn {
            use sha1::{Digest, Sha1};
            Sha1Urn(Sha1::digest(d).into())
        };
        let urn = digest(b"ubuntu");
        let mut t = QrpTable::new(DEFAULT_TABLE_BITS);
        t.add_file("Ubuntu 24.04 desktop amd64.iso", Some(&urn));
        assert!(t.matches("ubuntu desktop", &[]));
        assert!(t.matches("UBU", &[]), "prefix of a file word");
        assert!(t.matches("", &[urn]));
        assert!(
            !t.matches("ubuntu windows", &[]),
            "every word must be present"
        );
        assert!(!t.matches("a b", &[]), "no usable keyword");
        assert!(!t.matches("", &[digest(b"debian")]));
        // A query naming a URN is routed by its URN alone.
        assert!(!t.matches("ubuntu desktop", &[digest(b"debian")]));
        assert!(t.matches("windows", &[digest(b"debian"), urn]));
        assert!(QrpTable::new(40).bits() == MAX_TABLE_BITS && QrpTable::new(0).slots() == 8);
    }

    #[test]
    fn merged_tables_route_what_their_parts_route() {
        let mut small = QrpTable::new(12);
        small.add_file("Sintel trailer.mkv", None);
        let mut big = QrpTable::new(18);
        big.add_file("Big Buck Bunny.avi", None);
        let mut merged = QrpTable::new(17);
        merged.merge(&small);
        merged.merge(&big);
        for q in ["sintel", "trailer", "bunny", "big buck"] {
            assert!(merged.matches(q, &[]), "{q}");
        }
        assert!(!merged.matches("debian netinst", &[]));
        let mut t = QrpTable::new(8);
        t.set(3, true);
        t.set(200, true);
        assert_eq!(t.present_slots().collect::<Vec<_>>(), vec![3, 200]);
    }

    proptest! {
        #[test]
        fn merging_keeps_every_match(names in proptest::collection::vec("[a-z]{3,8}( [a-z]{3,8}){0,2}", 1..5),
                                     bits in 8u8..=20, into in 8u8..=20) {
            let mut merged = QrpTable::new(into);
            for n in &names {
                let mut t = QrpTable::new(bits);
                t.add_file(n, None);
                merged.merge(&t);
            }
            for n in &names {
                prop_assert!(merged.matches(n, &[]));
            }
        }

        #[test]
        fn hash_fits_and_is_case_insensitive(w in "[a-zA-Z0-9]{0,20}", bits in 1u8..=32) {
            let h = hash(&w, bits);
            prop_assert!(bits == 32 || h < (1u32 << bits));
            prop_assert_eq!(h, hash(&w.to_lowercase(), bits));
            // Halving the table halves the slot: tables of any size interoperate.
            if bits > 1 {
                prop_assert_eq!(hash(&w, bits - 1), h >> 1);
            }
        }

        #[test]
        fn a_file_always_matches_its_own_words(name in "[a-z]{3,8}( [a-z0-9]{3,8}){0,4}") {
            let mut t = QrpTable::new(12);
            t.add_file(&name, None);
            prop_assert!(t.matches(&name, &[]));
        }
    }
}
