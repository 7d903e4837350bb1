//! What reading a hostile .torrent really allocates, measured with a
//! counting allocator: at the peak, at most 5 bytes per input byte (the
//! decoded document takes 4, the copy of the info dictionary 1) plus 80
//! bytes per file of the file list (whose length `MAX_FILES` bounds); a file
//! over the size cap is refused unread.
//! One test only, so nothing else allocates while it measures.

use swarmux_bittorrent::proto::metainfo::{MetainfoError, MAX_TORRENT_BYTES};
use swarmux_bittorrent::proto::Metainfo;
use swarmux_net::alloc_meter::{measure, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Bytes allocated at the peak of `f`, above what was live before it.
fn peak_of<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let (out, held) = measure(f);
    (held.peak, out)
}

/// A single-file torrent whose info dictionary also holds `extra` under an
/// unknown key (`extra` is bencoded).
fn torrent_with(extra_key: &str, extra: &[u8], files: Option<&[u8]>) -> Vec<u8> {
    let mut info = b"d".to_vec();
    if let Some(files) = files {
        info.extend(b"5:files");
        info.extend(files);
    }
    info.extend(format!("{}:{extra_key}", extra_key.len()).as_bytes());
    info.extend(extra);
    if files.is_none() {
        info.extend(b"6:lengthi1e");
    }
    info.extend(b"4:name1:x12:piece lengthi16384e6:pieces20:");
    info.extend([0u8; 20]);
    info.push(b'e');
    [&b"d4:info"[..], &info, b"e"].concat()
}

fn repeat(unit: &[u8], n: usize) -> Vec<u8> {
    [&b"l"[..], &unit.repeat(n), b"e"].concat()
}

#[test]
fn hostile_torrents_cost_a_small_multiple_of_their_size() {
    let n = 2_900_000;
    let mut many_files = b"l".to_vec();
    for _ in 0..199_999 {
        many_files.extend(b"d6:lengthi0e4:pathl1:xee");
    }
    many_files.extend(b"d6:lengthi1e4:pathl1:xeee");
    let cases = [
        ("empty lists", torrent_with("x", &repeat(b"le", n), None)),
        ("tiny dicts", torrent_with("x", &repeat(b"de", n), None)),
        (
            "dicts of one entry",
            torrent_with("x", &repeat(b"d0:lee", n / 3), None),
        ),
        ("200000 files", torrent_with("x", b"le", Some(&many_files))),
    ];
    for (name, torrent) in cases {
        assert!(torrent.len() <= MAX_TORRENT_BYTES, "{name}");
        let started = std::time::Instant::now();
        let (peak, parsed) = peak_of(|| Metainfo::from_bytes(&torrent));
        let m = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.info.name, "x");
        eprintln!(
            "{name}: {} bytes, peak {peak} bytes ({:.1}x) in {:?}",
            torrent.len(),
            peak as f64 / torrent.len() as f64,
            started.elapsed()
        );
        assert!(
            peak <= 5 * torrent.len() + 80 * m.info.files.len(),
            "{name}: {peak} bytes allocated for {} input bytes",
            torrent.len()
        );
    }
    let too_big = torrent_with("x", &vec![b'0'; MAX_TORRENT_BYTES], None);
    let (peak, parsed) = peak_of(|| Metainfo::from_bytes(&too_big));
    assert_eq!(parsed, Err(MetainfoError::TooLarge));
    assert!(peak < 4096, "{peak}");
}
