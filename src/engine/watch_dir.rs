//! Watch folders (a network's [`LinkFiles::watch_dir`], such as
//! `bittorrent.watch_dir`): every link file dropped there (a .torrent) is
//! added to the queue, then renamed `*.torrent.added` (or `*.torrent.invalid`
//! with a log line saying why), as rtorrent and qBittorrent users expect.
//! The folders are listed and the files read on a blocking thread, one scan
//! at a time, and only regular files of a link file's size are read.

use super::fetch::{kept_dir, read_and_keep};
use super::{Engine, EngineMsg};
use std::path::{Path, PathBuf};
use swarmux_api::Response;
use swarmux_net::message::LogLevel;
use swarmux_net::LinkFiles;

/// The link files waiting in `dir`, oldest name first.
fn pending(dir: &Path, files: &LinkFiles) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| files.names(p) && !p.is_dir())
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
    /// Starts a scan of the watch folders unless one runs.
    pub(super) fn scan_watch_dir(&mut self) {
        let watched: Vec<(PathBuf, LinkFiles, PathBuf)> = self
            .link_files()
            .filter_map(|files| {
                let dir = files.watch_dir.clone()?;
                let kept = kept_dir(&self.data_dir, &files);
                Some((dir, files, kept))
            })
            .collect();
        if watched.is_empty() || self.watching {
            return;
        }
        self.watching = true;
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            for (dir, files, kept_dir) in watched {
                for path in pending(&dir, &files) {
                    let kept = read_and_keep(&path, &files, &kept_dir);
                    let _ = tx.send(EngineMsg::Watched { path, kept });
                }
            }
            let _ = tx.send(EngineMsg::WatchScanned);
        });
    }

    /// Queues a link file found in a watch folder and renames it (off the
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
        let files = LinkFiles {
            extension: "torrent",
            max_bytes: 10,
            magic: b"d",
            bind: None,
            watch_dir: None,
        };
        let got: Vec<_> = pending(dir.path(), &files)
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
