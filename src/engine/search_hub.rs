//! The search hub: one query fans out to every network, hits stream back and
//! rows with the same content hash merge into one row whose sources add up.

use std::collections::{BTreeSet, HashMap, VecDeque};
use swarmux_api::{ResultRow, SearchView};
use swarmux_net::{ContentHash, FileKind, SearchHit, SearchId};

/// How many searches are kept (older ones are dropped with their rows).
const KEPT_SEARCHES: usize = 8;
/// Rows kept per search; further distinct files are ignored.
const MAX_ROWS: usize = 2000;

/// A row plus what the engine needs to download it.
struct Row {
    view: ResultRow,
    /// (network, link) pairs, in arrival order.
    links: Vec<(String, String)>,
}

struct Search {
    id: SearchId,
    text: String,
    rows: Vec<Row>,
    by_hash: HashMap<ContentHash, usize>,
    pending: BTreeSet<String>,
}

/// All recent searches and their merged rows.
#[derive(Default)]
pub struct SearchHub {
    searches: VecDeque<Search>,
    next_id: SearchId,
    next_row: u64,
}

impl SearchHub {
    /// Registers a new search sent to `networks`; returns its id.
    pub fn start(&mut self, text: &str, networks: &[String]) -> SearchId {
        self.next_id += 1;
        if self.searches.len() == KEPT_SEARCHES {
            self.searches.pop_front();
        }
        self.searches.push_back(Search {
            id: self.next_id,
            text: text.to_string(),
            rows: Vec::new(),
            by_hash: HashMap::new(),
            pending: networks.iter().cloned().collect(),
        });
        self.next_id
    }

    /// Adds one hit; returns false when its search is unknown (too old) or full.
    pub fn add_hit(&mut self, hit: SearchHit) -> bool {
        let Some(search) = self.searches.iter_mut().find(|s| s.id == hit.search) else {
            return false;
        };
        let existing = hit
            .hashes
            .iter()
            .find_map(|h| search.by_hash.get(h).copied());
        let index = match existing {
            Some(i) => {
                let row = &mut search.rows[i];
                row.view.sources += hit.sources;
                row.view.complete_sources += hit.complete_sources.unwrap_or(0);
                if !row.view.networks.contains(&hit.network) {
                    row.view.networks.push(hit.network.clone());
                }
                for h in &hit.hashes {
                    let s = h.to_string();
                    if !row.view.hashes.contains(&s) {
                        row.view.hashes.push(s);
                    }
                }
                if !row
                    .links
                    .iter()
                    .any(|(n, l)| *n == hit.network && *l == hit.link)
                {
                    row.links.push((hit.network.clone(), hit.link.clone()));
                }
                i
            }
            None => {
                if search.rows.len() >= MAX_ROWS {
                    return false;
                }
                self.next_row += 1;
                search.rows.push(Row {
                    view: ResultRow {
                        id: self.next_row,
                        kind: FileKind::from_name(&hit.name),
                        name: hit.name.clone(),
                        size: hit.size,
                        sources: hit.sources,
                        complete_sources: hit.complete_sources.unwrap_or(0),
                        networks: vec![hit.network.clone()],
                        hashes: hit.hashes.iter().map(|h| h.to_string()).collect(),
                    },
                    links: vec![(hit.network.clone(), hit.link.clone())],
                });
                search.rows.len() - 1
            }
        };
        for h in hit.hashes {
            search.by_hash.entry(h).or_insert(index);
        }
        true
    }

    /// Marks `network` as finished with `search`.
    pub fn network_done(&mut self, search: SearchId, network: &str) {
        if let Some(s) = self.searches.iter_mut().find(|s| s.id == search) {
            s.pending.remove(network);
        }
    }

    /// The download links of a row (any recent search), first network first.
    pub fn links_of_row(&self, row_id: u64) -> Option<&[(String, String)]> {
        self.searches
            .iter()
            .flat_map(|s| s.rows.iter())
            .find(|r| r.view.id == row_id)
            .map(|r| r.links.as_slice())
    }

    /// The searches as clients see them, oldest first.
    pub fn views(&self) -> Vec<SearchView> {
        self.searches
            .iter()
            .map(|s| SearchView {
                id: s.id,
                text: s.text.clone(),
                rows: s.rows.iter().map(|r| r.view.clone()).collect(),
                pending: s.pending.iter().cloned().collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(search: SearchId, net: &str, name: &str, hash: ContentHash, sources: u32) -> SearchHit {
        SearchHit {
            search,
            network: net.into(),
            name: name.into(),
            size: 100,
            hashes: vec![hash],
            sources,
            complete_sources: Some(1),
            link: format!("{net}://{name}"),
        }
    }

    #[test]
    fn same_hash_merges_and_sources_add_up() {
        let mut hub = SearchHub::default();
        let id = hub.start("x", &["net-a".into(), "net-b".into()]);
        let h = ContentHash::Ed2k([1; 16]);
        assert!(hub.add_hit(hit(id, "net-a", "a.iso", h, 2)));
        assert!(hub.add_hit(hit(id, "net-b", "a copy.iso", h, 3)));
        assert!(hub.add_hit(hit(id, "net-a", "b.iso", ContentHash::Ed2k([2; 16]), 1)));
        let v = &hub.views()[0];
        assert_eq!(v.rows.len(), 2);
        assert_eq!(v.rows[0].sources, 5);
        assert_eq!(v.rows[0].complete_sources, 2);
        assert_eq!(v.rows[0].networks, vec!["net-a", "net-b"]);
        assert_eq!(hub.links_of_row(v.rows[0].id).unwrap().len(), 2);
        hub.network_done(id, "net-a");
        assert_eq!(hub.views()[0].pending, vec!["net-b"]);
    }

    #[test]
    fn old_searches_are_dropped() {
        let mut hub = SearchHub::default();
        let first = hub.start("first", &[]);
        for _ in 0..KEPT_SEARCHES {
            hub.start("more", &[]);
        }
        assert!(!hub.add_hit(hit(first, "net-a", "a", ContentHash::Ed2k([1; 16]), 1)));
        assert_eq!(hub.views().len(), KEPT_SEARCHES);
    }
}
