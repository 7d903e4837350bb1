//! Dynamic querying: how an ultrapeer sends a query it originates, for
//! itself or for one of its leaves, as the LimeWire proposal and
//! gtk-gnutella's `dq.c` do, instead of flooding it to every neighbour.
//!
//! A probe goes first, at once, to up to [`PROBE_UPS`] ultrapeers whose QRP
//! table may match (a lower TTL when many match: the content is common).
//! Then, one ultrapeer at a time, the query goes to a neighbour not queried
//! yet, with a TTL picked from the results still wanted, the results per
//! host reached so far and that neighbour's degree; between two sends the
//! query waits for results. It stops at its result target, when every
//! ultrapeer neighbour has been queried, past [`MAX_HORIZON`] hosts reached
//! or after [`MAX_LIFETIME`].
//!
//! Deviations from gtk-gnutella 1.2: the probe's results are awaited once
//! ([`PROBE_TIMEOUT`] + [`QUERY_TIMEOUT`]) rather than once per probed
//! ultrapeer, since our probes leave together; the results per host are a
//! real ratio (gtk-gnutella's integer division makes it 0 and the TTL always
//! the highest); and when a single host would be enough the TTL is 1 (gtk
//! falls back to the highest). There is no leaf guidance (vendor messages).

use super::routing::ConnId;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Results wanted for our own searches (gtk-gnutella `DQ_LOCAL_RESULTS`).
pub const LOCAL_RESULTS: u32 = 150;
/// Results wanted for a leaf's query (`DQ_LEAF_RESULTS`).
pub const LEAF_RESULTS: u32 = 50;
/// A query by SHA-1 wants this many times fewer results (`DQ_SHA1_DECIMATOR`).
pub const SHA1_DECIMATOR: u32 = 25;
/// Ultrapeers queried by the probe (`DQ_PROBE_UP`).
pub const PROBE_UPS: usize = 3;
/// Highest TTL a dynamic query uses (`DQ_MAX_TTL`).
pub const MAX_TTL: u8 = 5;
/// Wait for results after each later send, at first (`DQ_QUERY_TIMEOUT`).
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(3700);
/// Extra wait after the probe (`DQ_PROBE_TIMEOUT`).
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);
/// Shortest wait between sends (`DQ_MIN_TIMEOUT`).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1500);
/// The wait shrinks by this much per send while results are rare.
pub const TIMEOUT_ADJUST: Duration = Duration::from_millis(100);
/// A dynamic query ends after this long whatever happens.
pub const MAX_LIFETIME: Duration = Duration::from_secs(600);
/// Stop once this many hosts were (theoretically) reached.
pub const MAX_HORIZON: u64 = 500_000;
/// Horizon past which rare results shorten the wait (`DQ_MIN_HORIZON`).
const MIN_HORIZON: u64 = 3000;
/// Results per [`MIN_HORIZON`] hosts below which results are rare.
const LOW_RESULTS: u64 = 10;
/// Degree assumed for an ultrapeer without `X-Degree` (`NODE_LEGACY_DEGREE`).
pub const LEGACY_DEGREE: u32 = 8;
/// Loss per hop assumed by the horizon estimate (`DQ_FUZZY_FACTOR`).
const FUZZY_FACTOR: f64 = 0.8;

/// The results a dynamic query aims for: for a leaf's query or ours, by
/// SHA-1 or by keywords.
pub fn results_wanted(for_leaf: bool, by_urn: bool) -> u32 {
    let base = if for_leaf {
        LEAF_RESULTS
    } else {
        LOCAL_RESULTS
    };
    if by_urn {
        base / SHA1_DECIMATOR
    } else {
        base
    }
}

/// Hosts a query sent with `ttl` to a node of `degree` reaches, in theory:
/// `Σ (degree-1)^i for i < ttl`, reduced by [`FUZZY_FACTOR`] per extra hop.
pub fn horizon(degree: u32, ttl: u8) -> u64 {
    let d = f64::from(degree.clamp(1, 50) - 1);
    let t = i32::from(ttl.clamp(1, MAX_TTL));
    let hosts: f64 = (0..t).map(|i| d.powi(i)).sum();
    (hosts * FUZZY_FACTOR.powi(t - 1)) as u64
}

/// An ultrapeer neighbour as the dynamic query sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: ConnId,
    /// Its `X-Degree` ([`LEGACY_DEGREE`] without one).
    pub degree: u32,
    /// The most TTL it takes (`X-Max-TTL`).
    pub max_ttl: u8,
    /// What its QRP table says of the query: `None` without a table (it may
    /// route anything), else whether it matches.
    pub route: Option<bool>,
    /// Descriptors waiting in its send queue.
    pub queued: usize,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing until the next poll.
    Wait,
    /// Send the query to each of these neighbours with that TTL.
    Send(Vec<(ConnId, u8)>),
    /// The query is over: forget it.
    Done,
}

/// One dynamic query.
#[derive(Debug, Clone)]
pub struct DynamicQuery {
    max_results: u32,
    ttl: u8,
    probe_only: bool,
    started: Instant,
    next: Instant,
    probed: bool,
    done: bool,
    results: u32,
    horizon: u64,
    queried: HashSet<ConnId>,
    result_timeout: Duration,
}

