//! Benchmark (`cargo bench --bench bt_transfer`): one 1 GiB single-file
//! torrent downloaded over loopback from the same qbittorrent-nox seed by
//! swarmux, aria2c and rqbit in turn, then from a swarmux seed by swarmux.
//! Prints each client's seconds, MB/s, CPU seconds and peak RSS, and the
//! ratio of swarmux to each. Needs qbittorrent-nox, aria2c and
//! transmission-create (Debian) and `rqbit` (`cargo install rqbit`); a missing
//! client is reported and left out. `SWARMUX_BENCH_MIB` changes the size;
//! `SWARMUX_BENCH_CLIENTS=swarmux,rqbit` runs only the clients named
//! (`swarmux`, `aria2c`, `rqbit`, `self` for swarmux to swarmux).

#[path = "../tests/common/mod.rs"]
mod common;

use common::bt_peers::*;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One client's run.
struct Run {
    client: String,
    secs: f64,
    cpu: f64,
    rss_kib: u64,
}

/// Runs `cmd` to its exit; its wall time, CPU seconds (from wait4) and peak
/// RSS (the last `VmHWM` read before it exits: wait4's `ru_maxrss` would
/// count this process's own memory, which the child inherits at fork).
fn run_to_exit(client: &str, mut cmd: Command, timeout: Duration) -> Option<Run> {
    let start = Instant::now();
    let child = match cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
        Ok(c) => c,
        Err(e) => {
            println!("{client}: cannot run ({e}); left out");
            return None;
        }
    };
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut rss_kib = 0;
    loop {
        rss_kib = rss_kib.max(cpu_and_peak_rss(pid as u32).1);
        // SAFETY: waits for our own child, with valid pointers.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if rc == pid {
            break;
        }
        if start.elapsed() > timeout {
            // SAFETY: kill on our own child's pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            println!("{client}: no finish within {timeout:?}; left out");
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let secs = start.elapsed().as_secs_f64();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        println!("{client}: exited with status {status}; left out");
        return None;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(Run {
        client: client.into(),
        secs,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        rss_kib,
    })
}

/// A swarmux daemon downloading `target` into `dir`; timed from `get` to
/// complete. CPU and RSS are the daemon's whole life (start-up included).
fn swarmux_run(client: &str, dir: &Path, target: &str, expect: &Path) -> Option<Run> {
    let n = Node::start(dir, &["--bt-bind", "127.0.0.1"]);
    let start = Instant::now();
    let (ok, out) = cli_with_timeout(&n, &["get", target, "--wait"], 600);
    let secs = start.elapsed().as_secs_f64();
    if !ok {
        println!("{client}: failed: {out}");
        return None;
    }
    let (cpu, rss_kib) = cpu_and_peak_rss(n.proc.pid());
    check_same(expect, &dir.join("downloads").join(expect.file_name()?));
    Some(Run {
        client: client.into(),
        secs,
        cpu,
        rss_kib,
    })
}

/// Writes `mib` MiB of pseudo-random data, one MiB at a time (so that this
/// process stays small).
fn write_data_file(path: &Path, mib: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..mib {
        f.write_all(&data(1 << 20, 77 + i as u64)).unwrap();
    }
    f.flush().unwrap();
}

fn check_same(a: &Path, b: &Path) {
    assert_same_file(a, b);
}

/// Whether `client` is to be run (`SWARMUX_BENCH_CLIENTS`, default all).
fn wanted(client: &str) -> bool {
    std::env::var("SWARMUX_BENCH_CLIENTS")
        .map_or(true, |v| v.split(',').any(|c| c.trim() == client))
}

fn which(p: &str) -> Option<PathBuf> {
    common::netns::which(p).or_else(|| {
        let home = std::env::var_os("HOME")?;
        let p = Path::new(&home).join(".cargo/bin").join(p);
        p.exists().then_some(p)
    })
}

