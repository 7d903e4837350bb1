//! The text blocks of the 0.6 handshake: a start line (`GNUTELLA CONNECT/0.6`
//! or `GNUTELLA/0.6 200 OK`), headers (names case-insensitive, continuation
//! lines starting with a space or tab), and an empty line. Blocks are bounded
//! in size and header count; bare LF line ends are accepted as well as CRLF.

use std::net::SocketAddrV4;

/// Largest handshake block (start line, headers and the empty line).
pub const MAX_BLOCK: usize = 16 * 1024;
/// Most headers in one block.
pub const MAX_HEADERS: usize = 128;
/// Most addresses kept from one `X-Try-Ultrapeers` header.
pub const MAX_TRY_HOSTS: usize = 64;

/// Why a handshake block cannot be read; the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("handshake block larger than {MAX_BLOCK} bytes")]
    TooLarge,
    #[error("more than {MAX_HEADERS} handshake headers")]
    TooManyHeaders,
    #[error("bad handshake start line {0:?}")]
    BadStartLine(String),
    #[error("bad handshake header line {0:?}")]
    BadHeader(String),
}

/// The first line of a handshake block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `GNUTELLA CONNECT/<version>`.
    Connect { version: String },
    /// `GNUTELLA/<version> <code> <reason>`.
    Status {
        version: String,
        code: u16,
        reason: String,
    },
}

impl StartLine {
    fn parse(line: &str) -> Result<StartLine, HeaderError> {
        let bad = || HeaderError::BadStartLine(line.chars().take(80).collect());
        if let Some(v) = line.strip_prefix("GNUTELLA CONNECT/") {
            return Ok(StartLine::Connect {
                version: v.trim().to_string(),
            });
        }
        let rest = line.strip_prefix("GNUTELLA/").ok_or_else(bad)?;
        let mut parts = rest.splitn(3, ' ');
        let version = parts.next().ok_or_else(bad)?.to_string();
        let code = parts.next().and_then(|c| c.parse().ok()).ok_or_else(bad)?;
        let reason = parts.next().unwrap_or("").trim().to_string();
        Ok(StartLine::Status {
            version,
            code,
            reason,
        })
    }

    fn encode(&self) -> String {
        match self {
            StartLine::Connect { version } => format!("GNUTELLA CONNECT/{version}"),
            StartLine::Status {
                version,
                code,
                reason,
            } => format!("GNUTELLA/{version} {code} {reason}"),
        }
    }
}

/// Headers in the order received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// The first value of a header, name compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the header's value is `True` (any case).
    pub fn is_true(&self, name: &str) -> Option<bool> {
        self.get(name)
            .map(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// True when a comma-separated header lists `token` (any case).
    pub fn lists(&self, name: &str, token: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    /// Appends a header.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_string(), value.into()));
    }
}

/// One handshake block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub start: StartLine,
    pub headers: Headers,
}

impl Block {
    /// Parses a block from the start of `buf`. `Ok(None)` while the empty line
    /// has not arrived; otherwise the block and the bytes it used (what follows
    /// belongs to the next step or to the message stream).
    pub fn parse(buf: &[u8]) -> Result<Option<(Block, usize)>, HeaderError> {
        Block::parse_more(buf, &mut 0)
    }

    /// [`Block::parse`] for a buffer that grows piece by piece: `scanned` is
    /// how much of it earlier calls searched for the empty line (start at 0),
    /// so that each byte is searched once however small the pieces (a peer
    /// sending a byte at a time would otherwise cost quadratic time).
    pub fn parse_more(
        buf: &[u8],
        scanned: &mut usize,
    ) -> Result<Option<(Block, usize)>, HeaderError> {
        let Some(end) = head_end(buf, scanned.saturating_sub(3), MAX_BLOCK) else {
            *scanned = buf.len();
            return if buf.len() > MAX_BLOCK {
                Err(HeaderError::TooLarge)
            } else {
                Ok(None)
            };
        };
        if end > MAX_BLOCK {
            return Err(HeaderError::TooLarge);
        }
        let text = String::from_utf8_lossy(&buf[..end]);
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let start = StartLine::parse(lines.next().unwrap_or(""))?;
        let mut headers = Headers::default();
        for line in lines.filter(|l| !l.is_empty()) {
            if line.starts_with([' ', '\t']) {
                let (_, v) = headers
                    .0
                    .last_mut()
                    .ok_or_else(|| HeaderError::BadHeader(line.chars().take(80).collect()))?;
                let more = line.trim();
                if !more.is_empty() {
                    if !v.is_empty() {
                        v.push(' ');
                    }
                    v.push_str(more);
                }
                continue;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| HeaderError::BadHeader(line.chars().take(80).collect()))?;
            if headers.0.len() >= MAX_HEADERS {
                return Err(HeaderError::TooManyHeaders);
            }
            headers.push(name.trim(), value.trim());
        }
        Ok(Some((Block { start, headers }, end)))
    }

