//! What is offered to the server, and when, as eMule and aMule do
//! (`CSharedFileList::SendListToServer`): right after login the files not
//! offered to this server yet, at most [`MAX_PER_OFFER`] in one OP_OFFERFILES,
//! then another batch every [`REPUBLISH`] until every shared file was
//! offered. A new connection starts over; a file shared later goes out with
//! the next batch.

use crate::proto::offer::OfferedFile;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use swarmux_net::SharedFile;

/// Most files in one offer (eMule and aMule: 200, or less when the server's
/// soft limit is lower).
pub const MAX_PER_OFFER: usize = 200;
/// Time between two offers to one server (eMule's `ED2KREPUBLISHTIME`).
pub const REPUBLISH: Duration = Duration::from_secs(60);

/// The offers made on one server connection.
#[derive(Debug, Default)]
pub struct Publisher {
    offered: HashSet<[u8; 16]>,
    last: Option<Instant>,
}

impl Publisher {
    /// Forgets what was offered: a new server connection starts over.
    pub fn reset(&mut self) {
        *self = Publisher::default();
    }

    /// The next batch to offer at `now`, if one is due: the first right
    /// after a reset, later ones [`REPUBLISH`] apart, none when every file
    /// in `shares` was offered already.
    pub fn next_batch<'a>(
        &mut self,
        shares: impl Iterator<Item = &'a SharedFile>,
        now: Instant,
    ) -> Option<Vec<OfferedFile>> {
        if self.last.is_some_and(|t| now.duration_since(t) < REPUBLISH) {
            return None;
        }
        let batch: Vec<OfferedFile> = shares
            .filter(|f| !self.offered.contains(&f.ed2k))
            .take(MAX_PER_OFFER)
            .map(|f| OfferedFile {
                hash: f.ed2k,
                name: f.name.clone(),
                size: f.size,
                complete: true,
            })
            .collect();
        if batch.is_empty() {
            return None;
        }
        self.offered.extend(batch.iter().map(|f| f.hash));
        self.last = Some(now);
        Some(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shares(n: u8, first: u8) -> Vec<SharedFile> {
        (first..first + n)
            .map(|i| SharedFile {
                path: format!("/s/{i}").into(),
                name: format!("f{i}"),
                size: 10,
                modified: 0,
                ed2k: [i; 16],
                ed2k_parts: vec![],
                sha1: [0; 20],
            })
            .collect()
    }

    #[test]
    fn large_shares_go_out_in_batches_a_minute_apart() {
        let mut p = Publisher::default();
        let files = shares(250, 0);
        let t0 = Instant::now();
        assert_eq!(p.next_batch(files.iter(), t0).unwrap().len(), MAX_PER_OFFER);
        assert!(p
            .next_batch(files.iter(), t0 + Duration::from_secs(59))
            .is_none());
        let second = p.next_batch(files.iter(), t0 + REPUBLISH).unwrap();
        assert_eq!(second.len(), 50);
        assert_eq!(second[0].hash, [200; 16]);
        assert!(p.next_batch(files.iter(), t0 + 2 * REPUBLISH).is_none());
        // A file shared later goes with the next batch.
        let more = [files, shares(1, 250)].concat();
        let third = p.next_batch(more.iter(), t0 + 3 * REPUBLISH).unwrap();
        assert_eq!(third.len(), 1);
        // A new connection offers everything again.
        p.reset();
        assert_eq!(
            p.next_batch(more.iter(), t0 + 3 * REPUBLISH).unwrap().len(),
            200
        );
    }

    #[test]
    fn nothing_is_offered_when_nothing_is_shared() {
        let mut p = Publisher::default();
        assert!(p.next_batch([].iter(), Instant::now()).is_none());
    }
}
