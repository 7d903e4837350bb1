//! .torrent files: parsing never panics, stays within its limits, and the
//! info dictionary it keeps parses again to the same torrent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_bittorrent::proto::metainfo::{MAX_FILES, MAX_TRACKERS};
use swarmux_bittorrent::proto::{Info, Metainfo};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Metainfo::from_bytes(data) {
        assert!(m.info.files.len() <= MAX_FILES);
        assert!(m.trackers.len() <= MAX_TRACKERS);
        assert!(m.trackers.iter().all(|t| t.len() <= MAX_TRACKERS));
        assert!(m.info.info_bytes.len() <= data.len());
        let again = Info::from_info_bytes(&m.info.info_bytes).expect("the info parses again");
        assert_eq!(again, m.info);
    }
    let _ = Info::from_info_bytes(data);
});
