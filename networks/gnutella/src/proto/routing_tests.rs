use super::*;
use crate::proto::descriptor::{TYPE_PING, TYPE_QUERY, TYPE_QUERY_HIT};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

fn header(guid: u8, ttl: u8, hops: u8) -> Header {
    Header {
        guid: Guid([guid; 16]),
        payload_type: TYPE_QUERY,
        ttl,
        hops,
        payload_len: 0,
    }
}

#[test]
fn seen_table_detects_duplicates_expires_and_is_bounded() {
    let t0 = Instant::now();
    let mut r = Router::new(3, Duration::from_secs(10));
    assert_eq!(r.on_broadcast(&header(1, 3, 0), 7, t0), Seen::New);
    assert_eq!(
        r.on_broadcast(&header(1, 2, 1), 8, t0),
        Seen::Duplicate {
            first_from: Route::Conn(7)
        }
    );
    let mut ping = header(1, 1, 0);
    ping.payload_type = TYPE_PING;
    assert_eq!(
        r.on_broadcast(&ping, 8, t0),
        Seen::New,
        "same GUID, other type"
    );
    assert_eq!(
        r.reply_route(Guid([1; 16]), TYPE_QUERY, t0),
        Some(Route::Conn(7))
    );
    // Expiry.
    let later = t0 + Duration::from_secs(11);
    assert_eq!(r.reply_route(Guid([1; 16]), TYPE_QUERY, later), None);
    assert_eq!(r.on_broadcast(&header(1, 3, 0), 9, later), Seen::New);
    // Capacity: the oldest goes first.
    for g in 2..6 {
        r.on_broadcast(&header(g, 3, 0), 1, later);
    }
    assert!(r.seen.len() <= 3);
    assert_eq!(r.reply_route(Guid([2; 16]), TYPE_QUERY, later), None);
    assert_eq!(
        r.reply_route(Guid([5; 16]), TYPE_QUERY, later),
        Some(Route::Conn(1))
    );
    // Our own queries route hits to us and their echoes are duplicates.
    r.originate(&header(9, 4, 0), later);
    assert_eq!(
        r.reply_route(Guid([9; 16]), TYPE_QUERY, later),
        Some(Route::Local)
    );
    assert!(matches!(
        r.on_broadcast(&header(9, 3, 1), 2, later),
        Seen::Duplicate { .. }
    ));
    // Push routes and forgetting a connection.
    r.on_query_hit(Guid([0xAA; 16]), Route::Conn(4), later);
    assert_eq!(r.push_route(Guid([0xAA; 16]), later), Some(Route::Conn(4)));
    r.forget_connection(4);
    assert_eq!(r.push_route(Guid([0xAA; 16]), later), None);
}

#[test]
fn flood_rules() {
    let mut table = QrpTable::new(12);
    table.add_file("sintel 2010.mkv", None);
    let n = [
        Neighbour {
            id: 1,
            role: Role::Ultrapeer,
            qrp: None,
        },
        Neighbour {
            id: 2,
            role: Role::Ultrapeer,
            qrp: None,
        },
        Neighbour {
            id: 3,
            role: Role::Leaf,
            qrp: Some(&table),
        },
        Neighbour {
            id: 4,
            role: Role::Leaf,
            qrp: None,
        },
    ];
    let q = Query::keywords("sintel");
    let got = flood_targets(Role::Ultrapeer, &header(1, 3, 1), &q, Route::Conn(1), &n);
    let ids: Vec<_> = got.iter().map(|(id, h)| (*id, h.ttl, h.hops)).collect();
    assert_eq!(ids, vec![(2, 2, 2), (3, 2, 2)]);
    // TTL 1: no more ultrapeers, matching leaves still get it with TTL 1.
    let got = flood_targets(Role::Ultrapeer, &header(1, 1, 3), &q, Route::Conn(1), &n);
    assert_eq!(
        got.iter().map(|(id, h)| (*id, h.ttl)).collect::<Vec<_>>(),
        vec![(3, 1)]
    );
    // Non-matching query: no leaf. Leaves never forward.
    let other = Query::keywords("windows");
    assert_eq!(
        flood_targets(Role::Ultrapeer, &header(1, 3, 0), &other, Route::Local, &n).len(),
        2
    );
    assert!(flood_targets(Role::Leaf, &header(1, 3, 0), &q, Route::Conn(1), &n).is_empty());
}

#[test]
fn last_hop_to_ultrapeers_is_qrp_guarded() {
    let mut sintel = QrpTable::new(17);
    sintel.add_file("sintel 2010.mkv", None);
    let empty = QrpTable::new(17);
    let n = [
        // Sent a table with the file.
        Neighbour {
            id: 1,
            role: Role::Ultrapeer,
            qrp: Some(&sintel),
        },
        // Sent a table without it.
        Neighbour {
            id: 2,
            role: Role::Ultrapeer,
            qrp: Some(&empty),
        },
        // Sent no table: gets everything.
        Neighbour {
            id: 3,
            role: Role::Ultrapeer,
            qrp: None,
        },
    ];
    let q = Query::keywords("sintel");
    let ids = |ttl: u8, q: &Query| -> Vec<ConnId> {
        flood_targets(Role::Ultrapeer, &header(1, ttl, 1), q, Route::Local, &n)
            .iter()
            .map(|(id, _)| *id)
            .collect()
    };
    // Arriving with TTL 2 there: not the last hop, every ultrapeer.
    assert_eq!(ids(3, &q), vec![1, 2, 3]);
    // Arriving with TTL 1: only where the table matches, or no table.
    assert_eq!(ids(2, &q), vec![1, 3]);
    assert_eq!(ids(2, &Query::keywords("windows")), vec![3]);
    // URN queries are routed by their URN.
    let urn = crate::proto::huge::Sha1Urn([9; 20]);
    let mut with_urn = QrpTable::new(17);
    with_urn.add_file("x", Some(&urn));
    let n2 = [Neighbour {
        id: 5,
        role: Role::Ultrapeer,
        qrp: Some(&with_urn),
    }];
    let by_urn = Query::by_urn(urn);
    assert_eq!(
        flood_targets(
            Role::Ultrapeer,
            &header(1, 2, 1),
            &by_urn,
            Route::Local,
            &n2
        )
        .len(),
        1
    );
}

