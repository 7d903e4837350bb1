//! The trait every network backend implements.

use crate::limits::Limits;
use crate::message::{NetCommand, NetEvent};
use crate::sink::EventSink;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What the engine hands a network when it starts it.
pub struct NetworkContext {
    /// Where the network sends its events. Unbounded so that neither side can
    /// deadlock the other; networks bound what they produce (results are capped).
    pub events: mpsc::UnboundedSender<NetEvent>,
    /// Global rate limits and upload slots, shared by every network.
    pub limits: Arc<Limits>,
    /// The instance's data directory, for network-private state files.
    pub data_dir: PathBuf,
}

impl NetworkContext {
    /// A clonable handle on [`NetworkContext::events`] for the network's tasks.
    pub fn sink(&self) -> EventSink {
        EventSink::new(self.events.clone())
    }

    /// Sends an event; a closed engine only means the process is shutting down.
    pub fn emit(&self, event: NetEvent) {
        self.sink().emit(event);
    }

    /// Sends a log line at the given level.
    pub fn log(&self, level: crate::message::LogLevel, message: impl Into<String>) {
        self.sink().log(level, message);
    }
}

/// A boxed future a network runs as its task.
pub type NetworkTask = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A peer-to-peer network backend. Object-safe: the engine keeps
/// `Box<dyn Network>` values (so it can still parse links) and runs the task
/// each one returns from [`Network::run`].
pub trait Network: Send + 'static {
    /// Short lowercase name: `ed2k`, `bittorrent`, `gnutella`.
    fn name(&self) -> &'static str;

    /// True when `link` (or a bare hash) is something this network downloads.
    fn handles_link(&self, link: &str) -> bool;

    /// Parses a link into (name, size, hash) so the engine can queue it.
    fn parse_link(&self, link: &str) -> Result<(String, u64, crate::ContentHash), String>;

    /// The network's server intake, when it uses servers (`swarmux servers
    /// add|remove|import`); `None` (the default) when it has none.
    fn servers(&self) -> Option<&dyn Servers> {
        None
    }

    /// The files a user hands this network instead of a link (a `.torrent`),
    /// by path, by URL or in a watched folder; `None` (the default) when it
    /// takes none.
    fn link_files(&self) -> Option<LinkFiles> {
        None
    }

    /// True when a download whose data already sits in the download folder
    /// (same name, same size) is checked there and then seeded, instead of
    /// being fetched into temp (BitTorrent, as qBittorrent and rtorrent do).
    fn checks_data_in_place(&self) -> bool {
        false
    }

    /// Returns the network's task, which runs until [`NetCommand::Shutdown`] or
    /// the command channel closes. Called once; the task owns what it needs
    /// (implementations clone their configuration into it).
    fn run(
        &self,
        ctx: NetworkContext,
        commands: mpsc::UnboundedReceiver<NetCommand>,
    ) -> NetworkTask;
}

/// Files a network takes instead of a link (BitTorrent's `.torrent`). The
/// engine reads them (regular files only, at most `max_bytes`), fetches them
/// by URL from `bind`, keeps a copy in the data dir (`DATA/<extension>s/`)
/// and queues the copy as the link; it watches `watch_dir` for dropped ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkFiles {
    /// The file name extension, without its dot (`torrent`), in any case.
    pub extension: &'static str,
    /// The largest one read or fetched.
    pub max_bytes: u64,
    /// How every real one starts (a .torrent is a bencoded dictionary: `d`).
    pub magic: &'static [u8],
    /// The address fetches leave from (`None`: the kernel picks).
    pub bind: Option<std::net::IpAddr>,
    /// The folder watched for dropped ones, if any.
    pub watch_dir: Option<PathBuf>,
}

impl LinkFiles {
    /// True when the file `path` names has this extension (any case; a
    /// hidden `.torrent` with nothing before the dot has none).
    pub fn names(&self, path: impl AsRef<std::path::Path>) -> bool {
        path.as_ref()
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case(self.extension))
    }

    /// What the user would call one (`a .torrent`), for messages.
    pub fn what(&self) -> String {
        format!("a .{}", self.extension)
    }
}

/// How a network that uses servers reads the servers a user names. The
/// engine keeps the list (by network name) and sends each server to the
/// network as [`NetCommand::AddServer`] / [`NetCommand::RemoveServer`].
pub trait Servers {
    /// A server the user typed (`HOST:PORT`, or a link form the network
    /// knows) as the `HOST:PORT` the network connects to, or why not.
    fn parse_server(&self, input: &str) -> Result<String, String>;

    /// The servers in a server list file the user gave (an eMule
    /// `server.met` for ed2k), as `HOST:PORT`, or why the file is not one.
    fn parse_server_list(&self, bytes: &[u8]) -> Result<Vec<String>, String>;

    /// The servers the network's configuration names; the network connects
    /// to them by itself.
    fn configured_servers(&self) -> Vec<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_files_are_named_by_their_extension() {
        let files = LinkFiles {
            extension: "torrent",
            max_bytes: 1,
            magic: b"d",
            bind: None,
            watch_dir: None,
        };
        assert!(files.names("/a/x.torrent"));
        assert!(files.names("x.TORRENT"));
        assert!(!files.names("/a/.torrent"));
        assert!(!files.names("/a/x.torrent.added"));
        assert!(!files.names("/a/torrent"));
        assert_eq!(files.what(), "a .torrent");
    }
}
