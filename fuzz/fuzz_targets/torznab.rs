//! Torznab answers (RSS): parsing never panics, keeps at most its limits of
//! items and text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_bittorrent::search::feed::{parse_feed, MAX_ITEMS, MAX_TEXT};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(items) = parse_feed(&text) {
        assert!(items.len() <= MAX_ITEMS);
        for i in &items {
            assert!(i.title.len() <= MAX_TEXT);
            assert!(i.link.as_ref().is_none_or(|l| l.len() <= MAX_TEXT));
            assert!(i.magnet.as_ref().is_none_or(|l| l.len() <= MAX_TEXT));
        }
    }
});
