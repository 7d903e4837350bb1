//! The extension protocol (BEP 10 handshake), ut_metadata (BEP 9) and
//! ut_pex (BEP 11) payloads: decoding never panics and keeps its limits,
//! what decodes encodes to a payload that decodes the same, and metadata
//! pieces fed to an assembler never make it hold more than it announced.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use swarmux_bittorrent::proto::extension::{MAX_EXTENSIONS, METADATA_PIECE_LEN};
use swarmux_bittorrent::proto::pex::{MAX_PEX_RECEIVED, MAX_PEX_SENT};
use swarmux_bittorrent::proto::{ExtHandshake, MetadataAssembler, MetadataMsg, PexMessage};

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(h) = ExtHandshake::decode(payload) {
                assert!(h.extensions.len() <= MAX_EXTENSIONS);
                assert_eq!(ExtHandshake::decode(&h.encode()), Ok(h));
            }
        }
        1 => {
            let payload = Bytes::copy_from_slice(payload);
            if let Ok(m) = MetadataMsg::decode(&payload) {
                assert_eq!(MetadataMsg::decode(&Bytes::from(m.encode())), Ok(m.clone()));
                if let MetadataMsg::Data {
                    piece,
                    total_size,
                    data,
                } = m
                {
                    assert!(data.len() <= METADATA_PIECE_LEN);
                    // (a real assembler may hold up to MAX_INFO_BYTES; 1 MiB keeps runs fast)
                    if total_size <= 1 << 20 {
                        if let Ok(mut a) = MetadataAssembler::new([0; 20], total_size) {
                            let _ = a.add(piece, total_size, &data);
                            assert_eq!(a.size(), total_size);
                        }
                    }
                }
            }
        }
        _ => {
            if let Ok(p) = PexMessage::decode(payload) {
                assert!(p.added.len() <= MAX_PEX_RECEIVED && p.dropped.len() <= MAX_PEX_RECEIVED);
                if p.added.len() <= MAX_PEX_SENT && p.dropped.len() <= MAX_PEX_SENT {
                    assert_eq!(PexMessage::decode(&p.encode()), Ok(p));
                }
            }
        }
    }
});
