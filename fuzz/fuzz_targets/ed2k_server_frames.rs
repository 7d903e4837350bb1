//! A client↔server byte stream (plain and zlib-packed frames) decoded both
//! ways, as a client reads a server and a server reads a client: decoding
//! never panics, and a decoded message encodes to bytes that decode to a
//! message encoding to the same bytes.
#![no_main]

#[path = "ed2k/stream.rs"]
mod stream;

use libfuzzer_sys::fuzz_target;
use swarmux_ed2k::proto::{ClientToServer, FrameDecoder, ServerToClient};

fuzz_target!(|data: &[u8]| {
    stream::frames(
        data,
        FrameDecoder::for_server_link(stream::MAX_FRAME),
        |f| {
            if let Ok(m) = ServerToClient::decode(&f) {
                let once = m.encode();
                let again = ServerToClient::decode(&once).expect("an encoded message decodes");
                assert_eq!(again.encode(), once);
            }
            if let Ok(m) = ClientToServer::decode(&f) {
                let once = m.encode();
                let again = ClientToServer::decode(&once).expect("an encoded message decodes");
                assert_eq!(again.encode(), once);
            }
        },
    );
});
