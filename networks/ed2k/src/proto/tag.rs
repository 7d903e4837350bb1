//! ed2k tags: typed name/value pairs used in logins, hellos, file offers,
//! search results and .met files.
//!
//! Old-style: `type(1) name_len(u16) name value`, where a 1-byte name is a
//! numeric id. New-style ("compact"): `type|0x80 id(1) value`, with types
//! 0x11..=0x20 meaning a string of `type - 0x10` bytes. Both decode; encoding is
//! old-style unless asked, because strict servers refuse new-style in logins.

use super::reader::{Ed2kRead, PutExt, ReadError, Reader};

/// Tag ids (the `FT_`/`CT_`/`ST_` constants of eMule).
pub mod ids {
    /// File name (FT_FILENAME) / user name (CT_NAME) / server name (ST_SERVERNAME).
    pub const NAME: u8 = 0x01;
    /// File size, low 32 bits or the whole u64 (FT_FILESIZE).
    pub const SIZE: u8 = 0x02;
    /// File type string such as "Video" (FT_FILETYPE).
    pub const TYPE: u8 = 0x03;
    /// File format / extension such as "mkv" (FT_FILEFORMAT).
    pub const FORMAT: u8 = 0x04;
    /// Server description (ST_DESCRIPTION).
    pub const DESCRIPTION: u8 = 0x0B;
    /// Server ping in server.met (ST_PING).
    pub const PING: u8 = 0x0C;
    /// Server failed count in server.met (ST_FAIL).
    pub const FAIL: u8 = 0x0D;
    /// Server priority in server.met (ST_PREFERENCE).
    pub const PREFERENCE: u8 = 0x0E;
    /// TCP port, as uint16 (CT_PORT).
    pub const PORT: u8 = 0x0F;
    /// Protocol version, 0x3C (CT_VERSION).
    pub const VERSION: u8 = 0x11;
    /// Source count in search results (FT_SOURCES).
    pub const SOURCES: u8 = 0x15;
    /// Server capability flags in the login (CT_SERVER_FLAGS).
    pub const SERVER_FLAGS: u8 = 0x20;
    /// Complete source count (FT_COMPLETE_SOURCES).
    pub const COMPLETE_SOURCES: u8 = 0x30;
    /// File size high 32 bits for files over 4 GiB (FT_FILESIZE_HI).
    pub const SIZE_HI: u8 = 0x3A;
    /// Server's dynamic IP host name in server.met (ST_DYNIP).
    pub const DYNIP: u8 = 0x85;
    /// eMule UDP ports: kad << 16 | ed2k (CT_EMULE_UDPPORTS).
    pub const EMULE_UDPPORTS: u8 = 0xF9;
    /// eMule capability bits #1 (CT_EMULE_MISCOPTIONS1).
    pub const EMULE_MISCOPTIONS1: u8 = 0xFA;
    /// eMule version: compat client << 24 | major << 17 | minor << 10 | update << 7.
    pub const EMULE_VERSION: u8 = 0xFB;
    /// eMule capability bits #2 (CT_EMULE_MISCOPTIONS2).
    pub const EMULE_MISCOPTIONS2: u8 = 0xFE;
}

/// Tag type codes on the wire.
pub mod types {
    pub const HASH16: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const UINT32: u8 = 0x03;
    pub const FLOAT32: u8 = 0x04;
    pub const BOOL: u8 = 0x05;
    pub const BOOLARRAY: u8 = 0x06;
    pub const BLOB: u8 = 0x07;
    pub const UINT16: u8 = 0x08;
    pub const UINT8: u8 = 0x09;
    pub const BSOB: u8 = 0x0A;
    pub const UINT64: u8 = 0x0B;
    /// First of the compact string types STR1..STR16 (length = type - 0x10).
    pub const STR1: u8 = 0x11;
    pub const STR16: u8 = 0x20;
}

/// A tag's name: a one-byte id or a string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TagName {
    Id(u8),
    Str(String),
}

