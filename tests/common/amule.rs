//! A real aMule 2.3.3 daemon (`amuled`) inside a test's network namespace,
//! driven with `amulecmd` over External Connections (EC).
//!
//! The config dir is written from scratch: `amule.conf` (EC on with an MD5
//! password, Kad/UPnP/GeoIP/update downloads off, LAN filter off, bound to
//! the test address), `preferences.dat` (without it the first start forgets
//! the shared folders), an empty `server.met` (otherwise aMule tries to
//! download one) and `shareddir.dat`.
//!
//! amulecmd cannot send a search with type or size constraints (its `search`
//! command always sends an empty type and zero sizes), so [`Amuled::ec_search`]
//! speaks the small part of the EC protocol needed to start one.
//!
//! What aMule 2.3.3 does here (seen in tests/amule_interop.rs):
//! - `connect IP:PORT` answers `server not found` unless the server is in its
//!   list: add it first (`add ed2k://|server|IP|PORT|/`).
//! - It offers its shared files on a publish timer, not at login: the first
//!   OP_OFFERFILES comes about a minute after amuled started.
//! - It pings servers over UDP (TCP port + 4); without answers the server
//!   counts as failed (see networks/ed2k/src/server/udp.rs).
//! - As a downloader it repeats still-unreceived blocks in each request (see
//!   the pump in networks/ed2k/src/client/peer_conn.rs), and sometimes stops
//!   reading its socket for good (the receive stall of real-peers.md): a
//!   restart of amuled resumes the part file.
//! - `amulecmd -c results` prints sizes as "Size(MB)" a little off 2^20
//!   (22.909 for 24,000,000 bytes).

use super::netns::Netns;
use super::wait_for;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How an aMule instance is set up.
#[derive(Clone, Debug)]
pub struct AmuleConfig {
    /// Its address on the namespace's `lo`.
    pub ip: String,
    /// ed2k TCP port; the UDP port is TCP + 3 (aMule's rule), EC is TCP + 50.
    pub tcp_port: u16,
    /// Upload limit in kB/s. 0 ("unlimited") makes aMule 2.3.3 start an upload
    /// at a few kB/s and creep up by ~1 kB/s per second; a fixed limit does not.
    pub max_upload_kb: u32,
    /// aMule's "slot allocation" in kB/s: it opens `max_upload_kb / this`
    /// upload slots (rounded, at least 2: `MIN_UP_CLIENTS_ALLOWED`).
    pub slot_allocation_kb: u32,
    pub shared_dirs: Vec<PathBuf>,
    pub nick: String,
}

impl AmuleConfig {
    pub fn new(ip: &str) -> AmuleConfig {
        AmuleConfig {
            ip: ip.into(),
            tcp_port: 5662,
            max_upload_kb: 10_000,
            slot_allocation_kb: 100,
            shared_dirs: Vec::new(),
            nick: "amule-interop".into(),
        }
    }

    pub fn ec_port(&self) -> u16 {
        self.tcp_port + 50
    }
}

/// One result line of `amulecmd -c results`.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResult {
    /// The number `download N` takes.
    pub nr: usize,
    pub name: String,
    /// Size in MiB as printed (three decimals).
    pub size_mb: f64,
    pub sources: u32,
}

/// One entry of `amulecmd -c "show dl"`.
#[derive(Clone, Debug, PartialEq)]
pub struct DownloadEntry {
    pub hash: String,
    pub name: String,
    /// Percent done as printed.
    pub percent: f64,
    /// The status line as printed.
    pub line: String,
}

/// A running `amuled`, killed on drop.
pub struct Amuled {
    pub cfg: AmuleConfig,
    pub dir: PathBuf,
    ns_name: String,
    password: String,
    child: Child,
}

