//! Helpers for tests that drive a [`Network`] the way the engine does
//! (feature `test-support`, for dev-dependencies only): a [`Harness`] that
//! runs a network on its own task, waiting for events, deterministic test
//! data, files described as the engine shares them, and search requests.
//!
//! Everything here panics on failure, as a test should.

use crate::hashing::hash_reader;
use crate::{
    parse_query, Limits, NetCommand, NetEvent, Network, NetworkContext, SearchRequest, SharedFile,
};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Deterministic pseudo-random bytes (xorshift32): the same `len` and `seed`
/// always give the same bytes, different seeds different ones.
pub fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Waits for an event for which `f` returns `Some`, and returns that.
/// Panics after `secs` seconds, when the network ends, or on a
/// [`NetEvent::Failed`] (no test expects a download to fail silently).
pub async fn wait_event<T>(
    events: &mut mpsc::UnboundedReceiver<NetEvent>,
    secs: u64,
    mut f: impl FnMut(&NetEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("timed out waiting for an event")
            .expect("network ended");
        if let NetEvent::Failed { reason, .. } = &ev {
            panic!("download failed: {reason}");
        }
        if let Some(t) = f(&ev) {
            return t;
        }
    }
}

/// A network running on its own tokio task, with the two ends the engine
/// would hold.
pub struct Harness {
    /// Commands to the network.
    pub cmd: mpsc::UnboundedSender<NetCommand>,
    /// Events from the network.
    pub events: mpsc::UnboundedReceiver<NetEvent>,
}

impl Harness {
    /// Spawns `net`'s task with `limits` and `data_dir` (created if missing).
    pub fn start(net: &dyn Network, limits: Arc<Limits>, data_dir: &Path) -> Harness {
        std::fs::create_dir_all(data_dir).expect("create the data dir");
        let (events_tx, events) = mpsc::unbounded_channel();
        let (cmd, commands) = mpsc::unbounded_channel();
        let ctx = NetworkContext {
            events: events_tx,
            limits,
            data_dir: data_dir.to_path_buf(),
        };
        tokio::spawn(net.run(ctx, commands));
        Harness { cmd, events }
    }

    /// Sends a command; panics when the network has ended.
    pub fn send(&self, c: NetCommand) {
        self.cmd.send(c).expect("network ended");
    }

    /// See [`wait_event`].
    pub async fn wait_event<T>(&mut self, secs: u64, f: impl FnMut(&NetEvent) -> Option<T>) -> T {
        wait_event(&mut self.events, secs, f).await
    }

    /// The address of the first `Listening` event named `name` (any name when
    /// `None`), within 5 seconds.
    pub async fn listening(&mut self, name: Option<&str>) -> SocketAddr {
        self.wait_event(5, |e| match e {
            NetEvent::Listening { name: n, addr } if name.is_none_or(|want| want == n) => {
                Some(*addr)
            }
            _ => None,
        })
        .await
    }
}

/// `path` described as the engine shares it (hashed, named after the file).
pub fn share(path: &Path) -> SharedFile {
    let file = std::fs::File::open(path).expect("open the shared file");
    let h = hash_reader(file, |_| true).expect("hash the shared file");
    SharedFile {
        path: path.to_path_buf(),
        name: path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned(),
        size: h.size,
        modified: crate::share::modified_ns(
            &std::fs::metadata(path).expect("stat the shared file"),
        ),
        ed2k: h.ed2k,
        ed2k_parts: h.ed2k_parts,
        sha1: h.sha1,
    }
}

/// A search for `text` (query syntax of [`parse_query`]) with no size, kind
/// or extension constraint.
pub fn search_request(id: u64, text: &str) -> SearchRequest {
    SearchRequest {
        id,
        text: text.into(),
        expr: parse_query(text).expect("a valid query"),
        min_size: None,
        max_size: None,
        kind: None,
        extension: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_deterministic_and_seeded() {
        assert_eq!(data(1000, 7), data(1000, 7));
        assert_ne!(data(1000, 7), data(1000, 8));
        assert_eq!(data(0, 1), Vec::<u8>::new());
        assert_eq!(data(10, 0).len(), 10);
    }

    #[test]
    fn search_request_parses_the_text() {
        let r = search_request(3, "ubuntu iso");
        assert_eq!((r.id, r.text.as_str()), (3, "ubuntu iso"));
        assert!(r.accepts("ubuntu.iso", 1));
    }
}
