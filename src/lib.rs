//! The swarmux engine: download queue, search hub, storage, configuration,
//! shared folders and the control API that the TUI and command line use.
