//! A small bounded bencode value codec, enough for KRPC datagrams and the state file.

use std::collections::BTreeMap;

use thiserror::Error;

/// Deepest nesting of lists and dictionaries accepted (KRPC needs 3).
pub const MAX_DEPTH: usize = 8;
/// Most values (of any kind) accepted in one document.
pub const MAX_VALUES: usize = 2048;
/// Most digits accepted in an integer or a string length.
const MAX_DIGITS: usize = 19;

/// A decoded bencode value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `i42e`
    Int(i64),
    /// `4:spam`
    Bytes(Vec<u8>),
    /// `l...e`
    List(Vec<Value>),
    /// `d...e`, keys kept sorted as bencode requires.
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Why a byte string is not valid bencode.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BencodeError {
    /// The input ended inside a value.
    #[error("bencode: unexpected end of input")]
    Eof,
    /// A byte that cannot start or continue a value at this position.
    #[error("bencode: unexpected byte {0:#04x} at offset {1}")]
    Unexpected(u8, usize),
    /// An integer or length that is malformed or out of range.
    #[error("bencode: bad number at offset {0}")]
    BadNumber(usize),
    /// Nesting deeper than [`MAX_DEPTH`].
    #[error("bencode: nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    /// More than [`MAX_VALUES`] values.
    #[error("bencode: more than {MAX_VALUES} values")]
    TooMany,
    /// Bytes left over after the top-level value.
    #[error("bencode: {0} trailing bytes")]
    Trailing(usize),
}

impl Value {
    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
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

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&BTreeMap<Vec<u8>, Value>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// A byte string value from a slice.
    pub fn bytes(b: &[u8]) -> Value {
        Value::Bytes(b.to_vec())
    }

    /// Appends the encoding of this value to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::Bytes(b) => encode_bytes(b, out),
            Value::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode_into(out);
                }
                out.push(b'e');
            }
            Value::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    encode_bytes(k, out);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The encoding of this value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Decodes exactly one value filling all of `input`.
pub fn decode(input: &[u8]) -> Result<Value, BencodeError> {
    let mut d = Decoder {
        input,
        pos: 0,
        values: 0,
    };
    let v = d.value(0)?;
    match input.len() - d.pos {
        0 => Ok(v),
        n => Err(BencodeError::Trailing(n)),
    }
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    values: usize,
}

impl Decoder<'_> {
    fn peek(&self) -> Result<u8, BencodeError> {
        self.input.get(self.pos).copied().ok_or(BencodeError::Eof)
    }

    fn value(&mut self, depth: usize) -> Result<Value, BencodeError> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(BencodeError::TooMany);
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.number(b'e')?;
                Ok(Value::Int(n))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.bytes()?.to_vec())),
            b'l' => {
                let depth = self.enter(depth)?;
                let mut list = Vec::new();
                while self.peek()? != b'e' {
                    list.push(self.value(depth)?);
                }
                self.pos += 1;
                Ok(Value::List(list))
            }
            b'd' => {
                let depth = self.enter(depth)?;
                let mut dict = BTreeMap::new();
                while self.peek()? != b'e' {
                    let key = match self.peek()? {
                        b'0'..=b'9' => self.bytes()?.to_vec(),
                        b => return Err(BencodeError::Unexpected(b, self.pos)),
                    };
                    let v = self.value(depth)?;
                    dict.insert(key, v);
                }
                self.pos += 1;
                Ok(Value::Dict(dict))
            }
            b => Err(BencodeError::Unexpected(b, self.pos)),
        }
    }

    fn enter(&mut self, depth: usize) -> Result<usize, BencodeError> {
        if depth >= MAX_DEPTH {
            return Err(BencodeError::TooDeep);
        }
        self.pos += 1;
        Ok(depth + 1)
    }

    /// Reads a signed decimal number ended by `end`, consuming the terminator.
    fn number(&mut self, end: u8) -> Result<i64, BencodeError> {
        let start = self.pos;
        let rest = &self.input[self.pos..];
        let len = rest
            .iter()
            .position(|&b| b == end)
            .ok_or(BencodeError::Eof)?;
        let digits = &rest[..len];
        let (neg, body) = match digits.split_first() {
            Some((b'-', body)) => (true, body),
            _ => (false, digits),
        };
        if body.is_empty() || body.len() > MAX_DIGITS || !body.iter().all(u8::is_ascii_digit) {
            return Err(BencodeError::BadNumber(start));
        }
        // At most 19 digits: fits an i128 without overflow.
        let n = body
            .iter()
            .fold(0i128, |n, &b| n * 10 + i128::from(b - b'0'));
        let n =
            i64::try_from(if neg { -n } else { n }).map_err(|_| BencodeError::BadNumber(start))?;
        self.pos += len + 1;
        Ok(n)
    }

    fn bytes(&mut self) -> Result<&[u8], BencodeError> {
        let start = self.pos;
        let len = self.number(b':')?;
        let len = usize::try_from(len).map_err(|_| BencodeError::BadNumber(start))?;
        let end = self.pos.checked_add(len).ok_or(BencodeError::Eof)?;
        let b = self.input.get(self.pos..end).ok_or(BencodeError::Eof)?;
        self.pos = end;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_nested() {
        let v = decode(b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe").unwrap();
        let d = v.as_dict().unwrap();
        assert_eq!(d[&b"q"[..]].as_bytes(), Some(&b"ping"[..]));
        assert_eq!(v.encode(), b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe");
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decode(b"i12"), Err(BencodeError::Eof));
        assert!(decode(b"i99999999999999999999e").is_err());
        assert!(decode(b"5:abc").is_err());
        assert!(decode(b"i1ei2e").is_err());
        assert_eq!(decode(&[b'l'; 100]), Err(BencodeError::TooDeep));
        assert!(decode(b"di1ei2ee").is_err());
        assert!(decode(b"i-e").is_err());
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::Int),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
                proptest::collection::btree_map(
                    proptest::collection::vec(any::<u8>(), 0..8),
                    inner,
                    0..4
                )
                .prop_map(Value::Dict),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&data);
        }

        #[test]
        fn roundtrips(v in value()) {
            prop_assert_eq!(decode(&v.encode()), Ok(v));
        }
    }
}
