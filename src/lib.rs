//! The swarmux engine: download queue, search hub, storage, configuration,
//! shared folders and the control API that the TUI and command line use.

pub mod config;
pub mod shares;
pub mod store;
pub mod cli;
pub mod control;
pub mod daemon;
pub mod engine;
