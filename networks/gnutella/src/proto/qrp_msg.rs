//! QRP route table update messages (type 0x30) and both ends of a table
//! transfer: a leaf turns its [`QrpTable`] into RESET + PATCH messages, an
//! ultrapeer applies them to the table it keeps for that leaf.
//!
//! RESET: `0x00 table_length(4 LE) infinity(1)`. PATCH: `0x01 seq_no(1)
//! seq_size(1) compressor(1: 0 none, 1 zlib) entry_bits(1: 4 or 8) data`.
//! The data of a whole sequence is one (possibly zlib) stream of signed
//! entries, one per slot, high bits first: negative brings a slot from
//! infinity to present, positive back to infinity, 0 leaves it; 1-bit
//! entries flip the slot instead. We send infinity 2 and -1/+1 deltas in
//! 4-bit entries, as gtk-gnutella; we accept 1, 2, 4 and 8 bits per entry,
//! as gtk-gnutella does (`qrt_apply_patch` in `src/core/qrp.c`).
//!
//! Receiving is bounded: tables up to 2^24 slots are accepted and folded down
//! to 2^20 (a slot is present when any of the slots folded into it is),
//! inflated patch data is consumed in fixed-size pieces and may not run past
//! the table. Any error means the sender is broken: Bye 413 and drop it.

use super::qrp::{QrpTable, MAX_TABLE_BITS, MIN_TABLE_BITS};
use super::reader::{field, DecodeError, Reader};
use flate2::{Decompress, FlushDecompress, Status};
use std::io::Write;

/// Variant byte of a RESET.
pub const VARIANT_RESET: u8 = 0x00;
/// Variant byte of a PATCH.
pub const VARIANT_PATCH: u8 = 0x01;
/// log2 of the largest table length accepted in a RESET.
pub const MAX_CLIENT_TABLE_BITS: u8 = 24;
/// The infinity we announce.
pub const OUR_INFINITY: u8 = 2;
/// Patch bytes per PATCH message we send.
pub const PATCH_CHUNK: usize = 4096;

/// One route table update message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTableUpdate {
    Reset {
        table_len: u32,
        infinity: u8,
    },
    Patch {
        seq_no: u8,
        seq_size: u8,
        compressor: u8,
        entry_bits: u8,
        data: Vec<u8>,
    },
}

impl RouteTableUpdate {
    /// Decodes a 0x30 payload.
    pub fn decode(payload: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        match r.u8().map_err(field("qrp variant"))? {
            VARIANT_RESET => Ok(RouteTableUpdate::Reset {
                table_len: r.u32_le().map_err(field("qrp table length"))?,
                infinity: r.u8().map_err(field("qrp infinity"))?,
            }),
            VARIANT_PATCH => Ok(RouteTableUpdate::Patch {
                seq_no: r.u8().map_err(field("qrp seq no"))?,
                seq_size: r.u8().map_err(field("qrp seq size"))?,
                compressor: r.u8().map_err(field("qrp compressor"))?,
                entry_bits: r.u8().map_err(field("qrp entry bits"))?,
                data: r.rest().to_vec(),
            }),
            v => Err(DecodeError::invalid(format!("QRP variant {v}"))),
        }
    }

    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            RouteTableUpdate::Reset {
                table_len,
                infinity,
            } => {
                let mut out = vec![VARIANT_RESET];
                out.extend_from_slice(&table_len.to_le_bytes());
                out.push(*infinity);
                out
            }
            RouteTableUpdate::Patch {
                seq_no,
                seq_size,
                compressor,
                entry_bits,
                data,
            } => {
                let mut out = vec![VARIANT_PATCH, *seq_no, *seq_size, *compressor, *entry_bits];
                out.extend_from_slice(data);
                out
            }
        }
    }
}

