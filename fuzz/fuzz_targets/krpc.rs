//! KRPC datagrams (BEP 5) and the DHT state file: decoding never panics,
//! keeps its limits, and what decodes encodes to a datagram that decodes to
//! the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_dht::proto::krpc::{Body, Message, MAX_NODES, MAX_PEERS};
use swarmux_dht::proto::state::SavedState;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        if let Body::Response(r) = &m.body {
            assert!(r.nodes.len() <= MAX_NODES && r.values.len() <= MAX_PEERS);
        }
        assert_eq!(Message::decode(&m.encode()), Ok(m));
    }
    if let Ok(s) = SavedState::decode(data) {
        assert_eq!(SavedState::decode(&s.encode()), Ok(s));
    }
});
