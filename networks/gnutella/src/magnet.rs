//! `magnet:?xt=urn:sha1:...` links: what the engine queues and what our
//! search hits carry, with the sources known for the file.
//!
//! Parameters: `xt` (`urn:sha1:` or `urn:bitprint:`), `dn` name, `xl` size,
//! `xs`/`as` direct sources as `http://IP:PORT/...` URLs, and our own
//! `x.push=GUIDHEX:INDEX:IP:PORT` for a firewalled servent reached by Push.
//! Values are percent-decoded; at most [`MAX_SOURCES`] sources are kept.

use crate::proto::descriptor::Guid;
use crate::proto::huge::Sha1Urn;
use std::net::SocketAddrV4;
use swarmux_net::magnet::{self, NotMagnet};

/// Most sources read from or written into one link.
pub const MAX_SOURCES: usize = 32;

/// One place a file can be downloaded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Source {
    /// Where to connect (for a firewalled servent: the address it reported).
    pub addr: SocketAddrV4,
    /// The servent GUID and file index from its hit, for Push and `/get/`.
    pub push: Option<(Guid, u32)>,
    /// The servent said it is firewalled: ask it to connect to us (Push).
    pub firewalled: bool,
}

impl Source {
    /// A source reachable directly.
    pub fn direct(addr: SocketAddrV4) -> Self {
        Source {
            addr,
            push: None,
            firewalled: false,
        }
    }
}

/// A parsed Gnutella magnet link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Magnet {
    pub urn: Sha1Urn,
    /// The `dn` name (empty when absent).
    pub name: String,
    /// The `xl` size (0 when absent).
    pub size: u64,
    pub sources: Vec<Source>,
}

/// True when `link` is a magnet naming a SHA-1 (or bitprint) and no
/// BitTorrent info-hash (a hybrid link goes to BitTorrent).
pub fn is_gnutella_magnet(link: &str) -> bool {
    let topics = magnet::topics(link);
    let has = |prefix| {
        topics
            .iter()
            .any(|t| magnet::urn_value(t, prefix).is_some())
    };
    (has("urn:sha1:") || has("urn:bitprint:")) && !has("urn:btih:")
}

impl Magnet {
    /// Parses a link; fails without a `urn:sha1:` (or bitprint) `xt`.
    pub fn parse(link: &str) -> Result<Magnet, String> {
        let params = magnet::params(link).map_err(|e| match e {
            NotMagnet::Prefix => "not a magnet link".to_string(),
            NotMagnet::TooLong => format!("magnet link longer than {} bytes", magnet::MAX_LEN),
        })?;
        let (mut urn, mut name, mut size, mut sources) = (None, String::new(), 0, Vec::new());
        for p in params {
            let v = p.value_lossy(true);
            match p.key.as_str() {
                "xt" => urn = urn.or_else(|| Sha1Urn::parse(&v)),
                "dn" => name = v,
                "xl" => size = v.trim().parse().unwrap_or(0),
                "xs" | "as" => sources.extend(http_source(&v)),
                "x.push" => sources.extend(push_source(&v)),
                _ => {}
            }
            if sources.len() > MAX_SOURCES {
                sources.truncate(MAX_SOURCES);
            }
        }
        let urn = urn.ok_or("magnet link without urn:sha1")?;
        Ok(Magnet {
            urn,
            name,
            size,
            sources,
        })
    }

    /// The link text.
    pub fn to_link(&self) -> String {
        let mut w = magnet::Writer::new(&self.urn.to_string());
        if !self.name.is_empty() {
            w = w.param("dn", &self.name);
        }
        if self.size > 0 {
            w = w.param("xl", &self.size.to_string());
        }
        for src in self.sources.iter().take(MAX_SOURCES) {
            w = match (src.firewalled, src.push) {
                (true, Some((guid, index))) => {
                    w.param_as_is("x.push", &format!("{}:{index}:{}", guid.to_hex(), src.addr))
                }
                _ => w.param_as_is(
                    "xs",
                    &format!("http://{}/uri-res/N2R?{}", src.addr, self.urn),
                ),
            };
        }
        w.finish()
    }
}

/// `http://IP:PORT/...` → a direct source.
fn http_source(v: &str) -> Option<Source> {
    let rest = v.trim().strip_prefix("http://")?;
    let host = rest.split('/').next()?;
    Some(Source::direct(host.parse().ok()?))
}

/// `GUIDHEX:INDEX:IP:PORT` → a push source.
fn push_source(v: &str) -> Option<Source> {
    let mut it = v.trim().splitn(3, ':');
    let guid = parse_guid(it.next()?)?;
    let index = it.next()?.parse().ok()?;
    Some(Source {
        addr: it.next()?.parse().ok()?,
        push: Some((guid, index)),
        firewalled: true,
    })
}

/// Parses 32 hex digits into a GUID.
pub fn parse_guid(hex: &str) -> Option<Guid> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    let mut g = [0u8; 16];
    for (i, b) in g.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(Guid(g))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_with_sources() {
        let m = Magnet {
            urn: Sha1Urn([3; 20]),
            name: "Big Buck & Bunny.ogv".into(),
            size: 123,
            sources: vec![
                Source::direct("127.0.0.1:6346".parse().unwrap()),
                Source {
                    addr: "127.0.0.2:1".parse().unwrap(),
                    push: Some((Guid([0xAB; 16]), 7)),
                    firewalled: true,
                },
            ],
        };
        let link = m.to_link();
        assert!(is_gnutella_magnet(&link));
        assert_eq!(Magnet::parse(&link).unwrap(), m);
    }

    #[test]
    fn foreign_magnets() {
        let b32 = Sha1Urn([1; 20]).base32();
        let m = Magnet::parse(&format!("magnet:?xt=urn:sha1:{b32}&dn=a+b&xl=x")).unwrap();
        assert_eq!((m.name.as_str(), m.size), ("a b", 0));
        assert!(Magnet::parse("magnet:?xt=urn:btih:00").is_err());
        assert!(!is_gnutella_magnet(&format!(
            "magnet:?xt=urn:btih:aa&xt=urn:sha1:{b32}"
        )));
        assert!(Magnet::parse("http://x").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,200}") {
            let _ = Magnet::parse(&format!("magnet:?{s}"));
        }
    }
}
