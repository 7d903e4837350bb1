//! Measures what decoding really allocates (every allocation, not only the
//! document) with a counting allocator: at most 5 bytes per input byte at
//! the peak (4 for the document, 1 for the check of unsorted keys).
//! One test only, so nothing else allocates while it measures.

use swarmux_net::alloc_meter::{measure, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Bytes allocated at the peak of `f`, above what was live before it.
fn peak_of(f: impl FnOnce()) -> usize {
    measure(f).1.peak
}

fn repeat(open: &[u8], unit: &[u8], n: usize) -> Vec<u8> {
    let mut v = open.to_vec();
    (0..n).for_each(|_| v.extend_from_slice(unit));
    v.push(b'e');
    v
}

#[test]
fn decoding_allocates_at_most_five_bytes_per_input_byte() {
    let n = 1 << 20;
    let mut deep = Vec::new();
    for _ in 0..n / 64 {
        deep.extend([b'l'; 63]);
        deep.extend([b'e'; 63]);
    }
    // unsorted keys, the worst case of the duplicate check
    let mut unsorted = b"d".to_vec();
    for i in (0..n / 16).rev() {
        unsorted.extend(format!("8:{i:08}le").as_bytes());
    }
    unsorted.push(b'e');
    let inputs = [
        ("empty lists", repeat(b"l", b"le", n)),
        ("tiny dicts", repeat(b"l", b"de", n)),
        ("dicts of one entry", repeat(b"l", b"d0:lee", n / 3)),
        ("deep nesting", [&b"l"[..], &deep, b"e"].concat()),
        ("unsorted keys", unsorted),
        (
            "a dictionary of 1.4 million empty lists",
            [&b"d1:x"[..], &repeat(b"l", b"le", 1_400_000), b"e"].concat(),
        ),
    ];
    for (name, input) in inputs {
        let peak = peak_of(|| {
            let doc = swarmux_bencode::decode(&input).unwrap();
            assert!(doc.values() > 1000, "{name}");
        });
        assert!(
            peak <= 5 * input.len() + 4096,
            "{name}: {peak} bytes allocated for {} input bytes",
            input.len()
        );
    }
}
