//! Asking one Torznab indexer (Jackett, Prowlarr): the request URL, the
//! bounded HTTP GET (blocking, for the blocking pool), and the feed's items
//! turned into search hits.

use super::feed::{parse_feed, FeedItem};
use crate::proto::magnet::parse_info_hash;
use crate::proto::Magnet;
use crate::session::TorznabIndexer;
use std::net::IpAddr;
use std::time::Duration;
use swarmux_net::percent;
use swarmux_net::{ContentHash, SearchHit, SearchRequest};

/// How long one indexer may take to answer, in all.
pub const INDEXER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read from an indexer.
pub const MAX_BODY: u64 = 4 << 20;
/// Most hits kept from one indexer.
pub const MAX_HITS_PER_INDEXER: usize = 200;

/// The search URL for `req`: the indexer's URL with `t=search`, `q` (the
/// request's positive words), `apikey` (when set) and `extended=1` (every
/// attribute, so the info-hash comes along) added to its query.
pub fn search_url(indexer: &TorznabIndexer, req: &SearchRequest) -> String {
    let words = req.expr.keywords().join(" ");
    let base = indexer.url.trim();
    let sep = match base.find('?') {
        None => "?",
        Some(i) if i + 1 == base.len() || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut url = format!(
        "{base}{sep}t=search&q={}",
        percent::encode(words.as_bytes(), b"")
    );
    if !indexer.api_key.is_empty() {
        url.push_str("&apikey=");
        url.push_str(&percent::encode(indexer.api_key.as_bytes(), b""));
    }
    url.push_str("&extended=1");
    url
}

/// Asks `indexer` for `req` from `local` and returns its hits (blocking: at
/// most [`INDEXER_TIMEOUT`]). The error is a sentence for the log.
pub fn search(
    indexer: &TorznabIndexer,
    req: &SearchRequest,
    local: Option<IpAddr>,
) -> Result<Vec<SearchHit>, String> {
    let body = swarmux_net::http::get(&search_url(indexer, req), INDEXER_TIMEOUT, MAX_BODY, local)
        .map_err(|e| redacted(e, &indexer.api_key))?;
    let text = String::from_utf8_lossy(&body);
    let items = parse_feed(&text).map_err(|e| e.to_string())?;
    Ok(hits(req, &items))
}

/// `message` without the API key, should an error quote the URL.
fn redacted(message: String, api_key: &str) -> String {
    if api_key.is_empty() {
        return message;
    }
    message
        .replace(&percent::encode(api_key.as_bytes(), b""), "***")
        .replace(api_key, "***")
}

/// The items that have a size and an info-hash and pass `req`, as hits
/// (at most [`MAX_HITS_PER_INDEXER`]).
pub fn hits(req: &SearchRequest, items: &[FeedItem]) -> Vec<SearchHit> {
    items
        .iter()
        .filter_map(|i| hit(req, i))
        .take(MAX_HITS_PER_INDEXER)
        .collect()
}

/// One item as a hit. The link is the magnet (given, with `dn` added),
/// else the .torrent URL, else a magnet made of the info-hash and title.
pub fn hit(req: &SearchRequest, item: &FeedItem) -> Option<SearchHit> {
    let name = item.title.trim();
    let size = item.size.filter(|&s| s > 0)?;
    if name.is_empty() || !req.expr.matches(name) || !req.accepts(name, size) {
        return None;
    }
    let magnet = item
        .magnet
        .iter()
        .chain(item.link.iter())
        .chain(item.enclosure.iter())
        .find_map(|l| Magnet::parse(l.trim()).ok());
    let attr_hash = item
        .info_hash
        .as_deref()
        .and_then(|h| parse_info_hash(h.trim()));
    let info_hash = magnet.as_ref().map(|m| m.info_hash).or(attr_hash)?;
    let torrent_url = item
        .link
        .iter()
        .chain(item.enclosure.iter())
        .map(|l| l.trim())
        .find(|l| is_http(l));
    let link = match (magnet, torrent_url) {
        (Some(mut m), _) => {
            m.name.get_or_insert_with(|| name.to_string());
            m.to_string()
        }
        (None, Some(url)) => url.to_string(),
        (None, None) => Magnet {
            info_hash,
            name: Some(name.to_string()),
            trackers: Vec::new(),
            peers: Vec::new(),
        }
        .to_string(),
    };
    let seeders = item.seeders.unwrap_or(0);
    Some(SearchHit {
        search: req.id,
        network: "bittorrent".into(),
        name: name.to_string(),
        size,
        hashes: vec![ContentHash::BtInfo(info_hash)],
        sources: item.peers.unwrap_or(0).max(seeders),
        complete_sources: item.seeders,
        link,
    })
}

fn is_http(link: &str) -> bool {
    let l = link.get(..8).unwrap_or(link).to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmux_net::query::parse_query;

    fn req(text: &str, min_size: Option<u64>) -> SearchRequest {
        SearchRequest {
            id: 3,
            text: text.into(),
            expr: parse_query(text).unwrap(),
            min_size,
            max_size: None,
            kind: None,
            extension: None,
        }
    }

    fn indexer(url: &str, key: &str) -> TorznabIndexer {
        TorznabIndexer {
            name: "t".into(),
            url: url.into(),
            api_key: key.into(),
        }
    }

    const HASH: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn urls_keep_the_indexers_query() {
        let r = req("big film -cam", None);
        assert_eq!(
            search_url(&indexer("http://h/torznab/", "k y"), &r),
            "http://h/torznab/?t=search&q=big%20film&apikey=k%20y&extended=1"
        );
        assert_eq!(
            search_url(&indexer("http://h/1/api?x=1", ""), &r),
            "http://h/1/api?x=1&t=search&q=big%20film&extended=1"
        );
        assert_eq!(
            search_url(&indexer("http://h/api?", ""), &r),
            "http://h/api?t=search&q=big%20film&extended=1"
        );
    }

    #[test]
    fn items_become_hits_with_a_usable_link() {
        let r = req("film -cam", Some(100));
        let base = FeedItem {
            title: "Good Film".into(),
            size: Some(1000),
            seeders: Some(3),
            peers: Some(5),
            ..Default::default()
        };
        // magnet wins and gets a dn
        let h = hit(
            &r,
            &FeedItem {
                magnet: Some(format!("magnet:?xt=urn:btih:{HASH}&tr=udp%3A%2F%2Ft%3A1")),
                link: Some("http://h/1.torrent".into()),
                ..base.clone()
            },
        )
        .unwrap();
        let m = Magnet::parse(&h.link).unwrap();
        assert_eq!(m.name.as_deref(), Some("Good Film"));
        assert_eq!(m.trackers, ["udp://t:1"]);
        assert_eq!((h.sources, h.complete_sources), (5, Some(3)));
        // .torrent URL with the attr's hash
        let h = hit(
            &r,
            &FeedItem {
                info_hash: Some(HASH.to_uppercase()),
                enclosure: Some("http://h/1.torrent".into()),
                ..base.clone()
            },
        )
        .unwrap();
        assert_eq!(h.link, "http://h/1.torrent");
        assert_eq!(
            h.hashes,
            vec![ContentHash::BtInfo(parse_info_hash(HASH).unwrap())]
        );
        // a magnet in <link> (magnet-only indexers)
        let h = hit(
            &r,
            &FeedItem {
                link: Some(format!("magnet:?xt=urn:btih:{HASH}")),
                ..base.clone()
            },
        )
        .unwrap();
        assert!(h.link.starts_with("magnet:?"));
        // only the hash: a bare magnet
        let h = hit(
            &r,
            &FeedItem {
                info_hash: Some(HASH.into()),
                ..base.clone()
            },
        )
        .unwrap();
        assert_eq!(
            Magnet::parse(&h.link).unwrap().name.as_deref(),
            Some("Good Film")
        );
        // dropped: no hash, bad hash, no size, too small, excluded word
        let with_hash = FeedItem {
            info_hash: Some(HASH.into()),
            ..base.clone()
        };
        for bad in [
            base.clone(),
            FeedItem {
                info_hash: Some("xyz".into()),
                ..base.clone()
            },
            FeedItem {
                size: None,
                ..with_hash.clone()
            },
            FeedItem {
                size: Some(10),
                ..with_hash.clone()
            },
            FeedItem {
                title: "Good Film CAM".into(),
                ..with_hash.clone()
            },
        ] {
            assert_eq!(hit(&r, &bad), None, "{bad:?}");
        }
        let many = vec![with_hash; MAX_HITS_PER_INDEXER + 10];
        assert_eq!(hits(&r, &many).len(), MAX_HITS_PER_INDEXER);
    }
}
