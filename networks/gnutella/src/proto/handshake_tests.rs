use super::*;
use proptest::prelude::*;

const PEER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const US: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a full handshake between our own two sides.
fn pair(c: HandshakeConfig, a: HandshakeConfig) -> (Step, Step) {
    let (mut conn, step1) = Connector::new(c, PEER);
    let mut acc = Acceptor::new(a, US);
    let step2 = match acc.feed(&step1).unwrap() {
        Step::Send(b) => b,
        other => return (other, Step::NeedMore),
    };
    let conn_step = conn.feed(&step2).unwrap();
    let Step::Done { send, .. } = &conn_step else {
        return (Step::NeedMore, conn_step);
    };
    let mut with_stream = send.clone();
    with_stream.extend_from_slice(b"STREAM");
    (acc.feed(&with_stream).unwrap(), conn_step)
}

#[test]
fn leaf_to_ultrapeer_with_compression_both_ways() {
    let mut leaf = HandshakeConfig::new(Role::Leaf);
    leaf.listen = Some(SocketAddrV4::new(US, 6346));
    let (acc, conn) = pair(leaf, HandshakeConfig::new(Role::Ultrapeer));
    let Step::Done {
        outcome: a,
        leftover,
        ..
    } = acc
    else {
        panic!("{acc:?}")
    };
    let Step::Done { outcome: c, .. } = conn else {
        panic!("{conn:?}")
    };
    assert_eq!(leftover, b"STREAM");
    assert_eq!((c.our_role, c.peer_role), (Role::Leaf, Role::Ultrapeer));
    assert_eq!((a.our_role, a.peer_role), (Role::Ultrapeer, Role::Leaf));
    assert!(c.compress_in && c.compress_out && a.compress_in && a.compress_out);
    assert_eq!(c.user_agent.as_deref(), Some(user_agent().as_str()));
    assert!(user_agent().starts_with("swarmux/"));
    assert_eq!(a.peer_listen, Some(SocketAddrV4::new(US, 6346)));
    assert_eq!(c.our_ip_seen, Some(US));
    assert_eq!(a.query_routing.as_deref(), Some("0.2"));
}

#[test]
fn compression_is_per_direction() {
    let mut leaf = HandshakeConfig::new(Role::Leaf);
    leaf.send_deflate = false;
    let mut up = HandshakeConfig::new(Role::Ultrapeer);
    up.accept_deflate = false;
    let (acc, conn) = pair(leaf, up);
    let Step::Done { outcome: a, .. } = acc else {
        panic!()
    };
    let Step::Done { outcome: c, .. } = conn else {
        panic!()
    };
    assert!(c.compress_in && !c.compress_out);
    assert!(a.compress_out && !a.compress_in);
}

#[test]
fn request_has_the_headers_real_servents_expect() {
    let mut cfg = HandshakeConfig::new(Role::Leaf);
    cfg.listen = Some(SocketAddrV4::new(US, 6346));
    let (_, step1) = Connector::new(cfg, PEER);
    let s = text(&step1);
    assert!(s.starts_with("GNUTELLA CONNECT/0.6\r\n"));
    for h in [
        "User-Agent: swarmux/",
        "X-Ultrapeer: False\r\n",
        "X-Query-Routing: 0.2\r\n",
        "Listen-IP: 127.0.0.1:6346\r\n",
        "Remote-IP: 127.0.0.2\r\n",
        "Accept-Encoding: deflate\r\n",
        "Pong-Caching: 0.1\r\n",
        "Bye-Packet: 0.1\r\n",
    ] {
        assert!(s.contains(h), "{h} missing in {s}");
    }
    assert!(!s.to_ascii_lowercase().contains("vendor-message"));
    // Ultrapeer-only headers are not sent by a leaf.
    assert!(!s.contains("X-Degree") && !s.contains("X-Ultrapeer-Query-Routing"));
    assert!(s.ends_with("\r\n\r\n"));
}

#[test]
fn ultrapeer_announces_degree_max_ttl_and_last_hop_qrp() {
    // gtk-gnutella reads X-Degree and X-Max-TTL (assuming 8 and 7 without
    // them) and exchanges QRP tables only with ultrapeers that sent
    // X-Ultrapeer-Query-Routing.
    let mut cfg = HandshakeConfig::new(Role::Ultrapeer);
    cfg.degree = 16;
    let (_, step1) = Connector::new(cfg.clone(), PEER);
    let s = text(&step1);
    for h in [
        "X-Ultrapeer: True\r\n",
        "X-Degree: 16\r\n",
        "X-Max-TTL: 7\r\n",
        "X-Ultrapeer-Query-Routing: 0.1\r\n",
        "Pong-Caching: 0.1\r\n",
        "Bye-Packet: 0.1\r\n",
    ] {
        assert!(s.contains(h), "{h} missing in {s}");
    }
    let (acc, conn) = pair(cfg.clone(), cfg);
    let (Step::Done { outcome: a, .. }, Step::Done { outcome: c, .. }) = (acc, conn) else {
        panic!()
    };
    assert!(a.ultrapeer_qrp && c.ultrapeer_qrp);
    // A leaf never counts as an inter-ultrapeer QRP peer.
    let (acc, _) = pair(
        HandshakeConfig::new(Role::Leaf),
        HandshakeConfig::new(Role::Ultrapeer),
    );
    let Step::Done { outcome: a, .. } = acc else {
        panic!()
    };
    assert!(!a.ultrapeer_qrp);
}