fn md5_hex(s: &str) -> String {
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run md5sum");
    child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

impl Amuled {
    /// Writes a fresh config into `dir` and starts amuled inside `ns`; returns
    /// once amulecmd can connect.
    pub fn start(ns: &Netns, dir: &Path, cfg: AmuleConfig) -> Amuled {
        std::fs::create_dir_all(dir).unwrap();
        let dir = std::path::absolute(dir).unwrap();
        let conf = dir.join("config");
        std::fs::create_dir_all(conf.join("Temp")).unwrap();
        std::fs::create_dir_all(conf.join("Incoming")).unwrap();
        let password = format!("swx-{}-{}", std::process::id(), rand::random::<u32>());
        std::fs::write(
            conf.join("amule.conf"),
            amule_conf(&cfg, &conf, &md5_hex(&password)),
        )
        .unwrap();
        // preferences.dat: version byte 0x14, then the 16-byte user hash (with
        // eMule's markers at bytes 5 and 14).
        let mut hash: [u8; 16] = rand::random();
        hash[5] = 14;
        hash[14] = 111;
        let mut prefs = vec![0x14u8];
        prefs.extend_from_slice(&hash);
        std::fs::write(conf.join("preferences.dat"), prefs).unwrap();
        // An empty server.met (header 0xE0, zero servers).
        std::fs::write(conf.join("server.met"), [0xE0, 0, 0, 0, 0]).unwrap();
        let dirs: String = cfg
            .shared_dirs
            .iter()
            .map(|d| format!("{}\n", std::path::absolute(d).unwrap().display()))
            .collect();
        std::fs::write(conf.join("shareddir.dat"), dirs).unwrap();

        let child = spawn_amuled(&ns.name, &dir);
        let a = Amuled {
            cfg,
            dir,
            ns_name: ns.name.clone(),
            password,
            child,
        };
        a.wait_ec();
        a
    }

    fn wait_ec(&self) {
        wait_for(60, "amulecmd to connect to amuled", || {
            self.try_cmd("status", 10)
                .filter(|o| o.contains("Connection established"))
        });
    }

    /// Stops amuled (SIGTERM, so it saves its part files) and starts it again
    /// on the same config; it is not connected to a server afterwards.
    pub fn restart(&mut self) {
        // SAFETY: kill on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_amuled(&self.ns_name, &self.dir);
        self.wait_ec();
    }

    /// The config dir (`--config-dir`), where aMule also writes its log.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.join("config")
    }

    /// The folder completed downloads land in.
    pub fn incoming(&self) -> PathBuf {
        self.config_dir().join("Incoming")
    }

    /// aMule's log so far (`logfile` in its config dir).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config_dir().join("logfile")).unwrap_or_default()
    }

    /// The log without the noise of every amulecmd connection.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let kept: Vec<&str> = log
            .lines()
            .filter(|l| {
                !l.contains("xternal connection")
                    && !l.contains("Connecting client: aMulecmd")
                    && !l.contains("Access granted")
            })
            .collect();
        kept[kept.len().saturating_sub(lines)..].join("\n")
    }

    /// True while amuled runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn amulecmd(&self) -> Command {
        let mut c = Command::new("ip");
        c.args([
            "netns",
            "exec",
            &self.ns_name,
            "amulecmd",
            "-h",
            &self.cfg.ip,
        ])
        .arg("-p")
        .arg(self.cfg.ec_port().to_string())
        .arg("-P")
        .arg(&self.password);
        c
    }

    fn run_amulecmd(&self, mut c: Command, stdin: Option<String>, secs: u64) -> Option<String> {
        let mut child = c
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run amulecmd");
        if let Some(input) = stdin {
            let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        }
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return reader.join().ok();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `amulecmd -c CMD`; `None` when it does not finish within `secs`.
    pub fn try_cmd(&self, cmd: &str, secs: u64) -> Option<String> {
        let mut c = self.amulecmd();
        c.arg("-c").arg(cmd);
        self.run_amulecmd(c, None, secs)
    }

    /// Runs amulecmd until it gets through to amuled. A busy amuled (several
    /// starting at once on two cores) sometimes drops the EC login:
    /// `EC connection failed. Empty reply.` / `Connection Failed. Unable to
    /// connect to 10.99.0.2:5712`; the command was not run then, so retry.
    fn retrying(&self, what: &str, run: impl Fn() -> Option<String>) -> String {
        let mut last = None;
        for attempt in 0..6 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs(attempt));
            }
            match run() {
                Some(out) if out.contains("Connection established") => return out,
                other => last = other,
            }
        }
        panic!("amulecmd {what} never got through to amuled: {last:?}")
    }

    /// `amulecmd -c CMD`, its whole output.
    pub fn cmd(&self, cmd: &str) -> String {
        self.retrying(&format!("-c {cmd:?}"), || self.try_cmd(cmd, 30))
    }

    /// Several commands in one amulecmd session (fed on stdin), needed where a
    /// command uses state of the session, like `download N` after `results`.
    pub fn session(&self, cmds: &[&str]) -> String {
        let mut input: String = cmds.iter().map(|c| format!("{c}\n")).collect();
        input.push_str("quit\n");
        self.retrying(&format!("session {cmds:?}"), || {
            self.run_amulecmd(self.amulecmd(), Some(input.clone()), 30)
        })
    }

    /// Adds the server to aMule's list and connects to it, the way a user
    /// would with amulecmd: `add ed2k://|server|IP|PORT|/`, `connect IP:PORT`.
    pub fn connect_server(&self, ip: &str, port: u16) {
        let out = self.cmd(&format!("add ed2k://|server|{ip}|{port}|/"));
        assert!(
            out.contains("Operation was successful"),
            "add server: {out}"
        );
        let out = self.cmd(&format!("connect {ip}:{port}"));
        assert!(out.contains("Operation was successful"), "connect: {out}");
    }

    /// The eD2k line of `status`, e.g.
    /// ` > eD2k: Connected to swarmux index [10.99.0.3:4661] with HighID`
    /// (other states: `Now connecting`, `Not connected`).
    pub fn ed2k_status(&self) -> String {
        reply_lines(&self.cmd("status"))
            .into_iter()
            .find_map(|l| l.strip_prefix("eD2k: ").map(str::to_string))
            .unwrap_or_default()
    }

    /// Waits until aMule is connected to a server; returns the status line.
    pub fn wait_connected(&self, secs: u64) -> String {
        wait_for(secs, "amuled to log into the server", || {
            let s = self.ed2k_status();
            s.starts_with("Connected to").then_some(s)
        })
    }

    /// The client id the server gave, from the log line
    /// ` 2026-11-22 05:40:06: New clientid is 33579786`.
    pub fn client_id(&self) -> Option<u32> {
        self.log()
            .lines()
            .rev()
            .find_map(|l| l.split("New clientid is ").nth(1))
            .and_then(|id| id.trim().parse().ok())
    }

    /// `show servers`: (address, name) per server, from lines like
    /// ` > [10.99.0.3:4661]        swarmux index`.
    pub fn servers(&self) -> Vec<(String, String)> {
        reply_lines(&self.cmd("show servers"))
            .into_iter()
            .filter_map(|l| {
                let rest = l.strip_prefix('[')?;
                let (addr, name) = rest.split_once(']')?;
                Some((addr.to_string(), name.trim().to_string()))
            })
            .collect()
    }

    /// `show shared`: (hash, path) per shared file, from pairs of lines like
    /// ` > F734F5D6191777CD7933F0162321C63C /tmp/x/share/file.bin`
    /// ` > <TAB>Auto [Hi] - 0(0) / 0(0) - 0 bytes (0 bytes) - 0.00`.
    pub fn shared(&self) -> Vec<(String, String)> {
        reply_lines(&self.cmd("show shared"))
            .into_iter()
            .filter_map(|l| {
                let (hash, path) = l.split_once(' ')?;
                is_hash(hash).then(|| (hash.to_string(), path.to_string()))
            })
            .collect()
    }

    /// Waits until aMule has hashed and shares `n` files.
    pub fn wait_shared(&self, n: usize, secs: u64) {
        wait_for(secs, &format!("amuled to share {n} files"), || {
            (self.shared().len() >= n).then_some(())
        });
    }

    /// `search local WORDS` (a search on the connected server). amulecmd
    /// answers ` > Search in progress. Refetch results in a moment!`.
    pub fn search_local(&self, words: &str) -> String {
        self.cmd(&format!("search local {words}"))
    }

    /// `results`, parsed from:
    /// ```text
    /// Nr.    Filename:                                                                        Size(MB):  Sources:
    /// -----------------------------------------------------------------------------------------------------------
    /// 0.    swarmux-only-clip.avi                                                              23.862     1
    ///  > Number of search results: 1
    /// ```
    pub fn results(&self) -> Vec<SearchResult> {
        parse_results(&self.cmd("results"))
    }

    /// `results` then `download N` in one session (the number refers to the
    /// session's last `results`). amulecmd prints `Download File: 0 NAME`.
    pub fn download(&self, nr: usize) -> String {
        self.session(&["results", &format!("download {nr}")])
    }

    /// `add ed2k://|file|...|/`.
    pub fn add_link(&self, link: &str) -> String {
        self.cmd(&format!("add {link}"))
    }

    /// `show dl`, parsed from pairs of lines like
    /// ` > 37DC27699090244740B5E5038B1E626B swarmux-only-clip.avi`
    /// ` > <TAB> [11.8%]    1/   1     (01) - Downloading - 001.part.met - Auto [Hi] - 351.87 kB/s`.
    /// A finished download leaves the list.
    pub fn downloads(&self) -> Vec<DownloadEntry> {
        let lines = reply_lines(&self.cmd("show dl"));
        let mut out: Vec<DownloadEntry> = Vec::new();
        for l in lines {
            if let Some((hash, name)) = l.split_once(' ').filter(|(h, _)| is_hash(h)) {
                out.push(DownloadEntry {
                    hash: hash.to_string(),
                    name: name.to_string(),
                    percent: 0.0,
                    line: String::new(),
                });
            } else if let Some(last) = out.last_mut() {
                let t = l.trim();
                if let Some(p) = t
                    .strip_prefix('[')
                    .and_then(|r| r.split_once('%'))
                    .and_then(|(p, _)| p.trim().parse().ok())
                {
                    last.percent = p;
                }
                last.line = t.to_string();
            }
        }
        out
    }

    /// `pause HASH` (amulecmd answers ` > Operation was successful.`).
    pub fn pause(&self, hash: &str) -> String {
        self.cmd(&format!("pause {hash}"))
    }

    /// `resume HASH`.
    pub fn resume(&self, hash: &str) -> String {
        self.cmd(&format!("resume {hash}"))
    }

    /// `show ul`: one line per upload, e.g.
    /// ` >          5 swarmux user amule-only-file.bin 0 bytes 342.26 kB/s`
    /// (client id, client name, file, bytes, rate; names may hold spaces).
    pub fn uploads(&self) -> Vec<String> {
        reply_lines(&self.cmd("show ul"))
    }

    /// `statistics`: aMule's statistics tree as text.
    pub fn statistics(&self) -> String {
        self.cmd("statistics")
    }

    /// Starts a search on the connected server with a file type ("Audio",
    /// "Video", "Image", "Doc", "Pro", "Arc", "Iso" or ""), size bounds in
    /// bytes (0: none) and an extension ("" for any), through EC as amuleweb
    /// would; read the results with [`Amuled::results`]. Returns the core's
    /// answer text (`Search in progress. Refetch results in a moment!`).
    /// A busy amuled sometimes drops an EC connection right after accepting
    /// it (as it drops amulecmd's, see [`Amuled::retrying`]); the search was
    /// not started then, so it is sent again.
    pub fn ec_search(&self, words: &str, file_type: &str, min: u64, max: u64, ext: &str) -> String {
        let addr = format!("{}:{}", self.cfg.ip, self.cfg.ec_port());
        let password_md5 = md5_hex(&self.password);
        let mut last = None;
        for attempt in 0..6 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs(attempt));
            }
            let (addr, password_md5) = (addr.clone(), password_md5.clone());
            match in_netns(&self.ns_name, move || {
                ec::search(&addr, &password_md5, words, file_type, min, max, ext)
            }) {
                Ok(answer) => return answer,
                Err(e) => last = Some(e),
            }
        }
        panic!("the EC search never got through to amuled: {last:?}")
    }
}

