//! ed2k links: `ed2k://|file|NAME|SIZE|HASH|[h=AICH|][p=H1:H2...|]/[|sources,IP:PORT,...|/]`
//! and `ed2k://|server|HOST|PORT|/`.

use std::fmt;
use std::net::SocketAddrV4;
use swarmux_net::percent;

/// Longest link accepted.
pub const MAX_LINK_LEN: usize = 64 * 1024;
/// Most sources kept from a link.
pub const MAX_LINK_SOURCES: usize = 1000;

/// A parsed `ed2k://|file|...` link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLink {
    pub name: String,
    pub size: u64,
    pub hash: [u8; 16],
    /// AICH root hash (`h=`), kept as text.
    pub aich: Option<String>,
    /// Part hashes (`p=`).
    pub part_hashes: Option<Vec<[u8; 16]>>,
    /// Sources from a `|sources,ip:port,...|/` suffix.
    pub sources: Vec<SocketAddrV4>,
}

/// A parsed ed2k link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ed2kLink {
    File(FileLink),
    Server { host: String, port: u16 },
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("not an ed2k link (expected ed2k://|file|... or ed2k://|server|...)")]
    NotEd2k,
    #[error("ed2k link is longer than {MAX_LINK_LEN} bytes")]
    TooLong,
    #[error("ed2k link is missing its {0}")]
    Missing(&'static str),
    #[error("ed2k link has an invalid {0}")]
    Invalid(&'static str),
}

fn parse_hash(s: &str) -> Option<[u8; 16]> {
    let mut h = [0u8; 16];
    hex::decode_to_slice(s, &mut h).ok()?;
    Some(h)
}

/// What an ed2k link's name keeps unescaped besides the unreserved
/// characters (as eMule writes links, so names stay readable).
const NAME_KEEPS: &[u8] = b"()[]!',;=@+&$";

/// Parses an ed2k link.
pub fn parse_link(link: &str) -> Result<Ed2kLink, LinkError> {
    let link = link.trim();
    if link.len() > MAX_LINK_LEN {
        return Err(LinkError::TooLong);
    }
    let rest = link
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("ed2k://"))
        .map(|_| &link[7..])
        .ok_or(LinkError::NotEd2k)?;
    let rest = rest.strip_prefix('|').ok_or(LinkError::NotEd2k)?;
    let fields: Vec<&str> = rest.split('|').collect();
    let kind = fields.first().copied().unwrap_or("");
    if kind.eq_ignore_ascii_case("server") {
        let host = fields
            .get(1)
            .filter(|h| !h.is_empty())
            .ok_or(LinkError::Missing("host"))?;
        let port = fields.get(2).ok_or(LinkError::Missing("port"))?;
        let port = port.parse().map_err(|_| LinkError::Invalid("port"))?;
        return Ok(Ed2kLink::Server {
            host: host.to_string(),
            port,
        });
    }
    if !kind.eq_ignore_ascii_case("file") {
        return Err(LinkError::NotEd2k);
    }
    let name = percent::decode_lossy(fields.get(1).ok_or(LinkError::Missing("name"))?, false);
    if name.is_empty() {
        return Err(LinkError::Missing("name"));
    }
    let size = fields
        .get(2)
        .ok_or(LinkError::Missing("size"))?
        .parse::<u64>()
        .map_err(|_| LinkError::Invalid("size"))?;
    let hash = parse_hash(fields.get(3).ok_or(LinkError::Missing("hash"))?)
        .ok_or(LinkError::Invalid("hash"))?;
    let mut fl = FileLink {
        name,
        size,
        hash,
        aich: None,
        part_hashes: None,
        sources: Vec::new(),
    };
    for f in fields.iter().skip(4) {
        if let Some(h) = f.strip_prefix("h=") {
            fl.aich = Some(h.to_string());
        } else if let Some(p) = f.strip_prefix("p=") {
            let hashes = p
                .split(':')
                .map(parse_hash)
                .collect::<Option<Vec<_>>>()
                .ok_or(LinkError::Invalid("part hash list"))?;
            fl.part_hashes = Some(hashes);
        } else if let Some(s) = f.strip_prefix("sources,") {
            for a in s.split(',') {
                if fl.sources.len() >= MAX_LINK_SOURCES {
                    break;
                }
                if let Ok(a) = a.trim().parse() {
                    fl.sources.push(a);
                }
            }
        }
    }
    Ok(Ed2kLink::File(fl))
}

