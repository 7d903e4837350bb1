//! The HTTP/1.1 subset Gnutella transfers use, as plain functions: request
//! and response heads, `Range`/`Content-Range`, the resources we serve
//! (`/uri-res/N2R?urn:sha1:...`, `/get/INDEX/NAME`), `X-Alt` lists and the
//! `GIV` line a pushed servent sends. Heads are bounded in size and header
//! count; nothing here panics on input.

use crate::magnet::parse_guid;
use crate::proto::descriptor::Guid;
use crate::proto::handshake::user_agent;
use crate::proto::headers::head_end;
use crate::proto::huge::Sha1Urn;
use std::net::SocketAddrV4;
use swarmux_net::names::cut_at_char;
use swarmux_net::percent;

/// Largest request or response head.
pub const MAX_HEAD: usize = 8 * 1024;
/// Most headers in one head.
pub const MAX_HEADERS: usize = 64;
/// Longest file name kept from a GIV line, in bytes.
pub const MAX_GIV_NAME: usize = 1024;
/// Most addresses kept from one `X-Alt` header.
pub const MAX_ALT: usize = 32;

/// Why a head cannot be read; close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("HTTP head larger than {MAX_HEAD} bytes")]
    TooLarge,
    #[error("more than {MAX_HEADERS} HTTP headers")]
    TooManyHeaders,
    #[error("bad HTTP start line {0:?}")]
    BadStartLine(String),
}

/// Headers in the order received, names compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpHeaders(pub Vec<(String, String)>);

impl HttpHeaders {
    /// The first value of a header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: HttpHeaders,
}

impl Request {
    /// True when the connection stays open after the answer.
    pub fn keep_alive(&self) -> bool {
        match self.headers.get("Connection") {
            Some(v) if v.eq_ignore_ascii_case("close") => false,
            Some(v) if v.eq_ignore_ascii_case("keep-alive") => true,
            _ => self.version.eq_ignore_ascii_case("HTTP/1.1"),
        }
    }
}

/// A response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub reason: String,
    pub headers: HttpHeaders,
}

/// True once a head that grows piece by piece in `buf` is worth parsing:
/// its empty line has arrived, or it is already too long. `scanned` is how
/// much of `buf` earlier calls searched (start at 0), so each byte is
/// searched once however small the pieces a peer sends.
pub fn head_complete(buf: &[u8], scanned: &mut usize) -> bool {
    let found = head_end(buf, scanned.saturating_sub(3), MAX_HEAD).is_some();
    *scanned = buf.len();
    found || buf.len() > MAX_HEAD
}

/// Splits a complete head into its start line and headers; `Ok(None)` while
/// the empty line has not arrived.
fn split_head(buf: &[u8]) -> Result<Option<(String, HttpHeaders, usize)>, HttpError> {
    let Some(end) = head_end(buf, 0, MAX_HEAD) else {
        return if buf.len() > MAX_HEAD {
            Err(HttpError::TooLarge)
        } else {
            Ok(None)
        };
    };
    if end > MAX_HEAD {
        return Err(HttpError::TooLarge);
    }
    let text = String::from_utf8_lossy(&buf[..end]);
    let mut lines = text.lines().map(str::trim_end);
    let start = lines.next().unwrap_or("").to_string();
    let mut headers = HttpHeaders::default();
    for line in lines.filter(|l| !l.is_empty()) {
        if let Some((n, v)) = line.split_once(':') {
            if headers.0.len() >= MAX_HEADERS {
                return Err(HttpError::TooManyHeaders);
            }
            headers.0.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Some((start, headers, end)))
}

fn bad_start(line: &str) -> HttpError {
    HttpError::BadStartLine(line.chars().take(80).collect())
}

/// Parses a request head from the start of `buf` (and the bytes it used).
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request, usize)>, HttpError> {
    let Some((start, headers, used)) = split_head(buf)? else {
        return Ok(None);
    };
    let mut parts = start.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_start(&start));
    };
    if !version.starts_with("HTTP/") {
        return Err(bad_start(&start));
    }
    Ok(Some((
        Request {
            method: method.to_string(),
            target: target.to_string(),
            version: version.to_string(),
            headers,
        },
        used,
    )))
}

/// Parses a response head from the start of `buf` (and the bytes it used).
pub fn parse_response(buf: &[u8]) -> Result<Option<(Response, usize)>, HttpError> {
    let Some((start, headers, used)) = split_head(buf)? else {
        return Ok(None);
    };
    let mut parts = start.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().and_then(|c| c.trim().parse().ok());
    let (true, Some(code)) = (version.starts_with("HTTP/"), code) else {
        return Err(bad_start(&start));
    };
    Ok(Some((
        Response {
            code,
            reason: parts.next().unwrap_or("").trim().to_string(),
            headers,
        },
        used,
    )))
}