fn spawn_amuled(ns: &str, dir: &Path) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("amuled.out"))
        .unwrap();
    Command::new("ip")
        .args(["netns", "exec", ns, "amuled"])
        .arg(format!("--config-dir={}", dir.join("config").display()))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn amuled")
}

impl Drop for Amuled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_hash(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The reply lines of an amulecmd run: those starting with ` > `, without it.
fn reply_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix(" > "))
        .map(str::to_string)
        .collect()
}

/// Parses the `results` table (see [`Amuled::results`]): the number, then
/// the name (which may hold spaces), then size and sources, right-aligned.
pub fn parse_results(out: &str) -> Vec<SearchResult> {
    out.lines()
        .filter_map(|l| {
            let (nr, rest) = l.split_once(". ")?;
            let nr: usize = nr.trim().parse().ok()?;
            let (rest, sources) = rest.trim_end().rsplit_once(char::is_whitespace)?;
            let (name, size) = rest.trim_end().rsplit_once(char::is_whitespace)?;
            Some(SearchResult {
                nr,
                name: name.trim().to_string(),
                size_mb: size.parse().ok()?,
                sources: sources.parse().ok()?,
            })
        })
        .collect()
}

/// `amule.conf` for a test instance (keys as aMule 2.3.3 writes them).
fn amule_conf(cfg: &AmuleConfig, conf: &Path, password_md5: &str) -> String {
    let AmuleConfig {
        ip,
        tcp_port,
        max_upload_kb,
        slot_allocation_kb,
        nick,
        ..
    } = cfg;
    let udp_port = tcp_port + 3;
    let ec_port = cfg.ec_port();
    let dir = conf.display();
    format!(
        "[eMule]
AppVersion=2.3.3
Nick={nick}
Port={tcp_port}
UDPPort={udp_port}
UDPEnable=1
Address={ip}
MaxUpload={max_upload_kb}
MaxDownload=0
UploadCapacity={max_upload_kb}
SlotAllocation={slot_allocation_kb}
DownloadCapacity=100000
Autoconnect=0
Reconnect=1
Serverlist=0
AddServerListFromServer=0
AddServerListFromClient=0
SafeServerConnect=0
UPnPEnabled=0
ConnectToKad=0
ConnectToED2K=1
TempDir={dir}/Temp
IncomingDir={dir}/Incoming
OSDirectory={dir}/
CheckDiskspace=0
GeoIPEnabled=0
FilterLanIPs=0
ParanoidFiltering=0
IPFilterAutoLoad=0
IPFilterURL=
NewVersionCheck=0
ConfirmExit=0
OnlineSignature=0
KadNodesUrl=
Ed2kServersUrl=
GeoLiteCountryUpdateUrl=
[ExternalConnect]
AcceptExternalConnections=1
ECAddress={ip}
ECPort={ec_port}
ECPassword={password_md5}
UPnPECEnabled=0
IpFilterClients=0
IpFilterServers=0
[WebServer]
Enabled=0
"
    )
}

