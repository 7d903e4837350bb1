//! A decoded document: the input it borrows and one 8-byte [`Token`] per
//! value (dictionary keys included), in input order, as libtorrent's
//! `bdecode` does.
//!
//! Memory: every value takes at least two input bytes (`le`, `de`, `0:`,
//! `i0e`), so a document holds at most `len / 2` tokens, that is **at most
//! 4 bytes per input byte** (plus a constant), allocated once at the exact
//! size; strings are never copied. [`Document::heap_bytes`] reports it.
//! Walking it ([`Item`]) allocates nothing and never recurses.

use std::ops::Range;

use crate::decode::{parse_int, string_span};
use crate::Value;

/// One value of a [`Document`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    /// Offset of its first byte (`i`, `l`, `d` or a length digit).
    pub start: u32,
    /// Index of the token after this value and everything inside it.
    pub next: u32,
}

/// A decoded bencode document that borrows its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document<'a> {
    buf: &'a [u8],
    tokens: Vec<Token>,
}

impl<'a> Document<'a> {
    pub(crate) fn new(buf: &'a [u8], tokens: Vec<Token>) -> Self {
        Document { buf, tokens }
    }

    /// The top-level value.
    pub fn root(&self) -> Item<'_> {
        Item {
            buf: self.buf,
            tokens: &self.tokens,
            index: 0,
        }
    }

    /// How many values (dictionary keys included) the document holds.
    pub fn values(&self) -> usize {
        self.tokens.len()
    }

    /// Heap memory the document holds (its tokens; the input is borrowed).
    pub fn heap_bytes(&self) -> usize {
        self.tokens.capacity() * std::mem::size_of::<Token>()
    }
}

/// What kind of value an [`Item`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `i<n>e`
    Int,
    /// `<len>:<bytes>`
    Bytes,
    /// `l...e`
    List,
    /// `d...e`
    Dict,
}

/// One value inside a [`Document`]: a cheap copyable view.
#[derive(Clone, Copy, Debug)]
pub struct Item<'d> {
    buf: &'d [u8],
    tokens: &'d [Token],
    index: usize,
}

impl<'d> Item<'d> {
    fn at(&self, index: usize) -> Item<'d> {
        Item { index, ..*self }
    }

    fn start(&self) -> usize {
        self.tokens[self.index].start as usize
    }

    /// Index of the token after this value.
    fn next(&self) -> usize {
        self.tokens[self.index].next as usize
    }

    /// What kind of value this is.
    pub fn kind(&self) -> Kind {
        match self.buf[self.start()] {
            b'i' => Kind::Int,
            b'l' => Kind::List,
            b'd' => Kind::Dict,
            _ => Kind::Bytes,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self.kind() {
            Kind::Int => parse_int(self.buf, self.start()).ok().map(|(n, _)| n),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'d [u8]> {
        match self.kind() {
            Kind::Bytes => string_span(self.buf, self.start())
                .ok()
                .map(|r| &self.buf[r]),
            _ => None,
        }
    }

    /// The byte string as UTF-8, if it is one.
    pub fn as_str(&self) -> Option<&'d str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list items, if this is a list.
    pub fn as_list(&self) -> Option<List<'d>> {
        (self.kind() == Kind::List).then(|| List {
            item: self.at(self.index + 1),
            end: self.next(),
        })
    }

    /// The dictionary entries in input order, if this is a dictionary.
    pub fn as_dict(&self) -> Option<Dict<'d>> {
        (self.kind() == Kind::Dict).then(|| Dict {
            key: self.at(self.index + 1),
            end: self.next(),
        })
    }

    /// The value under `key` when `self` is a dictionary.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<Item<'d>> {
        let key = key.as_ref();
        self.as_dict()?
            .find(|(k, _)| *k == key)
            .map(|(_, value)| value)
    }

    /// Where this value lies in the input.
    pub fn span(&self) -> Range<usize> {
        self.start()..self.end()
    }

    /// This value's bytes exactly as they appear in the input.
    pub fn raw(&self) -> &'d [u8] {
        &self.buf[self.span()]
    }

    /// One past the last byte: a container ends one `e` after its last item.
    fn end(&self) -> usize {
        let mut item = *self;
        let mut closers = 0;
        loop {
            match item.kind() {
                Kind::Int => {
                    return parse_int(self.buf, item.start()).map_or(0, |(_, end)| end) + closers
                }
                Kind::Bytes => {
                    return string_span(self.buf, item.start()).map_or(0, |r| r.end) + closers
                }
                Kind::List | Kind::Dict if item.next() == item.index + 1 => {
                    return item.start() + 2 + closers
                }
                Kind::List | Kind::Dict => {
                    closers += 1;
                    let end = item.next();
                    let mut child = item.index + 1;
                    while item.tokens[child].next as usize != end {
                        child = item.tokens[child].next as usize;
                    }
                    item = item.at(child);
                }
            }
        }
    }

    /// An owned copy. It recurses as deep as the value nests, which the
    /// decoder's [`crate::Limits::max_depth`] bounds.
    pub fn to_value(&self) -> Value {
        match self.kind() {
            Kind::Int => Value::Int(self.as_int().unwrap_or_default()),
            Kind::Bytes => Value::Bytes(self.as_bytes().unwrap_or_default().to_vec()),
            Kind::List => Value::List(
                self.as_list()
                    .into_iter()
                    .flatten()
                    .map(|i| i.to_value())
                    .collect(),
            ),
            Kind::Dict => Value::Dict(
                self.as_dict()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.to_vec(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// The items of a list, in order.
#[derive(Clone, Debug)]
pub struct List<'d> {
    item: Item<'d>,
    end: usize,
}

impl<'d> Iterator for List<'d> {
    type Item = Item<'d>;

    fn next(&mut self) -> Option<Item<'d>> {
        if self.item.index >= self.end {
            return None;
        }
        let item = self.item;
        self.item.index = item.next();
        Some(item)
    }
}

/// The `(key, value)` entries of a dictionary, in input order.
#[derive(Clone, Debug)]
pub struct Dict<'d> {
    key: Item<'d>,
    end: usize,
}

impl<'d> Iterator for Dict<'d> {
    type Item = (&'d [u8], Item<'d>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.key.index >= self.end {
            return None;
        }
        let value = self.key.at(self.key.index + 1);
        let key = self.key.as_bytes().unwrap_or_default();
        self.key.index = value.next();
        Some((key, value))
    }
}
