//! Bencode (BEP 3): a bounded value decoder, an encoder, and the exact byte
//! span of a dictionary value (the info-hash is the SHA-1 of the `info` bytes
//! exactly as they appear in the file, so re-encoding would be wrong).
//!
//! Typed structures (the info dictionary) go through `serde_bencode` after
//! this decoder has checked the input (serde_bencode has no depth limit).

use std::collections::BTreeMap;
use std::ops::Range;

/// Deepest nesting of lists and dictionaries accepted.
pub const MAX_DEPTH: usize = 64;

/// A decoded bencode value. Dictionary keys are kept sorted, as the encoder
/// must write them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `i<n>e`
    Int(i64),
    /// `<len>:<bytes>`
    Bytes(Vec<u8>),
    /// `l...e`
    List(Vec<Value>),
    /// `d...e`
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Why bencoded bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BencodeError {
    #[error("bencode truncated at byte {0}")]
    Truncated(usize),
    #[error("bencode: unexpected byte 0x{byte:02x} at {pos}")]
    Unexpected { pos: usize, byte: u8 },
    #[error("bencode: invalid integer at byte {0}")]
    BadInt(usize),
    #[error("bencode: invalid string length at byte {0}")]
    BadLength(usize),
    #[error("bencode nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("bencode: duplicate dictionary key at byte {0}")]
    DuplicateKey(usize),
    #[error("bencode: {0} trailing bytes after the value")]
    Trailing(usize),
    #[error("bencode: expected a dictionary at the top level")]
    NotDict,
}

