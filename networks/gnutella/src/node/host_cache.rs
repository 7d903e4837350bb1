//! Known Gnutella hosts: from configured peers, `X-Try-Ultrapeers`, pongs
//! and handshakes. Bounded, newest first, with a back-off per host after a
//! failed attempt; persisted as one `IP:PORT` per line.

use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::path::Path;
use std::time::{Duration, Instant};

/// Most hosts kept.
pub const CAPACITY: usize = 1000;
/// Wait after a failed attempt before trying a host again.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Entry {
    addr: SocketAddrV4,
    not_before: Option<Instant>,
}

/// The host cache.
#[derive(Debug, Clone, Default)]
pub struct HostCache {
    hosts: VecDeque<Entry>,
}

impl HostCache {
    /// Adds (or moves to the front) a host; our own address and port 0 are skipped.
    pub fn add(&mut self, addr: SocketAddrV4, ours: Option<SocketAddrV4>) {
        if addr.port() == 0 || addr.ip().is_unspecified() || Some(addr) == ours {
            return;
        }
        let not_before = self
            .hosts
            .iter()
            .position(|e| e.addr == addr)
            .and_then(|i| self.hosts.remove(i))
            .and_then(|e| e.not_before);
        self.hosts.push_front(Entry { addr, not_before });
        self.hosts.truncate(CAPACITY);
    }

    /// Forgets a host.
    pub fn remove(&mut self, addr: SocketAddrV4) {
        self.hosts.retain(|e| e.addr != addr);
    }

    /// Records a failed attempt: the host is not offered again for a while.
    pub fn failed(&mut self, addr: SocketAddrV4, now: Instant) {
        if let Some(e) = self.hosts.iter_mut().find(|e| e.addr == addr) {
            e.not_before = Some(now + RETRY_AFTER);
        }
    }

    /// The newest host that may be tried now and is not `busy`.
    pub fn pick(&self, now: Instant, busy: impl Fn(SocketAddrV4) -> bool) -> Option<SocketAddrV4> {
        self.hosts
            .iter()
            .find(|e| e.not_before.is_none_or(|t| now >= t) && !busy(e.addr))
            .map(|e| e.addr)
    }

    /// Up to `n` hosts, newest first (for `X-Try-Ultrapeers`).
    pub fn newest(&self, n: usize) -> Vec<SocketAddrV4> {
        self.hosts.iter().take(n).map(|e| e.addr).collect()
    }

    /// Number of hosts.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// True when no host is known.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The file text: one `IP:PORT` per line, newest first.
    pub fn to_text(&self) -> String {
        self.hosts.iter().map(|e| format!("{}\n", e.addr)).collect()
    }

    /// Reads the file text (bad lines skipped, at most [`CAPACITY`] hosts).
    pub fn from_text(text: &str) -> Self {
        let mut c = HostCache::default();
        for addr in text
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .take(CAPACITY)
        {
            if !c.hosts.iter().any(|e| e.addr == addr) {
                c.hosts.push_back(Entry {
                    addr,
                    not_before: None,
                });
            }
        }
        c
    }

    /// Loads `path` (an empty cache when missing or unreadable).
    pub fn load(path: &Path) -> Self {
        std::fs::read_to_string(path)
            .map(|t| Self::from_text(&t))
            .unwrap_or_default()
    }

    /// Writes `path` (through a temporary file, then renamed).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, self.to_text())?;
        std::fs::rename(tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_backoff_and_text() {
        let a: SocketAddrV4 = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddrV4 = "127.0.0.1:2".parse().unwrap();
        let mut c = HostCache::default();
        c.add(a, None);
        c.add(b, None);
        c.add(b, Some(b));
        c.add("0.0.0.0:5".parse().unwrap(), None);
        assert_eq!(c.newest(5), vec![b, a]);
        let now = Instant::now();
        c.failed(b, now);
        assert_eq!(c.pick(now, |_| false), Some(a));
        assert_eq!(c.pick(now, |h| h == a), None);
        assert_eq!(c.pick(now + RETRY_AFTER, |h| h == a), Some(b));
        let back = HostCache::from_text(&(c.to_text() + "junk\n"));
        assert_eq!(back.newest(5), vec![b, a]);
    }
}
