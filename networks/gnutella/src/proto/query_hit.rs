//! Query Hit (0x81): `count(1) port(2 LE) ip(4) speed(4 LE)`, `count` results
//! `index(4 LE) size(4 LE) name NUL extensions NUL`, an optional QHD trailer
//! `vendor(4) open size(1) open data private data`, and the 16-byte servent
//! GUID that Push requests are routed by.
//!
//! The QHD open data is two flag bytes. For busy/stable/speed/GGEP the first
//! byte says which bits are meaningful and the second holds their values; the
//! push bit is the other way round (value in the first byte, "meaningful" in
//! the second). With the GGEP bit set in both bytes, the private data starts
//! with a GGEP block. Files of 4 GiB and more carry their size in GGEP `LF`
//! (little-endian, 1 to 8 bytes) with 0xFFFFFFFF in the 32-bit field.

use super::descriptor::Guid;
use super::extensions::ExtensionArea;
use super::ggep::{self, Extension};
use super::reader::{field, wire_text, DecodeError, Reader};
use std::net::SocketAddrV4;

/// Bytes the deflated GGEP data of one whole hit (every result and the
/// trailer) may inflate to.
pub const GGEP_INFLATE_BUDGET: usize = 16 * 1024;
/// Bytes the deflated GGEP data of one result may inflate to, within the
/// hit's budget (a result carries `H`, `LF`, `ALT`, `CT`: at most a few
/// hundred bytes).
pub const RESULT_INFLATE_BUDGET: usize = 4 * 1024;

/// Our QHD vendor code.
pub const VENDOR_SWARMUX: [u8; 4] = *b"SWMX";
const QHD_PUSH: u8 = 0x01;
const QHD_BUSY: u8 = 0x04;
const QHD_STABLE: u8 = 0x08;
const QHD_SPEED: u8 = 0x10;
const QHD_GGEP: u8 = 0x20;
/// Longest file name accepted in a result.
pub const MAX_NAME: usize = 1024;
/// Most results we put in one hit (gtk-gnutella's `QHIT_MAX_RESULTS`:
/// LimeWire mishandles more).
pub const MAX_RESULTS_PER_HIT: usize = 10;
/// Once the results of a hit take this many bytes, further results go into
/// another hit (gtk-gnutella's `QHIT_SIZE_THRESHOLD`), so hits stay far below
/// what relays drop as too large.
pub const HIT_FLUSH_SIZE: usize = 2016;

/// One file in a hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitResult {
    pub index: u32,
    /// The size, from GGEP `LF` when present.
    pub size: u64,
    pub name: String,
    /// URNs and GGEP extensions (without `LF`, folded into `size`).
    pub ext: ExtensionArea,
}

/// The QHD trailer: who answered and in what state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// Four ASCII letters, e.g. `GTKG`, `LIME`, `SWMX`.
    pub vendor: [u8; 4],
    /// Firewalled: a Push is needed to download. `None` when not stated.
    pub push: Option<bool>,
    /// All upload slots taken.
    pub busy: Option<bool>,
    /// Has completed uploads before.
    pub stable: Option<bool>,
    /// `speed` is a measured value.
    pub speed_measured: Option<bool>,
    /// The GGEP block at the start of the private data.
    pub ggep: Vec<Extension>,
}

/// A Query Hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryHit {
    /// Where to download from (unless `push`).
    pub addr: SocketAddrV4,
    /// Upload speed in kbit/s.
    pub speed: u32,
    pub results: Vec<HitResult>,
    pub trailer: Option<Trailer>,
    /// The answering servent's GUID, the target of Push requests.
    pub servent: Guid,
}

fn flag(open: &[u8], bit: u8, value_in_first: bool) -> Option<bool> {
    let (values, enabled) = match open {
        [a, b, ..] if value_in_first => (*a, *b),
        [a, b, ..] => (*b, *a),
        _ => return None,
    };
    (enabled & bit != 0).then_some(values & bit != 0)
}

/// The size in the first GGEP `LF` of a result, if it is a valid one;
/// every `LF` is taken out of the extensions (the size field stands for
/// it, and encoding writes it again when the size needs it).
fn lf_size(ext: &mut ExtensionArea) -> Option<u64> {
    let i = ext.ggep.iter().position(|e| e.id == "LF")?;
    let data = &ext.ggep[i].data;
    let size = (1..=8).contains(&data.len()).then(|| {
        data.iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    });
    ext.ggep.retain(|e| e.id != "LF");
    size
}