struct Node {
    role: Role,
    router: Router,
    links: Vec<usize>,
    qrp: QrpTable,
    shares: bool,
    handled: u32,
}

enum Msg {
    Query(Header, Vec<usize>),
    Hit(Header, Vec<usize>, usize),
}

/// Thirty nodes (5 ultrapeers in a random connected mesh, 25 leaves with 1-3
/// ultrapeers each), one query from a leaf: every node handles it at most
/// once, every reached node sharing a match answers, every hit comes back to
/// the querier along the exact reverse of the query's path.
#[test]
fn thirty_node_flood() {
    let mut rng = StdRng::seed_from_u64(5);
    let ups = 5;
    let mut nodes: Vec<Node> = (0..30)
        .map(|i| Node {
            role: if i < ups { Role::Ultrapeer } else { Role::Leaf },
            router: Router::default(),
            links: Vec::new(),
            qrp: QrpTable::new(14),
            shares: false,
            handled: 0,
        })
        .collect();
    let link = |nodes: &mut [Node], a: usize, b: usize| {
        if a != b && !nodes[a].links.contains(&b) {
            nodes[a].links.push(b);
            nodes[b].links.push(a);
        }
    };
    for i in 1..ups {
        let j = rng.gen_range(0..i);
        link(&mut nodes, i, j);
    }
    link(&mut nodes, 0, ups - 1);
    for leaf in ups..30 {
        for _ in 0..rng.gen_range(1..=3) {
            let up = rng.gen_range(0..ups);
            link(&mut nodes, leaf, up);
        }
    }
    for (i, n) in nodes.iter_mut().enumerate() {
        n.shares = i % 3 == 0 && i != 7;
        let name = if n.shares {
            format!("Sintel {i}.mkv")
        } else {
            format!("other {i}.avi")
        };
        n.qrp.add_file(&name, None);
    }
    let origin = 7; // a leaf
    assert_eq!(nodes[origin].role, Role::Leaf);
    let q = Query::keywords("sintel");
    let h = Header {
        guid: Guid::random(),
        payload_type: TYPE_QUERY,
        ttl: 4,
        hops: 0,
        payload_len: 0,
    };
    let now = Instant::now();
    nodes[origin].router.originate(&h, now);
    let mut queue: VecDeque<(usize, usize, Msg)> = nodes[origin]
        .links
        .iter()
        .map(|&up| (up, origin, Msg::Query(h, vec![origin])))
        .collect();
    let (mut sent, mut hits) = (queue.len(), BTreeMap::new());
    while let Some((at, from, msg)) = queue.pop_front() {
        match msg {
            Msg::Query(h, path) => {
                if nodes[at].router.on_broadcast(&h, from as u64, now) != Seen::New {
                    continue;
                }
                nodes[at].handled += 1;
                let mut path = path;
                path.push(at);
                if nodes[at].shares {
                    let mut hh = h;
                    hh.payload_type = TYPE_QUERY_HIT;
                    (hh.ttl, hh.hops) = (h.hops + 1, 0);
                    queue.push_back((from, at, Msg::Hit(hh, path.clone(), at)));
                    sent += 1;
                }
                let neigh: Vec<Neighbour> = nodes[at]
                    .links
                    .iter()
                    .map(|&l| Neighbour {
                        id: l as u64,
                        role: nodes[l].role,
                        qrp: Some(&nodes[l].qrp),
                    })
                    .collect();
                for (to, fh) in
                    flood_targets(nodes[at].role, &h, &q, Route::Conn(from as u64), &neigh)
                {
                    queue.push_back((to as usize, at, Msg::Query(fh, path.clone())));
                    sent += 1;
                }
            }
            Msg::Hit(hh, mut path, responder) => {
                // The hit must arrive from the next node on the query path, reversed.
                assert_eq!(path.pop(), Some(from), "hit off the reverse path");
                assert_eq!(path.last(), Some(&at));
                match nodes[at].router.reply_route(hh.guid, TYPE_QUERY, now) {
                    Some(Route::Local) => {
                        assert_eq!(at, origin);
                        *hits.entry(responder).or_insert(0) += 1;
                    }
                    Some(Route::Conn(next)) => {
                        queue.push_back((next as usize, at, Msg::Hit(hh, path, responder)));
                        sent += 1;
                    }
                    None => panic!("no reverse route at {at}"),
                }
            }
        }
    }
    let expected: BTreeSet<usize> = (0..30).filter(|&i| nodes[i].shares).collect();
    assert!(
        nodes.iter().all(|n| n.handled <= 1),
        "a node handled the query twice"
    );
    assert_eq!(hits.keys().copied().collect::<BTreeSet<_>>(), expected);
    assert!(hits.values().all(|&c| c == 1));
    // Every ultrapeer got it; leaves only when their table matched.
    for (i, n) in nodes.iter().enumerate() {
        match n.role {
            Role::Ultrapeer => assert_eq!(n.handled, 1, "ultrapeer {i}"),
            Role::Leaf if i != origin => assert_eq!(n.handled, u32::from(n.shares), "leaf {i}"),
            Role::Leaf => {}
        }
    }
    println!(
        "30-node flood: {sent} messages sent for one query, {} hits",
        hits.len()
    );
}
