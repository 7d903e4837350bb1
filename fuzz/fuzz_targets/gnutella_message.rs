//! One descriptor payload of each type we decode (first input byte picks
//! the type: ping, pong, bye, route table update, push, query, query hit):
//! nothing panics, what decodes holds at most 16 times the payload plus
//! 32 KiB, and it encodes to a payload that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_gnutella::proto::descriptor::{self as d, Guid, Header};
use swarmux_gnutella::proto::message::Message;
use swarmux_net::alloc_meter::{measure, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const TYPES: [u8; 7] = [
    d::TYPE_PING,
    d::TYPE_PONG,
    d::TYPE_BYE,
    d::TYPE_ROUTE_TABLE,
    d::TYPE_PUSH,
    d::TYPE_QUERY,
    d::TYPE_QUERY_HIT,
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let header = Header {
        guid: Guid([7; 16]),
        payload_type: TYPES[usize::from(pick) % TYPES.len()],
        ttl: 3,
        hops: 1,
        payload_len: payload.len() as u32,
    };
    let (msg, held) = measure(|| Message::decode(&header, payload));
    assert!(
        held.kept <= 16 * payload.len() + 32 * 1024,
        "{} bytes of type {:#x} hold {held:?}",
        payload.len(),
        header.payload_type
    );
    let Ok(msg) = msg else {
        return;
    };
    let again = Message::decode(&header, &msg.encode()).expect("what we encode decodes");
    assert_eq!(again, msg);
});
