//! Percent-encoding (`%XX`, RFC 3986) for every network's links and URLs,
//! with the variations they need: which characters a link keeps as they are,
//! whether `+` means a space, and whether a malformed escape is an error
//! (tracker and magnet parameters) or kept as it is (names in links, as
//! eMule and gtk-gnutella read them).

use std::fmt::Write;

/// Escapes every byte as `%XX` (upper-case hex) except the unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`) and those in `keep`.
pub fn encode(bytes: &[u8], keep: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); `None`
/// on a malformed escape.
pub fn decode(s: &str, plus_is_space: bool) -> Option<Vec<u8>> {
    decode_with(s, plus_is_space, true)
}

/// Decodes like [`decode`], but a malformed escape stays as it is; the bytes
/// are then read as UTF-8, invalid sequences replaced.
pub fn decode_lossy(s: &str, plus_is_space: bool) -> String {
    let bytes = decode_with(s, plus_is_space, false).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn decode_with(s: &str, plus_is_space: bool, strict: bool) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let digit = |j: usize| b.get(j).and_then(|&c| char::from(c).to_digit(16));
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => match (digit(i + 1), digit(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ if strict => return None,
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_is_not_kept() {
        assert_eq!(encode(b"a b+c/~", b""), "a%20b%2Bc%2F~");
        assert_eq!(encode(b"a b+c", b"+"), "a%20b+c");
        assert_eq!(encode(&[0, 0xFF], b""), "%00%FF");
    }

    #[test]
    fn strict_decoding_refuses_bad_escapes() {
        assert_eq!(decode("a+b%41", true).unwrap(), b"a bA");
        assert_eq!(decode("a+b", false).unwrap(), b"a+b");
        for bad in ["%4", "%zz", "%é", "%+1", "%"] {
            assert_eq!(decode(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn lossy_decoding_keeps_bad_escapes() {
        assert_eq!(decode_lossy("%zz%4", false), "%zz%4");
        assert_eq!(decode_lossy("a+%C3%A9", true), "a é");
        assert_eq!(decode_lossy("%FF", false), "\u{FFFD}");
    }

    #[test]
    fn every_byte_string_survives_a_round_trip() {
        let all: Vec<u8> = (0..=255).collect();
        for keep in [&b""[..], b"()[]!',;=@+&$"] {
            let enc = encode(&all, keep);
            assert_eq!(decode(&enc, false).unwrap(), all);
        }
    }
}
