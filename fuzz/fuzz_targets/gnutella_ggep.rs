//! A GGEP block: decoding never panics, deflated data inflates only into
//! the budget, what a decoded block holds is at most 4 times its size plus
//! the budget plus the records of `MAX_EXTENSIONS` extensions (a block of
//! empty extensions is 3 bytes per record of 48 and an id), and the extensions encode (with and without COBS) to a block
//! that decodes to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_gnutella::proto::ggep::{decode_block, encode_block, Extension, MAGIC, MAX_EXTENSIONS};
use swarmux_net::alloc_meter::{measure, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The budget of a pong, the largest one a single block gets.
const BUDGET: usize = 4 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.first() != Some(&MAGIC) {
        return;
    }
    let mut budget = BUDGET;
    let (decoded, held) = measure(|| decode_block(data, &mut budget));
    let inflated = BUDGET - budget;
    // Each record: the struct, and an id of at most 15 bytes.
    let records = MAX_EXTENSIONS * (std::mem::size_of::<Extension>() + 15);
    assert!(
        held.kept <= 4 * data.len() + inflated + records + 1024,
        "{} bytes hold {held:?} ({inflated} inflated)",
        data.len()
    );
    let Ok((exts, used)) = decoded else {
        return;
    };
    assert!(used <= data.len());
    for cobs in [false, true] {
        let block = encode_block(&exts, cobs);
        if exts.is_empty() {
            assert!(block.is_empty());
            continue;
        }
        if cobs {
            assert!(!block.contains(&0), "a COBS block holds no NUL");
        }
        let (again, used) = decode_block(&block, &mut 0).expect("what we encode decodes");
        assert_eq!(used, block.len());
        assert_eq!(again, exts);
    }
});
