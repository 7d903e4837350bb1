//! The download queue: records, live statistics, and which downloads run.
//!
//! Scheduling is a pure function of the queue: among queued and running
//! downloads, the first `max_active` by (priority, queue order) run; the rest wait.

use crate::store::DownloadRecord;
use swarmux_api::{DownloadState, DownloadView};
use swarmux_net::DownloadStats;

/// A download with its live statistics.
pub struct Download {
    pub rec: DownloadRecord,
    pub stats: DownloadStats,
    /// True while the network has been told to transfer it.
    pub running: bool,
    /// The files inside it, as its network last reported them.
    pub files: Vec<swarmux_net::FileInfo>,
}

impl Download {
    /// Bytes in verified parts (parts are taken as equal; the last one may be shorter).
    pub fn verified_bytes(&self) -> u64 {
        let parts = self.rec.parts_total.max(1) as u64;
        let done = self.rec.verified.iter().filter(|v| **v).count() as u64;
        if done >= parts {
            self.rec.size
        } else {
            self.rec.size / parts * done
        }
    }

    /// The download as clients see it.
    pub fn view(&self) -> DownloadView {
        let verified = if self.rec.state == DownloadState::Complete {
            self.rec.size
        } else {
            self.verified_bytes()
        };
        let eta_secs = (self.running && self.stats.rate > 0)
            .then(|| self.rec.size.saturating_sub(verified) / self.stats.rate);
        DownloadView {
            id: self.rec.id,
            name: self.rec.name.clone(),
            size: self.rec.size,
            network: self.rec.network.clone(),
            hash: self.rec.hash.clone(),
            state: self.rec.state.clone(),
            priority: self.rec.priority,
            verified,
            parts_total: self.rec.parts_total,
            parts_verified: self.rec.verified.iter().filter(|v| **v).count(),
            received: self.stats.received,
            rate: if self.running { self.stats.rate } else { 0 },
            eta_secs,
            sources: self.stats.sources,
            active_sources: self.stats.active_sources,
            note: self.stats.note.clone(),
            peers: self.stats.peers.clone(),
            path: self
                .rec
                .final_path
                .as_ref()
                .map(|p| p.display().to_string()),
            file_count: self.files.len(),
        }
    }
}

/// What a scheduling pass decided.
#[derive(Debug, Default, PartialEq)]
pub struct Schedule {
    pub start: Vec<u64>,
    pub stop: Vec<u64>,
}

/// Every download, in queue order.
#[derive(Default)]
pub struct Queue {
    items: Vec<Download>,
}

impl Queue {
    /// Adds a record (kept in `order`).
    pub fn insert(&mut self, rec: DownloadRecord) {
        self.items.push(Download {
            rec,
            stats: DownloadStats::default(),
            running: false,
            files: Vec::new(),
        });
        self.items.sort_by_key(|d| d.rec.order);
    }

    pub fn get(&self, id: u64) -> Option<&Download> {
        self.items.iter().find(|d| d.rec.id == id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Download> {
        self.items.iter_mut().find(|d| d.rec.id == id)
    }

    pub fn remove(&mut self, id: u64) -> Option<Download> {
        let i = self.items.iter().position(|d| d.rec.id == id)?;
        Some(self.items.remove(i))
    }

    /// The download of a content hash that is not finished, if any.
    pub fn find_unfinished(&self, hash: &str) -> Option<&Download> {
        self.items
            .iter()
            .find(|d| d.rec.hash == hash && d.rec.state != DownloadState::Complete)
    }

    /// The next queue position.
    pub fn next_order(&self) -> u64 {
        self.items
            .iter()
            .map(|d| d.rec.order + 1)
            .max()
            .unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Download> {
        self.items.iter()
    }

    /// Decides which downloads run; updates states and returns the changes.
    pub fn schedule(&mut self, max_active: usize) -> Schedule {
        let mut candidates: Vec<usize> = (0..self.items.len())
            .filter(|&i| {
                matches!(
                    self.items[i].rec.state,
                    DownloadState::Queued | DownloadState::Downloading
                )
            })
            .collect();
        candidates.sort_by_key(|&i| {
            let r = &self.items[i].rec;
            (std::cmp::Reverse(r.priority), r.order)
        });
        let mut out = Schedule::default();
        for (rank, i) in candidates.into_iter().enumerate() {
            let d = &mut self.items[i];
            let want = rank < max_active;
            if want && !d.running {
                d.running = true;
                d.rec.state = DownloadState::Downloading;
                out.start.push(d.rec.id);
            } else if !want && d.running {
                d.running = false;
                d.rec.state = DownloadState::Queued;
                d.stats = DownloadStats::default();
                out.stop.push(d.rec.id);
            } else if !want {
                d.rec.state = DownloadState::Queued;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarmux_api::Priority;

    fn rec(id: u64, priority: Priority) -> DownloadRecord {
        DownloadRecord {
            id,
            name: format!("f{id}"),
            size: 1000,
            network: "net-a".into(),
            hash: format!("ed2k:{id}"),
            link: String::new(),
            priority,
            state: DownloadState::Queued,
            temp_path: Default::default(),
            final_path: None,
            meta: None,
            parts_total: 4,
            verified: vec![true, false, true, false],
            added: 0,
            order: id,
        }
    }

    #[test]
    fn max_active_and_priority() {
        let mut q = Queue::default();
        q.insert(rec(1, Priority::Normal));
        q.insert(rec(2, Priority::Normal));
        q.insert(rec(3, Priority::High));
        let s = q.schedule(2);
        assert_eq!(s.start, vec![3, 1]);
        assert_eq!(q.get(2).unwrap().rec.state, DownloadState::Queued);
        // Pausing a running one lets the next start.
        q.get_mut(1).unwrap().rec.state = DownloadState::Paused;
        q.get_mut(1).unwrap().running = false;
        assert_eq!(q.schedule(2).start, vec![2]);
        // A new high priority download preempts the lowest running one.
        q.insert(rec(4, Priority::High));
        let s = q.schedule(2);
        assert_eq!(
            s,
            Schedule {
                start: vec![4],
                stop: vec![2]
            }
        );
    }

    #[test]
    fn view_numbers() {
        let mut q = Queue::default();
        q.insert(rec(1, Priority::Low));
        let v = q.get(1).unwrap().view();
        assert_eq!(v.parts_verified, 2);
        assert_eq!(v.verified, 500);
        assert_eq!(v.eta_secs, None);
    }
}
