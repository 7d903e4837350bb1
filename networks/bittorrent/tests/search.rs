//! BitTorrent keyword search through the `Network` trait, on 127.0.0.1:
//! Torznab indexers (a tiny HTTP server thread serving a Jackett-shaped
//! feed, a failing one, a garbage one) and the local library (watch folder,
//! `DATA/torrents/`, downloads given with `StartDownload`).

mod common;

use common::{make_torrent, spec};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use swarmux_bittorrent::proto::Magnet;
use swarmux_bittorrent::{BitTorrentNetwork, BtConfig, TorznabIndexer};
use swarmux_net::message::LogLevel;
use swarmux_net::testing::Harness;
use swarmux_net::{
    parse_query, ContentHash, Limits, NetCommand, NetEvent, SearchHit, SearchRequest,
};
use tokio::sync::mpsc;

const H1: &str = "1111111111111111111111111111111111111111";
const H2: &str = "2222222222222222222222222222222222222222";
const H3: &str = "3333333333333333333333333333333333333333";

/// A Torznab answer shaped like Jackett's: one item with a magnet and an
/// info-hash, one with only a .torrent link and an info-hash, one without an
/// info-hash, one too small for the search's minimum size.
fn jackett_feed(base: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:torznab="http://torznab.com/schemas/2015/feed">
  <channel>
    <atom:link href="{base}/api" rel="self" type="application/rss+xml" />
    <title>AggregateSearch</title>
    <description>This feed includes all configured trackers</description>
    <link>{base}/</link>
    <language>en-US</language>
    <category>search</category>
    <item>
      <title>Ubuntu 24.04 Desktop amd64</title>
      <guid>{base}/details/1</guid>
      <jackettindexer id="tracker1">Tracker One</jackettindexer>
      <type>public</type>
      <comments>{base}/details/1</comments>
      <pubDate>Thu, 25 Apr 2024 10:00:00 +0000</pubDate>
      <size>6114656256</size>
      <grabs>100</grabs>
      <description />
      <link>{base}/dl/tracker1/?jackett_apikey=secret&amp;path=abc&amp;file=Ubuntu</link>
      <category>4000</category>
      <enclosure url="{base}/dl/tracker1/?jackett_apikey=secret&amp;path=abc&amp;file=Ubuntu" length="6114656256" type="application/x-bittorrent" />
      <torznab:attr name="category" value="4000" />
      <torznab:attr name="seeders" value="10" />
      <torznab:attr name="peers" value="15" />
      <torznab:attr name="infohash" value="{H1}" />
      <torznab:attr name="magneturl" value="magnet:?xt=urn:btih:{H1}&amp;tr=udp%3A%2F%2F127.0.0.1%3A6969%2Fannounce" />
      <torznab:attr name="downloadvolumefactor" value="0" />
      <torznab:attr name="uploadvolumefactor" value="1" />
    </item>
    <item>
      <title>Ubuntu 24.04 Server amd64</title>
      <guid>{base}/details/2</guid>
      <size>2754981888</size>
      <link>{base}/dl/2.torrent</link>
      <enclosure url="{base}/dl/2.torrent" length="2754981888" type="application/x-bittorrent" />
      <torznab:attr name="seeders" value="4" />
      <torznab:attr name="peers" value="6" />
      <torznab:attr name="infohash" value="{H2}" />
    </item>
    <item>
      <title>Ubuntu 24.04 No Hash</title>
      <size>3000000000</size>
      <link>{base}/dl/3.torrent</link>
      <torznab:attr name="seeders" value="1" />
    </item>
    <item>
      <title>Ubuntu 24.04 tiny readme</title>
      <size>1000</size>
      <link>{base}/dl/4.torrent</link>
      <torznab:attr name="infohash" value="{H3}" />
    </item>
  </channel>
</rss>"#
    )
}

/// A one-answer-per-connection HTTP server thread on 127.0.0.1; returns its
/// base URL and the request lines it saw. `hold` keeps each connection open
/// that long before answering.
fn http_server(
    status: &'static str,
    body: String,
    hold: Duration,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            log.lock().unwrap().push(line);
            std::thread::sleep(hold);
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(body.as_bytes());
        }
    });
    (base, seen)
}

