use super::*;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

const KIB: u32 = 1024;

fn picker(total: u64, piece_len: u32) -> PiecePicker<u64> {
    PiecePicker::with_seed(PieceGeometry::new(total, piece_len).unwrap(), 7)
}

fn bits(len: u32, ones: &[u32]) -> Bitfield {
    let mut b = Bitfield::new(len);
    for &i in ones {
        b.set(i);
    }
    b
}

#[test]
fn single_seed_downloads_everything_once() {
    // 3 pieces of 32 KiB plus a 5-byte tail piece.
    let mut p = picker(3 * 32 * u64::from(KIB) + 5, 32 * KIB);
    let now = Instant::now();
    p.peer_have_all(1);
    assert!(p.is_interesting(1));
    assert_eq!(p.availability(0), 1);
    let reqs = p.next_requests(1, 100, now);
    assert_eq!(reqs.len(), 7);
    let unique: HashSet<_> = reqs.iter().collect();
    assert_eq!(unique.len(), 7);
    assert!(reqs.contains(&BlockRequest {
        piece: 3,
        offset: 0,
        len: 5
    }));
    assert!(
        p.next_requests(1, 100, now).is_empty(),
        "no endgame duplicates to the same peer"
    );
    for r in &reqs {
        match p.block_received(1, r.piece, r.offset, r.len) {
            BlockOutcome::PieceComplete { cancel } => {
                assert!(cancel.is_empty());
                p.piece_verified(r.piece);
            }
            BlockOutcome::Stored { cancel } => assert!(cancel.is_empty()),
            other => panic!("{other:?}"),
        }
    }
    assert!(p.is_finished());
    assert!(p.have().is_complete());
    assert!(!p.is_interesting(1));
    assert_eq!(p.block_received(1, 0, 0, 16 * KIB), BlockOutcome::Duplicate);
}

#[test]
fn rarest_piece_first_then_open_pieces_first() {
    let mut p = picker(4 * 32 * u64::from(KIB), 32 * KIB);
    let now = Instant::now();
    p.peer_bitfield(1, bits(4, &[0, 1, 2, 3])).unwrap();
    p.peer_bitfield(2, bits(4, &[0, 1, 3])).unwrap();
    p.peer_bitfield(3, bits(4, &[0, 3])).unwrap();
    // Piece 2 is held by one peer only.
    let r = p.next_requests(1, 1, now);
    assert_eq!(
        r,
        vec![BlockRequest {
            piece: 2,
            offset: 0,
            len: 16 * KIB
        }]
    );
    // Piece 1 (two holders) is next for peer 2, who lacks piece 2.
    let r = p.next_requests(2, 1, now);
    assert_eq!(r[0].piece, 1);
    // Peer 1 finishes piece 2 before opening anything, then helps with piece 1.
    let r = p.next_requests(1, 2, now);
    assert_eq!(
        r.iter().map(|r| (r.piece, r.offset)).collect::<Vec<_>>(),
        vec![(2, 16 * KIB), (1, 16 * KIB)]
    );
}

#[test]
fn availability_follows_haves_seeds_and_departures() {
    let mut p = picker(8 * 16 * u64::from(KIB), 16 * KIB);
    assert!(p.peer_bitfield(1, Bitfield::new(9)).is_err());
    p.peer_have_all(1);
    assert_eq!(p.peer_have(2, 5), Ok(true));
    assert_eq!(
        p.peer_have(2, 8),
        Err(PickerError::PieceOutOfRange { piece: 8, count: 8 })
    );
    assert_eq!(p.availability(5), 2);
    assert_eq!(p.availability(4), 1);
    // A re-sent bitfield replaces the earlier one.
    p.peer_bitfield(2, bits(8, &[4])).unwrap();
    assert_eq!(p.availability(5), 1);
    assert_eq!(p.availability(4), 2);
    p.remove_peer(1);
    assert_eq!(p.availability(4), 1);
    assert_eq!(p.availability(5), 0);
    assert!(p.peer_pieces(1).is_none());
    assert!(p.peer_pieces(2).unwrap().get(4));
}

