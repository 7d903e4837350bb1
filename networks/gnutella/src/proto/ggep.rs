//! GGEP (Gnutella Generic Extension Protocol) blocks.
//!
//! A block is the magic byte 0xC3 followed by extensions, each
//! `flags(1) id(1..15) length(1..3) data`. Flags: bit 7 last extension, bit 6
//! COBS-encoded data, bit 5 deflated data, bit 4 reserved (must be 0), bits 0-3
//! the id length. The length is 6 bits per byte, most significant chunk first;
//! each byte has bit 7 set when another follows and bit 6 set on the last one.
//!
//! Decoding supports both COBS and deflate (zlib stream). Inflating is paid
//! for from a budget the caller passes in by message type (a few KiB for a
//! pong, see the `GGEP_INFLATE_BUDGET` of each message), shared by every
//! deflated extension of the message and charged with every byte inflated,
//! kept or not; no extension inflates to more than [`MAX_INFLATED`]. An
//! extension whose deflated data does not inflate within what is left is
//! skipped, not fatal, so a small deflate bomb costs at most the budget in
//! memory and time (gtk-gnutella inflates an extension only when it reads it,
//! to at most 64 KiB). Everything else a decoded block holds is at most the
//! bytes it was decoded from, plus the records of at most
//! [`MAX_EXTENSIONS`] extensions (about 4 KiB: a block of 64 empty
//! extensions is 193 bytes). Encoding never compresses (link compression
//! does that better) and COBS-encodes data only when asked to, for
//! extensions inside a NUL-terminated query hit extension area.

use super::reader::DecodeError;
use flate2::bufread::ZlibDecoder;
use std::io::Read;

/// The byte that starts every GGEP block.
pub const MAGIC: u8 = 0xC3;
/// Largest extension data after inflating, whatever the budget
/// (gtk-gnutella's `GGEP_MAXLEN`).
pub const MAX_INFLATED: usize = 64 * 1024;
/// Most extensions read from one block.
pub const MAX_EXTENSIONS: usize = 64;

/// Largest extension data [`encode_block`] writes (COBS keeps it below 2^18).
pub const MAX_DATA: usize = 250_000;

const FLAG_LAST: u8 = 0x80;
const FLAG_COBS: u8 = 0x40;
const FLAG_DEFLATE: u8 = 0x20;
const FLAG_RESERVED: u8 = 0x10;

/// One extension: an ASCII id such as `"H"`, `"LF"`, `"DU"` and its raw data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub id: String,
    pub data: Vec<u8>,
}

impl Extension {
    /// An extension from its id and data.
    pub fn new(id: &str, data: impl Into<Vec<u8>>) -> Self {
        Extension {
            id: id.to_string(),
            data: data.into(),
        }
    }
}

/// Finds an extension by id in a decoded block.
pub fn find<'a>(exts: &'a [Extension], id: &str) -> Option<&'a Extension> {
    exts.iter().find(|e| e.id == id)
}

