//! What a Gnutella neighbour sends after the handshake: a byte stream,
//! deflated or not (first input byte), cut into descriptors and decoded.
//! Nothing panics; the inflater hands out bounded pieces; the decoder
//! buffers at most one descriptor and one piece; a decoded descriptor holds
//! at most 16 times its payload plus 32 KiB (GGEP inflation budgets and
//! fixed costs); the deflate link round-trips the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarmux_gnutella::proto::descriptor::{DescriptorDecoder, DEFAULT_MAX_PAYLOAD, HEADER_LEN};
use swarmux_gnutella::proto::link::{Deflater, Inflater};
use swarmux_gnutella::proto::message::Message;
use swarmux_net::alloc_meter::{measure, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The most inflated bytes handed out at once (the node uses 64 KiB).
const PIECE: usize = 16 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    let deflated = mode & 1 == 1;
    let chunk = usize::from(mode >> 1).max(1) * 8;
    let mut inflater = Inflater::new();
    let mut decoder = DescriptorDecoder::new(DEFAULT_MAX_PAYLOAD);
    for bytes in stream.chunks(chunk) {
        let mut pieces = Vec::new();
        if deflated {
            inflater.feed(bytes);
            loop {
                match inflater.read(PIECE) {
                    Ok(p) if !p.is_empty() => {
                        assert!(p.len() <= PIECE);
                        pieces.push(p);
                    }
                    Ok(_) => break,
                    Err(_) => return,
                }
            }
        } else {
            pieces.push(bytes.to_vec());
        }
        for piece in pieces {
            decoder.feed(&piece);
            assert!(decoder.buffered() <= HEADER_LEN + DEFAULT_MAX_PAYLOAD + piece.len());
            loop {
                match decoder.next_descriptor() {
                    Ok(Some(d)) => {
                        let (msg, held) = measure(|| Message::decode(&d.header, &d.payload));
                        assert!(
                            held.kept <= 16 * d.payload.len() + 32 * 1024,
                            "{} payload bytes of type {:#x} hold {held:?}",
                            d.payload.len(),
                            d.header.payload_type
                        );
                        drop(msg);
                    }
                    Ok(None) => break,
                    Err(_) => return,
                }
            }
        }
    }

    // Whatever we send arrives intact.
    let mut deflater = Deflater::new();
    let mut inflater = Inflater::new();
    let mut got = Vec::new();
    for part in stream.chunks(chunk) {
        inflater.feed(&deflater.compress(part).expect("compresses"));
        loop {
            let p = inflater.read(PIECE).expect("our stream inflates");
            if p.is_empty() {
                break;
            }
            got.extend(p);
        }
    }
    assert_eq!(got, stream);
});
