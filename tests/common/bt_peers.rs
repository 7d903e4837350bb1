//! Real third-party BitTorrent peers for tests, all on 127.0.0.1: opentracker,
//! transmission-daemon, qbittorrent-nox and aria2c (Debian packages), plus a
//! torrent maker (`transmission-create`), an info-hash reader and a tiny
//! static tracker that hands out a fixed peer list.
//!
//! Every program runs as an RAII guard: its own temp dir, ports picked free
//! on 127.0.0.1, a log file, readiness waits with clear timeouts, and a kill
//! plus wait on drop. When a test panics, each guard prints the tail of its
//! logs as it drops, so a failure shows what the peers said.
//!
//! Programs are missing? [`require_bt_peers!`] skips the test loudly, or
//! fails it when `SWARMUX_REQUIRE_PEERS` is set (as in CI).
//!
//! Behaviour of the real programs on loopback (see also
//! /work/shared/reference/real-peers.md) is noted beside the code that
//! handles it.

use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Every program the BitTorrent interop tests drive.
pub const BT_PEER_PROGRAMS: &[&str] = &[
    "opentracker",
    "transmission-create",
    "transmission-daemon",
    "aria2c",
    "qbittorrent-nox",
];

/// The loopback address every peer here binds to.
pub const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Why the BitTorrent peers cannot run here (the first missing program), if
/// they cannot.
pub fn missing_bt_peers(programs: &[&str]) -> Option<String> {
    programs
        .iter()
        .find(|p| super::netns::which(p).is_none())
        .map(|p| {
            format!(
                "`{p}` is not installed (apt-get install opentracker transmission-cli \
                 transmission-daemon aria2 qbittorrent-nox)"
            )
        })
}

/// Skips the calling test with a loud notice when a BitTorrent peer program
/// is missing, or fails it when `SWARMUX_REQUIRE_PEERS` is set (as in CI).
/// Without arguments it checks all of [`BT_PEER_PROGRAMS`]; or pass a slice
/// of program names.
#[macro_export]
macro_rules! require_bt_peers {
    () => {
        $crate::require_bt_peers!($crate::common::bt_peers::BT_PEER_PROGRAMS)
    };
    ($programs:expr) => {
        if let Some(why) = $crate::common::bt_peers::missing_bt_peers($programs) {
            if std::env::var_os("SWARMUX_REQUIRE_PEERS").is_some() {
                panic!("SWARMUX_REQUIRE_PEERS is set but {why}");
            }
            // Straight to stderr, past the test harness's output capture.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED: {why}; this test needs the real BitTorrent peers {:?} !!!\n",
                $programs
            );
            return;
        }
    };
}

// ---------------------------------------------------------------------------
// Ports, processes, logs

/// Ports handed out by [`free_port`] in this test process, so two guards
/// started at once by parallel tests never get the same one.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A port free for both TCP and UDP on 127.0.0.1 (trackers and libtorrent
/// use both on one number), never handed out before in this process.
pub fn free_port() -> u16 {
    for _ in 0..200 {
        let tcp = TcpListener::bind((LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind((LOCALHOST, port)).is_err() {
            continue;
        }
        let mut set = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if set.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("no free TCP+UDP port on 127.0.0.1 after 200 tries");
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from((LOCALHOST, port)), Duration::from_secs(1)).is_ok()
}

/// The last `max` bytes of a log file, cut at a line start.
fn tail(path: &Path, max: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    let s = String::from_utf8_lossy(&text[start..]).into_owned();
    match (start > 0, s.find('\n')) {
        (true, Some(i)) => s[i + 1..].to_string(),
        _ => s,
    }
}

/// A spawned program: killed (SIGKILL) and reaped on drop; its logs are
/// printed when the drop happens during a panic.
struct Daemon {
    name: String,
    child: RefCell<Child>,
    logs: Vec<PathBuf>,
}

impl Daemon {
    /// Spawns `cmd` with stdout and stderr appended to `log`; `extra_logs`
    /// are other files the program writes, printed with it on failure.
    fn spawn(name: &str, mut cmd: Command, log: &Path, extra_logs: Vec<PathBuf>) -> Daemon {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup log fd"))
            .stderr(out);
        // The child dies with the test thread that started it, even when the
        // test process is killed before the guards drop. (Cleared by
        // opentracker itself when it drops root, so it relies on Drop.)
        // SAFETY: prctl is async-signal-safe and touches no shared state.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e} (is it installed?)"));
        let mut logs = vec![log.to_path_buf()];
        logs.extend(extra_logs);
        Daemon {
            name: name.to_string(),
            child: RefCell::new(child),
            logs,
        }
    }

    fn pid(&self) -> u32 {
        self.child.borrow().id()
    }

    /// The exit status, once the program has exited.
    fn exited(&self) -> Option<ExitStatus> {
        self.child.borrow_mut().try_wait().ok().flatten()
    }

    /// Polls `f` every 100 ms until it returns `Some`; panics after
    /// `timeout`, or at once when the program exits meanwhile.
    fn wait_until<T>(&self, timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = f() {
                return v;
            }
            if let Some(status) = self.exited() {
                panic!("{} exited ({status}) while waiting for {what}", self.name);
            }
            assert!(
                Instant::now() < deadline,
                "{}: timed out after {:.1}s waiting for {what}",
                self.name,
                timeout.as_secs_f64()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The tails of its logs, for a failure message.
    fn dump(&self) -> String {
        let mut s = String::new();
        for log in &self.logs {
            s += &format!(
                "----- {} log {} (tail) -----\n{}\n",
                self.name,
                log.display(),
                tail(log, 6000)
            );
        }
        s
    }

    fn kill(&self) {
        let mut child = self.child.borrow_mut();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("{}", self.dump());
        }
    }
}

/// A temp dir readable by other users (opentracker drops root to `nobody`).
/// With `SWARMUX_KEEP_PEER_DIRS` set, it stays on disk after the test (with
/// the peers' logs and configs) and its path is printed.
fn temp_dir(prefix: &str) -> TempDir {
    let keep = std::env::var_os("SWARMUX_KEEP_PEER_DIRS").is_some();
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .disable_cleanup(keep)
        .tempdir()
        .expect("temp dir");
    if keep {
        eprintln!("[bt_peers] keeping {}", dir.path().display());
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    dir
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|e| panic!("absolute {}: {e}", p.display()))
}

// ---------------------------------------------------------------------------
// A tiny HTTP/1.1 client over std (qBittorrent's WebUI API, transmission's
// RPC, opentracker's announce and scrape), 127.0.0.1 only.

/// A parsed HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP request to 127.0.0.1:`port` with `Connection: close`.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut s = TcpStream::connect((LOCALHOST, port))?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    s.set_write_timeout(Some(Duration::from_secs(15)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    // Quirk: qBittorrent's WebUI ignores `Connection: close` and keeps the
    // connection open for its 7 s keep-alive, so the response ends where its
    // Content-Length (or last chunk) says, not at EOF.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        if response_complete(&raw) {
            break;
        }
        match s.read(&mut buf)? {
            0 => break,
            n => raw.extend_from_slice(&buf[..n]),
        }
    }
    parse_http_response(&raw)
        .ok_or_else(|| std::io::Error::other(format!("bad HTTP response from port {port}")))
}