/// A response head with `Server:` (always) and the given headers.
pub fn response_head(code: u16, reason: &str, headers: &[(&str, String)]) -> Vec<u8> {
    let mut s = format!("HTTP/1.1 {code} {reason}\r\nServer: {}\r\n", user_agent());
    for (n, v) in headers {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `/uri-res/N2R?urn:sha1:...`
    Urn(Sha1Urn),
    /// `/get/INDEX/NAME`
    Index(u32, String),
}

impl Resource {
    /// Parses a request target.
    pub fn parse(target: &str) -> Option<Resource> {
        if let Some(q) = target.strip_prefix("/uri-res/N2R?") {
            return Sha1Urn::parse(&percent::decode_lossy(q, true)).map(Resource::Urn);
        }
        let rest = target.strip_prefix("/get/")?;
        let (index, name) = rest.split_once('/')?;
        Some(Resource::Index(
            index.parse().ok()?,
            percent::decode_lossy(name, true),
        ))
    }

    /// The request target.
    pub fn target(&self) -> String {
        match self {
            Resource::Urn(u) => format!("/uri-res/N2R?{u}"),
            Resource::Index(i, name) => {
                format!("/get/{i}/{}", percent::encode(name.as_bytes(), b""))
            }
        }
    }
}

/// Why a `Range` cannot be served (answer 416).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// The inclusive byte range a `Range` header asks of a file of `size` bytes
/// (`None` header: the whole file). Only one range is served; for a list,
/// the first one.
pub fn parse_range(value: Option<&str>, size: u64) -> Result<(u64, u64), Unsatisfiable> {
    let Some(v) = value else {
        return if size == 0 {
            Err(Unsatisfiable)
        } else {
            Ok((0, size - 1))
        };
    };
    let spec = v
        .trim()
        .strip_prefix("bytes")
        .map(|s| s.trim_start().trim_start_matches('=').trim())
        .ok_or(Unsatisfiable)?;
    let first = spec.split(',').next().unwrap_or("").trim();
    let (a, b) = first.split_once('-').ok_or(Unsatisfiable)?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| Unsatisfiable)?;
            (
                size.saturating_sub(n),
                size.checked_sub(1).ok_or(Unsatisfiable)?,
            )
        }
        (a, "") => (
            a.parse().map_err(|_| Unsatisfiable)?,
            size.checked_sub(1).ok_or(Unsatisfiable)?,
        ),
        (a, b) => {
            let end: u64 = b.parse().map_err(|_| Unsatisfiable)?;
            (
                a.parse().map_err(|_| Unsatisfiable)?,
                end.min(size.saturating_sub(1)),
            )
        }
    };
    if start > end || start >= size {
        return Err(Unsatisfiable);
    }
    Ok((start, end))
}

/// Parses `bytes START-END/TOTAL` (TOTAL may be `*`).
pub fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let spec = v.trim().strip_prefix("bytes")?.trim_start();
    let range = spec.split('/').next()?;
    let (a, b) = range.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

/// Addresses from an `X-Alt` value (`IP:PORT` entries) or an older
/// `X-Gnutella-Alternate-Location` one (`http://IP:PORT/... date` entries).
pub fn parse_alt(value: &str) -> Vec<SocketAddrV4> {
    value
        .split(',')
        .filter_map(|e| {
            let e = e.trim();
            let e = e.strip_prefix("http://").unwrap_or(e);
            let host = e.split(['/', ' ']).next()?;
            host.parse().ok()
        })
        .take(MAX_ALT)
        .collect()
}

/// Formats addresses for `X-Alt`.
pub fn format_alt(addrs: &[SocketAddrV4]) -> String {
    addrs
        .iter()
        .take(MAX_ALT)
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The line a pushed servent sends first: `GIV INDEX:GUIDHEX/NAME` and an
/// empty line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Giv {
    pub index: u32,
    pub servent: Guid,
    pub name: String,
}

