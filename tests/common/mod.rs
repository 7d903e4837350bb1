//! Helpers for end-to-end tests: real `swarmux` processes on 127.0.0.1, each
//! with its own data dir and ports picked by the OS — or, for tests against
//! aMule, inside a network namespace of their own ([`netns`], [`amule`]).

#![allow(dead_code)]

pub mod amule;
pub mod bt_peers;
pub mod netns;

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_swarmux")
}

/// Polls `f` every 100 ms until it returns `Some` or `secs` pass.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads `ports.json` of a data dir once it holds `key`.
pub fn port_of(dir: &Path, key: &str) -> u16 {
    wait_for(
        20,
        &format!("{key} in {}/ports.json", dir.display()),
        || {
            let text = std::fs::read_to_string(dir.join("ports.json")).ok()?;
            let v: Value = serde_json::from_str(&text).ok()?;
            v.get(key)?.as_u64().map(|p| p as u16)
        },
    )
}

/// A process that is killed when dropped, with its stderr in a file.
pub struct Proc {
    pub dir: PathBuf,
    child: Child,
    args: Vec<String>,
    /// Command prefix the process runs under (e.g. `ip netns exec NS`).
    prefix: Vec<String>,
}

impl Proc {
    fn spawn(dir: &Path, args: &[String]) -> Proc {
        Proc::spawn_in(&[], dir, args)
    }

