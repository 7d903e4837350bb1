//! The ed2k download state machine (one source of one download) fed by a
//! hostile uploader's byte stream: nothing panics, and every write it asks
//! for lies inside the file and inside a range it requested, so a zlib bomb
//! or stray data can never write more than what was asked.
#![no_main]

#[path = "ed2k/stream.rs"]
mod stream;

use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use swarmux_ed2k::client::part_file::{PartFile, BLOCK_SIZE};
use swarmux_ed2k::client::source::{DlCore, Source, SrcAction};
use swarmux_ed2k::proto::{FrameDecoder, PeerMessage};

fuzz_target!(|data: &[u8]| {
    if data.len() < 24 {
        return;
    }
    let (head, rest) = data.split_at(24);
    // Up to three parts and a bit.
    let size = u64::from_le_bytes(head[..8].try_into().unwrap()) % 30_000_000 + 1;
    let hash: [u8; 16] = head[8..24].try_into().unwrap();
    let mut core = DlCore {
        hash,
        size,
        parts: PartFile::new(size, &[]),
        hashset: None,
    };
    let mut src = Source::new(1);
    let mut requested: Vec<(u64, u64)> = Vec::new();
    let mut closed = false;
    let run = |acts: Vec<SrcAction>,
               core: &mut DlCore,
               src: &mut Source,
               requested: &mut Vec<(u64, u64)>| {
        let mut queue: VecDeque<SrcAction> = acts.into();
        while let Some(a) = queue.pop_front() {
            match a {
                SrcAction::Send(PeerMessage::RequestParts { ranges, .. }) => {
                    for (s, e) in ranges.into_iter().filter(|(s, e)| s < e) {
                        assert!(e <= size && e - s <= BLOCK_SIZE);
                        requested.push((s, e));
                    }
                }
                SrcAction::Write { start, data } => {
                    let end = start + data.len() as u64;
                    assert!(end <= size, "write past the end");
                    assert!(
                        requested.iter().any(|&(s, e)| start >= s && end <= e),
                        "write of {start}..{end} outside every request"
                    );
                    queue.extend(src.after_write(start, data.len() as u64, core));
                }
                SrcAction::Verify(parts) => {
                    // Alternate good and corrupt parts.
                    for p in parts {
                        if p % 2 == 0 {
                            core.parts.mark_verified(p);
                        } else {
                            core.parts.reset_part(p);
                        }
                    }
                }
                SrcAction::Close(_) => return true,
                _ => {}
            }
        }
        false
    };
    let acts = src.begin(&core);
    run(acts, &mut core, &mut src, &mut requested);
    stream::frames(rest, FrameDecoder::for_peer_link(stream::MAX_FRAME), |f| {
        if closed {
            return;
        }
        let Ok(msg) = PeerMessage::decode(&f) else {
            closed = true;
            return;
        };
        if let Some(acts) = src.on_message(msg, &mut core) {
            closed = run(acts, &mut core, &mut src, &mut requested);
        }
    });
});