/// The messages that bring a peer from `previous` (what it has, `None` for
/// nothing) to `table`: RESET + full patch when there is no previous table of
/// the same size, only a patch otherwise, nothing when unchanged.
pub fn table_update(table: &QrpTable, previous: Option<&QrpTable>) -> Vec<RouteTableUpdate> {
    let previous = previous.filter(|p| p.bits() == table.bits());
    let mut raw = Vec::with_capacity(table.slots() / 2);
    let mut changed = false;
    for pair in 0..table.slots() / 2 {
        let mut byte = 0u8;
        for half in 0..2 {
            let i = pair * 2 + half;
            let (old, new) = (previous.is_some_and(|p| p.is_set(i)), table.is_set(i));
            let nibble = match (old, new) {
                (false, true) => 0xF, // -1: infinity 2 -> 1
                (true, false) => 0x1, // +1: 1 -> infinity
                _ => 0,
            };
            changed |= nibble != 0;
            byte |= nibble << (4 - half * 4);
        }
        raw.push(byte);
    }
    let mut out = Vec::new();
    if previous.is_none() {
        out.push(RouteTableUpdate::Reset {
            table_len: table.slots() as u32,
            infinity: OUR_INFINITY,
        });
    } else if !changed {
        return out;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let data = match z.write_all(&raw).and_then(|_| z.finish()) {
        Ok(d) if d.len() < raw.len() => (1, d),
        _ => (0, raw),
    };
    let (compressor, data) = data;
    let chunk = PATCH_CHUNK.max(data.len().div_ceil(255));
    let seq_size = data.len().div_ceil(chunk).max(1) as u8;
    for (i, piece) in data.chunks(chunk).enumerate() {
        out.push(RouteTableUpdate::Patch {
            seq_no: i as u8 + 1,
            seq_size,
            compressor,
            entry_bits: 4,
            data: piece.to_vec(),
        });
    }
    out
}

/// Why a table update is refused (send Bye 413 and drop the leaf).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrpError {
    #[error("QRP table length {0} is not a power of two between 8 and 2^24")]
    BadLength(u32),
    #[error("QRP infinity 0")]
    BadInfinity,
    #[error("QRP PATCH without a preceding RESET")]
    NoReset,
    #[error("QRP PATCH {got}/{size} out of sequence (expected {expected})")]
    Sequence { got: u8, size: u8, expected: u8 },
    #[error("QRP PATCH uses unsupported {0}")]
    Unsupported(String),
    #[error("QRP patch data does not inflate: {0}")]
    Corrupt(String),
    #[error("QRP patch overflows the table")]
    Overflow,
    #[error("QRP patch sequence ended before the end of the table")]
    Incomplete,
}

struct Sequence {
    size: u8,
    next: u8,
    compressor: u8,
    entry_bits: u8,
    inflater: Option<Decompress>,
    slot: u64,
    group: Vec<bool>,
}

/// The table an ultrapeer keeps for one leaf, fed with its update messages.
pub struct QrpReceiver {
    table: Option<QrpTable>,
    client_slots: u64,
    shrink_bits: u8,
    seq: Option<Sequence>,
    ready: bool,
}

impl Default for QrpReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl QrpReceiver {
    /// A receiver with no table yet.
    pub fn new() -> Self {
        QrpReceiver {
            table: None,
            client_slots: 0,
            shrink_bits: 0,
            seq: None,
            ready: false,
        }
    }

    /// The leaf's table, once a first patch sequence has completed. `None`
    /// means: send this leaf no queries.
    pub fn table(&self) -> Option<&QrpTable> {
        self.table.as_ref().filter(|_| self.ready)
    }

    /// Applies one update message.
    pub fn apply(&mut self, msg: &RouteTableUpdate) -> Result<(), QrpError> {
        match msg {
            RouteTableUpdate::Reset {
                table_len,
                infinity,
            } => self.reset(*table_len, *infinity),
            RouteTableUpdate::Patch {
                seq_no,
                seq_size,
                compressor,
                entry_bits,
                data,
            } => {
                let header = (*seq_no, *seq_size, *compressor, *entry_bits);
                self.patch(header, data)
            }
        }
    }

    fn reset(&mut self, len: u32, infinity: u8) -> Result<(), QrpError> {
        if !len.is_power_of_two()
            || !(1 << MIN_TABLE_BITS..=1 << MAX_CLIENT_TABLE_BITS).contains(&len)
        {
            return Err(QrpError::BadLength(len));
        }
        if infinity == 0 {
            return Err(QrpError::BadInfinity);
        }
        let bits = len.trailing_zeros() as u8;
        self.shrink_bits = bits.saturating_sub(MAX_TABLE_BITS);
        self.table = Some(QrpTable::new(bits - self.shrink_bits));
        self.client_slots = u64::from(len);
        self.seq = None;
        self.ready = false;
        Ok(())
    }