/// Runs `f` on a thread that has joined the network namespace `ns` (only
/// that thread does), so the test can reach addresses that exist only there.
fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    use std::os::fd::AsRawFd;
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&path).expect("open the namespace");
            // SAFETY: setns on a valid fd; it only changes this thread's
            // network namespace, which ends with the thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .expect("the namespace thread panicked")
    })
}

/// The few EC (aMule External Connections, protocol 0x0204) messages needed to
/// start a search with constraints. Big-endian throughout; a packet is
/// `flags u32 (0x20: no zlib, no UTF-8 numbers) | length u32 | opcode u8 |
/// tag count u16 | tags`, a tag `name<<1|has_children u16 | type u8 |
/// length u32 | [child count u16, children] | value`.
mod ec {
    use super::*;

    const OP_AUTH_REQ: u8 = 0x02;
    const OP_AUTH_FAIL: u8 = 0x03;
    const OP_AUTH_OK: u8 = 0x04;
    const OP_AUTH_SALT: u8 = 0x4F;
    const OP_AUTH_PASSWD: u8 = 0x50;
    const OP_SEARCH_START: u8 = 0x26;

    const TAG_STRING: u16 = 0x0000;
    const TAG_PASSWD_HASH: u16 = 0x0001;
    const TAG_PROTOCOL_VERSION: u16 = 0x0002;
    const TAG_PASSWD_SALT: u16 = 0x000B;
    const TAG_CLIENT_NAME: u16 = 0x0100;
    const TAG_CLIENT_VERSION: u16 = 0x0101;
    const TAG_SEARCH_TYPE: u16 = 0x0701;
    const TAG_SEARCH_NAME: u16 = 0x0702;
    const TAG_SEARCH_MIN_SIZE: u16 = 0x0703;
    const TAG_SEARCH_MAX_SIZE: u16 = 0x0704;
    const TAG_SEARCH_FILE_TYPE: u16 = 0x0705;
    const TAG_SEARCH_EXTENSION: u16 = 0x0706;

