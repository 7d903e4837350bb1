//! server.met: `header(0x0E or 0xE0) count(u32)` then per server
//! `ip(u32, ed2k layout) port(u16) tags(u32 count + tags)`.

use super::reader::{Ed2kRead, PutExt, ReadError, Reader};
use super::server_msg::{ip_to_u32, u32_to_ip};
use super::tag::{decode_tags, encode_tags, find_tag, ids, Tag, TagEncoding, TagValue};
use std::net::Ipv4Addr;

/// Most servers read from one file.
pub const MAX_SERVER_MET_ENTRIES: usize = 100_000;

/// One server from server.met.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerMetEntry {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub name: String,
    pub description: String,
    /// Every tag, including name and description.
    pub tags: Vec<Tag>,
}

/// Parses server.met bytes.
pub fn parse_server_met(data: &[u8]) -> Result<Vec<ServerMetEntry>, ReadError> {
    let mut r = Reader::new(data);
    let header = r.u8()?;
    if header != 0x0E && header != 0xE0 {
        return Err(ReadError::invalid(format!(
            "server.met header 0x{header:02X} (expected 0x0E or 0xE0)"
        )));
    }
    let n = r.u32_le()?;
    let n = r.count(n.into(), 10)?;
    if n > MAX_SERVER_MET_ENTRIES {
        return Err(ReadError::invalid(format!("server.met lists {n} servers")));
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let ip = u32_to_ip(r.u32_le()?);
        let port = r.u16_le()?;
        let tags = decode_tags(&mut r)?;
        let text = |id| {
            find_tag(&tags, id)
                .and_then(TagValue::as_str)
                .unwrap_or("")
                .to_string()
        };
        out.push(ServerMetEntry {
            ip,
            port,
            name: text(ids::NAME),
            description: text(ids::DESCRIPTION),
            tags,
        });
    }
    Ok(out)
}

/// Writes a server.met (header 0x0E) with name and description tags for
/// entries whose tag list is empty.
pub fn write_server_met(entries: &[ServerMetEntry]) -> Vec<u8> {
    let mut v = vec![0x0E];
    v.put_u32(entries.len() as u32);
    for e in entries {
        v.put_u32(ip_to_u32(e.ip));
        v.put_u16(e.port);
        let tags = if e.tags.is_empty() {
            vec![
                Tag::str(ids::NAME, e.name.clone()),
                Tag::str(ids::DESCRIPTION, e.description.clone()),
            ]
        } else {
            e.tags.clone()
        };
        encode_tags(&mut v, &tags, TagEncoding::Old);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        let mut data = vec![0xE0, 1, 0, 0, 0, 10, 0, 0, 1, 0x35, 0x12, 1, 0, 0, 0];
        data.extend([0x02, 1, 0, 0x01, 3, 0, b'S', b'r', b'v']);
        let s = parse_server_met(&data).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].ip, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(s[0].port, 4661);
        assert_eq!(s[0].name, "Srv");
        assert_eq!(s[0].description, "");
        assert!(parse_server_met(&[0x0F, 0, 0, 0, 0]).is_err());
        assert!(parse_server_met(&[0x0E, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        let back = parse_server_met(&write_server_met(&s)).unwrap();
        assert_eq!(back, s);
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_server_met(&data);
            let mut d = vec![0x0E];
            d.extend(&data);
            let _ = parse_server_met(&d);
        }

        #[test]
        fn roundtrip(v in proptest::collection::vec((any::<[u8; 4]>(), any::<u16>(), ".{0,10}", ".{0,10}"), 0..5)) {
            let entries: Vec<ServerMetEntry> = v.into_iter().map(|(ip, port, name, description)| ServerMetEntry {
                ip: Ipv4Addr::from(ip), port, tags: vec![Tag::str(ids::NAME, name.clone()), Tag::str(ids::DESCRIPTION, description.clone())], name, description,
            }).collect();
            prop_assert_eq!(parse_server_met(&write_server_met(&entries)).unwrap(), entries);
        }
    }
}
