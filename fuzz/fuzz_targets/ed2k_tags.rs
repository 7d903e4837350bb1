//! ed2k tag lists (old- and new-style): decoding never panics, a decoded
//! list encodes (either style) to bytes that decode to the same encoding,
//! and what decodes is at most three times its input once re-encoded
//! (a 3-byte compact tag takes 7 bytes old-style).
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_ed2k::proto::tag::{decode_tags, encode_tags, Tag, TagEncoding};
use swarmux_ed2k::proto::Reader;

fn encoded(tags: &[Tag], enc: TagEncoding) -> Vec<u8> {
    let mut v = Vec::new();
    encode_tags(&mut v, tags, enc);
    v
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let Ok(tags) = decode_tags(&mut r) else {
        return;
    };
    let used = r.position();
    for enc in [TagEncoding::Old, TagEncoding::New] {
        let once = encoded(&tags, enc);
        if enc == TagEncoding::Old {
            assert!(once.len() <= 3 * used + 4, "{} from {used}", once.len());
        }
        let again = decode_tags(&mut Reader::new(&once)).expect("encoded tags decode");
        assert_eq!(encoded(&again, enc), once);
    }
});
