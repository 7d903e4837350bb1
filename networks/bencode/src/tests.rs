use proptest::prelude::*;

use super::*;

#[test]
fn decodes_every_kind() {
    let v = decode(b"d3:agei-42e4:listl1:ai0ee4:name4:spame").unwrap();
    assert_eq!(v.get("age").and_then(Value::as_int), Some(-42));
    assert_eq!(v.get("name").and_then(Value::as_str), Some("spam"));
    assert_eq!(
        v.get("list").and_then(Value::as_list).map(|l| l.len()),
        Some(2)
    );
    assert_eq!(v.to_bytes(), b"d3:agei-42e4:listl1:ai0ee4:name4:spame");
}

#[test]
fn decodes_a_krpc_query() {
    let v = decode(b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe").unwrap();
    let d = v.as_dict().unwrap();
    assert_eq!(d[&b"q"[..]].as_bytes(), Some(&b"ping"[..]));
    assert_eq!(v.to_bytes(), b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe");
}

#[test]
fn encoder_sorts_keys() {
    let v = Value::dict([("zz", Value::from(1)), ("a", Value::from("x"))]);
    assert_eq!(v.to_bytes(), b"d1:a1:x2:zzi1ee");
}

#[test]
fn refuses_malformed_input() {
    for bad in [
        &b""[..],
        b"i12",
        b"i-0e",
        b"ie",
        b"i-e",
        b"i1x2e",
        b"5:abc",
        b"l",
        b"d1:ae",
        b"di1ei2ee",
        b"x",
        b"99999999999999999999999:a",
        b"i99999999999999999999e",
        b"d1:ai1e1:ai2ee",
    ] {
        assert!(decode(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(decode(b"i12"), Err(BencodeError::Truncated(3)));
    assert_eq!(decode(b"i1ei2e"), Err(BencodeError::Trailing(3)));
}

#[test]
fn limits_depth() {
    let nested = |n: usize| {
        let mut v = vec![b'l'; n];
        v.extend(vec![b'e'; n]);
        v
    };
    assert!(decode(&nested(MAX_DEPTH)).is_ok());
    assert_eq!(
        decode(&nested(MAX_DEPTH + 1)),
        Err(BencodeError::TooDeep(MAX_DEPTH))
    );
    let tight = Limits {
        max_depth: 8,
        max_values: 2048,
    };
    assert!(decode_with(&nested(8), tight).is_ok());
    assert_eq!(
        decode_with(&[b'l'; 100], tight),
        Err(BencodeError::TooDeep(8))
    );
}

#[test]
fn limits_value_count() {
    let limits = Limits {
        max_depth: 8,
        max_values: 4,
    };
    assert!(decode_with(b"li1ei2ei3ee", limits).is_ok());
    assert_eq!(
        decode_with(b"li1ei2ei3ei4ee", limits),
        Err(BencodeError::TooMany(4))
    );
}

#[test]
fn prefix_leaves_raw_tail() {
    let (v, used) = decode_prefix(b"d1:xi1eeRAWDATA").unwrap();
    assert_eq!(v.get("x").and_then(Value::as_int), Some(1));
    assert_eq!(used, 8);
}

#[test]
fn span_is_the_raw_bytes_even_when_unsorted() {
    // keys inside `info` are unsorted and unknown: the span must be verbatim
    let file = b"d8:announce3:url4:infod4:zzzzi1e4:aaaa1:xe7:comment0:e";
    let span = dict_value_span(file, b"info").unwrap().unwrap();
    assert_eq!(&file[span], b"d4:zzzzi1e4:aaaa1:xe");
    assert_eq!(dict_value_span(file, b"nope").unwrap(), None);
    assert_eq!(dict_value_span(b"le", b"info"), Err(BencodeError::NotDict));
    assert!(dict_value_span(b"d4:infoi1e4:infoi2ee", b"info").is_err());
    assert!(dict_value_span(b"d4:infoi1ee ", b"info").is_err());
}

proptest! {
    #[test]
    fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&data);
        let _ = decode_prefix(&data);
        let _ = dict_value_span(&data, b"info");
    }

    #[test]
    fn round_trips(v in strategy::value()) {
        let bytes = v.to_bytes();
        prop_assert_eq!(decode(&bytes), Ok(v.clone()));
        prop_assert_eq!(decode_prefix(&bytes), Ok((v, bytes.len())));
    }
}
