//! The `bind` settings are honoured by every outgoing socket of every
//! network. Inside a network namespace whose `lo` carries the address
//! swarmux S is bound to (A) and one address per peer (the swarmux peer P on
//! C, the index server on D, the web side on E), S logs into the index
//! server, downloads from P over ed2k, links to P over Gnutella and
//! downloads from it over HTTP, asks a Torznab indexer, fetches a .torrent by
//! URL, announces to an HTTP and a UDP tracker, bootstraps its DHT and
//! downloads the torrent from P. tcpdump on the namespace's `lo` records the
//! source and destination of every TCP connection opened and every UDP
//! packet sent to a peer. A socket that is not bound leaves from the
//! address the route picks, which for a local destination is the
//! destination itself: no packet may go from an address to itself, and
//! S's traffic to each peer must leave from A.

mod common;

use common::bt_peers::{self, make_torrent};
use common::netns::Netns;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

const A: &str = "10.99.7.1";
const C: &str = "10.99.7.3";
const D: &str = "10.99.7.4";
const E: &str = "10.99.7.5";
const INDEX_PORT: u16 = 4661;
const HTTP_PORT: u16 = 8080;
const UDP_TRACKER_PORT: u16 = 8081;
/// Where S's DHT bootstraps: nothing answers there, and nothing needs to
/// (the datagram leaving is what is checked). P runs no DHT, so it cannot
/// learn S's address from it and dial S before S dials it.
const DHT_PORT: u16 = 8082;
const P_ED2K: u16 = 4662;
const S_ED2K: u16 = 4672;

/// A static HTTP server (Python's http.server, which ignores query strings,
/// so `/announce?...` serves the file `announce`) and a BEP 15 UDP tracker
/// that answers every announce with the peers in `peers.bin`.
const PEER_SIDE: &str = r#"
import http.server, os, socketserver, struct, sys, threading
host, http_port, udp_port, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.chdir(root)
class Udp(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        if len(data) < 16:
            return
        action, tid = struct.unpack(">II", data[8:16])
        if action == 0:
            sock.sendto(struct.pack(">IIQ", 0, tid, 0x1234), self.client_address)
        elif action == 1:
            peers = open("peers.bin", "rb").read()
            sock.sendto(struct.pack(">IIIII", 1, tid, 60, 0, 1) + peers, self.client_address)
udp = socketserver.UDPServer((host, udp_port), Udp)
threading.Thread(target=udp.serve_forever, daemon=True).start()
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((host, http_port), Quiet).serve_forever()
"#;

/// A child process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// tcpdump on the namespace's `lo`: one line per TCP SYN and per UDP packet
/// toward a peer (anything but A), read by a thread into a shared list.
struct Capture {
    _proc: Killed,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Capture {
    fn start(ns: &Netns) -> Capture {
        let filter = format!(
            "ip and not dst host {A} and ((tcp[tcpflags] & (tcp-syn|tcp-ack)) == tcp-syn or udp)"
        );
        let mut child = ns
            .command("tcpdump")
            // Immediate mode: without it, packets reach tcpdump in blocks up
            // to a second late, and the last dial may not be printed yet.
            .args(["-i", "lo", "-nn", "-l", "-q", "--immediate-mode", &filter])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tcpdump");
        // It says "listening on lo" once the capture runs.
        let err = BufReader::new(child.stderr.take().unwrap());
        let said: Vec<String> = err
            .lines()
            .map_while(Result::ok)
            .take_while(|l| !l.contains("listening on"))
            .take(5)
            .collect();
        assert!(said.len() < 5, "tcpdump did not start: {said:?}");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Capture {
            _proc: Killed(child),
            lines,
        }
    }

    /// Each packet so far, from lines like
    /// `12:00:00.1 IP 10.99.7.1.40000 > 10.99.7.4.4661: tcp 0`.
    fn packets(&self) -> Vec<Packet> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let (_, _, src, _, dst, proto) = (
                    f.next()?,
                    f.next()?,
                    f.next()?,
                    f.next()?,
                    f.next()?,
                    f.next()?,
                );
                let (src, _) = src.rsplit_once('.')?;
                let (dst, port) = dst.trim_end_matches(':').rsplit_once('.')?;
                Some(Packet {
                    src: src.to_string(),
                    dst: dst.to_string(),
                    port: port.parse().ok()?,
                    udp: proto.to_lowercase().starts_with("udp"),
                })
            })
            .collect()
    }
}