/// Decodes one block starting at `bytes[0]` (which must be [`MAGIC`]).
/// Returns the extensions and the number of bytes the block took. Deflated
/// extensions inflate into `inflate_budget`, which is lowered by every byte
/// inflated (see the module documentation).
pub fn decode_block(
    bytes: &[u8],
    inflate_budget: &mut usize,
) -> Result<(Vec<Extension>, usize), DecodeError> {
    if bytes.first() != Some(&MAGIC) {
        return Err(DecodeError::invalid("GGEP block without the 0xC3 magic"));
    }
    let mut pos = 1;
    let mut exts = Vec::new();
    // Skipped extensions count too: a block is at most this long.
    let mut count = 0;
    loop {
        let flags = *bytes.get(pos).ok_or_else(|| truncated("GGEP flags"))?;
        pos += 1;
        if flags & FLAG_RESERVED != 0 {
            return Err(DecodeError::invalid("GGEP reserved flag bit set"));
        }
        let id_len = usize::from(flags & 0x0F);
        if id_len == 0 {
            return Err(DecodeError::invalid("GGEP id length 0"));
        }
        let id = bytes
            .get(pos..pos + id_len)
            .ok_or_else(|| truncated("GGEP id"))?;
        // As gtk-gnutella: printable ASCII only, so that garbage starting
        // with 0xC3 is not taken for a block.
        if !valid_id(id) {
            return Err(DecodeError::invalid("GGEP id not printable ASCII"));
        }
        pos += id_len;
        let (len, used) = decode_length(&bytes[pos..])?;
        pos += used;
        let raw = bytes
            .get(pos..pos + len)
            .ok_or_else(|| truncated("GGEP data"))?;
        pos += len;
        count += 1;
        if count > MAX_EXTENSIONS {
            return Err(DecodeError::TooLarge {
                what: "GGEP extension count",
                len: count,
                max: MAX_EXTENSIONS,
            });
        }
        let mut data = if flags & FLAG_COBS != 0 {
            cobs_decode(raw)?
        } else {
            raw.to_vec()
        };
        let keep = if flags & FLAG_DEFLATE != 0 {
            match inflate_bounded(&data, inflate_budget) {
                Some(d) => {
                    data = d;
                    true
                }
                None => false,
            }
        } else {
            true
        };
        if keep {
            exts.push(Extension {
                id: String::from_utf8_lossy(id).into_owned(),
                data,
            });
        }
        if flags & FLAG_LAST != 0 {
            return Ok((exts, pos));
        }
    }
}

/// An id is 1 to 15 printable ASCII characters (gtk-gnutella's rule; the
/// GGEP spec only forbids NUL).
fn valid_id(id: &[u8]) -> bool {
    (1..=15).contains(&id.len()) && id.iter().all(|c| c.is_ascii() && !c.is_ascii_control())
}

fn truncated(what: &'static str) -> DecodeError {
    DecodeError::Truncated {
        what,
        needed: 1,
        left: 0,
    }
}

fn decode_length(bytes: &[u8]) -> Result<(usize, usize), DecodeError> {
    let mut len = 0usize;
    for (i, &b) in bytes.iter().take(3).enumerate() {
        len = (len << 6) | usize::from(b & 0x3F);
        // Exactly one of "another follows" and "last" (gtk-gnutella's rule).
        match b & 0xC0 {
            0x40 => return Ok((len, i + 1)),
            0x80 => {}
            _ => {
                return Err(DecodeError::invalid(
                    "GGEP length byte with both or neither flag",
                ))
            }
        }
    }
    if bytes.len() < 3 {
        Err(truncated("GGEP length"))
    } else {
        Err(DecodeError::invalid("GGEP length longer than 3 bytes"))
    }
}

fn encode_length(len: usize, out: &mut Vec<u8>) {
    if len < 1 << 6 {
        out.push(0x40 | len as u8);
    } else if len < 1 << 12 {
        out.push(0x80 | (len >> 6) as u8);
        out.push(0x40 | (len & 0x3F) as u8);
    } else {
        out.push(0x80 | ((len >> 12) & 0x3F) as u8);
        out.push(0x80 | ((len >> 6) & 0x3F) as u8);
        out.push(0x40 | (len & 0x3F) as u8);
    }
}

