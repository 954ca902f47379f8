//! The alert lifecycle driven by scripts with a fake clock (`script.rs`): every answer, write
//! and published change of a scenario is a snapshot, and every write is checked against a
//! model of the store. `table.rs` walks the transition table, `edge.rs` the timers one
//! millisecond either side, `props.rs` holds the properties.

mod api;
mod edge;
pub(crate) mod model;
mod props;
mod scenarios;
pub(crate) mod script;
mod table;