/// A TCP connection opened or a UDP datagram sent, as tcpdump saw it.
#[derive(Debug)]
struct Packet {
    src: String,
    dst: String,
    port: u16,
    udp: bool,
}

/// The Torznab answer listing the torrent at `url`.
fn torznab_feed(url: &str, name: &str, size: usize, hash: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:torznab="http://torznab.com/schemas/2015/feed"><channel>
<item><title>{name}</title><size>{size}</size><link>{url}</link>
<enclosure url="{url}" length="{size}" type="application/x-bittorrent" />
<torznab:attr name="seeders" value="1" /><torznab:attr name="infohash" value="{hash}" />
</item></channel></rss>"#
    )
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn every_outgoing_socket_of_every_network_leaves_from_the_bound_address() {
    require_or_skip!(&["tcpdump", "python3", "transmission-create"]);
    let ns = Netns::new(&[A, C, D, E]);
    let tmp = tempfile::tempdir().unwrap();
    let capture = Capture::start(&ns);
    let _server = IndexServer::start_in(&ns, &tmp.path().join("server"), D, INDEX_PORT, &[]);
    let index = format!("{D}:{INDEX_PORT}");

    // The peer P on C: shares a file over ed2k and Gnutella, seeds a torrent.
    let pdir = tmp.path().join("p");
    // One file for each network, so that each download's data has to come
    // over its own network (P also shares its finished downloads: without
    // distinct files, a row for the torrent's data over ed2k would do).
    write(
        &pdir.join("share").join("bindtest-ed2k.bin"),
        &data(3_000_000, 21),
    );
    write(
        &pdir.join("share").join("bindtest-gnutella.bin"),
        &data(1_000_000, 23),
    );
    let torrent_data = data(2_000_000, 22);
    let staged = tmp.path().join("staging").join("bindtest-torrent.bin");
    write(&staged, &torrent_data);
    write(
        &pdir.join("downloads").join("bindtest-torrent.bin"),
        &torrent_data,
    );
    let (torrent, info_hash) = make_torrent(
        &staged,
        &[
            format!("udp://{E}:{UDP_TRACKER_PORT}/announce"),
            format!("http://{E}:{HTTP_PORT}/announce"),
        ],
    );
    let share = pdir.join("share").display().to_string();
    write(&pdir.join("config.toml"), b"[bittorrent]\ndht = false\n");
    let bind_c = [
        "--bt-bind",
        C,
        "--gnutella-bind",
        C,
        "--gnutella-mode",
        "ultrapeer",
        "--share",
        &share,
    ];
    let p = Node::start_in(
        &ns,
        &pdir,
        C,
        P_ED2K,
        &[&["--server", &index], &bind_c[..]].concat(),
    );
    // The two shared files, and the torrent's data in its download folder.
    p.wait_ready(3);
    // A high id: S then dials P (a low id would make P call S back).
    wait_for(30, "P's high id", || {
        let s = p.status();
        s["networks"][0]["servers"][0]["identity"]
            .as_str()?
            .starts_with("high ID")
            .then_some(())
    });
    assert!(p.cli(&["get", torrent.to_str().unwrap()]).status.success());
    let p_bt = port_of(&pdir, "bt_tcp");
    let p_gnutella = port_of(&pdir, "gnutella_tcp");

    // The HTTP side on C: the tracker's answer (P as the only peer), the
    // .torrent, and a Torznab indexer listing it.
    let web = tmp.path().join("web");
    let ip: std::net::Ipv4Addr = C.parse().unwrap();
    let mut peers = ip.octets().to_vec();
    peers.extend_from_slice(&p_bt.to_be_bytes());
    write(&web.join("peers.bin"), &peers);
    let mut announce = format!("d8:intervali60e5:peers{}:", peers.len()).into_bytes();
    announce.extend_from_slice(&peers);
    announce.push(b'e');
    write(&web.join("announce"), &announce);
    write(&web.join("t.torrent"), &std::fs::read(&torrent).unwrap());
    let url = format!("http://{E}:{HTTP_PORT}/t.torrent");
    let hash = bt_peers::hex40(&info_hash);
    let feed = torznab_feed(&url, "bindtest-torrent.bin", torrent_data.len(), &hash);
    write(&web.join("torznab").join("api"), feed.as_bytes());
    let script = tmp.path().join("peer_side.py");
    std::fs::write(&script, PEER_SIDE).unwrap();
    let _web = Killed(
        ns.command("python3")
            .arg(&script)
            .args([E, &HTTP_PORT.to_string(), &UDP_TRACKER_PORT.to_string()])
            .arg(&web)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // swarmux S on A, every network bound to A.
    let sdir = tmp.path().join("s");
    write(
        &sdir.join("config.toml"),
        format!(
            "[[bittorrent.torznab]]\nname = \"bindtest\"\nurl = \"http://{E}:{HTTP_PORT}/torznab/api\"\n"
        )
        .as_bytes(),
    );
    let gnutella_peer = format!("{C}:{p_gnutella}");
    let dht = format!("{E}:{DHT_PORT}");
    let s = Node::start_in(
        &ns,
        &sdir,
        A,
        S_ED2K,
        &[
            "--server",
            &index,
            "--bt-bind",
            A,
            "--gnutella-bind",
            A,
            "--gnutella-mode",
            "leaf",
            "--gnutella-peer",
            &gnutella_peer,
            "--dht-bootstrap",
            &dht,
        ],
    );
    s.wait_ready(0);

    // One search reaches the index server, P over Gnutella, and the indexer.
    let rows = wait_for(90, "ed2k, Gnutella and Torznab rows", || {
        let v = s.json(&["search", "--wait", "3", "bindtest"]);
        let rows = v["rows"].as_array()?.clone();
        let on = |net: &str| rows.iter().any(|r| r["networks"].to_string().contains(net));
        (on("ed2k") && on("gnutella") && on("bittorrent")).then_some(rows)
    });
    for (net, name) in [
        ("ed2k", "bindtest-ed2k.bin"),
        ("gnutella", "bindtest-gnutella.bin"),
        ("bittorrent", "bindtest-torrent.bin"),
    ] {
        let row = rows
            .iter()
            .find(|r| r["networks"] == serde_json::json!([net]) && r["name"] == name)
            .unwrap_or_else(|| panic!("no {net}-only row for {name} in {rows:?}"));
        let id = row["id"].as_u64().unwrap().to_string();
        let out = s.cli(&["get", &id]);
        assert!(out.status.success(), "get {net}: {:?}", out);
    }
    wait_for(240, "every download to complete", || {
        let list = s.json(&["list"]);
        let ds = list["downloads"].as_array()?.clone();
        let done = ds
            .iter()
            .filter(|d| d["state"]["state"] == "complete")
            .count();
        (ds.len() >= 3 && done == ds.len()).then_some(())
    });

    // No socket left unbound; each kind of S's sockets left from A.
    let expected = [
        ("the ed2k server login", D, INDEX_PORT, false),
        ("an ed2k peer dial", C, P_ED2K, false),
        (
            "a Gnutella neighbour dial and HTTP download",
            C,
            p_gnutella,
            false,
        ),
        (
            "Torznab, the .torrent URL and the HTTP tracker",
            E,
            HTTP_PORT,
            false,
        ),
        ("the UDP tracker", E, UDP_TRACKER_PORT, true),
        ("a BitTorrent peer dial", C, p_bt, false),
        ("the DHT", E, DHT_PORT, true),
    ];
    let seen = |packets: &[Packet], (_, dst, port, udp): &(&str, &str, u16, bool)| {
        packets
            .iter()
            .any(|p| p.src == A && p.dst == *dst && p.port == *port && p.udp == *udp)
    };
    // tcpdump prints a packet a moment after it passes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let packets = loop {
        let packets = capture.packets();
        if expected.iter().all(|e| seen(&packets, e)) || std::time::Instant::now() > deadline {
            break packets;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let leaks: Vec<_> = packets.iter().filter(|p| p.src == p.dst).collect();
    assert!(leaks.is_empty(), "sockets that were not bound: {leaks:?}");
    for e in &expected {
        let (what, dst, port, _) = e;
        assert!(
            seen(&packets, e),
            "nothing from {A} to {dst}:{port} ({what}) in {packets:?}"
        );
    }
    println!(
        "{} connections and datagrams to peers, none unbound",
        packets.len()
    );
    drop(s);
    drop(p);
}
