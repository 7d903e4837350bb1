//! Per-file selection, refused paths, and resuming from the engine's state.

mod common;

use common::*;
use std::time::Duration;
use swarmux_bittorrent::proto::bencode::Value;
use swarmux_net::{ContentHash, DownloadSpec, FilePriority, NetCommand, NetEvent, Network};

/// A multi-file torrent with its middle file skipped: the others complete
/// and the skipped one is never created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipped_file_is_not_downloaded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("seed/album");
    std::fs::create_dir_all(&root).unwrap();
    let files = [
        ("a.bin", 3 << 20),
        ("b.bin", 2 << 20),
        ("c.bin", (1 << 20) + 7),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        std::fs::write(root.join(name), pseudo_random(*len, i as u32 + 10)).unwrap();
    }
    let mut seed = start_node(&dir.path().join("seed-data"), None).await;
    let tracker = http_tracker(vec![([127, 0, 0, 1], seed.port).into()]).await;
    let (torrent, mi) = make_torrent(&root, 64 << 10, &[&tracker]);
    let link = torrent.display().to_string();
    seed.send(NetCommand::Seed(spec(1, &mi, link.clone(), &root)));
    until_seeding(&mut seed.events, 1).await;

    let mut leech = start_node_limited(&dir.path().join("leech"), None, 4 << 20).await;
    let temp = dir.path().join("leech/temp/7.part");
    let id = 7;
    leech.send(NetCommand::StartDownload(spec(id, &mi, link, &temp)));
    wait_for(&mut leech.events, 30, |e| {
        matches!(e, NetEvent::DownloadMeta { id: i, .. } if *i == id).then_some(())
    })
    .await;
    leech.send(NetCommand::SetFilePriority {
        id,
        file: 1,
        priority: FilePriority::Skip,
    });
    let events = until_completed(&mut leech.events, id, 60).await;
    assert!(events
        .iter()
        .any(|e| matches!(e, NetEvent::Files { files, .. }
        if files[1].priority == FilePriority::Skip && files[0].done == files[0].size)));
    for (i, (name, len)) in files.iter().enumerate() {
        let got = temp.join(name);
        if i == 1 {
            assert!(!got.exists(), "the skipped file was created");
        } else {
            assert!(std::fs::read(&got).unwrap() == pseudo_random(*len, i as u32 + 10));
        }
    }
}