fn main() {
    if std::env::args().all(|a| a != "--bench") {
        return;
    }
    for p in ["qbittorrent-nox", "transmission-create"] {
        if which(p).is_none() {
            println!("bt_transfer: {p} is not installed; nothing measured");
            return;
        }
    }
    let mib: usize = std::env::var("SWARMUX_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let size = mib << 20;
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = tmp.path().join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    let file = seed_dir.join("bench.bin");
    write_data_file(&file, mib);

    let qb = QbitNox::start();
    let tracker = StaticTracker::start(&[qb.peer_addr()]);
    let (torrent, hash) = make_torrent(&file, &[tracker.announce_url()]);
    qb.add_torrent_file(&torrent, &seed_dir, true);
    qb.wait_seeding(&hash, Duration::from_secs(300));
    let t = torrent.to_str().unwrap().to_string();
    println!(
        "bt_transfer: {mib} MiB, one qbittorrent-nox seed at {} (same seed for every client)",
        qb.peer_addr()
    );

    let rounds: usize = std::env::var("SWARMUX_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let mut runs = Vec::new();
    for round in 0..rounds {
        let dir = tmp.path().join(format!("round{round}"));
        if wanted("swarmux") {
            runs.extend(swarmux_run("swarmux", &dir.join("swx"), &t, &file));
        }
        if wanted("aria2c") {
            runs.extend(aria2c_run(&dir.join("aria2"), &torrent, &file));
        }
        if wanted("rqbit") {
            runs.extend(rqbit_run(&dir.join("rqbit"), &torrent, &file));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    drop(qb);
    if wanted("self") {
        runs.extend(swarmux_to_swarmux(tmp.path(), &t, &hash, &file));
    }

    print_table(&runs, size);
}

/// swarmux to swarmux: the client's own ceiling.
fn swarmux_to_swarmux(tmp: &Path, t: &str, hash: &[u8; 20], file: &Path) -> Option<Run> {
    let seed = Node::start(&tmp.join("swx-seed"), &["--bt-bind", "127.0.0.1"]);
    let downloads = seed.proc.dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    std::fs::hard_link(file, downloads.join("bench.bin")).unwrap();
    let seed_addr = format!("127.0.0.1:{}", port_of(&seed.proc.dir, "bt_tcp"));
    assert!(seed.cli(&["get", t]).status.success());
    wait_for(600, "the swarmux seed to check its data", || {
        let s = seed.try_json(&["status"])?;
        (!s["seeding"].as_array()?.is_empty()).then_some(())
    });
    let link = magnet(hash, Some("bench.bin"), &[], &[seed_addr.parse().unwrap()]);
    swarmux_run("swarmux <- swarmux", &tmp.join("swx2"), &link, file)
}

/// Each client's median run (by seconds) of `runs`, in first-seen order.
fn medians(runs: &[Run]) -> Vec<&Run> {
    let mut clients: Vec<&str> = Vec::new();
    for r in runs {
        if !clients.contains(&r.client.as_str()) {
            clients.push(&r.client);
        }
    }
    clients
        .into_iter()
        .map(|c| {
            let mut mine: Vec<&Run> = runs.iter().filter(|r| r.client == c).collect();
            mine.sort_by(|a, b| a.secs.total_cmp(&b.secs));
            mine[mine.len() / 2]
        })
        .collect()
}

fn print_table(all: &[Run], size: usize) {
    println!("every run:");
    for r in all {
        println!("  {:<20} {:>8.2} s", r.client, r.secs);
    }
    let runs = medians(all);
    println!("median of each client:");
    println!(
        "{:<20} {:>8} {:>9} {:>8} {:>10}",
        "client", "seconds", "MB/s", "CPU s", "peak RSS"
    );
    for r in &runs {
        println!(
            "{:<20} {:>8.2} {:>9.1} {:>8.2} {:>7} MiB",
            r.client,
            r.secs,
            size as f64 / 1e6 / r.secs,
            r.cpu,
            r.rss_kib / 1024
        );
    }
    if let Some(s) = runs.iter().find(|r| r.client == "swarmux") {
        for r in runs.iter().filter(|r| r.client != "swarmux") {
            println!("swarmux vs {}: {:.2}x the speed", r.client, r.secs / s.secs);
        }
    }
}

/// aria2c downloading `torrent` into `out`.
fn aria2c_run(out: &Path, torrent: &Path, file: &Path) -> Option<Run> {
    if which("aria2c").is_none() {
        println!("aria2c: not installed; left out");
        return None;
    }
    let mut cmd = Command::new("aria2c");
    cmd.args([
        "--enable-dht=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--seed-time=0",
        "--file-allocation=none",
        "--bt-require-crypto=false",
        "--bt-min-crypto-level=plain",
        "--interface=127.0.0.1",
        "--disable-ipv6=true",
        "--summary-interval=0",
        "--no-conf=true",
    ])
    .arg(format!("--dir={}", out.display()))
    .arg(format!("--listen-port={}", free_port()))
    .arg("-T")
    .arg(torrent);
    let r = run_to_exit("aria2c", cmd, Duration::from_secs(600))?;
    check_same(file, &out.join("bench.bin"));
    Some(r)
}

/// rqbit downloading `torrent` into `out`.
fn rqbit_run(out: &Path, torrent: &Path, file: &Path) -> Option<Run> {
    let Some(rqbit) = which("rqbit") else {
        println!("rqbit: not installed (cargo install rqbit); left out");
        return None;
    };
    let mut cmd = Command::new(rqbit);
    cmd.env("HOME", out.parent()?)
        .args([
            "--disable-dht",
            "--disable-dht-persistence",
            "--disable-upnp-port-forward",
            "--disable-lsd",
            "--ipv4-only",
            "--listen-ip",
            "127.0.0.1",
            "download",
            "--exit-on-finish",
            "--disable-http-api",
            "-o",
        ])
        .arg(out)
        .arg(torrent);
    let r = run_to_exit("rqbit", cmd, Duration::from_secs(600))?;
    check_same(file, &out.join("bench.bin"));
    Some(r)
}
