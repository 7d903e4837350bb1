//! The bounded decoder: a loop with an explicit stack (no recursion on
//! input) that writes one [`Token`] per value into a [`Document`].
//!
//! The input is scanned twice: a first pass checks it and counts its values
//! without allocating, the second writes the tokens into a vector of exactly
//! that size, so a hostile input costs nothing before it is known to be
//! valid and never more than the bound stated in [`crate::document`].

use std::ops::Range;

use crate::document::{Document, Token};

/// Deepest nesting of lists and dictionaries accepted by [`Limits::DEFAULT`].
pub const MAX_DEPTH: usize = 64;
/// Most values in one document under [`Limits::DEFAULT`]: libtorrent's
/// `max_decode_tokens` for .torrent files.
pub const MAX_VALUES: usize = 3_000_000;

/// What one decode accepts at most, beyond the length of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most lists and dictionaries nested inside one another.
    pub max_depth: usize,
    /// Most values in one document, dictionary keys included.
    pub max_values: usize,
}

impl Limits {
    /// For files and peer-wire messages: [`MAX_DEPTH`] levels and
    /// [`MAX_VALUES`] values.
    pub const DEFAULT: Limits = Limits {
        max_depth: MAX_DEPTH,
        max_values: MAX_VALUES,
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
    /// An input of 4 GiB or more (offsets are 32-bit).
    #[error("bencode: input of {0} bytes is too large")]
    TooLarge(usize),
}

/// Decodes exactly one value filling all of `buf`, within [`Limits::DEFAULT`].
pub fn decode(buf: &[u8]) -> Result<Document<'_>, BencodeError> {
    decode_with(buf, Limits::DEFAULT)
}

/// Decodes exactly one value filling all of `buf`, within `limits`.
pub fn decode_with(buf: &[u8], limits: Limits) -> Result<Document<'_>, BencodeError> {
    let (doc, used) = decode_prefix_with(buf, limits)?;
    match buf.len() - used {
        0 => Ok(doc),
        n => Err(BencodeError::Trailing(n)),
    }
}

/// Decodes one value at the start of `buf` and returns it with the number of
/// bytes it took (for messages where raw data follows a dictionary).
pub fn decode_prefix(buf: &[u8]) -> Result<(Document<'_>, usize), BencodeError> {
    decode_prefix_with(buf, Limits::DEFAULT)
}

/// [`decode_prefix`] within `limits`.
pub fn decode_prefix_with(
    buf: &[u8],
    limits: Limits,
) -> Result<(Document<'_>, usize), BencodeError> {
    if u32::try_from(buf.len()).is_err() {
        return Err(BencodeError::TooLarge(buf.len()));
    }
    let mut count = Count(0);
    let end = scan(buf, limits, &mut count)?;
    let mut tokens = Vec::with_capacity(count.0);
    scan(&buf[..end], limits, &mut tokens)?;
    Ok((Document::new(&buf[..end], tokens), end))
}

/// Where the first pass counts and the second writes tokens.
trait Sink {
    /// Values so far.
    fn len(&self) -> usize;
    /// A value starting at byte `start`.
    fn push(&mut self, start: usize);
    /// The container at token `index` ended: every token after it is inside.
    fn close(&mut self, buf: &[u8], index: usize, dict: bool) -> Result<(), BencodeError>;
}

struct Count(usize);

impl Sink for Count {
    fn len(&self) -> usize {
        self.0
    }
    fn push(&mut self, _: usize) {
        self.0 += 1;
    }
    fn close(&mut self, _: &[u8], _: usize, _: bool) -> Result<(), BencodeError> {
        Ok(())
    }
}

impl Sink for Vec<Token> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn push(&mut self, start: usize) {
        // Both fit: the input is shorter than 4 GiB and every token takes
        // at least two of its bytes.
        let next = self.len() as u32 + 1;
        Vec::push(
            self,
            Token {
                start: start as u32,
                next,
            },
        );
    }
    fn close(&mut self, buf: &[u8], index: usize, dict: bool) -> Result<(), BencodeError> {
        self[index].next = self.len() as u32;
        if dict {
            check_keys(buf, self, index)?;
        }
        Ok(())
    }
}

/// One open list or dictionary.
struct Frame {
    token: usize,
    dict: bool,
    /// In a dictionary: the next item is a key.
    want_key: bool,
}

