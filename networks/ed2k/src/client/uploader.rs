//! Upload bookkeeping shared by every peer connection: the slot queue, who is
//! being served, per-peer byte counters and the network's upload total.

use super::upload_queue::{Admission, UploadQueue};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use swarmux_net::RateMeter;
use swarmux_net::{Limits, UploadInfo};
use tokio::sync::mpsc;

/// Identifies a peer connection.
pub type ConnId = u64;

/// What the upload queue tells a waiting connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadNotice {
    /// A slot freed up: send AcceptUploadReq.
    Accepted,
}

struct UpPeer {
    addr: String,
    client: String,
    file: String,
    meter: RateMeter,
    notify: mpsc::UnboundedSender<UploadNotice>,
}

#[derive(Default)]
struct Inner {
    queue: UploadQueue<ConnId>,
    peers: HashMap<ConnId, UpPeer>,
}

/// The network's upload state; cheap to share behind an `Arc`.
pub struct Uploads {
    inner: Mutex<Inner>,
    total: AtomicU64,
    limits: Arc<Limits>,
}

impl Uploads {
    /// Empty state using the global slot count from `limits`.
    pub fn new(limits: Arc<Limits>) -> Self {
        Uploads {
            inner: Mutex::new(Inner::default()),
            total: AtomicU64::new(0),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A peer asks for an upload slot for `file`.
    pub fn request(
        &self,
        conn: ConnId,
        addr: &str,
        client: &str,
        file: &str,
        notify: mpsc::UnboundedSender<UploadNotice>,
    ) -> Admission {
        let slots = self.limits.upload_slots();
        let mut g = self.lock();
        let p = g.peers.entry(conn).or_insert_with(|| UpPeer {
            addr: addr.to_string(),
            client: client.to_string(),
            file: String::new(),
            meter: RateMeter::default(),
            notify,
        });
        p.file = file.to_string();
        g.queue.request(conn, slots)
    }

    /// True when the connection holds a slot.
    pub fn is_active(&self, conn: ConnId) -> bool {
        self.lock().queue.is_active(&conn)
    }

    /// The connection's rank in the queue, if waiting.
    pub fn rank(&self, conn: ConnId) -> Option<u16> {
        self.lock().queue.rank(&conn)
    }

    /// The connection is gone or finished; frees its slot for the next peer.
    pub fn remove(&self, conn: ConnId) {
        let slots = self.limits.upload_slots();
        let mut g = self.lock();
        g.peers.remove(&conn);
        let admitted = g.queue.remove(&conn, slots);
        notify_admitted(&g, admitted);
    }

    /// Admits waiting peers when the slot count grew.
    pub fn refill(&self) {
        let slots = self.limits.upload_slots();
        let mut g = self.lock();
        let admitted = g.queue.fill(slots);
        notify_admitted(&g, admitted);
    }

    /// Counts `n` payload bytes sent to the connection.
    pub fn sent(&self, conn: ConnId, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        if let Some(p) = self.lock().peers.get_mut(&conn) {
            p.meter.record(n, std::time::Instant::now());
        }
    }

    /// Bytes uploaded by this network in this run.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// The running uploads (peers holding a slot).
    pub fn snapshot(&self) -> Vec<UploadInfo> {
        let mut g = self.lock();
        let active: Vec<ConnId> = g.queue.active().to_vec();
        active
            .into_iter()
            .filter_map(|c| {
                let p = g.peers.get_mut(&c)?;
                Some(UploadInfo {
                    peer: p.addr.clone(),
                    client: p.client.clone(),
                    file: p.file.clone(),
                    sent: p.meter.total(),
                    rate: p.meter.rate(std::time::Instant::now()),
                })
            })
            .collect()
    }
}

fn notify_admitted(g: &Inner, admitted: Vec<ConnId>) {
    for c in admitted {
        if let Some(p) = g.peers.get(&c) {
            let _ = p.notify.send(UploadNotice::Accepted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_slot_notifies_next() {
        let u = Uploads::new(Arc::new(Limits::new(0, 0, 1)));
        let (tx1, _rx1) = mpsc::unbounded_channel();
        let (tx2, mut rx2) = mpsc::unbounded_channel();
        assert_eq!(u.request(1, "a", "c", "f", tx1), Admission::Accepted);
        assert_eq!(u.request(2, "b", "c", "f", tx2), Admission::Queued(1));
        u.sent(1, 100);
        assert_eq!(u.snapshot()[0].sent, 100);
        u.remove(1);
        assert_eq!(rx2.try_recv(), Ok(UploadNotice::Accepted));
        assert!(u.is_active(2));
        assert_eq!(u.total(), 100);
    }
}