    const TYPE_UINT8: u8 = 0x02;
    const TYPE_UINT16: u8 = 0x03;
    const TYPE_UINT32: u8 = 0x04;
    const TYPE_UINT64: u8 = 0x05;
    const TYPE_STRING: u8 = 0x06;
    const TYPE_HASH16: u8 = 0x09;

    const PROTOCOL_VERSION: u64 = 0x0204;
    const SEARCH_LOCAL: u64 = 0;

    pub struct Tag {
        name: u16,
        ty: u8,
        value: Vec<u8>,
        children: Vec<Tag>,
    }

    impl Tag {
        fn string(name: u16, s: &str) -> Tag {
            let mut value = s.as_bytes().to_vec();
            value.push(0);
            Tag {
                name,
                ty: TYPE_STRING,
                value,
                children: Vec::new(),
            }
        }

        /// Integers go out in the narrowest width, as aMule writes them.
        fn int(name: u16, v: u64) -> Tag {
            let (ty, value) = if v <= 0xFF {
                (TYPE_UINT8, vec![v as u8])
            } else if v <= 0xFFFF {
                (TYPE_UINT16, (v as u16).to_be_bytes().to_vec())
            } else if v <= 0xFFFF_FFFF {
                (TYPE_UINT32, (v as u32).to_be_bytes().to_vec())
            } else {
                (TYPE_UINT64, v.to_be_bytes().to_vec())
            };
            Tag {
                name,
                ty,
                value,
                children: Vec::new(),
            }
        }

