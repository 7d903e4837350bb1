use proptest::prelude::*;

use super::*;

#[test]
fn decodes_every_kind() {
    let doc = decode(b"d3:agei-42e4:listl1:ai0ee4:name4:spame").unwrap();
    let v = doc.root();
    assert_eq!(v.get("age").and_then(|i| i.as_int()), Some(-42));
    assert_eq!(v.get("name").and_then(|i| i.as_str()), Some("spam"));
    assert_eq!(
        v.get("list").and_then(|i| i.as_list()).map(Iterator::count),
        Some(2)
    );
    assert_eq!(v.get("list").unwrap().raw(), b"l1:ai0ee");
    assert_eq!(
        v.to_value().to_bytes(),
        b"d3:agei-42e4:listl1:ai0ee4:name4:spame"
    );
    assert_eq!(doc.values(), 9);
}

#[test]
fn decodes_a_krpc_query() {
    let doc = decode(b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe").unwrap();
    let v = doc.root();
    assert_eq!(v.get(b"q").and_then(|i| i.as_bytes()), Some(&b"ping"[..]));
    assert_eq!(
        v.get("a").and_then(|a| a.get("id")).unwrap().raw(),
        b"3:abc"
    );
    assert_eq!(v.kind(), Kind::Dict);
    assert_eq!(
        v.to_value().to_bytes(),
        b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe"
    );
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
    assert_eq!(
        decode(b"d1:bi1e1:ai2e1:bi3ee"),
        Err(BencodeError::DuplicateKey(13))
    );
    assert_eq!(
        decode(b"i-9223372036854775808e").unwrap().root().as_int(),
        Some(i64::MIN)
    );
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
    // keys count too
    assert_eq!(
        decode_with(b"d1:ai1e1:bi2ee", limits),
        Err(BencodeError::TooMany(4))
    );
}

#[test]
fn prefix_leaves_raw_tail() {
    let (v, used) = decode_prefix(b"d1:xi1eeRAWDATA").unwrap();
    assert_eq!(v.root().get("x").and_then(|i| i.as_int()), Some(1));
    assert_eq!(used, 8);
}

#[test]
fn span_is_the_raw_bytes_even_when_unsorted() {
    // keys inside `info` are unsorted and unknown: the span must be verbatim
    let file = b"d8:announce3:url4:infod4:zzzzi1e4:aaaa1:xe7:comment0:e";
    let doc = decode(file).unwrap();
    let info = doc.root().get("info").unwrap();
    assert_eq!(info.raw(), b"d4:zzzzi1e4:aaaa1:xe");
    assert_eq!(&file[info.span()], info.raw());
    assert!(doc.root().get("nope").is_none());
    assert!(decode(b"d4:infoi1e4:infoi2ee").is_err());
    for nested in [&b"lllei1eee"[..], b"ld1:ald1:bleeeee", b"lleleldeee"] {
        assert_eq!(decode(nested).unwrap().root().raw(), nested);
    }
}

/// The attack inputs of the hardening issue, at 1 MiB (the bound is linear).
fn attacks() -> Vec<(&'static str, Vec<u8>)> {
    let wrap = |open: &[u8], unit: &[u8], n: usize| {
        let mut v = open.to_vec();
        (0..n).for_each(|_| v.extend_from_slice(unit));
        v.push(b'e');
        v
    };
    let n = 1 << 19;
    let mut nested = Vec::new();
    for _ in 0..n / (2 * MAX_DEPTH) {
        nested.extend(vec![b'l'; MAX_DEPTH - 1]);
        nested.extend(vec![b'e'; MAX_DEPTH - 1]);
    }
    vec![
        ("empty lists", wrap(b"l", b"le", n)),
        ("tiny dicts", wrap(b"l", b"de", n)),
        ("dicts of one entry", wrap(b"l", b"d0:lee", n / 3)),
        ("empty strings", wrap(b"l", b"0:", n)),
        ("zeros", wrap(b"l", b"i0e", n * 2 / 3)),
        ("deep nesting", [&b"l"[..], &nested, b"e"].concat()),
        ("empty keys", wrap(b"d", b"0:le", 1)),
    ]
}

#[test]
fn a_document_costs_at_most_four_bytes_per_input_byte() {
    for (name, input) in attacks() {
        let doc = decode(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            doc.heap_bytes() <= 4 * input.len(),
            "{name}: {} bytes for {}",
            doc.heap_bytes(),
            input.len()
        );
    }
}

#[test]
fn the_value_cap_holds_whatever_the_input_length() {
    let mut big = vec![b'l'];
    big.extend(b"le".repeat(MAX_VALUES));
    big.push(b'e');
    assert_eq!(decode(&big), Err(BencodeError::TooMany(MAX_VALUES)));
}

proptest! {
    #[test]
    fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(doc) = decode(&data) {
            prop_assert_eq!(doc.root().raw(), &data[..]);
            prop_assert!(doc.heap_bytes() <= 4 * data.len());
        }
        let _ = decode_prefix(&data);
    }

    #[test]
    fn round_trips(v in strategy::value()) {
        let bytes = v.to_bytes();
        let doc = decode(&bytes).unwrap();
        prop_assert_eq!(doc.root().to_value(), v.clone());
        prop_assert_eq!(doc.root().raw(), &bytes[..]);
        let (doc, used) = decode_prefix(&bytes).unwrap();
        prop_assert_eq!(doc.root().to_value(), v);
        prop_assert_eq!(used, bytes.len());
    }
}