/// Encodes a block (empty when no extension is valid). Ids must be 1 to 15
/// printable ASCII characters and data at most [`MAX_DATA`] bytes; others
/// are left out. With `cobs`, data containing a NUL byte is COBS-encoded so
/// the block holds no NUL at all.
pub fn encode_block(exts: &[Extension], cobs: bool) -> Vec<u8> {
    let valid: Vec<&Extension> = exts
        .iter()
        .filter(|e| valid_id(e.id.as_bytes()) && e.data.len() <= MAX_DATA)
        .collect();
    if valid.is_empty() {
        return Vec::new();
    }
    let mut out = vec![MAGIC];
    for (i, e) in valid.iter().enumerate() {
        let mut flags = e.id.len() as u8;
        if i + 1 == valid.len() {
            flags |= FLAG_LAST;
        }
        let data = if cobs && e.data.contains(&0) {
            flags |= FLAG_COBS;
            cobs_encode(&e.data)
        } else {
            e.data.clone()
        };
        out.push(flags);
        out.extend_from_slice(e.id.as_bytes());
        encode_length(data.len(), &mut out);
        out.extend_from_slice(&data);
    }
    out
}

/// COBS-encodes `data` (no output byte is 0).
pub fn cobs_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 254 + 1);
    let mut code_pos = out.len();
    out.push(0);
    let mut code = 1u8;
    for &b in data {
        if b == 0 {
            out[code_pos] = code;
            code_pos = out.len();
            out.push(0);
            code = 1;
        } else {
            out.push(b);
            code += 1;
            if code == 0xFF {
                out[code_pos] = code;
                code_pos = out.len();
                out.push(0);
                code = 1;
            }
        }
    }
    out[code_pos] = code;
    out
}

/// Decodes COBS data produced by [`cobs_encode`] or another servent.
pub fn cobs_decode(data: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        let code = data[i];
        if code == 0 {
            return Err(DecodeError::invalid("COBS data contains NUL"));
        }
        let run = data
            .get(i + 1..i + usize::from(code))
            .ok_or_else(|| DecodeError::invalid("COBS run past the end"))?;
        out.extend_from_slice(run);
        i += usize::from(code);
        if code < 0xFF && i < data.len() {
            out.push(0);
        }
    }
    Ok(out)
}

