//! The engine's integration tests, one binary: event rules end to end (`scenarios`,
//! `fine_points`, `properties`, `snapshots`, with the builders and replay driver of `common`)
//! and threshold rules (`threshold`, `threshold_parse`, `threshold_props`). The allocation
//! counting tests are a binary of their own (`tests/alloc/`), since they install a global
//! allocator that every test in their process would feed.

mod common;
mod fine_points;
mod lifecycle;
mod properties;
mod round_trip;
mod scenarios;
mod snapshots;
mod threshold;
mod threshold_parse;
mod threshold_props;
