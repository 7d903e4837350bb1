//! Human-readable output for the command line.

use swarmux_api::{DownloadView, ResultRow, Snapshot};

pub use swarmux_api::human_size as size;

/// Search rows as a table.
pub fn results(rows: &[ResultRow]) -> String {
    let mut out = format!(
        "{:>5}  {:>10}  {:>7}  {:<10}  NAME\n",
        "ID", "SIZE", "SOURCES", "NETWORKS"
    );
    for r in rows {
        out += &format!(
            "{:>5}  {:>10}  {:>7}  {:<10}  {}\n",
            r.id,
            size(r.size),
            r.sources,
            r.networks.join(","),
            r.name
        );
    }
    out
}

/// One download as a line.
pub fn download(d: &DownloadView) -> String {
    let pct = if d.state == swarmux_api::DownloadState::Complete {
        100.0
    } else if d.size == 0 {
        0.0
    } else {
        d.verified as f64 * 100.0 / d.size as f64
    };
    let total = if d.size_known() {
        size(d.size)
    } else {
        "?".into()
    };
    let mut line = format!(
        "{:>4}  {:<11}  {:>5.1}%  {:>10}  {:>10}/s  {:>3}/{:<3}  {:<6}  {}",
        d.id,
        d.state.label(),
        pct,
        total,
        size(d.rate),
        d.active_sources,
        d.sources,
        d.priority.name(),
        d.name
    );
    if let swarmux_api::DownloadState::Error(reason) = &d.state {
        line += &format!("  ({reason})");
    } else if !d.note.is_empty() {
        line += &format!("  ({})", d.note);
    }
    line
}

/// The whole queue as a table.
pub fn downloads(list: &[DownloadView]) -> String {
    let mut out = format!(
        "{:>4}  {:<11}  {:>6}  {:>10}  {:>12}  {:>7}  {:<6}  NAME\n",
        "ID", "STATE", "DONE", "SIZE", "RATE", "SOURCES", "PRIO"
    );
    for d in list {
        out += &download(d);
        out.push('\n');
    }
    out
}

/// `swarmux status` in words.
pub fn status(s: &Snapshot) -> String {
    let mut out = format!(
        "daemon {} (pid {}), data dir {}\ndownloads go to {}\n",
        s.daemon.version, s.daemon.pid, s.daemon.data_dir, s.daemon.download_dir
    );
    out += &format!(
        "down {}/s  up {}/s  (limits: down {}, up {}, {} upload slots)\n",
        size(s.totals.down_rate),
        size(s.totals.up_rate),
        limit(s.totals.down_limit),
        limit(s.totals.up_limit),
        s.totals.upload_slots
    );
    for n in &s.networks {
        out += &format!("{}:", n.name);
        for (name, addr) in &n.listening {
            out += &format!(" {name}={addr}");
        }
        out.push('\n');
        for srv in &n.servers {
            out += &format!(
                "  server {} {} [{}] {} users={} files={}\n",
                srv.addr, srv.name, srv.state, srv.identity, srv.users, srv.files
            );
        }
    }
    out += &format!(
        "shares: {} folders, {} files{}\n",
        s.shares.dirs.len(),
        s.shares.file_count,
        match &s.shares.hashing {
            Some(h) => format!(", hashing {} ({} files left)", h.current, h.files_left),
            None => String::new(),
        }
    );
    for l in s.log.iter().rev().take(10).rev() {
        out += &format!("log [{:?}] {}: {}\n", l.level, l.source, l.message);
    }
    out
}

fn limit(n: u64) -> String {
    if n == 0 {
        "none".into()
    } else {
        format!("{}/s", size(n))
    }
}
