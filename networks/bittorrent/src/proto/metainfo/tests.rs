//! Tests of .torrent parsing: real-world shapes, path safety, size checks.

use super::*;
use crate::proto::bencode::Value;

fn info_dict(extra: &[(&str, Value)], files: Option<Value>) -> Value {
    let mut entries = vec![
        ("name", Value::from("movie")),
        ("piece length", Value::Int(16384)),
        ("pieces", Value::bytes(vec![7u8; 40])),
    ];
    match files {
        Some(f) => entries.push(("files", f)),
        None => entries.push(("length", Value::Int(20000))),
    }
    entries.extend(extra.iter().cloned());
    Value::dict(entries)
}

fn file(path: &[&str], length: i64) -> Value {
    Value::dict([
        ("length", Value::Int(length)),
        (
            "path",
            Value::List(path.iter().map(|p| Value::from(*p)).collect()),
        ),
    ])
}

#[test]
fn single_file_with_unsorted_unknown_keys_hashes_raw_span() {
    let canonical = info_dict(&[], None).to_bytes();
    // the same dict written with an unknown key first and keys unsorted
    let mut raw = b"d1:zi9e".to_vec();
    raw.extend_from_slice(&canonical[1..]);
    let mut file = b"d8:announce19:http://t.example/an4:info".to_vec();
    file.extend_from_slice(&raw);
    file.extend_from_slice(b"7:comment2:hie");
    let m = Metainfo::from_bytes(&file).unwrap();
    let expected: [u8; 20] = Sha1::digest(&raw).into();
    assert_eq!(m.info_hash(), expected);
    assert_ne!(m.info_hash(), <[u8; 20]>::from(Sha1::digest(&canonical)));
    assert_eq!(m.info.info_bytes, raw);
    assert_eq!(m.trackers, vec![vec!["http://t.example/an".to_string()]]);
    assert_eq!(m.info.name, "movie");
    assert_eq!(m.info.total_length, 20000);
    assert_eq!(m.info.piece_size(0), 16384);
    assert_eq!(m.info.piece_size(1), 20000 - 16384);
    assert_eq!(m.info.piece_size(2), 0);
    assert!(!m.info.multi_file);
    assert_eq!(
        m.info.relative_path(&m.info.files[0]),
        PathBuf::from("movie")
    );
}

#[test]
fn multi_file_offsets_tiers_and_padding() {
    let mut pad = file(&[".pad", "1"], 4000);
    if let Value::Dict(d) = &mut pad {
        d.insert(b"attr".to_vec(), Value::from("p"));
    }
    let files = Value::List(vec![file(&["a", "b.txt"], 10000), pad, file(&["c"], 6000)]);
    let info = info_dict(&[("private", Value::Int(1))], Some(files));
    let top = Value::dict([
        ("announce", Value::from("http://ignored/")),
        (
            "announce-list",
            Value::List(vec![
                Value::List(vec![Value::from("udp://a:1"), Value::from("http://b/")]),
                Value::List(vec![]),
                Value::List(vec![Value::from("http://c/")]),
            ]),
        ),
        ("info", info),
    ]);
    let m = Metainfo::from_bytes(&top.to_bytes()).unwrap();
    let offsets: Vec<u64> = m.info.files.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, vec![0, 10000, 14000]);
    assert!(m.info.files[1].padding && !m.info.files[0].padding);
    assert!(m.info.private && m.info.multi_file);
    assert_eq!(m.trackers.len(), 2);
    assert_eq!(m.trackers[0], vec!["udp://a:1", "http://b/"]);
    assert_eq!(
        m.info.relative_path(&m.info.files[0]),
        PathBuf::from("movie/a/b.txt")
    );
}

