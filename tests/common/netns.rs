//! A throwaway network namespace for tests that need addresses outside
//! 127.0.0.0/8 (aMule ignores servers and sources on loopback).
//!
//! The namespace has a single interface, its own `lo`, carrying the test
//! addresses; nothing can leave it. Every process of such a test runs inside
//! it through [`Netns::prefix`] (`ip netns exec NAME ...`). Client verbs of
//! swarmux talk over a Unix socket in the data dir and may run outside.
//! The namespace is deleted when the guard is dropped, also on panic.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Why tests that need a namespace (and aMule) cannot run here, if they cannot.
pub fn missing_prerequisites(tools: &[&str]) -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root (network namespaces need CAP_SYS_ADMIN)".into());
    }
    for t in std::iter::once(&"ip").chain(tools) {
        if which(t).is_none() {
            return Some(format!("`{t}` is not installed"));
        }
    }
    None
}

/// The full path of a program on PATH.
pub fn which(prog: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// Skips the calling test with a loud notice when a prerequisite is missing,
/// or fails it when `SWARMUX_REQUIRE_PEERS` is set (as in CI).
#[macro_export]
macro_rules! require_or_skip {
    ($tools:expr) => {
        if let Some(why) = $crate::common::netns::missing_prerequisites($tools) {
            if std::env::var_os("SWARMUX_REQUIRE_PEERS").is_some() {
                panic!("SWARMUX_REQUIRE_PEERS is set but {why}");
            }
            // Straight to stderr, past the test harness's output capture.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED: {why}; this test needs root, `ip` and {:?}\n",
                $tools
            );
            return;
        }
    };
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace named `swx-<pid>-<n>`, deleted on drop.
pub struct Netns {
    pub name: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    /// Creates the namespace, brings its `lo` up and adds each address
    /// (a /32 on `lo`; no other interface exists).
    pub fn new(addrs: &[&str]) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("swx-{}-{n}", std::process::id());
        // A leftover of a crashed run with a recycled pid.
        let _ = ip(&["netns", "del", &name]);
        ip(&["netns", "add", &name]).expect("create the network namespace");
        // From here on Drop cleans up, even if a step below panics.
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]).expect("bring lo up");
        for a in addrs {
            ip(&[
                "-n",
                &ns.name,
                "addr",
                "add",
                &format!("{a}/32"),
                "dev",
                "lo",
            ])
            .expect("add a test address to lo");
        }
        ns
    }

    /// The command prefix that runs a program inside the namespace.
    pub fn prefix(&self) -> Vec<String> {
        vec![
            "ip".into(),
            "netns".into(),
            "exec".into(),
            self.name.clone(),
        ]
    }

    /// A `Command` for `prog` inside the namespace. `ip netns exec` execs the
    /// program in place, so the child's pid is the program's own.
    pub fn command(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(prog);
        c
    }
}

impl Netns {
    /// Runs `prog args` inside the namespace and returns its stdout.
    pub fn output(&self, prog: &str, args: &[&str]) -> String {
        let out = self.command(prog).args(args).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Bytes waiting unread in the receive queues of established TCP
    /// sockets from `local_ip` to `peer` (`ss -tn`: `Recv-Q Send-Q Local Peer`).
    pub fn unread_bytes(&self, local_ip: &str, peer: &str) -> u64 {
        self.output("ss", &["-tnH", "state", "established"])
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let (recv_q, local, remote) = (f.first()?, f.get(2)?, f.get(3)?);
                (local.starts_with(&format!("{local_ip}:")) && *remote == peer)
                    .then(|| recv_q.parse::<u64>().ok())
                    .flatten()
            })
            .sum()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = ip(&["netns", "del", &self.name]) {
            eprintln!("could not delete network namespace {}: {e}", self.name);
        }
    }
}
