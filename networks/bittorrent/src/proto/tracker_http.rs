//! HTTP trackers (BEP 3, compact peers BEP 23, IPv6 peers BEP 7): the
//! announce and scrape URLs and their bencoded replies. The HTTP exchange
//! itself is the session's.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

use super::bencode::{self, Document, Item};
use super::compact::{parse_peers_v4, parse_peers_v6};
use super::tracker::{
    tracker_text, Announce, AnnounceReply, ScrapeStats, TrackerError, DEFAULT_INTERVAL,
    MAX_TRACKER_PEERS, MAX_TRACKER_RESPONSE,
};
use swarmux_net::percent;

/// Most torrents kept from one scrape reply.
pub const MAX_SCRAPE_ENTRIES: usize = 1000;

/// Appends `params` to `base`, with `?` or `&` as the URL needs.
fn with_query(base: &str, params: &str) -> String {
    let sep = match base.find('?') {
        None => "?",
        Some(_) if base.ends_with('?') || base.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{base}{sep}{params}")
}

/// The announce URL for `a` on the tracker at `base` (which may already
/// carry a query, e.g. a passkey).
pub fn announce_url(base: &str, a: &Announce) -> String {
    let mut q = format!(
        "info_hash={}&peer_id={}&port={}&uploaded={}&downloaded={}&left={}&compact=1&key={:08X}",
        percent::encode(&a.info_hash, b""),
        percent::encode(&a.peer_id, b""),
        a.port,
        a.uploaded,
        a.downloaded,
        a.left,
        a.key
    );
    if let Some(e) = a.event.http_name() {
        let _ = write!(q, "&event={e}");
    }
    if let Some(n) = a.numwant {
        let _ = write!(q, "&numwant={n}");
    }
    if let Some(id) = &a.tracker_id {
        let _ = write!(q, "&trackerid={}", percent::encode(id.as_bytes(), b""));
    }
    with_query(base, &q)
}

/// The scrape URL of an announce URL: its last path component must start
/// with `announce`, which becomes `scrape` (`None`: the tracker cannot scrape).
pub fn scrape_url(announce: &str) -> Option<String> {
    let path_end = announce.find('?').unwrap_or(announce.len());
    let slash = announce[..path_end].rfind('/')?;
    let last = &announce[slash + 1..path_end];
    let rest = last.strip_prefix("announce")?;
    Some(format!(
        "{}scrape{rest}{}",
        &announce[..slash + 1],
        &announce[path_end..]
    ))
}

/// The scrape URL for the given torrents.
pub fn scrape_url_for(scrape: &str, info_hashes: &[[u8; 20]]) -> String {
    let q: Vec<String> = info_hashes
        .iter()
        .map(|h| format!("info_hash={}", percent::encode(h, b"")))
        .collect();
    with_query(scrape, &q.join("&"))
}

/// Decodes a reply body: the top-level dict, or the tracker's failure reason.
fn reply_dict(body: &[u8]) -> Result<Document<'_>, TrackerError> {
    if body.len() > MAX_TRACKER_RESPONSE {
        return Err(TrackerError::TooLarge);
    }
    let doc = bencode::decode(body)?;
    let v = doc.root();
    if v.as_dict().is_none() {
        return Err(TrackerError::Malformed("not a dictionary"));
    }
    if let Some(reason) = v.get("failure reason") {
        return Err(TrackerError::Failure(tracker_text(
            reason.as_bytes().unwrap_or(b"(no reason given)"),
        )));
    }
    Ok(doc)
}

fn count(v: &Item<'_>, key: &str) -> Option<u32> {
    v.get(key)
        .and_then(|i| i.as_int())
        .map(|i| i.clamp(0, u32::MAX.into()) as u32)
}

/// Parses an announce reply body.
pub fn parse_announce_reply(body: &[u8]) -> Result<AnnounceReply, TrackerError> {
    let doc = reply_dict(body)?;
    let v = doc.root();
    let peers = v.get("peers");
    let mut peers: Vec<SocketAddr> = match (
        peers.and_then(|p| p.as_bytes()),
        peers.and_then(|p| p.as_list()),
    ) {
        _ if peers.is_none() => Vec::new(),
        (Some(b), _) => parse_peers_v4(b, MAX_TRACKER_PEERS)
            .map_err(|_| TrackerError::Malformed("compact peers"))?
            .into_iter()
            .map(SocketAddr::V4)
            .collect(),
        (_, Some(l)) => l.filter_map(dict_peer).take(MAX_TRACKER_PEERS).collect(),
        _ => return Err(TrackerError::Malformed("peers")),
    };
    if let Some(b) = v.get("peers6").and_then(|p| p.as_bytes()) {
        let room = MAX_TRACKER_PEERS.saturating_sub(peers.len());
        let v6 = parse_peers_v6(b, room).map_err(|_| TrackerError::Malformed("peers6"))?;
        peers.extend(v6.into_iter().map(SocketAddr::V6));
    }
    let text = |k: &str| v.get(k).and_then(|t| t.as_bytes()).map(tracker_text);
    Ok(AnnounceReply {
        interval: count(&v, "interval").unwrap_or(DEFAULT_INTERVAL),
        min_interval: count(&v, "min interval"),
        seeders: count(&v, "complete"),
        leechers: count(&v, "incomplete"),
        peers,
        warning: text("warning message"),
        tracker_id: text("tracker id"),
    })
}

