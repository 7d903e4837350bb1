//! UDP trackers (BEP 15): connect, announce, scrape and error packets, with
//! the transaction id checked by every parser, and the retry schedule.

use std::net::SocketAddr;
use std::time::Duration;

use super::compact::parse_peers_v4;
use super::tracker::{
    tracker_text, Announce, AnnounceReply, ScrapeStats, TrackerError, MAX_TRACKER_PEERS,
};

/// The magic connection id of a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// How long a connection id may be used.
pub const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);
/// Attempts before giving up (timeouts of 15 s to 15 × 2⁸ s).
pub const MAX_ATTEMPTS: u32 = 9;
/// Most info-hashes in one scrape request.
pub const MAX_SCRAPE_HASHES: usize = 74;

const ACTION_CONNECT: u32 = 0;
const ACTION_ANNOUNCE: u32 = 1;
const ACTION_SCRAPE: u32 = 2;
const ACTION_ERROR: u32 = 3;

/// How long to wait for a reply to attempt `n` (from 0): 15 × 2ⁿ seconds.
pub fn retry_timeout(attempt: u32) -> Duration {
    Duration::from_secs(15 << attempt.min(MAX_ATTEMPTS - 1))
}

/// The 16-byte connect request.
pub fn connect_request(transaction_id: u32) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    out[8..12].copy_from_slice(&ACTION_CONNECT.to_be_bytes());
    out[12..].copy_from_slice(&transaction_id.to_be_bytes());
    out
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Checks the action and transaction id of a reply; an error packet
/// becomes [`TrackerError::Failure`]. Returns the bytes after the header.
fn reply_body(buf: &[u8], transaction_id: u32, action: u32) -> Result<&[u8], TrackerError> {
    if buf.len() < 8 {
        return Err(TrackerError::TooShort(buf.len()));
    }
    if be32(&buf[4..]) != transaction_id {
        return Err(TrackerError::TransactionMismatch);
    }
    match be32(buf) {
        ACTION_ERROR => Err(TrackerError::Failure(tracker_text(&buf[8..]))),
        a if a == action => Ok(&buf[8..]),
        a => Err(TrackerError::UnexpectedAction(a)),
    }
}

/// The connection id from a connect reply.
pub fn parse_connect_reply(buf: &[u8], transaction_id: u32) -> Result<u64, TrackerError> {
    let body = reply_body(buf, transaction_id, ACTION_CONNECT)?;
    let id = body.get(..8).ok_or(TrackerError::TooShort(buf.len()))?;
    let mut b = [0u8; 8];
    b.copy_from_slice(id);
    Ok(u64::from_be_bytes(b))
}

/// The 98-byte announce request.
pub fn announce_request(connection_id: u64, transaction_id: u32, a: &Announce) -> [u8; 98] {
    let mut out = [0u8; 98];
    out[..8].copy_from_slice(&connection_id.to_be_bytes());
    out[8..12].copy_from_slice(&ACTION_ANNOUNCE.to_be_bytes());
    out[12..16].copy_from_slice(&transaction_id.to_be_bytes());
    out[16..36].copy_from_slice(&a.info_hash);
    out[36..56].copy_from_slice(&a.peer_id);
    out[56..64].copy_from_slice(&a.downloaded.to_be_bytes());
    out[64..72].copy_from_slice(&a.left.to_be_bytes());
    out[72..80].copy_from_slice(&a.uploaded.to_be_bytes());
    out[80..84].copy_from_slice(&a.event.udp_code().to_be_bytes());
    // 84..88: IP address 0 (the sender's)
    out[88..92].copy_from_slice(&a.key.to_be_bytes());
    let numwant = a.numwant.map_or(-1, |n| n.min(i32::MAX as u32) as i32);
    out[92..96].copy_from_slice(&numwant.to_be_bytes());
    out[96..98].copy_from_slice(&a.port.to_be_bytes());
    out
}

/// Parses an announce reply (IPv4 peers).
pub fn parse_announce_reply(
    buf: &[u8],
    transaction_id: u32,
) -> Result<AnnounceReply, TrackerError> {
    let body = reply_body(buf, transaction_id, ACTION_ANNOUNCE)?;
    if body.len() < 12 {
        return Err(TrackerError::TooShort(buf.len()));
    }
    // a trailing partial entry is ignored rather than failing the announce
    let peers = &body[12..12 + (body.len() - 12) / 6 * 6];
    let peers = parse_peers_v4(peers, MAX_TRACKER_PEERS)
        .map_err(|_| TrackerError::Malformed("peers"))?
        .into_iter()
        .map(SocketAddr::V4)
        .collect();
    Ok(AnnounceReply {
        interval: be32(body),
        min_interval: None,
        leechers: Some(be32(&body[4..])),
        seeders: Some(be32(&body[8..])),
        peers,
        warning: None,
        tracker_id: None,
    })
}