    /// Spawns swarmux under a command prefix such as `ip netns exec NS`
    /// (which execs the program in place, so killing the child kills swarmux).
    fn spawn_in(prefix: &[String], dir: &Path, args: &[String]) -> Proc {
        std::fs::create_dir_all(dir).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("test-stderr.log"))
            .unwrap();
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        let child = cmd
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn swarmux");
        Proc {
            dir: dir.to_path_buf(),
            child,
            args: args.to_vec(),
            prefix: prefix.to_vec(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("test-stderr.log")).unwrap_or_default()
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, as a crash or power loss would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A running `swarmux index-server` on 127.0.0.1.
pub struct IndexServer {
    pub proc: Proc,
    pub port: u16,
}

impl IndexServer {
    pub fn start(dir: &Path) -> IndexServer {
        let proc = Proc::spawn(
            dir,
            &[
                "index-server".into(),
                "--listen".into(),
                "127.0.0.1:0".into(),
            ],
        );
        let port = port_of(dir, "index_server");
        IndexServer { proc, port }
    }

    /// Starts one inside a network namespace, listening on `ip:port`, with
    /// `extra` arguments (e.g. `--message TEXT`).
    pub fn start_in(
        ns: &netns::Netns,
        dir: &Path,
        ip: &str,
        port: u16,
        extra: &[&str],
    ) -> IndexServer {
        let mut args: Vec<String> = vec![
            "index-server".into(),
            "--listen".into(),
            format!("{ip}:{port}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let proc = Proc::spawn_in(&ns.prefix(), dir, &args);
        let port = port_of(dir, "index_server");
        IndexServer { proc, port }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL) and starts it again with the same data dir
    /// and arguments.
    pub fn restart(&mut self) {
        self.proc.kill9();
        let dir = self.proc.dir.clone();
        let _ = std::fs::remove_file(dir.join("ports.json"));
        self.proc = Proc::spawn_in(&self.proc.prefix, &dir, &self.proc.args);
        self.port = port_of(&dir, "index_server");
    }
}

/// A running `swarmux daemon`.
pub struct Node {
    pub proc: Proc,
    pub ed2k_port: u16,
}

impl Node {
    /// Starts a daemon with every port picked by the OS and `extra` arguments.
    pub fn start(dir: &Path, extra: &[&str]) -> Node {
        let _ = std::fs::remove_file(dir.join("ports.json"));
        let mut args: Vec<String> = [
            "daemon",
            "--ed2k-port",
            "0",
            "--bt-port",
            "0",
            "--dht-port",
            "0",
            "--gnutella-port",
            "0",
        ]
        .map(String::from)
        .to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        Node::spawn_in(&[], dir, &args)
    }

    /// Starts a daemon inside a network namespace, its ed2k side bound to
    /// `ip:port` (listening and outgoing), with `extra` arguments.
    pub fn start_in(ns: &netns::Netns, dir: &Path, ip: &str, port: u16, extra: &[&str]) -> Node {
        let _ = std::fs::remove_file(dir.join("ports.json"));
        let mut args: Vec<String> = vec![
            "daemon".into(),
            "--ed2k-bind".into(),
            ip.into(),
            "--ed2k-port".into(),
            port.to_string(),
            "--bt-port".into(),
            "0".into(),
            "--dht-port".into(),
            "0".into(),
            "--gnutella-port".into(),
            "0".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        Node::spawn_in(&ns.prefix(), dir, &args)
    }

    fn spawn_in(prefix: &[String], dir: &Path, args: &[String]) -> Node {
        let proc = Proc::spawn_in(prefix, dir, args);
        let ed2k_port = port_of(dir, "ed2k_tcp");
        let node = Node { proc, ed2k_port };
        wait_for(20, "the control socket", || node.try_json(&["status"]));
        node
    }

    /// Starts the same daemon again after a crash.
    pub fn restart(&mut self) {
        let dir = self.proc.dir.clone();
        let prefix = self.proc.prefix.clone();
        let args = self.proc.args.clone();
        let _ = std::fs::remove_file(dir.join("ports.json"));
        *self = Node::spawn_in(&prefix, &dir, &args);
    }

    /// Runs a client command against this daemon.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .arg("--data-dir")
            .arg(&self.proc.dir)
            .args(args)
            .output()
            .expect("run swarmux")
    }

    /// Like [`Node::json`], `None` when the command fails.
    pub fn try_json(&self, args: &[&str]) -> Option<Value> {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.cli(&a);
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Runs a client command with `--json` and parses its output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.cli(&a);
        assert!(
            out.status.success(),
            "swarmux {a:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json output")
    }

    /// The daemon's snapshot.
    pub fn status(&self) -> Value {
        self.json(&["status"])
    }

    /// Waits until this node is logged into a server and shares `files` files.
    pub fn wait_ready(&self, files: usize) {
        wait_for(60, "login and shared files", || {
            let s = self.try_json(&["status"])?;
            let connected = s["networks"][0]["servers"]
                .as_array()?
                .iter()
                .any(|srv| srv["state"] == "connected");
            let shared = s["shares"]["file_count"].as_u64()? as usize;
            (connected && shared == files).then_some(())
        });
    }

    /// Total bytes this node's ed2k network uploaded in this run.
    pub fn uploaded(&self) -> u64 {
        self.status()["networks"][0]["uploaded"]
            .as_u64()
            .unwrap_or(0)
    }

    /// The engine's log lines as text.
    pub fn log_text(&self) -> String {
        self.status()["log"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|x| x["message"].as_str().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }
}

/// An index server and a node A sharing one file, logged in and hashed.
pub struct OneSharer {
    pub server: IndexServer,
    pub a: Node,
}

impl OneSharer {
    /// Starts them under `root` (`root/server`, `root/a`); A shares `content`
    /// as `name`.
    pub fn start(root: &Path, name: &str, content: &[u8]) -> OneSharer {
        let server = IndexServer::start(&root.join("server"));
        let share = root.join("a").join("share");
        std::fs::create_dir_all(&share).unwrap();
        std::fs::write(share.join(name), content).unwrap();
        let share = share.display().to_string();
        let a = Node::start(
            &root.join("a"),
            &["--server", &server.addr(), "--share", &share],
        );
        a.wait_ready(1);
        OneSharer { server, a }
    }

    /// Starts a node under `dir` logged into the same server (`dir` may hold
    /// a `config.toml` already).
    pub fn client(&self, dir: &Path) -> Node {
        let c = Node::start(dir, &["--server", &self.server.addr()]);
        c.wait_ready(0);
        c
    }

    /// Searches from `c` until a row for `words` shows; returns its id.
    pub fn find(&self, c: &Node, words: &str) -> u64 {
        wait_for(30, "the search row", || {
            let v = c.json(&["search", "--wait", "3", words]);
            v["rows"].get(0)?["id"].as_u64()
        })
    }
}

/// Deterministic pseudo-random bytes (xorshift), so files differ per seed.
pub fn data(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(size + 8);
    while v.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(size);
    v
}

/// Sends raw bytes to a TCP port and says whether the peer closed the
/// connection within `secs` (reading EOF or a reset).
pub fn closes_after(port: u16, bytes: &[u8], secs: u64) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.write_all(bytes);
    s.set_read_timeout(Some(Duration::from_secs(secs))).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Runs a client command, killing it after `secs`; returns (exit success, stdout).
pub fn cli_with_timeout(node: &Node, args: &[&str], secs: u64) -> (bool, String) {
    let mut child = Command::new(bin())
        .arg("--data-dir")
        .arg(&node.proc.dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run swarmux");
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut out = String::new();
            if let Some(mut o) = child.stdout.take() {
                let _ = o.read_to_string(&mut out);
            }
            return (status.success(), out);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("swarmux {args:?} did not finish within {secs}s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The first download of a node's queue.
pub fn first_download(node: &Node) -> Value {
    node.json(&["list"])["downloads"][0].clone()
}

/// The ed2k part size.
pub const PART: u64 = 9_728_000;

/// (user+system CPU seconds, peak RSS in KiB) of a running process, from /proc
/// (for the benchmarks).
pub fn cpu_and_peak_rss(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    ((ticks(11) + ticks(12)) / 100.0, hwm)
}