#[test]
fn priorities_order_and_skip() {
    let mut p = picker(6 * 16 * u64::from(KIB), 16 * KIB);
    let now = Instant::now();
    p.set_priorities(&[
        Priority::Skip,
        Priority::Normal,
        Priority::High,
        Priority::Skip,
        Priority::Normal,
        Priority::High,
    ]);
    assert_eq!(p.missing_wanted(), 4);
    p.peer_have_all(1);
    let r = p.next_requests(1, 10, now);
    let pieces: Vec<u32> = r.iter().map(|r| r.piece).collect();
    assert_eq!(pieces.len(), 4);
    let mut first: Vec<u32> = pieces[..2].to_vec();
    first.sort();
    assert_eq!(first, vec![2, 5]);
    assert!(!pieces.contains(&0) && !pieces.contains(&3));
    for r in r {
        assert!(matches!(
            p.block_received(1, r.piece, r.offset, r.len),
            BlockOutcome::PieceComplete { .. }
        ));
        p.piece_verified(r.piece);
    }
    assert!(p.is_finished());
    assert!(!p.have().get(0));
    // Wanting a skipped piece again makes it pickable.
    p.set_priority(3, Priority::Normal);
    assert!(!p.is_finished());
    assert_eq!(p.next_requests(1, 10, now)[0].piece, 3);
}

#[test]
fn endgame_duplicates_and_cancels() {
    let mut p = picker(32 * u64::from(KIB), 32 * KIB);
    let now = Instant::now();
    p.peer_have_all(1);
    p.peer_have_all(2);
    p.peer_have_all(3);
    let a = p.next_requests(1, 10, now);
    assert_eq!(a.len(), 2);
    assert!(p.in_endgame());
    let b = p.next_requests(2, 10, now);
    assert_eq!(b, a, "endgame hands the same blocks to another peer");
    let c = p.next_requests(3, 10, now);
    assert_eq!(c, a);
    assert!(p.next_requests(2, 10, now).is_empty());
    assert_eq!(
        p.block_received(2, 0, 0, 16 * KIB),
        BlockOutcome::Stored { cancel: vec![1, 3] }
    );
    assert_eq!(p.block_received(1, 0, 0, 16 * KIB), BlockOutcome::Duplicate);
    // Peer 1 leaves: its request for block 1 passes to an endgame extra.
    p.remove_peer(1);
    let out = p.block_received(3, 0, 16 * KIB, 16 * KIB);
    assert_eq!(out, BlockOutcome::PieceComplete { cancel: vec![2] });
}

#[test]
fn choke_timeout_and_reject_release_blocks() {
    let mut p = picker(64 * u64::from(KIB), 64 * KIB);
    let t0 = Instant::now();
    p.peer_have_all(1);
    p.peer_have_all(2);
    let r1 = p.next_requests(1, 2, t0);
    assert_eq!(p.peer_choked(1), 2);
    // Released blocks are handed out again, first.
    let r2 = p.next_requests(2, 2, t0);
    assert_eq!(r1, r2);
    let t1 = t0 + Duration::from_secs(5);
    let r3 = p.next_requests(1, 1, t1);
    assert_eq!(r3[0].offset, 32 * KIB);
    let expired = p.timed_out(t0 + Duration::from_secs(30), Duration::from_secs(30));
    assert_eq!(expired.len(), 2);
    assert!(expired.iter().all(|(peer, _)| *peer == 2));
    p.request_rejected(1, r3[0]);
    // All four blocks are free again.
    assert_eq!(p.next_requests(2, 10, t1).len(), 4);
    // A late block from the timed-out peer is still accepted, and the new holder cancelled.
    let mut p2 = picker(32 * u64::from(KIB), 32 * KIB);
    p2.peer_have_all(1);
    p2.peer_have_all(2);
    let r = p2.next_requests(1, 1, t0);
    assert_eq!(p2.timed_out(t1, Duration::from_secs(1)).len(), 1);
    assert_eq!(p2.next_requests(2, 1, t1), r);
    assert_eq!(
        p2.block_received(1, r[0].piece, r[0].offset, r[0].len),
        BlockOutcome::Stored { cancel: vec![2] }
    );
}

#[test]
fn malformed_blocks_are_unrequested() {
    let mut p = picker(40 * u64::from(KIB), 32 * KIB);
    let now = Instant::now();
    p.peer_have_all(1);
    let _ = p.next_requests(1, 10, now);
    assert_eq!(
        p.block_received(1, 0, 1, 16 * KIB),
        BlockOutcome::Unrequested
    );
    assert_eq!(p.block_received(1, 0, 0, 100), BlockOutcome::Unrequested);
    assert_eq!(
        p.block_received(1, 0, 32 * KIB, 16 * KIB),
        BlockOutcome::Unrequested
    );
    assert_eq!(
        p.block_received(1, 9, 0, 16 * KIB),
        BlockOutcome::Unrequested
    );
    assert_eq!(
        p.block_received(1, 1, 0, 8 * KIB),
        BlockOutcome::PieceComplete { cancel: vec![] }
    );
    assert_eq!(
        p.block_received(1, u32::MAX, u32::MAX, u32::MAX),
        BlockOutcome::Unrequested
    );
}

