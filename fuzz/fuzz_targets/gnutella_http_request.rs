//! What arrives on the Gnutella port over HTTP: a request head with its
//! resource and `Range`, or a pushed servent's `GIV` line. Nothing panics,
//! a range served lies inside the file, a resource encodes to a target
//! that parses the same, and a GIV line to one with the same index and
//! servent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_gnutella::node::http::{parse_range, parse_request, Giv, Resource};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((req, used))) = parse_request(data) {
        assert!(used <= data.len());
        let _ = req.keep_alive();
        if let Some(res) = Resource::parse(&req.target) {
            assert_eq!(Resource::parse(&res.target()), Some(res));
        }
        for size in [0, 1, 100_000, u64::MAX] {
            if let Ok((a, b)) = parse_range(req.headers.get("Range"), size) {
                assert!(a <= b && b < size, "{a}-{b} of {size}");
            }
        }
    }
    if let Ok(Some((giv, used))) = Giv::parse(data) {
        assert!(used <= data.len());
        // The name is free text (written as is, as gtk-gnutella does):
        // only the index and the servent must come back.
        let line = giv.encode();
        let (again, again_used) = Giv::parse(&line)
            .expect("what we encode parses")
            .expect("and is complete");
        assert_eq!(again_used, line.len());
        assert_eq!((again.index, again.servent), (giv.index, giv.servent));
    }
});