    /// The block as CRLF-terminated text, ending with the empty line.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = self.start.encode();
        s.push_str("\r\n");
        for (n, v) in &self.headers.0 {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

/// Index just past the empty line ending a head of at most `max` bytes (a
/// handshake block or an HTTP head), if present, looking from `from` on
/// (every ending is at most 4 bytes long).
pub(crate) fn head_end(buf: &[u8], from: usize, max: usize) -> Option<usize> {
    let limit = buf.len().min(max + 4);
    (from..limit).find_map(|i| {
        if buf[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if buf[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else if buf[i..].starts_with(b"\n\r\n") {
            Some(i + 3)
        } else {
            None
        }
    })
}

/// Parses an `X-Try-Ultrapeers` / `X-Try` value: `ip:port` entries separated
/// by commas (an optional trailing timestamp after a space is ignored). Bad
/// entries are skipped; at most [`MAX_TRY_HOSTS`] are kept.
pub fn parse_try_hosts(value: &str) -> Vec<SocketAddrV4> {
    value
        .split(',')
        .filter_map(|e| e.split_whitespace().next()?.parse().ok())
        .take(MAX_TRY_HOSTS)
        .collect()
}

/// Formats addresses for `X-Try-Ultrapeers`.
pub fn format_try_hosts(hosts: &[SocketAddrV4]) -> String {
    hosts
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block arriving a byte at a time is searched once: each call looks
    /// only at what arrived since (and the 3 bytes before), and the block
    /// parsed is the one parsed whole, wherever its ending falls.
    #[test]
    fn a_block_fed_a_byte_at_a_time_is_searched_once() {
        for ending in ["\r\n\r\n", "\n\n", "\n\r\n"] {
            let mut raw = b"GNUTELLA CONNECT/0.6\r\n".to_vec();
            for i in 0..100 {
                raw.extend_from_slice(format!("X-H{i}: {}\r\n", "v".repeat(40)).as_bytes());
            }
            raw.truncate(raw.len() - 2);
            raw.extend_from_slice(ending.as_bytes());
            raw.extend_from_slice(b"next");
            let whole = Block::parse(&raw).unwrap().unwrap();
            let (mut buf, mut scanned, mut found) = (Vec::new(), 0, None);
            for &b in &raw {
                buf.push(b);
                found = Block::parse_more(&buf, &mut scanned).unwrap();
                if found.is_some() {
                    break;
                }
                assert_eq!(scanned, buf.len());
            }
            assert_eq!(found, Some(whole), "{ending:?}");
        }
    }

    /// Found by fuzzing: a blank continuation line left a trailing space
    /// that encoding and parsing again took away.
    #[test]
    fn continuation_lines_join_without_stray_spaces() {
        let raw = b"GNUTELLA CONNECT/0.6\r\nA: 0.1\r\n\t\r\nB:\r\n  more\r\n\r\n";
        let (block, _) = Block::parse(raw).unwrap().unwrap();
        assert_eq!(block.headers.get("A"), Some("0.1"));
        assert_eq!(block.headers.get("B"), Some("more"));
        let (again, _) = Block::parse(&block.encode()).unwrap().unwrap();
        assert_eq!(again, block);
    }
    use proptest::prelude::*;

    #[test]
    fn parses_gtk_style_reply_with_continuation() {
        let raw = b"GNUTELLA/0.6 503 Too many connections\r\n\
            User-Agent: gtk-gnutella/1.2.2 (2022-02-25; GTK2; Linux x86_64)\r\n\
            x-try-ultrapeers: 127.0.0.2:6346, 127.0.0.3:6347 ,bogus,\r\n\
            \t127.0.0.4:6348\r\n\
            X-Ultrapeer: True\r\n\r\nTAIL";
        let (b, used) = Block::parse(raw).unwrap().unwrap();
        assert_eq!(&raw[used..], b"TAIL");
        assert_eq!(
            b.start,
            StartLine::Status {
                version: "0.6".into(),
                code: 503,
                reason: "Too many connections".into()
            }
        );
        assert_eq!(b.headers.is_true("X-ULTRAPEER"), Some(true));
        let hosts = parse_try_hosts(b.headers.get("X-Try-Ultrapeers").unwrap());
        assert_eq!(hosts.len(), 3);
        assert_eq!(hosts[2].to_string(), "127.0.0.4:6348");
        assert_eq!(Block::parse(&b.encode()).unwrap().unwrap().0, b);
    }

    #[test]
    fn waits_for_the_empty_line_and_bounds_size() {
        assert_eq!(
            Block::parse(b"GNUTELLA CONNECT/0.6\r\nA: b\r\n").unwrap(),
            None
        );
        let (b, _) = Block::parse(b"GNUTELLA CONNECT/0.6\n\n").unwrap().unwrap();
        assert_eq!(
            b.start,
            StartLine::Connect {
                version: "0.6".into()
            }
        );
        let big = vec![b'a'; MAX_BLOCK + 10];
        assert_eq!(Block::parse(&big), Err(HeaderError::TooLarge));
        let mut many = b"GNUTELLA CONNECT/0.6\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend(format!("H{i}: v\r\n").bytes());
        }
        many.extend(b"\r\n");
        assert_eq!(Block::parse(&many), Err(HeaderError::TooManyHeaders));
        assert!(Block::parse(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(Block::parse(b"GNUTELLA CONNECT/0.6\r\nnocolon\r\n\r\n").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Block::parse(&b);
            let _ = parse_try_hosts(&String::from_utf8_lossy(&b));
        }

        #[test]
        fn prefixed_garbage_never_panics(s in "\\PC{0,200}") {
            let raw = format!("GNUTELLA/0.6 200 OK\r\n{s}\r\n\r\n");
            let _ = Block::parse(raw.as_bytes());
        }
    }
}