#[test]
fn failed_piece_names_senders_and_is_fetched_again() {
    let mut p = picker(32 * u64::from(KIB), 32 * KIB);
    let now = Instant::now();
    p.peer_have_all(1);
    p.peer_have_all(2);
    let a = p.next_requests(1, 1, now);
    let b = p.next_requests(2, 1, now);
    p.block_received(1, a[0].piece, a[0].offset, a[0].len);
    assert!(matches!(
        p.block_received(2, b[0].piece, b[0].offset, b[0].len),
        BlockOutcome::PieceComplete { .. }
    ));
    let mut senders = p.piece_failed(0);
    senders.sort();
    assert_eq!(senders, vec![1, 2]);
    assert_eq!(p.next_requests(2, 10, now).len(), 2);
    // A verified piece found bad later is wanted again.
    let mut q = picker(32 * u64::from(KIB), 16 * KIB);
    q.piece_verified(1);
    assert_eq!(q.missing_wanted(), 1);
    assert!(q.piece_failed(1).is_empty());
    assert_eq!(q.missing_wanted(), 2);
}

#[test]
fn restored_blocks_are_not_requested_again() {
    // 2 pieces of 4 blocks; blocks 0 and 2 of piece 1 were written before a restart
    let mut p = picker(2 * 64 * u64::from(KIB), 64 * KIB);
    let now = Instant::now();
    assert_eq!(p.restore_blocks(1, &[0, 2]), 2);
    assert_eq!(p.restore_blocks(1, &[1]), 0, "an open piece is left alone");
    p.peer_have_all(1);
    let reqs = p.next_requests(1, 100, now);
    assert_eq!(reqs.len(), 6);
    assert!(!reqs
        .iter()
        .any(|r| r.piece == 1 && (r.offset == 0 || r.offset == 32 * KIB)));
    assert_eq!(p.block_received(1, 1, 0, 16 * KIB), BlockOutcome::Duplicate);
    let last = reqs.iter().filter(|r| r.piece == 1).count();
    let mut outcomes = reqs
        .iter()
        .filter(|r| r.piece == 1)
        .map(|r| p.block_received(1, r.piece, r.offset, r.len));
    assert!(outcomes
        .by_ref()
        .take(last - 1)
        .all(|o| matches!(o, BlockOutcome::Stored { .. })));
    assert!(matches!(
        outcomes.next(),
        Some(BlockOutcome::PieceComplete { .. })
    ));
    drop(outcomes);
    // a restored piece that fails is fetched whole, blaming only real senders
    assert_eq!(p.piece_failed(1), vec![1]);
    assert_eq!(p.next_requests(1, 100, now).len(), 4);
    // every block restored: the piece is complete at once; not for a piece we have
    let mut q = picker(2 * 64 * u64::from(KIB), 64 * KIB);
    assert_eq!(q.restore_blocks(0, &[0, 1, 2, 3, 3, 9]), 4);
    assert!(q.next_requests(1, 10, now).is_empty(), "no peer yet");
    q.piece_verified(0);
    q.piece_verified(1);
    assert!(q.is_finished());
    assert_eq!(q.restore_blocks(1, &[0]), 0);
}