/// Reads one value at the start of `buf` into `sink`; returns where it ends.
fn scan(buf: &[u8], limits: Limits, sink: &mut impl Sink) -> Result<usize, BencodeError> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut pos = 0;
    loop {
        let byte = *buf.get(pos).ok_or(BencodeError::Truncated(pos))?;
        if byte == b'e' {
            if let Some(top) = stack.last() {
                if top.want_key || !top.dict {
                    sink.close(buf, top.token, top.dict)?;
                    stack.pop();
                    pos += 1;
                    if stack.is_empty() {
                        return Ok(pos);
                    }
                    value_done(&mut stack);
                    continue;
                }
            }
            return Err(BencodeError::Unexpected { pos, byte });
        }
        let key = stack.last().is_some_and(|f| f.want_key);
        if key && !byte.is_ascii_digit() {
            return Err(BencodeError::Unexpected { pos, byte });
        }
        if sink.len() >= limits.max_values {
            return Err(BencodeError::TooMany(limits.max_values));
        }
        let start = pos;
        match byte {
            b'i' => pos = int_end(buf, pos)?,
            b'0'..=b'9' => pos = string_span(buf, pos)?.end,
            b'l' | b'd' => {
                if stack.len() >= limits.max_depth {
                    return Err(BencodeError::TooDeep(limits.max_depth));
                }
                stack.push(Frame {
                    token: sink.len(),
                    dict: byte == b'd',
                    want_key: byte == b'd',
                });
                sink.push(start);
                pos += 1;
                continue;
            }
            _ => return Err(BencodeError::Unexpected { pos, byte }),
        }
        sink.push(start);
        if stack.is_empty() {
            return Ok(pos);
        }
        value_done(&mut stack);
    }
}

/// After a key or a value inside the innermost container.
fn value_done(stack: &mut [Frame]) {
    if let Some(top) = stack.last_mut() {
        if top.dict {
            top.want_key = !top.want_key;
        }
    }
}

/// Refuses a dictionary that holds a key twice. Keys in order (as BEP 3
/// asks) are checked in one pass; others are sorted by index first, which
/// costs 4 bytes per entry while each entry takes at least 4 input bytes.
fn check_keys(buf: &[u8], tokens: &[Token], dict: usize) -> Result<(), BencodeError> {
    let key_at = |i: usize| &buf[string_span(buf, tokens[i].start as usize).unwrap_or(0..0)];
    let end = tokens[dict].next as usize;
    // keys are every other token: key i, its value at i + 1, the next key after that value
    let keys = || {
        std::iter::successors(Some(dict + 1), |&i| {
            tokens.get(i + 1).map(|v| v.next as usize)
        })
        .take_while(move |&i| i < end)
    };
    let mut previous: Option<&[u8]> = None;
    if keys().all(|i| {
        let key = key_at(i);
        previous.replace(key).is_none_or(|p| p < key)
    }) {
        return Ok(());
    }
    let mut sorted: Vec<u32> = keys().map(|i| i as u32).collect();
    sorted.sort_unstable_by(|&a, &b| key_at(a as usize).cmp(key_at(b as usize)).then(a.cmp(&b)));
    match sorted
        .windows(2)
        .find(|w| key_at(w[0] as usize) == key_at(w[1] as usize))
    {
        Some(w) => Err(BencodeError::DuplicateKey(
            tokens[w[1] as usize].start as usize,
        )),
        None => Ok(()),
    }
}

/// The integer `i…e` starting at `start`.
pub(crate) fn parse_int(buf: &[u8], start: usize) -> Result<(i64, usize), BencodeError> {
    let bad = BencodeError::BadInt(start);
    let from = start + 1;
    let len = buf
        .get(from..)
        .ok_or(BencodeError::Truncated(buf.len()))?
        .iter()
        .position(|&b| b == b'e')
        .ok_or(BencodeError::Truncated(buf.len()))?;
    let text = &buf[from..from + len];
    let (negative, digits) = match text.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || text == b"-0" {
        return Err(bad);
    }
    let mut n: i64 = 0;
    for &d in digits {
        let d = i64::from(d - b'0');
        n = n
            .checked_mul(10)
            .and_then(|n| {
                if negative {
                    n.checked_sub(d)
                } else {
                    n.checked_add(d)
                }
            })
            .ok_or_else(|| bad.clone())?;
    }
    Ok((n, from + len + 1))
}

fn int_end(buf: &[u8], start: usize) -> Result<usize, BencodeError> {
    parse_int(buf, start).map(|(_, end)| end)
}

/// The bytes of the string `<len>:<bytes>` starting at `start`.
pub(crate) fn string_span(buf: &[u8], start: usize) -> Result<Range<usize>, BencodeError> {
    let mut pos = start;
    let mut len: usize = 0;
    loop {
        match *buf.get(pos).ok_or(BencodeError::Truncated(pos))? {
            b':' => break,
            d @ b'0'..=b'9' => {
                len = len
                    .checked_mul(10)
                    .and_then(|l| l.checked_add(usize::from(d - b'0')))
                    .ok_or(BencodeError::BadLength(start))?;
                pos += 1;
            }
            byte => return Err(BencodeError::Unexpected { pos, byte }),
        }
    }
    if pos == start {
        return Err(BencodeError::BadLength(start));
    }
    pos += 1;
    if len > buf.len() - pos {
        return Err(BencodeError::Truncated(buf.len()));
    }
    Ok(pos..pos + len)
}
