//! An ed2k-compatible index server (`swarmux index-server`).