impl DynamicQuery {
    /// A query aiming for `max_results`, sent with at most `ttl`. With
    /// `probe_only` it ends after the probe (its hits do not come through
    /// us, e.g. out-of-band replies, so it cannot be steered).
    pub fn new(max_results: u32, ttl: u8, probe_only: bool, now: Instant) -> Self {
        DynamicQuery {
            max_results: max_results.max(1),
            ttl: ttl.clamp(1, MAX_TTL),
            probe_only,
            started: now,
            next: now,
            probed: false,
            done: false,
            results: 0,
            horizon: 0,
            queried: HashSet::new(),
            result_timeout: QUERY_TIMEOUT,
        }
    }

    /// Counts `n` results (records of a query hit) routed back for it.
    pub fn on_results(&mut self, n: usize) {
        self.results = self
            .results
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Results counted so far.
    pub fn results(&self) -> u32 {
        self.results
    }

    /// Ultrapeers queried so far.
    pub fn queried(&self) -> usize {
        self.queried.len()
    }

    /// Hosts reached in theory so far.
    pub fn horizon(&self) -> u64 {
        self.horizon
    }

    /// True once over.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decides what to do at `now` given the ultrapeer neighbours `ups`.
    pub fn poll(&mut self, now: Instant, ups: &[Candidate]) -> Step {
        if self.done || now.saturating_duration_since(self.started) >= MAX_LIFETIME {
            return self.finish();
        }
        if now < self.next {
            return Step::Wait;
        }
        if !self.probed {
            self.probed = true;
            if let Some(step) = self.probe(now, ups) {
                return step;
            }
        } else if self.probe_only {
            return self.finish();
        }
        self.send_next(now, ups)
    }

    fn finish(&mut self) -> Step {
        self.done = true;
        Step::Done
    }

    fn record(&mut self, c: &Candidate, ttl: u8) -> (ConnId, u8) {
        let ttl = ttl.min(c.max_ttl).max(1);
        self.queried.insert(c.id);
        self.horizon = self.horizon.saturating_add(horizon(c.degree, ttl));
        (c.id, ttl)
    }

    /// The first send: `None` when no ultrapeer may match.
    fn probe(&mut self, now: Instant, ups: &[Candidate]) -> Option<Step> {
        let mut found: Vec<&Candidate> = ups.iter().filter(|c| c.route != Some(false)).collect();
        if found.is_empty() {
            return None;
        }
        // Many matching ultrapeers: the content is common, go less far.
        let mut ttl = self.ttl;
        if found.len() > 6 * PROBE_UPS {
            ttl -= 1;
        }
        if found.len() > 3 * PROBE_UPS {
            ttl = ttl.saturating_sub(1);
        }
        let ttl = ttl.max(1);
        found.sort_by_key(|c| c.queued);
        let sends = found
            .into_iter()
            .take(PROBE_UPS)
            .map(|c| self.record(c, ttl))
            .collect();
        self.next = now + PROBE_TIMEOUT + self.result_timeout;
        Some(Step::Send(sends))
    }

    fn send_next(&mut self, now: Instant, ups: &[Candidate]) -> Step {
        if self.results >= self.max_results || self.horizon >= MAX_HORIZON {
            return self.finish();
        }
        let mut left: Vec<&Candidate> = ups
            .iter()
            .filter(|c| !self.queried.contains(&c.id))
            .collect();
        // Least loaded first, those whose table matches before the others.
        left.sort_by_key(|c| (c.route == Some(false), c.queued));
        let count = left.len();
        for c in left {
            let ttl = self.select_ttl(c, count);
            // A last hop to an ultrapeer whose table says no is wasted.
            if ttl == 1 && c.route == Some(false) {
                continue;
            }
            let send = self.record(c, ttl);
            let rare = self.horizon > MIN_HORIZON
                && u64::from(self.results) < LOW_RESULTS * self.horizon / MIN_HORIZON;
            if rare {
                self.result_timeout = self
                    .result_timeout
                    .saturating_sub(TIMEOUT_ADJUST)
                    .max(MIN_TIMEOUT);
            }
            self.next = now + self.result_timeout;
            return Step::Send(vec![send]);
        }
        self.finish()
    }

    /// The TTL for `c`: enough to reach its share of the hosts still needed
    /// (split evenly over the `connections` left), never above its limit.
    fn select_ttl(&self, c: &Candidate, connections: usize) -> u8 {
        let needed = f64::from(self.max_results.saturating_sub(self.results).max(1));
        let per_host = f64::from(self.results) / self.horizon.max(1) as f64;
        let hosts = needed / per_host.max(1e-6);
        let via_node = hosts / connections.max(1) as f64;
        let top = c.max_ttl.min(self.ttl).max(1);
        (1..=top)
            .rev()
            .find(|&t| horizon(c.degree, t) as f64 <= via_node)
            .unwrap_or(1)
    }
}

#[cfg(test)]
#[path = "dq_tests.rs"]
mod tests;
