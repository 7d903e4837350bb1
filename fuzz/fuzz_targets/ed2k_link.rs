//! ed2k:// links: parsing never panics, keeps at most its input (sources
//! bounded), and a parsed link printed parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_ed2k::proto::link::{parse_link, Ed2kLink, MAX_LINK_LEN, MAX_LINK_SOURCES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(link) = parse_link(text) else {
        return;
    };
    if let Ed2kLink::File(f) = &link {
        assert!(f.sources.len() <= MAX_LINK_SOURCES);
        assert!(f.name.len() <= 3 * text.len());
    }
    let printed = link.to_string();
    // Percent-encoding may take a long name past the length bound.
    if printed.len() <= MAX_LINK_LEN {
        assert_eq!(parse_link(&printed), Ok(link));
    }
});
