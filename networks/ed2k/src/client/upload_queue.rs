//! Sans-IO upload slots and queue ranks: up to `slots` peers are served at
//! once; the others wait in arrival order and are admitted as slots free.

use std::collections::VecDeque;

/// The answer to an upload request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// The peer holds a slot and may request parts.
    Accepted,
    /// The peer waits at this rank (1 = next).
    Queued(u16),
}

/// Upload slots and the waiting queue, keyed by a connection id.
#[derive(Clone, Debug, Default)]
pub struct UploadQueue<K> {
    active: Vec<K>,
    waiting: VecDeque<K>,
}

impl<K: PartialEq + Clone> UploadQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        UploadQueue {
            active: Vec::new(),
            waiting: VecDeque::new(),
        }
    }

    /// A peer asks to be served. Asking again keeps its place.
    pub fn request(&mut self, k: K, slots: usize) -> Admission {
        if self.active.contains(&k) {
            return Admission::Accepted;
        }
        if let Some(pos) = self.waiting.iter().position(|w| *w == k) {
            return Admission::Queued(rank(pos));
        }
        if self.active.len() < slots && self.waiting.is_empty() {
            self.active.push(k);
            return Admission::Accepted;
        }
        self.waiting.push_back(k);
        Admission::Queued(rank(self.waiting.len() - 1))
    }

    /// The peer is gone or done; returns the peers admitted into freed slots.
    pub fn remove(&mut self, k: &K, slots: usize) -> Vec<K> {
        self.active.retain(|a| a != k);
        self.waiting.retain(|w| w != k);
        self.fill(slots)
    }

    /// Admits waiting peers while slots are free (call when `slots` grows).
    pub fn fill(&mut self, slots: usize) -> Vec<K> {
        let mut admitted = Vec::new();
        while self.active.len() < slots {
            match self.waiting.pop_front() {
                Some(k) => {
                    self.active.push(k.clone());
                    admitted.push(k);
                }
                None => break,
            }
        }
        admitted
    }

    /// True when the peer holds a slot.
    pub fn is_active(&self, k: &K) -> bool {
        self.active.contains(k)
    }

    /// The peer's current rank in the waiting queue (1 = next).
    pub fn rank(&self, k: &K) -> Option<u16> {
        self.waiting.iter().position(|w| w == k).map(rank)
    }

    /// The peers holding slots.
    pub fn active(&self) -> &[K] {
        &self.active
    }

    /// Number of waiting peers.
    pub fn waiting_len(&self) -> usize {
        self.waiting.len()
    }
}

fn rank(pos: usize) -> u16 {
    u16::try_from(pos + 1).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_then_ranks_in_order() {
        let mut q = UploadQueue::new();
        assert_eq!(q.request(1, 2), Admission::Accepted);
        assert_eq!(q.request(2, 2), Admission::Accepted);
        assert_eq!(q.request(3, 2), Admission::Queued(1));
        assert_eq!(q.request(4, 2), Admission::Queued(2));
        assert_eq!(q.request(3, 2), Admission::Queued(1));
        assert_eq!(q.request(1, 2), Admission::Accepted);
        assert_eq!(q.remove(&1, 2), vec![3]);
        assert!(q.is_active(&3));
        assert_eq!(q.rank(&4), Some(1));
        // A waiting peer leaving moves the others up.
        assert_eq!(q.request(5, 2), Admission::Queued(2));
        assert!(q.remove(&4, 2).is_empty());
        assert_eq!(q.rank(&5), Some(1));
        assert_eq!(q.fill(3), vec![5]);
        assert_eq!(q.waiting_len(), 0);
        assert_eq!(q.active(), &[2, 3, 5]);
    }

    #[test]
    fn newcomer_does_not_jump_the_queue() {
        let mut q = UploadQueue::new();
        q.request(1, 1);
        assert_eq!(q.request(2, 1), Admission::Queued(1));
        // Slot count grows but 2 is still waiting: 3 must queue behind it.
        assert_eq!(q.request(3, 2), Admission::Queued(2));
        assert_eq!(q.fill(2), vec![2]);
        assert_eq!(q.rank(&3), Some(1));
    }

    #[test]
    fn zero_slots_queues_everyone() {
        let mut q = UploadQueue::new();
        assert_eq!(q.request(1, 0), Admission::Queued(1));
        assert!(q.remove(&9, 0).is_empty());
    }
}
