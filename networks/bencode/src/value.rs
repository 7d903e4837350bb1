//! An owned value, to build messages and files, and its canonical encoder.

use std::collections::BTreeMap;

/// An owned bencode value. Dictionary keys are kept sorted, as the encoder
/// must write them. Decoding gives a [`crate::Document`] instead; its
/// [`crate::Item::to_value`] makes one of these.
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
