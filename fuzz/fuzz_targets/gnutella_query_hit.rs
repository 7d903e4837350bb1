//! A query hit payload: decoding never panics, the decoded hit holds at
//! most 16 times the payload plus 32 KiB (its GGEP inflates only into the
//! hit's and each result's budget), and it encodes to a payload that
//! decodes to the same hit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_gnutella::proto::query_hit::QueryHit;
use swarmux_net::alloc_meter::{measure, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fuzz_target!(|data: &[u8]| {
    let (hit, held) = measure(|| QueryHit::decode(data));
    assert!(
        held.kept <= 16 * data.len() + 32 * 1024,
        "{} bytes hold {held:?}",
        data.len()
    );
    let Ok(hit) = hit else {
        return;
    };
    let again = QueryHit::decode(&hit.encode()).expect("what we encode decodes");
    assert_eq!(again, hit);
});