/// Whether `raw` holds a whole response (by Content-Length or chunking;
/// without either the body runs to EOF).
fn response_complete(raw: &[u8]) -> bool {
    let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let body = &raw[head_end + 4..];
    if let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return body.len() >= len;
    }
    if head.contains("transfer-encoding: chunked") {
        return dechunk(body).is_some();
    }
    false
}

fn parse_http_response(raw: &[u8]) -> Option<HttpResponse> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut resp = HttpResponse {
        status,
        headers,
        body: raw[head_end + 4..].to_vec(),
    };
    if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        resp.body = dechunk(&resp.body)?;
    }
    Some(resp)
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

/// Percent-encodes every byte that is not unreserved (RFC 3986). opentracker
/// does not decode `+`, and binary info-hashes must never pass through UTF-8.
pub fn url_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            s.push(b as char);
        } else {
            s += &format!("%{b:02X}");
        }
    }
    s
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v.as_bytes())))
        .collect::<Vec<_>>()
        .join("&")
}

/// A multipart/form-data body: text fields and one file; returns the
/// content type and the body.
fn multipart(fields: &[(&str, &str)], file: (&str, &str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "----swarmux-test-boundary-7d1f0a";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    let (name, filename, data) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
             filename=\"{filename}\"\r\nContent-Type: application/x-bittorrent\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

// ---------------------------------------------------------------------------
// Bencode (just enough for .torrent files and tracker replies)

/// A decoded bencode value; dictionaries keep their key order.
#[derive(Clone, Debug, PartialEq)]
pub enum Bencode {
    /// `i...e`
    Int(i64),
    /// `len:bytes`
    Bytes(Vec<u8>),
    /// `l...e`
    List(Vec<Bencode>),
    /// `d...e`, keys in file order.
    Dict(Vec<(Vec<u8>, Bencode)>),
}

impl Bencode {
    /// Decodes a whole buffer (trailing bytes are an error).
    pub fn decode(b: &[u8]) -> Option<Bencode> {
        match decode_at(b, 0, 0)? {
            (v, end) if end == b.len() => Some(v),
            _ => None,
        }
    }

    /// A dictionary entry.
    pub fn get(&self, key: &str) -> Option<&Bencode> {
        match self {
            Bencode::Dict(d) => d.iter().find(|(k, _)| k == key.as_bytes()).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Bencode::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Bencode::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Decodes the value starting at `pos`; returns it and the index just past it.
fn decode_at(b: &[u8], pos: usize, depth: usize) -> Option<(Bencode, usize)> {
    if depth > 64 {
        return None;
    }
    match *b.get(pos)? {
        b'i' => {
            let end = pos + 1 + b[pos + 1..].iter().position(|&c| c == b'e')?;
            let n = std::str::from_utf8(&b[pos + 1..end]).ok()?.parse().ok()?;
            Some((Bencode::Int(n), end + 1))
        }
        b'l' => {
            let (mut items, mut p) = (Vec::new(), pos + 1);
            while *b.get(p)? != b'e' {
                let (v, next) = decode_at(b, p, depth + 1)?;
                items.push(v);
                p = next;
            }
            Some((Bencode::List(items), p + 1))
        }
        b'd' => {
            let (mut items, mut p) = (Vec::new(), pos + 1);
            while *b.get(p)? != b'e' {
                let (Bencode::Bytes(k), next) = decode_at(b, p, depth + 1)? else {
                    return None;
                };
                let (v, next) = decode_at(b, next, depth + 1)?;
                items.push((k, v));
                p = next;
            }
            Some((Bencode::Dict(items), p + 1))
        }
        b'0'..=b'9' => {
            let colon = pos + b[pos..].iter().position(|&c| c == b':')?;
            let len: usize = std::str::from_utf8(&b[pos..colon]).ok()?.parse().ok()?;
            let data = b.get(colon + 1..colon.checked_add(1 + len)?)?;
            Some((Bencode::Bytes(data.to_vec()), colon + 1 + len))
        }
        _ => None,
    }
}

/// The byte span of the top-level `info` value of a .torrent file.
pub fn info_span(torrent: &[u8]) -> Option<std::ops::Range<usize>> {
    if torrent.first() != Some(&b'd') {
        return None;
    }
    let mut p = 1;
    while *torrent.get(p)? != b'e' {
        let (key, next) = decode_at(torrent, p, 0)?;
        let (_, end) = decode_at(torrent, next, 0)?;
        if key == Bencode::Bytes(b"info".to_vec()) {
            return Some(next..end);
        }
        p = end;
    }
    None
}

/// The info-hash of a .torrent file: SHA-1 of the exact bytes of its `info`
/// value (never of a re-encoding).
pub fn info_hash(torrent: &[u8]) -> [u8; 20] {
    let span = info_span(torrent).expect("a .torrent with an info dictionary");
    let digest = Sha1::digest(&torrent[span]);
    let mut h = [0u8; 20];
    h.copy_from_slice(&digest);
    h
}

/// Lowercase hex, as qBittorrent and transmission print info-hashes.
pub fn hex40(hash: &[u8; 20]) -> String {
    hex::encode(hash)
}

/// A magnet link: hex `btih`, optional `dn`, `tr` for each tracker and
/// `x.pe` for each peer address.
pub fn magnet(
    hash: &[u8; 20],
    name: Option<&str>,
    trackers: &[String],
    peers: &[SocketAddr],
) -> String {
    let mut m = format!("magnet:?xt=urn:btih:{}", hex40(hash));
    if let Some(n) = name {
        m += &format!("&dn={}", url_encode(n.as_bytes()));
    }
    for t in trackers {
        m += &format!("&tr={}", url_encode(t.as_bytes()));
    }
    for p in peers {
        m += &format!("&x.pe={p}");
    }
    m
}

// ---------------------------------------------------------------------------
// Torrent maker

/// Makes a .torrent for `data` (a file or a directory) with `transmission-create`
/// (default piece size), written beside it as `<name>.torrent`; returns its
/// path and info-hash. Each announce URL becomes a tier of its own.
pub fn make_torrent(data: &Path, announce: &[String]) -> (PathBuf, [u8; 20]) {
    make_torrent_with_piece_size(data, announce, None)
}

/// Like [`make_torrent`], with a piece size in KiB (a power of two, e.g. 16
/// for many small pieces) instead of transmission's default.
pub fn make_torrent_with_piece_size(
    data: &Path,
    announce: &[String],
    piece_kib: Option<u32>,
) -> (PathBuf, [u8; 20]) {
    let data = absolute(data);
    let name = data.file_name().expect("data has a file name");
    let out = data.with_file_name(format!("{}.torrent", name.to_string_lossy()));
    let _ = std::fs::remove_file(&out);
    let mut cmd = Command::new("transmission-create");
    cmd.arg("-o").arg(&out);
    for a in announce {
        cmd.arg("-t").arg(a);
    }
    if let Some(k) = piece_kib {
        cmd.arg("-s").arg(k.to_string());
    }
    cmd.arg(&data);
    let res = cmd.output().expect("run transmission-create");
    assert!(
        res.status.success() && out.is_file(),
        "transmission-create failed: {}{}",
        String::from_utf8_lossy(&res.stdout),
        String::from_utf8_lossy(&res.stderr)
    );
    let bytes = std::fs::read(&out).expect("read .torrent");
    (out, info_hash(&bytes))
}

// ---------------------------------------------------------------------------
// opentracker

/// opentracker on 127.0.0.1, HTTP and UDP on one port, whitelist-only.
///
/// Debian's build only tracks info-hashes on its whitelist ([`Opentracker::whitelist`]).
/// As root it refuses to keep root: it chroots to its dir and becomes
/// `nobody`, so the whitelist path is given inside the chroot (`/whitelist.txt`)
/// and the dir must be world-readable. As another user it cannot chroot and
/// just changes into the dir (then the path must be absolute). It keeps stale
/// peers for the whole announce interval (~30 min): [`Opentracker::restart`]
/// between scenarios. Its peer list includes the announcing peer itself
/// (same IP, its own port): aria2c dials itself once and drops it; a client
/// under test must cope too.
pub struct Opentracker {
    // First, so it is killed (and its logs printed) before its dir goes.
    proc: Daemon,
    dir: TempDir,
    port: u16,
    hashes: Vec<[u8; 20]>,
    startup: Duration,
}

impl Opentracker {
    /// Starts opentracker on a free port and waits until it accepts connections.
    pub fn start() -> Opentracker {
        let dir = temp_dir("swx-opentracker-");
        let port = free_port();
        let started = Instant::now();
        let proc = Self::spawn(dir.path(), port, &[]);
        Opentracker {
            dir,
            port,
            hashes: Vec::new(),
            proc,
            startup: started.elapsed(),
        }
    }

    fn spawn(dir: &Path, port: u16, hashes: &[[u8; 20]]) -> Daemon {
        Self::write_whitelist(dir, hashes);
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let mut cmd = Command::new("opentracker");
        cmd.current_dir(dir)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-P",
                &port.to_string(),
            ])
            .arg("-d")
            .arg(dir);
        if root {
            cmd.args(["-u", "nobody", "-w", "/whitelist.txt"]);
        } else {
            cmd.arg("-w").arg(dir.join("whitelist.txt"));
        }
        let proc = Daemon::spawn("opentracker", cmd, &dir.join("opentracker.log"), vec![]);
        proc.wait_until(
            Duration::from_secs(10),
            "its port to accept connections",
            || listening(port).then_some(()),
        );
        proc
    }

    /// Written whole then renamed, so a reload never reads half a file.
    fn write_whitelist(dir: &Path, hashes: &[[u8; 20]]) {
        let text: String = hashes.iter().map(|h| format!("{}\n", hex40(h))).collect();
        let tmp = dir.join("whitelist.txt.new");
        std::fs::write(&tmp, text).expect("write whitelist");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::rename(&tmp, dir.join("whitelist.txt")).expect("rename whitelist");
    }

    /// The port of both its HTTP and UDP trackers.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/announce`.
    pub fn http_announce(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }

    /// `udp://127.0.0.1:PORT/announce` (BEP 15; aria2, libtorrent and
    /// transmission ignore the path, and all accept it).
    pub fn udp_announce(&self) -> String {
        format!("udp://127.0.0.1:{}/announce", self.port)
    }

    /// How long the last start took until the port accepted connections.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Adds an info-hash to the whitelist, reloads it (SIGHUP) and waits
    /// until the tracker accepts announces for it.
    pub fn whitelist(&mut self, info_hash: [u8; 20]) {
        if !self.hashes.contains(&info_hash) {
            self.hashes.push(info_hash);
        }
        Self::write_whitelist(self.dir.path(), &self.hashes);
        self.reload_and_check(info_hash);
    }

    fn reload_and_check(&self, info_hash: [u8; 20]) {
        // The reload runs in a thread of its own, some time after the signal;
        // re-send it now and then in case the first came too early.
        let mut last_hup: Option<Instant> = None;
        self.proc.wait_until(
            Duration::from_secs(10),
            "the whitelist to take effect",
            || {
                if last_hup.is_none_or(|t| t.elapsed() > Duration::from_secs(2)) {
                    // SAFETY: kill with a valid pid and signal number.
                    unsafe { libc::kill(self.proc.pid() as i32, libc::SIGHUP) };
                    last_hup = Some(Instant::now());
                    std::thread::sleep(Duration::from_millis(50));
                }
                self.accepts(&info_hash).then_some(())
            },
        );
    }

    /// Whether an announce for `info_hash` is accepted. Sends a `stopped`
    /// event for a peer that never started, which leaves no trace.
    fn accepts(&self, info_hash: &[u8; 20]) -> bool {
        let path = format!(
            "/announce?info_hash={}&peer_id={}&port=1&uploaded=0&downloaded=0&left=0\
             &compact=1&event=stopped",
            url_encode(info_hash),
            url_encode(b"-SWXTEST-whitelist00")
        );
        match http(self.port, "GET", &path, &[], &[]) {
            Ok(r) => {
                r.status == 200
                    && Bencode::decode(&r.body).is_some_and(|v| v.get("failure reason").is_none())
            }
            Err(_) => false,
        }
    }

    /// Seeders and leechers the tracker knows for `info_hash` (HTTP scrape).
    pub fn scrape(&self, info_hash: &[u8; 20]) -> (u64, u64) {
        let path = format!("/scrape?info_hash={}", url_encode(info_hash));
        let r = http(self.port, "GET", &path, &[], &[]).expect("scrape opentracker");
        let v = Bencode::decode(&r.body).expect("bencoded scrape reply");
        let Some(Bencode::Dict(files)) = v.get("files") else {
            return (0, 0);
        };
        files
            .iter()
            .find(|(k, _)| k.as_slice() == info_hash)
            .map(|(_, f)| {
                let n = |k| f.get(k).and_then(Bencode::as_int).unwrap_or(0).max(0) as u64;
                (n("complete"), n("incomplete"))
            })
            .unwrap_or((0, 0))
    }

    /// Waits until the tracker knows at least `seeders` seeders and
    /// `leechers` leechers for `info_hash`.
    pub fn wait_peers(&self, info_hash: &[u8; 20], seeders: u64, leechers: u64, timeout: Duration) {
        self.proc.wait_until(
            timeout,
            &format!("{seeders} seeder(s) and {leechers} leecher(s) on the tracker"),
            || {
                let (s, l) = self.scrape(info_hash);
                (s >= seeders && l >= leechers).then_some(())
            },
        );
    }

    /// Kills the tracker and starts it again on the same port with the same
    /// whitelist, forgetting every peer.
    pub fn restart(&mut self) {
        self.proc.kill();
        let started = Instant::now();
        self.proc = Self::spawn(self.dir.path(), self.port, &self.hashes);
        // Debian's build does not always read the whitelist at start (its
        // first load happens before the chroot): reload and check.
        if let Some(h) = self.hashes.first().copied() {
            self.reload_and_check(h);
        }
        self.startup = started.elapsed();
    }
}

// ---------------------------------------------------------------------------
// A static tracker

/// A minimal HTTP tracker on 127.0.0.1 that answers every announce with the
/// same compact peer list (interval 5 s) — a way to hand peers to a client
/// that has no option for them (aria2c), or to a torrent without a tracker.
pub struct StaticTracker {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StaticTracker {
    /// Serves `peers` (IPv4 only) until dropped.
    pub fn start(peers: &[SocketAddr]) -> StaticTracker {
        let listener = TcpListener::bind((LOCALHOST, 0)).expect("bind static tracker");
        let port = listener.local_addr().unwrap().port();
        let mut compact = Vec::new();
        for p in peers {
            let SocketAddr::V4(v4) = p else {
                panic!("StaticTracker serves IPv4 peers only, not {p}");
            };
            compact.extend_from_slice(&v4.ip().octets());
            compact.extend_from_slice(&v4.port().to_be_bytes());
        }
        let mut reply = format!("d8:intervali5e5:peers{}:", compact.len()).into_bytes();
        reply.extend_from_slice(&compact);
        reply.push(b'e');
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 4096];
                        let mut got = Vec::new();
                        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                            match s.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => got.extend_from_slice(&buf[..n]),
                            }
                        }
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n",
                            reply.len()
                        );
                        let _ = s.write_all(head.as_bytes());
                        let _ = s.write_all(&reply);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        StaticTracker {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/announce`.
    pub fn announce_url(&self) -> String {
        format!("http://127.0.0.1:{}/announce", self.port)
    }
}

impl Drop for StaticTracker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// transmission-daemon

/// transmission-daemon 3.00 seeding one torrent whose data is already in
/// place, with its own config dir, RPC and peer ports on 127.0.0.1, and
/// DHT, LPD, PEX, uTP and port mapping off.
///
/// On loopback it serves only ~2–3 MB/s, waits up to ~10 s before its first
/// unchoke (a 4 MB file took aria2c 10.3 s, most of it waiting), tracks peers by IP alone (one 127.0.0.1 peer at a time) and never
/// dials peers in 127.0.0.0/8 itself: use it as a seed that others connect
/// to, with small files.
pub struct TransmissionSeed {
    // First, so it is killed (and its logs printed) before its dir goes.
    proc: Daemon,
    _dir: TempDir,
    rpc_port: u16,
    peer_port: u16,
    session_id: RefCell<String>,
    hash: [u8; 20],
    startup: Duration,
}

impl TransmissionSeed {
    /// Starts the daemon and adds `torrent` with its data under `data_dir`;
    /// transmission 3.00 verifies existing data on add by itself (observed:
    /// "Queued for verification" right after torrent-add). Call
    /// [`TransmissionSeed::wait_seeding`] next.
    pub fn start(torrent: &Path, data_dir: &Path) -> TransmissionSeed {
        let dir = temp_dir("swx-transmission-");
        let (rpc_port, peer_port) = (free_port(), free_port());
        let settings = json!({
            "bind-address-ipv4": "127.0.0.1",
            "bind-address-ipv6": "::1",
            "rpc-bind-address": "127.0.0.1",
            "rpc-port": rpc_port,
            "rpc-authentication-required": false,
            "rpc-whitelist-enabled": true,
            "rpc-whitelist": "127.0.0.1",
            "rpc-host-whitelist-enabled": false,
            "peer-port": peer_port,
            "peer-port-random-on-start": false,
            "port-forwarding-enabled": false,
            "dht-enabled": false,
            "lpd-enabled": false,
            "pex-enabled": false,
            "utp-enabled": false,
            // 0: plaintext preferred, encrypted accepted.
            "encryption": 0,
            "blocklist-enabled": false,
            "download-dir": absolute(data_dir),
            "incomplete-dir-enabled": false,
            "watch-dir-enabled": false,
            "download-queue-enabled": false,
            "seed-queue-enabled": false,
            "queue-stalled-enabled": false,
            "ratio-limit-enabled": false,
            "idle-seeding-limit-enabled": false,
            "speed-limit-up-enabled": false,
            "speed-limit-down-enabled": false,
            "alt-speed-enabled": false,
            "start-added-torrents": true,
            "trash-original-torrent-files": false,
            "rename-partial-files": false,
            "peer-limit-global": 200,
            "peer-limit-per-torrent": 50,
        });
        std::fs::write(
            dir.path().join("settings.json"),
            serde_json::to_vec_pretty(&settings).unwrap(),
        )
        .expect("write settings.json");
        let started = Instant::now();
        let mut cmd = Command::new("transmission-daemon");
        cmd.arg("-f")
            .arg("-g")
            .arg(dir.path())
            .arg("--log-info")
            .env("HOME", dir.path())
            .current_dir(dir.path());
        let proc = Daemon::spawn(
            "transmission-daemon",
            cmd,
            &dir.path().join("transmission.log"),
            vec![],
        );
        let tr = TransmissionSeed {
            rpc_port,
            peer_port,
            session_id: RefCell::new(String::new()),
            hash: info_hash(&std::fs::read(torrent).expect("read .torrent")),
            proc,
            startup: Duration::ZERO,
            _dir: dir,
        };
        tr.proc
            .wait_until(Duration::from_secs(15), "its RPC port", || {
                tr.try_rpc("session-get", json!({})).ok()
            });
        let startup = started.elapsed();
        let added = tr.rpc(
            "torrent-add",
            json!({
                "filename": absolute(torrent),
                "download-dir": absolute(data_dir),
                "paused": false,
            }),
        );
        assert!(
            added.get("torrent-added").is_some() || added.get("torrent-duplicate").is_some(),
            "transmission did not add the torrent: {added}"
        );
        TransmissionSeed { startup, ..tr }
    }

    /// Calls a transmission RPC method, returning its `arguments`; panics on
    /// an error result.
    pub fn rpc(&self, method: &str, arguments: Value) -> Value {
        self.try_rpc(method, arguments.clone())
            .unwrap_or_else(|e| panic!("transmission RPC {method} {arguments}: {e}"))
    }

    fn try_rpc(&self, method: &str, arguments: Value) -> Result<Value, String> {
        let body =
            serde_json::to_vec(&json!({ "method": method, "arguments": arguments })).unwrap();
        // The first call, and any after the session id changes, gets a 409
        // with the id to send back in X-Transmission-Session-Id.
        for _ in 0..2 {
            let sid = self.session_id.borrow().clone();
            let r = http(
                self.rpc_port,
                "POST",
                "/transmission/rpc",
                &[
                    ("X-Transmission-Session-Id", &sid),
                    ("Content-Type", "application/json"),
                ],
                &body,
            )
            .map_err(|e| e.to_string())?;
            if r.status == 409 {
                let id = r
                    .header("X-Transmission-Session-Id")
                    .ok_or("409 without session id")?;
                *self.session_id.borrow_mut() = id.to_string();
                continue;
            }
            let v: Value = serde_json::from_slice(&r.body)
                .map_err(|e| format!("HTTP {}: {e}: {}", r.status, r.text()))?;
            if v["result"] != "success" {
                return Err(format!("result {}", v["result"]));
            }
            return Ok(v["arguments"].clone());
        }
        Err("session id refused twice".into())
    }

    /// The torrent's fields from `torrent-get`.
    pub fn torrent(&self, fields: &[&str]) -> Value {
        let args = self.rpc(
            "torrent-get",
            json!({ "ids": [hex40(&self.hash)], "fields": fields }),
        );
        args["torrents"][0].clone()
    }

    /// Waits until the data is verified complete, the torrent is seeding and
    /// (if it has trackers) one announce has succeeded, so downloaders that
    /// announce next find it.
    pub fn wait_seeding(&self, timeout: Duration) {
        let mut last = Value::Null;
        self.proc.wait_until(timeout, "the torrent to seed", || {
            last = self.torrent(&[
                "status",
                "percentDone",
                "error",
                "errorString",
                "trackerStats",
            ]);
            // status 6 = seeding.
            let seeding = last["status"] == 6 && last["percentDone"].as_f64() == Some(1.0);
            let stats = last["trackerStats"].as_array().cloned().unwrap_or_default();
            let announced =
                stats.is_empty() || stats.iter().any(|t| t["lastAnnounceSucceeded"] == true);
            if last["error"].as_i64().unwrap_or(0) != 0 && !seeding {
                eprintln!("transmission reports: {}", last["errorString"]);
            }
            (seeding && announced).then_some(())
        });
    }

    /// 127.0.0.1 and its peer port.
    pub fn peer_addr(&self) -> SocketAddr {
        SocketAddr::from((LOCALHOST, self.peer_port))
    }

    /// Bytes uploaded for this torrent so far.
    pub fn uploaded(&self) -> u64 {
        self.torrent(&["uploadedEver"])["uploadedEver"]
            .as_u64()
            .unwrap_or(0)
    }

    /// How long the daemon took until its RPC answered.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }
}

// ---------------------------------------------------------------------------
// qbittorrent-nox

/// qbittorrent-nox 4.5 (libtorrent 2.0) with a fresh profile, driven over its
/// WebUI API on 127.0.0.1 (no login: `WebUI\LocalHostAuth=false`).
///
/// The profile's `qBittorrent.conf` is written before the first start (so
/// nothing is ever tried on the network): legal notice accepted; DHT, LSD,
/// PeX, UPnP/NAT-PMP (`Network\PortForwardingEnabled`) and peer-country
/// lookups (a GeoIP download) off; listening on 127.0.0.1 only; TCP only (no
/// uTP); `Session\MultiConnectionsPerIp=true` (libtorrent's
/// `allow_multiple_connections_per_ip`, needed when every peer is
/// 127.0.0.1); SSRF mitigation off (it restricts trackers on localhost);
/// queueing, ratio and speed limits off.
pub struct QbitNox {
    // First, so it is killed (and its logs printed) before its dir goes.
    proc: Daemon,
    profile: TempDir,
    webui_port: u16,
    peer_port: u16,
    startup: Duration,
}

/// qBittorrent torrent states that mean "complete and seeding".
const QBIT_SEEDING: &[&str] = &["uploading", "stalledUP", "forcedUP", "queuedUP", "pausedUP"];

impl QbitNox {
    /// Starts qbittorrent-nox and waits until its WebUI answers.
    pub fn start() -> QbitNox {
        let profile = temp_dir("swx-qbittorrent-");
        let (webui_port, peer_port) = (free_port(), free_port());
        let config = profile.path().join("qBittorrent/config");
        std::fs::create_dir_all(&config).unwrap();
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let conf = format!(
            "[LegalNotice]\nAccepted=true\n\n\
             [BitTorrent]\n\
             Session\\DHTEnabled=false\n\
             Session\\LSDEnabled=false\n\
             Session\\PeXEnabled=false\n\
             Session\\Port={peer_port}\n\
             Session\\InterfaceAddress=127.0.0.1\n\
             Session\\BTProtocol=TCP\n\
             Session\\MultiConnectionsPerIp=true\n\
             Session\\SSRFMitigation=false\n\
             Session\\Encryption=0\n\
             Session\\AnonymousModeEnabled=false\n\
             Session\\QueueingSystemEnabled=false\n\
             Session\\GlobalMaxRatio=-1\n\
             Session\\GlobalMaxSeedingMinutes=-1\n\
             Session\\GlobalDLSpeedLimit=0\n\
             Session\\GlobalUPSpeedLimit=0\n\
             Session\\DefaultSavePath={}\n\n\
             [Network]\nPortForwardingEnabled=false\n\n\
             [Preferences]\n\
             Connection\\ResolvePeerCountries=false\n\
             WebUI\\Port={webui_port}\n\
             WebUI\\Address=127.0.0.1\n\
             WebUI\\LocalHostAuth=false\n\
             WebUI\\CSRFProtection=false\n\
             WebUI\\HostHeaderValidation=false\n\
             WebUI\\UseUPnP=false\n",
            downloads.display()
        );
        std::fs::write(config.join("qBittorrent.conf"), conf).expect("write qBittorrent.conf");
        let started = Instant::now();
        let mut cmd = Command::new("qbittorrent-nox");
        cmd.arg(format!("--profile={}", profile.path().display()))
            .env("HOME", profile.path())
            .env("XDG_CONFIG_HOME", profile.path())
            .env("XDG_DATA_HOME", profile.path())
            .env("XDG_CACHE_HOME", profile.path())
            .current_dir(profile.path());
        let proc = Daemon::spawn(
            "qbittorrent-nox",
            cmd,
            &profile.path().join("qbittorrent-nox.out"),
            vec![profile.path().join("qBittorrent/data/logs/qbittorrent.log")],
        );
        let qb = QbitNox {
            profile,
            webui_port,
            peer_port,
            proc,
            startup: Duration::ZERO,
        };
        qb.proc
            .wait_until(Duration::from_secs(20), "its WebUI", || {
                http(webui_port, "GET", "/api/v2/app/version", &[], &[])
                    .ok()
                    .filter(|r| r.status == 200)
            });
        qb.proc
            .wait_until(Duration::from_secs(10), "its peer port", || {
                listening(peer_port).then_some(())
            });
        QbitNox {
            startup: started.elapsed(),
            ..qb
        }
    }

    /// GET on the WebUI API (`path` like `/api/v2/torrents/info?...`).
    pub fn api_get(&self, path: &str) -> HttpResponse {
        let r = http(self.webui_port, "GET", path, &[], &[])
            .unwrap_or_else(|e| panic!("qBittorrent GET {path}: {e}"));
        assert_eq!(r.status, 200, "qBittorrent GET {path}: {}", r.text());
        r
    }

    /// POST of an urlencoded form on the WebUI API.
    pub fn api_post(&self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let body = form(fields);
        let r = http(
            self.webui_port,
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .unwrap_or_else(|e| panic!("qBittorrent POST {path}: {e}"));
        assert_eq!(
            r.status,
            200,
            "qBittorrent POST {path} {fields:?}: {}",
            r.text()
        );
        r
    }

    /// Adds a .torrent file saving into `save_path`. With `seed_existing` the
    /// data is already there and known good: the hash check is skipped so it
    /// seeds at once (like aria2's `--bt-seed-unverified`). Without it,
    /// libtorrent checks whatever is in `save_path` and downloads the rest.
    pub fn add_torrent_file(&self, torrent: &Path, save_path: &Path, seed_existing: bool) {
        let bytes = std::fs::read(torrent).expect("read .torrent");
        let save = absolute(save_path);
        let save = save.to_str().expect("UTF-8 save path");
        let skip = if seed_existing { "true" } else { "false" };
        let (ctype, body) = multipart(
            &[
                ("savepath", save),
                ("skip_checking", skip),
                ("paused", "false"),
                ("autoTMM", "false"),
            ],
            ("torrents", "file.torrent", &bytes),
        );
        let r = http(
            self.webui_port,
            "POST",
            "/api/v2/torrents/add",
            &[("Content-Type", &ctype)],
            &body,
        )
        .expect("qBittorrent torrents/add");
        assert!(
            r.status == 200 && r.text().trim() == "Ok.",
            "qBittorrent refused the torrent: HTTP {} {}",
            r.status,
            r.text()
        );
        self.wait_listed(&info_hash(&bytes), Duration::from_secs(10));
    }

    /// Waits until the torrent shows in `torrents/info` (adding is
    /// asynchronous; a magnet shows before its metadata arrives).
    pub fn wait_listed(&self, hash: &[u8; 20], timeout: Duration) {
        self.proc
            .wait_until(timeout, "the torrent to be listed", || self.info(hash));
    }

    /// Adds a magnet link saving into `save_path`.
    pub fn add_magnet(&self, magnet: &str, save_path: &Path) {
        let save = absolute(save_path);
        let r = self.api_post(
            "/api/v2/torrents/add",
            &[
                ("urls", magnet),
                ("savepath", save.to_str().expect("UTF-8 save path")),
                ("paused", "false"),
                ("autoTMM", "false"),
            ],
        );
        assert_eq!(r.text().trim(), "Ok.", "qBittorrent refused the magnet");
    }

    /// Connects the torrent to these peers (`torrents/addPeers`).
    pub fn add_peers(&self, hash: &[u8; 20], peers: &[SocketAddr]) {
        let list: Vec<String> = peers.iter().map(|p| p.to_string()).collect();
        self.api_post(
            "/api/v2/torrents/addPeers",
            &[("hashes", &hex40(hash)), ("peers", &list.join("|"))],
        );
    }

    /// The torrent's entry of `/api/v2/torrents/info` (progress 0..1, state,
    /// size, dlspeed, upspeed, ...), `None` while it is not listed.
    pub fn info(&self, hash: &[u8; 20]) -> Option<Value> {
        let r = self.api_get(&format!("/api/v2/torrents/info?hashes={}", hex40(hash)));
        let v: Value = serde_json::from_slice(&r.body).ok()?;
        v.as_array()?.first().cloned()
    }

    /// Download progress 0.0..=1.0 (0 while not listed).
    pub fn progress(&self, hash: &[u8; 20]) -> f64 {
        self.info(hash)
            .and_then(|i| i["progress"].as_f64())
            .unwrap_or(0.0)
    }

    /// Waits until the torrent is complete (every piece verified) and in a
    /// seeding state; fails at once on an error state.
    pub fn wait_complete(&self, hash: &[u8; 20], timeout: Duration) {
        self.proc
            .wait_until(timeout, "the torrent to complete", || {
                let i = self.info(hash)?;
                let state = i["state"].as_str().unwrap_or("");
                assert!(
                    state != "error" && state != "missingFiles",
                    "qBittorrent torrent in state {state}: {i}"
                );
                (i["progress"].as_f64() == Some(1.0) && QBIT_SEEDING.contains(&state)).then_some(())
            });
    }

    /// Waits until the torrent is complete and, if it has trackers, one of
    /// them reports "working" (its announce succeeded), so downloaders that
    /// announce next find it.
    pub fn wait_seeding(&self, hash: &[u8; 20], timeout: Duration) {
        let started = Instant::now();
        self.wait_complete(hash, timeout);
        let left = timeout.saturating_sub(started.elapsed());
        self.proc
            .wait_until(left, "a tracker announce to succeed", || {
                let r = self.api_get(&format!("/api/v2/torrents/trackers?hash={}", hex40(hash)));
                let v: Value = serde_json::from_slice(&r.body).ok()?;
                // Pseudo-entries "** [DHT] **" etc. come first; status 2 = working.
                let real: Vec<&Value> = v
                    .as_array()?
                    .iter()
                    .filter(|t| !t["url"].as_str().unwrap_or("").starts_with("** ["))
                    .collect();
                (real.is_empty() || real.iter().any(|t| t["status"] == 2)).then_some(())
            });
    }

    /// The BitTorrent listen port (TCP, on 127.0.0.1).
    pub fn peer_port(&self) -> u16 {
        self.peer_port
    }

    /// 127.0.0.1 and its peer port.
    pub fn peer_addr(&self) -> SocketAddr {
        SocketAddr::from((LOCALHOST, self.peer_port))
    }

    /// Its profile dir (a default save path `downloads/` is inside).
    pub fn profile_dir(&self) -> &Path {
        self.profile.path()
    }

    /// How long the start took until the WebUI and peer port answered.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }
}

// ---------------------------------------------------------------------------
// aria2c

/// One aria2c 1.36 run (a download or a seed), with DHT (but see
/// `source_args` for UDP trackers), LPD and PEX off, plaintext peer
/// connections accepted, IPv6 off, every socket bound to 127.0.0.1,
/// listening on a free port.
///
/// aria2c works in 1 s ticks: about 1 s from start to its first announce,
/// 1 s more before it dials the peers, and ~1–2 s after completion (stopped
/// announce, DHT save) before it exits — ~3–4 s of fixed overhead per run.
/// Its log is at info level (a line per block), handy for debugging but it
/// costs CPU on big transfers.
pub struct Aria2 {
    // First, so it is killed (and its logs printed) before its dir goes.
    proc: Daemon,
    _dir: TempDir,
    port: u16,
    started: Instant,
}

impl Aria2 {
    fn common_args(cmd: &mut Command, dir: &Path, port: u16) {
        cmd.arg(format!("--listen-port={port}"))
            .arg(format!("--dht-listen-port={port}"))
            .args([
                "--enable-dht6=false",
                "--bt-enable-lpd=false",
                "--enable-peer-exchange=false",
                "--bt-require-crypto=false",
                "--bt-min-crypto-level=plain",
                "--disable-ipv6=true",
                // Binds its sockets (the peer listener too) to loopback.
                "--interface=127.0.0.1",
                "--bt-external-ip=127.0.0.1",
                "--max-overall-upload-limit=0",
                "--max-overall-download-limit=0",
                "--file-allocation=none",
                "--allow-overwrite=true",
                "--auto-file-renaming=false",
                "--summary-interval=0",
                "--console-log-level=notice",
                "--log-level=info",
                "--no-conf=true",
                // The tracker's interval is long (opentracker: ~30 min); a
                // peer that starts later is only met on a re-announce.
                "--bt-tracker-interval=5",
            ])
            .arg(format!("--log={}", dir.join("aria2.log").display()))
            .env("HOME", dir)
            .current_dir(dir);
    }

    fn source_args(cmd: &mut Command, dir: &Path, torrent_or_magnet: &str) {
        if has_udp_tracker(torrent_or_magnet) {
            // Quirk: aria2 1.36 sends UDP tracker requests through its DHT
            // socket; with `--enable-dht=false` it fails them with "udp is
            // not supported yet". So the DHT is on here, but isolated: no
            // entry point, a fresh routing table file, and its socket bound
            // to 127.0.0.1 by `--interface` (it logs "No DHT entry point
            // specified" and sends nothing).
            cmd.arg("--enable-dht=true")
                .arg(format!("--dht-file-path={}", dir.join("dht.dat").display()));
        } else {
            cmd.arg("--enable-dht=false");
        }
        if torrent_or_magnet.starts_with("magnet:") {
            // Metadata fetched from peers (BEP 9) is kept in memory only.
            cmd.arg("--bt-save-metadata=false").arg(torrent_or_magnet);
        } else {
            cmd.arg("-T").arg(absolute(Path::new(torrent_or_magnet)));
        }
    }

    fn spawn(name: &str, cmd: Command, dir: TempDir, port: u16) -> Aria2 {
        let started = Instant::now();
        let proc = Daemon::spawn(
            name,
            cmd,
            &dir.path().join("aria2c.out"),
            vec![dir.path().join("aria2.log")],
        );
        proc.wait_until(Duration::from_secs(10), "its peer port", || {
            listening(port).then_some(())
        });
        Aria2 {
            _dir: dir,
            port,
            proc,
            started,
        }
    }

    /// Downloads a .torrent (a path) or a magnet link into `out_dir` and
    /// exits when done (`--seed-time=0`). `extra_peers` are handed to it by a
    /// [`StaticTracker`] added with `--bt-tracker` (aria2 has no option for
    /// peer addresses), kept alive as long as the guard.
    pub fn download(
        torrent_or_magnet: &str,
        out_dir: &Path,
        extra_peers: &[SocketAddr],
    ) -> Aria2Download {
        let dir = temp_dir("swx-aria2-");
        let port = free_port();
        let mut cmd = Command::new("aria2c");
        Self::common_args(&mut cmd, dir.path(), port);
        cmd.arg(format!("--dir={}", absolute(out_dir).display()))
            .arg("--seed-time=0")
            .arg("--check-integrity=true");
        let tracker = (!extra_peers.is_empty()).then(|| StaticTracker::start(extra_peers));
        if let Some(t) = &tracker {
            cmd.arg(format!("--bt-tracker={}", t.announce_url()));
        }
        Self::source_args(&mut cmd, dir.path(), torrent_or_magnet);
        Aria2Download {
            aria2: Self::spawn("aria2c (download)", cmd, dir, port),
            _tracker: tracker,
        }
    }

    /// Seeds a torrent whose data is already under `data_dir`, without
    /// checking it first (`--bt-seed-unverified`), until dropped
    /// (`--seed-ratio=0.0` and no seed time: seed forever).
    pub fn seed(torrent: &Path, data_dir: &Path) -> Aria2 {
        let dir = temp_dir("swx-aria2-");
        let port = free_port();
        let mut cmd = Command::new("aria2c");
        Self::common_args(&mut cmd, dir.path(), port);
        cmd.arg(format!("--dir={}", absolute(data_dir).display()))
            .args([
                "--seed-ratio=0.0",
                "--bt-seed-unverified=true",
                "--check-integrity=false",
            ]);
        Self::source_args(
            &mut cmd,
            dir.path(),
            torrent.to_str().expect("UTF-8 torrent path"),
        );
        Self::spawn("aria2c (seed)", cmd, dir, port)
    }

    /// The BitTorrent listen port (TCP, on 127.0.0.1).
    pub fn peer_port(&self) -> u16 {
        self.port
    }

    /// 127.0.0.1 and its peer port.
    pub fn peer_addr(&self) -> SocketAddr {
        SocketAddr::from((LOCALHOST, self.port))
    }

    /// Waits for aria2c to exit; panics after `timeout`. Exit 0 means every
    /// download completed and verified.
    pub fn wait_exit(&self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.proc.exited() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: did not exit within {:.1}s",
                self.proc.name,
                timeout.as_secs_f64()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Time since the process was spawned.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Its log tails (stdout and `--log` file).
    pub fn logs(&self) -> String {
        self.proc.dump()
    }
}

/// Whether a .torrent path or a magnet link names a `udp://` tracker.
fn has_udp_tracker(torrent_or_magnet: &str) -> bool {
    if torrent_or_magnet.starts_with("magnet:") {
        return torrent_or_magnet.contains("tr=udp%3A") || torrent_or_magnet.contains("tr=udp:");
    }
    let bytes = std::fs::read(torrent_or_magnet)
        .unwrap_or_else(|e| panic!("read {torrent_or_magnet}: {e}"));
    let Some(t) = Bencode::decode(&bytes) else {
        return false;
    };
    let mut urls: Vec<&[u8]> = t
        .get("announce")
        .and_then(Bencode::as_bytes)
        .into_iter()
        .collect();
    if let Some(Bencode::List(tiers)) = t.get("announce-list") {
        for tier in tiers {
            if let Bencode::List(list) = tier {
                urls.extend(list.iter().filter_map(Bencode::as_bytes));
            }
        }
    }
    urls.iter().any(|u| u.starts_with(b"udp://"))
}

/// An aria2c download with the static tracker that hands it extra peers.
pub struct Aria2Download {
    pub aria2: Aria2,
    _tracker: Option<StaticTracker>,
}

impl std::ops::Deref for Aria2Download {
    type Target = Aria2;
    fn deref(&self) -> &Aria2 {
        &self.aria2
    }
}

/// Asserts that two files hold the same bytes (without printing them).
pub fn assert_same_file(a: &Path, b: &Path) {
    let (x, y) = (
        std::fs::read(a).unwrap_or_else(|e| panic!("read {}: {e}", a.display())),
        std::fs::read(b).unwrap_or_else(|e| panic!("read {}: {e}", b.display())),
    );
    assert_eq!(
        x.len(),
        y.len(),
        "{} and {} differ in size",
        a.display(),
        b.display()
    );
    assert!(x == y, "{} and {} differ", a.display(), b.display());
}
