//! What a torrent needs to run, where it comes from (a .torrent file, a
//! magnet link, or the state persisted by the engine), and that state's
//! format: a bencoded dictionary with the exact info dictionary bytes, the
//! tracker tiers, the file priorities and the magnet's peers, so a restart
//! needs neither the link nor the network.

use crate::core::Priority;
use crate::proto::bencode::{self, Value};
use crate::proto::metainfo::MAX_TORRENT_BYTES;
use crate::proto::{Info, Magnet, Metainfo};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use swarmux_net::{magnet, DownloadSpec, FilePriority};

/// Most trackers or peers kept in the persisted state.
const MAX_LIST: usize = 200;

/// A torrent with its info dictionary.
#[derive(Clone, Debug)]
pub(crate) struct TorrentMeta {
    pub info: Arc<Info>,
    pub trackers: Vec<Vec<String>>,
    /// One per file.
    pub priorities: Vec<Priority>,
    /// Peers from the magnet link (`x.pe`).
    pub peers: Vec<SocketAddr>,
}

/// What a download starts from.
pub(crate) enum Source {
    Meta(TorrentMeta),
    /// A magnet link whose info dictionary is still to fetch.
    Magnet(Magnet),
}

/// The bytes of a .torrent file; a file over [`MAX_TORRENT_BYTES`] is
/// refused after reading one byte more than that, never all of it.
pub(crate) fn read_torrent_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_TORRENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > MAX_TORRENT_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a .torrent file is at most {MAX_TORRENT_BYTES} bytes"),
        ));
    }
    Ok(bytes)
}

/// Reads a .torrent file (bounded).
pub(crate) fn read_torrent(path: &Path) -> Result<Metainfo, String> {
    let bytes =
        read_torrent_bytes(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Metainfo::from_bytes(&bytes).map_err(|e| format!("cannot use {}: {e}", path.display()))
}

/// Where a download starts from: its persisted state, else its link.
pub(crate) fn source(spec: &DownloadSpec) -> Result<Source, String> {
    if let Some(m) = &spec.meta {
        return TorrentMeta::decode(m).map(Source::Meta);
    }
    let link = spec.link.trim();
    if magnet::is_magnet(link) {
        return Magnet::parse(link)
            .map(Source::Magnet)
            .map_err(|e| e.to_string());
    }
    let mi = read_torrent(Path::new(link))?;
    Ok(Source::Meta(TorrentMeta::new(
        mi.info,
        mi.trackers,
        Vec::new(),
    )))
}

/// The engine's file priority as the core's.
pub(crate) fn to_priority(p: FilePriority) -> Priority {
    match p {
        FilePriority::Skip => Priority::Skip,
        FilePriority::Normal => Priority::Normal,
        FilePriority::High => Priority::High,
    }
}

/// The core's file priority as the engine's.
pub(crate) fn from_priority(p: Priority) -> FilePriority {
    match p {
        Priority::Skip => FilePriority::Skip,
        Priority::Normal => FilePriority::Normal,
        Priority::High => FilePriority::High,
    }
}

impl TorrentMeta {
    /// A torrent with every file at normal priority (padding files skipped).
    pub fn new(info: Info, trackers: Vec<Vec<String>>, peers: Vec<SocketAddr>) -> Self {
        let priorities = info
            .files
            .iter()
            .map(|f| {
                if f.padding {
                    Priority::Skip
                } else {
                    Priority::Normal
                }
            })
            .collect();
        TorrentMeta {
            info: Arc::new(info),
            trackers,
            priorities,
            peers,
        }
    }

    /// The persisted form.
    pub fn encode(&self) -> Vec<u8> {
        let text = |s: &str| Value::Bytes(s.as_bytes().to_vec());
        let tiers = self
            .trackers
            .iter()
            .map(|t| Value::List(t.iter().map(|u| text(u)).collect()))
            .collect();
        let prio = self
            .priorities
            .iter()
            .map(|p| {
                Value::Int(match p {
                    Priority::Skip => 0,
                    Priority::Normal => 1,
                    Priority::High => 2,
                })
            })
            .collect();
        let peers = self.peers.iter().map(|p| text(&p.to_string())).collect();
        Value::dict([
            ("info", Value::Bytes(self.info.info_bytes.clone())),
            ("trackers", Value::List(tiers)),
            ("priorities", Value::List(prio)),
            ("peers", Value::List(peers)),
        ])
        .to_bytes()
    }

    /// Reads the persisted form back (the info dictionary is checked again).
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let bad = |what: &str| format!("stored BitTorrent state is unusable: {what}");
        let doc = bencode::decode(bytes).map_err(|e| bad(&e.to_string()))?;
        let v = doc.root();
        let info_bytes = v
            .get("info")
            .and_then(|i| i.as_bytes())
            .ok_or_else(|| bad("no info dictionary"))?;
        let info = Info::from_info_bytes(info_bytes).map_err(|e| bad(&e.to_string()))?;
        let list = |k: &str| v.get(k).and_then(|l| l.as_list()).into_iter().flatten();
        let trackers = list("trackers")
            .take(MAX_LIST)
            .filter_map(|t| t.as_list())
            .map(|t| {
                t.take(MAX_LIST)
                    .filter_map(|u| u.as_str().map(String::from))
                    .collect::<Vec<_>>()
            })
            .filter(|t| !t.is_empty())
            .collect();
        let peers = list("peers")
            .take(MAX_LIST)
            .filter_map(|p| p.as_str()?.parse().ok())
            .collect();
        let mut meta = TorrentMeta::new(info, trackers, peers);
        for (slot, p) in meta.priorities.iter_mut().zip(list("priorities")) {
            *slot = match p.as_int() {
                Some(0) => Priority::Skip,
                Some(2) => Priority::High,
                _ => Priority::Normal,
            };
        }
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::create_torrent;

    #[test]
    fn a_torrent_file_over_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.torrent");
        std::fs::write(&path, vec![b'd'; MAX_TORRENT_BYTES + 1]).unwrap();
        let err = read_torrent_bytes(&path).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(read_torrent(&path)
            .unwrap_err()
            .contains("at most 10000000 bytes"));
        std::fs::write(&path, b"de").unwrap();
        assert_eq!(read_torrent_bytes(&path).unwrap(), b"de");
    }

    #[test]
    fn persisted_state_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/a"), vec![1u8; 40_000]).unwrap();
        std::fs::write(dir.path().join("d/b"), vec![2u8; 10_000]).unwrap();
        let t = create_torrent(
            &dir.path().join("d"),
            16384,
            &["http://127.0.0.1:1/announce"],
        )
        .unwrap();
        let mi = Metainfo::from_bytes(&t).unwrap();
        let mut m = TorrentMeta::new(mi.info, mi.trackers, vec!["127.0.0.1:5".parse().unwrap()]);
        m.priorities[1] = Priority::Skip;
        let back = TorrentMeta::decode(&m.encode()).unwrap();
        assert_eq!(back.info, m.info);
        assert_eq!(back.trackers, m.trackers);
        assert_eq!(back.priorities, m.priorities);
        assert_eq!(back.peers, m.peers);
        assert!(TorrentMeta::decode(b"garbage").is_err());
    }
}
