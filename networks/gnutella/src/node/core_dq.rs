//! The node loop's dynamic queries ([`crate::proto::dq`]): an ultrapeer
//! sends the queries it originates, for itself or for a leaf, to its
//! ultrapeer neighbours a few at a time, driven by the tick and by the
//! results that come back (ours, and those routed to the leaf, including
//! the hits of our own leaves whose QRP table matched).

use super::Node;
use crate::proto::descriptor::{Descriptor, Guid, Header, DEFAULT_MAX_TTL};
use crate::proto::dq::{self, Candidate, DynamicQuery, Step, LEGACY_DEGREE};
use crate::proto::handshake::Role;
use crate::proto::query::{Query, FLAG_OOB};
use crate::proto::routing::ConnId;
use std::time::Instant;

/// Most dynamic queries at once; past it, queries are flooded.
const MAX_DQS: usize = 256;

/// One running dynamic query.
pub(super) struct ActiveDq {
    dq: DynamicQuery,
    /// The header to send (its TTL is set per neighbour).
    header: Header,
    payload: Vec<u8>,
    query: Query,
    /// The leaf it runs for; `None` for ours.
    leaf: Option<ConnId>,
    /// One of our searches: it ends with the search.
    search: bool,
}

impl Node {
    /// True when another dynamic query may start.
    pub(super) fn dq_room(&self) -> bool {
        self.role == Role::Ultrapeer && self.dqs.len() < MAX_DQS
    }

    /// Starts querying dynamically for `header.guid` (ours when `leaf` is
    /// `None`); the probe leaves at once.
    pub(super) fn start_dq(
        &mut self,
        header: Header,
        payload: Vec<u8>,
        query: &Query,
        leaf: Option<ConnId>,
        search: bool,
        now: Instant,
    ) {
        let wanted = dq::results_wanted(leaf.is_some(), !query.ext.urns.is_empty());
        // Out-of-band hits do not come through us: nothing to steer by.
        let probe_only = leaf.is_some() && query.effective_flags() & FLAG_OOB != 0;
        let active = ActiveDq {
            dq: DynamicQuery::new(wanted, header.ttl, probe_only, now),
            header,
            payload,
            query: query.clone(),
            leaf,
            search,
        };
        self.dqs.insert(header.guid, active);
        self.drive_dq(header.guid, now);
    }

    /// Every dynamic query's next step (once a second).
    pub(super) fn drive_dqs(&mut self, now: Instant) {
        let searches = &self.searches;
        self.dqs
            .retain(|guid, a| !a.search || searches.is_ours(guid));
        let guids: Vec<Guid> = self.dqs.keys().copied().collect();
        for guid in guids {
            self.drive_dq(guid, now);
        }
    }

    /// Counts the results of a hit to `guid`.
    pub(super) fn dq_results(&mut self, guid: &Guid, results: usize) {
        if let Some(a) = self.dqs.get_mut(guid) {
            a.dq.on_results(results);
        }
    }

    /// Ends the dynamic queries run for a leaf that left.
    pub(super) fn dq_forget_leaf(&mut self, id: ConnId) {
        self.dqs.retain(|_, a| a.leaf != Some(id));
    }

    fn drive_dq(&mut self, guid: Guid, now: Instant) {
        let ups = self.dq_candidates(&guid);
        let Some(a) = self.dqs.get_mut(&guid) else {
            return;
        };
        match a.dq.poll(now, &ups) {
            Step::Wait => {}
            Step::Done => {
                self.dqs.remove(&guid);
            }
            Step::Send(sends) => {
                let (header, payload) = (a.header, a.payload.clone());
                for (id, ttl) in sends {
                    let d = Descriptor {
                        header: Header { ttl, ..header },
                        payload: payload.clone(),
                    };
                    if let Some(n) = self.neighbours.get_mut(&id) {
                        if n.send(&d) {
                            n.counts.queries_out += 1;
                        }
                    }
                }
            }
        }
    }

    /// Our ultrapeer neighbours as the dynamic query for `guid` sees them.
    fn dq_candidates(&self, guid: &Guid) -> Vec<Candidate> {
        let Some(a) = self.dqs.get(guid) else {
            return Vec::new();
        };
        let q = &a.query;
        self.neighbours
            .iter()
            .filter(|(_, n)| n.peer_role() == Role::Ultrapeer)
            .map(|(id, n)| Candidate {
                id: *id,
                degree: n.outcome.degree.unwrap_or(LEGACY_DEGREE),
                max_ttl: n
                    .outcome
                    .max_ttl
                    .unwrap_or(DEFAULT_MAX_TTL)
                    .min(DEFAULT_MAX_TTL),
                route: n.qrp_in.table().map(|t| t.matches(&q.text, &q.ext.urns)),
                queued: n.tx.max_capacity() - n.tx.capacity(),
            })
            .collect()
    }
}
