//! One download: its sources, the parts, the workers fetching from up to
//! [`MAX_ACTIVE`] sources at once, progress reports, and the final check of
//! the whole file against its `urn:sha1`. The byte ranges written to the temp
//! file are logged as they are written ([`WrittenLog`]), so a restart after
//! a crash fetches again only what was in flight; ranges the whole-file
//! check throws away are forgotten in the log too.

use super::env::{lock, Env, MainMsg};
use super::fetch::{fetch, Outcome};
use super::parts::PartTable;
use crate::magnet::{Magnet, Source};
use crate::proto::huge::Sha1Urn;
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swarmux_net::message::LogLevel;
use swarmux_net::written::WrittenLog;
use swarmux_net::RateMeter;
use swarmux_net::{DownloadId, DownloadSpec, DownloadStats, NetEvent, PeerInfo};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Sources fetched from at once.
pub const MAX_ACTIVE: usize = 4;
/// Most sources kept per download.
pub const MAX_SOURCES: usize = 64;
/// A source failing this many times in a row is dropped.
const MAX_FAILS: u32 = 5;
/// Whole-file checks that may fail before the download gives up.
const MAX_CORRUPT_ROUNDS: u32 = 4;
/// How often a download without a working source asks the network again.
const REQUERY: Duration = super::requery::REQUERY_AFTER;

/// What the download's workers share.
#[derive(Default)]
pub struct DlState {
    pub parts: PartTable,
    /// Parts completed since the last report.
    pub new_done: Vec<usize>,
    pub peers: HashMap<String, PeerInfo>,
    pub received: u64,
    /// The download's receive rate.
    pub meter: RateMeter,
    /// Each source's receive rate, by the same key as `peers`.
    pub peer_meters: HashMap<String, RateMeter>,
    /// Sources learned from `X-Alt` answers.
    pub alt: Vec<Source>,
}

/// A download as its workers see it.
pub struct DlCtx {
    pub id: DownloadId,
    pub urn: Sha1Urn,
    pub name: String,
    pub size: u64,
    pub state: Mutex<DlState>,
    /// The temp file, open for writing.
    file: std::fs::File,
    /// The ranges of it written so far.
    written: Mutex<WrittenLog>,
}

impl DlCtx {
    /// Writes `data` at `offset` of the temp file and logs the range as
    /// written, on the blocking pool; gives the buffer back.
    pub async fn write_at(self: &Arc<Self>, data: Vec<u8>, offset: u64) -> Result<Vec<u8>, String> {
        let dl = self.clone();
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            dl.file.write_all_at(&data, offset)?;
            let end = offset + data.len() as u64;
            // A record that fails to append costs a re-fetch after a
            // restart, nothing more.
            let _ = lock(&dl.written).record(offset..end);
            Ok::<_, std::io::Error>(data)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("temp file: {e}"))
    }

    /// Logs `ranges` as no longer written (their parts failed the
    /// whole-file check), on the blocking pool.
    async fn forget_parts(self: &Arc<Self>, ranges: Vec<(u64, u64)>) {
        let dl = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut log = lock(&dl.written);
            for (a, b) in ranges {
                let _ = log.forget(a..b);
            }
        })
        .await;
    }

    /// Sets what a source is doing, for the Downloads pane.
    pub fn peer_state(&self, key: &str, state: &str) {
        let mut st = lock(&self.state);
        let p = st.peers.entry(key.to_string()).or_insert_with(|| PeerInfo {
            addr: key.to_string(),
            ..Default::default()
        });
        p.state = state.to_string();
    }

    /// Records a source's software name.
    pub fn peer_client(&self, key: &str, client: &str) {
        if let Some(p) = lock(&self.state).peers.get_mut(key) {
            p.client = client.chars().take(60).collect();
        }
    }

    /// Counts bytes received from a source.
    pub fn received(&self, key: &str, n: u64) {
        let now = std::time::Instant::now();
        let mut st = lock(&self.state);
        st.received += n;
        st.meter.record(n, now);
        st.peer_meters
            .entry(key.to_string())
            .or_default()
            .record(n, now);
        if let Some(p) = st.peers.get_mut(key) {
            p.received += n;
        }
    }

    /// The download's statistics as of `now` (rates over the last seconds).
    fn stats(&self, now: std::time::Instant) -> DownloadStats {
        let st = lock(&self.state);
        let peers = st
            .peers
            .values()
            .map(|p| PeerInfo {
                rate: st.peer_meters.get(&p.addr).map_or(0, |m| m.rate(now)),
                ..p.clone()
            })
            .collect();
        DownloadStats {
            received: st.received,
            rate: st.meter.rate(now),
            peers,
            ..Default::default()
        }
    }
}