    fn patch(
        &mut self,
        (no, size, compressor, entry_bits): (u8, u8, u8, u8),
        data: &[u8],
    ) -> Result<(), QrpError> {
        if self.table.is_none() {
            return Err(QrpError::NoReset);
        }
        let expected = self.seq.as_ref().map_or(1, |s| s.next);
        let same = self
            .seq
            .as_ref()
            .is_none_or(|s| (s.size, s.compressor, s.entry_bits) == (size, compressor, entry_bits));
        if no != expected || size == 0 || no > size || !same {
            return Err(QrpError::Sequence {
                got: no,
                size,
                expected,
            });
        }
        if !matches!(entry_bits, 1 | 2 | 4 | 8) {
            return Err(QrpError::Unsupported(format!(
                "{entry_bits} bits per entry"
            )));
        }
        if compressor > 1 {
            return Err(QrpError::Unsupported(format!("compressor {compressor}")));
        }
        let seq = self.seq.get_or_insert_with(|| Sequence {
            size,
            next: 1,
            compressor,
            entry_bits,
            inflater: (compressor == 1).then(|| Decompress::new(true)),
            slot: 0,
            group: Vec::new(),
        });
        seq.next = no.saturating_add(1);
        let table = self.table.as_mut().ok_or(QrpError::NoReset)?;
        let ctx = (self.client_slots, self.shrink_bits);
        match seq.inflater.as_mut() {
            None => apply_entries(table, seq, ctx, data)?,
            Some(_) => inflate_and_apply(table, seq, ctx, data)?,
        }
        if no == size {
            let done = self.seq.take().map(|s| s.slot);
            if done != Some(self.client_slots) {
                return Err(QrpError::Incomplete);
            }
            self.ready = true;
        }
        Ok(())
    }
}

fn inflate_and_apply(
    table: &mut QrpTable,
    seq: &mut Sequence,
    ctx: (u64, u8),
    mut input: &[u8],
) -> Result<(), QrpError> {
    let mut buf = [0u8; 4096];
    loop {
        let z = seq.inflater.as_mut().ok_or(QrpError::NoReset)?;
        let (in0, out0) = (z.total_in(), z.total_out());
        let status = z
            .decompress(input, &mut buf, FlushDecompress::Sync)
            .map_err(|e| QrpError::Corrupt(e.to_string()))?;
        let used = usize::try_from(z.total_in() - in0)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let produced = usize::try_from(z.total_out() - out0)
            .unwrap_or(0)
            .min(buf.len());
        input = &input[used..];
        apply_entries(table, seq, ctx, &buf[..produced])?;
        if status == Status::StreamEnd || (used == 0 && produced == 0) {
            return Ok(());
        }
    }
}

fn apply_entries(
    table: &mut QrpTable,
    seq: &mut Sequence,
    (client_slots, shrink): (u64, u8),
    data: &[u8],
) -> Result<(), QrpError> {
    let factor = 1u64 << shrink;
    let bits = u32::from(seq.entry_bits.clamp(1, 8));
    let per_byte = 8 / bits;
    let mask = ((1u16 << bits) - 1) as u8;
    for &byte in data {
        for k in 0..per_byte {
            if seq.slot >= client_slots {
                return Err(QrpError::Overflow);
            }
            let field = (byte >> (8 - bits * (k + 1))) & mask;
            let local = (seq.slot >> shrink) as usize;
            let offset = (seq.slot % factor) as usize;
            if offset == 0 {
                // The same buffer for every group (a 2^20-slot patch over
                // a 2^16-slot table has 65,536 of them).
                seq.group.clear();
                seq.group.resize(factor as usize, table.is_set(local));
            }
            if let Some(slot) = seq.group.get_mut(offset) {
                if bits == 1 {
                    // 1-bit entries flip presence.
                    if field != 0 {
                        *slot = !*slot;
                    }
                } else if field & (1 << (bits - 1)) != 0 {
                    *slot = true; // negative: toward present
                } else if field != 0 {
                    *slot = false; // positive: back to infinity
                }
            }
            if offset as u64 == factor - 1 {
                table.set(local, seq.group.iter().any(|&p| p));
            }
            seq.slot += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "qrp_msg_tests.rs"]
mod tests;