#[test]
fn transmission_created_torrent() {
    // made by transmission-create 3.00; info-hash as transmission-show prints it
    let m = Metainfo::from_bytes(include_bytes!("../testdata/transmission_multi.torrent")).unwrap();
    assert_eq!(
        hex::encode(m.info_hash()),
        "835b070f43bb753fe087a39378c7247b379201af"
    );
    assert_eq!((m.info.name.as_str(), m.info.piece_length), ("dir", 32768));
    assert_eq!(m.info.files[1].path, vec!["sub", "b.bin"]);
    assert_eq!((m.info.total_length, m.info.num_pieces()), (370_000, 12));
}

#[test]
fn unknown_nested_keys_are_ignored() {
    // v2 hybrid-shaped: a `file tree` and `meta version` beside the v1 keys
    let tree = Value::dict([(
        "movie",
        Value::dict([("", Value::dict([("length", Value::Int(20000))]))]),
    )]);
    let extra = [
        ("file tree", tree),
        ("meta version", Value::Int(2)),
        ("x-list", Value::List(vec![Value::List(vec![])])),
    ];
    let info = Info::from_info_bytes(&info_dict(&extra, None).to_bytes()).unwrap();
    assert_eq!(info.total_length, 20000);
}

#[test]
fn refuses_paths_that_leave_the_folder() {
    for bad in [
        &["..", "etc", "passwd"][..],
        &["a", ""],
        &["."],
        &["a/b"],
        &["a\\b"],
        &["C:", "x"],
        &["c:evil"],
        &["nul\0"],
    ] {
        let top = Value::dict([(
            "info",
            info_dict(&[], Some(Value::List(vec![file(bad, 20000)]))),
        )]);
        let err = Metainfo::from_bytes(&top.to_bytes()).unwrap_err();
        assert!(
            matches!(err, MetainfoError::UnsafePath(_)),
            "{bad:?}: {err}"
        );
    }
    let top = Value::dict([(
        "info",
        info_dict(
            &[],
            Some(Value::List(vec![file(&["..", "etc", "passwd"], 20000)])),
        ),
    )]);
    let err = Metainfo::from_bytes(&top.to_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"torrent file path "../etc/passwd" leaves the download folder"#
    );
    let top = Value::dict([("info", info_dict(&[("name", Value::from(".."))], None))]);
    assert!(matches!(
        Metainfo::from_bytes(&top.to_bytes()),
        Err(MetainfoError::UnsafePath(_))
    ));
}

#[test]
fn refuses_inconsistent_sizes() {
    let check = |info: Value| Info::from_info_bytes(&info.to_bytes()).unwrap_err();
    let wrong_count = info_dict(&[("pieces", Value::bytes(vec![0u8; 60]))], None);
    assert!(matches!(
        check(wrong_count),
        MetainfoError::PieceCount { .. }
    ));
    let zero_pl = info_dict(&[("piece length", Value::Int(0))], None);
    assert_eq!(check(zero_pl), MetainfoError::BadPieceLength(0));
    let huge_pl = info_dict(&[("piece length", Value::Int(1 << 40))], None);
    assert!(matches!(check(huge_pl), MetainfoError::BadPieceLength(_)));
    let overflow = Value::List(vec![file(&["a"], i64::MAX), file(&["b"], i64::MAX)]);
    assert_eq!(
        check(info_dict(&[], Some(overflow))),
        MetainfoError::LengthOverflow
    );
    let negative = info_dict(&[("length", Value::Int(-1))], None);
    assert!(matches!(check(negative), MetainfoError::Invalid(_)));
    let empty = info_dict(
        &[("length", Value::Int(0)), ("pieces", Value::bytes(vec![]))],
        None,
    );
    assert_eq!(check(empty), MetainfoError::Empty);
    let mut no_pieces = info_dict(&[], None);
    if let Value::Dict(d) = &mut no_pieces {
        d.remove(&b"pieces"[..]);
    }
    assert_eq!(check(no_pieces), MetainfoError::V2Only);
    assert_eq!(
        Metainfo::from_bytes(b"de").unwrap_err(),
        MetainfoError::MissingInfo
    );
}