/// The node loop's handle on a running download.
pub struct DlHandle {
    pub urn: Sha1Urn,
    /// New sources for it.
    pub tx: mpsc::UnboundedSender<Vec<Source>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Drop for DlHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct SourceSlot {
    src: Source,
    retry_at: Instant,
    running: bool,
    fails: u32,
}

/// Starts a download of `urn` from `sources`, its written ranges logged
/// at `log` (see [`swarmux_net::written::log_path`]).
pub fn start(
    env: Arc<Env>,
    spec: DownloadSpec,
    urn: Sha1Urn,
    sources: Vec<Source>,
    log: PathBuf,
) -> DlHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(env, spec, urn, sources, log, rx));
    DlHandle { urn, tx, task }
}

async fn run(
    env: Arc<Env>,
    spec: DownloadSpec,
    urn: Sha1Urn,
    initial: Vec<Source>,
    log: PathBuf,
    mut rx: mpsc::UnboundedReceiver<Vec<Source>>,
) {
    let id = spec.id;
    let (path, size) = (spec.temp_path.clone(), spec.size);
    let opened = tokio::task::spawn_blocking(move || {
        Ok((prepare_file(&path, size)?, WrittenLog::open(&log)?))
    })
    .await
    .map_err(std::io::Error::other)
    .and_then(|r: std::io::Result<_>| r);
    let (file, written) = match opened {
        Ok(o) => o,
        Err(e) => {
            env.events.emit(NetEvent::Failed {
                id,
                reason: format!("temp file {}: {e}", spec.temp_path.display()),
            });
            return;
        }
    };
    let parts = PartTable::new(spec.size, &spec.verified, written.ranges());
    // Parts whole on disk the engine does not know as verified yet.
    let restored: Vec<usize> = parts
        .done()
        .into_iter()
        .filter(|&i| !spec.verified.get(i).copied().unwrap_or(false))
        .collect();
    let dl = Arc::new(DlCtx {
        id,
        urn,
        name: spec.name.clone(),
        size: spec.size,
        state: Mutex::new(DlState {
            parts,
            new_done: restored,
            ..Default::default()
        }),
        file,
        written: Mutex::new(written),
    });
    let mut slots: Vec<SourceSlot> = Vec::new();
    add_sources(&mut slots, initial, Instant::now());
    let meta = |slots: &[SourceSlot]| Magnet {
        urn,
        name: spec.name.clone(),
        size: spec.size,
        sources: slots.iter().map(|s| s.src).collect(),
    };
    let parts_total = lock(&dl.state).parts.len();
    env.events.emit(NetEvent::DownloadMeta {
        id,
        parts: parts_total,
        meta: meta(&slots).to_link().into_bytes(),
    });
    let mut workers: JoinSet<(usize, Outcome)> = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut next_query = Instant::now() + REQUERY;
    let mut corrupt_rounds = 0;
    let mut recovery: Option<Recovery> = None;
    loop {
        tokio::select! {
            Some(new) = rx.recv() => {
                let before = slots.len();
                add_sources(&mut slots, new, Instant::now());
                if slots.len() != before {
                    env.events.emit(NetEvent::DownloadMeta {
                        id,
                        parts: parts_total,
                        meta: meta(&slots).to_link().into_bytes(),
                    });
                }
            }
            Some(done) = workers.join_next() => {
                if let Ok((i, outcome)) = done {
                    settle(&mut slots, i, outcome);
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                let (newly, alt, complete) = {
                    let mut st = lock(&dl.state);
                    (std::mem::take(&mut st.new_done), std::mem::take(&mut st.alt), st.parts.complete())
                };
                add_sources(&mut slots, alt, now);
                if !newly.is_empty() {
                    env.events.emit(NetEvent::PartsVerified { id, parts: newly });
                }
                if complete {
                    workers.abort_all();
                    slots.iter_mut().for_each(|s| s.running = false);
                    match verify(&spec.temp_path, urn).await {
                        Ok(true) => {
                            if let Some(r) = recovery.take() {
                                env.events.log(LogLevel::Warn, r.verdict(&spec.name));
                            }
                            env.events.emit(NetEvent::Completed { id });
                            return;
                        }
                        Ok(false) => {
                            corrupt_rounds += 1;
                            let (reset, blamed, ranges) = {
                                let mut st = lock(&dl.state);
                                let (reset, blamed) = after_mismatch(&mut st.parts, &mut recovery);
                                let ranges: Vec<(u64, u64)> = reset.iter().map(|&i| st.parts.range(i)).collect();
                                (reset, blamed, ranges)
                            };
                            dl.forget_parts(ranges).await;
                            for &part in &reset {
                                env.events.emit(NetEvent::PartCorrupt { id, part, blamed: blamed.clone() });
                            }
                            if !blamed.is_empty() {
                                env.events.log(
                                    LogLevel::Warn,
                                    format!(
                                        "gnutella: {}: {} sent data that did not match {urn}; dropped",
                                        spec.name,
                                        blamed.join(", ")
                                    ),
                                );
                            }
                            slots.retain(|s| !blamed.contains(&s.src.addr.to_string()));
                            if corrupt_rounds >= MAX_CORRUPT_ROUNDS || slots.is_empty() {
                                env.events.emit(NetEvent::Failed {
                                    id,
                                    reason: format!("the data does not match {urn}"),
                                });
                                return;
                            }
                        }
                        Err(e) => {
                            env.events.emit(NetEvent::Failed { id, reason: format!("checking the file: {e}") });
                            return;
                        }
                    }
                }
                // The trusted source is gone: back to every source.
                if let Some(r) = &recovery {
                    if !slots.iter().any(|s| s.src.addr.to_string() == r.trusted && s.fails < MAX_FAILS) {
                        recovery = None;
                    }
                }
                let mut active = slots.iter().filter(|s| s.running).count();
                for (i, slot) in slots.iter_mut().enumerate() {
                    if active >= MAX_ACTIVE || lock(&dl.state).parts.nothing_to_claim() {
                        break;
                    }
                    let allowed = recovery.as_ref().is_none_or(|r| r.trusted == slot.src.addr.to_string());
                    if !slot.running && slot.retry_at <= now && allowed {
                        slot.running = true;
                        active += 1;
                        let (env, dl, src) = (env.clone(), dl.clone(), slot.src);
                        workers.spawn(async move { (i, fetch(env, dl, src).await) });
                    }
                }
                if active == 0 && now >= next_query {
                    next_query = now + REQUERY;
                    let _ = env.to_main.try_send(MainMsg::UrnQuery(urn));
                }
                let stats = DownloadStats {
                    sources: slots.len() as u32,
                    active_sources: active as u32,
                    note: if slots.is_empty() {
                        "no source yet: searching".into()
                    } else {
                        String::new()
                    },
                    ..dl.stats(now.into_std())
                };
                env.events.emit(NetEvent::Progress { id, stats });
            }
        }
    }
}

/// After a failed whole-file check with data from several sources: the one
/// that sent the most is trusted alone, its parts kept, the rest fetched
/// again from it.
struct Recovery {
    trusted: String,
    /// The other sources whose parts were dropped.
    suspects: Vec<String>,
}

impl Recovery {
    /// The log line once the file verified.
    fn verdict(&self, name: &str) -> String {
        format!(
            "gnutella: {name}: verified with the data of {} alone; {} sent data that did not match",
            self.trusted,
            self.suspects.join(", ")
        )
    }
}

/// Decides what a failed whole-file check costs: returns the parts to fetch
/// again and the sources to drop.
/// - One source sent everything (or the trusted one failed): it is dropped,
///   every part fetched again.
/// - Several sent parts (parts kept from an earlier run count as one more):
///   the main one is trusted alone (see [`Recovery`]).
fn after_mismatch(
    parts: &mut PartTable,
    recovery: &mut Option<Recovery>,
) -> (Vec<usize>, Vec<String>) {
    let all: Vec<usize> = (0..parts.len()).collect();
    if let Some(r) = recovery.take() {
        parts.reset();
        return (all, vec![r.trusted]);
    }
    let sources = parts.sources();
    let origins = sources.len() + usize::from(parts.has_unowned_done());
    match parts.main_source().filter(|_| origins > 1) {
        Some(trusted) => {
            let reset = parts.keep_only_from(&trusted);
            let mut suspects: Vec<String> = sources.into_iter().filter(|s| *s != trusted).collect();
            if origins > suspects.len() + 1 {
                suspects.push("an earlier run".into());
            }
            *recovery = Some(Recovery { trusted, suspects });
            (reset, Vec::new())
        }
        None => {
            parts.reset();
            (all, sources)
        }
    }
}

fn add_sources(slots: &mut Vec<SourceSlot>, new: Vec<Source>, now: Instant) {
    for src in new {
        if slots.len() >= MAX_SOURCES {
            return;
        }
        match slots.iter_mut().find(|s| s.src.addr == src.addr) {
            Some(s) if s.src.push.is_none() && src.push.is_some() => s.src.push = src.push,
            Some(_) => {}
            None => slots.push(SourceSlot {
                src,
                retry_at: now,
                running: false,
                fails: 0,
            }),
        }
    }
}

fn settle(slots: &mut [SourceSlot], i: usize, outcome: Outcome) {
    let Some(slot) = slots.get_mut(i) else {
        return;
    };
    slot.running = false;
    let now = Instant::now();
    match outcome {
        Outcome::NoMoreParts => slot.retry_at = now + Duration::from_secs(5),
        Outcome::Again => {
            slot.retry_at = now;
            slot.fails = 0;
        }
        Outcome::Busy(d) => slot.retry_at = now + d,
        Outcome::Failed(_) => {
            slot.fails += 1;
            slot.retry_at = now + Duration::from_secs(15 * u64::from(slot.fails));
        }
        Outcome::Gone(_) => slot.fails = MAX_FAILS,
    }
    // Dropping a slot would shift the indexes of running workers: keep it
    // but never retry it.
    if slot.fails >= MAX_FAILS {
        slot.retry_at = now + Duration::from_secs(365 * 86_400);
    }
}

/// Opens (creating it if needed) the temp file at its full size.
fn prepare_file(path: &std::path::Path, size: u64) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    if f.metadata()?.len() != size {
        f.set_len(size)?;
    }
    Ok(f)
}

