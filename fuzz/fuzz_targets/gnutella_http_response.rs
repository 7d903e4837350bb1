//! What a source answers a download: the response head, its
//! `Content-Range` and its alternate locations (`X-Alt` and older forms).
//! Nothing panics, lists stay bounded, and a head and an `X-Alt` list we
//! write parse back to what we wrote.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_gnutella::node::http::{
    format_alt, parse_alt, parse_content_range, parse_response, response_head, MAX_ALT, MAX_HEAD,
    MAX_HEADERS,
};

fuzz_target!(|data: &[u8]| {
    let Ok(Some((resp, used))) = parse_response(data) else {
        return;
    };
    assert!(used <= data.len());
    if let Some((a, b)) = resp
        .headers
        .get("Content-Range")
        .and_then(parse_content_range)
    {
        assert!(a <= b);
    }
    for (_, v) in &resp.headers.0 {
        let alts = parse_alt(v);
        assert!(alts.len() <= MAX_ALT);
        assert_eq!(parse_alt(&format_alt(&alts)), alts);
    }
    let headers: Vec<(&str, String)> = resp
        .headers
        .0
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()))
        .collect();
    let head = response_head(resp.code, &resp.reason, &headers);
    // Invalid UTF-8 in the head may have been replaced by longer text, and
    // our `Server:` is one header more.
    if head.len() > MAX_HEAD || resp.headers.0.len() >= MAX_HEADERS {
        return;
    }
    let (again, _) = parse_response(&head)
        .expect("what we write parses")
        .expect("and is complete");
    assert_eq!((again.code, &again.reason), (resp.code, &resp.reason));
    assert_eq!(&again.headers.0[1..], &resp.headers.0[..]);
});
