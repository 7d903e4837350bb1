//! The swarmux terminal UI: a client of the engine's control API.
//!
//! The engine runs as a daemon; this attaches to it, subscribes to its
//! snapshots and sends commands. The structure follows ratatui's examples:
//! all state in one `App`, keys mapped to `Action`s by a key map, a pure
//! `update` that returns the requests to send, and a pure `render`, driven by
//! a `tokio::select!` loop over terminal input, daemon lines and a tick.

mod action;
mod app;
mod event_loop;
mod fetch;
mod file_priority;
mod keymap;
mod lists;
mod search_query;
mod terminal;
mod ui;
mod update;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use swarmux_api::Client;

/// How the TUI is set up.
#[derive(Clone, Debug, Default)]
pub struct TuiOptions {
    /// A `keymap.toml` whose bindings replace the defaults (same format as
    /// `assets/keymap.toml`); `None` keeps the defaults.
    pub keymap: Option<PathBuf>,
}

/// How the user left the TUI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TuiExit {
    /// The user detached (`q`, Ctrl-C); the engine keeps running.
    Detach,
    /// The user confirmed stopping the engine; `Request::Stop` was sent.
    StopEngine,
}

/// Runs the TUI on the terminal until the user leaves.
///
/// The terminal is restored on every path out, including errors and panics.
/// Fails when the key map is invalid, the terminal cannot be used, or the
/// connection to the daemon is lost.
pub async fn run(client: Client, options: TuiOptions) -> anyhow::Result<TuiExit> {
    let keymap = keymap::KeyMap::load(options.keymap.as_deref())?;
    let mut app = app::App::new(keymap);
    let (reader, writer) = client.into_split();
    let mut guard = terminal::TerminalGuard::enter()?;
    let input = crossterm::event::EventStream::new();
    let result = event_loop::run(guard.terminal(), input, &mut app, reader, writer).await;
    drop(guard);
    result
}