/// The whole file's SHA-1 compared with `urn`, computed off the async threads.
async fn verify(path: &std::path::Path, urn: Sha1Urn) -> std::io::Result<bool> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut f = std::fs::File::open(path)?;
        let mut h = Sha1::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let digest: [u8; 20] = h.finalize().into();
        Ok(digest == urn.0)
    })
    .await
    .map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::parts::PART_SIZE;
    use swarmux_net::written::RangeSet;

    #[test]
    fn a_mismatch_trusts_the_main_source_then_drops_it_if_it_fails() {
        let mut parts = PartTable::new(3 * PART_SIZE, &[], &RangeSet::default());
        parts.wrote(0, 2 * PART_SIZE, "a:1");
        parts.wrote(2 * PART_SIZE, 3 * PART_SIZE, "b:2");
        let mut recovery = None;
        let (reset, blamed) = after_mismatch(&mut parts, &mut recovery);
        assert_eq!((reset, blamed), (vec![2], vec![]));
        let r = recovery.as_ref().unwrap();
        assert_eq!(
            (r.trusted.as_str(), r.suspects.clone()),
            ("a:1", vec!["b:2".to_string()])
        );
        assert!(r
            .verdict("f.bin")
            .contains("verified with the data of a:1 alone; b:2 sent"));
        // The trusted source's file fails too: it goes, everything is fetched again.
        parts.wrote(2 * PART_SIZE, 3 * PART_SIZE, "a:1");
        let (reset, blamed) = after_mismatch(&mut parts, &mut recovery);
        assert_eq!((reset, blamed), (vec![0, 1, 2], vec!["a:1".to_string()]));
        assert!(recovery.is_none() && parts.done_bytes() == 0);
    }

    #[test]
    fn a_lone_source_is_dropped_but_an_earlier_run_is_a_suspect() {
        let mut parts = PartTable::new(2 * PART_SIZE, &[], &RangeSet::default());
        parts.wrote(0, 2 * PART_SIZE, "a:1");
        let mut recovery = None;
        let (_, blamed) = after_mismatch(&mut parts, &mut recovery);
        assert_eq!(blamed, ["a:1"]);
        assert!(recovery.is_none());

        let mut parts = PartTable::new(2 * PART_SIZE, &[true], &RangeSet::default());
        parts.wrote(PART_SIZE, 2 * PART_SIZE, "a:1");
        let (reset, blamed) = after_mismatch(&mut parts, &mut recovery);
        assert_eq!((reset, blamed), (vec![0], vec![]));
        assert_eq!(recovery.unwrap().suspects, ["an earlier run"]);
    }
}
