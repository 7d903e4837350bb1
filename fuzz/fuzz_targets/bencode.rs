//! The bencode decoder: never panics; a document costs at most 4 bytes per
//! input byte and its root spans the whole input; the canonical encoding of
//! what was decoded decodes back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_bencode::{decode, decode_prefix};

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = decode(data) {
        assert!(doc.heap_bytes() <= 4 * data.len());
        assert_eq!(doc.root().raw(), data);
        let value = doc.root().to_value();
        let canonical = value.to_bytes();
        let again = decode(&canonical).expect("the canonical form decodes");
        assert_eq!(again.root().to_value(), value);
        assert_eq!(again.root().raw(), &canonical[..]);
    }
    if let Ok((doc, used)) = decode_prefix(data) {
        assert!(used <= data.len());
        assert_eq!(doc.root().raw(), &data[..used]);
    }
});
