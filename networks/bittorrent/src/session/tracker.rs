//! The announcer of one torrent: HTTP(S) (BEP 3) and UDP (BEP 15)
//! trackers, tried by tier (BEP 12: in order, the one that answers moves to
//! the front of its tier), re-announced on the tracker's interval (never
//! sooner than its `min interval`, nor than 30 s), with `started`,
//! `completed` and a best-effort `stopped` event. The tracker that answers
//! is also scraped (BEP 48 / BEP 15) after `started` and `completed` and at
//! most every 15 minutes otherwise, for the seed, leecher and download
//! counts its row shows.

use super::env::Env;
use super::tracker_io::{announce_one, scrape_one};
use crate::proto::tracker::AnnounceReply;
use crate::proto::{Announce, Event, ScrapeStats};
use rand::Rng;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::ServerInfo;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, timeout, Instant};

/// Shortest re-announce interval.
const MIN_INTERVAL: u32 = 30;
/// Time between two scrapes of one tracker.
const SCRAPE_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// How long a scrape may hold up the announcer.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the `stopped` announce may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// The transfer totals sent in announces.
#[derive(Default)]
pub(crate) struct Counters {
    pub uploaded: AtomicU64,
    pub downloaded: AtomicU64,
    pub left: AtomicU64,
}

/// Commands to the announcer.
pub(crate) enum TrackerCmd {
    /// The download completed: announce `completed`.
    Completed,
    /// Announce `stopped` (best effort) and end; answered when done.
    Stop(oneshot::Sender<()>),
}

/// What the announcer reports.
#[derive(Debug)]
pub(crate) enum TrackerEvent {
    Peers(Vec<SocketAddr>),
    /// One row per tracker URL.
    Rows(Vec<ServerInfo>),
}

struct Announcer {
    env: Arc<Env>,
    info_hash: [u8; 20],
    tiers: Vec<Vec<String>>,
    counters: Arc<Counters>,
    key: u32,
    tracker_id: Option<String>,
    rows: Vec<ServerInfo>,
    /// Per tracker URL: when it was last scraped, and what it said.
    scrapes: HashMap<String, (Instant, Option<ScrapeStats>)>,
}

/// Starts the announcer; `report` receives its events.
pub(crate) fn spawn(
    env: Arc<Env>,
    info_hash: [u8; 20],
    tiers: Vec<Vec<String>>,
    counters: Arc<Counters>,
    report: impl Fn(TrackerEvent) + Send + 'static,
) -> mpsc::UnboundedSender<TrackerCmd> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut tiers = tiers;
    let mut rng = rand::thread_rng();
    for t in &mut tiers {
        use rand::seq::SliceRandom;
        t.shuffle(&mut rng);
    }
    let rows = tiers
        .iter()
        .flatten()
        .map(|url| ServerInfo {
            addr: url.clone(),
            name: "tracker".into(),
            state: "connecting".into(),
            ..Default::default()
        })
        .collect();
    let a = Announcer {
        env,
        info_hash,
        tiers,
        counters,
        key: rng.gen(),
        tracker_id: None,
        rows,
        scrapes: HashMap::new(),
    };
    tokio::spawn(a.run(rx, report));
    tx
}

