//! What a request names outside the engine is read off the engine's task:
//! `swarmux get https://…/x.torrent` and `swarmux get /path/x.torrent` read
//! a network's link file (bounded, regular files only, see
//! [`swarmux_net::LinkFiles`]), keep it in the data dir, and hand the engine a
//! `get` of the kept copy; `swarmux servers import FILE` reads the server
//! list and hands the engine its bytes.

use super::user_file::{read_regular, MAX_SERVER_LIST};
use super::EngineMsg;
use std::path::{Path, PathBuf};
use std::time::Duration;
use swarmux_api::{Request, Response};
use swarmux_net::LinkFiles;
use tokio::sync::{mpsc, oneshot};

/// How long a fetch may take in all.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// True for an `http://` or `https://` URL.
pub fn is_url(target: &str) -> bool {
    let t = target.trim().to_ascii_lowercase();
    t.starts_with("http://") || t.starts_with("https://")
}

/// Where the kept copies of `files` live: `DATA/<extension>s` (`torrents`).
pub fn kept_dir(data_dir: &Path, files: &LinkFiles) -> PathBuf {
    data_dir.join(format!("{}s", files.extension.to_ascii_lowercase()))
}

/// True for a link file named by an absolute path outside the kept copies.
pub fn is_local_link_file(target: &str, files: &LinkFiles, kept: &Path) -> bool {
    let path = Path::new(target.trim());
    path.is_absolute() && !path.starts_with(kept) && files.names(target.trim())
}

/// Reads a user's link file and keeps a copy in `dir`.
pub fn read_and_keep(path: &Path, files: &LinkFiles, dir: &Path) -> Result<PathBuf, String> {
    let what = files.what();
    if !path.exists() {
        return Err(format!("{}: no such {} file", path.display(), &what[2..]));
    }
    let bytes = read_regular(path, files.max_bytes, &what)?;
    keep(dir, files, &bytes).map_err(|e| format!("cannot keep {}: {e}", path.display()))
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

/// Gets a link file on a blocking thread (fetched from the network's bind
/// address when `source` is a URL, else read from that path), keeps a copy,
/// and sends the engine a `Get` of the copy that answers `reply`; a failed
/// fetch, or a file that is missing, not a regular file or too large,
/// answers `reply` with the reason.
pub fn link_file_then_get(
    data_dir: &Path,
    files: LinkFiles,
    source: String,
    reply: oneshot::Sender<Response>,
    tx: mpsc::UnboundedSender<EngineMsg>,
) {
    let dir = kept_dir(data_dir, &files);
    tokio::task::spawn_blocking(move || {
        let kept = if is_url(&source) {
            fetch(&source, &files, &dir)
        } else {
            read_and_keep(Path::new(source.trim()), &files, &dir)
        };
        match kept {
            Ok(kept) => {
                let target = kept.display().to_string();
                let _ = tx.send(EngineMsg::Request(Request::Get { target }, reply));
            }
            Err(message) => {
                let _ = reply.send(Response::Error { message });
            }
        }
    });
}

fn fetch(url: &str, files: &LinkFiles, dir: &Path) -> Result<PathBuf, String> {
    let url = url.trim();
    let body = swarmux_net::http::get(url, FETCH_TIMEOUT, files.max_bytes, files.bind)
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    if !body.starts_with(files.magic) {
        return Err(format!("{url} did not return {} file", files.what()));
    }
    keep(dir, files, &body).map_err(|e| format!("cannot keep {url}: {e}"))
}

/// Stores a link file in `dir` under the SHA-1 of its bytes and returns the
/// path, so the queue never depends on a file the user may move or delete.
fn keep(dir: &Path, files: &LinkFiles, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use sha1::Digest;
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!(
        "{}.{}",
        hex::encode(sha1::Sha1::digest(bytes)),
        files.extension
    ));
    std::fs::write(&path, bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn torrents() -> LinkFiles {
        LinkFiles {
            extension: "torrent",
            max_bytes: 1000,
            magic: b"d",
            bind: None,
            watch_dir: None,
        }
    }

    #[test]
    fn local_link_files_are_absolute_paths_outside_the_kept_ones() {
        let files = torrents();
        let kept = kept_dir(Path::new("/data"), &files);
        assert_eq!(kept, Path::new("/data/torrents"));
        assert!(is_local_link_file("/home/a/x.TORRENT", &files, &kept));
        assert!(!is_local_link_file(
            "/data/torrents/ab.torrent",
            &files,
            &kept
        ));
        assert!(!is_local_link_file("x.torrent", &files, &kept));
        assert!(!is_local_link_file("/home/a/x.iso", &files, &kept));
        assert!(!is_local_link_file("/home/a/.torrent", &files, &kept));
        let dir = tempfile::tempdir().unwrap();
        let e = read_and_keep(&dir.path().join("none.torrent"), &files, dir.path()).unwrap_err();
        assert!(e.ends_with("none.torrent: no such .torrent file"), "{e}");
        let e = read_and_keep(Path::new("/dev/zero"), &files, dir.path()).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        let big = dir.path().join("big.torrent");
        std::fs::write(&big, vec![b'd'; 1001]).unwrap();
        assert!(read_and_keep(&big, &files, dir.path()).is_err());
        let small = dir.path().join("small.torrent");
        std::fs::write(&small, b"de").unwrap();
        let kept = read_and_keep(&small, &files, &dir.path().join("kept")).unwrap();
        assert_eq!(kept.extension().unwrap(), "torrent");
        assert_eq!(std::fs::read(kept).unwrap(), b"de");
    }

    #[test]
    fn only_http_urls_are_fetched() {
        assert!(is_url("http://127.0.0.1/x.torrent"));
        assert!(is_url(" HTTPS://host/x"));
        assert!(!is_url("magnet:?xt=urn:btih:00"));
        assert!(!is_url("/tmp/x.torrent"));
    }
}