fn indexer(name: &str, url: String) -> TorznabIndexer {
    TorznabIndexer {
        name: name.into(),
        url,
        api_key: "secret".into(),
    }
}

/// Starts a network with `cfg` (listening on 127.0.0.1) and waits until it listens.
async fn start(cfg: BtConfig, data_dir: &Path) -> Harness {
    let net = BitTorrentNetwork::new(BtConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..cfg
    });
    let mut h = Harness::start(&net, Arc::new(Limits::new(0, 0, 4)), data_dir);
    h.listening(Some("bt_tcp")).await;
    h
}

fn request(id: u64, text: &str, min_size: Option<u64>) -> NetCommand {
    NetCommand::Search(Arc::new(SearchRequest {
        id,
        text: text.into(),
        expr: parse_query(text).unwrap(),
        min_size,
        max_size: None,
        kind: None,
        extension: None,
    }))
}

/// The hits and warnings of search `id`, up to its `SearchDone`.
async fn answers(
    rx: &mut mpsc::UnboundedReceiver<NetEvent>,
    id: u64,
) -> (Vec<SearchHit>, Vec<String>) {
    let mut hits = Vec::new();
    let mut warnings = Vec::new();
    common::wait_for(rx, 30, |e| match e {
        NetEvent::Hit(h) if h.search == id => {
            hits.push(h.clone());
            None
        }
        NetEvent::Log {
            level: LogLevel::Warn,
            message,
        } => {
            warnings.push(message.clone());
            None
        }
        NetEvent::SearchDone { search } if *search == id => Some(()),
        _ => None,
    })
    .await;
    hits.sort_by(|a, b| a.name.cmp(&b.name));
    (hits, warnings)
}

