//! server.met files a user was given: parsing never panics, keeps at most
//! one server per 10 bytes, and a parsed list written back parses to a list
//! written the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_ed2k::proto::servermet::{parse_server_met, write_server_met};

fuzz_target!(|data: &[u8]| {
    let Ok(servers) = parse_server_met(data) else {
        return;
    };
    assert!(servers.len() <= data.len() / 10);
    let once = write_server_met(&servers);
    let again = parse_server_met(&once).expect("a written server.met parses");
    assert_eq!(write_server_met(&again), once);
});
