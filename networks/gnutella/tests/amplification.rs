//! Hostile descriptors cost little memory: deflated GGEP bombs in pongs,
//! queries and query hits inflate only within their message's budget, the
//! pong cache keeps only what it relays, and what a decoded message holds
//! stays within a stated multiple of the bytes received (measured with a
//! counting allocator).

use flate2::{write::ZlibEncoder, Compression};
use std::io::Write;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use swarmux_gnutella::proto::ggep::{cobs_encode, MAX_INFLATED};
use swarmux_gnutella::proto::pong::Pong;
use swarmux_gnutella::proto::pong_cache::{PongCache, MAX_CACHED_PONG};
use swarmux_gnutella::proto::query::Query;
use swarmux_gnutella::proto::query_hit::QueryHit;
use swarmux_net::alloc_meter::{measure, CountingAlloc, Held};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// 64 KiB of zeros, deflated (about 80 bytes).
fn bomb() -> Vec<u8> {
    let mut enc = ZlibEncoder::new(Vec::new(), Compression::best());
    enc.write_all(&vec![0u8; MAX_INFLATED]).unwrap();
    enc.finish().unwrap()
}

/// A GGEP block: `first` as plain extensions, then `bombs` deflated
/// extensions of 64 KiB each, COBS-encoded with `cobs` (as they must be
/// inside a query hit result, where a NUL ends the extension area).
fn bomb_block(first: &[(&str, &[u8])], bombs: usize, cobs: bool) -> Vec<u8> {
    let z = if cobs { cobs_encode(&bomb()) } else { bomb() };
    let mut out = vec![0xC3];
    let total = first.len() + bombs;
    let mut ext = |i: usize, id: &[u8], deflate: bool, data: &[u8]| {
        let mut flags = id.len() as u8;
        if i + 1 == total {
            flags |= 0x80;
        }
        if deflate {
            flags |= 0x20;
            if cobs {
                flags |= 0x40;
            }
        }
        out.push(flags);
        out.extend_from_slice(id);
        assert!(data.len() < 4096);
        if data.len() < 64 {
            out.push(0x40 | data.len() as u8);
        } else {
            out.push(0x80 | (data.len() >> 6) as u8);
            out.push(0x40 | (data.len() & 0x3F) as u8);
        }
        out.extend_from_slice(data);
    };
    for (i, (id, data)) in first.iter().enumerate() {
        ext(i, id.as_bytes(), false, data);
    }
    for i in 0..bombs {
        let id = format!("Z{}", i % 10);
        ext(first.len() + i, id.as_bytes(), true, &z);
    }
    out
}

fn report(what: &str, input: usize, held: Held) {
    println!(
        "{what}: {input} bytes in, {} kept ({:.1}x), peak {}",
        held.kept,
        held.kept as f64 / input as f64,
        held.peak
    );
}

/// The pong of the report: 5.6 KB whose GGEP inflates to 4 MiB.
fn bomb_pong() -> Vec<u8> {
    let mut p = Pong::new(Ipv4Addr::new(127, 0, 0, 9), 6346, 10, 1024).encode();
    p.extend(bomb_block(
        &[("UP", &[2, 10, 20]), ("DU", &[0x80, 0x51])],
        62,
        false,
    ));
    p
}

#[test]
fn a_deflated_pong_bomb_holds_at_most_twice_its_size() {
    let payload = bomb_pong();
    assert!((5000..6000).contains(&payload.len()), "{}", payload.len());
    let (pong, held) = measure(|| Pong::decode(&payload).unwrap());
    report("pong bomb", payload.len(), held);
    assert!(held.kept <= 2 * payload.len(), "{held:?}");
    // Inflating is bounded too: the budget plus zlib's window and state.
    assert!(held.peak <= 64 * 1024, "{held:?}");

    // The cache keeps only what it relays, and relays nothing over its size.
    let mut cache = PongCache::new(100, Duration::from_secs(600));
    let now = Instant::now();
    let ((), held) = measure(|| {
        for i in 0..100u16 {
            let mut p = pong.clone();
            p.addr.set_port(1000 + i);
            cache.insert(p, now);
        }
    });
    report("100 cached pong bombs", 100 * payload.len(), held);
    assert!(held.kept <= 100 * 256, "{held:?}");
    for p in cache.answer(now, 5, None) {
        assert!(p.encode().len() <= MAX_CACHED_PONG);
    }
}

/// The hit of the report: 63.5 KB of results whose GGEP inflates to
/// megabytes.
fn bomb_hit() -> Vec<u8> {
    let mut p = vec![0u8; 11];
    p[1..3].copy_from_slice(&6346u16.to_le_bytes());
    p[3..7].copy_from_slice(&[127, 0, 0, 9]);
    let mut results = 0u8;
    while p.len() < 63_000 {
        p.extend_from_slice(&u32::from(results).to_le_bytes());
        p.extend_from_slice(&1000u32.to_le_bytes());
        p.extend_from_slice(b"file.bin\0");
        p.extend(bomb_block(&[], 60, true));
        p.push(0);
        results += 1;
    }
    p[0] = results;
    p.extend_from_slice(&[0xEE; 16]);
    p
}

#[test]
fn a_deflated_query_hit_bomb_holds_at_most_twice_its_size() {
    let payload = bomb_hit();
    assert!(
        (63_000..65_536).contains(&payload.len()),
        "{}",
        payload.len()
    );
    let (hit, held) = measure(|| QueryHit::decode(&payload).unwrap());
    report("query hit bomb", payload.len(), held);
    assert!(hit.results.len() > 10);
    assert!(held.kept <= 2 * payload.len(), "{held:?}");
    assert!(held.peak <= 2 * payload.len() + 64 * 1024, "{held:?}");
}

#[test]
fn a_deflated_query_bomb_holds_at_most_twice_its_size() {
    let mut payload = Query::keywords("anything").encode();
    payload.extend(bomb_block(&[], 60, false));
    let (_, held) = measure(|| Query::decode(&payload).unwrap());
    report("query bomb", payload.len(), held);
    assert!(held.kept <= 2 * payload.len(), "{held:?}");
    assert!(held.peak <= 64 * 1024, "{held:?}");
}

/// The worst a hit without any deflated data can do: 255 results of tiny
/// extension items, each kept as its own string. Bounded by the items per
/// result ([`swarmux_gnutella::proto::extensions::MAX_ITEMS`]).
#[test]
fn a_hit_of_tiny_items_holds_a_bounded_multiple() {
    let mut p = vec![255u8, 0xCA, 0x18, 127, 0, 0, 9, 0, 0, 0, 0];
    for i in 0..255u32 {
        p.extend_from_slice(&i.to_le_bytes());
        p.extend_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(b"a\0");
        for _ in 0..40 {
            p.extend_from_slice(b"x\x1c");
        }
        p.push(0);
    }
    p.extend_from_slice(&[0xEE; 16]);
    let (_, held) = measure(|| QueryHit::decode(&p).unwrap());
    report("hit of tiny items", p.len(), held);
    assert!(held.kept <= 32 * p.len(), "{held:?}");
}
