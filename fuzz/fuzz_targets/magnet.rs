//! Magnet links: parsing never panics, keeps at most its limits, and a
//! parsed link written back parses to the same link.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_bittorrent::proto::magnet::MAX_MAGNET_ENTRIES;
use swarmux_bittorrent::proto::Magnet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(m) = Magnet::parse(text) {
        assert!(m.trackers.len() <= MAX_MAGNET_ENTRIES);
        assert!(m.peers.len() <= MAX_MAGNET_ENTRIES);
        let again = Magnet::parse(&m.to_magnet()).expect("a written link parses");
        assert_eq!(again, m);
    }
});
