//! Sans-IO search queue: one search at a time on the server, the others wait;
//! server results become [`SearchHit`]s.

use crate::proto::link::file_link;
use crate::proto::server_msg::FileEntry;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarmux_net::{ContentHash, SearchHit, SearchId, SearchRequest};

/// A search without an answer after this long is finished.
pub const SEARCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Most hits reported per search.
pub const MAX_HITS: usize = 500;

/// The queue of searches for the current server.
#[derive(Default)]
pub struct Searches {
    waiting: VecDeque<Arc<SearchRequest>>,
    current: Option<(Arc<SearchRequest>, Instant, bool)>,
}

impl Searches {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a search.
    pub fn push(&mut self, req: Arc<SearchRequest>) {
        self.waiting.push_back(req);
    }

    /// Cancels a search: removed if waiting; if running, its results are dropped.
    /// Returns true when it was found.
    pub fn cancel(&mut self, id: SearchId) -> bool {
        let before = self.waiting.len();
        self.waiting.retain(|r| r.id != id);
        if let Some((r, _, cancelled)) = &mut self.current {
            if r.id == id {
                *cancelled = true;
                return true;
            }
        }
        before != self.waiting.len()
    }

    /// The next search to send, if none is running.
    pub fn next_to_send(&mut self, now: Instant) -> Option<Arc<SearchRequest>> {
        if self.current.is_some() {
            return None;
        }
        let r = self.waiting.pop_front()?;
        self.current = Some((r.clone(), now, false));
        Some(r)
    }

    /// Every search (running and waiting) ends: for when no server is connected.
    pub fn drain_all(&mut self) -> Vec<SearchId> {
        let mut ids: Vec<SearchId> = self
            .current
            .take()
            .map(|(r, _, _)| r.id)
            .into_iter()
            .collect();
        ids.extend(self.waiting.drain(..).map(|r| r.id));
        ids
    }

    /// The running search, when it timed out: it ends.
    pub fn timed_out(&mut self, now: Instant) -> Option<SearchId> {
        match &self.current {
            Some((r, t, _)) if now.duration_since(*t) > SEARCH_TIMEOUT => {
                let id = r.id;
                self.current = None;
                Some(id)
            }
            _ => None,
        }
    }

    /// The server's answer to the running search: its hits (none if cancelled)
    /// and the finished search id.
    pub fn on_result(&mut self, files: &[FileEntry]) -> Option<(SearchId, Vec<SearchHit>)> {
        let (req, _, cancelled) = self.current.take()?;
        if cancelled {
            return Some((req.id, Vec::new()));
        }
        let hits = files
            .iter()
            .filter_map(|f| hit(&req, f))
            .take(MAX_HITS)
            .collect();
        Some((req.id, hits))
    }
}

/// One server result entry as a hit, if it is complete and passes the filters.
pub fn hit(req: &SearchRequest, f: &FileEntry) -> Option<SearchHit> {
    let name = f.name()?.to_string();
    let size = f.size()?;
    if name.is_empty() || !req.accepts(&name, size) {
        return None;
    }
    Some(SearchHit {
        search: req.id,
        network: "ed2k".into(),
        link: file_link(&name, size, f.hash),
        hashes: vec![ContentHash::Ed2k(f.hash)],
        sources: f.sources().unwrap_or(0),
        complete_sources: f.complete_sources(),
        name,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::tag::{ids, Tag};
    use swarmux_net::QueryExpr;

    fn req(id: SearchId) -> Arc<SearchRequest> {
        Arc::new(SearchRequest {
            id,
            text: "x".into(),
            expr: QueryExpr::Keyword("x".into()),
            min_size: Some(10),
            max_size: None,
            kind: None,
            extension: None,
        })
    }

    #[test]
    fn one_at_a_time_and_filtering() {
        let mut s = Searches::new();
        let now = Instant::now();
        s.push(req(1));
        s.push(req(2));
        assert_eq!(s.next_to_send(now).unwrap().id, 1);
        assert!(s.next_to_send(now).is_none());
        let mut big = FileEntry::offer([1; 16], "x y.avi", 100, true);
        big.tags.push(Tag::u32(ids::SOURCES, 3));
        let small = FileEntry::offer([2; 16], "x.avi", 5, true);
        let (id, hits) = s.on_result(&[big, small]).unwrap();
        assert_eq!(id, 1);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].sources, 3);
        assert!(hits[0].link.starts_with("ed2k://|file|x%20y.avi|100|0101"));
        assert_eq!(s.next_to_send(now).unwrap().id, 2);
        assert!(s.cancel(2));
        assert_eq!(s.on_result(&[]).unwrap().1.len(), 0);
        s.push(req(3));
        s.next_to_send(now);
        assert_eq!(s.timed_out(now + SEARCH_TIMEOUT * 2), Some(3));
        s.push(req(4));
        assert_eq!(s.drain_all(), vec![4]);
    }
}
