//! A careless user and a hostile local client against a real daemon: files
//! that are not what they claim, a closed pipe, a client that never reads,
//! too many clients, a low open-file limit, and names too long for the disk.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The daemon's resident memory in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn control(node: &Node) -> UnixStream {
    UnixStream::connect(node.proc.dir.join("control.sock")).expect("connect the control socket")
}

#[test]
fn devices_and_fifos_given_as_files_are_refused_at_once_and_the_engine_keeps_answering() {
    let tmp = tempfile::tempdir().unwrap();
    let watch = tmp.path().join("watch");
    std::fs::create_dir_all(&watch).unwrap();
    let node = Node::start(
        &tmp.path().join("a"),
        &["--watch-dir", watch.to_str().unwrap()],
    );
    let fifo = tmp.path().join("server.met");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for (file, why) in [
        ("/dev/zero", "not a regular file"),
        (fifo.to_str().unwrap(), "not a regular file"),
    ] {
        let started = Instant::now();
        let out = node.cli(&["servers", "import", file]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(why), "{file}: {err}");
        assert!(started.elapsed() < Duration::from_secs(10), "{file} hung");
    }
    // A FIFO and a device dropped in the watch folder as .torrent files.
    let c = std::ffi::CString::new(watch.join("x.torrent").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink("/dev/zero", watch.join("zero.torrent")).unwrap();
    wait_for(30, "both to be set aside as invalid", || {
        (watch.join("x.torrent.invalid").exists() && watch.join("zero.torrent.invalid").exists())
            .then_some(())
    });
    let log = node.log_text();
    assert!(log.contains("not a regular file"), "{log}");
    // Every later command is still answered.
    node.status();
    let out = node.cli(&["get", "/dev/zero.torrent"]);
    assert!(!out.status.success());
}

#[test]
fn the_data_dir_is_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    let mut node = Node::start(&dir, &[]);
    assert_eq!(mode(&dir), 0o700);
    for f in [
        "config.toml",
        "swarmux.redb",
        "ed2k_userhash",
        "control.sock",
    ] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    // A data dir left world-readable by an older version is fixed on start.
    node.proc.kill9();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        dir.join("ed2k_userhash"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    node.restart();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("ed2k_userhash")), 0o600);
}

#[test]
fn a_closed_pipe_ends_a_verb_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(&tmp.path().join("a"), &[]);
    for args in [&["status"][..], &["--json", "status"], &["list"]] {
        let mut child = Command::new(bin())
            .arg("--data-dir")
            .arg(&node.proc.dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // `| head -0`: the reader is gone before anything is written.
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        assert!(status.success(), "{args:?}: {status:?} {err}");
    }
}