/// Inflates `data` to at most `budget` (and [`MAX_INFLATED`]) bytes and
/// charges the budget with what was inflated; `None` when it is corrupt or
/// inflates to more.
fn inflate_bounded(data: &[u8], budget: &mut usize) -> Option<Vec<u8>> {
    let limit = (*budget).min(MAX_INFLATED);
    if limit == 0 {
        return None;
    }
    let mut out = Vec::with_capacity(limit.min(data.len().saturating_mul(4)));
    let mut dec = ZlibDecoder::new(data).take(limit as u64 + 1);
    let read = dec.read_to_end(&mut out);
    *budget -= out.len().min(*budget);
    if read.is_err() || out.len() > limit {
        return None;
    }
    out.shrink_to_fit();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn length_boundaries_match_the_spec() {
        for (len, bytes) in [
            (0usize, vec![0x40]),
            (63, vec![0x7F]),
            (64, vec![0x81, 0x40]),
            (4095, vec![0xBF, 0x7F]),
            (4096, vec![0x81, 0x80, 0x40]),
            (262_143, vec![0xBF, 0xBF, 0x7F]),
        ] {
            let mut out = Vec::new();
            encode_length(len, &mut out);
            assert_eq!(out, bytes, "{len}");
            assert_eq!(decode_length(&bytes).unwrap(), (len, bytes.len()));
        }
    }

    #[test]
    fn block_round_trip_with_cobs() {
        let exts = vec![
            Extension::new("H", [1u8, 0, 0, 5, 0]),
            Extension::new("DU", [0x10, 0x0E]),
            Extension::new("GUE", []),
        ];
        let bytes = encode_block(&exts, true);
        assert!(!bytes.contains(&0), "cobs block holds no NUL");
        let (got, used) = decode_block(&bytes, &mut 0).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(got, exts);
        assert_eq!(find(&got, "DU").unwrap().data, vec![0x10, 0x0E]);
    }

    #[test]
    fn deflated_extension_is_inflated() {
        use flate2::{write::ZlibEncoder, Compression};
        use std::io::Write;
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&[b'x'; 300]).unwrap();
        let z = enc.finish().unwrap();
        let mut block = vec![MAGIC, FLAG_LAST | FLAG_DEFLATE | 1, b'Z'];
        encode_length(z.len(), &mut block);
        block.extend_from_slice(&z);
        let mut budget = 1000;
        let (got, _) = decode_block(&block, &mut budget).unwrap();
        assert_eq!(got[0].data, vec![b'x'; 300]);
        assert_eq!(budget, 700);
        // Over the budget: skipped, and what was inflated is still charged.
        let mut budget = 299;
        let (got, _) = decode_block(&block, &mut budget).unwrap();
        assert!(got.is_empty());
        assert_eq!(budget, 0);
    }

    /// Deflated bombs: 64 extensions of 64 KiB of zeros each (4 MiB) in a
    /// block of a few KiB, as the pong of the hardening report.
    fn bomb_block(extensions: usize) -> Vec<u8> {
        use flate2::{write::ZlibEncoder, Compression};
        use std::io::Write;
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
        enc.write_all(&vec![0u8; MAX_INFLATED]).unwrap();
        let z = enc.finish().unwrap();
        let mut block = vec![MAGIC];
        for i in 0..extensions {
            let last = if i + 1 == extensions { FLAG_LAST } else { 0 };
            block.push(last | FLAG_DEFLATE | 2);
            block.extend_from_slice(format!("{:02}", i % 100).as_bytes());
            encode_length(z.len(), &mut block);
            block.extend_from_slice(&z);
        }
        block
    }

    #[test]
    fn a_deflate_bomb_inflates_only_to_the_budget() {
        let block = bomb_block(MAX_EXTENSIONS);
        assert!(block.len() < 6000, "{}", block.len());
        let mut budget = 4096;
        let (got, used) = decode_block(&block, &mut budget).unwrap();
        assert_eq!(used, block.len());
        assert!(got.is_empty(), "every bomb is over the budget");
        assert_eq!(budget, 0);
    }

    #[test]
    fn rejects_bad_blocks() {
        let mut budget = MAX_INFLATED;
        let b = &mut budget;
        assert!(decode_block(&[0xC3], b).is_err());
        assert!(decode_block(&[0xC3, 0x80, b'A'], b).is_err(), "id length 0");
        assert!(
            decode_block(&[0xC3, 0x91, b'A', 0x40], b).is_err(),
            "reserved bit"
        );
        assert!(
            decode_block(&[0xC3, 0x81, b'A', 0x45, 1], b).is_err(),
            "data short"
        );
        assert!(
            decode_block(&[0xC3, 0x81, 0xDF, 0x40], b).is_err(),
            "id not ASCII"
        );
        assert!(
            decode_block(&[0xC3, 0x81, b'A', 0xC1, 1], b).is_err(),
            "length byte with both flags"
        );
    }

    proptest! {
        #[test]
        fn decode_never_panics(mut bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Some(b) = bytes.first_mut() { *b = MAGIC; }
            let mut budget = MAX_INFLATED;
            let _ = decode_block(&bytes, &mut budget);
            let _ = cobs_decode(&bytes);
        }

        #[test]
        fn cobs_round_trips(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let enc = cobs_encode(&data);
            prop_assert!(!enc.contains(&0));
            prop_assert_eq!(cobs_decode(&enc).unwrap(), data);
        }

        #[test]
        fn block_round_trips(exts in proptest::collection::vec(
            ("[A-Z]{1,6}", proptest::collection::vec(any::<u8>(), 0..100)), 1..5)) {
            let exts: Vec<Extension> =
                exts.into_iter().map(|(id, d)| Extension::new(&id, d)).collect();
            for cobs in [false, true] {
                let bytes = encode_block(&exts, cobs);
                let (got, used) = decode_block(&bytes, &mut 0).unwrap();
                prop_assert_eq!(used, bytes.len());
                prop_assert_eq!(&got, &exts);
            }
        }
    }
}