/// A tag's value.
#[derive(Clone, Debug, PartialEq)]
pub enum TagValue {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    Str(String),
    Hash([u8; 16]),
    /// Blobs, BSOBs and bool arrays all decode to bytes.
    Blob(Vec<u8>),
    Float(f32),
    Bool(bool),
}

impl TagValue {
    /// The value as an integer, whatever its width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            TagValue::U8(v) => Some(v.into()),
            TagValue::U16(v) => Some(v.into()),
            TagValue::U32(v) => Some(v.into()),
            TagValue::U64(v) => Some(v),
            _ => None,
        }
    }

    /// The value as a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            TagValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A name/value pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    pub name: TagName,
    pub value: TagValue,
}

/// How tags are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TagEncoding {
    /// `type u16-name-length name value`: what every server accepts.
    #[default]
    Old,
    /// Compact tags for id-named tags (string-named ones stay old-style).
    New,
}

impl Tag {
    /// A tag with a numeric id.
    pub fn id(id: u8, value: TagValue) -> Self {
        Tag {
            name: TagName::Id(id),
            value,
        }
    }

    /// A string tag with a numeric id.
    pub fn str(id: u8, s: impl Into<String>) -> Self {
        Tag::id(id, TagValue::Str(s.into()))
    }

    /// A u32 tag with a numeric id.
    pub fn u32(id: u8, v: u32) -> Self {
        Tag::id(id, TagValue::U32(v))
    }

    /// True when this tag's name is the id `id`.
    pub fn is(&self, id: u8) -> bool {
        self.name == TagName::Id(id)
    }

    /// Reads one tag (old- or new-style).
    pub fn decode(r: &mut Reader<'_>) -> Result<Tag, ReadError> {
        let ty = r.u8()?;
        let (ty, name) = if ty & 0x80 != 0 {
            (ty & 0x7F, TagName::Id(r.u8()?))
        } else {
            let len = r.u16_le()? as usize;
            let raw = r.bytes(len)?;
            let name = match raw {
                [id] => TagName::Id(*id),
                _ => TagName::Str(super::reader::decode_str(raw)),
            };
            (ty, name)
        };
        let value = match ty {
            types::HASH16 => TagValue::Hash(r.hash16()?),
            types::STRING => TagValue::Str(r.string16()?),
            types::UINT32 => TagValue::U32(r.u32_le()?),
            types::FLOAT32 => TagValue::Float(r.f32_le()?),
            types::BOOL => TagValue::Bool(r.u8()? != 0),
            types::BOOLARRAY => {
                let bits = r.u16_le()? as usize;
                TagValue::Blob(r.bytes(bits.div_ceil(8))?.to_vec())
            }
            types::BLOB => {
                let n = r.u32_le()? as usize;
                TagValue::Blob(r.bytes(n)?.to_vec())
            }
            types::UINT16 => TagValue::U16(r.u16_le()?),
            types::UINT8 => TagValue::U8(r.u8()?),
            types::BSOB => {
                let n = r.u8()? as usize;
                TagValue::Blob(r.bytes(n)?.to_vec())
            }
            types::UINT64 => TagValue::U64(r.u64_le()?),
            types::STR1..=types::STR16 => TagValue::Str(r.string_n((ty - 0x10) as usize)?),
            other => {
                return Err(ReadError::invalid(format!(
                    "unknown tag type 0x{other:02X}"
                )))
            }
        };
        Ok(Tag { name, value })
    }