impl Announcer {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<TrackerCmd>,
        report: impl Fn(TrackerEvent),
    ) {
        report(TrackerEvent::Rows(self.rows.clone()));
        let mut event = Event::Started;
        let mut next = Instant::now();
        let mut failures = 0u32;
        let mut started = false;
        loop {
            tokio::select! {
                _ = sleep_until(next) => {
                    match self.announce(event).await {
                        Some(reply) => {
                            started = true;
                            event = Event::None;
                            failures = 0;
                            let secs = reply
                                .interval
                                .max(reply.min_interval.unwrap_or(0))
                                .max(MIN_INTERVAL);
                            next = Instant::now() + Duration::from_secs(secs.into());
                            if !reply.peers.is_empty() {
                                report(TrackerEvent::Peers(reply.peers));
                            }
                        }
                        None => {
                            failures += 1;
                            let secs = (15u64 << failures.min(6)).min(900);
                            next = Instant::now() + Duration::from_secs(secs);
                        }
                    }
                    report(TrackerEvent::Rows(self.rows.clone()));
                }
                cmd = rx.recv() => match cmd {
                    Some(TrackerCmd::Completed) => {
                        if started {
                            event = Event::Completed;
                            next = Instant::now();
                        }
                    }
                    Some(TrackerCmd::Stop(done)) => {
                        if started {
                            let _ = timeout(STOP_TIMEOUT, self.announce(Event::Stopped)).await;
                        }
                        let _ = done.send(());
                        return;
                    }
                    None => return,
                },
            }
        }
    }

    /// Announces to the tiers in order; the first tracker that answers wins.
    async fn announce(&mut self, event: Event) -> Option<AnnounceReply> {
        let a = Announce {
            info_hash: self.info_hash,
            peer_id: self.env.peer_id,
            port: self.env.port(),
            uploaded: self.counters.uploaded.load(Ordering::Relaxed),
            downloaded: self.counters.downloaded.load(Ordering::Relaxed),
            left: self.counters.left.load(Ordering::Relaxed),
            event,
            numwant: (event != Event::Stopped).then_some(200),
            key: self.key,
            tracker_id: self.tracker_id.clone(),
        };
        for t in 0..self.tiers.len() {
            for i in 0..self.tiers[t].len() {
                let url = self.tiers[t][i].clone();
                let result = announce_one(&url, &a, self.env.cfg.local_ip()).await;
                let scrape = match (&result, event) {
                    (Ok(_), e) if e != Event::Stopped => self.scrape(&url, e).await,
                    _ => None,
                };
                let row = self.rows.iter_mut().find(|r| r.addr == url);
                match result {
                    Ok(reply) => {
                        if let Some(row) = row {
                            row.state = "ok".into();
                            let (seeds, leechers) = counts(&reply, scrape.as_ref());
                            row.users = seeds.unwrap_or(0) + leechers.unwrap_or(0);
                            row.message = describe(&reply, scrape.as_ref(), event);
                        }
                        if reply.tracker_id.is_some() {
                            self.tracker_id = reply.tracker_id.clone();
                        }
                        // BEP 12: the tracker that answered goes first in its tier.
                        let u = self.tiers[t].remove(i);
                        self.tiers[t].insert(0, u);
                        return Some(reply);
                    }
                    Err(e) => {
                        if let Some(row) = row {
                            row.state = format!("error: {e}");
                            row.message.clear();
                        }
                    }
                }
            }
        }
        None
    }
}

impl Announcer {
    /// The tracker's last scrape, renewed after an event (`started`,
    /// `completed`: the counts change) or when older than [`SCRAPE_INTERVAL`];
    /// a failed scrape only leaves the counts out.
    async fn scrape(&mut self, url: &str, event: Event) -> Option<ScrapeStats> {
        if let Some((at, stats)) = self.scrapes.get(url) {
            if event == Event::None && at.elapsed() < SCRAPE_INTERVAL {
                return *stats;
            }
        }
        let stats = match timeout(
            SCRAPE_TIMEOUT,
            scrape_one(url, self.info_hash, self.env.cfg.local_ip()),
        )
        .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(%url, "scrape: {e}");
                None
            }
            Err(_) => None,
        };
        self.scrapes
            .insert(url.to_string(), (Instant::now(), stats));
        stats
    }
}

/// Seeds and leechers: the announce's counts, else the scrape's.
fn counts(r: &AnnounceReply, scrape: Option<&ScrapeStats>) -> (Option<u32>, Option<u32>) {
    (
        r.seeders.or(scrape.map(|s| s.complete)),
        r.leechers.or(scrape.map(|s| s.incomplete)),
    )
}

/// "3 seeds, 1 leecher, 12 downloads, next announce in 29 min".
fn describe(r: &AnnounceReply, scrape: Option<&ScrapeStats>, event: Event) -> String {
    let plural = |n: u32, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    let (seeds, leechers) = counts(r, scrape);
    if let Some(s) = seeds {
        parts.push(plural(s, "seed"));
    }
    if let Some(l) = leechers {
        parts.push(plural(l, "leecher"));
    }
    if let Some(s) = scrape {
        parts.push(plural(s.downloaded, "download"));
    }
    if event != Event::Stopped {
        let secs = r
            .interval
            .max(r.min_interval.unwrap_or(0))
            .max(MIN_INTERVAL);
        parts.push(if secs >= 120 {
            format!("next announce in {} min", secs / 60)
        } else {
            format!("next announce in {secs} s")
        });
    }
    if let Some(w) = &r.warning {
        parts.push(format!("warning: {w}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_text_takes_counts_from_the_announce_then_the_scrape() {
        let reply = AnnounceReply {
            interval: 1800,
            seeders: Some(3),
            ..Default::default()
        };
        let scrape = ScrapeStats {
            complete: 9,
            downloaded: 12,
            incomplete: 1,
        };
        assert_eq!(
            describe(&reply, Some(&scrape), Event::Completed),
            "3 seeds, 1 leecher, 12 downloads, next announce in 30 min"
        );
        assert_eq!(
            describe(&reply, None, Event::None),
            "3 seeds, next announce in 30 min"
        );
    }
}
