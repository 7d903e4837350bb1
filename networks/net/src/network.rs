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

    /// Returns the network's task, which runs until [`NetCommand::Shutdown`] or
    /// the command channel closes. Called once; the task owns what it needs
    /// (implementations clone their configuration into it).
    fn run(
        &self,
        ctx: NetworkContext,
        commands: mpsc::UnboundedReceiver<NetCommand>,
    ) -> NetworkTask;
}