impl Giv {
    /// Parses a GIV from the start of `buf`: `Ok(None)` while incomplete.
    pub fn parse(buf: &[u8]) -> Result<Option<(Giv, usize)>, HttpError> {
        let Some((start, _, used)) = split_head(buf)? else {
            return Ok(None);
        };
        let giv = (|| {
            let rest = start.strip_prefix("GIV ")?;
            let (index, rest) = rest.split_once(':')?;
            let (guid, name) = rest.split_once('/').unwrap_or((rest, ""));
            Some(Giv {
                index: index.trim().parse().ok()?,
                servent: parse_guid(guid.trim())?,
                // Free text, only logged: kept short, so that invalid
                // UTF-8 (each byte read as a 3-byte U+FFFD) cannot make the
                // line we write again longer than a head we accept.
                name: cut_at_char(&percent::decode_lossy(name, true), MAX_GIV_NAME).to_string(),
            })
        })();
        giv.map(|g| Some((g, used)))
            .ok_or_else(|| bad_start(&start))
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "GIV {}:{}/{}\n\n",
            self.index,
            self.servent.to_hex(),
            self.name.replace(['\r', '\n'], " ")
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_and_responses() {
        let raw = b"GET /uri-res/N2R?urn:sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nRange: bytes=0-99\r\n\r\nX";
        let (r, used) = parse_request(raw).unwrap().unwrap();
        assert_eq!(&raw[used..], b"X");
        assert!(r.keep_alive());
        assert_eq!(
            Resource::parse(&r.target),
            Some(Resource::Urn(Sha1Urn([0; 20])))
        );
        assert_eq!(parse_range(r.headers.get("range"), 50), Ok((0, 49)));
        let head = response_head(206, "Partial Content", &[("Content-Length", "5".into())]);
        let (resp, _) = parse_response(&head).unwrap().unwrap();
        assert_eq!(resp.code, 206);
        assert!(resp.headers.get("Server").unwrap().starts_with("swarmux/"));
        assert_eq!(parse_request(b"GET / HTTP/1.1\r\n").unwrap(), None);
        assert!(parse_request(&vec![b'a'; MAX_HEAD + 5]).is_err());
    }

    #[test]
    fn a_head_fed_a_byte_at_a_time_is_searched_once() {
        for ending in ["\r\n\r\n", "\n\n"] {
            let raw = format!(
                "GET /x HTTP/1.1\r\nHost: a{}{ending}",
                "\r\nX-Long-Header: b".repeat(60)
            );
            let (mut buf, mut scanned) = (Vec::new(), 0);
            for (i, &b) in raw.as_bytes().iter().enumerate() {
                buf.push(b);
                let complete = head_complete(&buf, &mut scanned);
                assert_eq!(scanned, buf.len());
                assert_eq!(complete, i + 1 == raw.len(), "{ending:?} at {i}");
            }
            assert!(parse_request(&buf).unwrap().is_some());
        }
        let mut scanned = 0;
        assert!(head_complete(&vec![b'a'; MAX_HEAD + 1], &mut scanned));
        let r = Resource::Index(4, "a b.txt".into());
        assert_eq!(Resource::parse(&r.target()), Some(r));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok((0, 9)));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Ok((5, 9)));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok((7, 9)));
        assert_eq!(parse_range(Some("bytes=2-100"), 10), Ok((2, 9)));
        assert_eq!(parse_range(Some("bytes=10-12"), 10), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Err(Unsatisfiable));
        assert_eq!(parse_content_range("bytes 5-9/10"), Some((5, 9)));
        assert_eq!(
            parse_alt("127.0.0.1:5, http://127.0.0.3:6346/uri-res/N2R?x 2020, junk").len(),
            2
        );
    }

    #[test]
    fn giv_round_trip() {
        let g = Giv {
            index: 3,
            servent: Guid([0x1F; 16]),
            name: "file.bin".into(),
        };
        let mut b = g.encode();
        b.extend(b"GET");
        let (got, used) = Giv::parse(&b).unwrap().unwrap();
        assert_eq!((got, &b[used..]), (g, &b"GET"[..]));
        assert!(Giv::parse(b"GIV x\n\n").is_err());
    }

    /// Found by fuzzing: a GIV whose name is 4,000 bytes of invalid UTF-8
    /// read back as 12,000 bytes of U+FFFD, and the line written again was
    /// over the head limit. The name is kept short instead.
    #[test]
    fn a_giv_of_invalid_text_is_written_back_within_the_limit() {
        let mut b = format!("GIV 12:{}/", "7F".repeat(16)).into_bytes();
        b.extend(vec![0xFF; 4000]);
        b.extend(b"\n\n");
        let (g, _) = Giv::parse(&b).unwrap().unwrap();
        assert!(g.name.len() <= MAX_GIV_NAME);
        let line = g.encode();
        assert!(line.len() <= MAX_HEAD);
        let (again, used) = Giv::parse(&line).unwrap().unwrap();
        assert_eq!(
            (again.index, again.servent, used),
            (12, g.servent, line.len())
        );
    }

    proptest! {
        #[test]
        fn parsers_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300), size in any::<u64>()) {
            let _ = parse_request(&b);
            let _ = parse_response(&b);
            let _ = Giv::parse(&b);
            let s = String::from_utf8_lossy(&b);
            let _ = parse_range(Some(&s), size);
            let _ = parse_content_range(&s);
            let _ = parse_alt(&s);
            let _ = Resource::parse(&s);
        }
    }
}