fn bt(hex: &str) -> ContentHash {
    let mut h = [0u8; 20];
    hex::decode_to_slice(hex, &mut h).unwrap();
    ContentHash::BtInfo(h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torznab_hits_and_failing_indexers() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let (good, seen) = http_server("200 OK", jackett_feed(&base), Duration::ZERO);
    let (broken, _) = http_server("500 Internal Server Error", "oops".into(), Duration::ZERO);
    let (garbage, _) = http_server("200 OK", "{\"not\": \"xml\"}".into(), Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let cfg = BtConfig {
        torznab: vec![
            indexer(
                "jackett",
                format!("{good}/api/v2.0/indexers/all/results/torznab/"),
            ),
            indexer("broken", broken),
            indexer("garbage", garbage),
            indexer("refused", base.clone()),
        ],
        ..Default::default()
    };
    let Harness {
        cmd,
        events: mut rx,
    } = start(cfg, dir.path()).await;
    cmd.send(request(7, "ubuntu 24.04 -beta", Some(1_000_000)))
        .unwrap();
    let (hits, warnings) = answers(&mut rx, 7).await;

    let lines = seen.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(
            "GET /api/v2.0/indexers/all/results/torznab/?t=search&q=ubuntu%2024.04&apikey=secret"
        ),
        "{}",
        lines[0]
    );

    assert_eq!(hits.len(), 2, "{hits:?}");
    let desktop = &hits[0];
    assert_eq!(desktop.name, "Ubuntu 24.04 Desktop amd64");
    assert_eq!(desktop.network, "bittorrent");
    assert_eq!(desktop.size, 6_114_656_256);
    assert_eq!(desktop.hashes, vec![bt(H1)]);
    assert_eq!((desktop.sources, desktop.complete_sources), (15, Some(10)));
    let m = Magnet::parse(&desktop.link).unwrap();
    assert_eq!(m.name.as_deref(), Some("Ubuntu 24.04 Desktop amd64"));
    assert_eq!(m.trackers, ["udp://127.0.0.1:6969/announce"]);
    let server = &hits[1];
    assert_eq!(server.name, "Ubuntu 24.04 Server amd64");
    assert_eq!(server.hashes, vec![bt(H2)]);
    assert_eq!(server.link, format!("{base}/dl/2.torrent"));

    for name in ["broken", "garbage", "refused"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&format!("indexer {name}:"))),
            "no warning about {name}: {warnings:?}"
        );
    }
    assert!(
        warnings.iter().all(|w| !w.contains("secret")),
        "{warnings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_waiting_for_a_slow_indexer() {
    let (slow, _) = http_server("200 OK", "<rss/>".into(), Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let cfg = BtConfig {
        torznab: vec![indexer("slow", slow)],
        ..Default::default()
    };
    let Harness {
        cmd,
        events: mut rx,
    } = start(cfg, dir.path()).await;
    cmd.send(request(1, "anything", None)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    cmd.send(NetCommand::CancelSearch(1)).unwrap();
    let (hits, _) = answers(&mut rx, 1).await;
    assert!(hits.is_empty());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_finds_watched_kept_and_given_torrents() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let watch = dir.path().join("watch");
    let elsewhere = dir.path().join("elsewhere");
    for d in [&data_dir.join("torrents"), &watch, &elsewhere] {
        std::fs::create_dir_all(d).unwrap();
    }
    // in the watch folder
    let lecture = elsewhere.join("Lecture Notes Physics.pdf");
    std::fs::write(&lecture, vec![3u8; 30_000]).unwrap();
    let (t, _) = make_torrent(&lecture, 16384, &[]);
    std::fs::rename(&t, watch.join("lecture.torrent")).unwrap();
    // kept by the engine in DATA/torrents/, multi-file
    let holiday = elsewhere.join("Holiday 2024");
    std::fs::create_dir(&holiday).unwrap();
    std::fs::write(holiday.join("sunset_beach.jpg"), vec![4u8; 20_000]).unwrap();
    std::fs::write(holiday.join("readme.txt"), vec![5u8; 100]).unwrap();
    let (t, holiday_mi) = make_torrent(&holiday, 16384, &[]);
    let kept = data_dir.join("torrents/abc.torrent");
    std::fs::rename(&t, &kept).unwrap();
    // given with StartDownload, its .torrent outside every searched folder
    let concert = elsewhere.join("Live Concert Recording.flac");
    std::fs::write(&concert, vec![6u8; 40_000]).unwrap();
    let (concert_t, concert_mi) = make_torrent(&concert, 16384, &["http://127.0.0.1:1/announce"]);

    let cfg = BtConfig {
        watch_dir: Some(watch.clone()),
        ..Default::default()
    };
    let Harness {
        cmd,
        events: mut rx,
    } = start(cfg, &data_dir).await;
    cmd.send(NetCommand::StartDownload(spec(
        5,
        &concert_mi,
        concert_t.display().to_string(),
        &dir.path().join("temp-5"),
    )))
    .unwrap();

    cmd.send(request(1, "lecture physics", None)).unwrap();
    let (hits, _) = answers(&mut rx, 1).await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].name, "Lecture Notes Physics.pdf");
    assert_eq!(hits[0].size, 30_000);
    assert_eq!(
        hits[0].link,
        watch.join("lecture.torrent").display().to_string()
    );

    cmd.send(request(2, "concert", None)).unwrap();
    let (hits, _) = answers(&mut rx, 2).await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        hits[0].hashes,
        vec![ContentHash::BtInfo(concert_mi.info.info_hash)]
    );
    let m = Magnet::parse(&hits[0].link).unwrap();
    assert_eq!(m.name.as_deref(), Some("Live Concert Recording.flac"));
    assert_eq!(m.trackers, ["http://127.0.0.1:1/announce"]);

    cmd.send(request(3, "sunset", None)).unwrap();
    let (hits, _) = answers(&mut rx, 3).await;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].name, "Holiday 2024/sunset_beach.jpg");
    assert_eq!(hits[0].size, holiday_mi.info.total_length);
    assert_eq!(hits[0].link, kept.display().to_string());

    cmd.send(request(4, "nothing matches this", None)).unwrap();
    assert!(answers(&mut rx, 4).await.0.is_empty());

    cmd.send(NetCommand::CancelDownload(5)).unwrap();
    cmd.send(request(5, "concert", None)).unwrap();
    assert!(
        answers(&mut rx, 5).await.0.is_empty(),
        "a cancelled download is forgotten"
    );
}
