//! One exchange with one tracker: announce and scrape, over HTTP(S)
//! (through `ureq` on the blocking pool, which also gives HTTPS) or UDP
//! (BEP 15, on a tokio socket: connect, then the request, retried).

use crate::proto::tracker::{AnnounceReply, ScrapeStats, MAX_TRACKER_RESPONSE};
use crate::proto::{tracker_http, tracker_udp, Announce, TrackerError, TrackerScheme, TrackerUrl};
use std::net::IpAddr;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::timeout;

/// How long one HTTP announce or scrape may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// UDP attempts per exchange (BEP 15's 15 s, then 30 s).
const UDP_ATTEMPTS: u32 = 2;

/// One announce to one tracker, from `local` (any address when `None`).
pub(crate) async fn announce_one(
    url: &str,
    a: &Announce,
    local: Option<IpAddr>,
) -> Result<AnnounceReply, String> {
    let parsed = TrackerUrl::parse(url).map_err(|e| e.to_string())?;
    match parsed.scheme {
        TrackerScheme::Http | TrackerScheme::Https => {
            let body = http_get(tracker_http::announce_url(url, a), local).await?;
            tracker_http::parse_announce_reply(&body).map_err(|e| e.to_string())
        }
        TrackerScheme::Udp => {
            udp_exchange(
                &parsed,
                local,
                |conn, tid| tracker_udp::announce_request(conn, tid, a).to_vec(),
                tracker_udp::parse_announce_reply,
            )
            .await
        }
    }
}

/// One scrape of one torrent, from `local`; `Ok(None)` when the tracker has
/// no scrape URL (BEP 48: an HTTP announce path that does not end in `announce…`).
pub(crate) async fn scrape_one(
    url: &str,
    info_hash: [u8; 20],
    local: Option<IpAddr>,
) -> Result<Option<ScrapeStats>, String> {
    let parsed = TrackerUrl::parse(url).map_err(|e| e.to_string())?;
    match parsed.scheme {
        TrackerScheme::Http | TrackerScheme::Https => {
            let Some(scrape) = tracker_http::scrape_url(url) else {
                return Ok(None);
            };
            let body = http_get(tracker_http::scrape_url_for(&scrape, &[info_hash]), local).await?;
            let files = tracker_http::parse_scrape_reply(&body).map_err(|e| e.to_string())?;
            Ok(files
                .into_iter()
                .find(|(h, _)| *h == info_hash)
                .map(|(_, s)| s))
        }
        TrackerScheme::Udp => {
            let stats = udp_exchange(
                &parsed,
                local,
                |conn, tid| tracker_udp::scrape_request(conn, tid, &[info_hash]),
                tracker_udp::parse_scrape_reply,
            )
            .await?;
            Ok(stats.into_iter().next())
        }
    }
}

async fn http_get(url: String, local: Option<IpAddr>) -> Result<Vec<u8>, String> {
    tokio::task::spawn_blocking(move || {
        swarmux_net::http::get(&url, HTTP_TIMEOUT, MAX_TRACKER_RESPONSE as u64, local)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Connects (BEP 15) from `local` and sends `request(connection_id,
/// transaction_id)` until `parse` accepts an answer, in [`UDP_ATTEMPTS`] attempts.
async fn udp_exchange<T>(
    t: &TrackerUrl,
    local: Option<IpAddr>,
    request: impl Fn(u64, u32) -> Vec<u8>,
    parse: impl Fn(&[u8], u32) -> Result<T, TrackerError>,
) -> Result<T, String> {
    // a socket bound to an IPv4 address cannot reach an IPv6 one, and the reverse
    let addr = tokio::net::lookup_host((t.host.as_str(), t.port))
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", t.host))?
        .find(|a| local.is_none_or(|ip| ip.is_ipv4() == a.is_ipv4()))
        .ok_or_else(|| format!("cannot resolve {} to an address {local:?} reaches", t.host))?;
    let any: IpAddr = if addr.is_ipv4() {
        [0, 0, 0, 0].into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let sock = swarmux_net::dial::udp_socket(Some(local.unwrap_or(any)), 0)
        .await
        .map_err(|e| e.to_string())?;
    sock.connect(addr).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut last = String::from("no reply");
    for attempt in 0..UDP_ATTEMPTS {
        let wait = tracker_udp::retry_timeout(attempt);
        let tid: u32 = rand::random();
        if sock.send(&tracker_udp::connect_request(tid)).await.is_err() {
            continue;
        }
        let conn = match timeout(
            wait,
            recv_reply(&sock, &mut buf, |b| {
                tracker_udp::parse_connect_reply(b, tid)
            }),
        )
        .await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(e),
            Err(_) => continue,
        };
        let tid: u32 = rand::random();
        if sock.send(&request(conn, tid)).await.is_err() {
            continue;
        }
        match timeout(wait, recv_reply(&sock, &mut buf, |b| parse(b, tid))).await {
            Ok(r) => return r,
            Err(_) => last = "no reply".into(),
        }
    }
    Err(last)
}

/// Waits for a datagram `parse` accepts (stray ones for other transactions are skipped).
async fn recv_reply<T>(
    sock: &UdpSocket,
    buf: &mut [u8],
    parse: impl Fn(&[u8]) -> Result<T, crate::proto::TrackerError>,
) -> Result<T, String> {
    loop {
        let n = sock.recv(buf).await.map_err(|e| e.to_string())?;
        match parse(&buf[..n]) {
            Err(crate::proto::TrackerError::TransactionMismatch) => continue,
            other => return other.map_err(|e| e.to_string()),
        }
    }
}
