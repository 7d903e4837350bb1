//! A client↔client byte stream (eDonkey, eMule-extended and zlib-packed
//! frames): decoding never panics, and a decoded message encodes to bytes
//! that decode to a message encoding to the same bytes.
#![no_main]

#[path = "ed2k/stream.rs"]
mod stream;

use libfuzzer_sys::fuzz_target;
use swarmux_ed2k::proto::{FrameDecoder, PeerMessage};

fuzz_target!(|data: &[u8]| {
    stream::frames(data, FrameDecoder::for_peer_link(stream::MAX_FRAME), |f| {
        if let Ok(m) = PeerMessage::decode(&f) {
            let once = m.encode();
            let again = PeerMessage::decode(&once).expect("an encoded message decodes");
            assert_eq!(again.encode(), once);
        }
    });
});
