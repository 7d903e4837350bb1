//! Tests of update, rendering and the event loop against a realistic snapshot.

mod event_loop;
mod fixture;
mod render;
mod update;
