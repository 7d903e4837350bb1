//! The swarmux engine: download queue, search hub, storage, configuration,
//! shared folders and the control API that the TUI and command line use.

pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod engine;
pub mod fd_budget;
pub mod private;
pub mod shares;
pub mod store;
