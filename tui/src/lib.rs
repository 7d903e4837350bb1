//! The swarmux terminal UI.
