//! Our running searches: the query GUID of each, turning query hits into
//! [`SearchHit`]s filtered by the request, and the deadline after which the
//! engine is told the search is done.

use crate::magnet::{Magnet, Source};
use crate::proto::descriptor::Guid;
use crate::proto::query_hit::QueryHit;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;
use swarmux_net::{ContentHash, SearchHit, SearchId, SearchRequest};

/// How long a search collects hits, at least.
pub const SEARCH_TIME: Duration = Duration::from_secs(15);
/// How long a search may go on while its dynamic query still runs.
pub const MAX_SEARCH_TIME: Duration = Duration::from_secs(120);
/// Most hits reported per search.
pub const MAX_HITS: usize = 500;

struct Active {
    req: Arc<SearchRequest>,
    deadline: Instant,
    /// The end, even while its dynamic query runs.
    last: Instant,
    /// (file, source) pairs already reported.
    seen: HashSet<([u8; 20], std::net::SocketAddrV4)>,
}

/// The running searches by query GUID.
#[derive(Default)]
pub struct Searches {
    by_guid: HashMap<Guid, Active>,
}

/// One result of a hit, as a source of a file.
pub struct Found {
    pub source: Source,
    pub urn: crate::proto::huge::Sha1Urn,
    pub name: String,
    pub size: u64,
}

/// The results of a hit that carry a SHA-1 (others cannot be downloaded).
pub fn found(hit: &QueryHit) -> Vec<Found> {
    let firewalled = hit.trailer.as_ref().and_then(|t| t.push).unwrap_or(false);
    hit.results
        .iter()
        .filter_map(|r| {
            Some(Found {
                source: Source {
                    addr: hit.addr,
                    push: Some((hit.servent, r.index)),
                    firewalled,
                },
                urn: *r.ext.urns.first()?,
                name: r.name.clone(),
                size: r.size,
            })
        })
        .collect()
}

impl Searches {
    /// Starts tracking a search sent with `guid`.
    pub fn add(&mut self, guid: Guid, req: Arc<SearchRequest>, now: Instant) {
        self.by_guid.insert(
            guid,
            Active {
                req,
                deadline: now + SEARCH_TIME,
                last: now + MAX_SEARCH_TIME,
                seen: HashSet::new(),
            },
        );
    }

    /// True when `guid` is one of our searches.
    pub fn is_ours(&self, guid: &Guid) -> bool {
        self.by_guid.contains_key(guid)
    }

    /// The hits to report for a query hit to our query `guid`; `sources`
    /// gives every known source of a file for its link.
    pub fn on_hit(
        &mut self,
        guid: &Guid,
        found: &[Found],
        sources: impl Fn(&crate::proto::huge::Sha1Urn) -> Vec<Source>,
    ) -> Vec<SearchHit> {
        let Some(a) = self.by_guid.get_mut(guid) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for f in found {
            if a.seen.len() >= MAX_HITS
                || !a.req.expr.matches(&f.name)
                || !a.req.accepts(&f.name, f.size)
                || !a.seen.insert((f.urn.0, f.source.addr))
            {
                continue;
            }
            let link = Magnet {
                urn: f.urn,
                name: f.name.clone(),
                size: f.size,
                sources: sources(&f.urn),
            }
            .to_link();
            out.push(SearchHit {
                search: a.req.id,
                network: "gnutella".into(),
                name: f.name.clone(),
                size: f.size,
                hashes: vec![ContentHash::Sha1(f.urn.0)],
                sources: 1,
                complete_sources: Some(1),
                link,
            });
        }
        out
    }

    /// Ends the search with engine id `id`; true when it was running.
    pub fn cancel(&mut self, id: SearchId) -> bool {
        let before = self.by_guid.len();
        self.by_guid.retain(|_, a| a.req.id != id);
        before != self.by_guid.len()
    }

    /// Removes searches past their deadline and returns their ids; a search
    /// whose query is still `busy` (queried dynamically) lasts up to
    /// [`MAX_SEARCH_TIME`].
    pub fn expire(&mut self, now: Instant, busy: impl Fn(&Guid) -> bool) -> Vec<SearchId> {
        let mut done = Vec::new();
        self.by_guid.retain(|guid, a| {
            let live = a.deadline > now || (a.last > now && busy(guid));
            if !live {
                done.push(a.req.id);
            }
            live
        });
        done
    }
}
