use super::*;

fn up(id: ConnId, route: Option<bool>) -> Candidate {
    Candidate {
        id,
        degree: LEGACY_DEGREE,
        max_ttl: 7,
        route,
        queued: 0,
    }
}

fn sent(step: Step) -> Vec<(ConnId, u8)> {
    match step {
        Step::Send(v) => v,
        other => panic!("expected a send, got {other:?}"),
    }
}

#[test]
fn targets_follow_gtk_gnutella() {
    assert_eq!(results_wanted(false, false), 150);
    assert_eq!(results_wanted(true, false), 50);
    assert_eq!(results_wanted(false, true), 6);
    assert_eq!(results_wanted(true, true), 2);
}

#[test]
fn horizon_grows_with_degree_and_ttl() {
    assert_eq!(horizon(32, 1), 1);
    // 1 + 31 hosts, less 20% for the extra hop.
    assert_eq!(horizon(32, 2), 25);
    assert!(horizon(32, 3) > horizon(32, 2));
    assert!(horizon(8, 3) < horizon(32, 3));
    // Degree and TTL are clamped, never a panic.
    assert_eq!(horizon(0, 0), 1);
    assert_eq!(horizon(10_000, 200), horizon(50, MAX_TTL));
}

#[test]
fn probe_goes_to_three_matching_ultrapeers_at_once() {
    let now = Instant::now();
    let mut dq = DynamicQuery::new(150, 5, false, now);
    let mut ups: Vec<Candidate> = (1..=5).map(|i| up(i, None)).collect();
    ups[0].route = Some(false);
    ups[1].queued = 50;
    let s = sent(dq.poll(now, &ups));
    // The non-matching one is left out, the loaded one comes last.
    assert_eq!(s, vec![(3, 5), (4, 5), (5, 5)]);
    assert_eq!(dq.queried(), 3);
    // Nothing more before the probe's results had time to come.
    assert_eq!(dq.poll(now + Duration::from_secs(5), &ups), Step::Wait);
}

#[test]
fn probe_ttl_is_lower_when_many_ultrapeers_match() {
    let now = Instant::now();
    let ups: Vec<Candidate> = (0..10).map(|i| up(i, Some(true))).collect();
    let mut dq = DynamicQuery::new(150, 5, false, now);
    assert!(sent(dq.poll(now, &ups)).iter().all(|&(_, t)| t == 4));
    let ups: Vec<Candidate> = (0..19).map(|i| up(i, Some(true))).collect();
    let mut dq = DynamicQuery::new(150, 5, false, now);
    assert!(sent(dq.poll(now, &ups)).iter().all(|&(_, t)| t == 3));
}

#[test]
fn then_one_ultrapeer_at_a_time_until_none_is_left() {
    let now = Instant::now();
    let mut dq = DynamicQuery::new(150, 5, false, now);
    let ups: Vec<Candidate> = (1..=5).map(|i| up(i, None)).collect();
    assert_eq!(sent(dq.poll(now, &ups)).len(), 3);
    let t1 = now + PROBE_TIMEOUT + QUERY_TIMEOUT;
    let s = sent(dq.poll(t1, &ups));
    assert_eq!(s.len(), 1);
    // No results yet: the query goes as far as it can.
    assert_eq!(s[0].1, 5);
    assert_eq!(dq.poll(t1 + Duration::from_secs(1), &ups), Step::Wait);
    let t2 = t1 + QUERY_TIMEOUT;
    assert_eq!(sent(dq.poll(t2, &ups)).len(), 1);
    assert_eq!(dq.queried(), 5);
    assert_eq!(dq.poll(t2 + QUERY_TIMEOUT, &ups), Step::Done);
    assert!(dq.is_done());
}

#[test]
fn no_matching_ultrapeer_starts_the_sequence_at_once() {
    let now = Instant::now();
    let mut dq = DynamicQuery::new(150, 5, false, now);
    let ups = [up(1, Some(false)), up(2, Some(false))];
    // Rare content: straight to one-at-a-time, high TTL (not a last hop).
    assert_eq!(sent(dq.poll(now, &ups)), vec![(1, 5)]);
}

#[test]
fn a_last_hop_to_a_non_matching_table_is_skipped() {
    let now = Instant::now();
    let mut dq = DynamicQuery::new(150, 1, false, now);
    let ups = [up(1, Some(false)), up(2, Some(false))];
    assert_eq!(dq.poll(now, &ups), Step::Done);
}

#[test]
fn stops_on_enough_results() {
    let now = Instant::now();
    let mut dq = DynamicQuery::new(50, 5, false, now);
    let ups: Vec<Candidate> = (1..=8).map(|i| up(i, None)).collect();
    sent(dq.poll(now, &ups));
    dq.on_results(30);
    dq.on_results(20);
    assert_eq!(dq.results(), 50);
    assert_eq!(dq.poll(now + Duration::from_secs(6), &ups), Step::Done);
}

#[test]
fn ttl_shrinks_when_results_are_plentiful() {
    let now = Instant::now();
    let mut dq = DynamicQuery::new(150, 5, false, now);
    let mut ups: Vec<Candidate> = (1..=6).map(|i| up(i, None)).collect();
    for u in &mut ups {
        u.degree = 8;
    }
    // The probe reaches 3 × horizon(8, 5) hosts and brings 140 results:
    // the last ones are near.
    sent(dq.poll(now, &ups));
    dq.on_results(140);
    let s = sent(dq.poll(now + Duration::from_secs(6), &ups));
    assert!(s[0].1 < 5, "{s:?}");
    // And the neighbour's own limit is honoured.
    let mut dq = DynamicQuery::new(150, 5, false, now);
    let capped = [Candidate {
        max_ttl: 2,
        ..up(9, None)
    }];
    assert_eq!(sent(dq.poll(now, &capped)), vec![(9, 2)]);
}

#[test]
fn probe_only_ends_after_the_probe() {
    let now = Instant::now();
    let mut dq = DynamicQuery::new(50, 5, true, now);
    let ups: Vec<Candidate> = (1..=6).map(|i| up(i, None)).collect();
    assert_eq!(sent(dq.poll(now, &ups)).len(), 3);
    assert_eq!(dq.poll(now + Duration::from_secs(6), &ups), Step::Done);
}

#[test]
fn ends_after_its_lifetime_or_without_ultrapeers() {
    let now = Instant::now();
    let mut dq = DynamicQuery::new(150, 5, false, now);
    assert_eq!(dq.poll(now, &[]), Step::Done);
    let mut dq = DynamicQuery::new(150, 5, false, now);
    let ups = [up(1, None)];
    sent(dq.poll(now, &ups));
    let more = [up(1, None), up(2, None)];
    assert_eq!(dq.poll(now + MAX_LIFETIME, &more), Step::Done);
}

#[test]
fn waits_shrink_for_rare_content() {
    let now = Instant::now();
    let mut dq = DynamicQuery::new(150, 5, false, now);
    let ups: Vec<Candidate> = (1..=40).map(|i| up(i, Some(false))).collect();
    let mut t = now;
    let mut gaps = Vec::new();
    for _ in 0..30 {
        let s = sent(dq.poll(t, &ups));
        assert_eq!(s.len(), 1);
        gaps.push(dq.next - t);
        t = dq.next;
    }
    assert!(gaps.last().unwrap() < &QUERY_TIMEOUT);
    assert!(gaps.iter().all(|g| *g >= MIN_TIMEOUT));
}
