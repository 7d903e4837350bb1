//! Link compression as pure byte transforms. Gnutella's `deflate` encoding is
//! one zlib stream per direction (with the 2-byte zlib header, not raw
//! deflate: gtk-gnutella uses `deflateInit`/`inflateInit` on Gnet links), and
//! the sender issues a sync flush so the receiver can inflate every message
//! as soon as it arrives.
//!
//! The inflater hands out output in bounded pieces: compressed input is
//! queued with [`Inflater::feed`] and [`Inflater::read`] returns at most the
//! requested number of bytes per call, so a small, highly compressed input
//! never becomes one huge allocation.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Why a compressed link cannot go on; drop it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("compressed stream is corrupt: {0}")]
    Corrupt(String),
    #[error("data after the end of the compressed stream")]
    AfterEnd,
    #[error("compressor failed: {0}")]
    Compress(String),
}

/// Compresses the bytes we send on a deflated link.
pub struct Deflater {
    z: Compress,
}

impl Default for Deflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Deflater {
    /// A zlib stream at the default level (6, as gtk-gnutella recommends).
    pub fn new() -> Self {
        Deflater {
            z: Compress::new(Compression::default(), true),
        }
    }

    /// Compresses `input` and sync-flushes: the result can be written to the
    /// socket and the peer can inflate all of `input` from it.
    pub fn compress(&mut self, input: &[u8]) -> Result<Vec<u8>, LinkError> {
        let mut out = Vec::with_capacity(input.len() / 2 + 64);
        let mut consumed = 0;
        loop {
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity().max(4096));
            }
            let before = self.z.total_in();
            self.z
                .compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| LinkError::Compress(e.to_string()))?;
            consumed += usize::try_from(self.z.total_in() - before).unwrap_or(usize::MAX);
            if consumed >= input.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

/// Inflates what a deflated link receives.
pub struct Inflater {
    z: Decompress,
    pending: Vec<u8>,
    ended: bool,
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl Inflater {
    /// An inflater for a zlib stream.
    pub fn new() -> Self {
        Inflater {
            z: Decompress::new(true),
            pending: Vec::new(),
            ended: false,
        }
    }

    /// Queues compressed bytes read from the socket.
    pub fn feed(&mut self, input: &[u8]) {
        self.pending.extend_from_slice(input);
    }

    /// Compressed bytes queued but not inflated yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Up to `max` inflated bytes; an empty result means more input is needed.
    /// Call again while it returns `max` bytes.
    pub fn read(&mut self, max: usize) -> Result<Vec<u8>, LinkError> {
        let mut out = Vec::new();
        while out.len() < max {
            if self.ended {
                if self.pending.is_empty() {
                    break;
                }
                return Err(LinkError::AfterEnd);
            }
            // Room in steps that follow the input: a peer's 8-byte segment
            // should not cost zeroing 64 KiB (the loop grows it again while
            // the output fills it).
            let start = out.len();
            let step = (max - start)
                .min(64 * 1024)
                .min((self.pending.len() * 8).max(4096));
            out.resize(start + step, 0);
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let r = self
                .z
                .decompress(&self.pending, &mut out[start..], FlushDecompress::Sync);
            let used = usize::try_from(self.z.total_in() - in0).unwrap_or(usize::MAX);
            let produced = usize::try_from(self.z.total_out() - out0).unwrap_or(0);
            out.truncate(start + produced);
            self.pending.drain(..used.min(self.pending.len()));
            match r {
                Err(e) => return Err(LinkError::Corrupt(e.to_string())),
                Ok(Status::StreamEnd) => self.ended = true,
                Ok(_) => {}
            }
            if used == 0 && produced == 0 {
                break; // needs more input (zlib holds no pending output)
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::ZlibEncoder;
    use proptest::prelude::*;
    use std::io::Write;

    fn inflate_all(inf: &mut Inflater, piece: usize) -> Vec<u8> {
        let mut all = Vec::new();
        loop {
            let got = inf.read(piece).unwrap();
            if got.is_empty() {
                return all;
            }
            assert!(got.len() <= piece);
            all.extend(got);
        }
    }

    #[test]
    fn zlib_wrapped_and_flushed_per_write() {
        let mut d = Deflater::new();
        let first = d.compress(b"GNUTELLA message one").unwrap();
        assert_eq!(&first[..2], &[0x78, 0x9C], "zlib header");
        assert_eq!(
            &first[first.len() - 4..],
            &[0, 0, 0xFF, 0xFF],
            "sync flush marker"
        );
        let second = d.compress(&[7u8; 5000]).unwrap();
        let mut inf = Inflater::new();
        inf.feed(&first);
        assert_eq!(inflate_all(&mut inf, 1 << 20), b"GNUTELLA message one");
        for chunk in second.chunks(7) {
            inf.feed(chunk);
        }
        assert_eq!(inflate_all(&mut inf, 1 << 20), vec![7u8; 5000]);
    }

    #[test]
    fn inflates_what_a_zlib_servent_sends() {
        // As gtk-gnutella: deflateInit + Z_SYNC_FLUSH between writes.
        let mut enc = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"ping").unwrap();
        enc.flush().unwrap();
        enc.write_all(b"pong").unwrap();
        enc.flush().unwrap();
        let bytes = enc.get_ref().clone();
        let mut inf = Inflater::new();
        inf.feed(&bytes);
        assert_eq!(inflate_all(&mut inf, 3), b"pingpong");
    }

    #[test]
    fn bomb_comes_out_in_bounded_pieces() {
        let mut d = Deflater::new();
        let z = d.compress(&vec![0u8; 4 << 20]).unwrap();
        assert!(z.len() < 10_000);
        let mut inf = Inflater::new();
        inf.feed(&z);
        let first = inf.read(64 * 1024).unwrap();
        assert_eq!(first.len(), 64 * 1024);
        assert_eq!(
            inflate_all(&mut inf, 64 * 1024).len(),
            (4 << 20) - 64 * 1024
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let mut inf = Inflater::new();
        inf.feed(b"this is not zlib at all");
        assert!(matches!(inf.read(1000), Err(LinkError::Corrupt(_))));
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(b in proptest::collection::vec(any::<u8>(), 0..500)) {
            let mut inf = Inflater::new();
            inf.feed(&b);
            for _ in 0..4 {
                match inf.read(100) {
                    Ok(v) if !v.is_empty() => prop_assert!(v.len() <= 100),
                    _ => break,
                }
            }
        }

        #[test]
        fn round_trips(msgs in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..300), 1..6)) {
            let mut d = Deflater::new();
            let mut inf = Inflater::new();
            for m in &msgs {
                inf.feed(&d.compress(m).unwrap());
                prop_assert_eq!(&inflate_all(&mut inf, 64), m);
            }
        }
    }
}