#[test]
fn gtk_gnutella_503_is_a_refusal_with_try_hosts() {
    let (mut conn, _) = Connector::new(HandshakeConfig::new(Role::Leaf), PEER);
    let reply = b"GNUTELLA/0.6 503 Too many connections\r\n\
        User-Agent: gtk-gnutella/1.2.2 (2022-02-25; GTK2; Linux x86_64)\r\n\
        X-Ultrapeer: True\r\n\
        X-Try-Ultrapeers: 127.0.0.5:6346,127.0.0.6:6346\r\n\r\n";
    assert_eq!(conn.feed(&reply[..30]).unwrap(), Step::NeedMore);
    let Step::Refused { send, refusal } = conn.feed(&reply[30..]).unwrap() else {
        panic!()
    };
    assert!(send.is_empty());
    assert_eq!(
        (refusal.code, refusal.reason.as_str(), refusal.by_peer),
        (503, "Too many connections", true)
    );
    assert_eq!(refusal.try_hosts.len(), 2);
    assert!(refusal.user_agent.unwrap().starts_with("gtk-gnutella"));
    assert_eq!(conn.feed(b""), Err(HandshakeError::Finished));
}

#[test]
fn gtk_gnutella_200_with_deflate() {
    let (mut conn, _) = Connector::new(HandshakeConfig::new(Role::Leaf), PEER);
    let reply = b"GNUTELLA/0.6 200 OK\r\nUser-Agent: gtk-gnutella/1.2.2\r\n\
        X-Ultrapeer: True\r\nX-Query-Routing: 0.2\r\nAccept-Encoding: deflate\r\n\
        Content-Encoding: deflate\r\nRemote-IP: 127.0.0.1\r\n\r\n";
    let Step::Done { send, outcome, .. } = conn.feed(reply).unwrap() else {
        panic!()
    };
    assert_eq!(
        text(&send),
        "GNUTELLA/0.6 200 OK\r\nContent-Encoding: deflate\r\n\r\n"
    );
    assert!(outcome.compress_in && outcome.compress_out);
}

#[test]
fn refusals_by_us() {
    // A leaf refuses incoming connections.
    let (acc, _) = pair(
        HandshakeConfig::new(Role::Leaf),
        HandshakeConfig::new(Role::Leaf),
    );
    let Step::Refused { send, refusal } = acc else {
        panic!()
    };
    assert!(text(&send).starts_with("GNUTELLA/0.6 204 Shielded leaf node\r\n"));
    assert!(!refusal.by_peer);
    // A full ultrapeer refuses more ultrapeers but takes leaves.
    let mut full = HandshakeConfig::new(Role::Ultrapeer);
    full.ultrapeer_slots_free = false;
    full.try_ultrapeers = vec![SocketAddrV4::new(PEER, 1)];
    let (acc, _) = pair(HandshakeConfig::new(Role::Ultrapeer), full.clone());
    let Step::Refused { send, .. } = acc else {
        panic!()
    };
    assert!(text(&send).contains("X-Try-Ultrapeers: 127.0.0.2:1\r\n"));
    assert!(matches!(
        pair(HandshakeConfig::new(Role::Leaf), full).0,
        Step::Done { .. }
    ));
    // A 0.4-style normal node (no X-Ultrapeer) is refused.
    let mut acc = Acceptor::new(HandshakeConfig::new(Role::Ultrapeer), PEER);
    let Step::Refused { refusal, .. } = acc.feed(b"GNUTELLA CONNECT/0.6\r\n\r\n").unwrap() else {
        panic!()
    };
    assert_eq!(refusal.code, 403);
}

#[test]
fn leaf_guidance_in_auto_mode() {
    let mut auto = HandshakeConfig::new(Role::Ultrapeer);
    auto.accept_leaf_guidance = true;
    let mut guiding = HandshakeConfig::new(Role::Ultrapeer);
    guiding.ultrapeer_needed = Some(false);
    let (acc, conn) = pair(auto, guiding);
    let Step::Done { send, outcome, .. } = conn else {
        panic!()
    };
    assert!(text(&send).contains("X-Ultrapeer: False\r\n"));
    assert_eq!(outcome.our_role, Role::Leaf);
    assert!(matches!(acc, Step::Done { .. }));
}

