//! What HTTP (BEP 3) and UDP (BEP 15) trackers have in common: the announce
//! parameters, the reply, scrape counts and errors.

use std::net::SocketAddr;

use super::bencode::BencodeError;

/// Most peers kept from one announce reply.
pub const MAX_TRACKER_PEERS: usize = 2000;
/// Largest tracker reply accepted.
pub const MAX_TRACKER_RESPONSE: usize = 1 << 20;
/// Interval used when an HTTP tracker does not give one (seconds).
pub const DEFAULT_INTERVAL: u32 = 1800;

/// The announce event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Event {
    /// A regular re-announce.
    #[default]
    None,
    /// The first announce of a download.
    Started,
    /// The download just completed.
    Completed,
    /// The torrent was stopped or removed.
    Stopped,
}

impl Event {
    /// The `event=` value of an HTTP announce (`None` for regular ones).
    pub fn http_name(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Started => Some("started"),
            Event::Completed => Some("completed"),
            Event::Stopped => Some("stopped"),
        }
    }

    /// The event code of a UDP announce.
    pub fn udp_code(self) -> u32 {
        match self {
            Event::None => 0,
            Event::Completed => 1,
            Event::Started => 2,
            Event::Stopped => 3,
        }
    }
}

/// An announce to a tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announce {
    /// The torrent.
    pub info_hash: [u8; 20],
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Our listening port.
    pub port: u16,
    /// Bytes uploaded since the `started` event.
    pub uploaded: u64,
    /// Bytes downloaded since the `started` event.
    pub downloaded: u64,
    /// Bytes still needed.
    pub left: u64,
    /// The event.
    pub event: Event,
    /// How many peers we would like (`None`: the tracker's default).
    pub numwant: Option<u32>,
    /// A random number identifying us across IP changes.
    pub key: u32,
    /// The `tracker id` a previous HTTP reply gave, sent back.
    pub tracker_id: Option<String>,
}

/// A tracker's answer to an announce.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnnounceReply {
    /// Seconds until the next regular announce.
    pub interval: u32,
    /// Seconds before which we must not announce again.
    pub min_interval: Option<u32>,
    /// Seeds in the swarm.
    pub seeders: Option<u32>,
    /// Downloaders in the swarm.
    pub leechers: Option<u32>,
    /// Peers to dial.
    pub peers: Vec<SocketAddr>,
    /// A warning to show (the announce still succeeded).
    pub warning: Option<String>,
    /// To send back in later announces to this tracker.
    pub tracker_id: Option<String>,
}

/// Scrape counts for one torrent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScrapeStats {
    /// Seeds.
    pub complete: u32,
    /// Completed downloads ever.
    pub downloaded: u32,
    /// Downloaders.
    pub incomplete: u32,
}

/// A tracker reply that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    #[error("tracker refused: {0}")]
    Failure(String),
    #[error("tracker reply is not valid bencode: {0}")]
    Bencode(#[from] BencodeError),
    #[error("tracker reply is malformed: {0}")]
    Malformed(&'static str),
    #[error("tracker reply is larger than 1 MiB")]
    TooLarge,
    #[error("tracker reply of {0} bytes is too short")]
    TooShort(usize),
    #[error("tracker reply is for another transaction")]
    TransactionMismatch,
    #[error("tracker replied with unexpected action {0}")]
    UnexpectedAction(u32),
}

/// Text from a tracker, made safe to show: lossy UTF-8, at most 300 chars.
pub(crate) fn tracker_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect::<String>()
        .trim()
        .to_string()
}