    /// Appends this tag to `out`.
    pub fn encode(&self, out: &mut Vec<u8>, enc: TagEncoding) {
        let ty = match &self.value {
            TagValue::U8(_) => types::UINT8,
            TagValue::U16(_) => types::UINT16,
            TagValue::U32(_) => types::UINT32,
            TagValue::U64(_) => types::UINT64,
            TagValue::Str(_) => types::STRING,
            TagValue::Hash(_) => types::HASH16,
            TagValue::Blob(_) => types::BLOB,
            TagValue::Float(_) => types::FLOAT32,
            TagValue::Bool(_) => types::BOOL,
        };
        match (&self.name, enc) {
            (TagName::Id(id), TagEncoding::New) => {
                match &self.value {
                    // (A leading U+FEFF needs the BOM that only the long form has room for.)
                    TagValue::Str(s)
                        if (1..=16).contains(&s.len()) && !s.starts_with('\u{feff}') =>
                    {
                        out.put_u8(0x80 | (0x10 + s.len() as u8));
                        out.put_u8(*id);
                        out.extend_from_slice(s.as_bytes());
                        return;
                    }
                    _ => {}
                }
                out.put_u8(0x80 | ty);
                out.put_u8(*id);
            }
            (TagName::Id(id), TagEncoding::Old) => {
                out.put_u8(ty);
                out.put_u16(1);
                out.put_u8(*id);
            }
            (TagName::Str(s), _) => {
                out.put_u8(ty);
                out.put_string16(s);
            }
        }
        match &self.value {
            TagValue::U8(v) => out.put_u8(*v),
            TagValue::U16(v) => out.put_u16(*v),
            TagValue::U32(v) => out.put_u32(*v),
            TagValue::U64(v) => out.put_u64(*v),
            TagValue::Str(s) => out.put_string16(s),
            TagValue::Hash(h) => out.extend_from_slice(h),
            TagValue::Blob(b) => {
                let b = &b[..b.len().min(u32::MAX as usize)];
                out.put_u32(b.len() as u32);
                out.extend_from_slice(b);
            }
            TagValue::Float(f) => out.extend_from_slice(&f.to_le_bytes()),
            TagValue::Bool(b) => out.put_u8(u8::from(*b)),
        }
    }
}

/// Smallest encoded tag (new-style u8): bounds tag counts read from the wire.
const MIN_TAG_LEN: usize = 3;

/// Reads a u32 tag count and that many tags.
pub fn decode_tags(r: &mut Reader<'_>) -> Result<Vec<Tag>, ReadError> {
    let n = r.u32_le()?;
    decode_n_tags(r, n.into())
}

/// Reads `n` tags (the count was read by the caller).
pub fn decode_n_tags(r: &mut Reader<'_>, n: u64) -> Result<Vec<Tag>, ReadError> {
    let n = r.count(n, MIN_TAG_LEN)?;
    let mut tags = Vec::with_capacity(n);
    for _ in 0..n {
        tags.push(Tag::decode(r)?);
    }
    Ok(tags)
}

/// Writes a u32 tag count and the tags.
pub fn encode_tags(out: &mut Vec<u8>, tags: &[Tag], enc: TagEncoding) {
    out.put_u32(tags.len() as u32);
    for t in tags {
        t.encode(out, enc);
    }
}

/// The value of the first tag named `id`.
pub fn find_tag(tags: &[Tag], id: u8) -> Option<&TagValue> {
    tags.iter().find(|t| t.is(id)).map(|t| &t.value)
}

/// A file size from the size tag, combined with the size-hi tag if present.
pub fn file_size_from_tags(tags: &[Tag]) -> Option<u64> {
    let lo = find_tag(tags, ids::SIZE)?.as_u64()?;
    let hi = find_tag(tags, ids::SIZE_HI)
        .and_then(TagValue::as_u64)
        .unwrap_or(0);
    Some(lo | (hi << 32))
}

