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
