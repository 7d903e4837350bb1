//! A multi-file torrent whose folder and file names are 90 CJK characters
//! (270 bytes, over the 255-byte limit of ext4, btrfs and xfs) seeds and
//! downloads: every name on disk is cut to fit, keeping its extension.

mod common;

use common::*;
use sha1::{Digest, Sha1};
use swarmux_bittorrent::core::{FileEntry, Layout, Storage};
use swarmux_bittorrent::proto::bencode::Value;
use swarmux_bittorrent::proto::Metainfo;
use swarmux_net::NetCommand;

const PIECE: usize = 64 << 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_of_90_cjk_characters_download() {
    let dir = tempfile::tempdir().unwrap();
    let folder = "漢".repeat(90);
    let files = [
        (
            vec![folder.clone(), format!("{}.mkv", "字".repeat(90))],
            300_000,
        ),
        (
            vec![folder.clone(), format!("{}語.mkv", "字".repeat(89))],
            200_000,
        ),
        (vec![format!("{}.txt", "語".repeat(90))], 1_000),
    ];
    let all = pseudo_random(files.iter().map(|f| f.1).sum(), 3);
    let pieces: Vec<u8> = all
        .chunks(PIECE)
        .flat_map(|c| Sha1::digest(c).to_vec())
        .collect();
    let list = files.iter().map(|(path, len)| {
        Value::dict([
            ("length", Value::Int(*len as i64)),
            (
                "path",
                Value::List(path.iter().map(|c| Value::from(c.as_str())).collect()),
            ),
        ])
    });
    let info = Value::dict([
        ("files", Value::List(list.collect())),
        ("name", Value::from("語".repeat(90).as_str())),
        ("piece length", Value::Int(PIECE as i64)),
        ("pieces", Value::Bytes(pieces)),
    ]);
    let bytes = Value::dict([("info", info)]).to_bytes();
    let mi = Metainfo::from_bytes(&bytes).unwrap();
    let torrent = dir.path().join("cjk.torrent");
    std::fs::write(&torrent, &bytes).unwrap();

    // the seed's data, written where its storage looks for it
    let root = dir.path().join("seed/data");
    let entries = mi.info.files.iter().map(|f| FileEntry {
        path: f.path.clone(),
        length: f.length,
        padding: false,
    });
    let layout = Layout::new(entries.collect(), PIECE as u32).unwrap();
    let storage = Storage::new(&root, layout).unwrap();
    for (p, chunk) in all.chunks(PIECE).enumerate() {
        storage.write_block(p as u32, 0, chunk).unwrap();
    }
    let mut seed = start_node(&dir.path().join("seed-state"), None).await;
    let link = torrent.display().to_string();
    seed.send(NetCommand::Seed(spec(1, &mi, link, &root)));
    until_seeding(&mut seed.events, 1).await;

    let mut leech = start_node(&dir.path().join("leech"), None).await;
    let temp = dir.path().join("leech/temp/4.part");
    leech.send(NetCommand::StartDownload(spec(
        4,
        &mi,
        magnet(&mi, &[seed.port]),
        &temp,
    )));
    until_completed(&mut leech.events, 4, 60).await;

    let max = swarmux_net::names::name_max(&temp);
    let mut found = Vec::new();
    for entry in walk(&temp) {
        let rel = entry.strip_prefix(&temp).unwrap().to_path_buf();
        assert!(
            rel.components().all(|c| c.as_os_str().len() <= max),
            "{rel:?}"
        );
        found.push((rel, std::fs::read(&entry).unwrap()));
    }
    found.sort();
    assert_eq!(found.len(), 3);
    let mut offset = 0;
    for ((path, len), disk) in files.iter().zip(storage_paths(&storage, &root)) {
        let (rel, data) = found
            .iter()
            .find(|(r, _)| *r == disk)
            .expect("file on disk");
        assert_eq!(rel.components().count(), path.len());
        assert!(data[..] == all[offset..offset + len]);
        assert!(rel.extension() == std::path::Path::new(path.last().unwrap()).extension());
        offset += len;
    }
}

/// The files below `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Where `storage` keeps each file, relative to `root`.
fn storage_paths(storage: &Storage, root: &std::path::Path) -> Vec<std::path::PathBuf> {
    (0..storage.layout().files().len())
        .map(|i| {
            storage
                .file_path(i)
                .strip_prefix(root)
                .unwrap()
                .to_path_buf()
        })
        .collect()
}