impl HitResult {
    /// Appends the result's wire bytes.
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.index.to_le_bytes());
        let mut ext = self.ext.clone();
        let size32 = match u32::try_from(self.size) {
            Ok(s) if s != u32::MAX => s,
            _ => {
                let le = self.size.to_le_bytes();
                let used = 8 - (self.size.leading_zeros() as usize / 8);
                ext.ggep.retain(|e| e.id != "LF");
                ext.ggep.push(Extension::new("LF", &le[..used]));
                u32::MAX
            }
        };
        out.extend_from_slice(&size32.to_le_bytes());
        out.extend(self.name.bytes().filter(|&b| b != 0));
        out.push(0);
        out.extend(ext.encode(true));
        out.push(0);
    }

    /// Bytes the result takes in a hit.
    pub fn wire_len(&self) -> usize {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out.len()
    }
}

/// Splits results into the groups we send as separate hits: at most
/// [`MAX_RESULTS_PER_HIT`] each, a group closed once its results reach
/// [`HIT_FLUSH_SIZE`] bytes (as gtk-gnutella does).
pub fn split_results(results: Vec<HitResult>) -> Vec<Vec<HitResult>> {
    let mut groups: Vec<Vec<HitResult>> = Vec::new();
    let mut bytes = 0;
    for r in results {
        let full = groups
            .last()
            .is_none_or(|g| g.len() >= MAX_RESULTS_PER_HIT || bytes >= HIT_FLUSH_SIZE);
        if full {
            groups.push(Vec::new());
            bytes = 0;
        }
        bytes += r.wire_len();
        if let Some(g) = groups.last_mut() {
            g.push(r);
        }
    }
    groups
}

impl QueryHit {
    /// Decodes a Query Hit payload. Deflated GGEP data inflates only into
    /// [`RESULT_INFLATE_BUDGET`] per result and [`GGEP_INFLATE_BUDGET`] per
    /// hit, so what a decoded hit holds stays within a small multiple of
    /// the payload.
    pub fn decode(payload: &[u8]) -> Result<QueryHit, DecodeError> {
        let mut budget = GGEP_INFLATE_BUDGET;
        let mut r = Reader::new(payload);
        let count = r.u8().map_err(field("hit count"))?;
        let port = r.u16_le().map_err(field("hit port"))?;
        let ip = r.ipv4().map_err(field("hit ip"))?;
        let speed = r.u32_le().map_err(field("hit speed"))?;
        let mut results = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let index = r.u32_le().map_err(field("result index"))?;
            let size32 = r.u32_le().map_err(field("result size"))?;
            let name = r.nul_terminated().map_err(field("result name"))?;
            if name.len() > MAX_NAME {
                return Err(DecodeError::TooLarge {
                    what: "result name",
                    len: name.len(),
                    max: MAX_NAME,
                });
            }
            let area = r.nul_terminated().map_err(field("result extensions"))?;
            let granted = budget.min(RESULT_INFLATE_BUDGET);
            let mut left = granted;
            let mut ext = ExtensionArea::parse(area, &mut left);
            budget -= granted - left;
            let size = lf_size(&mut ext).unwrap_or(u64::from(size32));
            results.push(HitResult {
                index,
                size,
                name: wire_text(name, MAX_NAME),
                ext,
            });
        }
        let rest = r.rest();
        let Some(split) = rest.len().checked_sub(16) else {
            return Err(DecodeError::Truncated {
                what: "servent guid",
                needed: 16,
                left: rest.len(),
            });
        };
        let servent = Guid(rest[split..].try_into().unwrap_or_default());
        Ok(QueryHit {
            addr: SocketAddrV4::new(ip, port),
            speed,
            results,
            trailer: parse_trailer(&rest[..split], &mut budget),
            servent,
        })
    }

    /// The payload bytes (at most 255 results are written).
    pub fn encode(&self) -> Vec<u8> {
        let results = &self.results[..self.results.len().min(255)];
        let mut out = vec![results.len() as u8];
        out.extend_from_slice(&self.addr.port().to_le_bytes());
        out.extend_from_slice(&self.addr.ip().octets());
        out.extend_from_slice(&self.speed.to_le_bytes());
        for res in results {
            res.encode_into(&mut out);
        }
        if let Some(t) = &self.trailer {
            encode_trailer(t, &mut out);
        }
        out.extend_from_slice(&self.servent.0);
        out
    }
}

