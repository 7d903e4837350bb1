//! Property tests: decoding arbitrary bytes never panics, and encode → decode
//! gives back what was encoded.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::bencode::strategy::value;
use super::bencode::Value;
use super::extension::{ExtHandshake, MetadataMsg};
use super::handshake::Handshake;
use super::magnet::Magnet;
use super::metainfo::{Info, Metainfo};
use super::pex::PexMessage;
use super::wire::{Message, MAX_BLOCK_LEN};
use super::{tracker_http, tracker_udp};

fn message() -> impl Strategy<Value = Message> {
    let data = proptest::collection::vec(any::<u8>(), 0..300).prop_map(Bytes::from);
    prop_oneof![
        Just(Message::KeepAlive),
        Just(Message::Choke),
        Just(Message::Unchoke),
        Just(Message::Interested),
        Just(Message::NotInterested),
        any::<u32>().prop_map(Message::Have),
        data.clone().prop_map(Message::Bitfield),
        (any::<u32>(), any::<u32>(), 1..=MAX_BLOCK_LEN).prop_map(|(index, begin, length)| {
            Message::Request {
                index,
                begin,
                length,
            }
        }),
        (any::<u32>(), any::<u32>(), data.clone())
            .prop_map(|(index, begin, data)| Message::Piece { index, begin, data }),
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| {
            Message::Cancel {
                index,
                begin,
                length,
            }
        }),
        any::<u16>().prop_map(Message::Port),
        any::<u32>().prop_map(Message::SuggestPiece),
        Just(Message::HaveAll),
        Just(Message::HaveNone),
        (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| {
            Message::RejectRequest {
                index,
                begin,
                length,
            }
        }),
        any::<u32>().prop_map(Message::AllowedFast),
        (any::<u8>(), data.clone()).prop_map(|(id, payload)| Message::Extended { id, payload }),
        (prop_oneof![10..=12u8, 18..=19u8, 21..=255u8], data)
            .prop_map(|(id, payload)| Message::Unknown { id, payload }),
    ]
}

/// Bytes that are sometimes bencode-shaped, so decoders get past the first byte.
fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        value().prop_map(|v| v.to_bytes()),
        (value(), proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(v, tail)| {
            let mut b = v.to_bytes();
            b.extend(tail);
            b
        }),
    ]
}

proptest! {
    #[test]
    fn decoders_never_panic(b in input()) {
        let _ = Metainfo::from_bytes(&b);
        let _ = Info::from_info_bytes(&b);
        let _ = ExtHandshake::decode(&b);
        let _ = MetadataMsg::decode(&Bytes::from(b.clone()));
        let _ = PexMessage::decode(&b);
        let _ = tracker_http::parse_announce_reply(&b);
        let _ = tracker_http::parse_scrape_reply(&b);
        let _ = tracker_udp::parse_connect_reply(&b, 0);
        let _ = tracker_udp::parse_announce_reply(&b, 0);
        let _ = tracker_udp::parse_scrape_reply(&b, 0);
        let _ = Handshake::decode(&b);
        let _ = Message::decode(&b);
        let _ = Message::decode_buf(&mut BytesMut::from(&b[..]));
        let _ = Magnet::parse(&String::from_utf8_lossy(&b));
    }

    #[test]
    fn wire_stream_round_trips(msgs in proptest::collection::vec(message(), 0..8)) {
        let mut buf = BytesMut::new();
        msgs.iter().for_each(|m| m.encode(&mut buf));
        for m in &msgs {
            let got = Message::decode_buf(&mut buf).unwrap();
            prop_assert_eq!(got.as_ref(), Some(m));
        }
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn info_dicts_of_any_shape_never_panic(v in value(), name in "[a-z./]{0,6}", pl in any::<i64>(), len in any::<i64>()) {
        let info = Value::dict([
            ("name", Value::from(name.as_str())),
            ("piece length", Value::Int(pl)),
            ("length", Value::Int(len)),
            ("pieces", Value::bytes(vec![0u8; 20])),
            ("files", Value::List(vec![v])),
        ]);
        let _ = Info::from_info_bytes(&info.to_bytes());
    }

    #[test]
    fn extension_round_trips(piece in any::<u32>(), size in 0..i64::MAX as u64, port in 1..=u16::MAX,
                             peers in proptest::collection::vec((any::<[u8; 4]>(), any::<u16>(), any::<u8>()), 0..50)) {
        let h = ExtHandshake::ours(Some(size), port, true);
        prop_assert_eq!(ExtHandshake::decode(&h.encode()).unwrap(), h);
        let m = MetadataMsg::Data { piece, total_size: size, data: Bytes::from(vec![1u8; 100]) };
        prop_assert_eq!(MetadataMsg::decode(&Bytes::from(m.encode())).unwrap(), m);
        let pex = PexMessage {
            added: peers.iter().map(|(ip, port, f)| (std::net::SocketAddrV4::new((*ip).into(), *port), *f)).collect(),
            dropped: vec![],
        };
        prop_assert_eq!(PexMessage::decode(&pex.encode()).unwrap(), pex);
    }

    #[test]
    fn magnet_round_trips(hash in any::<[u8; 20]>(), name in ".{0,20}", tr in proptest::collection::vec("[ -~]{1,30}", 0..3)) {
        let trackers: Vec<String> = tr.into_iter().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let m = Magnet { info_hash: hash, name: Some(name), trackers, peers: vec![] };
        prop_assert_eq!(Magnet::parse(&m.to_magnet()).unwrap(), m);
    }
}
