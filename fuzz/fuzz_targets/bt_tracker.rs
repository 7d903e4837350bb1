//! Tracker answers over HTTP (bencoded) and UDP (BEP 15), compact peer
//! lists and tracker URLs: parsing never panics, keeps its limits, and a
//! compact IPv4 list encodes back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_bittorrent::proto::compact::{encode_peers_v4, parse_peers_v4, parse_peers_v6};
use swarmux_bittorrent::proto::tracker::MAX_TRACKER_PEERS;
use swarmux_bittorrent::proto::tracker_http::MAX_SCRAPE_ENTRIES;
use swarmux_bittorrent::proto::{tracker_http, tracker_udp, TrackerUrl};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let tid = 0x0102_0304;
    match which % 7 {
        0 => {
            if let Ok(r) = tracker_http::parse_announce_reply(body) {
                assert!(r.peers.len() <= MAX_TRACKER_PEERS);
            }
        }
        1 => {
            if let Ok(r) = tracker_http::parse_scrape_reply(body) {
                assert!(r.len() <= MAX_SCRAPE_ENTRIES);
            }
        }
        2 => {
            let _ = tracker_udp::parse_connect_reply(body, tid);
        }
        3 => {
            if let Ok(r) = tracker_udp::parse_announce_reply(body, tid) {
                assert!(r.peers.len() <= MAX_TRACKER_PEERS);
            }
        }
        4 => {
            if let Ok(r) = tracker_udp::parse_scrape_reply(body, tid) {
                assert!(r.len() <= body.len() / 12);
            }
        }
        5 => {
            if let Ok(peers) = parse_peers_v4(body, MAX_TRACKER_PEERS) {
                assert!(peers.len() <= MAX_TRACKER_PEERS);
                if body.len() / 6 <= MAX_TRACKER_PEERS {
                    assert_eq!(encode_peers_v4(&peers), body);
                }
            }
            if let Ok(peers) = parse_peers_v6(body, MAX_TRACKER_PEERS) {
                assert!(peers.len() <= MAX_TRACKER_PEERS);
            }
        }
        _ => {
            if let Ok(url) = std::str::from_utf8(body) {
                if let Ok(t) = TrackerUrl::parse(url) {
                    assert!(!t.host.is_empty());
                }
                let _ = tracker_http::scrape_url(url);
            }
        }
    }
});
