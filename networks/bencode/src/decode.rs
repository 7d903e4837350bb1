//! The bounded decoder: whole values, a value followed by raw bytes, and the
//! verbatim span of one top-level dictionary value.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::Value;

/// Deepest nesting of lists and dictionaries accepted by [`Limits::DEFAULT`].
pub const MAX_DEPTH: usize = 64;

/// What one decode accepts at most, beyond the length of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most lists and dictionaries nested inside one another.
    pub max_depth: usize,
    /// Most values of any kind in one document (dictionary keys not counted).
    pub max_values: usize,
}

impl Limits {
    /// For files and peer-wire messages: [`MAX_DEPTH`] levels, any number of
    /// values (a torrent may list many files; the caller bounds the input).
    pub const DEFAULT: Limits = Limits {
        max_depth: MAX_DEPTH,
        max_values: usize::MAX,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Why bencoded bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BencodeError {
    /// The input ended inside a value.
    #[error("bencode truncated at byte {0}")]
    Truncated(usize),
    /// A byte that cannot start or continue a value at this position.
    #[error("bencode: unexpected byte 0x{byte:02x} at {pos}")]
    Unexpected {
        /// Offset of the byte.
        pos: usize,
        /// The byte itself.
        byte: u8,
    },
    /// An integer that is malformed (`i-0e`, `ie`, non-digits) or out of range.
    #[error("bencode: invalid integer at byte {0}")]
    BadInt(usize),
    /// A string length that is empty or out of range.
    #[error("bencode: invalid string length at byte {0}")]
    BadLength(usize),
    /// Lists and dictionaries nested deeper than the limit.
    #[error("bencode nested deeper than {0} levels")]
    TooDeep(usize),
    /// More values than the limit.
    #[error("bencode: more than {0} values")]
    TooMany(usize),
    /// A dictionary key given twice.
    #[error("bencode: duplicate dictionary key at byte {0}")]
    DuplicateKey(usize),
    /// Bytes left over after the top-level value.
    #[error("bencode: {0} trailing bytes after the value")]
    Trailing(usize),
    /// [`dict_value_span`] was given something other than a dictionary.
    #[error("bencode: expected a dictionary at the top level")]
    NotDict,
}

/// Decodes exactly one value filling all of `buf`, within [`Limits::DEFAULT`].
pub fn decode(buf: &[u8]) -> Result<Value, BencodeError> {
    decode_with(buf, Limits::DEFAULT)
}

/// Decodes exactly one value filling all of `buf`, within `limits`.
pub fn decode_with(buf: &[u8], limits: Limits) -> Result<Value, BencodeError> {
    let mut p = Parser::new(buf, limits);
    let v = p.value(0)?;
    p.end()?;
    Ok(v)
}

/// Decodes one value at the start of `buf` and returns it with the number of
/// bytes it took (for messages where raw data follows a dictionary).
pub fn decode_prefix(buf: &[u8]) -> Result<(Value, usize), BencodeError> {
    let mut p = Parser::new(buf, Limits::DEFAULT);
    let v = p.value(0)?;
    Ok((v, p.pos))
}

/// The byte range of the value of `key` in the top-level dictionary that
/// fills `buf` (`None` when the key is absent). The whole input is checked.
pub fn dict_value_span(buf: &[u8], key: &[u8]) -> Result<Option<Range<usize>>, BencodeError> {
    let mut p = Parser::new(buf, Limits::DEFAULT);
    if p.peek()? != b'd' {
        return Err(BencodeError::NotDict);
    }
    p.pos += 1;
    let mut span = None;
    let mut seen = BTreeSet::new();
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
    p.end()?;
    Ok(span)
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: Limits,
    values: usize,
}

impl<'a> Parser<'a> {
    fn new(buf: &'a [u8], limits: Limits) -> Self {
        Parser {
            buf,
            pos: 0,
            limits,
            values: 0,
        }
    }

    fn peek(&self) -> Result<u8, BencodeError> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(BencodeError::Truncated(self.pos))
    }

    fn end(&self) -> Result<(), BencodeError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            n => Err(BencodeError::Trailing(n)),
        }
    }

    /// One value; `depth` is how many containers enclose it.
    fn value(&mut self, depth: usize) -> Result<Value, BencodeError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            return Err(BencodeError::TooMany(self.limits.max_values));
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                self.int().map(Value::Int)
            }
            b'0'..=b'9' => self.byte_string().map(|b| Value::Bytes(b.to_vec())),
            b'l' => {
                self.enter(depth)?;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.enter(depth)?;
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

    /// Steps over the `l` or `d` of a container enclosed by `depth` others.
    fn enter(&mut self, depth: usize) -> Result<(), BencodeError> {
        if depth >= self.limits.max_depth {
            return Err(BencodeError::TooDeep(self.limits.max_depth));
        }
        self.pos += 1;
        Ok(())
    }

    /// Digits up to `e`, after the opening `i` (with an optional sign).
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

    /// `<len>:<bytes>`, refusing a length longer than what is left.
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
