//! Shared by the ed2k stream targets: feeds a byte stream to a frame
//! decoder in pieces (the first byte picks their size, as reads split it)
//! and hands over each frame, checking the inflate bound.

use swarmux_ed2k::proto::{Frame, FrameDecoder};

/// The largest frame the stream targets accept (also after inflating).
pub const MAX_FRAME: usize = 256 * 1024;

/// Calls `on_frame` for each frame `data` holds, until the stream is bad.
pub fn frames(data: &[u8], mut dec: FrameDecoder, mut on_frame: impl FnMut(Frame)) {
    let Some((&k, data)) = data.split_first() else {
        return;
    };
    for piece in data.chunks(usize::from(k % 64) + 1) {
        dec.push(piece);
        loop {
            match dec.next_frame() {
                Ok(Some(f)) => {
                    // Packed frames inflate to the bound at most.
                    assert!(f.payload.len() < MAX_FRAME);
                    on_frame(f);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        // Nothing is buffered beyond one frame's worth and one piece.
        assert!(dec.buffered() <= MAX_FRAME + 5 + 64);
    }
}