#[test]
fn peer_refusing_at_step_three() {
    let mut acc = Acceptor::new(HandshakeConfig::new(Role::Ultrapeer), PEER);
    let Step::Send(_) = acc
        .feed(b"GNUTELLA CONNECT/0.6\r\nX-Ultrapeer: False\r\n\r\n")
        .unwrap()
    else {
        panic!()
    };
    let Step::Refused { refusal, .. } = acc.feed(b"GNUTELLA/0.6 403 Nope\r\n\r\n").unwrap() else {
        panic!()
    };
    assert_eq!((refusal.code, refusal.by_peer), (403, true));
}

proptest! {
    #[test]
    fn feeding_garbage_never_panics(a in proptest::collection::vec(any::<u8>(), 0..300),
                                    b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut acc = Acceptor::new(HandshakeConfig::new(Role::Ultrapeer), PEER);
        let _ = acc.feed(&a);
        let _ = acc.feed(&b);
        let (mut conn, _) = Connector::new(HandshakeConfig::new(Role::Leaf), PEER);
        let _ = conn.feed(&a);
    }
}

#[test]
fn ultrapeer_announces_dynamic_querying_and_reads_the_peers() {
    let mut cfg = HandshakeConfig::new(Role::Ultrapeer);
    cfg.degree = 32;
    let (_, step1) = Connector::new(cfg.clone(), PEER);
    let s = text(&step1);
    assert!(s.contains("X-Dynamic-Querying: 0.1\r\n"), "{s}");
    assert!(s.contains("X-Degree: 32\r\n"), "{s}");
    // A leaf does not claim to query dynamically.
    let (_, leaf1) = Connector::new(HandshakeConfig::new(Role::Leaf), PEER);
    assert!(!text(&leaf1).contains("X-Dynamic-Querying"));
    // Both sides read the other's degree, TTL limit and DQ support.
    let (acc, conn) = pair(cfg.clone(), cfg);
    let (Step::Done { outcome: a, .. }, Step::Done { outcome: c, .. }) = (acc, conn) else {
        panic!()
    };
    for o in [a, c] {
        assert_eq!(o.degree, Some(32));
        assert_eq!(o.max_ttl, Some(7));
        assert!(o.dynamic_querying);
    }
}

#[test]
fn odd_degree_and_ttl_values_are_ignored() {
    for (degree, ttl) in [("0", "0"), ("1001", "256"), ("many", "-1")] {
        let head = format!(
            "GNUTELLA/0.6 200 OK\r\nX-Ultrapeer: True\r\nX-Degree: {degree}\r\nX-Max-TTL: {ttl}\r\n\r\n"
        );
        let (mut conn, _) = Connector::new(HandshakeConfig::new(Role::Leaf), PEER);
        let Step::Done { outcome, .. } = conn.feed(head.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!((outcome.degree, outcome.max_ttl), (None, None));
        assert!(!outcome.dynamic_querying);
    }
}

/// What a gtk-gnutella 1.2 leaf checks in an ultrapeer's handshake
/// (`src/core/nodes.c`: `node_process_handshake_header`,
/// `node_can_accept_connection`, `node_finalize_3way`): the refusal it
/// would send, or `None` when it accepts.
fn gtk_leaf_verdict(h: &Headers) -> Option<&'static str> {
    if h.is_true("X-Ultrapeer") != Some(true) {
        return Some("204 Shielded leaf node");
    }
    if h.get("User-Agent").is_none() {
        return Some("403 No vendor string supplied");
    }
    if !h.lists("Accept-Encoding", "deflate") {
        return Some("403 Compressed connection preferred");
    }
    let degree: u32 = h.get("X-Degree").and_then(|v| v.parse().ok()).unwrap_or(8);
    if degree < HIGH_DEGREE || h.get("X-Dynamic-Querying").is_none() {
        return Some("403 High Outdegree and Dynamic Querying Required");
    }
    let qrp = h.get("X-Query-Routing").unwrap_or("0.1");
    if !matches!(qrp, "0.1" | "0.2") {
        return Some("505 Query Routing protocol not supported");
    }
    // An `Accept` header must list Gnutella; we send none.
    if h.get("Accept").is_some() {
        return Some("Accept header to check");
    }
    None
}

#[test]
fn a_gtk_gnutella_leaf_accepts_our_ultrapeer() {
    let mut cfg = HandshakeConfig::new(Role::Ultrapeer);
    cfg.degree = 32;
    let h = cfg.headers(Role::Ultrapeer, Some(PEER));
    assert_eq!(gtk_leaf_verdict(&h), None, "{h:?}");
    // What the audit saw before: our real slot count of 4 is too low.
    cfg.degree = 4;
    let h = cfg.headers(Role::Ultrapeer, Some(PEER));
    assert_eq!(
        gtk_leaf_verdict(&h),
        Some("403 High Outdegree and Dynamic Querying Required")
    );
    // Pong-Caching, Bye-Packet and GGEP are announced too (gtk-gnutella
    // treats a servent without Pong-Caching as an old one).
    for name in ["Pong-Caching", "Bye-Packet", "GGEP", "X-Max-TTL"] {
        assert!(h.get(name).is_some(), "{name} missing");
    }
}
