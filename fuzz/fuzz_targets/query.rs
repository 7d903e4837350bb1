//! The user's search syntax: parsing never panics, and what parses is bounded
//! (words, nesting) and can be matched and walked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_net::query::{parse_query, MAX_QUERY_TERMS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(expr) = parse_query(text) {
        assert!(expr.keywords().len() <= MAX_QUERY_TERMS);
        let _ = expr.matches(text);
    }
});
