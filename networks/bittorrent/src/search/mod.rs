//! Keyword search for BitTorrent, which has none of its own: every search
//! goes to the Torznab indexers the user configured (Jackett, Prowlarr) and
//! to the local library (the torrents the engine gave the network and the
//! `.torrent` files it keeps or watches). Hits carry a size and an info-hash,
//! so they merge with the other networks' rows.
//!
//! Each search is one tokio task that waits for one blocking job per indexer
//! and one for the library, reports their hits as they come, logs indexer
//! failures as warnings, and ends with `SearchDone`; cancelling it stops the
//! waiting (a blocking request still running ends on its own timeout and its
//! answer is dropped).

pub mod feed;
pub mod library;
pub mod torznab;

pub use library::Library;

use crate::session::{BtConfig, TorznabIndexer};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::message::LogLevel;
use swarmux_net::{NetEvent, SearchHit, SearchId, SearchRequest};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// The library's name in the list of sources a search waits for.
const LIBRARY: &str = "the local library";

/// How long a search waits for its indexers beyond their own timeout.
const GRACE: Duration = Duration::from_secs(5);

/// The network's running searches and what they ask.
pub(crate) struct Searcher {
    indexers: Arc<[TorznabIndexer]>,
    /// Folders searched for `.torrent` files.
    dirs: Arc<[PathBuf]>,
    library: Arc<Library>,
    /// Where requests to the indexers leave from.
    local: Option<IpAddr>,
    events: mpsc::UnboundedSender<NetEvent>,
    running: HashMap<SearchId, JoinHandle<()>>,
}

/// What one blocking job found.
enum Answer {
    Indexer(String, Result<Vec<SearchHit>, String>),
    Library(Vec<SearchHit>),
}

impl Searcher {
    /// Searches `cfg`'s indexers, its watch folder and `DATA/torrents/`.
    pub fn new(cfg: &BtConfig, data_dir: &Path, events: mpsc::UnboundedSender<NetEvent>) -> Self {
        let mut dirs: Vec<PathBuf> = cfg.watch_dir.iter().cloned().collect();
        dirs.push(data_dir.join("torrents"));
        dirs.dedup();
        Searcher {
            indexers: cfg.torznab.clone().into(),
            dirs: dirs.into(),
            library: Arc::new(Library::new()),
            local: cfg.local_ip(),
            events,
            running: HashMap::new(),
        }
    }

    /// The library, to record the downloads the engine gives the network.
    pub fn library(&self) -> &Library {
        &self.library
    }

    /// Starts a search; its hits and its `SearchDone` come as events.
    pub fn start(&mut self, req: Arc<SearchRequest>) {
        self.running.retain(|_, h| !h.is_finished());
        let task = tokio::spawn(run(
            req.clone(),
            self.indexers.clone(),
            self.dirs.clone(),
            self.library.clone(),
            self.local,
            self.events.clone(),
        ));
        if let Some(old) = self.running.insert(req.id, task) {
            old.abort();
        }
    }

    /// Stops waiting for a search's answers; a running one ends with `SearchDone`.
    pub fn cancel(&mut self, id: SearchId) {
        if let Some(h) = self.running.remove(&id) {
            if !h.is_finished() {
                h.abort();
                let _ = self.events.send(NetEvent::SearchDone { search: id });
            }
        }
    }
}

/// One search: every indexer and the library, then `SearchDone`.
async fn run(
    req: Arc<SearchRequest>,
    indexers: Arc<[TorznabIndexer]>,
    dirs: Arc<[PathBuf]>,
    library: Arc<Library>,
    local: Option<IpAddr>,
    events: mpsc::UnboundedSender<NetEvent>,
) {
    let log = |message: String| {
        let _ = events.send(NetEvent::Log {
            level: LogLevel::Warn,
            message,
        });
    };
    let mut jobs = JoinSet::new();
    let mut waiting: Vec<String> = Vec::new();
    for ix in indexers.iter().cloned() {
        let req = req.clone();
        waiting.push(ix.name.clone());
        jobs.spawn_blocking(move || {
            let found = torznab::search(&ix, &req, local);
            Answer::Indexer(ix.name, found)
        });
    }
    {
        let req = req.clone();
        waiting.push(LIBRARY.into());
        jobs.spawn_blocking(move || Answer::Library(library.search(&req, &dirs)));
    }
    let deadline = tokio::time::Instant::now() + torznab::INDEXER_TIMEOUT + GRACE;
    loop {
        let answer = match tokio::time::timeout_at(deadline, jobs.join_next()).await {
            Ok(Some(Ok(a))) => a,
            Ok(Some(Err(e))) => {
                log(format!("BitTorrent search #{}: a job failed: {e}", req.id));
                continue;
            }
            Ok(None) => break,
            Err(_) => {
                log(format!(
                    "BitTorrent search #{}: no answer in time from {}",
                    req.id,
                    waiting.join(", ")
                ));
                break;
            }
        };
        let hits = match answer {
            Answer::Indexer(name, Ok(hits)) => {
                answered(&mut waiting, &name);
                hits
            }
            Answer::Indexer(name, Err(e)) => {
                answered(&mut waiting, &name);
                log(format!("Torznab indexer {name}: {e}"));
                continue;
            }
            Answer::Library(hits) => {
                answered(&mut waiting, LIBRARY);
                hits
            }
        };
        for h in hits {
            let _ = events.send(NetEvent::Hit(h));
        }
    }
    let _ = events.send(NetEvent::SearchDone { search: req.id });
}

/// Takes one `name` off the sources still `waiting`.
fn answered(waiting: &mut Vec<String>, name: &str) {
    if let Some(i) = waiting.iter().position(|w| w == name) {
        waiting.remove(i);
    }
}