impl fmt::Display for FileLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ed2k://|file|{}|{}|{}|",
            percent::encode(self.name.as_bytes(), NAME_KEEPS),
            self.size,
            hex::encode_upper(self.hash)
        )?;
        if let Some(h) = &self.aich {
            write!(f, "h={h}|")?;
        }
        if let Some(p) = &self.part_hashes {
            let p: Vec<String> = p.iter().map(hex::encode_upper).collect();
            write!(f, "p={}|", p.join(":"))?;
        }
        f.write_str("/")?;
        if !self.sources.is_empty() {
            let s: Vec<String> = self.sources.iter().map(|a| a.to_string()).collect();
            write!(f, "|sources,{}|/", s.join(","))?;
        }
        Ok(())
    }
}

impl fmt::Display for Ed2kLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ed2kLink::File(l) => l.fmt(f),
            Ed2kLink::Server { host, port } => write!(f, "ed2k://|server|{host}|{port}|/"),
        }
    }
}

/// The plain link for a file (no extras).
pub fn file_link(name: &str, size: u64, hash: [u8; 16]) -> String {
    FileLink {
        name: name.to_string(),
        size,
        hash,
        aich: None,
        part_hashes: None,
        sources: Vec::new(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_file_link() {
        let l = "ed2k://|file|My%20File%7C1.iso|123|31D6CFE0D16AE931B73C59D7E0C089C0|h=ABC|/|sources,1.2.3.4:4662,bad|/";
        let Ed2kLink::File(f) = parse_link(l).unwrap() else {
            panic!("not a file")
        };
        assert_eq!(f.name, "My File|1.iso");
        assert_eq!(f.size, 123);
        assert_eq!(hex::encode(f.hash), "31d6cfe0d16ae931b73c59d7e0c089c0");
        assert_eq!(f.aich.as_deref(), Some("ABC"));
        assert_eq!(f.sources, vec!["1.2.3.4:4662".parse().unwrap()]);
        assert_eq!(parse_link(&f.to_string()).unwrap(), Ed2kLink::File(f));
    }

    #[test]
    fn parses_server_and_errors() {
        let s = parse_link("ED2K://|server|127.0.0.1|4661|/").unwrap();
        assert_eq!(
            s,
            Ed2kLink::Server {
                host: "127.0.0.1".into(),
                port: 4661
            }
        );
        assert_eq!(s.to_string(), "ed2k://|server|127.0.0.1|4661|/");
        assert!(parse_link("http://x").is_err());
        assert!(parse_link("ed2k://|file|a|x|00|/").is_err());
        assert!(parse_link("ed2k://|file|a|1|zz|/").is_err());
        assert_eq!(percent::decode_lossy("%zz%4", false), "%zz%4");
        let p = format!(
            "ed2k://|file|a|1|{}|p={}:{}|/",
            "00".repeat(16),
            "11".repeat(16),
            "22".repeat(16)
        );
        let Ed2kLink::File(f) = parse_link(&p).unwrap() else {
            panic!("not a file")
        };
        assert_eq!(f.part_hashes.map(|p| p.len()), Some(2));
        assert_eq!(
            file_link("a b", 1, [0; 16]),
            format!("ed2k://|file|a%20b|1|{}|/", "00".repeat(16))
        );
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,120}") {
            let _ = parse_link(&s);
            let _ = parse_link(&format!("ed2k://|file|{s}"));
            let _ = percent::decode_lossy(&s, false);
        }

        #[test]
        fn roundtrip(name in ".{1,40}", size: u64, hash: [u8; 16]) {
            let l = file_link(&name, size, hash);
            let Ok(Ed2kLink::File(f)) = parse_link(&l) else { return Err(TestCaseError::fail("parse")) };
            prop_assert_eq!(f.name.trim(), name.trim());
            prop_assert_eq!(f.size, size);
            prop_assert_eq!(f.hash, hash);
        }
    }
}