/// Size tags for a file: one u32 tag, or u32 low + u32 high for files over 4 GiB
/// (understood by servers and clients without 64-bit tags).
pub fn file_size_tags(size: u64) -> Vec<Tag> {
    let mut v = vec![Tag::u32(ids::SIZE, size as u32)];
    if size > u64::from(u32::MAX) {
        v.push(Tag::u32(ids::SIZE_HI, (size >> 32) as u32));
    }
    v
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(t: &Tag, e: TagEncoding) -> Vec<u8> {
        let mut v = vec![];
        t.encode(&mut v, e);
        v
    }

    #[test]
    fn old_style_bytes() {
        assert_eq!(
            enc(&Tag::str(ids::NAME, "ab"), TagEncoding::Old),
            vec![0x02, 1, 0, 0x01, 2, 0, b'a', b'b']
        );
        assert_eq!(
            enc(&Tag::id(ids::PORT, TagValue::U16(4662)), TagEncoding::Old),
            vec![0x08, 1, 0, 0x0F, 0x36, 0x12]
        );
        assert_eq!(
            enc(&Tag::u32(ids::VERSION, 0x3C), TagEncoding::Old),
            vec![0x03, 1, 0, 0x11, 0x3C, 0, 0, 0]
        );
    }

    #[test]
    fn new_style_bytes() {
        assert_eq!(
            enc(&Tag::str(ids::NAME, "ab"), TagEncoding::New),
            vec![0x92, 0x01, b'a', b'b']
        );
        assert_eq!(
            enc(&Tag::u32(ids::SIZE, 5), TagEncoding::New),
            vec![0x83, 0x02, 5, 0, 0, 0]
        );
        let t = Tag::decode(&mut Reader::new(&[0x92, 0x01, b'a', b'b'])).unwrap();
        assert_eq!(t, Tag::str(ids::NAME, "ab"));
        // String names stay old-style even when new-style is asked.
        let t = Tag {
            name: TagName::Str("Artist".into()),
            value: TagValue::Str("x".into()),
        };
        assert_eq!(enc(&t, TagEncoding::New)[0], 0x02);
    }

    #[test]
    fn accessors_and_sizes() {
        assert_eq!(TagValue::U16(7).as_u64(), Some(7));
        assert_eq!(TagValue::Str("x".into()).as_str(), Some("x"));
        let big = 5u64 << 32 | 7;
        let tags = file_size_tags(big);
        assert_eq!(tags.len(), 2);
        assert_eq!(file_size_from_tags(&tags), Some(big));
        assert_eq!(file_size_from_tags(&file_size_tags(9)), Some(9));
    }

    #[test]
    fn huge_count_is_rejected() {
        let mut r = Reader::new(&[0xFF, 0xFF, 0xFF, 0xFF, 0]);
        assert!(decode_tags(&mut r).is_err());
    }

    fn arb_value() -> impl Strategy<Value = TagValue> {
        prop_oneof![
            any::<u8>().prop_map(TagValue::U8),
            any::<u16>().prop_map(TagValue::U16),
            any::<u32>().prop_map(TagValue::U32),
            any::<u64>().prop_map(TagValue::U64),
            ".{0,40}".prop_map(TagValue::Str),
            any::<[u8; 16]>().prop_map(TagValue::Hash),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(TagValue::Blob),
            (-1.0e6f32..1.0e6).prop_map(TagValue::Float),
            any::<bool>().prop_map(TagValue::Bool),
        ]
    }

    pub(crate) fn arb_tag() -> impl Strategy<Value = Tag> {
        let name = prop_oneof![
            any::<u8>().prop_map(TagName::Id),
            "[a-z]{2,10}".prop_map(TagName::Str)
        ];
        (name, arb_value()).prop_map(|(name, value)| Tag { name, value })
    }

    proptest! {
        #[test]
        fn roundtrip(tags in proptest::collection::vec(arb_tag(), 0..8), new_style: bool) {
            let e = if new_style { TagEncoding::New } else { TagEncoding::Old };
            let mut v = vec![];
            encode_tags(&mut v, &tags, e);
            let mut r = Reader::new(&v);
            prop_assert_eq!(decode_tags(&mut r).unwrap(), tags);
            prop_assert!(r.is_empty());
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_tags(&mut Reader::new(&data));
            let _ = Tag::decode(&mut Reader::new(&data));
        }
    }
}
