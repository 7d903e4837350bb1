use super::*;
use crate::proto::huge::Sha1Urn;
use crate::proto::qrp::hash;
use proptest::prelude::*;

fn patch(no: u8, size: u8, compressor: u8, bits: u8, data: &[u8]) -> RouteTableUpdate {
    RouteTableUpdate::Patch {
        seq_no: no,
        seq_size: size,
        compressor,
        entry_bits: bits,
        data: data.to_vec(),
    }
}

fn present(r: &QrpReceiver) -> Vec<usize> {
    let t = r.table().unwrap();
    (0..t.slots()).filter(|&i| t.is_set(i)).collect()
}

#[test]
fn one_and_two_bit_patches_like_gtk_gnutella_accepts() {
    let reset = RouteTableUpdate::Reset {
        table_len: 16,
        infinity: 2,
    };
    // 2-bit entries (sign bit high): slot 1 -1 (present), slot 5 -2.
    let mut r = QrpReceiver::new();
    r.apply(&reset).unwrap();
    r.apply(&patch(1, 1, 0, 2, &[0b0011_0000, 0b0010_0000, 0, 0]))
        .unwrap();
    assert_eq!(present(&r), vec![1, 5]);
    // Then +1 on slot 1 brings it back to infinity.
    r.apply(&patch(1, 1, 0, 2, &[0b0001_0000, 0, 0, 0]))
        .unwrap();
    assert_eq!(present(&r), vec![5]);
    // 1-bit entries flip: slots 0 and 15 on, then slot 0 off again.
    let mut r = QrpReceiver::new();
    r.apply(&reset).unwrap();
    r.apply(&patch(1, 1, 0, 1, &[0b1000_0000, 0b0000_0001]))
        .unwrap();
    assert_eq!(present(&r), vec![0, 15]);
    r.apply(&patch(1, 1, 0, 1, &[0b1000_0000, 0])).unwrap();
    assert_eq!(present(&r), vec![15]);
    // A 1-bit patch too short for the table is incomplete.
    let mut r = QrpReceiver::new();
    r.apply(&reset).unwrap();
    assert_eq!(r.apply(&patch(1, 1, 0, 1, &[0])), Err(QrpError::Incomplete));
    // 3 bits per entry is nobody's format.
    let mut r = QrpReceiver::new();
    r.apply(&reset).unwrap();
    assert!(matches!(
        r.apply(&patch(1, 1, 0, 3, &[0; 6])),
        Err(QrpError::Unsupported(_))
    ));
}

#[test]
fn spec_appendix_b_examples() {
    // RESET {tableSize: 8, Infinity: 7}, byte for byte.
    let reset = RouteTableUpdate::decode(&[0, 8, 0, 0, 0, 7]).unwrap();
    assert_eq!(
        reset,
        RouteTableUpdate::Reset {
            table_len: 8,
            infinity: 7
        }
    );
    assert_eq!(reset.encode(), vec![0, 8, 0, 0, 0, 7]);
    // Example 1: 8-bit entries, "test" (slot 2) then "qrp" then "test" removed.
    // The spec's text says "qrp" hashes to 7 (it does), but its example bytes
    // put it in slot 6: we follow the bytes.
    let mut r = QrpReceiver::new();
    r.apply(&reset).unwrap();
    assert!(r.table().is_none(), "no table before the first patch");
    let p = RouteTableUpdate::decode(&[1, 1, 1, 0, 8, 0, 0, 0xfa, 0, 0, 0, 0, 0]).unwrap();
    r.apply(&p).unwrap();
    assert_eq!(present(&r), vec![2]);
    r.apply(&patch(1, 1, 0, 8, &[0, 0, 0, 0, 0, 0, 0xfa, 0]))
        .unwrap();
    assert_eq!(present(&r), vec![2, 6]);
    r.apply(&patch(1, 1, 0, 8, &[0, 0, 6, 0, 0, 0, 0, 0]))
        .unwrap();
    assert_eq!(present(&r), vec![6]);
    // Example 4: 4-bit entries, zlib-compressed.
    let mut r = QrpReceiver::new();
    r.apply(&reset).unwrap();
    let z = |d: &[u8]| patch(1, 1, 1, 4, d);
    r.apply(&z(&[
        0x78, 0x9c, 0x63, 0x58, 0xc0, 0xc0, 0, 0, 1, 0xe4, 0, 0xa1,
    ]))
    .unwrap();
    assert_eq!(present(&r), vec![2]);
    r.apply(&z(&[
        0x78, 0x9c, 0x63, 0x60, 0x60, 0x58, 0, 0, 0, 0xa4, 0, 0xa1,
    ]))
    .unwrap();
    assert_eq!(present(&r), vec![2, 6]);
    r.apply(&z(&[
        0x78, 0x9c, 0x63, 0x48, 0x60, 0x60, 0, 0, 1, 0x24, 0, 0x61,
    ]))
    .unwrap();
    assert_eq!(present(&r), vec![6]);
    // Example 5: split into two messages and compressed.
    let mut r = QrpReceiver::new();
    r.apply(&reset).unwrap();
    r.apply(&patch(
        1,
        2,
        1,
        4,
        &[0x78, 0x9c, 0x63, 0x58, 0xc0, 0xc0, 0, 0, 1, 0xe4],
    ))
    .unwrap();
    assert!(r.table().is_none(), "sequence not finished");
    r.apply(&patch(2, 2, 1, 4, &[0, 0xa1])).unwrap();
    assert_eq!(present(&r), vec![2]);
}