/// A .torrent whose file path climbs out of the download folder is refused
/// with the metainfo error, and nothing is written.
#[tokio::test]
async fn torrent_with_parent_path_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let info = Value::dict([
        ("name", Value::from("evil")),
        ("piece length", Value::Int(16384)),
        ("pieces", Value::bytes(vec![0u8; 20])),
        (
            "files",
            Value::List(vec![Value::dict([
                ("length", Value::Int(10)),
                (
                    "path",
                    Value::List(vec![Value::from(".."), Value::from("x")]),
                ),
            ])]),
        ),
    ]);
    let path = dir.path().join("evil.torrent");
    std::fs::write(&path, Value::dict([("info", info)]).to_bytes()).unwrap();
    let net = swarmux_bittorrent::BitTorrentNetwork::new(Default::default());
    assert!(net.handles_link(&path.display().to_string()));
    let err = net.parse_link(&path.display().to_string()).unwrap_err();
    assert!(
        err.contains(r#"torrent file path "../x" leaves the download folder"#),
        "{err}"
    );

    let mut node = start_node(&dir.path().join("data"), None).await;
    let temp = dir.path().join("dl/temp/3.part");
    std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
    node.send(NetCommand::StartDownload(DownloadSpec {
        id: 3,
        name: "evil".into(),
        size: 10,
        hash: ContentHash::BtInfo([1; 20]),
        link: path.display().to_string(),
        temp_path: temp.clone(),
        verified: vec![],
        meta: None,
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let reason = loop {
        match tokio::time::timeout_at(deadline, node.events.recv()).await {
            Ok(Some(NetEvent::Failed { id: 3, reason })) => break reason,
            Ok(Some(_)) => {}
            _ => panic!("no Failed event"),
        }
    };
    assert!(
        reason.contains(r#"torrent file path "../x" leaves the download folder"#),
        "{reason}"
    );
    assert!(!temp.exists());
    assert!(!dir.path().join("dl/temp/x").exists() && !dir.path().join("dl/x").exists());
}

/// A download stopped midway resumes from the verified pieces it reported:
/// the second run verifies exactly the pieces the first did not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_fetches_only_missing_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let data = pseudo_random(6 << 20, 3);
    let src = dir.path().join("seed/file.bin");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, &data).unwrap();
    let mut seed = start_node(&dir.path().join("seed-data"), None).await;
    let (torrent, mi) = make_torrent(&src, 64 << 10, &[]);
    let n = mi.info.num_pieces();
    seed.send(NetCommand::Seed(spec(
        1,
        &mi,
        torrent.display().to_string(),
        &src,
    )));
    until_seeding(&mut seed.events, 1).await;

    let temp = dir.path().join("leech/temp/9.part");
    std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
    let link = magnet(&mi, &[seed.port]);
    let mut first = start_node_limited(&dir.path().join("leech"), None, 2 << 20).await;
    first.send(NetCommand::StartDownload(spec(9, &mi, link.clone(), &temp)));
    let mut meta = None;
    let mut done: Vec<usize> = Vec::new();
    wait_for(&mut first.events, 30, |e| {
        match e {
            NetEvent::DownloadMeta { meta: m, .. } => meta = Some(m.clone()),
            NetEvent::PartsVerified { parts, .. } => done.extend(parts),
            _ => {}
        }
        (done.len() >= 8).then_some(())
    })
    .await;
    first.send(NetCommand::PauseDownload(9));
    first.send(NetCommand::Shutdown);
    // Reports sent while stopping still count.
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(3), first.events.recv()).await
    {
        if let NetEvent::PartsVerified { parts, .. } = e {
            done.extend(parts);
        }
    }
    assert!(done.len() < n, "the first run finished everything");

    let mut verified = vec![false; n];
    for p in &done {
        verified[*p] = true;
    }
    let mut second = start_node(&dir.path().join("leech2"), None).await;
    let mut s = spec(9, &mi, link, &temp);
    s.verified = verified;
    s.meta = meta;
    second.send(NetCommand::StartDownload(s));
    let events = until_completed(&mut second.events, 9, 60).await;
    let again = verified_parts(&events, 9);
    let mut all: Vec<usize> = done.iter().copied().chain(again.iter().copied()).collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..n).collect::<Vec<_>>(),
        "pieces verified twice or never"
    );
    assert!(std::fs::read(&temp).unwrap() == data);
}

/// A torrent with a BEP 47 padding file between two files, so that pieces
/// straddle it: the seed has no padding file on disk (its bytes read as
/// zeros), the leech never writes one, and the file list leaves it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn padding_files_are_never_written() {
    use sha1::{Digest, Sha1};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("seed/padded");
    std::fs::create_dir_all(&root).unwrap();
    let piece = 64u64 << 10;
    let a = pseudo_random(100_000, 31);
    let pad = piece * 2 - a.len() as u64; // `b` starts on a piece boundary
    let b = pseudo_random(150_000, 32);
    std::fs::write(root.join("a.bin"), &a).unwrap();
    std::fs::write(root.join("b.bin"), &b).unwrap();
    let mut space = a.clone();
    space.resize(space.len() + pad as usize, 0);
    space.extend_from_slice(&b);
    let pieces: Vec<u8> = space
        .chunks(piece as usize)
        .flat_map(|c| <[u8; 20]>::from(Sha1::digest(c)))
        .collect();
    let file = |path: &[&str], len: u64, attr: Option<&str>| {
        let mut entries = vec![
            ("length", Value::Int(len as i64)),
            (
                "path",
                Value::List(path.iter().map(|p| Value::from(*p)).collect()),
            ),
        ];
        if let Some(a) = attr {
            entries.push(("attr", Value::from(a)));
        }
        Value::dict(entries)
    };
    let info = Value::dict([
        ("name", Value::from("padded")),
        ("piece length", Value::Int(piece as i64)),
        ("pieces", Value::bytes(pieces)),
        (
            "files",
            Value::List(vec![
                file(&["a.bin"], a.len() as u64, None),
                file(&[".pad", &pad.to_string()], pad, Some("p")),
                file(&["b.bin"], b.len() as u64, None),
            ]),
        ),
    ]);
    let torrent = dir.path().join("padded.torrent");
    std::fs::write(&torrent, Value::dict([("info", info)]).to_bytes()).unwrap();
    let mi =
        swarmux_bittorrent::proto::Metainfo::from_bytes(&std::fs::read(&torrent).unwrap()).unwrap();
    let link = torrent.display().to_string();

    let mut seed = start_node(&dir.path().join("seed-data"), None).await;
    seed.send(NetCommand::Seed(spec(1, &mi, link.clone(), &root)));
    until_seeding(&mut seed.events, 1).await;
    let mut leech = start_node(&dir.path().join("leech"), None).await;
    let temp = dir.path().join("leech/temp/8.part");
    let id = 8;
    let mut s = spec(id, &mi, link, &temp);
    s.link = format!("{}&x.pe=127.0.0.1:{}", magnet(&mi, &[]), seed.port);
    leech.send(NetCommand::StartDownload(s));
    let events = until_completed(&mut leech.events, id, 60).await;
    assert_eq!(
        verified_parts(&events, id).len(),
        space.len().div_ceil(piece as usize)
    );
    assert!(std::fs::read(temp.join("a.bin")).unwrap() == a);
    assert!(std::fs::read(temp.join("b.bin")).unwrap() == b);
    assert!(!temp.join(".pad").exists(), "a padding file was written");
    assert!(
        !root.join(".pad").exists(),
        "the seed created a padding file"
    );
    let listed = events.iter().rev().find_map(|e| match e {
        NetEvent::Files { id: i, files } if *i == id => Some(files.clone()),
        _ => None,
    });
    let names: Vec<String> = listed.unwrap().into_iter().map(|f| f.path).collect();
    assert_eq!(names, ["a.bin", "b.bin"]);
}

