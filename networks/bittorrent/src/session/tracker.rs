//! The announcer of one torrent: HTTP(S) (BEP 3, through `ureq` on the
//! blocking pool, which also gives HTTPS) and UDP (BEP 15, on a tokio
//! socket) trackers, tried by tier (BEP 12: in order, the one that answers
//! moves to the front of its tier), re-announced on the tracker's interval
//! (never sooner than its `min interval`, nor than 30 s), with `started`,
//! `completed` and a best-effort `stopped` event.

use super::env::Env;
use crate::proto::tracker::{AnnounceReply, MAX_TRACKER_RESPONSE};
use crate::proto::{tracker_http, tracker_udp, Announce, Event, TrackerScheme, TrackerUrl};
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use swarmux_net::ServerInfo;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, timeout, Instant};

/// Shortest re-announce interval.
const MIN_INTERVAL: u32 = 30;
/// How long one HTTP announce may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// UDP attempts per announce (BEP 15's 15 s, then 30 s).
const UDP_ATTEMPTS: u32 = 2;
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
                let result = announce_one(&url, &a).await;
                let row = self.rows.iter_mut().find(|r| r.addr == url);
                match result {
                    Ok(reply) => {
                        if let Some(row) = row {
                            row.state = "ok".into();
                            row.users = reply.seeders.unwrap_or(0) + reply.leechers.unwrap_or(0);
                            row.message = describe(&reply, event);
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

/// "3 seeds, 1 leecher, next announce in 29 min".
fn describe(r: &AnnounceReply, event: Event) -> String {
    let plural = |n: u32, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if let Some(s) = r.seeders {
        parts.push(plural(s, "seed"));
    }
    if let Some(l) = r.leechers {
        parts.push(plural(l, "leecher"));
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

/// One announce to one tracker.
pub(crate) async fn announce_one(url: &str, a: &Announce) -> Result<AnnounceReply, String> {
    let parsed = TrackerUrl::parse(url).map_err(|e| e.to_string())?;
    match parsed.scheme {
        TrackerScheme::Http | TrackerScheme::Https => {
            let full = tracker_http::announce_url(url, a);
            let body = tokio::task::spawn_blocking(move || {
                crate::http::get(&full, HTTP_TIMEOUT, MAX_TRACKER_RESPONSE as u64)
            })
            .await
            .map_err(|e| e.to_string())??;
            tracker_http::parse_announce_reply(&body).map_err(|e| e.to_string())
        }
        TrackerScheme::Udp => udp_announce(&parsed, a).await,
    }
}

async fn udp_announce(t: &TrackerUrl, a: &Announce) -> Result<AnnounceReply, String> {
    let addr = tokio::net::lookup_host((t.host.as_str(), t.port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", t.host))?
        .next()
        .ok_or_else(|| format!("cannot resolve {}", t.host))?;
    let bind: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    sock.connect(addr).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut last = String::from("no reply");
    for attempt in 0..UDP_ATTEMPTS {
        let wait = tracker_udp::retry_timeout(attempt);
        let tid: u32 = rand::random();
        if sock.send(&tracker_udp::connect_request(tid)).await.is_err() {
            continue;
        }
        let conn = match timeout(
            wait,
            recv_reply(&sock, &mut buf, |b| {
                tracker_udp::parse_connect_reply(b, tid)
            }),
        )
        .await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(e),
            Err(_) => continue,
        };
        let tid: u32 = rand::random();
        if sock
            .send(&tracker_udp::announce_request(conn, tid, a))
            .await
            .is_err()
        {
            continue;
        }
        match timeout(
            wait,
            recv_reply(&sock, &mut buf, |b| {
                tracker_udp::parse_announce_reply(b, tid)
            }),
        )
        .await
        {
            Ok(r) => return r,
            Err(_) => last = "no reply".into(),
        }
    }
    Err(last)
}

/// Waits for a datagram `parse` accepts (stray ones for other transactions are skipped).
async fn recv_reply<T>(
    sock: &UdpSocket,
    buf: &mut [u8],
    parse: impl Fn(&[u8]) -> Result<T, crate::proto::TrackerError>,
) -> Result<T, String> {
    loop {
        let n = sock.recv(buf).await.map_err(|e| e.to_string())?;
        match parse(&buf[..n]) {
            Err(crate::proto::TrackerError::TransactionMismatch) => continue,
            other => return other.map_err(|e| e.to_string()),
        }
    }
}
