//! Magnet links (`magnet:?key=value&key=value…`): the one reader and writer
//! every network's magnet type is built on. This module knows the link's
//! syntax (the `magnet:?` prefix, `&`-separated parameters, numbered keys
//! such as `xt.1`, percent-escapes); what an `xt` or a `tr` means is each
//! network's business.

use crate::percent;

/// Longest magnet link read (longer ones are refused, not cut).
pub const MAX_LEN: usize = 64 * 1024;

/// Why a link is not read as a magnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotMagnet {
    /// It does not start with `magnet:?`.
    Prefix,
    /// It is longer than [`MAX_LEN`].
    TooLong,
}

/// One `key=value` parameter of a magnet link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<'a> {
    /// The key in lower case, a numbered form's number dropped (`xt.1` and
    /// `XT` read as `xt`; `x.pe` keeps its dot).
    pub key: String,
    /// The value as written, still percent-escaped.
    pub raw: &'a str,
}

impl Param<'_> {
    /// The value percent-decoded (and `+` read as a space when
    /// `plus_is_space`); `None` on a malformed escape. Invalid UTF-8 is
    /// replaced.
    pub fn value(&self, plus_is_space: bool) -> Option<String> {
        percent::decode(self.raw, plus_is_space).map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    /// The value decoded like [`Param::value`], a malformed escape kept as
    /// written (how gtk-gnutella reads names in links).
    pub fn value_lossy(&self, plus_is_space: bool) -> String {
        percent::decode_lossy(self.raw, plus_is_space)
    }
}

/// True when `link` (surrounding whitespace ignored) starts with `magnet:?`,
/// in any case.
pub fn is_magnet(link: &str) -> bool {
    query(link).is_ok()
}

/// The part of `link` after `magnet:?`.
fn query(link: &str) -> Result<&str, NotMagnet> {
    let link = link.trim();
    if link.len() > MAX_LEN {
        return Err(NotMagnet::TooLong);
    }
    link.get(..8)
        .filter(|p| p.eq_ignore_ascii_case("magnet:?"))
        .map(|_| &link[8..])
        .ok_or(NotMagnet::Prefix)
}

/// The parameters of `link` in the order written; empty ones (`&&`) are
/// skipped and a parameter without `=` has an empty value.
pub fn params(link: &str) -> Result<impl Iterator<Item = Param<'_>>, NotMagnet> {
    Ok(query(link)?
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let key = match key.split_once('.') {
                Some((k, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => k,
                _ => key,
            };
            Param {
                key: key.to_ascii_lowercase(),
                raw,
            }
        }))
}

/// The exact topics (`xt` values) of `link`, decoded; empty when it is not
/// a magnet. Networks pick theirs by URN prefix with [`urn_value`].
pub fn topics(link: &str) -> Vec<String> {
    params(link)
        .map(|ps| {
            ps.filter(|p| p.key == "xt")
                .map(|p| p.value_lossy(false))
                .collect()
        })
        .unwrap_or_default()
}

/// What follows `prefix` (such as `urn:btih:`) in `topic`, the prefix
/// compared in any case.
pub fn urn_value<'a>(topic: &'a str, prefix: &str) -> Option<&'a str> {
    topic
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map(|_| &topic[prefix.len()..])
}

/// Writes magnet links: `magnet:?` then each parameter, values
/// percent-escaped.
#[derive(Debug, Clone)]
pub struct Writer(String);

impl Writer {
    /// A link whose first parameter is `xt=topic` (written as it is: a URN
    /// needs no escaping).
    pub fn new(topic: &str) -> Self {
        Writer(format!("magnet:?xt={topic}"))
    }

    /// Appends `&key=value`, the value percent-escaped.
    pub fn param(mut self, key: &str, value: &str) -> Self {
        self.0.push('&');
        self.0.push_str(key);
        self.0.push('=');
        self.0.push_str(&percent::encode(value.as_bytes(), b""));
        self
    }

    /// Appends `&key=value` with the value as it is, for values built to
    /// need no escaping (an `http://IP:PORT/...` source URL, `GUID:N:IP:PORT`);
    /// a value holding `&`, `#`, `%` or a space is escaped after all.
    pub fn param_as_is(mut self, key: &str, value: &str) -> Self {
        if value
            .bytes()
            .any(|b| b"&#% ".contains(&b) || !b.is_ascii_graphic())
        {
            return self.param(key, value);
        }
        self.0.push('&');
        self.0.push_str(key);
        self.0.push('=');
        self.0.push_str(value);
        self
    }

    /// The link.
    pub fn finish(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_normalised_and_values_kept_raw() {
        let ps: Vec<_> = params(" MAGNET:?XT.1=urn:a&&x.pe=1.2.3.4:5&dn=a+b%20c&flag&tr.=x")
            .unwrap()
            .collect();
        let keys: Vec<_> = ps.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["xt", "x.pe", "dn", "flag", "tr."]);
        assert_eq!(ps[2].raw, "a+b%20c");
        assert_eq!(ps[2].value(true).as_deref(), Some("a b c"));
        assert_eq!(ps[2].value(false).as_deref(), Some("a+b c"));
        assert_eq!(ps[3].raw, "");
    }

    #[test]
    fn malformed_escapes_strict_and_lossy() {
        let p = params("magnet:?dn=%zz%4").unwrap().next().unwrap();
        assert_eq!(p.value(false), None);
        assert_eq!(p.value_lossy(false), "%zz%4");
    }

    #[test]
    fn not_magnets() {
        assert_eq!(params("http://x").err(), Some(NotMagnet::Prefix));
        assert_eq!(params("magnet").err(), Some(NotMagnet::Prefix));
        let long = format!("magnet:?dn={}", "a".repeat(MAX_LEN));
        assert_eq!(params(&long).err(), Some(NotMagnet::TooLong));
        assert!(!is_magnet(&long));
        assert!(topics("ed2k://|file|x|1|00|/").is_empty());
    }

    #[test]
    fn topics_and_urns() {
        let t = topics("magnet:?xt=urn:btih:AB&xt.2=URN:SHA1:CD&dn=x");
        assert_eq!(t, ["urn:btih:AB", "URN:SHA1:CD"]);
        assert_eq!(urn_value(&t[1], "urn:sha1:"), Some("CD"));
        assert_eq!(urn_value(&t[0], "urn:sha1:"), None);
        assert_eq!(urn_value("urn", "urn:sha1:"), None);
    }

    #[test]
    fn written_links_read_back() {
        let link = Writer::new("urn:btih:00")
            .param("dn", "a & b=c+d é")
            .param("x.pe", "[::1]:6881")
            .param_as_is("xs", "http://127.0.0.1:1/a?b")
            .param_as_is("as", "a&b")
            .finish();
        assert!(link.starts_with("magnet:?xt=urn:btih:00&dn=a%20%26"));
        let ps: Vec<_> = params(&link).unwrap().collect();
        assert_eq!(ps[1].value(true).as_deref(), Some("a & b=c+d é"));
        assert_eq!(ps[2].value(false).as_deref(), Some("[::1]:6881"));
        assert_eq!(ps[3].raw, "http://127.0.0.1:1/a?b");
        assert_eq!(ps[4].value(false).as_deref(), Some("a&b"));
    }
}