        /// The length field: own value plus every child with its header.
        fn len(&self) -> usize {
            self.value.len()
                + self
                    .children
                    .iter()
                    .map(|c| c.len() + 7 + if c.children.is_empty() { 0 } else { 2 })
                    .sum::<usize>()
        }

        fn write(&self, out: &mut Vec<u8>) {
            let flag = u16::from(!self.children.is_empty());
            out.extend_from_slice(&((self.name << 1) | flag).to_be_bytes());
            out.push(self.ty);
            out.extend_from_slice(&(self.len() as u32).to_be_bytes());
            if !self.children.is_empty() {
                out.extend_from_slice(&(self.children.len() as u16).to_be_bytes());
                for c in &self.children {
                    c.write(out);
                }
            }
            out.extend_from_slice(&self.value);
        }

        fn read(buf: &[u8], at: &mut usize) -> Option<Tag> {
            let raw = u16::from_be_bytes(buf.get(*at..*at + 2)?.try_into().ok()?);
            let ty = *buf.get(*at + 2)?;
            let len = u32::from_be_bytes(buf.get(*at + 3..*at + 7)?.try_into().ok()?) as usize;
            *at += 7;
            let mut children = Vec::new();
            let mut child_bytes = 0;
            if raw & 1 == 1 {
                let n = u16::from_be_bytes(buf.get(*at..*at + 2)?.try_into().ok()?);
                *at += 2;
                for _ in 0..n {
                    let start = *at;
                    children.push(Tag::read(buf, at)?);
                    child_bytes += *at - start;
                }
            }
            let own = len.checked_sub(child_bytes)?;
            let value = buf.get(*at..*at + own)?.to_vec();
            *at += own;
            Some(Tag {
                name: raw >> 1,
                ty,
                value,
                children,
            })
        }

        fn as_int(&self) -> u64 {
            self.value
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | *b as u64)
        }

