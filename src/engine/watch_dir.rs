//! The watch folder (`bittorrent.watch_dir`): every .torrent dropped there is
//! added to the queue, then renamed `*.torrent.added` (or `*.torrent.invalid`
//! with a log line saying why), as rtorrent and qBittorrent users expect.
//! The folder is listed and the files read on a blocking thread, one scan at a
//! time, and only regular files of a .torrent's size are read.

use super::fetch::read_and_keep;
use super::{Engine, EngineMsg};
use std::path::{Path, PathBuf};
use swarmux_api::Response;
use swarmux_net::message::LogLevel;

/// The .torrent files waiting in `dir`, oldest name first.
fn pending(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("torrent"))
                && !p.is_dir()
        })
        .collect();
    files.sort();
    files
}

/// `x.torrent` → `x.torrent.<suffix>`.
fn renamed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

impl Engine {
    /// Starts a scan of the watch folder unless one runs.
    pub(super) fn scan_watch_dir(&mut self) {
        let dir = self.config.bittorrent.watch_dir.clone();
        if dir.as_os_str().is_empty() || self.watching {
            return;
        }
        self.watching = true;
        let kept_dir = self.data_dir.join("torrents");
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            for path in pending(&dir) {
                let kept = read_and_keep(&path, &kept_dir);
                let _ = tx.send(EngineMsg::Watched { path, kept });
            }
            let _ = tx.send(EngineMsg::WatchScanned);
        });
    }

    /// Queues a .torrent found in the watch folder and renames it (off the
    /// engine's task) after the outcome.
    pub(super) fn watched(&mut self, path: PathBuf, kept: Result<PathBuf, String>) {
        let outcome = kept.and_then(|kept| match self.get(&kept.display().to_string()) {
            Response::Added { .. } => Ok(()),
            Response::Error { message } if message.starts_with("already in the queue") => Ok(()),
            Response::Error { message } => Err(message),
            other => Err(format!("unexpected answer {other:?}")),
        });
        let suffix = match &outcome {
            Ok(()) => {
                self.info("watch", format!("added {}", path.display()));
                "added"
            }
            Err(e) => {
                self.log_line(LogLevel::Error, "watch", format!("{}: {e}", path.display()));
                "invalid"
            }
        };
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = std::fs::rename(&path, renamed(&path, suffix)) {
                let _ = tx.send(EngineMsg::Log {
                    level: LogLevel::Error,
                    source: "watch",
                    message: format!("cannot rename {}: {e}", path.display()),
                });
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_torrent_files_are_pending() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.torrent", "a.TORRENT", "c.torrent.added", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"d").unwrap();
        }
        std::fs::create_dir(dir.path().join("d.torrent")).unwrap();
        let got: Vec<_> = pending(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["a.TORRENT", "b.torrent"]);
        assert_eq!(
            renamed(&dir.path().join("b.torrent"), "added"),
            dir.path().join("b.torrent.added")
        );
    }
}