/// The scrape request (at most [`MAX_SCRAPE_HASHES`] hashes are sent).
pub fn scrape_request(
    connection_id: u64,
    transaction_id: u32,
    info_hashes: &[[u8; 20]],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 20 * info_hashes.len().min(MAX_SCRAPE_HASHES));
    out.extend_from_slice(&connection_id.to_be_bytes());
    out.extend_from_slice(&ACTION_SCRAPE.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
    info_hashes
        .iter()
        .take(MAX_SCRAPE_HASHES)
        .for_each(|h| out.extend_from_slice(h));
    out
}

/// Parses a scrape reply: counts in the order of the request's hashes.
pub fn parse_scrape_reply(
    buf: &[u8],
    transaction_id: u32,
) -> Result<Vec<ScrapeStats>, TrackerError> {
    let body = reply_body(buf, transaction_id, ACTION_SCRAPE)?;
    Ok(body
        .chunks_exact(12)
        .take(MAX_SCRAPE_HASHES)
        .map(|c| ScrapeStats {
            complete: be32(c),
            downloaded: be32(&c[4..]),
            incomplete: be32(&c[8..]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::tracker::Event;

    #[test]
    fn connect_exchange() {
        let req = connect_request(0x1234_5678);
        assert_eq!(&req[..8], &[0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80]);
        let mut reply = vec![0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78];
        reply.extend_from_slice(&42u64.to_be_bytes());
        assert_eq!(parse_connect_reply(&reply, 0x1234_5678), Ok(42));
        assert_eq!(
            parse_connect_reply(&reply, 1),
            Err(TrackerError::TransactionMismatch)
        );
        assert!(parse_connect_reply(&reply[..12], 0x1234_5678).is_err());
        assert!(parse_connect_reply(&reply[..5], 0x1234_5678).is_err());
    }

    #[test]
    fn announce_exchange() {
        let a = Announce {
            info_hash: [1; 20],
            peer_id: [2; 20],
            port: 6881,
            uploaded: 3,
            downloaded: 4,
            left: 5,
            event: Event::Completed,
            numwant: None,
            key: 9,
            tracker_id: None,
        };
        let req = announce_request(77, 5, &a);
        assert_eq!(&req[..8], &77u64.to_be_bytes());
        assert_eq!(be32(&req[80..]), 1);
        assert_eq!(&req[92..96], &[0xff; 4]);
        assert_eq!(&req[96..], &[0x1a, 0xe1]);
        let mut reply = vec![0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 7, 8, 0, 0, 0, 2, 0, 0, 0, 1];
        reply.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1, 127, 0, 0, 2, 0, 80, 9]);
        let r = parse_announce_reply(&reply, 5).unwrap();
        assert_eq!(
            (r.interval, r.leechers, r.seeders),
            (1800, Some(2), Some(1))
        );
        assert_eq!(r.peers.len(), 2);
        assert!(parse_announce_reply(&reply[..19], 5).is_err());
    }

    #[test]
    fn error_packet_and_wrong_action() {
        let mut err = vec![0, 0, 0, 3, 0, 0, 0, 5];
        err.extend_from_slice(b"unregistered torrent\n");
        assert_eq!(
            parse_announce_reply(&err, 5),
            Err(TrackerError::Failure("unregistered torrent".into()))
        );
        let scrape = [0, 0, 0, 2, 0, 0, 0, 5];
        assert_eq!(
            parse_announce_reply(&scrape, 5),
            Err(TrackerError::UnexpectedAction(2))
        );
    }

    #[test]
    fn scrape_exchange() {
        let req = scrape_request(1, 2, &[[3; 20]; 100]);
        assert_eq!(req.len(), 16 + 20 * MAX_SCRAPE_HASHES);
        let mut reply = vec![0, 0, 0, 2, 0, 0, 0, 2];
        reply.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 9, 0, 0, 0, 1]);
        let r = parse_scrape_reply(&reply, 2).unwrap();
        assert_eq!(
            r,
            vec![ScrapeStats {
                complete: 4,
                downloaded: 9,
                incomplete: 1
            }]
        );
    }

    #[test]
    fn retry_schedule() {
        assert_eq!(retry_timeout(0), Duration::from_secs(15));
        assert_eq!(retry_timeout(3), Duration::from_secs(120));
        assert_eq!(retry_timeout(8), Duration::from_secs(3840));
        assert_eq!(retry_timeout(50), Duration::from_secs(3840));
    }
}
