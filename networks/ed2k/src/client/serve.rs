//! Sans-IO uploader side of a peer connection: answers file requests from the
//! shared set and turns upload/part requests into actions for the connection.

use crate::proto::peer_msg::PeerMessage;
use std::collections::HashMap;
use std::sync::Arc;
use swarmux_net::hashing::ED2K_PART_SIZE;
use swarmux_net::SharedFile;

/// Shared files by ed2k hash.
#[derive(Clone, Debug, Default)]
pub struct ShareIndex {
    by_hash: HashMap<[u8; 16], Arc<SharedFile>>,
}

impl ShareIndex {
    /// Indexes the engine's shared-file list.
    pub fn new(files: &[SharedFile]) -> Self {
        ShareIndex {
            by_hash: files
                .iter()
                .map(|f| (f.ed2k, Arc::new(f.clone())))
                .collect(),
        }
    }

    /// The shared file with this hash.
    pub fn get(&self, hash: &[u8; 16]) -> Option<&Arc<SharedFile>> {
        self.by_hash.get(hash)
    }

    /// Every shared file.
    pub fn files(&self) -> impl Iterator<Item = &Arc<SharedFile>> {
        self.by_hash.values()
    }
}

/// What the connection must do for the uploader side.
#[derive(Clone, Debug, PartialEq)]
pub enum ServeAction {
    Send(PeerMessage),
    /// Ask the upload queue for a slot for this file.
    RequestSlot(Arc<SharedFile>),
    /// Send these byte ranges of the file (already checked to lie inside it).
    Upload(Arc<SharedFile>, Vec<(u64, u64)>),
    /// The peer is done with us: free the slot.
    Release,
}

/// Per-connection uploader state.
#[derive(Clone, Debug, Default)]
pub struct Serve {
    /// The file the peer last asked about.
    file: Option<Arc<SharedFile>>,
}

/// Longest range served from one request slot (a part; eMule asks 184,320).
const MAX_RANGE: u64 = ED2K_PART_SIZE;

impl Serve {
    /// A fresh state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The file the peer is interested in.
    pub fn file(&self) -> Option<&Arc<SharedFile>> {
        self.file.as_ref()
    }

    fn select(&mut self, shares: &ShareIndex, hash: [u8; 16]) -> Option<Arc<SharedFile>> {
        let f = shares.get(&hash).cloned();
        if f.is_some() {
            self.file = f.clone();
        }
        f
    }

    /// Handles a request; returns `None` when the message is not for the uploader side.
    pub fn on_message(
        &mut self,
        msg: &PeerMessage,
        shares: &ShareIndex,
    ) -> Option<Vec<ServeAction>> {
        use PeerMessage as M;
        use ServeAction::*;
        let no_file = |h: [u8; 16]| vec![Send(M::FileReqAnsNoFile(h))];
        Some(match msg {
            M::RequestFilename(h) => match self.select(shares, *h) {
                Some(f) => vec![Send(M::FileName {
                    hash: *h,
                    name: f.name.clone(),
                })],
                None => no_file(*h),
            },
            M::SetReqFileId(h) => match self.select(shares, *h) {
                Some(_) => vec![Send(M::FileStatus {
                    hash: *h,
                    parts: None,
                })],
                None => no_file(*h),
            },
            M::HashSetRequest(h) => match self.select(shares, *h) {
                Some(f) => vec![Send(M::HashSetAnswer {
                    hash: *h,
                    parts: f.ed2k_parts.clone(),
                })],
                None => no_file(*h),
            },
            M::StartUploadReq(h) => {
                let f = match h {
                    Some(h) => self.select(shares, *h),
                    None => self.file.clone(),
                };
                match (f, h) {
                    (Some(f), _) => vec![RequestSlot(f)],
                    (None, Some(h)) => no_file(*h),
                    (None, None) => vec![],
                }
            }
            M::RequestParts { hash, ranges } => {
                let Some(f) = self.select(shares, *hash) else {
                    return Some(no_file(*hash));
                };
                let ok: Vec<(u64, u64)> = ranges
                    .iter()
                    .copied()
                    .filter(|&(s, e)| s < e && e <= f.size && e - s <= MAX_RANGE)
                    .collect();
                if ok.is_empty() {
                    vec![]
                } else {
                    vec![Upload(f, ok)]
                }
            }
            M::EndOfDownload(_) | M::CancelTransfer => vec![Release],
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share() -> ShareIndex {
        ShareIndex::new(&[SharedFile {
            path: "/x/a.bin".into(),
            name: "a.bin".into(),
            size: 1000,
            modified: 0,
            ed2k: [1; 16],
            ed2k_parts: vec![[1; 16]],
            sha1: [0; 20],
        }])
    }

    #[test]
    fn answers_known_and_unknown_files() {
        let s = share();
        let mut sv = Serve::new();
        let a = sv
            .on_message(&PeerMessage::RequestFilename([1; 16]), &s)
            .unwrap();
        assert!(
            matches!(&a[0], ServeAction::Send(PeerMessage::FileName { name, .. }) if name == "a.bin")
        );
        let a = sv
            .on_message(&PeerMessage::SetReqFileId([2; 16]), &s)
            .unwrap();
        assert_eq!(
            a,
            vec![ServeAction::Send(PeerMessage::FileReqAnsNoFile([2; 16]))]
        );
        let a = sv
            .on_message(&PeerMessage::StartUploadReq(None), &s)
            .unwrap();
        assert!(matches!(&a[0], ServeAction::RequestSlot(f) if f.size == 1000));
        assert!(sv.on_message(&PeerMessage::AcceptUploadReq, &s).is_none());
    }

    #[test]
    fn never_serves_outside_the_file() {
        let s = share();
        let mut sv = Serve::new();
        let a = sv
            .on_message(
                &PeerMessage::RequestParts {
                    hash: [1; 16],
                    ranges: [(0, 500), (900, 1001), (0, 0)],
                },
                &s,
            )
            .unwrap();
        assert!(matches!(&a[0], ServeAction::Upload(_, r) if r == &vec![(0, 500)]));
        let a = sv
            .on_message(
                &PeerMessage::RequestParts {
                    hash: [1; 16],
                    ranges: [(5000, 6000), (0, 0), (0, 0)],
                },
                &s,
            )
            .unwrap();
        assert!(a.is_empty());
    }
}