fn parse_trailer(t: &[u8], inflate_budget: &mut usize) -> Option<Trailer> {
    let vendor: [u8; 4] = t.get(..4)?.try_into().ok()?;
    let open_len = usize::from(*t.get(4).unwrap_or(&0));
    let open = t.get(5..5 + open_len).unwrap_or_default();
    let private = t.get(5 + open_len..).unwrap_or_default();
    let has_ggep = matches!(open, [a, b, ..] if a & b & QHD_GGEP != 0);
    let ggep = match private.first() {
        Some(&ggep::MAGIC) if has_ggep => ggep::decode_block(private, inflate_budget)
            .map(|g| g.0)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Some(Trailer {
        vendor,
        push: flag(open, QHD_PUSH, true),
        busy: flag(open, QHD_BUSY, false),
        stable: flag(open, QHD_STABLE, false),
        speed_measured: flag(open, QHD_SPEED, false),
        ggep,
    })
}

fn encode_trailer(t: &Trailer, out: &mut Vec<u8>) {
    let (mut first, mut second) = (0u8, 0u8);
    if let Some(push) = t.push {
        second |= QHD_PUSH;
        first |= if push { QHD_PUSH } else { 0 };
    }
    for (v, bit) in [
        (t.busy, QHD_BUSY),
        (t.stable, QHD_STABLE),
        (t.speed_measured, QHD_SPEED),
    ] {
        if let Some(v) = v {
            first |= bit;
            second |= if v { bit } else { 0 };
        }
    }
    let block = ggep::encode_block(&t.ggep, false);
    if !block.is_empty() {
        first |= QHD_GGEP;
        second |= QHD_GGEP;
    }
    out.extend_from_slice(&t.vendor);
    out.extend_from_slice(&[2, first, second]);
    out.extend(block);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::huge::Sha1Urn;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    /// A hit laid out byte by byte as gtk-gnutella 1.2 sends one: two results
    /// with `urn:sha1:` text, the second also with a COBS-encoded GGEP `H` and a
    /// 5 GiB `LF` size, a `GTKG` trailer with push/busy/stable/speed/GGEP flags
    /// and a GGEP block in the private area, then the servent GUID.
    #[test]
    fn parses_a_gtk_gnutella_shaped_hit() {
        let urn1 = Sha1Urn([0x11; 20]);
        let urn2 = Sha1Urn([0x00; 20]);
        let mut p = vec![2u8, 0xCA, 0x18, 10, 0, 0, 7];
        p.extend_from_slice(&350u32.to_le_bytes());
        p.extend_from_slice(&1u32.to_le_bytes());
        p.extend_from_slice(&4_000_000u32.to_le_bytes());
        p.extend_from_slice(b"ubuntu-24.04.iso\0");
        p.extend_from_slice(urn1.to_string().as_bytes());
        p.push(0);
        p.extend_from_slice(&2u32.to_le_bytes());
        p.extend_from_slice(&u32::MAX.to_le_bytes());
        p.extend_from_slice("gro\u{df}e Datei.mkv\0".as_bytes());
        p.extend_from_slice(urn2.to_string().as_bytes());
        p.push(0x1C);
        let big = 5u64 << 30;
        p.extend(ggep::encode_block(
            &[
                Extension::new("H", urn2.to_ggep_h()),
                Extension::new("LF", &big.to_le_bytes()[..5]),
            ],
            true,
        ));
        p.push(0);
        p.extend_from_slice(b"GTKG");
        p.push(2);
        // push set; busy/stable/speed/GGEP meaningful; stable+speed+GGEP true.
        p.push(QHD_PUSH | QHD_BUSY | QHD_STABLE | QHD_SPEED | QHD_GGEP);
        p.push(QHD_PUSH | QHD_STABLE | QHD_SPEED | QHD_GGEP);
        p.extend(ggep::encode_block(
            &[Extension::new("GTKGV", [1, 2, 0])],
            false,
        ));
        p.extend_from_slice(&[0xEE; 16]);

        let hit = QueryHit::decode(&p).unwrap();
        assert_eq!(
            hit.addr,
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 7), 6346)
        );
        assert_eq!(hit.speed, 350);
        assert_eq!(hit.servent, Guid([0xEE; 16]));
        assert_eq!(hit.results.len(), 2);
        assert_eq!(hit.results[0].name, "ubuntu-24.04.iso");
        assert_eq!(hit.results[0].ext.urns, vec![urn1]);
        assert_eq!(hit.results[1].size, big);
        assert_eq!(hit.results[1].name, "gro\u{df}e Datei.mkv");
        assert_eq!(hit.results[1].ext.urns, vec![urn2]);
        let t = hit.trailer.clone().unwrap();
        assert_eq!(&t.vendor, b"GTKG");
        assert_eq!(
            (t.push, t.busy, t.stable, t.speed_measured),
            (Some(true), Some(false), Some(true), Some(true))
        );
        assert_eq!(t.ggep, vec![Extension::new("GTKGV", [1, 2, 0])]);
        // And what we encode decodes to the same.
        assert_eq!(QueryHit::decode(&hit.encode()).unwrap(), hit);
    }

    #[test]
    fn hit_without_trailer_and_truncated_ones() {
        let hit = QueryHit {
            addr: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1),
            speed: 0,
            results: vec![],
            trailer: None,
            servent: Guid([1; 16]),
        };
        let b = hit.encode();
        assert_eq!(b.len(), 11 + 16);
        assert_eq!(QueryHit::decode(&b).unwrap(), hit);
        assert!(QueryHit::decode(&b[..20]).is_err());
        let mut one = b.clone();
        one[0] = 1;
        assert!(QueryHit::decode(&one).is_err(), "declared result missing");
    }

    #[test]
    fn results_are_split_like_gtk_gnutella_hits() {
        let result = |i: u32, name_len: usize| HitResult {
            index: i,
            size: 1,
            name: "n".repeat(name_len),
            ext: ExtensionArea {
                urns: vec![Sha1Urn([i as u8; 20])],
                ..Default::default()
            },
        };
        // 25 small results: 10 + 10 + 5.
        let groups = split_results((0..25).map(|i| result(i, 10)).collect());
        let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![10, 10, 5]);
        // Long names: a group closes once it passes the flush size.
        let groups = split_results((0..6).map(|i| result(i, 900)).collect());
        assert!(groups.iter().all(|g| g.len() <= 3));
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 6);
        assert!(split_results(Vec::new()).is_empty());
        // Order is kept.
        let flat: Vec<u32> = split_results((0..25).map(|i| result(i, 10)).collect())
            .into_iter()
            .flatten()
            .map(|r| r.index)
            .collect();
        assert_eq!(flat, (0..25).collect::<Vec<_>>());
    }

    /// Found by fuzzing: an empty `LF` was kept as an extension, and came
    /// back as a size after encoding.
    #[test]
    fn bad_lf_extensions_are_dropped() {
        let mut ext = ExtensionArea {
            ggep: vec![Extension::new("LF", []), Extension::new("LF", [1])],
            ..Default::default()
        };
        assert_eq!(lf_size(&mut ext), None);
        assert!(ext.ggep.is_empty());
        let hit = QueryHit {
            addr: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1),
            speed: 0,
            results: vec![HitResult {
                index: 1,
                size: u64::from(u32::MAX),
                name: "big".into(),
                ext,
            }],
            trailer: None,
            servent: Guid([1; 16]),
        };
        assert_eq!(QueryHit::decode(&hit.encode()).unwrap(), hit);
    }

    /// Like query texts: a name of invalid UTF-8 at the length limit still
    /// encodes within it.
    #[test]
    fn invalid_names_round_trip_within_the_limit() {
        let mut p = vec![1u8, 0xCA, 0x18, 127, 0, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&[1, 0, 0, 0, 9, 0, 0, 0]);
        p.extend([0xFF; MAX_NAME]);
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(&[5; 16]);
        let hit = QueryHit::decode(&p).unwrap();
        assert!(hit.results[0].name.len() <= MAX_NAME);
        assert_eq!(QueryHit::decode(&hit.encode()).unwrap(), hit);
    }

    proptest! {
        #[test]
        fn decode_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = QueryHit::decode(&b);
        }

        #[test]
        fn round_trips(name in "[a-zA-Z0-9 ._-]{1,30}", size in any::<u64>(), idx in any::<u32>(),
                       push in any::<Option<bool>>(), busy in any::<Option<bool>>()) {
            let hit = QueryHit {
                addr: SocketAddrV4::new(Ipv4Addr::new(1, 2, 3, 4), 6346),
                speed: 1000,
                results: vec![HitResult { index: idx, size, name, ext: ExtensionArea {
                    urns: vec![Sha1Urn([7; 20])], ..Default::default() } }],
                trailer: Some(Trailer { vendor: VENDOR_SWARMUX, push, busy, stable: None,
                    speed_measured: Some(false), ggep: vec![] }),
                servent: Guid([3; 16]),
            };
            prop_assert_eq!(QueryHit::decode(&hit.encode()).unwrap(), hit);
        }
    }
}
