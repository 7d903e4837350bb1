//! The peer wire as a stream: the handshake, then frames fed in chunks of
//! arbitrary sizes (the first bytes of the input choose them). Decoding
//! never panics, never waits for a frame longer than the limit, and every
//! message decoded encodes to a frame that decodes to the same message.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use swarmux_bittorrent::proto::handshake::HANDSHAKE_LEN;
use swarmux_bittorrent::proto::wire::MAX_PAYLOAD_LEN;
use swarmux_bittorrent::proto::{Handshake, Message};

fuzz_target!(|data: &[u8]| {
    let (sizes, stream) = data.split_at(data.len().min(8));
    if let Ok(Some(hs)) = Handshake::decode(stream) {
        assert_eq!(Handshake::decode(&hs.encode()), Ok(Some(hs)));
    }
    let stream = stream
        .get(HANDSHAKE_LEN.min(stream.len())..)
        .unwrap_or_default();
    let mut buf = BytesMut::new();
    let mut rest = stream;
    let mut chunk = sizes.iter().map(|&b| usize::from(b) + 1).cycle();
    while !rest.is_empty() {
        let n = chunk.next().unwrap_or(64).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match Message::decode_buf(&mut buf) {
                Ok(Some(m)) => {
                    let frame = m.to_bytes();
                    let (again, used) = Message::decode(&frame).unwrap().unwrap();
                    assert_eq!(used, frame.len());
                    assert_eq!(again, m);
                }
                Ok(None) => {
                    // a frame still incomplete is never longer than the limit
                    if buf.len() >= 4 {
                        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                        assert!(len <= 1 + MAX_PAYLOAD_LEN);
                    }
                    break;
                }
                Err(_) => return,
            }
        }
    }
});