/// A peer of the dictionary form: `{ip: "1.2.3.4", port: 6881, peer id: ...}`
/// (host names are skipped).
fn dict_peer(p: Item<'_>) -> Option<SocketAddr> {
    let ip: IpAddr = p.get("ip")?.as_str()?.parse().ok()?;
    let port = u16::try_from(p.get("port")?.as_int()?).ok()?;
    Some(SocketAddr::new(ip, port))
}

/// Parses a scrape reply body: counts per info-hash.
pub fn parse_scrape_reply(body: &[u8]) -> Result<Vec<([u8; 20], ScrapeStats)>, TrackerError> {
    let doc = reply_dict(body)?;
    let files = doc
        .root()
        .get("files")
        .and_then(|f| f.as_dict())
        .ok_or(TrackerError::Malformed("files"))?;
    Ok(files
        .filter_map(|(k, s)| {
            let hash = <[u8; 20]>::try_from(k).ok()?;
            let stats = ScrapeStats {
                complete: count(&s, "complete").unwrap_or(0),
                downloaded: count(&s, "downloaded").unwrap_or(0),
                incomplete: count(&s, "incomplete").unwrap_or(0),
            };
            Some((hash, stats))
        })
        .take(MAX_SCRAPE_ENTRIES)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::tracker::Event;

    fn announce() -> Announce {
        let mut info_hash = [0u8; 20];
        info_hash[..4].copy_from_slice(b"a+ \xff");
        Announce {
            info_hash,
            peer_id: *b"-SX0001-~._-AZaz0123",
            port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: Event::Started,
            numwant: Some(50),
            key: 0xdead_beef,
            tracker_id: None,
        }
    }

    #[test]
    fn announce_url_encodes_every_byte() {
        let url = announce_url("http://127.0.0.1:6969/announce", &announce());
        assert!(url.starts_with("http://127.0.0.1:6969/announce?info_hash=a%2B%20%FF%00%00"));
        assert!(
            url.contains("&peer_id=-SX0001-~._-AZaz0123&port=6881&uploaded=1&downloaded=2&left=3")
        );
        assert!(url.contains("&compact=1&key=DEADBEEF&event=started&numwant=50"));
        let with_key = announce_url("http://t/announce?passkey=abc", &announce());
        assert!(with_key.starts_with("http://t/announce?passkey=abc&info_hash="));
        let mut a = announce();
        a.event = Event::None;
        a.numwant = None;
        a.tracker_id = Some("x y".into());
        let url = announce_url("http://t/a?", &a);
        assert!(url.starts_with("http://t/a?info_hash="));
        assert!(!url.contains("event=") && url.ends_with("&trackerid=x%20y"));
    }

    #[test]
    fn scrape_urls() {
        assert_eq!(
            scrape_url("http://t/announce").as_deref(),
            Some("http://t/scrape")
        );
        assert_eq!(
            scrape_url("http://t/x/announce.php?pk=1").as_deref(),
            Some("http://t/x/scrape.php?pk=1")
        );
        assert_eq!(scrape_url("http://t/a"), None);
        assert_eq!(scrape_url("http://t/announce/x"), None);
        let url = scrape_url_for("http://t/scrape", &[[0x20; 20], [b'a'; 20]]);
        assert!(url.starts_with("http://t/scrape?info_hash=%20%20"));
        assert!(url.contains(&format!("&info_hash={}", "a".repeat(20))));
    }

    #[test]
    fn parses_compact_and_dict_replies() {
        let compact = b"d8:completei5e10:incompletei3e8:intervali1800e12:min intervali60e5:peers12:\x7f\x00\x00\x01\x1a\xe1\x7f\x00\x00\x02\x1a\xe26:peers618:\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x50e";
        let r = parse_announce_reply(compact).unwrap();
        assert_eq!(
            (r.interval, r.min_interval, r.seeders, r.leechers),
            (1800, Some(60), Some(5), Some(3))
        );
        assert_eq!(r.peers.len(), 3);
        assert_eq!(r.peers[1].to_string(), "127.0.0.2:6882");
        assert_eq!(r.peers[2].to_string(), "[::1]:80");
        let list = b"d8:intervali900e5:peersld2:ip9:127.0.0.17:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti6881eed2:ip4:host4:porti1eee15:warning message4:slowe";
        let r = parse_announce_reply(list).unwrap();
        assert_eq!(r.peers, vec!["127.0.0.1:6881".parse().unwrap()]);
        assert_eq!(r.warning.as_deref(), Some("slow"));
        assert_eq!(r.interval, 900);
    }

    #[test]
    fn failure_and_malformed_replies() {
        let e = parse_announce_reply(b"d14:failure reason17:torrent not founde").unwrap_err();
        assert_eq!(e.to_string(), "tracker refused: torrent not found");
        assert!(parse_announce_reply(b"d5:peers5:abcdee").is_err());
        assert!(parse_announce_reply(b"<html>").is_err());
        assert!(parse_announce_reply(b"le").is_err());
        assert!(parse_announce_reply(b"d5:peersi1ee").is_err());
    }

    #[test]
    fn parses_scrape() {
        let mut body = b"d5:filesd20:".to_vec();
        body.extend_from_slice(&[7u8; 20]);
        body.extend_from_slice(b"d8:completei4e10:downloadedi9e10:incompletei2eeee");
        let r = parse_scrape_reply(&body).unwrap();
        assert_eq!(
            r,
            vec![(
                [7u8; 20],
                ScrapeStats {
                    complete: 4,
                    downloaded: 9,
                    incomplete: 2
                }
            )]
        );
        assert!(parse_scrape_reply(b"de").is_err());
    }
}