/// Simulates a swarm with random delays, chokes, timeouts and bad pieces.
fn simulate(
    pieces: u32,
    blocks_per_piece: u32,
    tail: u32,
    peers: u64,
    seed: u64,
) -> Result<(), TestCaseError> {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let piece_len = blocks_per_piece * BLOCK_LEN;
    let total = u64::from(pieces - 1) * u64::from(piece_len) + u64::from(tail.clamp(1, piece_len));
    let geometry = PieceGeometry::new(total, piece_len).unwrap();
    let mut p: PiecePicker<u64> = PiecePicker::with_seed(geometry, seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let n = geometry.piece_count();
    // Peer 0 is a seed; the others hold random pieces and gain more over time.
    p.peer_have_all(0);
    for peer in 1..peers {
        let mut bf = Bitfield::new(n);
        for i in 0..n {
            if rng.gen_bool(0.5) {
                bf.set(i);
            }
        }
        p.peer_bitfield(peer, bf).unwrap();
    }
    let mut outstanding: HashMap<u64, Vec<BlockRequest>> = HashMap::new();
    let mut received: HashSet<(u32, u32)> = HashSet::new();
    let mut choked: HashSet<u64> = HashSet::new();
    let mut failed_once: HashSet<u32> = HashSet::new();
    let mut now = Instant::now();
    for _step in 0..200_000 {
        if p.is_finished() {
            prop_assert!(p.have().is_complete());
            prop_assert!(outstanding.values().all(|v| v.is_empty()) || p.have().is_complete());
            return Ok(());
        }
        now += Duration::from_millis(rng.gen_range(0..50));
        let peer = rng.gen_range(0..peers);
        match rng.gen_range(0..100) {
            0..=39 if !choked.contains(&peer) => {
                let reqs = p.next_requests(peer, rng.gen_range(1..6), now);
                for r in reqs {
                    prop_assert!(
                        !received.contains(&(r.piece, r.offset)),
                        "received block handed out again"
                    );
                    prop_assert!(
                        !outstanding.get(&peer).is_some_and(|v| v.contains(&r)),
                        "same block twice to one peer"
                    );
                    let elsewhere = outstanding.values().any(|v| v.contains(&r));
                    prop_assert!(
                        !elsewhere || p.in_endgame(),
                        "block handed out twice outside endgame"
                    );
                    prop_assert!(p.peer_pieces(peer).unwrap().get(r.piece));
                    outstanding.entry(peer).or_default().push(r);
                }
            }
            40..=84 => {
                let Some(list) = outstanding.get_mut(&peer).filter(|v| !v.is_empty()) else {
                    continue;
                };
                let r = list.swap_remove(rng.gen_range(0..list.len()));
                match p.block_received(peer, r.piece, r.offset, r.len) {
                    BlockOutcome::Stored { cancel } => {
                        prop_assert!(received.insert((r.piece, r.offset)));
                        for q in cancel {
                            let v = outstanding.entry(q).or_default();
                            let before = v.len();
                            v.retain(|x| *x != r);
                            prop_assert_eq!(
                                before,
                                v.len() + 1,
                                "cancel for a block the peer was not asked for"
                            );
                        }
                    }
                    BlockOutcome::PieceComplete { cancel } => {
                        prop_assert!(received.insert((r.piece, r.offset)));
                        for q in cancel {
                            outstanding.entry(q).or_default().retain(|x| *x != r);
                        }
                        let blocks = geometry.block_count(r.piece);
                        prop_assert!(
                            (0..blocks).all(|b| received.contains(&(r.piece, b * BLOCK_LEN)))
                        );
                        if rng.gen_bool(0.1) && failed_once.insert(r.piece) {
                            let senders = p.piece_failed(r.piece);
                            prop_assert!(senders.contains(&peer));
                        } else {
                            p.piece_verified(r.piece);
                        }
                        received.retain(|(pc, _)| *pc != r.piece);
                    }
                    BlockOutcome::Duplicate => prop_assert!(
                        p.have().get(r.piece) || received.contains(&(r.piece, r.offset))
                    ),
                    BlockOutcome::Unrequested => {
                        prop_assert!(false, "a requested block was refused")
                    }
                }
            }
            85..=89 => {
                if choked.insert(peer) {
                    p.peer_choked(peer);
                    outstanding.remove(&peer);
                } else {
                    choked.remove(&peer);
                }
            }
            90..=92 => {
                for (q, r) in p.timed_out(now, Duration::from_secs(2)) {
                    let v = outstanding.entry(q).or_default();
                    let before = v.len();
                    v.retain(|x| *x != r);
                    prop_assert_eq!(before, v.len() + 1);
                }
            }
            93..=94 if peer != 0 => {
                let piece = rng.gen_range(0..n);
                p.peer_have(peer, piece).unwrap();
            }
            _ => {}
        }
    }
    prop_assert!(
        false,
        "download did not finish: {} missing",
        p.missing_wanted()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn swarm_simulation_completes_without_double_handouts(
        pieces in 1u32..40,
        blocks in 1u32..5,
        tail in 1u32..(4 * 16 * 1024),
        peers in 1u64..6,
        seed in any::<u64>(),
    ) {
        simulate(pieces, blocks, tail, peers, seed)?;
    }
}

#[test]
fn opening_pieces_stays_cheap_on_a_big_torrent() {
    // 1 GiB of 256 KiB pieces: 65 536 blocks through the picker with a deep pipeline.
    let mut p: PiecePicker<u64> =
        PiecePicker::with_seed(PieceGeometry::new(1 << 30, 256 * KIB).unwrap(), 1);
    let now = Instant::now();
    p.peer_have_all(1);
    let mut out = Vec::new();
    p.fill_requests(1, 256, now, &mut out);
    let mut done = 0u32;
    let started = std::time::Instant::now();
    while let Some(r) = out.pop() {
        if let BlockOutcome::PieceComplete { .. } = p.block_received(1, r.piece, r.offset, r.len) {
            p.piece_verified(r.piece);
            done += 1;
        }
        p.fill_requests(1, 1, now, &mut out);
    }
    assert_eq!(done, 4096);
    assert!(p.is_finished());
    // Generous bound for debug builds on a shared machine.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