/// A download stopped with half of its first piece written (8 MiB pieces,
/// none verified yet) and restarted by a new session on the same data dir
/// fetches only the blocks it had not written: the seed uploads at most the
/// file plus what was in flight at the stop (the request pipeline holds its
/// least, 64 blocks or 1 MiB, at the first run's 1 MiB/s; 2 MiB allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_refetches_only_blocks_in_flight() {
    const MIB: u64 = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let size = 16 * MIB;
    let data = pseudo_random(size as usize, 21);
    let src = dir.path().join("seed/big.bin");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, &data).unwrap();
    let mut seed = start_node(&dir.path().join("seed-data"), None).await;
    let tracker = http_tracker(vec![([127, 0, 0, 1], seed.port).into()]).await;
    let (torrent, mi) = make_torrent(&src, 8 * MIB, &[&tracker]);
    let link = torrent.display().to_string();
    seed.send(NetCommand::Seed(spec(1, &mi, link.clone(), &src)));
    until_seeding(&mut seed.events, 1).await;

    let temp = dir.path().join("leech/temp/3.part");
    std::fs::create_dir_all(temp.parent().unwrap()).unwrap();
    let mut first = start_node_limited(&dir.path().join("leech"), None, MIB).await;
    first.send(NetCommand::StartDownload(spec(3, &mi, link.clone(), &temp)));
    wait_for(&mut first.events, 30, |e| match e {
        NetEvent::Progress { stats, .. } if stats.received >= 4 * MIB => Some(()),
        NetEvent::PartVerified { .. } | NetEvent::PartsVerified { .. } => {
            panic!("a piece was verified: the first run went too far")
        }
        _ => None,
    })
    .await;
    first.send(NetCommand::Shutdown);
    // stopped once the seed has nobody to upload to
    wait_for(&mut seed.events, 30, |e| {
        matches!(e, NetEvent::Uploads(list) if list.is_empty()).then_some(())
    })
    .await;

    let mut second = start_node(&dir.path().join("leech"), None).await;
    second.send(NetCommand::StartDownload(spec(3, &mi, link, &temp)));
    until_completed(&mut second.events, 3, 60).await;
    assert!(std::fs::read(&temp).unwrap() == data);
    second.send(NetCommand::Shutdown);

    // what the seed sent for the torrent in all, once no peer is left
    let uploaded = wait_for(&mut seed.events, 30, |e| match e {
        NetEvent::Seeding(list) => list
            .iter()
            .find(|s| s.id == 1 && s.peers == 0 && s.uploaded >= size)
            .map(|s| s.uploaded),
        _ => None,
    })
    .await;
    eprintln!(
        "the seed uploaded {:.2} MiB for a {} MiB file",
        uploaded as f64 / MIB as f64,
        size / MIB
    );
    assert!(
        uploaded <= size + 2 * MIB,
        "{uploaded} bytes uploaded for {size}"
    );
}
