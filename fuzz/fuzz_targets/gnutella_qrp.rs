//! QRP route table updates as a leaf sends them: a sequence of payloads
//! (each prefixed here by a 2-byte little-endian length) decoded and applied
//! in order until one is refused. Nothing panics; each update encodes back
//! to itself; the receiver holds at most its largest table (2^20 slots, one
//! bit each), an inflater and twice the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_gnutella::proto::qrp::MAX_TABLE_BITS;
use swarmux_gnutella::proto::qrp_msg::{QrpReceiver, RouteTableUpdate};
use swarmux_net::alloc_meter::{measure, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fuzz_target!(|data: &[u8]| {
    let (receiver, held) = measure(|| {
        let mut receiver = QrpReceiver::new();
        let mut rest = data;
        while let [a, b, tail @ ..] = rest {
            let len = usize::from(u16::from_le_bytes([*a, *b])).min(tail.len());
            let (payload, next) = tail.split_at(len);
            rest = next;
            let Ok(update) = RouteTableUpdate::decode(payload) else {
                continue;
            };
            assert_eq!(
                RouteTableUpdate::decode(&update.encode()).as_ref(),
                Ok(&update)
            );
            if receiver.apply(&update).is_err() {
                break;
            }
            if let Some(t) = receiver.table() {
                assert!(t.bits() <= MAX_TABLE_BITS);
            }
        }
        receiver
    });
    let table = (1usize << MAX_TABLE_BITS) / 8;
    assert!(
        held.kept <= table + 64 * 1024 + 2 * data.len(),
        "{} bytes hold {held:?}",
        data.len()
    );
    drop(receiver);
});
