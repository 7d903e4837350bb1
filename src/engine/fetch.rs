//! What a request names outside the engine is read off the engine's task:
//! `swarmux get https://…/x.torrent` and `swarmux get /path/x.torrent` read
//! the .torrent (bounded, regular files only), keep it in `DATA/torrents/`, and
//! hand the engine a `get` of the kept copy; `swarmux servers import FILE`
//! reads the server list and hands the engine its bytes.

use super::user_file::{read_regular, MAX_SERVER_LIST, MAX_TORRENT};
use super::EngineMsg;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use swarmux_api::{Request, Response};
use tokio::sync::{mpsc, oneshot};

/// How long a fetch may take in all.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// True for an `http://` or `https://` URL.
pub fn is_url(target: &str) -> bool {
    let t = target.trim().to_ascii_lowercase();
    t.starts_with("http://") || t.starts_with("https://")
}

/// True for a `.torrent` file named by an absolute path outside the kept
/// copies in `torrents_dir`.
pub fn is_local_torrent(target: &str, torrents_dir: &Path) -> bool {
    let path = Path::new(target.trim());
    path.is_absolute()
        && !path.starts_with(torrents_dir)
        && target.trim().to_ascii_lowercase().ends_with(".torrent")
}

/// Reads the .torrent at `path` on a blocking thread, keeps a copy, and sends
/// the engine a `Get` of the copy that answers `reply`; a file that is
/// missing, not a regular file or too large answers `reply` with the reason.
pub fn local_torrent_then_get(
    data_dir: &Path,
    path: String,
    reply: oneshot::Sender<Response>,
    tx: mpsc::UnboundedSender<EngineMsg>,
) {
    let dir = data_dir.join("torrents");
    tokio::task::spawn_blocking(move || match read_and_keep(Path::new(path.trim()), &dir) {
        Ok(kept) => {
            let target = kept.display().to_string();
            let _ = tx.send(EngineMsg::Request(Request::Get { target }, reply));
        }
        Err(message) => {
            let _ = reply.send(Response::Error { message });
        }
    });
}

/// Reads a user's .torrent file and keeps a copy in `dir`.
pub fn read_and_keep(path: &Path, dir: &Path) -> Result<PathBuf, String> {
    if !path.exists() {
        return Err(format!("{}: no such .torrent file", path.display()));
    }
    let bytes = read_regular(path, MAX_TORRENT, "a .torrent")?;
    keep_torrent(dir, &bytes).map_err(|e| format!("cannot keep {}: {e}", path.display()))
}

/// Reads the server list file at `path` on a blocking thread (a regular
/// file of at most [`MAX_SERVER_LIST`] bytes), then hands the engine its
/// bytes to parse with the network that reads it, answering `reply`.
pub fn server_list_then_import(
    path: String,
    reply: oneshot::Sender<Response>,
    tx: mpsc::UnboundedSender<EngineMsg>,
) {
    tokio::task::spawn_blocking(move || {
        match read_regular(Path::new(&path), MAX_SERVER_LIST, "a server list") {
            Ok(bytes) => {
                let _ = tx.send(EngineMsg::ServerListRead { path, bytes, reply });
            }
            Err(message) => {
                let _ = reply.send(Response::Error { message });
            }
        }
    });
}

/// Fetches `url` from the BitTorrent bind address on a blocking thread,
/// saves it, and sends the engine a `Get` of the saved file that answers
/// `reply`; a failed fetch answers `reply` with the reason.
pub fn torrent_then_get(
    data_dir: &Path,
    url: String,
    bind: IpAddr,
    reply: oneshot::Sender<Response>,
    tx: mpsc::UnboundedSender<EngineMsg>,
) {
    let dir = data_dir.join("torrents");
    tokio::task::spawn_blocking(move || match fetch(&url, bind, &dir) {
        Ok(path) => {
            let target = path.display().to_string();
            let _ = tx.send(EngineMsg::Request(Request::Get { target }, reply));
        }
        Err(message) => {
            let _ = reply.send(Response::Error { message });
        }
    });
}

fn fetch(url: &str, bind: IpAddr, dir: &Path) -> Result<PathBuf, String> {
    let url = url.trim();
    let body = swarmux_bittorrent::http::get(url, FETCH_TIMEOUT, MAX_TORRENT, Some(bind))
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    if !body.starts_with(b"d") {
        return Err(format!("{url} did not return a .torrent file"));
    }
    keep_torrent(dir, &body).map_err(|e| format!("cannot keep {url}: {e}"))
}

/// Stores a .torrent in `dir` under the SHA-1 of its bytes and returns the
/// path, so the queue never depends on a file the user may move or delete.
pub fn keep_torrent(dir: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use sha1::Digest;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!(
        "{}.torrent",
        hex::encode(sha1::Sha1::digest(bytes))
    ));
    std::fs::write(&path, bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_torrents_are_absolute_torrent_paths_outside_the_kept_ones() {
        let kept = Path::new("/data/torrents");
        assert!(is_local_torrent("/home/a/x.TORRENT", kept));
        assert!(!is_local_torrent("/data/torrents/ab.torrent", kept));
        assert!(!is_local_torrent("x.torrent", kept));
        assert!(!is_local_torrent("/home/a/x.iso", kept));
        let dir = tempfile::tempdir().unwrap();
        let e = read_and_keep(&dir.path().join("none.torrent"), dir.path()).unwrap_err();
        assert!(e.ends_with("none.torrent: no such .torrent file"), "{e}");
        let e = read_and_keep(Path::new("/dev/zero"), dir.path()).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn only_http_urls_are_fetched() {
        assert!(is_url("http://127.0.0.1/x.torrent"));
        assert!(is_url(" HTTPS://host/x"));
        assert!(!is_url("magnet:?xt=urn:btih:00"));
        assert!(!is_url("/tmp/x.torrent"));
    }
}