        fn as_string(&self) -> String {
            String::from_utf8_lossy(self.value.strip_suffix(&[0]).unwrap_or(&self.value))
                .into_owned()
        }
    }

    fn send(s: &mut TcpStream, opcode: u8, tags: &[Tag]) -> std::io::Result<()> {
        let mut body = vec![opcode];
        body.extend_from_slice(&(tags.len() as u16).to_be_bytes());
        for t in tags {
            t.write(&mut body);
        }
        let mut pkt = 0x20u32.to_be_bytes().to_vec();
        pkt.extend_from_slice(&(body.len() as u32).to_be_bytes());
        pkt.extend_from_slice(&body);
        s.write_all(&pkt)
    }

    /// The next packet; an error when aMule dropped the connection.
    fn recv(s: &mut TcpStream) -> std::io::Result<(u8, Vec<Tag>)> {
        let mut head = [0u8; 8];
        s.read_exact(&mut head)?;
        let flags = u32::from_be_bytes(head[..4].try_into().unwrap());
        assert_eq!(
            flags & 0x03,
            0,
            "EC packet with zlib/UTF-8 numbers we did not ask for"
        );
        let len = u32::from_be_bytes(head[4..].try_into().unwrap()) as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body)?;
        let count = u16::from_be_bytes(body[1..3].try_into().unwrap());
        let mut at = 3;
        let tags = (0..count)
            .map_while(|_| Tag::read(&body, &mut at))
            .collect();
        Ok((body[0], tags))
    }

    fn find(tags: &[Tag], name: u16) -> Option<&Tag> {
        tags.iter().find(|t| t.name == name)
    }

    pub fn search(
        addr: &str,
        password_md5: &str,
        words: &str,
        file_type: &str,
        min: u64,
        max: u64,
        ext: &str,
    ) -> std::io::Result<String> {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        send(
            &mut s,
            OP_AUTH_REQ,
            &[
                Tag::string(TAG_CLIENT_NAME, "swarmux-tests"),
                Tag::string(TAG_CLIENT_VERSION, "0.1"),
                Tag::int(TAG_PROTOCOL_VERSION, PROTOCOL_VERSION),
            ],
        )?;
        let (op, tags) = recv(&mut s)?;
        assert_eq!(op, OP_AUTH_SALT, "EC: expected the salt");
        let salt = find(&tags, TAG_PASSWD_SALT).expect("salt tag").as_int();
        // MD5(lower(md5hex(password)) + md5hex(format!("{salt:X}"))), raw bytes.
        let salted = md5_hex(&format!(
            "{}{}",
            password_md5.to_lowercase(),
            md5_hex(&format!("{salt:X}"))
        ));
        let hash = (0..16)
            .map(|i| u8::from_str_radix(&salted[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        send(
            &mut s,
            OP_AUTH_PASSWD,
            &[Tag {
                name: TAG_PASSWD_HASH,
                ty: TYPE_HASH16,
                value: hash,
                children: Vec::new(),
            }],
        )?;
        let (op, tags) = recv(&mut s)?;
        if op == OP_AUTH_FAIL {
            panic!(
                "EC login refused: {}",
                find(&tags, TAG_STRING)
                    .map(Tag::as_string)
                    .unwrap_or_default()
            );
        }
        assert_eq!(op, OP_AUTH_OK, "EC: expected AUTH_OK");
        let mut search = Tag::int(TAG_SEARCH_TYPE, SEARCH_LOCAL);
        search.children.push(Tag::string(TAG_SEARCH_NAME, words));
        search
            .children
            .push(Tag::string(TAG_SEARCH_FILE_TYPE, file_type));
        if !ext.is_empty() {
            search.children.push(Tag::string(TAG_SEARCH_EXTENSION, ext));
        }
        if min > 0 {
            search.children.push(Tag::int(TAG_SEARCH_MIN_SIZE, min));
        }
        if max > 0 {
            search.children.push(Tag::int(TAG_SEARCH_MAX_SIZE, max));
        }
        send(&mut s, OP_SEARCH_START, &[search])?;
        let (_, tags) = recv(&mut s)?;
        Ok(find(&tags, TAG_STRING)
            .map(Tag::as_string)
            .unwrap_or_default())
    }
}
