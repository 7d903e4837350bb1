//! `swarmux get https://…/x.torrent`: the engine fetches the .torrent off its
//! thread, keeps it in `DATA/torrents/`, then handles the request as a `get`
//! of that file.

use super::EngineMsg;
use std::path::{Path, PathBuf};
use std::time::Duration;
use swarmux_api::{Request, Response};
use tokio::sync::{mpsc, oneshot};

/// The largest .torrent accepted from a URL.
const MAX_TORRENT_BYTES: u64 = 16 << 20;
/// How long a fetch may take in all.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// True for an `http://` or `https://` URL.
pub fn is_url(target: &str) -> bool {
    let t = target.trim().to_ascii_lowercase();
    t.starts_with("http://") || t.starts_with("https://")
}

/// Fetches `url` on a blocking thread, saves it, and sends the engine a
/// `Get` of the saved file that answers `reply`; a failed fetch answers
/// `reply` with the reason.
pub fn torrent_then_get(
    data_dir: &Path,
    url: String,
    reply: oneshot::Sender<Response>,
    tx: mpsc::UnboundedSender<EngineMsg>,
) {
    let dir = data_dir.join("torrents");
    tokio::task::spawn_blocking(move || match fetch(&url, &dir) {
        Ok(path) => {
            let target = path.display().to_string();
            let _ = tx.send(EngineMsg::Request(Request::Get { target }, reply));
        }
        Err(message) => {
            let _ = reply.send(Response::Error { message });
        }
    });
}

fn fetch(url: &str, dir: &Path) -> Result<PathBuf, String> {
    let url = url.trim();
    let body = swarmux_bittorrent::http::get(url, FETCH_TIMEOUT, MAX_TORRENT_BYTES)
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
    fn only_http_urls_are_fetched() {
        assert!(is_url("http://127.0.0.1/x.torrent"));
        assert!(is_url(" HTTPS://host/x"));
        assert!(!is_url("magnet:?xt=urn:btih:00"));
        assert!(!is_url("/tmp/x.torrent"));
    }
}