#[test]
fn leaf_table_round_trip_through_reset_and_compressed_patches() {
    let mut leaf = QrpTable::new(16);
    for (i, name) in [
        "Ubuntu 24.04 desktop amd64.iso",
        "debian-12.5.0-amd64-netinst.iso",
        "Big Buck Bunny 1080p.mkv",
    ]
    .iter()
    .enumerate()
    {
        leaf.add_file(name, Some(&Sha1Urn([i as u8; 20])));
    }
    let msgs = table_update(&leaf, None);
    assert!(matches!(
        msgs[0],
        RouteTableUpdate::Reset {
            table_len: 65536,
            infinity: 2
        }
    ));
    assert!(msgs[1..].iter().all(|m| matches!(
        m,
        RouteTableUpdate::Patch {
            compressor: 1,
            entry_bits: 4,
            ..
        }
    )));
    let mut up = QrpReceiver::new();
    for m in &msgs {
        up.apply(&RouteTableUpdate::decode(&m.encode()).unwrap())
            .unwrap();
    }
    assert_eq!(up.table(), Some(&leaf));
    assert!(up.table().unwrap().matches("bunny 1080p", &[]));
    assert!(up.table().unwrap().matches("", &[Sha1Urn([1; 20])]));
    assert!(!up.table().unwrap().matches("windows", &[]));
    // An incremental update: only patches, then nothing when unchanged.
    let mut newer = leaf.clone();
    newer.add_file("Sintel.2010.1080p.mkv", None);
    let msgs = table_update(&newer, Some(&leaf));
    assert!(msgs
        .iter()
        .all(|m| matches!(m, RouteTableUpdate::Patch { .. })));
    for m in &msgs {
        up.apply(m).unwrap();
    }
    assert_eq!(up.table(), Some(&newer));
    assert!(table_update(&newer, Some(&newer)).is_empty());
}

#[test]
fn oversized_tables_are_folded() {
    // A 2^22-slot table with one keyword, sent uncompressed in 8-bit entries.
    let slots = 1usize << 22;
    let slot = hash("sintel", 22) as usize;
    let mut raw = vec![0u8; slots];
    raw[slot] = 0xFF;
    let mut r = QrpReceiver::new();
    r.apply(&RouteTableUpdate::Reset {
        table_len: slots as u32,
        infinity: 2,
    })
    .unwrap();
    let chunk = slots.div_ceil(255);
    let n = slots.div_ceil(chunk) as u8;
    for (i, piece) in raw.chunks(chunk).enumerate() {
        r.apply(&patch(i as u8 + 1, n, 0, 8, piece)).unwrap();
    }
    let t = r.table().unwrap();
    assert_eq!(t.bits(), MAX_TABLE_BITS);
    assert_eq!(t.count_set(), 1);
    assert!(t.matches("Sintel", &[]));
}

#[test]
fn broken_updates_are_errors() {
    let mut r = QrpReceiver::new();
    assert_eq!(r.apply(&patch(1, 1, 0, 4, &[0; 4])), Err(QrpError::NoReset));
    for len in [0, 7, 12, 1 << 25] {
        assert_eq!(
            r.apply(&RouteTableUpdate::Reset {
                table_len: len,
                infinity: 2
            }),
            Err(QrpError::BadLength(len))
        );
    }
    let reset = RouteTableUpdate::Reset {
        table_len: 8,
        infinity: 2,
    };
    r.apply(&reset).unwrap();
    assert!(matches!(
        r.apply(&patch(2, 2, 0, 4, &[0; 2])),
        Err(QrpError::Sequence { .. })
    ));
    assert!(matches!(
        r.apply(&patch(1, 1, 0, 5, &[0; 2])),
        Err(QrpError::Unsupported(_))
    ));
    assert!(matches!(
        r.apply(&patch(1, 1, 7, 4, &[0; 2])),
        Err(QrpError::Unsupported(_))
    ));
    assert_eq!(
        r.apply(&patch(1, 1, 0, 4, &[0; 5])),
        Err(QrpError::Overflow)
    );
    r.apply(&reset).unwrap();
    assert_eq!(
        r.apply(&patch(1, 1, 0, 4, &[0; 3])),
        Err(QrpError::Incomplete)
    );
    r.apply(&reset).unwrap();
    assert!(matches!(
        r.apply(&patch(1, 1, 1, 4, b"not zlib")),
        Err(QrpError::Corrupt(_))
    ));
    assert!(RouteTableUpdate::decode(&[9]).is_err());
    assert!(RouteTableUpdate::decode(&[0, 1]).is_err());
}

proptest! {
    #[test]
    fn arbitrary_updates_never_panic(msgs in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..40), 0..12)) {
        let mut r = QrpReceiver::new();
        r.apply(&RouteTableUpdate::Reset { table_len: 64, infinity: 2 }).unwrap();
        for m in msgs {
            if let Ok(u) = RouteTableUpdate::decode(&m) {
                if !matches!(u, RouteTableUpdate::Reset { table_len, .. } if table_len > 1 << 16) {
                    let _ = r.apply(&u);
                }
            }
        }
    }
}