#[test]
fn a_client_that_never_reads_costs_the_daemon_one_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(&tmp.path().join("a"), &[]);
    let pid = node.proc.pid();
    // 1,500 queued downloads with long names make each snapshot about a megabyte.
    let mut cmd = control(&node);
    let mut answers = BufReader::new(cmd.try_clone().unwrap());
    let mut line = String::new();
    for i in 0..1500u32 {
        let name = format!("{}-{i}.bin", "a-long-download-name".repeat(8));
        let link = format!("ed2k://|file|{name}|1000000|{i:032x}|/");
        let req = serde_json::json!({"cmd": "get", "target": link});
        writeln!(cmd, "{req}").unwrap();
        line.clear();
        answers.read_line(&mut line).unwrap();
        assert!(line.contains("added"), "{line}");
    }
    let snapshot_bytes = node.cli(&["--json", "status"]).stdout.len();
    println!("one snapshot: {snapshot_bytes} bytes");
    assert!(snapshot_bytes > 500_000);

    // A subscriber that never reads (a suspended TUI over a dead link).
    let mut stuck = control(&node);
    writeln!(stuck, r#"{{"cmd":"subscribe"}}"#).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(pid);
    // Every request changes the state; the engine publishes five times a second.
    let until = Instant::now() + Duration::from_secs(12);
    let mut changes = 0;
    while Instant::now() < until {
        writeln!(cmd, r#"{{"cmd":"set_limits","slots":{}}}"#, 4 + changes % 2).unwrap();
        line.clear();
        answers.read_line(&mut line).unwrap();
        changes += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let after = rss_kib(pid);
    println!("{changes} changes; daemon RSS {before} KiB -> {after} KiB");
    // About 60 snapshots were published: queued, they would be 60 MB.
    assert!(
        after < before + 24 * 1024,
        "the daemon grew from {before} KiB to {after} KiB for a client that does not read"
    );
    // The stuck client still gets the newest state once it reads.
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut first = String::new();
    BufReader::new(&stuck).read_line(&mut first).unwrap();
    assert!(first.starts_with(r#"{"reply":"snapshot""#));
    node.status();
}

#[test]
fn control_clients_are_capped_and_a_low_file_limit_is_raised() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    std::fs::create_dir_all(&dir).unwrap();
    // The daemon starts with a soft limit of 256 and a hard one of 4096.
    let script = format!(
        "ulimit -Sn 256 && ulimit -Hn 4096 && exec {} --data-dir {} daemon --ed2k-port 0 --bt-port 0 --dht-port 0 --gnutella-port 0",
        bin(),
        dir.display()
    );
    let daemon = Command::new("sh")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    /// Kills the daemon also when the test fails.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let daemon = KillOnDrop(daemon);
    let pid = daemon.0.id();
    let sock = dir.join("control.sock");
    wait_for(20, "the control socket", || UnixStream::connect(&sock).ok());
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let open = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .filter_map(|w| w.parse::<u64>().ok())
        .collect::<Vec<_>>();
    assert_eq!(open, [4096, 4096], "{limits}");

    // 64 clients connect; the next one is told why it is refused.
    let held: Vec<UnixStream> = (0..64)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    let mut extra = UnixStream::connect(&sock).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut refusal = String::new();
    BufReader::new(&mut extra).read_line(&mut refusal).unwrap();
    assert!(refusal.contains("64 clients"), "{refusal}");
    drop(held);
    wait_for(20, "a client to be served again", || {
        let out = Command::new(bin())
            .arg("--data-dir")
            .arg(&dir)
            .args(["--json", "status"])
            .output()
            .ok()?;
        out.status.success().then_some(())
    });
    drop(daemon);
}

#[test]
fn a_name_too_long_for_the_disk_lands_cut_with_its_extension() {
    let tmp = tempfile::tempdir().unwrap();
    let content = data(3_000_000, 5);
    let swarm = OneSharer::start(tmp.path(), "short.bin", &content);
    let hash = swarm.a.json(&["share", "list"])["files"][0]["ed2k"]
        .as_str()
        .unwrap()
        .trim_start_matches("ed2k:")
        .to_string();
    let c = swarm.client(&tmp.path().join("c"));
    // 90 CJK characters: 270 bytes, more than a file name may have.
    let name = format!("{}.bin", "漢".repeat(90));
    let link = format!("ed2k://|file|{name}|{}|{hash}|/", content.len());
    assert!(c.cli(&["get", &link]).status.success());
    let d = wait_for(120, "the download to complete", || {
        let d = first_download(&c);
        assert_ne!(d["state"]["state"], "error", "{d}");
        (d["state"]["state"] == "complete").then_some(d)
    });
    let path = std::path::PathBuf::from(d["path"].as_str().unwrap());
    let landed = path.file_name().unwrap().to_str().unwrap();
    assert!(landed.len() <= 255 && landed.ends_with(".bin"), "{landed}");
    assert!(landed.starts_with("漢漢漢"), "{landed}");
    assert!(std::fs::read(&path).unwrap() == content);
}

/// A .torrent of `files` one-byte files in one folder, hand-encoded.
fn many_files_torrent(files: usize) -> Vec<u8> {
    use sha1::Digest;
    let piece = 16384usize;
    let total = files;
    let mut pieces = Vec::new();
    for start in (0..total).step_by(piece) {
        let len = piece.min(total - start);
        pieces.extend_from_slice(&sha1::Sha1::digest(vec![0u8; len]));
    }
    let mut info = Vec::new();
    info.extend_from_slice(b"d5:filesl");
    for i in 0..files {
        let name = format!("file-{i:06}.bin");
        info.extend_from_slice(format!("d6:lengthi1e4:pathl{}:{name}ee", name.len()).as_bytes());
    }
    info.extend_from_slice(b"e4:name10:many-files12:piece lengthi16384e6:pieces");
    info.extend_from_slice(format!("{}:", pieces.len()).as_bytes());
    info.extend_from_slice(&pieces);
    info.push(b'e');
    let mut t = b"d4:info".to_vec();
    t.extend_from_slice(&info);
    t.push(b'e');
    t
}

#[test]
fn a_torrent_of_100000_files_stays_out_of_every_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::start(&tmp.path().join("a"), &[]);
    let torrent = tmp.path().join("many.torrent");
    std::fs::write(&torrent, many_files_torrent(100_000)).unwrap();
    assert!(node
        .cli(&["get", torrent.to_str().unwrap()])
        .status
        .success());
    let id = first_download(&node)["id"].as_u64().unwrap().to_string();
    let files = wait_for(60, "the file list", || {
        let f = node.json(&["files", &id]);
        (f.as_array()?.len() == 100_000).then_some(f)
    });
    assert_eq!(files[99_999]["path"], "file-099999.bin");
    let status = node.cli(&["--json", "status"]).stdout.len();
    println!("status --json: {status} bytes");
    assert!(
        status < 100_000,
        "the snapshot carries the files: {status} bytes"
    );
    assert_eq!(first_download(&node)["file_count"], 100_000);
    let rss = rss_kib(node.proc.pid());
    println!("daemon RSS with the torrent queued: {rss} KiB");
    // It was 248 MB when every snapshot carried the files.
    assert!(rss < 200 * 1024, "the daemon holds {rss} KiB");
}

#[test]
fn deep_and_long_searches_get_a_clear_error_and_the_daemon_lives() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = Node::start(&tmp.path().join("a"), &[]);
    let deep = format!("{}a{}", "(".repeat(20_000), ")".repeat(20_000));
    let long = "a ".repeat(30_000);
    let nested = format!("{}a{}", "(".repeat(9), ")".repeat(9));
    for (text, why) in [
        (deep.as_str(), "longer than"),
        (long.as_str(), "longer than"),
        (nested.as_str(), "nests parentheses"),
    ] {
        let mut stream = control(&node);
        let req = serde_json::json!({"cmd": "search", "text": text});
        writeln!(stream, "{req}").unwrap();
        let mut answer = String::new();
        BufReader::new(&stream).read_line(&mut answer).unwrap();
        assert!(answer.contains("error") && answer.contains(why), "{answer}");
    }
    assert!(node.proc.alive(), "the daemon died");
    node.status();
}
