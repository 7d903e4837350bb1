//! The ed2k client backend: server connection, peer transfers, uploads.