impl Value {
    /// A dictionary from `(key, value)` pairs.
    pub fn dict<K: AsRef<[u8]>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Dict(
            entries
                .into_iter()
                .map(|(k, v)| (k.as_ref().to_vec(), v))
                .collect(),
        )
    }

    /// A byte string.
    pub fn bytes(b: impl Into<Vec<u8>>) -> Value {
        Value::Bytes(b.into())
    }

    /// The value under `key` when `self` is a dictionary.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, Value>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// Appends the canonical encoding (sorted keys) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::Bytes(b) => encode_bytes(b, out),
            Value::List(l) => {
                out.push(b'l');
                l.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    encode_bytes(k, out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The canonical encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Bytes(s.as_bytes().to_vec())
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Decodes exactly one value filling all of `buf`.
pub fn decode(buf: &[u8]) -> Result<Value, BencodeError> {
    let (v, used) = decode_prefix(buf)?;
    if used != buf.len() {
        return Err(BencodeError::Trailing(buf.len() - used));
    }
    Ok(v)
}

/// Decodes one value at the start of `buf` and returns it with the number of
/// bytes it took (for messages where raw data follows a dictionary).
pub fn decode_prefix(buf: &[u8]) -> Result<(Value, usize), BencodeError> {
    let mut p = Parser { buf, pos: 0 };
    let v = p.value(0)?;
    Ok((v, p.pos))
}

/// The byte range of the value of `key` in the top-level dictionary that
/// fills `buf` (`None` when the key is absent). The whole input is checked.
pub fn dict_value_span(buf: &[u8], key: &[u8]) -> Result<Option<Range<usize>>, BencodeError> {
    let mut p = Parser { buf, pos: 0 };
    if p.peek()? != b'd' {
        return Err(BencodeError::NotDict);
    }
    p.pos += 1;
    let mut span = None;
    let mut seen = std::collections::BTreeSet::new();
    while p.peek()? != b'e' {
        let key_pos = p.pos;
        let k = p.byte_string()?;
        if !seen.insert(k) {
            return Err(BencodeError::DuplicateKey(key_pos));
        }
        let start = p.pos;
        p.value(1)?;
        if k == key {
            span = Some(start..p.pos);
        }
    }
    p.pos += 1;
    if p.pos != buf.len() {
        return Err(BencodeError::Trailing(buf.len() - p.pos));
    }
    Ok(span)
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Result<u8, BencodeError> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(BencodeError::Truncated(self.pos))
    }

    fn value(&mut self, depth: usize) -> Result<Value, BencodeError> {
        if depth > MAX_DEPTH {
            return Err(BencodeError::TooDeep);
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                self.int().map(Value::Int)
            }
            b'0'..=b'9' => self.byte_string().map(|b| Value::Bytes(b.to_vec())),
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut d = BTreeMap::new();
                while self.peek()? != b'e' {
                    let key_pos = self.pos;
                    let k = self.byte_string()?.to_vec();
                    let v = self.value(depth + 1)?;
                    if d.insert(k, v).is_some() {
                        return Err(BencodeError::DuplicateKey(key_pos));
                    }
                }
                self.pos += 1;
                Ok(Value::Dict(d))
            }
            byte => Err(BencodeError::Unexpected {
                pos: self.pos,
                byte,
            }),
        }
    }

    /// Digits up to `end`, after the opening `i` (with an optional sign).
    fn int(&mut self) -> Result<i64, BencodeError> {
        let start = self.pos;
        let len = self.buf[start..]
            .iter()
            .position(|&b| b == b'e')
            .ok_or(BencodeError::Truncated(self.buf.len()))?;
        let text = &self.buf[start..start + len];
        let digits = text.strip_prefix(b"-").unwrap_or(text);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || text == b"-0" {
            return Err(BencodeError::BadInt(start));
        }
        let n = std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(BencodeError::BadInt(start))?;
        self.pos = start + len + 1;
        Ok(n)
    }

    fn byte_string(&mut self) -> Result<&'a [u8], BencodeError> {
        let start = self.pos;
        let mut len: usize = 0;
        loop {
            match self.peek()? {
                b':' => break,
                d @ b'0'..=b'9' => {
                    len = len
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(usize::from(d - b'0')))
                        .ok_or(BencodeError::BadLength(start))?;
                    self.pos += 1;
                }
                byte => {
                    return Err(BencodeError::Unexpected {
                        pos: self.pos,
                        byte,
                    })
                }
            }
        }
        if self.pos == start {
            return Err(BencodeError::BadLength(start));
        }
        self.pos += 1;
        if len > self.buf.len() - self.pos {
            return Err(BencodeError::Truncated(self.buf.len()));
        }
        let s = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_kind() {
        let v = decode(b"d3:agei-42e4:listl1:ai0ee4:name4:spame").unwrap();
        assert_eq!(v.get("age").and_then(Value::as_int), Some(-42));
        assert_eq!(v.get("name").and_then(Value::as_str), Some("spam"));
        assert_eq!(
            v.get("list").and_then(Value::as_list).map(|l| l.len()),
            Some(2)
        );
        assert_eq!(v.to_bytes(), b"d3:agei-42e4:listl1:ai0ee4:name4:spame");
    }

    #[test]
    fn encoder_sorts_keys() {
        let v = Value::dict([("zz", Value::from(1)), ("a", Value::from("x"))]);
        assert_eq!(v.to_bytes(), b"d1:a1:x2:zzi1ee");
    }

    #[test]
    fn refuses_malformed_input() {
        for bad in [
            &b""[..],
            b"i12",
            b"i-0e",
            b"ie",
            b"i1x2e",
            b"5:abc",
            b"l",
            b"d1:ae",
            b"di1ei2ee",
            b"x",
            b"99999999999999999999999:a",
            b"i99999999999999999999e",
            b"d1:ai1e1:ai2ee",
        ] {
            assert!(decode(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(decode(b"i1ei2e"), Err(BencodeError::Trailing(3)));
    }

    #[test]
    fn limits_depth() {
        let mut deep = vec![b'l'; MAX_DEPTH + 2];
        deep.extend(vec![b'e'; MAX_DEPTH + 2]);
        assert_eq!(decode(&deep), Err(BencodeError::TooDeep));
        let mut ok = vec![b'l'; MAX_DEPTH];
        ok.extend(vec![b'e'; MAX_DEPTH]);
        assert!(decode(&ok).is_ok());
    }

    #[test]
    fn prefix_leaves_raw_tail() {
        let (v, used) = decode_prefix(b"d1:xi1eeRAWDATA").unwrap();
        assert_eq!(v.get("x").and_then(Value::as_int), Some(1));
        assert_eq!(used, 8);
    }

    #[test]
    fn span_is_the_raw_bytes_even_when_unsorted() {
        // keys inside `info` are unsorted and unknown: the span must be verbatim
        let file = b"d8:announce3:url4:infod4:zzzzi1e4:aaaa1:xe7:comment0:e";
        let span = dict_value_span(file, b"info").unwrap().unwrap();
        assert_eq!(&file[span], b"d4:zzzzi1e4:aaaa1:xe");
        assert_eq!(dict_value_span(file, b"nope").unwrap(), None);
        assert_eq!(dict_value_span(b"le", b"info"), Err(BencodeError::NotDict));
        assert!(dict_value_span(b"d4:infoi1e4:infoi2ee", b"info").is_err());
        assert!(dict_value_span(b"d4:infoi1ee ", b"info").is_err());
    }
}
